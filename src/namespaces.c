/*-------------------------------------------------------------------------
 *
 * namespaces.c
 *	  Namespaces: who may do what where, and the namespaces' settings.
 *
 * Every run belongs to a namespace.  Workflow ids are unique within one,
 * task queues are per namespace (the matching service keys them by it),
 * and so are retention and the payload limit (durable.namespaces).  A role
 * holds capabilities in a namespace: client, worker or admin (admin holds
 * the other two), granted in durable.namespace_grants and inherited through
 * role membership as privileges are.  Namespace default always exists and
 * grants client to durable_client, worker to durable_worker and admin to
 * durable_admin without a row, so a restored dump never collides with rows
 * the install script made.  Superusers hold everything everywhere.
 *
 * Every entry point of the API checks its namespace here before it reads
 * or writes anything of it (dur_namespace_require), and row-level security
 * on every table asks _namespace_visible for each row; so the check is a
 * lookup in a per-backend cache, filled from the two tables on first use.
 * The cache is dropped whenever the tables change (the functions below
 * send a relcache invalidation for them at commit, which reaches every
 * backend), when role memberships change (syscache callbacks) and when the
 * current user is another one than the cache was filled for.
 *
 * Invariants:
 *	- a grant names an existing namespace (drop_namespace deletes its
 *	  grants), so a caller without grants cannot tell a namespace that does
 *	  not exist from one it may not use: both are 42501;
 *	- a namespace with runs is not dropped;
 *	- the functions here run in the caller's transaction; their changes
 *	  reach other backends' caches at commit.
 *
 * Lock order: the namespace's name lock (create and drop), then rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "durable.h"
#include "history.h"
#include "namespaces.h"

PG_FUNCTION_INFO_V1(create_namespace);
PG_FUNCTION_INFO_V1(alter_namespace);
PG_FUNCTION_INFO_V1(drop_namespace);
PG_FUNCTION_INFO_V1(grant_namespace);
PG_FUNCTION_INFO_V1(revoke_namespace);
PG_FUNCTION_INFO_V1(_namespace_visible);
PG_FUNCTION_INFO_V1(_namespace_grant_visible);

/* A namespace as the current user sees it. */
typedef struct DurNsEntry
{
	char		name[DUR_MAX_NAMESPACE_BYTES + 1];	/* hash key */
	bool		exists;
	int			caps;			/* DUR_CAP_* of the current user */
	bool		has_retention;
	Interval	retention;
	int32		max_payload_size;	/* 0: durable.max_payload_size */
} DurNsEntry;

static HTAB *ns_cache = NULL;
static Oid	ns_cache_user = InvalidOid;
static bool ns_callbacks_registered = false;
static Oid	ns_relids[2];		/* namespaces, namespace_grants */

/* The payload limit of the namespace the current call acts in; 0: the GUC. */
int			dur_call_payload_limit = 0;

static const char *const cap_names[] = {"client", "worker", "admin"};

/* Drop the cache on any change to the tables behind it. */
static void
dur_ns_relcache_callback(Datum arg, Oid relid)
{
	if (ns_cache != NULL &&
		(!OidIsValid(relid) || relid == ns_relids[0] || relid == ns_relids[1]))
	{
		hash_destroy(ns_cache);
		ns_cache = NULL;
	}
}

/* ... and on any change to roles and their memberships. */
static void
dur_ns_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	if (ns_cache != NULL)
	{
		hash_destroy(ns_cache);
		ns_cache = NULL;
	}
}

/* A capability's bit, from its name; 0 for an unknown name. */
static int
dur_cap_parse(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(cap_names); i++)
		if (strcmp(name, cap_names[i]) == 0)
			return 1 << i;
	return 0;
}

/* Whether a string is a well-formed namespace name. */
static bool
dur_namespace_name_ok(const char *name)
{
	size_t		len = strlen(name);
	const char *p;

	if (len == 0 || len > DUR_MAX_NAMESPACE_BYTES)
		return false;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/* Raise 22023 unless the name is a well-formed namespace name. */
void
dur_check_namespace_name(const char *name)
{
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("namespace must not be NULL"),
				 errhint("Leave the argument out for namespace default.")));
	if (!dur_namespace_name_ok(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid namespace name \"%s\"",
						pnstrdup(name, pg_mbcliplen(name, strlen(name), 80))),
				 errhint("A namespace name is 1 to %d bytes of letters, digits, \".\", \"_\" and \"-\".",
						 DUR_MAX_NAMESPACE_BYTES)));
}

/* The capabilities a built-in grant of namespace default gives the user. */
static int
dur_default_caps(Oid user)
{
	static const char *const roles[] = {"durable_client", "durable_worker", "durable_admin"};
	int			caps = 0;
	int			i;

	for (i = 0; i < lengthof(roles); i++)
	{
		Oid			role = get_role_oid(roles[i], true);

		if (OidIsValid(role) && has_privs_of_role(user, role))
			caps |= 1 << i;
	}
	return caps;
}

/* Fill a cache entry from the tables, as the latest snapshot has them. */
static void
dur_ns_load(DurNsEntry *e, Oid user)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		is_default = strcmp(e->name, "default") == 0;

	e->exists = is_default;
	e->caps = 0;
	e->has_retention = false;
	e->max_payload_size = 0;

	ns_relids[0] = dur_relid(DUR_NAMESPACES);
	ns_relids[1] = dur_relid(DUR_NAMESPACE_GRANTS);

	rel = table_open(ns_relids[0], AccessShareLock);
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(e->name));
	scan = systable_beginscan(rel, dur_idxid(DUR_NAMESPACES_PKEY), true, snap, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		e->exists = true;
		d = heap_getattr(tup, NS_RETENTION + 1, desc, &isnull);
		if (!isnull)
		{
			e->has_retention = true;
			e->retention = *DatumGetIntervalP(d);
		}
		d = heap_getattr(tup, NS_MAX_PAYLOAD_SIZE + 1, desc, &isnull);
		if (!isnull)
			e->max_payload_size = DatumGetInt32(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (e->exists)
	{
		if (superuser_arg(user))
			e->caps = DUR_CAP_ALL;
		else
		{
			if (is_default)
				e->caps |= dur_default_caps(user);
			rel = table_open(ns_relids[1], AccessShareLock);
			ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(e->name));
			scan = systable_beginscan(rel, dur_idxid(DUR_NAMESPACE_GRANTS_PKEY), true, snap, 1, &key);
			while (HeapTupleIsValid(tup = systable_getnext(scan)))
			{
				TupleDesc	desc = RelationGetDescr(rel);
				bool		isnull;
				Oid			role = DatumGetObjectId(heap_getattr(tup, NG_ROLE + 1, desc, &isnull));
				char	   *cap = TextDatumGetCString(heap_getattr(tup, NG_CAPABILITY + 1, desc, &isnull));

				if (has_privs_of_role(user, role))
					e->caps |= dur_cap_parse(cap);
			}
			systable_endscan(scan);
			table_close(rel, AccessShareLock);
		}
		if (e->caps & DUR_CAP_ADMIN)
			e->caps |= DUR_CAP_CLIENT | DUR_CAP_WORKER;
	}
	UnregisterSnapshot(snap);
}

/*
 * The cache entry of a namespace for the current user, loading it if
 * needed; NULL for a malformed name.
 */
static DurNsEntry *
dur_ns_lookup(const char *name)
{
	Oid			user = GetUserId();
	DurNsEntry *e;
	bool		found;

	if (!dur_namespace_name_ok(name))
		return NULL;
	if (!ns_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(dur_ns_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, dur_ns_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, dur_ns_syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, dur_ns_syscache_callback, (Datum) 0);
		ns_callbacks_registered = true;
	}
	if (ns_cache != NULL && user != ns_cache_user)
	{
		hash_destroy(ns_cache);
		ns_cache = NULL;
	}
	if (ns_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = DUR_MAX_NAMESPACE_BYTES + 1;
		ctl.entrysize = sizeof(DurNsEntry);
		ctl.hcxt = CacheMemoryContext;
		ns_cache = hash_create("durable namespaces", 16, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		ns_cache_user = user;
	}
	e = hash_search(ns_cache, name, HASH_FIND, NULL);
	if (e != NULL)
		return e;

	/*
	 * Load into a local copy first: loading may process invalidations that
	 * destroy the cache.
	 */
	{
		DurNsEntry	tmp;

		memset(&tmp, 0, sizeof(tmp));
		strlcpy(tmp.name, name, sizeof(tmp.name));
		dur_ns_load(&tmp, user);
		if (ns_cache == NULL)
			return dur_ns_lookup(name);
		e = hash_search(ns_cache, name, HASH_ENTER, &found);
		memcpy(e, &tmp, sizeof(tmp));
	}
	return e;
}

/* Forget everything cached: this transaction changed the tables. */
static void
dur_ns_changed(DurRel rel)
{
	CacheInvalidateRelcacheByRelid(dur_relid(rel));
	if (ns_cache != NULL)
	{
		hash_destroy(ns_cache);
		ns_cache = NULL;
	}
}

/*
 * Check that the current user holds a capability of the mask cap in the
 * namespace (admin holds them all), or
 * raise 42501 (DU009 for a namespace that does not exist, to those who may
 * see every namespace).  Makes the namespace's payload limit the call's.
 */
void
dur_namespace_require(const char *name, int cap)
{
	DurNsEntry	ns;

	dur_check_namespace_name(name);
	/* a copy: what follows may process invalidations, which drop the cache */
	ns = *dur_ns_lookup(name);
	if (!ns.exists && superuser())
		ereport(ERROR,
				(errcode(ERRCODE_DUR_NAMESPACE_NOT_FOUND),
				 errmsg("namespace \"%s\" does not exist", name),
				 errhint("durable.create_namespace makes one; durable.namespaces lists them.")));
	if ((ns.caps & cap) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for namespace \"%s\"", name),
				 errdetail("This needs capability %s there, which role \"%s\" does not hold.",
						   cap == DUR_CAP_ADMIN ? "admin" : cap == DUR_CAP_WORKER ? "worker" :
						   cap == DUR_CAP_CLIENT ? "client" : "client or worker",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("An admin of the namespace grants it with durable.grant_namespace.")));
	dur_call_payload_limit = ns.max_payload_size;
}

/* The namespace argument n of a call: 'default' if absent. */
char *
dur_namespace_arg(FunctionCallInfo fcinfo, int n)
{
	if (PG_NARGS() <= n)
		return "default";
	if (PG_ARGISNULL(n))
		dur_check_namespace_name(NULL);
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * Make the namespace's payload limit the current call's, without checking
 * a capability: for the engine, which acts in every namespace (a schedule
 * starting its action) and must not keep the limit of the last one.
 */
void
dur_namespace_payload_limit(const char *name)
{
	DurNsEntry *e = dur_ns_lookup(name);

	dur_call_payload_limit = e != NULL ? e->max_payload_size : 0;
}

/* The retention of a namespace; false when it keeps closed runs. */
bool
dur_namespace_retention(const char *name, Interval *out)
{
	DurNsEntry *e = dur_ns_lookup(name);

	if (e == NULL || !e->has_retention)
		return false;
	*out = e->retention;
	return true;
}

/*
 * _namespace_visible(namespace text) returns boolean: whether the current
 * user holds any capability in the namespace.  Row-level security calls it
 * for every row, so it never raises an error.
 */
Datum
_namespace_visible(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DurNsEntry *e = dur_ns_lookup(name);

	PG_RETURN_BOOL(e != NULL && e->caps != 0);
}

/*
 * _namespace_grant_visible(namespace text, role regrole) returns boolean:
 * a grant is visible to the namespace's admins and to the members of its
 * role.
 */
Datum
_namespace_grant_visible(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			role = PG_GETARG_OID(1);
	DurNsEntry *e = dur_ns_lookup(name);
	bool		admin = e != NULL && (e->caps & DUR_CAP_ADMIN) != 0;

	PG_RETURN_BOOL(admin || has_privs_of_role(GetUserId(), role));
}

/* The namespaces row of a name, if there is one. */
static bool
dur_ns_row(DurCall *call, const char *name, DurRow *row)
{
	DurScan		s;
	bool		found;

	dur_scan_begin(&s, call, DUR_NAMESPACES_PKEY);
	dur_key_text(&s, 1, name);
	found = dur_scan_next(&s, ForwardScanDirection, row);
	dur_scan_end(&s);
	return found;
}

/*
 * Apply settings (a JSON object) to a namespaces row's values: a key left
 * out stays as it is, a JSON null clears it.
 */
static void
dur_ns_settings(Jsonb *settings, Datum *v, bool *n)
{
	static const char *const keys[] = {"description", "retention", "max_payload_size"};
	JsonbIterator *it;
	JsonbValue	jv;
	JsonbIteratorToken tok;

	if (settings == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(settings))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("settings must be a JSON object"),
				 errhint("Keys: description, retention, max_payload_size.")));
	it = JsonbIteratorInit(&settings->root);
	while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
	{
		char	   *key;
		int			i;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(jv.val.string.val, jv.val.string.len);
		for (i = 0; i < lengthof(keys); i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == lengthof(keys))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown namespace setting \"%s\"", key),
					 errhint("Keys: description, retention, max_payload_size.")));
	}

	if (dur_jsonb_get(settings, "description") != NULL)
	{
		char	   *d = dur_jsonb_get_text(settings, "description");

		n[NS_DESCRIPTION] = d == NULL;
		if (d != NULL)
		{
			if (strcmp(dur_jsonb_typeof(dur_jsonb_get(settings, "description")), "string") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("settings.description must be a string")));
			v[NS_DESCRIPTION] = CStringGetTextDatum(d);
		}
	}
	if (dur_jsonb_get(settings, "retention") != NULL)
	{
		Interval   *r = dur_json_duration(settings, "retention", "settings.retention",
										  ERRCODE_INVALID_DATETIME_FORMAT, NULL);

		dur_check_interval(r, "settings.retention", true);
		n[NS_RETENTION] = r == NULL;
		if (r != NULL)
			v[NS_RETENTION] = IntervalPGetDatum(r);
	}
	if (dur_jsonb_get(settings, "max_payload_size") != NULL)
	{
		char	   *t = dur_jsonb_get_text(settings, "max_payload_size");

		n[NS_MAX_PAYLOAD_SIZE] = t == NULL;
		if (t != NULL)
		{
			char	   *end;
			long		size;

			errno = 0;
			size = strtol(t, &end, 10);
			if (*end != '\0' || errno != 0 || size < 1 || size > MaxAllocSize ||
				strcmp(dur_jsonb_typeof(dur_jsonb_get(settings, "max_payload_size")), "number") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("settings.max_payload_size must be a whole number of bytes from 1 to %d",
								(int) MaxAllocSize)));
			v[NS_MAX_PAYLOAD_SIZE] = Int32GetDatum((int32) size);
		}
	}
}

/* A new namespaces row of a name, with settings applied. */
static void
dur_ns_new_row(const char *name, Jsonb *settings, Datum *v, bool *n)
{
	int			i;

	for (i = 0; i < NS_NCOLS; i++)
		n[i] = true;
	v[NS_NAME] = CStringGetTextDatum(name);
	n[NS_NAME] = false;
	v[NS_CREATED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	n[NS_CREATED_AT] = false;
	dur_ns_settings(settings, v, n);
}

/* Insert a grant unless it is there. */
static void
dur_ns_grant(DurCall *call, const char *name, Oid role, const char *cap)
{
	DurScan		s;
	DurRow		row;
	bool		found;
	Datum		v[NG_NCOLS];
	bool		n[NG_NCOLS] = {false, false, false};

	dur_scan_begin(&s, call, DUR_NAMESPACE_GRANTS_PKEY);
	dur_key_text(&s, 1, name);
	dur_key_oid(&s, 2, role);
	dur_key_text(&s, 3, cap);
	found = dur_scan_next(&s, ForwardScanDirection, &row);
	dur_scan_end(&s);
	if (found)
		return;
	v[NG_NAMESPACE] = CStringGetTextDatum(name);
	v[NG_ROLE] = ObjectIdGetDatum(role);
	v[NG_CAPABILITY] = CStringGetTextDatum(cap);
	dur_insert(call, DUR_NAMESPACE_GRANTS, v, n, NULL);
}

/*
 * create_namespace(name text, settings jsonb): make a namespace.  Its
 * creator, unless a superuser, becomes its admin.
 */
Datum
create_namespace(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	DurCall    *call;
	DurRow		row;
	Datum		v[NS_NCOLS];
	bool		n[NS_NCOLS];

	dur_check_namespace_name(name);
	dur_ns_new_row(name, PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), v, n);

	dur_lock_namespace(name);
	call = dur_call_begin();
	dur_call_snapshot(call);
	if (strcmp(name, "default") == 0 || dur_ns_row(call, name, &row))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("namespace \"%s\" already exists", name),
				 errhint("durable.alter_namespace changes its settings.")));
	dur_insert(call, DUR_NAMESPACES, v, n, NULL);
	if (!superuser())
		dur_ns_grant(call, name, GetUserId(), "admin");
	dur_call_end(call);
	dur_ns_changed(DUR_NAMESPACES);
	PG_RETURN_VOID();
}

/*
 * alter_namespace(name text, settings jsonb): change a namespace's
 * settings.  Namespace default gets its row on its first change.
 */
Datum
alter_namespace(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	DurCall    *call;
	DurRow		row;
	Datum		v[NS_NCOLS];
	bool		n[NS_NCOLS];

	dur_namespace_require(name, DUR_CAP_ADMIN);
	dur_lock_namespace(name);
	call = dur_call_begin();
	dur_call_snapshot(call);
	if (dur_ns_row(call, name, &row))
	{
		memcpy(v, row.values, sizeof(v));
		memcpy(n, row.nulls, sizeof(n));
		dur_ns_settings(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), v, n);
		dur_update(call, DUR_NAMESPACES, &row.tid, v, n, NULL);
	}
	else
	{
		/* namespace default, which exists without a row */
		dur_ns_new_row(name, PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), v, n);
		dur_insert(call, DUR_NAMESPACES, v, n, NULL);
	}
	dur_call_end(call);
	dur_ns_changed(DUR_NAMESPACES);
	PG_RETURN_VOID();
}

/*
 * Delete the grants of a namespace: all of them, those of one role, or one
 * capability of one role.  Returns how many.
 */
static int
dur_ns_revoke(DurCall *call, const char *name, Oid role, const char *cap)
{
	DurScan		s;
	DurRow		row;
	int			n = 0;

	dur_scan_begin(&s, call, DUR_NAMESPACE_GRANTS_PKEY);
	dur_key_text(&s, 1, name);
	if (OidIsValid(role))
		dur_key_oid(&s, 2, role);
	if (cap != NULL)
		dur_key_text(&s, 3, cap);
	while (dur_scan_next(&s, ForwardScanDirection, &row))
	{
		dur_delete(call, DUR_NAMESPACE_GRANTS, &row.tid);
		n++;
	}
	dur_scan_end(&s);
	return n;
}

/*
 * drop_namespace(name text): drop a namespace that has no runs, and its
 * grants.  Namespace default stays.
 */
Datum
drop_namespace(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	DurCall    *call;
	DurScan		s;
	DurRow		row;
	bool		has_runs;

	dur_namespace_require(name, DUR_CAP_ADMIN);
	if (strcmp(name, "default") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("namespace default cannot be dropped")));
	dur_lock_namespace(name);
	call = dur_call_begin();
	dur_call_snapshot(call);
	dur_scan_begin(&s, call, DUR_WORKFLOWS_BY_ID);
	dur_key_text(&s, 1, name);
	has_runs = dur_scan_next(&s, ForwardScanDirection, &row);
	dur_scan_end(&s);
	if (has_runs)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("namespace \"%s\" still has workflow runs", name),
				 errhint("Terminate its running workflows and purge its closed ones first.")));
	if (dur_ns_row(call, name, &row))
		dur_delete(call, DUR_NAMESPACES, &row.tid);
	(void) dur_ns_revoke(call, name, InvalidOid, NULL);
	dur_call_end(call);
	dur_ns_changed(DUR_NAMESPACES);
	PG_RETURN_VOID();
}

/* The capability argument n, checked; NULL when absent and allowed. */
static char *
dur_cap_arg(FunctionCallInfo fcinfo, int n, bool allow_null)
{
	char	   *cap;

	if (PG_ARGISNULL(n))
	{
		if (allow_null)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("capability must not be NULL")));
	}
	cap = text_to_cstring(PG_GETARG_TEXT_PP(n));
	if (dur_cap_parse(cap) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown capability \"%s\"", pnstrdup(cap, pg_mbcliplen(cap, strlen(cap), 40))),
				 errhint("A capability is client, worker or admin.")));
	return cap;
}

/* The role argument n, checked. */
static Oid
dur_role_arg(FunctionCallInfo fcinfo, int n)
{
	Oid			role;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be NULL")));
	role = PG_GETARG_OID(n);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	return role;
}

/*
 * grant_namespace and revoke_namespace: the arguments, the caller's admin
 * capability, then the change.
 */
static void
dur_ns_change_grant(FunctionCallInfo fcinfo, bool grant)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			role = dur_role_arg(fcinfo, 1);
	char	   *cap = dur_cap_arg(fcinfo, 2, !grant);
	DurCall    *call;

	dur_namespace_require(name, DUR_CAP_ADMIN);
	if (!grant && strcmp(name, "default") == 0)
	{
		char	   *rolname = GetUserNameFromId(role, false);

		if (strcmp(rolname, "durable_client") == 0 || strcmp(rolname, "durable_worker") == 0 ||
			strcmp(rolname, "durable_admin") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("role \"%s\"'s capability in namespace default is built in", rolname),
					 errhint("Revoke membership in role \"%s\" instead.", rolname)));
	}
	call = dur_call_begin();
	dur_call_snapshot(call);
	if (grant)
		dur_ns_grant(call, name, role, cap);
	else
		(void) dur_ns_revoke(call, name, role, cap);
	dur_call_end(call);
	dur_ns_changed(DUR_NAMESPACE_GRANTS);
}

/*
 * grant_namespace(namespace text, role regrole, capability text): let a
 * role and its members act in a namespace.
 */
Datum
grant_namespace(PG_FUNCTION_ARGS)
{
	dur_ns_change_grant(fcinfo, true);
	PG_RETURN_VOID();
}

/*
 * revoke_namespace(namespace text, role regrole, capability text): take
 * a capability (NULL: every one) a role holds in a namespace away.  The
 * built-in grants of namespace default go with role membership instead.
 */
Datum
revoke_namespace(PG_FUNCTION_ARGS)
{
	dur_ns_change_grant(fcinfo, false);
	PG_RETURN_VOID();
}
