/*-------------------------------------------------------------------------
 *
 * events.h
 *	  The stored form of history events: encoding a batch, decoding it and
 *	  rendering its events as the JSON workers receive.
 *
 * See events.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_EVENTS_H
#define DURABLE_EVENTS_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "jsonw.h"

/* The version byte that starts every stored batch. */
#define DUR_BATCH_VERSION 1

/* A decoded event: where its parts are in the batch. */
typedef struct DurStoredEvent
{
	int64		event_id;
	TimestampTz time;
	int			code;			/* Temporal's event type number; 0: generic */
	const char *type;			/* the type name */
	int			type_len;
	const unsigned char *body;	/* compact: the values; generic: attributes JSON */
	int			body_len;
	int			nvalues;		/* compact: how many values */
} DurStoredEvent;

/* A batch being read. */
typedef struct DurBatchReader
{
	const unsigned char *p;
	const unsigned char *end;
	int64		next_id;
	TimestampTz prev_time;
} DurBatchReader;

extern void dur_event_encode(StringInfo out, const char *type, TimestampTz time,
							 TimestampTz prev_time, DurJsonObj *attrs);
extern void dur_event_render(StringInfo out, int64 event_id, const char *type,
							 TimestampTz time, DurJsonObj *attrs);
extern void dur_batch_begin(DurBatchReader *r, const char *data, int len, int64 first_id);
extern bool dur_batch_next(DurBatchReader *r, DurStoredEvent *ev);
extern void dur_stored_render(StringInfo out, DurStoredEvent *ev);
extern void dur_stored_attributes(StringInfo out, DurStoredEvent *ev);
extern bool dur_stored_value(DurStoredEvent *ev, const char *key, StringInfo out);
extern void dur_batch_from_json_text(StringInfo out, const char *json);

#endif							/* DURABLE_EVENTS_H */
