/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The stored form of history events.
 *
 * A batch (one row of durable.history_batches) holds the events one call
 * recorded, in a compact binary form, as Temporal stores a history node as
 * a protobuf blob: each event type has a schema, the list of its attribute
 * names, so a stored event is its type number, its time and its attribute
 * values, without the names.  Each value is kept as the JSON text it
 * renders to, so rendering an event is copying its values between the
 * names: as cheap as reading JSON text, at a fifth of the size.
 *
 * Format (version DUR_BATCH_VERSION):
 *
 *	batch	:= version:u8 count:varint event{count}
 *	event	:= code:u8 time-delta:zigzag-varint body
 *	body	:= (code > 0) nvalues:u8 value{nvalues}
 *			 | (code = 0) type-length:varint type attrs-length:varint attrs-json
 *	value	:= 0							JSON null
 *			 | 1 index:u8					a well-known value (dur_well_known)
 *			 | 2 distance:varint			the same as the text value that starts
 *											distance bytes before this one, in
 *											this batch (an identity, a queue)
 *			 | (length + 2):varint text		any other value, as JSON text
 *
 * code is Temporal's event type number; 0 is an event written generically
 * (a type without a schema here, or attributes that are not exactly the
 * schema's).  time-delta is microseconds since the previous event of the
 * batch (the first: since 2000-01-01).  Event ids are not stored: the
 * first is the row's last_event_id - count + 1, then one more per event.
 *
 * Invariants: a schema's attribute list and dur_well_known only ever grow
 * at their end, so every batch ever written decodes (an event with fewer
 * values than its schema has attributes shows only those); the rendered
 * JSON is exactly what jsonb_out prints for the event object (keys in
 * jsonb's order), so workers receive the same text durable 0.2 sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "events.h"
#include "util.h"

PG_FUNCTION_INFO_V1(_batch_events);
PG_FUNCTION_INFO_V1(_batch_from_json);

#define DUR_MAX_KEYS 20

/* An event type: its number, name and attributes (in the order stored). */
typedef struct DurEventSchema
{
	int			code;
	const char *type;
	const char *keys[DUR_MAX_KEYS];
	/* computed once: the number of keys, and their order in jsonb */
	int			nkeys;
	int			order[DUR_MAX_KEYS];
	int			keylen[DUR_MAX_KEYS];
} DurEventSchema;

/*
 * The schemas, numbered as Temporal numbers its event types.  Append
 * attributes at the end of a list, never in between (see the header).
 */
static DurEventSchema dur_schemas[] = {
	{1, "WorkflowExecutionStarted", {"workflow_type", "task_queue", "input", "workflow_execution_timeout",
	"workflow_run_timeout", "workflow_task_timeout", "attempt", "first_execution_run_id",
	"continued_execution_run_id", "retry_policy", "first_workflow_task_backoff", "search_attributes",
	"memo", "priority", "identity", "request_id"}},
	{2, "WorkflowExecutionCompleted", {"result", "workflow_task_completed_event_id"}},
	{3, "WorkflowExecutionFailed", {"failure", "retry_state", "new_execution_run_id",
	"workflow_task_completed_event_id"}},
	{4, "WorkflowExecutionTimedOut", {"timeout_type", "retry_state", "new_execution_run_id",
	"workflow_task_completed_event_id"}},
	{5, "WorkflowTaskScheduled", {"task_queue", "start_to_close_timeout", "attempt"}},
	{6, "WorkflowTaskStarted", {"scheduled_event_id", "identity"}},
	{7, "WorkflowTaskCompleted", {"scheduled_event_id", "started_event_id", "identity"}},
	{8, "WorkflowTaskTimedOut", {"timeout_type", "scheduled_event_id", "started_event_id"}},
	{9, "WorkflowTaskFailed", {"cause", "failure", "identity", "scheduled_event_id", "started_event_id"}},
	{10, "ActivityTaskScheduled", {"activity_id", "activity_type", "task_queue", "input",
	"schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
	"heartbeat_timeout", "retry_policy", "workflow_task_completed_event_id"}},
	{11, "ActivityTaskStarted", {"scheduled_event_id", "identity", "attempt", "last_failure"}},
	{12, "ActivityTaskCompleted", {"result", "identity", "scheduled_event_id", "started_event_id"}},
	{13, "ActivityTaskFailed", {"failure", "identity", "retry_state", "scheduled_event_id",
	"started_event_id"}},
	{14, "ActivityTaskTimedOut", {"failure", "retry_state", "scheduled_event_id", "started_event_id"}},
	{15, "ActivityTaskCancelRequested", {"scheduled_event_id", "workflow_task_completed_event_id"}},
	{16, "ActivityTaskCanceled", {"details", "scheduled_event_id", "started_event_id",
	"latest_cancel_requested_event_id", "identity"}},
	{17, "TimerStarted", {"timer_id", "start_to_fire_timeout", "workflow_task_completed_event_id"}},
	{18, "TimerFired", {"timer_id", "started_event_id"}},
	{19, "TimerCanceled", {"timer_id", "started_event_id", "workflow_task_completed_event_id"}},
	{20, "WorkflowExecutionCancelRequested", {"cause", "identity"}},
	{21, "WorkflowExecutionCanceled", {"details", "workflow_task_completed_event_id"}},
	{25, "MarkerRecorded", {"marker_name", "details", "workflow_task_completed_event_id"}},
	{26, "WorkflowExecutionSignaled", {"signal_name", "input", "identity", "request_id"}},
	{27, "WorkflowExecutionTerminated", {"reason", "identity"}},
	{28, "WorkflowExecutionContinuedAsNew", {"new_execution_run_id", "workflow_type", "task_queue",
	"input", "workflow_run_timeout", "workflow_task_timeout", "workflow_task_completed_event_id"}},
	{40, "UpsertWorkflowSearchAttributes", {"search_attributes", "workflow_task_completed_event_id"}},
	/* other workflows (issue 11) */
	{22, "RequestCancelExternalWorkflowExecutionInitiated", {"namespace", "workflow_execution",
	"child_workflow_only", "reason", "workflow_task_completed_event_id"}},
	{23, "RequestCancelExternalWorkflowExecutionFailed", {"cause", "initiated_event_id", "namespace",
	"workflow_execution", "workflow_task_completed_event_id"}},
	{24, "ExternalWorkflowExecutionCancelRequested", {"initiated_event_id", "namespace", "workflow_execution"}},
	{29, "StartChildWorkflowExecutionInitiated", {"namespace", "workflow_id", "workflow_type", "task_queue",
	"input", "workflow_execution_timeout", "workflow_run_timeout", "workflow_task_timeout",
	"parent_close_policy", "workflow_task_completed_event_id", "workflow_id_reuse_policy", "retry_policy",
	"search_attributes", "memo"}},
	{30, "StartChildWorkflowExecutionFailed", {"namespace", "workflow_id", "workflow_type", "cause",
	"initiated_event_id", "workflow_task_completed_event_id"}},
	{31, "ChildWorkflowExecutionStarted", {"namespace", "initiated_event_id", "workflow_execution",
	"workflow_type"}},
	{32, "ChildWorkflowExecutionCompleted", {"result", "namespace", "workflow_execution", "workflow_type",
	"initiated_event_id", "started_event_id"}},
	{33, "ChildWorkflowExecutionFailed", {"failure", "retry_state", "namespace", "workflow_execution",
	"workflow_type", "initiated_event_id", "started_event_id"}},
	{34, "ChildWorkflowExecutionCanceled", {"details", "namespace", "workflow_execution", "workflow_type",
	"initiated_event_id", "started_event_id"}},
	{35, "ChildWorkflowExecutionTimedOut", {"retry_state", "namespace", "workflow_execution",
	"workflow_type", "initiated_event_id", "started_event_id"}},
	{36, "ChildWorkflowExecutionTerminated", {"namespace", "workflow_execution", "workflow_type",
	"initiated_event_id", "started_event_id"}},
	{37, "SignalExternalWorkflowExecutionInitiated", {"namespace", "workflow_execution", "signal_name",
	"input", "child_workflow_only", "workflow_task_completed_event_id"}},
	{38, "SignalExternalWorkflowExecutionFailed", {"cause", "initiated_event_id", "namespace",
	"workflow_execution", "workflow_task_completed_event_id"}},
	{39, "ExternalWorkflowExecutionSignaled", {"initiated_event_id", "namespace", "workflow_execution"}},
	/* updates */
	{41, "WorkflowExecutionUpdateAccepted", {"protocol_instance_id", "accepted_request_message_id",
	"accepted_request_sequencing_event_id", "accepted_request"}},
	{43, "WorkflowExecutionUpdateCompleted", {"meta", "accepted_event_id", "outcome"}},
};

#define DUR_MAX_CODE 64
static DurEventSchema *dur_by_code[DUR_MAX_CODE];
static bool dur_schemas_ready = false;

/*
 * Values common enough to be stored as a byte.  Append only: the index is
 * stored.
 */
static const char *const dur_well_known[] = {
	/* Temporal's default retry policy, as dur_retry_policy writes it */
	"{\"initial_interval\": \"1s\", \"maximum_attempts\": 0, \"maximum_interval\": \"100s\", "
	"\"backoff_coefficient\": 2.0, \"non_retryable_error_types\": []}",
	"{}",
	"[]",
	"true",
	"false",
	"\"default\"",
	/* a child's start (issue 11) */
	"\"terminate\"",
	"\"allow_duplicate\"",
	"\"10s\"",
};

/* jsonb's key order: shorter keys first, then bytewise. */
static bool
dur_key_before(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen;
	return memcmp(a, b, alen) < 0;
}

/* Count each schema's keys and sort them in jsonb's order, once. */
static void
dur_schemas_init(void)
{
	int			s;

	if (dur_schemas_ready)
		return;
	for (s = 0; s < lengthof(dur_schemas); s++)
	{
		DurEventSchema *sc = &dur_schemas[s];
		int			i,
					j;

		for (sc->nkeys = 0; sc->nkeys < DUR_MAX_KEYS && sc->keys[sc->nkeys]; sc->nkeys++)
			sc->keylen[sc->nkeys] = strlen(sc->keys[sc->nkeys]);
		for (i = 0; i < sc->nkeys; i++)
		{
			for (j = i; j > 0 && dur_key_before(sc->keys[i], sc->keylen[i],
												sc->keys[sc->order[j - 1]],
												sc->keylen[sc->order[j - 1]]); j--)
				sc->order[j] = sc->order[j - 1];
			sc->order[j] = i;
		}
		Assert(sc->code > 0 && sc->code < DUR_MAX_CODE);
		dur_by_code[sc->code] = sc;
	}
	dur_schemas_ready = true;
}

static DurEventSchema *
dur_schema_by_type(const char *type, int len)
{
	int			s;

	dur_schemas_init();
	for (s = 0; s < lengthof(dur_schemas); s++)
		if (strlen(dur_schemas[s].type) == len && memcmp(dur_schemas[s].type, type, len) == 0)
			return &dur_schemas[s];
	return NULL;
}

static void
dur_put_varint(StringInfo out, uint64 v)
{
	while (v >= 0x80)
	{
		appendStringInfoChar(out, (char) ((v & 0x7f) | 0x80));
		v >>= 7;
	}
	appendStringInfoChar(out, (char) v);
}

static uint64
dur_get_varint(const unsigned char **p, const unsigned char *end)
{
	uint64		v = 0;
	int			shift = 0;

	for (;;)
	{
		unsigned char b;

		if (*p >= end || shift > 63)
			elog(ERROR, "durable: corrupt history batch (varint)");
		b = *(*p)++;
		v |= (uint64) (b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		shift += 7;
	}
}

/* The position of a field of an object being written, or -1. */
static int
dur_obj_find(DurJsonObj *o, const char *key, int keylen)
{
	int			i;

	for (i = 0; i < o->n; i++)
		if (o->f[i].keylen == keylen && memcmp(o->f[i].key, key, keylen) == 0)
			return i;
	return -1;
}

/* The number of bytes dur_put_varint writes for v. */
static int
dur_varint_size(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * Store one value, given as its JSON text: as a reference to the same text
 * stored earlier in the batch when that is shorter.
 */
static void
dur_put_value(DurBatchWriter *w, const char *text, int len)
{
	StringInfo	out = &w->buf;
	int			k;

	if (len == 4 && memcmp(text, "null", 4) == 0)
	{
		appendStringInfoChar(out, 0);
		return;
	}
	for (k = 0; k < lengthof(dur_well_known); k++)
	{
		if (strlen(dur_well_known[k]) == len && memcmp(dur_well_known[k], text, len) == 0)
		{
			appendStringInfoChar(out, 1);
			appendStringInfoChar(out, (char) k);
			return;
		}
	}
	for (k = 0; k < w->nrefs; k++)
	{
		const unsigned char *p = (const unsigned char *) out->data + w->ref_off[k];
		uint64		h = dur_get_varint(&p, (const unsigned char *) out->data + out->len);
		uint64		distance = out->len - w->ref_off[k];

		if (h - 2 == len && memcmp(p, text, len) == 0 &&
			1 + dur_varint_size(distance) < dur_varint_size(len + 2) + len)
		{
			appendStringInfoChar(out, 2);
			dur_put_varint(out, distance);
			return;
		}
	}
	if (w->nrefs < DUR_BATCH_MAX_REFS)
		w->ref_off[w->nrefs++] = out->len;
	dur_put_varint(out, (uint64) len + 2);
	appendBinaryStringInfo(out, text, len);
}

/* Zigzag: signed deltas as small unsigned numbers. */
static uint64
dur_zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static int64
dur_unzigzag(uint64 v)
{
	return (int64) (v >> 1) ^ -(int64) (v & 1);
}

/* Start an empty batch. */
void
dur_batch_writer_init(DurBatchWriter *w)
{
	initStringInfo(&w->buf);
	dur_batch_writer_reset(w);
}

/* Empty the batch, to write another. */
void
dur_batch_writer_reset(DurBatchWriter *w)
{
	resetStringInfo(&w->buf);
	w->nevents = 0;
	w->prev_time = 0;
	w->nrefs = 0;
}

/* The batch in its stored form, a bytea: the header, then the events. */
bytea *
dur_batch_bytes(DurBatchWriter *w)
{
	StringInfoData head;
	bytea	   *b;

	initStringInfo(&head);
	appendStringInfoChar(&head, DUR_BATCH_VERSION);
	dur_put_varint(&head, (uint64) w->nevents);
	b = palloc(VARHDRSZ + head.len + w->buf.len);
	SET_VARSIZE(b, VARHDRSZ + head.len + w->buf.len);
	memcpy(VARDATA(b), head.data, head.len);
	memcpy(VARDATA(b) + head.len, w->buf.data, w->buf.len);
	pfree(head.data);
	return b;
}

/*
 * Append one event to a batch, in stored form: compact when its attributes
 * are exactly its type's schema, else generic.
 */
void
dur_event_encode(DurBatchWriter *w, const char *type, TimestampTz time, DurJsonObj *attrs)
{
	StringInfo	out = &w->buf;
	DurEventSchema *sc = dur_schema_by_type(type, strlen(type));
	int			pos[DUR_MAX_KEYS];
	bool		compact = sc != NULL && attrs->n == sc->nkeys;
	int			i;

	for (i = 0; compact && i < sc->nkeys; i++)
	{
		pos[i] = dur_obj_find(attrs, sc->keys[i], sc->keylen[i]);
		compact = pos[i] >= 0;
	}
	appendStringInfoChar(out, (char) (compact ? sc->code : 0));
	dur_put_varint(out, dur_zigzag(time - w->prev_time));
	w->prev_time = time;
	w->nevents++;
	if (compact)
	{
		appendStringInfoChar(out, (char) sc->nkeys);
		for (i = 0; i < sc->nkeys; i++)
			dur_put_value(w, attrs->vals.data + attrs->f[pos[i]].off, attrs->f[pos[i]].len);
	}
	else
	{
		StringInfoData json;
		int			tlen = strlen(type);

		initStringInfo(&json);
		dj_end(attrs, &json);
		dur_put_varint(out, tlen);
		appendBinaryStringInfo(out, type, tlen);
		dur_put_varint(out, json.len);
		appendBinaryStringInfo(out, json.data, json.len);
		pfree(json.data);
	}
}

/* Append the JSON of an event's wrapper around its attributes' text. */
static void
dur_render_wrapped(StringInfo out, int64 event_id, const char *type, int type_len,
				   TimestampTz time, StringInfo attrs)
{
	/* the keys in jsonb's order: event_id, attributes, event_time, event_type */
	appendStringInfo(out, "{\"event_id\": " INT64_FORMAT ", \"attributes\": ", event_id);
	appendBinaryStringInfo(out, attrs->data, attrs->len);
	appendStringInfoString(out, ", \"event_time\": ");
	dj_append_time(out, time, true);
	appendStringInfoString(out, ", \"event_type\": ");
	if (type[type_len] == '\0')
		escape_json(out, type);
	else
	{
		char	   *t = pnstrdup(type, type_len);

		escape_json(out, t);
		pfree(t);
	}
	appendStringInfoChar(out, '}');
}

/* Render an event that has not been stored (a synthesised one). */
void
dur_event_render(StringInfo out, int64 event_id, const char *type, TimestampTz time,
				 DurJsonObj *attrs)
{
	StringInfoData a;

	initStringInfo(&a);
	dj_end(attrs, &a);
	dur_render_wrapped(out, event_id, type, strlen(type), time, &a);
	pfree(a.data);
}

/* Start reading a batch's events, the first of which has id first_id. */
void
dur_batch_begin_events(DurBatchReader *r, const char *events, int len, int64 first_id)
{
	r->start = r->p = (const unsigned char *) events;
	r->end = r->p + len;
	r->next_id = first_id;
	r->prev_time = 0;
	dur_schemas_init();
}

/* Start reading a stored batch whose last event has id last_id. */
void
dur_batch_begin(DurBatchReader *r, const char *data, int len, int64 last_id)
{
	const unsigned char *p = (const unsigned char *) data;
	const unsigned char *end = p + len;
	uint64		count;

	if (len < 1 || *p != DUR_BATCH_VERSION)
		elog(ERROR, "durable: history batch of unknown version %d", len < 1 ? -1 : *p);
	p++;
	count = dur_get_varint(&p, end);
	if (count < 1 || count > (uint64) last_id)
		elog(ERROR, "durable: corrupt history batch (count)");
	dur_batch_begin_events(r, (const char *) p, end - p, last_id - (int64) count + 1);
}

/* Skip one stored value; returns its start. */
static const unsigned char *
dur_skip_value(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *start = *p;
	uint64		h = dur_get_varint(p, end);

	if (h == 1)
		(*p)++;
	else if (h == 2)
		(void) dur_get_varint(p, end);
	else if (h > 2)
		*p += h - 2;
	if (*p > end)
		elog(ERROR, "durable: corrupt history batch (value)");
	return start;
}

/* The next event of the batch, or false at its end. */
bool
dur_batch_next(DurBatchReader *r, DurStoredEvent *ev)
{
	if (r->p >= r->end)
		return false;
	ev->batch = r->start;
	ev->code = *r->p++;
	ev->event_id = r->next_id++;
	ev->time = r->prev_time + dur_unzigzag(dur_get_varint(&r->p, r->end));
	r->prev_time = ev->time;
	if (ev->code == 0)
	{
		uint64		tlen = dur_get_varint(&r->p, r->end);
		uint64		alen;

		ev->type = (const char *) r->p;
		ev->type_len = (int) tlen;
		r->p += tlen;
		alen = dur_get_varint(&r->p, r->end);
		ev->body = r->p;
		ev->body_len = (int) alen;
		ev->nvalues = 0;
		r->p += alen;
	}
	else
	{
		DurEventSchema *sc = ev->code < DUR_MAX_CODE ? dur_by_code[ev->code] : NULL;
		int			i;

		if (sc == NULL)
			elog(ERROR, "durable: history event of unknown type %d", ev->code);
		ev->type = sc->type;
		ev->type_len = strlen(sc->type);
		ev->nvalues = *r->p++;
		ev->body = r->p;
		for (i = 0; i < ev->nvalues; i++)
			(void) dur_skip_value(&r->p, r->end);
		ev->body_len = r->p - ev->body;
	}
	if (r->p > r->end)
		elog(ERROR, "durable: corrupt history batch");
	return true;
}

/* Append a stored value's JSON text; ev is the event it belongs to. */
static void
dur_append_value(StringInfo out, DurStoredEvent *ev, const unsigned char *v,
				 const unsigned char *end)
{
	const unsigned char *p = v;
	uint64		h = dur_get_varint(&p, end);

	if (h == 2)
	{
		/* a reference back to a text value earlier in the batch */
		uint64		distance = dur_get_varint(&p, end);

		if (distance == 0 || distance > (uint64) (v - ev->batch))
			elog(ERROR, "durable: corrupt history batch (reference)");
		p = v - distance;
		h = dur_get_varint(&p, end);
		if (h <= 2 || p + (h - 2) > v)
			elog(ERROR, "durable: corrupt history batch (reference)");
	}
	if (h == 0)
		appendStringInfoString(out, "null");
	else if (h == 1)
	{
		if (*p >= lengthof(dur_well_known))
			elog(ERROR, "durable: history value of unknown kind %d", *p);
		appendStringInfoString(out, dur_well_known[*p]);
	}
	else
		appendBinaryStringInfo(out, (const char *) p, (int) (h - 2));
}

/* Append a stored event's attributes as a JSON object. */
void
dur_stored_attributes(StringInfo out, DurStoredEvent *ev)
{
	DurEventSchema *sc;
	const unsigned char *vals[DUR_MAX_KEYS];
	const unsigned char *p = ev->body;
	const unsigned char *end = ev->body + ev->body_len;
	bool		first = true;
	int			i;

	if (ev->code == 0)
	{
		appendBinaryStringInfo(out, (const char *) ev->body, ev->body_len);
		return;
	}
	sc = dur_by_code[ev->code];
	for (i = 0; i < ev->nvalues && i < sc->nkeys; i++)
		vals[i] = dur_skip_value(&p, end);
	appendStringInfoChar(out, '{');
	for (i = 0; i < sc->nkeys; i++)
	{
		int			k = sc->order[i];

		if (k >= ev->nvalues)
			continue;			/* an attribute later versions added */
		if (!first)
			appendStringInfoString(out, ", ");
		appendStringInfoChar(out, '"');
		appendBinaryStringInfo(out, sc->keys[k], sc->keylen[k]);
		appendStringInfoString(out, "\": ");
		dur_append_value(out, ev, vals[k], end);
		first = false;
	}
	appendStringInfoChar(out, '}');
}

/* Append a stored event as the JSON object workers receive. */
void
dur_stored_render(StringInfo out, DurStoredEvent *ev)
{
	StringInfoData a;

	initStringInfo(&a);
	dur_stored_attributes(&a, ev);
	dur_render_wrapped(out, ev->event_id, ev->type, ev->type_len, ev->time, &a);
	pfree(a.data);
}

/*
 * The JSON text of one attribute of a stored event, appended to out; false
 * when the event does not have it.
 */
bool
dur_stored_value(DurStoredEvent *ev, const char *key, StringInfo out)
{
	if (ev->code == 0)
	{
		char	   *json = pnstrdup((const char *) ev->body, ev->body_len);
		Jsonb	   *attrs = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
		Jsonb	   *v = dur_jsonb_get(attrs, key);

		if (v == NULL)
			return false;
		dj_append_jsonb(out, v);
		return true;
	}
	else
	{
		DurEventSchema *sc = dur_by_code[ev->code];
		const unsigned char *p = ev->body;
		const unsigned char *end = ev->body + ev->body_len;
		int			i;

		for (i = 0; i < ev->nvalues && i < sc->nkeys; i++)
		{
			const unsigned char *v = dur_skip_value(&p, end);

			if (strcmp(sc->keys[i], key) == 0)
			{
				dur_append_value(out, ev, v, end);
				return true;
			}
		}
		return false;
	}
}

/*
 * Encode a JSON array of events (objects with event_type, event_time and
 * attributes, as jsonb prints them) as a stored batch.
 */
void
dur_batch_from_json_text(DurBatchWriter *w, const char *json)
{
	Jsonb	   *events = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	JsonbIterator *it = JsonbIteratorInit(&events->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Jsonb	   *ev;
		Jsonb	   *attrs;
		DurJsonObj	o;
		char	   *type;
		TimestampTz time;

		if (tok != WJB_ELEM)
			continue;
		ev = JsonbValueToJsonb(&v);
		type = dur_jsonb_get_text(ev, "event_type");
		time = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													   CStringGetDatum(dur_jsonb_get_text(ev, "event_time")),
													   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		attrs = dur_jsonb_get(ev, "attributes");
		dj_init(&o);
		if (attrs != NULL && JB_ROOT_IS_OBJECT(attrs))
			dj_add_jsonb_object(&o, attrs);
		dur_event_encode(w, type, time, &o);
	}
}

/*
 * _batch_events(last_event_id bigint, events bytea) returns table
 * (event_id bigint, event_type text, event_time timestamptz, attributes
 * jsonb): the events of a stored batch, for the view durable.history.
 */
Datum
_batch_events(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		last;
	bytea	   *data;
	DurBatchReader r;
	DurStoredEvent ev;
	StringInfoData a;

	/* declared STRICT; a declaration that is not returns nothing for NULLs */
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	last = PG_GETARG_INT64(0);
	data = PG_GETARG_BYTEA_PP(1);
	initStringInfo(&a);
	dur_batch_begin(&r, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), last);
	while (dur_batch_next(&r, &ev))
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		resetStringInfo(&a);
		dur_stored_attributes(&a, &ev);
		values[0] = Int64GetDatum(ev.event_id);
		values[1] = PointerGetDatum(cstring_to_text_with_len(ev.type, ev.type_len));
		values[2] = TimestampTzGetDatum(ev.time);
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(a.data));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * _batch_from_json(events json) returns bytea: the stored form of a JSON
 * array of events (the update from 0.2 converts each run's history).
 */
Datum
_batch_from_json(PG_FUNCTION_ARGS)
{
	DurBatchWriter w;

	dur_require_not_null(PG_ARGISNULL(0), "events");
	dur_batch_writer_init(&w);
	dur_batch_from_json_text(&w, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_BYTEA_P(dur_batch_bytes(&w));
}
