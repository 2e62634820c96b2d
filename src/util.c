/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Input checks the SQL engine calls on every request.
 *
 * They live in C because they run on the hot path and must report bad
 * input with a specific SQLSTATE and the offending value: ids longer than
 * DUR_MAX_ID_BYTES, payloads larger than durable.max_payload_size, and
 * interval text that does not parse or is negative.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#ifdef DUR_HAVE_SOFT_ERRORS
#include "nodes/miscnodes.h"
#endif

#include "durable.h"

/* Longest workflow, activity, timer or request id, in bytes. */
#define DUR_MAX_ID_BYTES	1000

PG_FUNCTION_INFO_V1(_check_id);
PG_FUNCTION_INFO_V1(_check_payload);
PG_FUNCTION_INFO_V1(_interval);

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
