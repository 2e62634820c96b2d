/*-------------------------------------------------------------------------
 *
 * jsonw.c
 *	  Writing JSON objects as text, in jsonb's canonical form.
 *
 * The engine writes events, tasks and results as text it builds here,
 * never through jsonb: an event is rendered once, when it is recorded, and
 * stored and sent as that text.  The text is exactly what jsonb_out would
 * print for the same value (keys ordered by length and then bytes, ": "
 * and ", " between them, strings escaped by escape_json, numbers as
 * numeric_out prints them), so a reader that parses it into jsonb and
 * prints it back gets the same bytes, and the history workers receive is
 * the one durable 0.2 sent.
 *
 * A DurJsonObj collects fields in any order; dj_end sorts them and writes
 * the object.  Adding a key that is already there replaces its value, as
 * jsonb keeps the last of duplicate keys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "jsonw.h"

void
dj_init(DurJsonObj *o)
{
	initStringInfo(&o->vals);
	o->n = 0;
}

/* Start a field's value: returns where it starts in o->vals. */
static int
dj_field(DurJsonObj *o, const char *key, int keylen)
{
	int			i;

	for (i = 0; i < o->n; i++)
	{
		if (o->f[i].keylen == keylen && memcmp(o->f[i].key, key, keylen) == 0)
		{
			/* replace: the old value's text stays unused in vals */
			o->f[i].off = o->vals.len;
			o->f[i].len = -1;
			return i;
		}
	}
	if (o->n >= DJ_MAX_FIELDS)
		elog(ERROR, "durable: too many fields in a JSON object");
	o->f[o->n].key = key;
	o->f[o->n].keylen = keylen;
	o->f[o->n].off = o->vals.len;
	o->f[o->n].len = -1;
	return o->n++;
}

/* Close the field started by dj_field. */
static void
dj_done(DurJsonObj *o, int i)
{
	o->f[i].len = o->vals.len - o->f[i].off;
}

void
dj_null(DurJsonObj *o, const char *key)
{
	int			i = dj_field(o, key, strlen(key));

	appendStringInfoString(&o->vals, "null");
	dj_done(o, i);
}

void
dj_str(DurJsonObj *o, const char *key, const char *value)
{
	int			i = dj_field(o, key, strlen(key));

	if (value == NULL)
		appendStringInfoString(&o->vals, "null");
	else
		escape_json(&o->vals, value);
	dj_done(o, i);
}

void
dj_int(DurJsonObj *o, const char *key, int64 value)
{
	int			i = dj_field(o, key, strlen(key));

	appendStringInfo(&o->vals, INT64_FORMAT, value);
	dj_done(o, i);
}

void
dj_int_or_null(DurJsonObj *o, const char *key, int64 value, bool isnull)
{
	if (isnull)
		dj_null(o, key);
	else
		dj_int(o, key, value);
}

void
dj_bool(DurJsonObj *o, const char *key, bool value)
{
	int			i = dj_field(o, key, strlen(key));

	appendStringInfoString(&o->vals, value ? "true" : "false");
	dj_done(o, i);
}

/* Append a jsonb value as jsonb_out prints it. */
void
dj_append_jsonb(StringInfo out, Jsonb *value)
{
	(void) JsonbToCString(out, &value->root, VARSIZE(value));
}

void
dj_jsonb(DurJsonObj *o, const char *key, Jsonb *value)
{
	int			i = dj_field(o, key, strlen(key));

	if (value == NULL)
		appendStringInfoString(&o->vals, "null");
	else
		dj_append_jsonb(&o->vals, value);
	dj_done(o, i);
}

void
dj_jsonb_datum(DurJsonObj *o, const char *key, Datum value, bool isnull)
{
	dj_jsonb(o, key, isnull ? NULL : DatumGetJsonbP(value));
}

/* A value that is JSON text already. */
void
dj_raw(DurJsonObj *o, const char *key, const char *json, int len)
{
	int			i = dj_field(o, key, strlen(key));

	appendBinaryStringInfo(&o->vals, json, len);
	dj_done(o, i);
}

/* A nested object (ended into this object's text). */
void
dj_obj(DurJsonObj *o, const char *key, DurJsonObj *value)
{
	int			i = dj_field(o, key, strlen(key));

	dj_end(value, &o->vals);
	dj_done(o, i);
}

/*
 * A duration as protobuf-style text: whole seconds with up to three
 * decimals ("30s", "0.25s"), counting as EXTRACT(epoch FROM d) does (a
 * year is 365.25 days, a month 30).
 */
void
dj_append_duration(StringInfo out, const Interval *iv)
{
	int64		usecs;
	int64		ms;
	bool		neg;
	int			start = out->len;

	usecs = iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) (iv->month / MONTHS_PER_YEAR) * (int64) (DAYS_PER_YEAR * SECS_PER_DAY) * USECS_PER_SEC +
		(int64) (iv->month % MONTHS_PER_YEAR) * DAYS_PER_MONTH * USECS_PER_DAY;
	neg = usecs < 0;
	if (neg)
		usecs = -usecs;
	ms = (usecs + 500) / 1000;	/* rounded half away from zero */
	appendStringInfo(out, "%s" INT64_FORMAT, neg && ms > 0 ? "-" : "", ms / 1000);
	if (ms % 1000 != 0)
	{
		appendStringInfo(out, ".%03d", (int) (ms % 1000));
		while (out->len > start && out->data[out->len - 1] == '0')
			out->data[--out->len] = '\0';
	}
	appendStringInfoChar(out, 's');
}

/* The same duration text, as a palloc'd string. */
char *
dj_duration_text(const Interval *value)
{
	StringInfoData s;

	initStringInfo(&s);
	dj_append_duration(&s, value);
	return s.data;
}

void
dj_duration(DurJsonObj *o, const char *key, const Interval *value)
{
	int			i = dj_field(o, key, strlen(key));

	if (value == NULL)
		appendStringInfoString(&o->vals, "null");
	else
	{
		appendStringInfoChar(&o->vals, '"');
		dj_append_duration(&o->vals, value);
		appendStringInfoChar(&o->vals, '"');
	}
	dj_done(o, i);
}

/*
 * A timestamp as to_json prints it: ISO 8601 in the session's time zone,
 * or with utc in UTC ("+00:00").
 */
void
dj_append_time(StringInfo out, TimestampTz value, bool utc)
{
	char		buf[MAXDATELEN + 1];
	int			zero = 0;

	JsonEncodeDateTime(buf, TimestampTzGetDatum(value), TIMESTAMPTZOID,
					   utc ? &zero : NULL);
	appendStringInfoChar(out, '"');
	appendStringInfoString(out, buf);
	appendStringInfoChar(out, '"');
}

void
dj_time(DurJsonObj *o, const char *key, TimestampTz value, bool utc)
{
	int			i = dj_field(o, key, strlen(key));

	dj_append_time(&o->vals, value, utc);
	dj_done(o, i);
}

void
dj_uuid(DurJsonObj *o, const char *key, const pg_uuid_t *value)
{
	int			i = dj_field(o, key, strlen(key));

	if (value == NULL)
		appendStringInfoString(&o->vals, "null");
	else
	{
		appendStringInfoChar(&o->vals, '"');
		appendStringInfoString(&o->vals,
							   DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(value))));
		appendStringInfoChar(&o->vals, '"');
	}
	dj_done(o, i);
}

bool
dj_has(DurJsonObj *o, const char *key)
{
	int			keylen = strlen(key);
	int			i;

	for (i = 0; i < o->n; i++)
		if (o->f[i].keylen == keylen && memcmp(o->f[i].key, key, keylen) == 0)
			return true;
	return false;
}

void
dj_remove(DurJsonObj *o, const char *key)
{
	int			keylen = strlen(key);
	int			i;

	for (i = 0; i < o->n; i++)
	{
		if (o->f[i].keylen == keylen && memcmp(o->f[i].key, key, keylen) == 0)
		{
			memmove(&o->f[i], &o->f[i + 1], (o->n - i - 1) * sizeof(o->f[0]));
			o->n--;
			return;
		}
	}
}

/* jsonb's key order: shorter keys first, then bytewise. */
static bool
dj_key_before(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen;
	return memcmp(a, b, alen) < 0;
}

/* Write the object: "{}" or "{"k": v, ...}" with keys in jsonb's order. */
void
dj_end(DurJsonObj *o, StringInfo out)
{
	int			order[DJ_MAX_FIELDS];
	int			i,
				j;

	for (i = 0; i < o->n; i++)
	{
		int			k = i;

		/* insertion sort: objects have a few dozen keys at most */
		for (j = i; j > 0 && dj_key_before(o->f[k].key, o->f[k].keylen,
										   o->f[order[j - 1]].key, o->f[order[j - 1]].keylen); j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
	appendStringInfoChar(out, '{');
	for (i = 0; i < o->n; i++)
	{
		int			k = order[i];

		/* keys are NUL-terminated: literals, or copied by the caller */
		if (i > 0)
			appendStringInfoString(out, ", ");
		escape_json(out, o->f[k].key);
		appendStringInfoString(out, ": ");
		appendBinaryStringInfo(out, o->vals.data + o->f[k].off, o->f[k].len);
	}
	appendStringInfoChar(out, '}');
}

/* The object as jsonb (for the few places that store jsonb). */
Jsonb *
dj_to_jsonb(DurJsonObj *o)
{
	StringInfoData s;

	initStringInfo(&s);
	dj_end(o, &s);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

/*
 * Add every top-level field of a jsonb object, its values rendered as
 * jsonb_out prints them.
 */
void
dj_add_jsonb_object(DurJsonObj *o, Jsonb *obj)
{
	JsonbIterator *it = JsonbIteratorInit(&obj->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			keylen = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			keylen = v.val.string.len;
			key = pnstrdup(v.val.string.val, keylen);
		}
		else if (tok == WJB_VALUE)
		{
			int			i = dj_field(o, key, keylen);

			if (v.type == jbvBinary)
				(void) JsonbToCString(&o->vals, v.val.binary.data, v.val.binary.len);
			else
			{
				/* a scalar: print it as a one-element jsonb would */
				Jsonb	   *scalar = JsonbValueToJsonb(&v);

				dj_append_jsonb(&o->vals, scalar);
			}
			dj_done(o, i);
		}
	}
}
