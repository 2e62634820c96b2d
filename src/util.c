/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Input checks, task tokens, failure objects and retry policies.
 *
 * Every value a caller passes is checked here before anything is written,
 * and a bad one is reported with a specific SQLSTATE and the offending
 * value: ids longer than DUR_MAX_ID_BYTES, payloads larger than
 * durable.max_payload_size, interval text that does not parse or is
 * negative, unknown choices, malformed task tokens, failure objects and
 * retry policies with unknown or ill-typed fields.
 *
 * Failures and retry policies are normalised as Temporal has them: a
 * failure always has message, type, non_retryable and details; a retry
 * policy always has all five fields, with Temporal's defaults.  The retry
 * decision (dur_retry_backoff) is Temporal's.
 *
 * The SQL-callable functions at the end (_check_id, _check_payload,
 * _interval, _duration, _parse_token) are what durable 0.1 and 0.2's SQL
 * calls; they stay so that a database keeps working with this library
 * until ALTER EXTENSION durable UPDATE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#ifdef DUR_HAVE_SOFT_ERRORS
#include "nodes/miscnodes.h"
#endif

#include "durable.h"
#include "namespaces.h"
#include "tables.h"
#include "util.h"

PG_FUNCTION_INFO_V1(_check_id);
PG_FUNCTION_INFO_V1(_check_payload);
PG_FUNCTION_INFO_V1(_interval);
PG_FUNCTION_INFO_V1(_duration);
PG_FUNCTION_INFO_V1(_parse_token);
PG_FUNCTION_INFO_V1(_siphash128);

/*
 * An id (workflow, activity, timer, request id, queue, type name) must be
 * non-empty and at most DUR_MAX_ID_BYTES long.  NULL passes.
 */
void
dur_check_id(const char *value, const char *what)
{
	int			len;

	if (value == NULL)
		return;
	len = strlen(value);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhint("Pass a non-empty string, or NULL where a default is allowed.")));
	if (len > DUR_MAX_ID_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long: %d bytes", what, len),
				 errdetail("The value starts with \"%s\".",
						   pnstrdup(value, pg_mbcliplen(value, len, 40))),
				 errhint("Ids are limited to %d bytes.", DUR_MAX_ID_BYTES)));
}

/*
 * A payload's stored size must be within the limit of the namespace the
 * call acts in (durable.namespaces.max_payload_size), or else
 * durable.max_payload_size.  Every entry point checks its namespace
 * (dur_namespace_require, which sets the call's limit) before its payloads.
 */
void
dur_check_payload(Datum value, const char *what)
{
	Size		size = toast_raw_datum_size(value);
	int			limit = dur_call_payload_limit > 0 ? dur_call_payload_limit : dur_max_payload_size;

	if (size > (Size) limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large: %zu bytes", what, size),
				 errdetail("The limit is %d bytes (%s).", limit,
						   dur_call_payload_limit > 0 ? "the namespace's max_payload_size" :
						   "durable.max_payload_size"),
				 errhint("Store large data in a table of your own and pass its key.")));
}

/*
 * Parse interval text, rejecting bad syntax (22007) and negative durations
 * (22023) with a message that names the field.  NULL for NULL.
 */
Interval *
dur_parse_interval(const char *str, const char *what)
{
	Datum		result = (Datum) 0;
	Interval   *iv;
	bool		ok = true;

	if (str == NULL)
		return NULL;
#ifdef DUR_HAVE_SOFT_ERRORS
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		ok = DirectInputFunctionCallSafe(interval_in, (char *) str, InvalidOid, -1,
										 (Node *) &escontext, &result);
	}
#else
	{
		MemoryContext oldcxt = CurrentMemoryContext;

		/* interval_in only allocates memory, so recovering here is safe */
		PG_TRY();
		{
			result = DirectFunctionCall3(interval_in, CStringGetDatum(str),
										 ObjectIdGetDatum(InvalidOid),
										 Int32GetDatum(-1));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(oldcxt);
			FlushErrorState();
			ok = false;
		}
		PG_END_TRY();
	}
#endif
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("invalid interval for %s: \"%s\"", what, str),
				 errhint("Use PostgreSQL interval syntax, such as '30 seconds', '1.5s' or '30 days'.")));
	iv = DatumGetIntervalP(result);
	if (iv->time < 0 || iv->day < 0 || iv->month < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative: \"%s\"", what, str),
				 errhint("Durations are zero or positive.")));
	dur_check_interval(iv, what, false);
	return iv;
}

/*
 * A duration given in JSON, the one way every JSON duration is read (a
 * command's timeouts and timer duration, a retry policy's intervals, a
 * failure's next_retry_delay, a namespace's retention): obj's field key as
 * interval text ("30 seconds", "1.5s", "00:01:30") or as a number of
 * seconds (1.5 is 1.5 seconds).  NULL when the field is absent or a JSON
 * null.  Any other JSON type is refused with type_errcode (and detail, when
 * given); bad text with 22007; a negative value, NaN or an infinity, or one
 * over 100 years with 22023.  what names the field in messages.
 */
Interval *
dur_json_duration(Jsonb *obj, const char *key, const char *what, int type_errcode,
				  const char *detail)
{
	JsonbValue *v;
	char	   *text;
	double		secs;
	Interval   *iv;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	v = getKeyJsonValueFromContainer(&obj->root, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return dur_parse_interval(pnstrdup(v->val.string.val, v->val.string.len), what);
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(type_errcode),
				 errmsg("%s must be a duration, not %s", what,
						v->type == jbvBool ? "boolean" :
						v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) ? "array" :
						"object"),
				 detail ? errdetail("%s", detail) : 0,
				 errhint("A duration is interval text such as \"30 seconds\" or \"1.5s\", "
						 "or a number of seconds such as 1.5.")));
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number of seconds: %s", what, text),
				 detail ? errdetail("%s", detail) : 0,
				 errhint("Durations are zero or positive.")));
	secs = strtod(text, NULL);
	if (secs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative: %s", what, text),
				 detail ? errdetail("%s", detail) : 0,
				 errhint("Durations are zero or positive.")));
	if (secs > (double) DUR_MAX_DURATION_MONTHS * DAYS_PER_MONTH * SECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most 100 years: %s seconds", what, text),
				 detail ? errdetail("%s", detail) : 0,
				 errhint("Every duration durable stores or waits for is at most 100 years, so that "
						 "a deadline computed from it is a valid timestamp.")));
	iv = palloc0(sizeof(Interval));
	iv->time = (TimeOffset) rint(secs * USECS_PER_SEC);
	return iv;
}

/* Compare intervals as SQL does (a month is 30 days, a day 24 hours). */
int
dur_interval_cmp(const Interval *a, const Interval *b)
{
	return DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(a),
											 IntervalPGetDatum(b)));
}

bool
dur_interval_is_zero(const Interval *iv)
{
	return iv->time == 0 && iv->day == 0 && iv->month == 0;
}

/* An interval in microseconds, counting a month as 30 days as SQL does. */
double
dur_interval_usecs(const Interval *iv)
{
	return ((double) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time;
}

/* The smaller of two intervals; a NULL one counts as unbounded. */
Interval *
dur_interval_min(Interval *a, Interval *b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	return dur_interval_cmp(a, b) <= 0 ? a : b;
}

/* t + iv, as timestamptz + interval does in SQL. */
TimestampTz
dur_time_plus(TimestampTz t, const Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(iv)));
}

/*
 * An interval argument must not be negative, nor zero when positive is
 * asked (22023).  NULL passes.
 */
void
dur_check_interval(const Interval *value, const char *what, bool positive)
{
	Interval	zero = {0, 0, 0};
	Interval	most = {0, 0, DUR_MAX_DURATION_MONTHS};
	int			c;

	if (value == NULL)
		return;
	c = dur_interval_cmp(value, &zero);
	if (c < 0 || (positive && c == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s: %s", what, positive ? "positive" : "zero or positive",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(value))))));
	if (dur_interval_cmp(value, &most) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at most 100 years: %s", what,
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(value)))),
				 errhint("Every duration durable stores or waits for is at most 100 years, so that "
						 "a deadline computed from it is a valid timestamp.")));
}

/* An argument that must not be NULL (22004). */
void
dur_require_not_null(bool isnull, const char *what)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* The choices of an enumerated argument, for a hint: "a, b, c". */
static char *
dur_choice_list(const char *const *choices)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; choices[i] != NULL; i++)
		appendStringInfo(&s, "%s%s", i > 0 ? ", " : "", choices[i]);
	return s.data;
}

/*
 * An enumerated argument must be one of choices (a NULL-terminated list):
 * 22004 for NULL, 22023 for anything else.  Returns the choice.
 */
const char *
dur_check_choice(const char *value, const char *what, const char *const *choices)
{
	int			i;

	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what),
				 errhint("Use one of: %s.", dur_choice_list(choices))));
	for (i = 0; choices[i] != NULL; i++)
		if (strcmp(value, choices[i]) == 0)
			return choices[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", what, value),
			 errhint("Use one of: %s.", dur_choice_list(choices))));
	return NULL;				/* keep compiler quiet */
}

/* Is s[0..len) a decimal number of 1 to 18 digits? */
static bool
dur_is_number(const char *s, int len)
{
	int			i;

	if (len < 1 || len > 18)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Is s[0..len) a UUID in lower-case canonical form? */
static bool
dur_is_uuid(const char *s, int len)
{
	int			i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/*
 * Task tokens are signed: each ends with a MAC of its fields under the
 * database's token key (durable.token_key, 32 random bytes made when the
 * extension is created or updated to 0.3, readable by no role), so that a
 * token can be neither built from what get_history shows nor guessed.  The
 * MAC is SipHash-2-4 with its 128-bit output, keyed with the key's first 16
 * bytes: a pseudorandom function made for short messages, 0.3 us a
 * token where HMAC-SHA256 through OpenSSL cost 5 us (4% of a chain3
 * workflow's server CPU).
 */
#define DUR_TOKEN_MAC_BYTES 16

#define DUR_ROTL64(x, b) (uint64) (((x) << (b)) | ((x) >> (64 - (b))))
#define DUR_SIPROUND \
	do { \
		v0 += v1; v1 = DUR_ROTL64(v1, 13); v1 ^= v0; v0 = DUR_ROTL64(v0, 32); \
		v2 += v3; v3 = DUR_ROTL64(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = DUR_ROTL64(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = DUR_ROTL64(v1, 17); v1 ^= v2; v2 = DUR_ROTL64(v2, 32); \
	} while (0)

/* 8 bytes, little-endian, as SipHash reads them. */
static uint64
dur_le64(const uint8 *p)
{
	uint64		v = 0;
	int			i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * SipHash-2-4 with 128-bit output (Aumasson and Bernstein's reference:
 * the 0xee and 0xdd tweaks) of data under a 16-byte key; out[] gets the
 * 16 bytes little-endian.  Checked against the reference test vectors in
 * sql/10_trust.sql.
 */
static void
dur_siphash128(const uint8 *key, const uint8 *data, size_t len, uint8 *out)
{
	uint64		k0 = dur_le64(key);
	uint64		k1 = dur_le64(key + 8);
	uint64		v0 = UINT64CONST(0x736f6d6570736575) ^ k0;
	uint64		v1 = UINT64CONST(0x646f72616e646f6d) ^ k1 ^ 0xee;
	uint64		v2 = UINT64CONST(0x6c7967656e657261) ^ k0;
	uint64		v3 = UINT64CONST(0x7465646279746573) ^ k1;
	uint64		last = ((uint64) len) << 56;
	uint64		h[2];
	size_t		i;
	int			j;

	for (i = 0; i + 8 <= len; i += 8)
	{
		uint64		m = dur_le64(data + i);

		v3 ^= m;
		DUR_SIPROUND;
		DUR_SIPROUND;
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		last |= ((uint64) data[i + j]) << (8 * j);
	v3 ^= last;
	DUR_SIPROUND;
	DUR_SIPROUND;
	v0 ^= last;
	v2 ^= 0xee;
	DUR_SIPROUND;
	DUR_SIPROUND;
	DUR_SIPROUND;
	DUR_SIPROUND;
	h[0] = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	DUR_SIPROUND;
	DUR_SIPROUND;
	DUR_SIPROUND;
	DUR_SIPROUND;
	h[1] = v0 ^ v1 ^ v2 ^ v3;
	for (j = 0; j < 16; j++)
		out[j] = (uint8) (h[j / 8] >> (8 * (j % 8)));
}

/* The token key and when it was made, read once per backend. */
static const uint8 *
dur_token_key(int *len, TimestampTz *created)
{
	static Oid	relid = InvalidOid;
	static uint8 key[64];
	static int	key_len;
	static TimestampTz key_time;
	Oid			cur;

	cur = get_relname_relid("token_key", get_namespace_oid("durable", false));
	if (!OidIsValid(cur))
		elog(ERROR, "durable.token_key is missing");
	if (cur != relid)
	{
		Relation	rel = table_open(cur, AccessShareLock);
		TableScanDesc scan = table_beginscan(rel, GetLatestSnapshot(), 0, NULL);
		HeapTuple	tup = heap_getnext(scan, ForwardScanDirection);
		bool		isnull1,
					isnull2;
		bytea	   *k;

		if (tup == NULL)
			elog(ERROR, "durable.token_key is empty");
		k = DatumGetByteaPP(heap_getattr(tup, 1, RelationGetDescr(rel), &isnull1));
		key_time = DatumGetTimestampTz(heap_getattr(tup, 2, RelationGetDescr(rel), &isnull2));
		if (isnull1 || isnull2 || VARSIZE_ANY_EXHDR(k) < 16 || VARSIZE_ANY_EXHDR(k) > sizeof(key))
			elog(ERROR, "durable.token_key holds no usable key");
		key_len = VARSIZE_ANY_EXHDR(k);
		memcpy(key, VARDATA_ANY(k), key_len);
		table_endscan(scan);
		table_close(rel, AccessShareLock);
		relid = cur;
	}
	*len = key_len;
	if (created)
		*created = key_time;
	return key;
}

/* The MAC of a token's fields, as 2 * DUR_TOKEN_MAC_BYTES hex digits. */
static void
dur_token_mac(const char *fields, int len, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	uint8		mac[DUR_TOKEN_MAC_BYTES];
	int			key_len;
	const uint8 *key = dur_token_key(&key_len, NULL);
	int			i;

	dur_siphash128(key, (const uint8 *) fields, len, mac);
	for (i = 0; i < DUR_TOKEN_MAC_BYTES; i++)
	{
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[2 * DUR_TOKEN_MAC_BYTES] = '\0';
}

/* A signed task token (the format dur_parse_token reads). */
char *
dur_token(char kind, const pg_uuid_t *run, int64 n1, int64 n2, int64 n3)
{
	char	   *fields = psprintf("%c:%s:" INT64_FORMAT ":" INT64_FORMAT ":" INT64_FORMAT,
								  kind, dur_uuid_text(run), n1, n2, n3);
	char		mac[2 * DUR_TOKEN_MAC_BYTES + 1];

	dur_token_mac(fields, strlen(fields), mac);
	return psprintf("%s:%s", fields, mac);
}

/*
 * An unsigned token of durable 0.1 or 0.2 is honoured only for a task
 * that a worker started before the update made the token key: one the
 * worker held across ALTER EXTENSION durable UPDATE.  Anything else could
 * have been built from the history.  task is the token's durable.tasks row,
 * NULL when there is none.
 */
void
dur_check_legacy_token(const char *token, const DurToken *tok, const DurRow *task)
{
	int			len;
	TimestampTz created;

	if (!tok->legacy)
		return;
	(void) dur_token_key(&len, &created);
	if (task == NULL || task->nulls[T_STARTED_TIME] ||
		DatumGetTimestampTz(task->values[T_STARTED_TIME]) >= created)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid task token \"%s\"",
						pnstrdup(token, pg_mbcharcliplen(token, strlen(token), 100))),
				 errdetail("The token is unsigned; only tasks started before the update to durable 0.3 accept one."),
				 errhint("Pass the task_token exactly as durable.poll_task returned it.")));
}

/*
 * Split a task token, or raise invalid_text_representation:
 *	'w:<run>:<seq>:<started event id>:<started time>:<mac>',
 *	'a:<run>:<scheduled event id>:<attempt>:<started time>:<mac>' or
 *	'q:<run>:<query id>:0:0:<mac>', times in microseconds since 1970, and
 *	<mac> the signature of what precedes it.  Without <mac> the token is a
 *	legacy one (tok->legacy), which the caller checks with
 *	dur_check_legacy_token.
 * A workflow task's token carries what its worker saw, so that its outcome
 * is recorded the same way even if the lease was lost in a crash.  A token
 * of another kind than the caller's (unless kind is '\0') raises
 * invalid_parameter_value.
 */
void
dur_parse_token(const char *token, char kind, DurToken *tok)
{
	const char *part[6];
	int			plen[6];
	int			nparts = 0;
	const char *p;
	bool		ok;
	int			i;

	if (token != NULL)
	{
		part[0] = p = token;
		for (;; p++)
		{
			if (*p == ':' || *p == '\0')
			{
				if (nparts < 6)
					plen[nparts] = p - part[nparts];
				nparts++;
				if (*p == '\0')
					break;
				if (nparts < 6)
					part[nparts] = p + 1;
			}
		}
	}
	ok = (nparts == 5 || (nparts == 6 && plen[5] == 2 * DUR_TOKEN_MAC_BYTES)) && plen[0] == 1 &&
		(part[0][0] == 'w' || part[0][0] == 'a' || part[0][0] == 'q') &&
		dur_is_uuid(part[1], plen[1]) && dur_is_number(part[2], plen[2]) &&
		dur_is_number(part[3], plen[3]) && dur_is_number(part[4], plen[4]);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid task token \"%s\"",
						token == NULL ? "NULL" : pnstrdup(token, pg_mbcharcliplen(token, strlen(token), 100))),
				 errhint("Pass the task_token exactly as durable.poll_task returned it.")));
	if (nparts == 6)
	{
		char		mac[2 * DUR_TOKEN_MAC_BYTES + 1];
		int			diff = 0;

		/* compare in constant time: a timing must not reveal a prefix */
		dur_token_mac(token, part[5] - token - 1, mac);
		for (i = 0; i < 2 * DUR_TOKEN_MAC_BYTES; i++)
			diff |= mac[i] ^ part[5][i];
		if (diff != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid task token \"%s\"",
							pnstrdup(token, pg_mbcharcliplen(token, strlen(token), 100))),
					 errdetail("Its signature does not match: this database did not issue it."),
					 errhint("Pass the task_token exactly as durable.poll_task returned it.")));
	}
	tok->legacy = nparts == 5;
	tok->kind = part[0][0];
	memcpy(&tok->run_id, DatumGetUUIDP(DirectFunctionCall1(uuid_in,
														   CStringGetDatum(pnstrdup(part[1], plen[1])))),
		   sizeof(pg_uuid_t));
	{
		int64		n[3];

		for (i = 0; i < 3; i++)
		{
			int64		v = 0;
			int			j;

			for (j = 0; j < plen[i + 2]; j++)
				v = v * 10 + (part[i + 2][j] - '0');
			n[i] = v;
		}
		tok->n1 = n[0];
		tok->n2 = n[1];
		tok->n3 = n[2];
	}
	if (kind != '\0' && tok->kind != kind)
	{
		static const char *const a_names[] = {"a workflow", "an activity", "a query"};
		static const char *const hints[] = {
			"Use durable.complete_workflow_task or durable.fail_workflow_task for workflow tasks.",
			"Use durable.complete_activity or durable.fail_activity for activity tasks.",
			"Use durable.answer_query for query tasks."
		};
		int			have = tok->kind == 'w' ? 0 : tok->kind == 'a' ? 1 : 2;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task token is for %s task, not %s task", a_names[have],
						a_names[kind == 'w' ? 0 : kind == 'a' ? 1 : 2]),
				 errhint("%s", hints[have])));
	}
}

/* Reject a token that no longer names an outstanding task (DU004). */
void
dur_stale(const char *token, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUR_STALE_TOKEN),
			 errmsg("stale task token \"%s\"", pnstrdup(token, pg_mbcharcliplen(token, strlen(token), 100))),
			 errdetail("%s", why),
			 errhint("The task timed out, was completed already, or its workflow closed; poll for a new task.")));
}

/* A uuid as canonical text. */
char *
dur_uuid_text(const pg_uuid_t *u)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
}

/* The token of an activity attempt started at "started" (0: not a claim). */
char *
dur_activity_token(const pg_uuid_t *run, int64 seid, int32 attempt, TimestampTz started)
{
	return dur_token('a', run, seid, attempt, started == 0 ? 0 : started + DUR_UNIX_EPOCH_USECS);
}

/* The value of key in a jsonb object, NULL when absent (a JSON null is returned). */
Jsonb *
dur_jsonb_get(Jsonb *obj, const char *key)
{
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	v = getKeyJsonValueFromContainer(&obj->root, key, strlen(key), NULL);
	if (v == NULL)
		return NULL;
	return JsonbValueToJsonb(v);
}

/* jsonb_typeof of a value. */
/*
 * The first key of a JSON object that is not in the NULL-terminated list
 * keys, or NULL when every key is known.
 */
char *
dur_jsonb_unknown_key(Jsonb *object, const char *const *keys)
{
	JsonbIterator *it = JsonbIteratorInit(&object->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char	   *k = pnstrdup(v.val.string.val, v.val.string.len);
			int			i;

			for (i = 0; keys[i] != NULL; i++)
				if (strcmp(k, keys[i]) == 0)
					break;
			if (keys[i] == NULL)
				return k;
		}
	}
	return NULL;
}

const char *
dur_jsonb_typeof(Jsonb *value)
{
	return TextDatumGetCString(DirectFunctionCall1(jsonb_typeof, JsonbPGetDatum(value)));
}

/* obj->>key: the value as text, NULL when absent or JSON null. */
char *
dur_jsonb_get_text(Jsonb *obj, const char *key)
{
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	v = getKeyJsonValueFromContainer(&obj->root, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			{
				StringInfoData s;

				initStringInfo(&s);
				(void) JsonbToCString(&s, v->val.binary.data, v->val.binary.len);
				return s.data;
			}
	}
}

/* The type of a scalar or container value of obj (NULL when absent). */
static const char *
dur_field_type(Jsonb *obj, const char *key)
{
	Jsonb	   *v = dur_jsonb_get(obj, key);

	return v == NULL ? NULL : dur_jsonb_typeof(v);
}

/* The hint of every error about a failure object's shape. */
#define DUR_FAILURE_HINT \
	"A failure is an object with the fields message (string), type (string), " \
	"non_retryable (boolean), details, stack_trace, cause, timeout_type and " \
	"next_retry_delay (a duration), all optional; see docs/protocol.md."

/*
 * Check a failure object and fill it in: {"message", "type",
 * "non_retryable", "details"}, plus "stack_trace", "cause" and
 * "timeout_type" when given (nulls stripped), and "next_retry_delay" (a
 * duration).  Every field is optional; message, type and non_retryable
 * are type-checked, the others are kept as given.  NULL or JSON null is an
 * empty failure.  docs/protocol.md ("Failures") documents the same.
 */
void
dur_failure(Jsonb *f, const char *what, DurFailure *out)
{
	static const char *const fields[] = {
		"message", "type", "non_retryable", "details", "stack_trace", "cause", "timeout_type",
		"next_retry_delay", NULL
	};
	const char *t;
	char	   *k;

	memset(out, 0, sizeof(DurFailure));
	out->message = "";
	if (f == NULL || (JB_ROOT_IS_SCALAR(f) && strcmp(dur_jsonb_typeof(f), "null") == 0))
		return;
	if (!JB_ROOT_IS_OBJECT(f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, not %s", what, dur_jsonb_typeof(f)),
				 errhint(DUR_FAILURE_HINT)));
	k = dur_jsonb_unknown_key(f, fields);
	if (k != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown field \"%s\" in %s", k, what),
				 errhint(DUR_FAILURE_HINT)));
	t = dur_field_type(f, "message");
	if (t != NULL && strcmp(t, "string") != 0 && strcmp(t, "null") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field \"message\" of %s must be a string, not %s", what, t),
				 errhint(DUR_FAILURE_HINT)));
	t = dur_field_type(f, "type");
	if (t != NULL && strcmp(t, "string") != 0 && strcmp(t, "null") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field \"type\" of %s must be a string, not %s", what, t),
				 errhint(DUR_FAILURE_HINT)));
	t = dur_field_type(f, "non_retryable");
	if (t != NULL && strcmp(t, "boolean") != 0 && strcmp(t, "null") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field \"non_retryable\" of %s must be a boolean, not %s", what, t),
				 errhint(DUR_FAILURE_HINT)));
	dur_check_payload(JsonbPGetDatum(f), what);

	out->message = dur_jsonb_get_text(f, "message");
	if (out->message == NULL)
		out->message = "";
	out->type = dur_jsonb_get_text(f, "type");
	{
		char	   *nr = dur_jsonb_get_text(f, "non_retryable");

		out->non_retryable = nr != NULL && strcmp(nr, "true") == 0;
	}
	out->details = dur_jsonb_get(f, "details");
	if (out->details != NULL && strcmp(dur_jsonb_typeof(out->details), "null") == 0)
		out->details = NULL;
	out->next_retry_delay = dur_json_duration(f, "next_retry_delay",
											  psprintf("field \"next_retry_delay\" of %s", what),
											  ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	{
		Jsonb	  **opt[] = {&out->stack_trace, &out->cause, &out->timeout_type};
		const char *names[] = {"stack_trace", "cause", "timeout_type"};
		int			i;

		for (i = 0; i < 3; i++)
		{
			Jsonb	   *val = dur_jsonb_get(f, names[i]);

			if (val != NULL && strcmp(dur_jsonb_typeof(val), "null") != 0)
				*opt[i] = DatumGetJsonbP(DirectFunctionCall1(jsonb_strip_nulls,
															 JsonbPGetDatum(val)));
		}
	}
}

/* Add a failure's fields to an object being written. */
void
dur_failure_fields(const DurFailure *f, DurJsonObj *o)
{
	dj_str(o, "message", f->message);
	dj_str(o, "type", f->type);
	dj_bool(o, "non_retryable", f->non_retryable);
	dj_jsonb(o, "details", f->details);
	if (f->stack_trace != NULL)
		dj_jsonb(o, "stack_trace", f->stack_trace);
	if (f->cause != NULL)
		dj_jsonb(o, "cause", f->cause);
	if (f->timeout_type != NULL)
		dj_jsonb(o, "timeout_type", f->timeout_type);
	if (f->next_retry_delay != NULL)
		dj_duration(o, "next_retry_delay", f->next_retry_delay);
}

/* A failure as jsonb, for the tables that keep one. */
Jsonb *
dur_failure_jsonb(const DurFailure *f)
{
	DurJsonObj	o;

	dj_init(&o);
	dur_failure_fields(f, &o);
	return dj_to_jsonb(&o);
}

/* Read back the fields of a stored failure the retry decision needs. */
void
dur_failure_read(Jsonb *stored, DurFailure *out)
{
	char	   *nr;

	memset(out, 0, sizeof(DurFailure));
	out->message = "";
	if (stored == NULL)
		return;
	out->message = dur_jsonb_get_text(stored, "message");
	out->type = dur_jsonb_get_text(stored, "type");
	nr = dur_jsonb_get_text(stored, "non_retryable");
	out->non_retryable = nr != NULL && strcmp(nr, "true") == 0;
	out->details = dur_jsonb_get(stored, "details");
}

/* Temporal's default retry policy, built once per backend. */
Jsonb *
dur_default_retry_policy(void)
{
	static Jsonb *policy = NULL;

	if (policy == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		policy = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(
														"{\"initial_interval\": \"1s\", \"backoff_coefficient\": 2.0, "
														"\"maximum_interval\": \"100s\", \"maximum_attempts\": 0, "
														"\"non_retryable_error_types\": []}")));
		MemoryContextSwitchTo(old);
	}
	return policy;
}

/*
 * Check and normalise a retry policy, with Temporal's defaults; NULL, JSON
 * null and {} are the default policy.
 */
Jsonb *
dur_retry_policy(Jsonb *p, const char *what)
{
	static const char *const fields[] = {
		"initial_interval", "backoff_coefficient", "maximum_interval",
		"maximum_attempts", "non_retryable_error_types", NULL
	};
	Interval   *initial;
	Interval   *maximum;
	Datum		coefficient;
	int32		attempts = 0;
	Jsonb	   *types;
	Interval	zero = {0, 0, 0};
	const char *t;
	char	   *k;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	DurJsonObj	o;
	StringInfoData s;

	if (p == NULL || (JB_ROOT_IS_SCALAR(p) && strcmp(dur_jsonb_typeof(p), "null") == 0) ||
		(JB_ROOT_IS_OBJECT(p) && JB_ROOT_COUNT(p) == 0))
		return dur_default_retry_policy();
	if (!JB_ROOT_IS_OBJECT(p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object, not %s", what, dur_jsonb_typeof(p))));
	k = dur_jsonb_unknown_key(p, fields);
	if (k != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown field \"%s\" in %s", k, what),
				 errhint("A retry policy has initial_interval, backoff_coefficient, maximum_interval, maximum_attempts and non_retryable_error_types.")));

	initial = dur_json_duration(p, "initial_interval", psprintf("%s.initial_interval", what),
								ERRCODE_INVALID_DATETIME_FORMAT, NULL);
	if (initial == NULL)
		initial = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum("1 second"),
														ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	if (dur_interval_cmp(initial, &zero) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.initial_interval must be positive", what)));

	t = dur_field_type(p, "backoff_coefficient");
	if (t != NULL && strcmp(t, "null") != 0)
	{
		char	   *c = dur_jsonb_get_text(p, "backoff_coefficient");

		if (strcmp(t, "number") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.backoff_coefficient must be a number", what)));
		coefficient = DirectFunctionCall3(numeric_in, CStringGetDatum(c),
										  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, coefficient,
											  DirectFunctionCall1(int4_numeric, Int32GetDatum(1)))) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.backoff_coefficient must be at least 1, not %s", what, c)));
	}
	else
		coefficient = DirectFunctionCall3(numeric_in, CStringGetDatum("2.0"),
										  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	maximum = dur_json_duration(p, "maximum_interval", psprintf("%s.maximum_interval", what),
								ERRCODE_INVALID_DATETIME_FORMAT, NULL);
	if (maximum == NULL)
	{
		Interval	most = {0, 0, DUR_MAX_DURATION_MONTHS};

		maximum = DatumGetIntervalP(DirectFunctionCall2(interval_mul, IntervalPGetDatum(initial),
														Float8GetDatum(100.0)));
		maximum = dur_interval_min(maximum, &most);
	}
	if (dur_interval_cmp(maximum, initial) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s.maximum_interval must not be less than initial_interval", what)));

	t = dur_field_type(p, "maximum_attempts");
	if (t != NULL && strcmp(t, "null") != 0)
	{
		bool		ok = strcmp(t, "number") == 0;

		if (ok)
		{
			Datum		n = DirectFunctionCall3(numeric_in,
												CStringGetDatum(dur_jsonb_get_text(p, "maximum_attempts")),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			Datum		truncated = DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0));
			Datum		limit = DirectFunctionCall1(int4_numeric, Int32GetDatum(PG_INT32_MAX));

			ok = !numeric_is_nan(DatumGetNumeric(n)) &&
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, truncated)) == 0 &&
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
												  DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) >= 0 &&
				DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, limit)) <= 0;
			if (ok)
				attempts = DatumGetInt32(DirectFunctionCall1(numeric_int4, n));
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.maximum_attempts must be a whole number, 0 for unlimited", what)));
	}

	types = dur_jsonb_get(p, "non_retryable_error_types");
	if (types == NULL || strcmp(dur_jsonb_typeof(types), "null") == 0)
		types = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("[]")));
	{
		bool		ok = JB_ROOT_IS_ARRAY(types) && !JB_ROOT_IS_SCALAR(types);

		if (ok)
		{
			it = JsonbIteratorInit(&types->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
				if (tok == WJB_ELEM && v.type != jbvString)
					ok = false;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.non_retryable_error_types must be an array of strings", what)));
	}

	dj_init(&o);
	dj_duration(&o, "initial_interval", initial);
	initStringInfo(&s);
	appendStringInfoString(&s, DatumGetCString(DirectFunctionCall1(numeric_out, coefficient)));
	dj_raw(&o, "backoff_coefficient", s.data, s.len);
	dj_duration(&o, "maximum_interval", maximum);
	dj_int(&o, "maximum_attempts", attempts);
	dj_jsonb(&o, "non_retryable_error_types", types);
	return dj_to_jsonb(&o);
}

/*
 * Temporal's retry decision for a failed attempt of an activity or a
 * workflow run.  Returns the retry state; *backoff is the delay before the
 * next attempt, or NULL when there is none.
 */
const char *
dur_retry_backoff(Jsonb *policy, int32 attempt, const DurFailure *failure,
				  TimestampTz expiration, bool has_expiration, bool cancel_requested,
				  Interval **backoff)
{
	char	   *max_attempts;
	Interval   *initial;
	Interval   *maximum;
	Interval	most = {0, 0, DUR_MAX_DURATION_MONTHS};
	double		coefficient;
	double		factor;

	*backoff = NULL;
	if (policy == NULL)
		return DUR_RETRY_NOT_SET;
	if (cancel_requested)
		return DUR_RETRY_CANCEL_REQUESTED;
	if (failure->non_retryable)
		return DUR_RETRY_NON_RETRYABLE;
	if (failure->type != NULL)
	{
		Jsonb	   *types = dur_jsonb_get(policy, "non_retryable_error_types");

		if (types != NULL && JB_ROOT_IS_ARRAY(types))
		{
			JsonbValue	v;

			v.type = jbvString;
			v.val.string.val = (char *) failure->type;
			v.val.string.len = strlen(failure->type);
			if (findJsonbValueFromContainer(&types->root, JB_FARRAY, &v) != NULL)
				return DUR_RETRY_NON_RETRYABLE;
		}
	}
	max_attempts = dur_jsonb_get_text(policy, "maximum_attempts");
	if (max_attempts != NULL && atoi(max_attempts) > 0 && attempt >= atoi(max_attempts))
		return DUR_RETRY_MAX_ATTEMPTS;

	initial = DatumGetIntervalP(DirectFunctionCall3(interval_in,
													CStringGetDatum(dur_jsonb_get_text(policy, "initial_interval")),
													ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	maximum = DatumGetIntervalP(DirectFunctionCall3(interval_in,
													CStringGetDatum(dur_jsonb_get_text(policy, "maximum_interval")),
													ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	/*
	 * The failure's next_retry_delay if it names one (Temporal's
	 * nextRetryDelay: not bounded by maximum_interval), else initial *
	 * coefficient^(attempt - 1), at most maximum: in double precision, where
	 * a huge coefficient or attempt gives infinity rather than an error, and
	 * maximum is at most 100 years.
	 */
	maximum = dur_interval_min(maximum, &most);
	coefficient = strtod(dur_jsonb_get_text(policy, "backoff_coefficient"), NULL);
	factor = pow(coefficient, (double) (attempt - 1));
	if (failure->next_retry_delay != NULL)
		*backoff = failure->next_retry_delay;
	else if (isnan(factor) || dur_interval_usecs(initial) * factor >= dur_interval_usecs(maximum))
		*backoff = maximum;
	else
		*backoff = DatumGetIntervalP(DirectFunctionCall2(interval_mul, IntervalPGetDatum(initial),
														 Float8GetDatum(factor)));
	if (has_expiration && dur_time_plus(GetCurrentTimestamp(), *backoff) >= expiration)
	{
		*backoff = NULL;
		return DUR_RETRY_TIMEOUT;
	}
	return DUR_RETRY_IN_PROGRESS;
}

/* The session user's name, recorded as the identity of client requests. */
char *
dur_session_user(void)
{
	return GetUserNameFromId(GetSessionUserId(), false);
}

/*
 * SQL-callable helpers of durable 0.1 and 0.2's SQL, kept for databases
 * not yet updated.
 */

/* _check_id(id text, what text) returns text */
Datum
_check_id(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	dur_require_not_null(PG_ARGISNULL(1), "what");
	dur_check_id(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/* _check_payload(value jsonb, what text) returns jsonb */
Datum
_check_payload(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	dur_require_not_null(PG_ARGISNULL(1), "what");
	dur_check_payload(PG_GETARG_DATUM(0), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}

/* _interval(value text, what text) returns interval */
Datum
_interval(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	dur_require_not_null(PG_ARGISNULL(1), "what");
	PG_RETURN_INTERVAL_P(dur_parse_interval(text_to_cstring(PG_GETARG_TEXT_PP(0)),
											text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/* _duration(d interval) returns text */
Datum
_duration(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(dj_duration_text(PG_GETARG_INTERVAL_P(0))));
}

/*
 * _parse_token(token text, OUT kind text, OUT run_id uuid, OUT n1 bigint,
 * OUT n2 bigint, OUT n3 bigint)
 */
Datum
_parse_token(PG_FUNCTION_ARGS)
{
	DurToken	tok;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	dur_parse_token(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)), '\0', &tok);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(tok.kind == 'w' ? "workflow" : tok.kind == 'a' ? "activity" : "query");
	values[1] = UUIDPGetDatum(&tok.run_id);
	values[2] = Int64GetDatum(tok.n1);
	values[3] = Int64GetDatum(tok.n2);
	values[4] = Int64GetDatum(tok.n3);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * Run a statement of durable's own through SPI (the caller is connected).
 * An error it raises reaches the caller as if the calling function had
 * raised it: with its SQLSTATE, message, DETAIL and HINT, and the caller's
 * own CONTEXT lines, but not those of the statement and what it called,
 * which name durable's internals (docs/sql-api.md, "Error codes").
 * Returns SPI's result code.
 */
int
dur_spi_execute(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
				bool read_only, long count)
{
	ErrorContextCallback *outer = error_context_stack;
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = 0;

	/* inside, only the statement's own context callbacks run */
	error_context_stack = NULL;
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		error_context_stack = outer;
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		/* raised again where the caller is: its context callbacks run now */
		ereport(ERROR,
				(errcode(e->sqlerrcode),
				 errmsg_internal("%s", e->message),
				 e->detail ? errdetail_internal("%s", e->detail) : 0,
				 e->hint ? errhint("%s", e->hint) : 0,
				 e->constraint_name ? err_generic_string(PG_DIAG_CONSTRAINT_NAME, e->constraint_name) : 0));
	}
	PG_END_TRY();
	error_context_stack = outer;
	if (rc < 0)
		elog(ERROR, "durable: SPI failed (%d): %s", rc, sql);
	return rc;
}

/* dur_spi_execute with up to four text parameters (NULL: SQL null). */
int
dur_spi_exec(const char *sql, int nargs, const char *a1, const char *a2, const char *a3,
			 const char *a4)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	const char *args[4] = {a1, a2, a3, a4};
	int			i;

	Assert(nargs <= 4);
	for (i = 0; i < nargs; i++)
	{
		if (args[i] == NULL)
			nulls[i] = 'n';
		else
			values[i] = CStringGetTextDatum(args[i]);
	}
	return dur_spi_execute(sql, nargs, types, values, nulls, false, 0);
}

/*
 * _siphash128(key bytea, data bytea) returns bytea: the token MAC's
 * function, declared by no script; sql/10_trust.sql declares it to check
 * it against the reference test vectors.
 */
Datum
_siphash128(PG_FUNCTION_ARGS)
{
	bytea	   *key;
	bytea	   *data;
	bytea	   *out = palloc(VARHDRSZ + 16);

	dur_require_not_null(PG_ARGISNULL(0), "key");
	dur_require_not_null(PG_ARGISNULL(1), "data");
	key = PG_GETARG_BYTEA_PP(0);
	data = PG_GETARG_BYTEA_PP(1);
	if (VARSIZE_ANY_EXHDR(key) != 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a SipHash key has 16 bytes, not %d", (int) VARSIZE_ANY_EXHDR(key))));
	SET_VARSIZE(out, VARHDRSZ + 16);
	dur_siphash128((const uint8 *) VARDATA_ANY(key), (const uint8 *) VARDATA_ANY(data),
				   VARSIZE_ANY_EXHDR(data), (uint8 *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}
