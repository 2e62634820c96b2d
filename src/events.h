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
	const unsigned char *batch; /* the batch it is in (values may refer back) */
} DurStoredEvent;

/* A batch being read. */
typedef struct DurBatchReader
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	int64		next_id;
	TimestampTz prev_time;
} DurBatchReader;

/* The values a batch being written may refer back to, at most. */
#define DUR_BATCH_MAX_REFS 32

/* A batch being written. */
typedef struct DurBatchWriter
{
	StringInfoData buf;			/* its events so far (no header) */
	int			nevents;
	TimestampTz prev_time;		/* of the last event */
	int			nrefs;
	int			ref_off[DUR_BATCH_MAX_REFS];	/* values stored as text */
} DurBatchWriter;

extern void dur_batch_writer_init(DurBatchWriter *w);
extern void dur_batch_writer_reset(DurBatchWriter *w);
extern void dur_event_encode(DurBatchWriter *w, const char *type, TimestampTz time,
							 DurJsonObj *attrs);
extern void dur_event_render(StringInfo out, int64 event_id, const char *type,
							 TimestampTz time, DurJsonObj *attrs);
extern bytea *dur_batch_bytes(DurBatchWriter *w);
extern void dur_batch_begin(DurBatchReader *r, const char *data, int len, int64 last_id);
extern void dur_batch_begin_events(DurBatchReader *r, const char *events, int len,
								   int64 first_id);
extern bool dur_batch_next(DurBatchReader *r, DurStoredEvent *ev);
extern void dur_stored_render(StringInfo out, DurStoredEvent *ev);
extern void dur_stored_attributes(StringInfo out, DurStoredEvent *ev);
extern bool dur_stored_value(DurStoredEvent *ev, const char *key, StringInfo out);
extern void dur_batch_from_json_text(DurBatchWriter *w, const char *json);

#endif							/* DURABLE_EVENTS_H */
