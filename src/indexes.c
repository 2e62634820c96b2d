/*-------------------------------------------------------------------------
 *
 * indexes.c
 *	  Indexes for the DBA: typed, registered search-attribute keys and the
 *	  site's own indexes on durable's tables (docs/search-attributes.md).
 *
 * Search attributes.  A key registered with register_search_attribute has
 * a Temporal type (Keyword, Text, Int, Double, Bool, Datetime,
 * KeywordList), a row in durable.search_attribute_keys, and an expression
 * index on durable.workflows made for its key name:
 *
 *	Keyword		btree ((search_attributes ->> key))
 *	Text		gin (to_tsvector('simple', search_attributes ->> key))
 *	Int			btree (durable.sa_int(search_attributes -> key))
 *	Double		btree (durable.sa_double(search_attributes -> key))
 *	Bool		btree (durable.sa_bool(search_attributes -> key))
 *	Datetime	btree (durable.sa_datetime(search_attributes -> key))
 *	KeywordList	gin ((search_attributes -> key) jsonb_path_ops)
 *
 * each partial, WHERE <the expression> IS NOT NULL: runs without the key
 * cost nothing, and any strict condition on the expression (=, <, @@,
 * @>) implies the predicate, so the planner uses the index for the query
 * as a DBA writes it.  The sa_ helpers are IMMUTABLE and never fail: a
 * value of another type reads as NULL (a run that stored it before the key
 * was registered stays out of the index).  A start or an upsert that gives
 * a registered key a value of another type fails with DU050
 * (dur_check_search_attributes, on the engine's path: a key lookup per
 * given key, nothing when there are none).
 *
 * A key name has one type in a database: the namespaces that register it
 * share its index (created by the first, dropped with the last).
 *
 * Site indexes.  pg_dump leaves out indexes on an extension's tables, so a
 * site's own index is recorded in durable.site_indexes (a configuration
 * table, dumped with the data) by create_site_index, and
 * restore_site_indexes makes every recorded index that is missing, and
 * the search-attribute indexes, after a restore.  Every definition run is
 * first parsed: exactly one CREATE INDEX on a table of schema durable.
 *
 * The functions that make or drop indexes are DDL on the extension's
 * tables: only the tables' owner can run them (granted to nobody).  They
 * take ShareLock on the table for the build, which holds the engine's
 * writes to it back meanwhile; a large table's index can be built
 * CONCURRENTLY by hand instead (register_search_attribute(..., build_index
 * => false) returns the statement; create_site_index(name) records an
 * index that exists).
 *
 * Locking: none of its own; the DDL takes its table locks, the engine's
 * path reads search_attribute_keys with the call's snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "durable.h"
#include "indexes.h"
#include "namespaces.h"
#include "tables.h"
#include "util.h"

PG_FUNCTION_INFO_V1(sa_int);
PG_FUNCTION_INFO_V1(sa_double);
PG_FUNCTION_INFO_V1(sa_bool);
PG_FUNCTION_INFO_V1(sa_datetime);
PG_FUNCTION_INFO_V1(register_search_attribute);
PG_FUNCTION_INFO_V1(deregister_search_attribute);
PG_FUNCTION_INFO_V1(create_site_index);
PG_FUNCTION_INFO_V1(drop_site_index);
PG_FUNCTION_INFO_V1(restore_site_indexes);

/* Temporal's search-attribute types */
static const char *const sa_types[] = {
	"Keyword", "Text", "Int", "Double", "Bool", "Datetime", "KeywordList", NULL
};

/* index names are "workflows_sa_" and the key name: at most 63 bytes */
#define DUR_SA_INDEX_PREFIX "workflows_sa_"
#define DUR_SA_NAME_MAX		50

/* ---------------------------------------------------------------------
 * Typed values
 * ---------------------------------------------------------------------
 */

/* The scalar a jsonb value holds, or false for a container. */
static bool
dur_sa_scalar(Jsonb *jb, JsonbValue *v)
{
	return JsonbExtractScalar(&jb->root, v);
}

/* A JSON number that is an integer within int64, into *out. */
static bool
dur_sa_int_value(JsonbValue *v, int64 *out)
{
	char	   *s;
	char	   *end;
	int			i;

	if (v->type != jbvNumeric)
		return false;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	for (i = (s[0] == '-' ? 1 : 0); s[i] != '\0'; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;		/* a fraction, an exponent, NaN */
	errno = 0;
	*out = strtoi64(s, &end, 10);
	return errno == 0 && *end == '\0' && end != s;
}

/* A JSON number within double precision's finite range, into *out. */
static bool
dur_sa_double_value(JsonbValue *v, double *out)
{
	char	   *s;
	char	   *end;

	if (v->type != jbvNumeric)
		return false;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && !isinf(*out) && !isnan(*out);
}

/* n decimal digits at *p into *out; advances *p. */
static bool
dur_digits(const char **p, int n, int *out)
{
	int			v = 0;

	while (n-- > 0)
	{
		if (!isdigit((unsigned char) **p))
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return true;
}

/*
 * An RFC 3339 time with an explicit offset (Temporal's Datetime:
 * 2026-12-02T10:00:00Z, 2026-12-02T11:00:00.250+01:00) into *out.  Parsed
 * here, not by timestamptz_in: the result depends on nothing but the text
 * (no TimeZone, no DateStyle), so sa_datetime is truly immutable, and a bad
 * value is false, never an error.
 */
static bool
dur_sa_datetime_text(const char *s, int len, TimestampTz *out)
{
	const char *p = s;
	const char *e = s + len;
	struct pg_tm tm;
	fsec_t		fsec = 0;
	int			tz = 0;
	int			usec_digits = 0;

	memset(&tm, 0, sizeof(tm));
	if (len < 20 || !dur_digits(&p, 4, &tm.tm_year) || *p++ != '-' ||
		!dur_digits(&p, 2, &tm.tm_mon) || *p++ != '-' ||
		!dur_digits(&p, 2, &tm.tm_mday) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!dur_digits(&p, 2, &tm.tm_hour) || *p++ != ':' ||
		!dur_digits(&p, 2, &tm.tm_min) || *p++ != ':' || !dur_digits(&p, 2, &tm.tm_sec))
		return false;
	if (p < e && *p == '.')
	{
		p++;
		while (p < e && isdigit((unsigned char) *p))
		{
			if (usec_digits < 6)
				fsec = fsec * 10 + (*p - '0');
			usec_digits++;
			p++;
		}
		if (usec_digits == 0 || usec_digits > 9)
			return false;
		for (; usec_digits < 6; usec_digits++)
			fsec *= 10;
	}
	if (p < e && (*p == 'Z' || *p == 'z'))
		p++;
	else if (p < e && (*p == '+' || *p == '-'))
	{
		int			sign = *p++ == '+' ? -1 : 1;	/* PostgreSQL counts west */
		int			hh;
		int			mm;

		if (!dur_digits(&p, 2, &hh) || *p++ != ':' || !dur_digits(&p, 2, &mm) || hh > 23 || mm > 59)
			return false;
		tz = sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	else
		return false;			/* no offset: its meaning would depend on TimeZone */
	if (p != e || tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	return tm2timestamp(&tm, fsec, &tz, out) == 0 && IS_VALID_TIMESTAMP(*out);
}

/* A JSON string holding a Datetime value, into *out. */
static bool
dur_sa_datetime_value(JsonbValue *v, TimestampTz *out)
{
	return v->type == jbvString && dur_sa_datetime_text(v->val.string.val, v->val.string.len, out);
}

/* Whether a JSON value is of a search-attribute type (JSON null always is). */
static bool
dur_sa_value_ok(const char *type, JsonbValue *v)
{
	int64		i;
	double		d;
	TimestampTz t;

	if (v->type == jbvNull)
		return true;
	if (strcmp(type, "Keyword") == 0 || strcmp(type, "Text") == 0)
		return v->type == jbvString;
	if (strcmp(type, "Int") == 0)
		return dur_sa_int_value(v, &i);
	if (strcmp(type, "Double") == 0)
		return dur_sa_double_value(v, &d);
	if (strcmp(type, "Bool") == 0)
		return v->type == jbvBool;
	if (strcmp(type, "Datetime") == 0)
		return dur_sa_datetime_value(v, &t);
	if (strcmp(type, "KeywordList") == 0)
	{
		JsonbIterator *it;
		JsonbValue	e;
		JsonbIteratorToken tok;
		bool		ok = true;

		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
			return false;
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			if (tok == WJB_ELEM && e.type != jbvString)
				ok = false;
		return ok;
	}
	elog(ERROR, "durable: unknown search attribute type \"%s\"", type);
	return false;				/* keep compiler quiet */
}

/*
 * Check the values a start or an upsert gives search-attribute keys
 * registered in the namespace: each must be of the key's type (DU050).
 * The caller has taken the call's snapshot.
 */
void
dur_check_search_attributes(DurCall *call, const char *namespace, Jsonb *sa)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(sa) || JB_ROOT_COUNT(sa) == 0)
		return;
	it = JsonbIteratorInit(&sa->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		DurScan		s;
		DurRow		row;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		dur_scan_begin(&s, call, DUR_SEARCH_ATTRIBUTE_KEYS_PKEY);
		dur_key_text(&s, 1, namespace);
		dur_key_text(&s, 2, key);
		if (dur_scan_next(&s, ForwardScanDirection, &row))
		{
			char	   *type = TextDatumGetCString(row.values[SAK_TYPE]);

			if (!dur_sa_value_ok(type, &v))
				ereport(ERROR,
						(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_TYPE),
						 errmsg("search attribute \"%s\" must be of type %s", key, type),
						 errdetail("Key \"%s\" is registered in namespace \"%s\" with type %s.",
								   key, namespace, type),
						 errhint("Give it a %s value (docs/search-attributes.md), or a JSON null to remove it.",
								 type)));
		}
		dur_scan_end(&s);
	}
}

/* The scalar of a jsonb argument, or false (then the SQL result is NULL). */
static bool
dur_sa_arg(FunctionCallInfo fcinfo, JsonbValue *v)
{
	return dur_sa_scalar(PG_GETARG_JSONB_P(0), v);
}

/*
 * sa_int(value jsonb) returns bigint: an Int search-attribute value, NULL
 * for anything else.  IMMUTABLE: the expression of Int keys' indexes.
 */
Datum
sa_int(PG_FUNCTION_ARGS)
{
	JsonbValue	v;
	int64		i;

	if (!dur_sa_arg(fcinfo, &v) || !dur_sa_int_value(&v, &i))
		PG_RETURN_NULL();
	PG_RETURN_INT64(i);
}

/* sa_double(value jsonb) returns double precision: a Double value, else NULL. */
Datum
sa_double(PG_FUNCTION_ARGS)
{
	JsonbValue	v;
	double		d;

	if (!dur_sa_arg(fcinfo, &v) || !dur_sa_double_value(&v, &d))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(d);
}

/* sa_bool(value jsonb) returns boolean: a Bool value, else NULL. */
Datum
sa_bool(PG_FUNCTION_ARGS)
{
	JsonbValue	v;

	if (!dur_sa_arg(fcinfo, &v) || v.type != jbvBool)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(v.val.boolean);
}

/*
 * sa_datetime(value jsonb) returns timestamptz: a Datetime value (RFC 3339
 * with an offset), else NULL.
 */
Datum
sa_datetime(PG_FUNCTION_ARGS)
{
	JsonbValue	v;
	TimestampTz t;

	if (!dur_sa_arg(fcinfo, &v) || !dur_sa_datetime_value(&v, &t))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(t);
}

/* ---------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------
 */

/* The canonical spelling of a type name, or an error (DU051). */
static const char *
dur_sa_type_arg(const char *type)
{
	int			i;

	for (i = 0; sa_types[i] != NULL; i++)
		if (pg_strcasecmp(type, sa_types[i]) == 0)
			return sa_types[i];
	ereport(ERROR,
			(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_REGISTRATION),
			 errmsg("unknown search attribute type \"%s\"", type),
			 errhint("Use Keyword, Text, Int, Double, Bool, Datetime or KeywordList.")));
	return NULL;				/* keep compiler quiet */
}

/* A key name: a letter or "_", then letters, digits and "_" (DU051). */
static void
dur_sa_check_name(const char *name)
{
	int			i;
	bool		ok = name[0] != '\0' && strlen(name) <= DUR_SA_NAME_MAX &&
		(isalpha((unsigned char) name[0]) || name[0] == '_');

	for (i = 1; ok && name[i] != '\0'; i++)
		ok = isalnum((unsigned char) name[i]) || name[i] == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_REGISTRATION),
				 errmsg("invalid search attribute name \"%s\"", name),
				 errdetail("A registered key is 1 to %d bytes: an ASCII letter or \"_\", then letters, digits and \"_\".",
						   DUR_SA_NAME_MAX),
				 errhint("Keys that are not registered may be any JSON key, but are served only by the GIN index.")));
}

/* The CREATE INDEX statement of a key's index. */
static char *
dur_sa_index_sql(const char *name, const char *type, const char *index_name, bool concurrently)
{
	const char *lit = quote_literal_cstr(name);
	const char *head = psprintf("CREATE INDEX %s%s ON durable.workflows",
								concurrently ? "CONCURRENTLY IF NOT EXISTS " : "",
								quote_identifier(index_name));
	char	   *expr;

	if (strcmp(type, "Keyword") == 0)
		expr = psprintf("(search_attributes OPERATOR(pg_catalog.->>) %s)", lit);
	else if (strcmp(type, "Text") == 0)
		return psprintf("%s USING gin (pg_catalog.to_tsvector('simple'::regconfig, "
						"search_attributes OPERATOR(pg_catalog.->>) %s)) "
						"WHERE (search_attributes OPERATOR(pg_catalog.->>) %s) IS NOT NULL",
						head, lit, lit);
	else if (strcmp(type, "KeywordList") == 0)
		return psprintf("%s USING gin ((search_attributes OPERATOR(pg_catalog.->) %s) jsonb_path_ops) "
						"WHERE (search_attributes OPERATOR(pg_catalog.->) %s) IS NOT NULL",
						head, lit, lit);
	else
	{
		const char *fn = strcmp(type, "Int") == 0 ? "sa_int" :
			strcmp(type, "Double") == 0 ? "sa_double" :
			strcmp(type, "Bool") == 0 ? "sa_bool" : "sa_datetime";

		expr = psprintf("durable.%s(search_attributes OPERATOR(pg_catalog.->) %s)", fn, lit);
	}
	return psprintf("%s ((%s)) WHERE (%s) IS NOT NULL", head, expr, expr);
}

/* Whether an index of schema durable exists. */
static bool
dur_index_exists(const char *name)
{
	Oid			nsp = get_namespace_oid("durable", false);

	return OidIsValid(get_relname_relid(name, nsp));
}

/* The text of column 1 of row i of the last SPI result, or NULL. */
static char *
dur_spi_text(int i, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col);
}

/*
 * A schedule's action that gives the key a value of another type would fail
 * every action from now on (its values are checked at each start): refuse
 * the registration instead, naming the schedule (DU051).  SPI is connected.
 */
static void
dur_sa_check_schedules(const char *ns, const char *name, const char *type)
{
	uint64		i;

	dur_spi_exec("SELECT schedule_id, action->'search_attributes'->$2 FROM durable.schedules "
				 "WHERE namespace OPERATOR(pg_catalog.=) $1 "
				 "AND (action->'search_attributes') OPERATOR(pg_catalog.?) $2 ORDER BY schedule_id",
				 2, ns, name, NULL, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Jsonb	   *jb = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2,
													  &isnull));
		JsonbValue	v;

		if (JB_ROOT_IS_SCALAR(jb))
			JsonbExtractScalar(&jb->root, &v);
		else
		{
			v.type = jbvBinary;
			v.val.binary.data = &jb->root;
			v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		}
		if (!dur_sa_value_ok(type, &v))
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_REGISTRATION),
					 errmsg("search attribute \"%s\" cannot be registered with type %s", name, type),
					 errdetail("Schedule \"%s\" of namespace \"%s\" starts its workflows with %s = %s, which every action would refuse.",
							   dur_spi_text(i, 1), ns, name, dur_spi_text(i, 2)),
					 errhint("Give the schedule's action a %s value first (durable.update_schedule), or register another type.",
							 type)));
	}
}

/*
 * register_search_attribute(name text, type text, namespace text,
 * build_index boolean) returns text: register a key with its type and
 * make its index (unless another namespace's registration made it, or
 * build_index is false).  Returns the index's CREATE INDEX statement (the
 * CONCURRENTLY form when build_index is false, to run by hand).
 */
Datum
register_search_attribute(PG_FUNCTION_ARGS)
{
	char	   *name;
	const char *type;
	char	   *ns = dur_namespace_arg(fcinfo, 2);
	bool		build = PG_ARGISNULL(3) || PG_GETARG_BOOL(3);
	char	   *index_name;
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(0) ? "name" : "type")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	type = dur_sa_type_arg(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	dur_sa_check_name(name);
	dur_namespace_require(ns, DUR_CAP_ADMIN);
	index_name = psprintf(DUR_SA_INDEX_PREFIX "%s", name);
	sql = dur_sa_index_sql(name, type, index_name, !build);

	SPI_connect();
	/* one type per key name: the namespaces share its index */
	dur_spi_exec("SELECT namespace, type FROM durable.search_attribute_keys "
				 "WHERE name OPERATOR(pg_catalog.=) $1 AND (type OPERATOR(pg_catalog.<>) $2 "
				 "OR namespace OPERATOR(pg_catalog.=) $3) ORDER BY namespace LIMIT 1",
				 3, name, type, ns, NULL);
	if (SPI_processed > 0)
	{
		char	   *other_ns = dur_spi_text(0, 1);
		char	   *other_type = dur_spi_text(0, 2);

		if (strcmp(other_type, type) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_REGISTRATION),
					 errmsg("search attribute \"%s\" is registered with type %s", name, other_type),
					 errdetail("Namespace \"%s\" registered it; a key name has one type in a database (its index is shared).",
							   other_ns),
					 errhint("Use another name, or deregister the key everywhere first.")));
		/* registered here already, with this type: nothing to do */
	}
	else
	{
		dur_sa_check_schedules(ns, name, type);
		dur_spi_exec("INSERT INTO durable.search_attribute_keys (namespace, name, type, index_name) "
					 "VALUES ($1, $2, $3, $4)", 4, ns, name, type, index_name);
	}
	if (build && !dur_index_exists(index_name))
		dur_spi_exec(sql, 0, NULL, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

/*
 * deregister_search_attribute(name text, namespace text) returns void:
 * forget a registered key; its index goes with the last namespace that
 * had it.  Values stay in the runs' search_attributes.
 */
Datum
deregister_search_attribute(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *ns = dur_namespace_arg(fcinfo, 1);
	char	   *index_name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dur_namespace_require(ns, DUR_CAP_ADMIN);
	SPI_connect();
	dur_spi_exec("DELETE FROM durable.search_attribute_keys "
				 "WHERE namespace OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2 "
				 "RETURNING index_name", 2, ns, name, NULL, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SEARCH_ATTRIBUTE_NOT_FOUND),
				 errmsg("search attribute \"%s\" is not registered in namespace \"%s\"", name, ns),
				 errhint("durable.search_attribute_keys lists the registered keys.")));
	index_name = dur_spi_text(0, 1);
	dur_spi_exec("SELECT 1 FROM durable.search_attribute_keys WHERE name OPERATOR(pg_catalog.=) $1",
				 1, name, NULL, NULL, NULL);
	if (SPI_processed == 0)
		dur_spi_exec(psprintf("DROP INDEX IF EXISTS durable.%s", quote_identifier(index_name)),
					 0, NULL, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Site indexes
 * ---------------------------------------------------------------------
 */

/*
 * Check that a definition is exactly one CREATE INDEX (not CONCURRENTLY)
 * of the given name on a table of schema durable (DU053).
 */
static void
dur_check_index_definition(const char *name, const char *definition)
{
	List	   *stmts = raw_parser(definition, RAW_PARSE_DEFAULT);
	IndexStmt  *is;
	const char *problem = NULL;

	if (list_length(stmts) != 1 || !IsA(((RawStmt *) linitial(stmts))->stmt, IndexStmt))
		problem = "It is not one CREATE INDEX statement.";
	else
	{
		is = (IndexStmt *) ((RawStmt *) linitial(stmts))->stmt;
		if (is->idxname == NULL || strcmp(is->idxname, name) != 0)
			problem = psprintf("It names the index \"%s\", not \"%s\".",
							   is->idxname ? is->idxname : "", name);
		else if (is->relation->schemaname == NULL ||
				 strcmp(is->relation->schemaname, "durable") != 0)
			problem = "Its table is not schema-qualified as durable.<table>.";
		else if (is->concurrent)
			problem = "CONCURRENTLY cannot run inside a function.";
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SITE_INDEX_DEFINITION),
				 errmsg("invalid site index definition for \"%s\"", name),
				 errdetail("%s", problem),
				 errhint("Give CREATE INDEX <name> ON durable.<table> ...; or build the index CONCURRENTLY yourself and call durable.create_site_index(name) to record it.")));
}

/* The definition of an index of schema durable on a table of durable, or NULL. */
static char *
dur_site_indexdef(const char *name)
{
	dur_spi_exec("SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i "
				 "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid "
				 "JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid "
				 "WHERE c.relname OPERATOR(pg_catalog.=) $1 "
				 "AND c.relnamespace OPERATOR(pg_catalog.=) 'durable'::pg_catalog.regnamespace "
				 "AND t.relnamespace OPERATOR(pg_catalog.=) 'durable'::pg_catalog.regnamespace",
				 1, name, NULL, NULL, NULL);
	return SPI_processed > 0 ? dur_spi_text(0, 1) : NULL;
}

/*
 * create_site_index(name text, definition text) returns text: make a site
 * index on a durable table (definition: its CREATE INDEX statement) and
 * record it so restore_site_indexes can make it again; with a NULL
 * definition, record an index that exists (built CONCURRENTLY by hand).
 * Returns the recorded definition.
 */
Datum
create_site_index(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *name;
	char	   *def;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	if (!PG_ARGISNULL(1))
	{
		char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(1));

		dur_check_index_definition(name, given);
		dur_spi_exec(given, 0, NULL, NULL, NULL, NULL);
	}
	def = dur_site_indexdef(name);
	if (def == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SITE_INDEX_NOT_FOUND),
				 errmsg("index durable.%s does not exist", quote_identifier(name)),
				 errhint("Give its definition, or create it on a table of schema durable first.")));
	dur_spi_exec("INSERT INTO durable.site_indexes (name, definition) VALUES ($1, $2) "
				 "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
				 "created_at = pg_catalog.now()", 2, name, def, NULL, NULL);
	def = MemoryContextStrdup(cxt, def);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(def));
}

/* drop_site_index(name text) returns void: drop a recorded site index and its record. */
Datum
drop_site_index(PG_FUNCTION_ARGS)
{
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPI_connect();
	dur_spi_exec("DELETE FROM durable.site_indexes WHERE name OPERATOR(pg_catalog.=) $1", 1, name,
				 NULL, NULL, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SITE_INDEX_NOT_FOUND),
				 errmsg("site index \"%s\" is not recorded", name),
				 errhint("durable.site_indexes lists the recorded site indexes.")));
	dur_spi_exec(psprintf("DROP INDEX IF EXISTS durable.%s", quote_identifier(name)),
				 0, NULL, NULL, NULL, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Whether a list of C strings has name. */
static bool
dur_name_listed(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * restore_site_indexes() returns setof text: after a restore, make every
 * recorded site index and every registered key's index that is missing.
 * Returns the names of the indexes made.
 */
Datum
restore_site_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *names = NIL;
	List	   *sqls = NIL;
	ListCell   *ln;
	ListCell   *ls;
	uint64		i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	dur_spi_exec("SELECT name, definition FROM durable.site_indexes ORDER BY name", 0,
				 NULL, NULL, NULL, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = dur_spi_text(i, 1);
		char	   *def = dur_spi_text(i, 2);

		if (dur_index_exists(name))
			continue;
		dur_check_index_definition(name, def);
		names = lappend(names, name);
		sqls = lappend(sqls, def);
	}
	dur_spi_exec("SELECT DISTINCT ON (index_name) index_name, name, type "
				 "FROM durable.search_attribute_keys ORDER BY index_name", 0, NULL, NULL, NULL, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *index_name = dur_spi_text(i, 1);

		if (dur_index_exists(index_name) || dur_name_listed(names, index_name))
			continue;
		names = lappend(names, index_name);
		sqls = lappend(sqls, dur_sa_index_sql(dur_spi_text(i, 2), dur_sa_type_arg(dur_spi_text(i, 3)),
											  index_name, false));
	}
	forboth(ln, names, ls, sqls)
	{
		Datum		v = CStringGetTextDatum((char *) lfirst(ln));
		bool		n = false;

		dur_spi_exec((char *) lfirst(ls), 0, NULL, NULL, NULL, NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &n);
	}
	SPI_finish();
	return (Datum) 0;
}
