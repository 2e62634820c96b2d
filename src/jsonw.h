/*-------------------------------------------------------------------------
 *
 * jsonw.h
 *	  Writing JSON objects as text, in jsonb's canonical form.
 *
 * See jsonw.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_JSONW_H
#define DURABLE_JSONW_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#define DJ_MAX_FIELDS 32

/* An object being written: its fields, each value already rendered. */
typedef struct DurJsonObj
{
	StringInfoData vals;		/* the values' text, back to back */
	int			n;
	struct
	{
		const char *key;
		int			keylen;
		int			off;
		int			len;
	}			f[DJ_MAX_FIELDS];
} DurJsonObj;

extern void dj_init(DurJsonObj *o);
extern void dj_null(DurJsonObj *o, const char *key);
extern void dj_str(DurJsonObj *o, const char *key, const char *value);
extern void dj_int(DurJsonObj *o, const char *key, int64 value);
extern void dj_int_or_null(DurJsonObj *o, const char *key, int64 value, bool isnull);
extern void dj_bool(DurJsonObj *o, const char *key, bool value);
extern void dj_jsonb(DurJsonObj *o, const char *key, Jsonb *value);
extern void dj_jsonb_datum(DurJsonObj *o, const char *key, Datum value, bool isnull);
extern void dj_raw(DurJsonObj *o, const char *key, const char *json, int len);
extern void dj_obj(DurJsonObj *o, const char *key, DurJsonObj *value);
extern void dj_duration(DurJsonObj *o, const char *key, const Interval *value);
extern void dj_time(DurJsonObj *o, const char *key, TimestampTz value, bool utc);
extern void dj_uuid(DurJsonObj *o, const char *key, const pg_uuid_t *value);
extern bool dj_has(DurJsonObj *o, const char *key);
extern void dj_remove(DurJsonObj *o, const char *key);
extern void dj_end(DurJsonObj *o, StringInfo out);
extern Jsonb *dj_to_jsonb(DurJsonObj *o);
extern void dj_add_jsonb_object(DurJsonObj *o, Jsonb *obj);

extern void dj_append_time(StringInfo out, TimestampTz value, bool utc);
extern void dj_append_duration(StringInfo out, const Interval *value);
extern void dj_append_jsonb(StringInfo out, Jsonb *value);
extern char *dj_duration_text(const Interval *value);

#endif							/* DURABLE_JSONW_H */
