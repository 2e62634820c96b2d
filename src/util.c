/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Input checks and formatting the SQL engine calls on every request.
 *
 * They live in C because they run on the hot path and must report bad
 * input with a specific SQLSTATE and the offending value: ids longer than
 * DUR_MAX_ID_BYTES, payloads larger than durable.max_payload_size,
 * interval text that does not parse or is negative, and task tokens that
 * are not ones poll_task handed out.  _duration formats the timeouts of
 * every scheduled task's event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#ifdef DUR_HAVE_SOFT_ERRORS
#include "nodes/miscnodes.h"
#endif

#include "durable.h"

/* Longest workflow, activity, timer or request id, in bytes. */
#define DUR_MAX_ID_BYTES	1000

PG_FUNCTION_INFO_V1(_check_id);
PG_FUNCTION_INFO_V1(_check_payload);
PG_FUNCTION_INFO_V1(_interval);
PG_FUNCTION_INFO_V1(_duration);
PG_FUNCTION_INFO_V1(_parse_token);

/*
 * _check_id(id text, what text) returns text: the id, if it is non-empty
 * and at most DUR_MAX_ID_BYTES long.  NULL passes through.
 */
Datum
_check_id(PG_FUNCTION_ARGS)
{
	text	   *id;
	int			len;
	char	   *what;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	id = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(id);
	what = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhint("Pass a non-empty string, or NULL where a default is allowed.")));
	if (len > DUR_MAX_ID_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too long: %d bytes", what, len),
				 errdetail("The value starts with \"%.40s\".", text_to_cstring(id)),
				 errhint("Ids are limited to %d bytes.", DUR_MAX_ID_BYTES)));
	PG_RETURN_TEXT_P(id);
}

/*
 * _check_payload(value jsonb, what text) returns jsonb: the value, if its
 * stored size is within durable.max_payload_size.
 */
Datum
_check_payload(PG_FUNCTION_ARGS)
{
	struct varlena *value;
	Size		size;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	value = PG_GETARG_RAW_VARLENA_P(0);
	size = toast_raw_datum_size(PointerGetDatum(value));
	if (size > (Size) dur_max_payload_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large: %zu bytes",
						text_to_cstring(PG_GETARG_TEXT_PP(1)), size),
				 errdetail("The limit is %d bytes (durable.max_payload_size).",
						   dur_max_payload_size),
				 errhint("Store large data in a table of your own and pass its key.")));
	PG_RETURN_DATUM(PointerGetDatum(value));
}

/*
 * _interval(value text, what text) returns interval: parse interval text,
 * rejecting bad syntax and negative durations with a message that names
 * the field.  NULL passes through.
 */
Datum
_interval(PG_FUNCTION_ARGS)
{
	char	   *str;
	char	   *what;
	Datum		result;
	Interval   *iv;
	bool		ok = true;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	str = text_to_cstring(PG_GETARG_TEXT_PP(0));
	what = text_to_cstring(PG_GETARG_TEXT_PP(1));

#ifdef DUR_HAVE_SOFT_ERRORS
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		ok = DirectInputFunctionCallSafe(interval_in, str, InvalidOid, -1,
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
	PG_RETURN_DATUM(result);
}

/*
 * _duration(d interval) returns text: the protobuf-style duration of an
 * interval, whole seconds with up to three decimals ("30s", "0.25s"), as
 * EXTRACT(epoch FROM d) counts them.  NULL for NULL.
 */
Datum
_duration(PG_FUNCTION_ARGS)
{
	Interval   *iv;
	int64		usecs;
	int64		ms;
	bool		neg;
	char		buf[64];
	int			len;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	iv = PG_GETARG_INTERVAL_P(0);
	/* a year is 365.25 days, a month 30, as EXTRACT(epoch) has it */
	usecs = iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) (iv->month / MONTHS_PER_YEAR) * (int64) (DAYS_PER_YEAR * SECS_PER_DAY) * USECS_PER_SEC +
		(int64) (iv->month % MONTHS_PER_YEAR) * DAYS_PER_MONTH * USECS_PER_DAY;
	neg = usecs < 0;
	if (neg)
		usecs = -usecs;
	ms = (usecs + 500) / 1000;	/* rounded half away from zero */
	len = snprintf(buf, sizeof(buf), "%s" INT64_FORMAT, neg && ms > 0 ? "-" : "", ms / 1000);
	if (ms % 1000 != 0)
	{
		len += snprintf(buf + len, sizeof(buf) - len, ".%03d", (int) (ms % 1000));
		while (buf[len - 1] == '0')
			len--;
	}
	buf[len++] = 's';
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, len));
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
 * _parse_token(token text, OUT kind text, OUT run_id uuid, OUT n1 bigint,
 * OUT n2 bigint, OUT n3 bigint): split a task token,
 *	'w:<run>:<seq>:<started event id>:<started time, microseconds since 1970>',
 *	'a:<run>:<scheduled event id>:<attempt>:0' or 'q:<run>:<query id>:0:0',
 * or raise invalid_text_representation.
 */
Datum
_parse_token(PG_FUNCTION_ARGS)
{
	char	   *token = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *part[5];
	int			plen[5];
	int			nparts = 0;
	const char *p;
	const char *kind = NULL;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			i;

	if (token != NULL)
	{
		part[0] = p = token;
		for (;; p++)
		{
			if (*p == ':' || *p == '\0')
			{
				if (nparts < 5)
					plen[nparts] = p - part[nparts];
				nparts++;
				if (*p == '\0')
					break;
				if (nparts < 5)
					part[nparts] = p + 1;
			}
		}
	}
	if (nparts == 5 && plen[0] == 1)
		kind = part[0][0] == 'w' ? "workflow" : part[0][0] == 'a' ? "activity" :
			part[0][0] == 'q' ? "query" : NULL;
	if (kind == NULL || !dur_is_uuid(part[1], plen[1]) ||
		!dur_is_number(part[2], plen[2]) || !dur_is_number(part[3], plen[3]) ||
		!dur_is_number(part[4], plen[4]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid task token \"%s\"",
						token == NULL ? "NULL" : pnstrdup(token, pg_mbcharcliplen(token, strlen(token), 100))),
				 errhint("Pass the task_token exactly as durable.poll_task returned it.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(kind);
	values[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(pnstrdup(part[1], plen[1])));
	for (i = 2; i < 5; i++)
		values[i] = Int64GetDatum(strtoi64(pnstrdup(part[i], plen[i]), NULL, 10));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
