/*-------------------------------------------------------------------------
 *
 * schedules.c
 *	  Schedules (docs/schedules.md): workflows started by the engine at the
 *	  times of a spec (cron strings, intervals, calendars), with Temporal's
 *	  overlap policies, catch-up window, pause, trigger, backfill and
 *	  limited actions.
 *
 * A schedule is a row of durable.schedules.  Its next action is a row of
 * durable.timers of kind 'schedule' whose run id is the schedule's own id
 * (a UUID hashed from its namespace and id, never a run's): the timer
 * service fires it as any timer, without polling, and the handler here
 * starts the workflow and sets the timer for the next time, in the same
 * transaction.  A run a schedule started carries the search attribute
 * TemporalScheduledById; its close sets a timer of kind 'schedule_closed'
 * on the closed run (history.c), whose firing starts buffered actions and
 * applies pause_on_failure.
 *
 * Invariants:
 *	- every change of a schedule's row is made under the schedule's lock:
 *	  the run lock of its own id (tables.c's dur_lock_run), taken by the
 *	  client functions (waiting) and by the timer service (never waiting:
 *	  a busy schedule's timer is tried again later, as a busy run's);
 *	- a schedule that is not paused, and may still act, has exactly one
 *	  'schedule' timer, at next_action_time; a paused or finished one has
 *	  none;
 *	- a due time is handled once: next_nominal_time moves past it in the
 *	  transaction that starts (or buffers, or skips) its action;
 *	- the workflow of an action is started in the transaction that handles
 *	  the due time, so a rollback leaves neither.
 *
 * Lock order: the schedule's lock, then run locks (a start's new run, the
 * running workflow that cancel_other or terminate_other acts on).  The
 * timer service only tries them: a closed run's 'schedule_closed' timer
 * holds the closed run's lock and tries the schedule's; the schedule's
 * timer tries the lock of a run it terminates or cancels.  Nothing that
 * holds a run lock waits for a schedule's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "durable.h"
#include "history.h"
#include "indexes.h"
#include "metrics.h"
#include "namespaces.h"
#include "restore.h"
#include "schedules.h"
#include "tables.h"
#include "util.h"

PG_FUNCTION_INFO_V1(create_schedule);
PG_FUNCTION_INFO_V1(update_schedule);
PG_FUNCTION_INFO_V1(describe_schedule);
PG_FUNCTION_INFO_V1(pause_schedule);
PG_FUNCTION_INFO_V1(unpause_schedule);
PG_FUNCTION_INFO_V1(trigger_schedule);
PG_FUNCTION_INFO_V1(backfill_schedule);
PG_FUNCTION_INFO_V1(delete_schedule);
PG_FUNCTION_INFO_V1(schedule_spec_times);

#define ERRCODE_DUR_SCHEDULE_NOT_FOUND	MAKE_SQLSTATE('D','U','0','3','0')
#define ERRCODE_DUR_SCHEDULE_EXISTS		MAKE_SQLSTATE('D','U','0','3','1')
#define ERRCODE_DUR_SCHEDULE_SPEC		MAKE_SQLSTATE('D','U','0','3','2')
#define ERRCODE_DUR_SCHEDULE_TIMEZONE	MAKE_SQLSTATE('D','U','0','3','3')
#define ERRCODE_DUR_SCHEDULE_BUSY		MAKE_SQLSTATE('D','U','0','3','4')

#define SCH_YEAR0		1970
#define SCH_NYEARS		400
#define SCH_SEARCH_DAYS	(366 * 10)	/* how far a calendar is searched */
#define SCH_RECENT		10
#define SCH_MAX_DUE		1000		/* due times handled by one firing */
#define SCH_DEFAULT_CATCHUP_USECS	(INT64CONST(365) * USECS_PER_DAY)

/* A calendar: the allowed values of each field (cron strings become one). */
typedef struct SchCal
{
	bool		sec[60];
	bool		min[60];
	bool		hour[24];
	bool		dom[32];
	bool		mon[13];
	bool		dow[7];
	bool		year_any;
	bool		year[SCH_NYEARS];
} SchCal;

typedef struct SchSpec
{
	List	   *cals;			/* SchCal *: cron strings and calendars */
	List	   *excl;			/* SchCal *: exclude_calendars */
	int			nivs;
	int64		every[64];
	int64		offset[64];
	int64		jitter;
	TimestampTz start_at;		/* DT_NOBEGIN: none */
	TimestampTz end_at;			/* DT_NOEND: none */
	pg_tz	   *tz;
} SchSpec;

typedef struct SchRunning
{
	char	   *workflow_id;
	char	   *run_id;
} SchRunning;

typedef struct SchBuffered
{
	TimestampTz nominal;
	TimestampTz scheduled;
	char	   *overlap;
} SchBuffered;

typedef struct SchRecent
{
	TimestampTz scheduled;
	TimestampTz actual;
	char	   *workflow_id;
	char	   *run_id;
} SchRecent;

/* A schedule's row, as the functions here work on it. */
typedef struct SchRow
{
	char	   *ns;
	char	   *id;
	pg_uuid_t	key;			/* its own id: lock and timer */
	Jsonb	   *spec;
	Jsonb	   *action;
	Jsonb	   *policies;
	SchSpec    *parsed;
	bool		paused;
	char	   *note;
	bool		limited;
	int64		remaining;
	bool		has_next;
	TimestampTz next_action;
	TimestampTz next_nominal;
	int64		action_count;
	int64		missed;
	int64		skipped;
	List	   *running;		/* SchRunning * */
	List	   *buffered;		/* SchBuffered * */
	List	   *recent;			/* SchRecent * */
	int64		errors;			/* actions dropped because their start failed */
	char	   *last_error;		/* the last of them, JSON text; NULL: none */
	bool		engine;			/* the timer service: never wait for a lock */
} SchRow;

static const char *const overlap_choices[] = {
	"skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all", NULL
};

/* ---------------------------------------------------------------- spec */

static void
sch_spec_error(const char *what, const char *value, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
			 errmsg("invalid %s \"%s\"", what, value),
			 errdetail("%s", why),
			 errhint("See docs/schedules.md \"Spec\": a field is *, a number or name, a range a-b, a list a,b and an optional step /n.")));
}

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

/* One value of a field: a number, or a name (names[0] is lo). */
static int
sch_value(const char *s, int len, int lo, int hi, const char *const *names,
		  const char *what, const char *field)
{
	int			v = 0;
	int			i;

	if (len <= 0)
		sch_spec_error(what, field, "A value is missing.");
	if (names != NULL && len >= 3 && !isdigit((unsigned char) s[0]))
	{
		for (i = 0; names[i] != NULL; i++)
			if (pg_strncasecmp(s, names[i], 3) == 0 &&
				(len == 3 || (len > 3 && isalpha((unsigned char) s[3]))))
				return lo + i;
		sch_spec_error(what, field, psprintf("\"%.*s\" is not a name of this field.", len, s));
	}
	for (i = 0; i < len; i++)
	{
		if (!isdigit((unsigned char) s[i]) || v > 100000)
			sch_spec_error(what, field, psprintf("\"%.*s\" is not a number.", len, s));
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		sch_spec_error(what, field, psprintf("%d is outside %d-%d.", v, lo, hi));
	return v;
}

/*
 * Parse a field ("*", "5", "1-5", "mon-fri", "*\/15", "1,15,30", "10/5")
 * into out[lo..hi].  A day of week of 7 is Sunday, as in cron.
 */
static void
sch_field(const char *field, bool *out, int lo, int hi, const char *const *names,
		  bool is_dow, const char *what)
{
	const char *p = field;

	if (field == NULL || *field == '\0')
		sch_spec_error(what, field ? field : "", "The field is empty.");
	while (*p)
	{
		const char *item = p;
		const char *end = strchr(p, ',');
		const char *slash;
		const char *dash;
		int			len;
		int			a,
					b,
					step = 1,
					v;

		if (end == NULL)
			end = p + strlen(p);
		len = end - item;
		slash = memchr(item, '/', len);
		if (slash != NULL)
		{
			step = sch_value(slash + 1, end - slash - 1, 1, hi - lo + 1, NULL, what, field);
			len = slash - item;
		}
		dash = memchr(item, '-', len);
		if (len == 1 && item[0] == '*')
		{
			a = lo;
			b = hi;
		}
		else if (dash != NULL)
		{
			a = sch_value(item, dash - item, lo, hi, names, what, field);
			b = sch_value(dash + 1, item + len - dash - 1, lo, hi, names, what, field);
			if (b < a)
				sch_spec_error(what, field, psprintf("The range %d-%d is empty.", a, b));
		}
		else
		{
			a = sch_value(item, len, lo, hi, names, what, field);
			b = slash != NULL ? hi : a;
		}
		for (v = a; v <= b; v += step)
			out[is_dow && v == 7 ? 0 : v] = true;
		p = *end ? end + 1 : end;
		if (*end && *p == '\0')
			sch_spec_error(what, field, "A value is missing after \",\".");
	}
}

static void
sch_cal_year(SchCal *c, const char *field, const char *what)
{
	bool		tmp[SCH_YEAR0 + SCH_NYEARS];

	if (field == NULL || strcmp(field, "*") == 0)
	{
		c->year_any = true;
		return;
	}
	memset(tmp, 0, sizeof(tmp));
	sch_field(field, tmp, SCH_YEAR0, SCH_YEAR0 + SCH_NYEARS - 1, NULL, false, what);
	memcpy(c->year, tmp + SCH_YEAR0, sizeof(c->year));
}

/* A cron string: 5 fields (minute hour day-of-month month day-of-week), or @shorthand. */
static SchCal *
sch_parse_cron(const char *cron)
{
	SchCal	   *c = palloc0(sizeof(SchCal));
	char	   *f[6];
	char	   *copy;
	char	   *tok;
	char	   *save;
	int			n = 0;
	static const struct
	{
		const char *name;
		const char *expansion;
	}			shorthands[] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"}, {NULL, NULL}
	};

	if (cron[0] == '@')
	{
		int			i;

		for (i = 0; shorthands[i].name != NULL; i++)
			if (pg_strcasecmp(cron, shorthands[i].name) == 0)
				break;
		if (shorthands[i].name == NULL)
			sch_spec_error("cron string", cron, "Known shorthands are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.");
		copy = pstrdup(shorthands[i].expansion);
	}
	else
		copy = pstrdup(cron);
	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save))
	{
		if (n == 5)
			sch_spec_error("cron string", cron, "A cron string has 5 fields: minute, hour, day of month, month, day of week.");
		f[n++] = tok;
	}
	if (n != 5)
		sch_spec_error("cron string", cron, "A cron string has 5 fields: minute, hour, day of month, month, day of week.");
	c->sec[0] = true;
	sch_field(f[0], c->min, 0, 59, NULL, false, psprintf("minute in cron string \"%s\":", cron));
	sch_field(f[1], c->hour, 0, 23, NULL, false, psprintf("hour in cron string \"%s\":", cron));
	sch_field(f[2], c->dom, 1, 31, NULL, false, psprintf("day of month in cron string \"%s\":", cron));
	sch_field(f[3], c->mon, 1, 12, month_names, false, psprintf("month in cron string \"%s\":", cron));
	sch_field(f[4], c->dow, 0, 7, day_names, true, psprintf("day of week in cron string \"%s\":", cron));
	c->year_any = true;
	return c;
}

/* A calendar: Temporal's StructuredCalendarSpec fields, as strings. */
static SchCal *
sch_parse_calendar(Jsonb *cal, const char *what)
{
	SchCal	   *c = palloc0(sizeof(SchCal));
	char	   *v;

	if (cal == NULL || !JB_ROOT_IS_OBJECT(cal))
		sch_spec_error(what, cal ? JsonbToCString(NULL, &cal->root, VARSIZE(cal)) : "",
					   "A calendar is a JSON object.");
#define SCH_CAL_FIELD(key, arr, lo, hi, names, dow, dflt) \
	v = dur_jsonb_get_text(cal, key); \
	sch_field(v ? v : dflt, c->arr, lo, hi, names, dow, psprintf("%s %s", what, key))
	SCH_CAL_FIELD("second", sec, 0, 59, NULL, false, "0");
	SCH_CAL_FIELD("minute", min, 0, 59, NULL, false, "0");
	SCH_CAL_FIELD("hour", hour, 0, 23, NULL, false, "0");
	SCH_CAL_FIELD("day_of_month", dom, 1, 31, NULL, false, "*");
	SCH_CAL_FIELD("month", mon, 1, 12, month_names, false, "*");
	SCH_CAL_FIELD("day_of_week", dow, 0, 7, day_names, true, "*");
#undef SCH_CAL_FIELD
	sch_cal_year(c, dur_jsonb_get_text(cal, "year"), psprintf("%s year", what));
	return c;
}

/* The elements of a JSON array (NULL or JSON null: none). */
static List *
sch_array(Jsonb *arr, const char *what)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *out = NIL;

	if (arr == NULL || (JB_ROOT_IS_SCALAR(arr) && strcmp(dur_jsonb_typeof(arr), "null") == 0))
		return NIL;
	if (!JB_ROOT_IS_ARRAY(arr) || JB_ROOT_IS_SCALAR(arr))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("%s must be a JSON array", what)));
	it = JsonbIteratorInit(&arr->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			out = lappend(out, JsonbValueToJsonb(&v));
	return out;
}

static char *
sch_scalar_text(Jsonb *v)
{
	JsonbValue	jv;

	if (!JsonbExtractScalar(&v->root, &jv) || jv.type != jbvString)
		return NULL;
	return pnstrdup(jv.val.string.val, jv.val.string.len);
}

static int64
sch_usecs(Interval *iv, const char *what, bool positive)
{
	int64		us;

	if (iv == NULL)
		return 0;
	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("%s must be a fixed duration", what),
				 errdetail("Months and years have no fixed length."),
				 errhint("Use days, as \"30 days\".")));
	us = iv->time + (int64) iv->day * USECS_PER_DAY;
	if (positive && us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("%s must be positive", what)));
	return us;
}

static TimestampTz
sch_json_time(Jsonb *obj, const char *key, TimestampTz dflt)
{
	char	   *t = dur_jsonb_get_text(obj, key);

	if (t == NULL)
		return dflt;
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(t),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* Parse and check a spec (DU032, DU033 for an unknown time zone). */
static SchSpec *
sch_parse_spec(Jsonb *spec)
{
	SchSpec    *s = palloc0(sizeof(SchSpec));
	ListCell   *lc;
	char	   *tzname;
	static const char *const keys[] = {
		"cron", "intervals", "calendars", "exclude_calendars", "jitter", "start_at",
		"end_at", "timezone", NULL
	};
	char	   *k;

	if (spec == NULL || !JB_ROOT_IS_OBJECT(spec))
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("spec must be a JSON object")));
	k = dur_jsonb_unknown_key(spec, keys);
	if (k != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("unknown spec field \"%s\"", k),
				 errhint("The fields are cron, intervals, calendars, exclude_calendars, jitter, start_at, end_at and timezone.")));
	foreach(lc, sch_array(dur_jsonb_get(spec, "cron"), "spec.cron"))
	{
		char	   *c = sch_scalar_text(lfirst(lc));

		if (c == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
					 errmsg("spec.cron must be an array of strings")));
		s->cals = lappend(s->cals, sch_parse_cron(c));
	}
	foreach(lc, sch_array(dur_jsonb_get(spec, "calendars"), "spec.calendars"))
		s->cals = lappend(s->cals, sch_parse_calendar(lfirst(lc), "calendar"));
	foreach(lc, sch_array(dur_jsonb_get(spec, "exclude_calendars"), "spec.exclude_calendars"))
		s->excl = lappend(s->excl, sch_parse_calendar(lfirst(lc), "exclude calendar"));
	foreach(lc, sch_array(dur_jsonb_get(spec, "intervals"), "spec.intervals"))
	{
		Jsonb	   *iv = lfirst(lc);

		if (s->nivs == lengthof(s->every))
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
					 errmsg("too many intervals"),
					 errdetail("A spec has at most %d.", (int) lengthof(s->every))));
		if (!JB_ROOT_IS_OBJECT(iv) || dur_jsonb_get(iv, "every") == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
					 errmsg("an interval must be an object with \"every\"")));
		s->every[s->nivs] = sch_usecs(dur_json_duration(iv, "every", "interval every",
														ERRCODE_DUR_SCHEDULE_SPEC, NULL),
									  "interval every", true);
		s->offset[s->nivs] = sch_usecs(dur_json_duration(iv, "offset", "interval offset",
														 ERRCODE_DUR_SCHEDULE_SPEC, NULL),
									   "interval offset", false);
		if (s->offset[s->nivs] >= s->every[s->nivs])
			ereport(ERROR,
					(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
					 errmsg("interval offset must be less than every")));
		s->nivs++;
	}
	if (s->cals == NIL && s->nivs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_SPEC),
				 errmsg("spec has no times"),
				 errhint("Give at least one of cron, intervals and calendars.")));
	s->jitter = sch_usecs(dur_json_duration(spec, "jitter", "jitter", ERRCODE_DUR_SCHEDULE_SPEC, NULL),
						  "jitter", false);
	s->start_at = sch_json_time(spec, "start_at", DT_NOBEGIN);
	s->end_at = sch_json_time(spec, "end_at", DT_NOEND);
	tzname = dur_jsonb_get_text(spec, "timezone");
	if (tzname == NULL || tzname[0] == '\0')
		tzname = "UTC";
	s->tz = pg_tzset(tzname);
	if (s->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_TIMEZONE),
				 errmsg("time zone \"%s\" not recognized", tzname),
				 errdetail("spec.timezone must name a zone of PostgreSQL's time zone database."),
				 errhint("SELECT name FROM pg_timezone_names lists them.")));
	return s;
}

/* The local wall-clock time y-m-d h:mi:s in tz, as an instant. */
static TimestampTz
sch_local(int y, int mo, int d, int h, int mi, int s, pg_tz *tz)
{
	struct pg_tm tm;
	int			off;
	TimestampTz r;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y;
	tm.tm_mon = mo;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	off = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &off, &r) != 0)
		return DT_NOEND;
	return r;
}

static bool
sch_cal_day(const SchCal *c, int y, int m, int d, int jd)
{
	if (!c->year_any && (y < SCH_YEAR0 || y >= SCH_YEAR0 + SCH_NYEARS || !c->year[y - SCH_YEAR0]))
		return false;
	return c->mon[m] && c->dom[d] && c->dow[j2day(jd)];
}

/* The first time of c after t (DT_NOEND: none within SCH_SEARCH_DAYS). */
static TimestampTz
sch_cal_next(const SchCal *c, TimestampTz t, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fs;
	int			off;
	int			jd0;
	int			floor_sod;
	int			day;

	if (timestamp2tm(t, &off, &tm, &fs, NULL, tz) != 0)
		return DT_NOEND;
	jd0 = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	/* on t's local day, nothing two hours before t's wall clock can follow t */
	floor_sod = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec - 2 * 3600;
	for (day = 0; day < SCH_SEARCH_DAYS; day++)
	{
		int			y,
					m,
					d,
					h,
					mi,
					s;

		j2date(jd0 + day, &y, &m, &d);
		if (!sch_cal_day(c, y, m, d, jd0 + day))
			continue;
		for (h = 0; h < 24; h++)
		{
			if (!c->hour[h] || (day == 0 && h * 3600 + 3599 < floor_sod))
				continue;
			for (mi = 0; mi < 60; mi++)
			{
				if (!c->min[mi] || (day == 0 && h * 3600 + mi * 60 + 59 < floor_sod))
					continue;
				for (s = 0; s < 60; s++)
				{
					TimestampTz r;

					if (!c->sec[s])
						continue;
					r = sch_local(y, m, d, h, mi, s, tz);
					if (r > t)
						return r;
				}
			}
		}
	}
	return DT_NOEND;
}

static bool
sch_cal_matches(const SchCal *c, TimestampTz t, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fs;
	int			off;

	if (timestamp2tm(t, &off, &tm, &fs, NULL, tz) != 0)
		return false;
	return sch_cal_day(c, tm.tm_year, tm.tm_mon, tm.tm_mday,
					   date2j(tm.tm_year, tm.tm_mon, tm.tm_mday)) &&
		c->hour[tm.tm_hour] && c->min[tm.tm_min] && c->sec[tm.tm_sec] && fs == 0;
}

/* The first time of an interval after t: epoch + n * every + offset, as Temporal aligns them. */
static TimestampTz
sch_interval_next(int64 every, int64 offset, TimestampTz t)
{
	int64		u = t + DUR_UNIX_EPOCH_USECS - offset;
	int64		n = u >= 0 ? u / every : -((-u + every - 1) / every);

	return (n + 1) * every + offset - DUR_UNIX_EPOCH_USECS;
}

/* The spec's first time after t, DT_NOEND for none. */
static TimestampTz
sch_spec_next(const SchSpec *s, TimestampTz t)
{
	int			guard;

	if (s->start_at != DT_NOBEGIN && t < s->start_at)
		t = s->start_at - 1;
	for (guard = 0; guard < 100000; guard++)
	{
		TimestampTz best = DT_NOEND;
		ListCell   *lc;
		int			i;
		bool		excluded = false;

		foreach(lc, s->cals)
			best = Min(best, sch_cal_next(lfirst(lc), t, s->tz));
		for (i = 0; i < s->nivs; i++)
			best = Min(best, sch_interval_next(s->every[i], s->offset[i], t));
		if (best == DT_NOEND || best > s->end_at)
			return DT_NOEND;
		foreach(lc, s->excl)
			if (sch_cal_matches(lfirst(lc), best, s->tz))
				excluded = true;
		if (!excluded)
			return best;
		t = best;
	}
	return DT_NOEND;
}

/*
 * The action time of a nominal time: plus a jitter in [0, jitter), hashed
 * from the schedule and the time (the same every time it is computed), and
 * never past the following nominal time.
 */
static TimestampTz
sch_jittered(const SchSpec *s, const char *id, TimestampTz nominal)
{
	int64		range = s->jitter;
	TimestampTz following;
	uint64		h;

	if (range <= 0)
		return nominal;
	following = sch_spec_next(s, nominal);
	if (following != DT_NOEND && following - nominal < range)
		range = following - nominal;
	if (range <= 0)
		return nominal;
	h = hash_bytes_extended((const unsigned char *) id, strlen(id), (uint64) nominal);
	return nominal + (int64) (h % (uint64) range);
}

/* RFC 3339 in UTC, whole seconds (milliseconds when there are some). */
static char *
sch_rfc3339(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fs;

	if (timestamp2tm(t, NULL, &tm, &fs, NULL, NULL) != 0)
		return pstrdup("infinity");
	if (fs != 0)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fs / 1000));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ----------------------------------------------------------- the row */

static Oid	sch_save_user;
static int	sch_save_sec;
static int	sch_save_nestlevel;

/*
 * SPI, as the bootstrap superuser (the tables are durable's, whoever
 * calls) and with search_path pg_catalog, pg_temp, so that the caller's
 * search_path cannot put its own operators or functions in the statements.
 */
static void
sch_spi_begin(void)
{
	SPI_connect();
	GetUserIdAndSecContext(&sch_save_user, &sch_save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, sch_save_sec | SECURITY_LOCAL_USERID_CHANGE);
	sch_save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

static void
sch_spi_end(void)
{
	AtEOXact_GUC(true, sch_save_nestlevel);
	SetUserIdAndSecContext(sch_save_user, sch_save_sec);
	SPI_finish();
}

static void
sch_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	int			ret;

	/* durable's own write: not data arriving by SQL (restore.c) */
	dur_own_sql_writes++;
	PG_TRY();
	{
		ret = dur_spi_execute(sql, nargs, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		dur_own_sql_writes--;
	}
	PG_END_TRY();
	if (ret < 0 || (expect != 0 && SPI_processed != (uint64) expect))
		elog(ERROR, "durable: schedule statement failed (%d): %s", ret, sql);
}

static Datum
sch_get(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* A schedule's own id: its lock, and its timer's run id. */
static void
sch_key(const char *ns, const char *id, pg_uuid_t *key)
{
	StringInfoData s;
	uint64		a,
				b;

	initStringInfo(&s);
	appendStringInfo(&s, "schedule\x1f%s\x1f%s", ns, id);
	a = hash_bytes_extended((const unsigned char *) s.data, s.len, UINT64CONST(0x5c4ed01e));
	b = hash_bytes_extended((const unsigned char *) s.data, s.len, UINT64CONST(0x7a3b91c2));
	memcpy(key->data, &a, 8);
	memcpy(key->data + 8, &b, 8);
	key->data[6] = (key->data[6] & 0x0f) | 0x80;	/* version 8: custom */
	key->data[8] = (key->data[8] & 0x3f) | 0x80;
}

static TimestampTz
sch_text_time(const char *t)
{
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(t),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* Read a schedule (the caller holds its lock); false if there is none. */
static bool
sch_load(const char *ns, const char *id, SchRow *r)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		vals[2];
	bool		isnull;
	ListCell   *lc;

	vals[0] = CStringGetTextDatum(ns);
	vals[1] = CStringGetTextDatum(id);
	sch_exec("SELECT spec, action, policies, paused, note, limited_actions, remaining_actions, "
			 "next_action_time, next_nominal_time, action_count, missed_catchup_window, "
			 "overlap_skipped, running, buffered, recent_actions, action_errors, last_action_error "
			 "FROM durable.schedules WHERE namespace = $1 AND schedule_id = $2",
			 2, types, vals, NULL, 0);
	if (SPI_processed == 0)
		return false;
	memset(r, 0, sizeof(*r));
	r->ns = pstrdup(ns);
	r->id = pstrdup(id);
	sch_key(ns, id, &r->key);
	r->spec = DatumGetJsonbPCopy(sch_get(1, &isnull));
	r->action = DatumGetJsonbPCopy(sch_get(2, &isnull));
	r->policies = DatumGetJsonbPCopy(sch_get(3, &isnull));
	r->paused = DatumGetBool(sch_get(4, &isnull));
	r->note = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	r->limited = DatumGetBool(sch_get(6, &isnull));
	r->remaining = DatumGetInt64(sch_get(7, &isnull));
	r->next_action = DatumGetTimestampTz(sch_get(8, &isnull));
	r->has_next = !isnull;
	r->next_nominal = DatumGetTimestampTz(sch_get(9, &isnull));
	r->action_count = DatumGetInt64(sch_get(10, &isnull));
	r->missed = DatumGetInt64(sch_get(11, &isnull));
	r->skipped = DatumGetInt64(sch_get(12, &isnull));
	r->errors = DatumGetInt64(sch_get(16, &isnull));
	r->last_error = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 17);
	{
		Jsonb	   *running = DatumGetJsonbPCopy(sch_get(13, &isnull));
		Jsonb	   *buffered = DatumGetJsonbPCopy(sch_get(14, &isnull));
		Jsonb	   *recent = DatumGetJsonbPCopy(sch_get(15, &isnull));

		foreach(lc, sch_array(running, "running"))
		{
			SchRunning *x = palloc(sizeof(SchRunning));

			x->workflow_id = dur_jsonb_get_text(lfirst(lc), "workflow_id");
			x->run_id = dur_jsonb_get_text(lfirst(lc), "run_id");
			r->running = lappend(r->running, x);
		}
		foreach(lc, sch_array(buffered, "buffered"))
		{
			SchBuffered *x = palloc(sizeof(SchBuffered));

			x->nominal = sch_text_time(dur_jsonb_get_text(lfirst(lc), "nominal_time"));
			x->scheduled = sch_text_time(dur_jsonb_get_text(lfirst(lc), "scheduled_time"));
			x->overlap = dur_jsonb_get_text(lfirst(lc), "overlap");
			r->buffered = lappend(r->buffered, x);
		}
		foreach(lc, sch_array(recent, "recent_actions"))
		{
			SchRecent  *x = palloc(sizeof(SchRecent));

			x->scheduled = sch_text_time(dur_jsonb_get_text(lfirst(lc), "scheduled_time"));
			x->actual = sch_text_time(dur_jsonb_get_text(lfirst(lc), "actual_time"));
			x->workflow_id = dur_jsonb_get_text(lfirst(lc), "workflow_id");
			x->run_id = dur_jsonb_get_text(lfirst(lc), "run_id");
			r->recent = lappend(r->recent, x);
		}
	}
	r->parsed = sch_parse_spec(r->spec);
	return true;
}

static void
sch_json_str(StringInfo b, const char *key, const char *v, bool comma)
{
	if (comma)
		appendStringInfoChar(b, ',');
	escape_json(b, key);
	appendStringInfoChar(b, ':');
	if (v == NULL)
		appendStringInfoString(b, "null");
	else
		escape_json(b, v);
}

/* Write the row back, and the schedule's timer (or none). */
static void
sch_save(SchRow *r)
{
	StringInfoData run,
				buf,
				rec;
	ListCell   *lc;
	Oid			types[18] = {TEXTOID, TEXTOID, BOOLOID, TEXTOID, INT8OID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, BOOLOID,
	INT8OID, TEXTOID};
	Datum		v[18];
	char		n[18];
	bool		timer;

	initStringInfo(&run);
	appendStringInfoChar(&run, '[');
	foreach(lc, r->running)
	{
		SchRunning *x = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&run, ',');
		appendStringInfoChar(&run, '{');
		sch_json_str(&run, "workflow_id", x->workflow_id, false);
		sch_json_str(&run, "run_id", x->run_id, true);
		appendStringInfoChar(&run, '}');
	}
	appendStringInfoChar(&run, ']');
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, r->buffered)
	{
		SchBuffered *x = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoChar(&buf, '{');
		sch_json_str(&buf, "nominal_time", sch_rfc3339(x->nominal), false);
		sch_json_str(&buf, "scheduled_time", sch_rfc3339(x->scheduled), true);
		sch_json_str(&buf, "overlap", x->overlap, true);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	while (list_length(r->recent) > SCH_RECENT)
		r->recent = list_delete_first(r->recent);
	initStringInfo(&rec);
	appendStringInfoChar(&rec, '[');
	foreach(lc, r->recent)
	{
		SchRecent  *x = lfirst(lc);

		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(&rec, ',');
		appendStringInfoChar(&rec, '{');
		sch_json_str(&rec, "scheduled_time", sch_rfc3339(x->scheduled), false);
		sch_json_str(&rec, "actual_time", sch_rfc3339(x->actual), true);
		sch_json_str(&rec, "workflow_id", x->workflow_id, true);
		sch_json_str(&rec, "run_id", x->run_id, true);
		appendStringInfoChar(&rec, '}');
	}
	appendStringInfoChar(&rec, ']');

	memset(n, ' ', sizeof(n));
	v[0] = CStringGetTextDatum(r->ns);
	v[1] = CStringGetTextDatum(r->id);
	v[2] = BoolGetDatum(r->paused);
	v[3] = r->note ? CStringGetTextDatum(r->note) : (Datum) 0;
	n[3] = r->note ? ' ' : 'n';
	v[4] = Int64GetDatum(r->remaining);
	v[5] = TimestampTzGetDatum(r->next_action);
	v[6] = TimestampTzGetDatum(r->next_nominal);
	n[5] = n[6] = r->has_next ? ' ' : 'n';
	v[7] = Int64GetDatum(r->action_count);
	v[8] = Int64GetDatum(r->missed);
	v[9] = Int64GetDatum(r->skipped);
	v[10] = CStringGetTextDatum(run.data);
	v[11] = CStringGetTextDatum(buf.data);
	v[12] = CStringGetTextDatum(rec.data);
	v[13] = CStringGetTextDatum(dur_uuid_text(&r->key));
	timer = r->has_next && !r->paused && !(r->limited && r->remaining <= 0);
	v[14] = BoolGetDatum(timer);
	v[15] = BoolGetDatum(r->limited);
	v[16] = Int64GetDatum(r->errors);
	v[17] = r->last_error ? CStringGetTextDatum(r->last_error) : (Datum) 0;
	n[17] = r->last_error ? ' ' : 'n';
	sch_exec("UPDATE durable.schedules SET paused = $3, note = $4, remaining_actions = $5, "
			 "next_action_time = $6, next_nominal_time = $7, action_count = $8, "
			 "missed_catchup_window = $9, overlap_skipped = $10, running = $11::jsonb, "
			 "buffered = $12::jsonb, recent_actions = $13::jsonb, limited_actions = $16, "
			 "action_errors = $17, last_action_error = $18::jsonb, "
			 "update_time = pg_catalog.now() WHERE namespace = $1 AND schedule_id = $2",
			 18, types, v, n, 1);
	if (timer)
		sch_exec("INSERT INTO durable.timers (run_id, kind, timer_id, fire_time, workflow_id, namespace, attributes) "
				 "VALUES ($14::uuid, 'schedule', '', $6, $2, $1, "
				 "pg_catalog.jsonb_build_object('schedule_id', $2::text)) "
				 "ON CONFLICT (run_id, kind, timer_id) DO UPDATE SET fire_time = EXCLUDED.fire_time",
				 14, types, v, n, 1);
	else
		sch_exec("DELETE FROM durable.timers WHERE run_id = $14::uuid AND kind = 'schedule'",
				 14, types, v, n, 0);
	if (timer)
		dur_notify_timer(r->next_action);
}

/* Set next_nominal/next_action to the first time after t. */
static void
sch_set_next(SchRow *r, TimestampTz t)
{
	TimestampTz nom = sch_spec_next(r->parsed, t);

	r->has_next = nom != DT_NOEND;
	if (r->has_next)
	{
		r->next_nominal = nom;
		r->next_action = sch_jittered(r->parsed, r->id, nom);
	}
}

/*
 * Drop the runs that closed (follow continue-as-new and retries by id):
 * one statement, an index probe per workflow.
 */
static void
sch_refresh_running(SchRow *r)
{
	List	   *keep = NIL;
	ListCell   *lc;
	Datum	   *elems;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		v[2];
	uint64		i;

	if (r->running == NIL)
		return;
	elems = palloc(sizeof(Datum) * list_length(r->running));
	foreach(lc, r->running)
		elems[foreach_current_index(lc)] = CStringGetTextDatum(((SchRunning *) lfirst(lc))->workflow_id);
	v[0] = CStringGetTextDatum(r->ns);
	v[1] = PointerGetDatum(construct_array(elems, list_length(r->running), TEXTOID, -1, false, TYPALIGN_INT));
	sch_exec("SELECT w.workflow_id, w.run_id::text FROM pg_catalog.unnest($2) WITH ORDINALITY AS i(id, n) "
			 "JOIN durable.workflows w ON w.namespace = $1 AND w.workflow_id = i.id AND w.status = 'running' "
			 "ORDER BY i.n", 2, types, v, NULL, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		SchRunning *x = palloc(sizeof(SchRunning));

		x->workflow_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		x->run_id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		keep = lappend(keep, x);
	}
	r->running = keep;
}

static const char *
sch_overlap(SchRow *r, const char *given)
{
	const char *o = given ? given : dur_jsonb_get_text(r->policies, "overlap");

	if (o == NULL)
		return "skip";
	return dur_check_choice(o, "overlap policy", overlap_choices);
}

/* Cancel or terminate the running workflows (the timer service never waits for their locks). */
static void
sch_act_on_running(SchRow *r, bool terminate)
{
	ListCell   *lc;

	foreach(lc, r->running)
	{
		SchRunning *x = lfirst(lc);
		Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		v[4];

		if (r->engine)
		{
			pg_uuid_t  *u = DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(x->run_id)));

			if (!dur_try_lock_run(u))
				ereport(ERROR,
						(errcode(ERRCODE_DUR_SCHEDULE_BUSY),
						 errmsg("run %s of schedule \"%s\" is busy", x->run_id, r->id)));
		}
		v[0] = CStringGetTextDatum(x->workflow_id);
		v[1] = CStringGetTextDatum(psprintf("%s by schedule %s (overlap policy %s)",
											terminate ? "terminated" : "canceled", r->id,
											terminate ? "terminate_other" : "cancel_other"));
		v[2] = CStringGetTextDatum(x->run_id);
		v[3] = CStringGetTextDatum(r->ns);
		sch_exec(terminate ?
				 "SELECT durable.terminate_workflow($1, $2, $3::uuid, $4)" :
				 "SELECT durable.cancel_workflow($1, $2, $3::uuid, $4)",
				 4, types, v, NULL, 0);
	}
	if (terminate)
		r->running = NIL;
}

/* Count a schedule metric under the action's namespace and task queue. */
static void
sch_count(SchRow *r, DurCounter c)
{
	const char *queue = dur_jsonb_get_text(r->action, "task_queue");

	dur_metrics_count(r->ns, queue ? queue : "default", c, 1);
}

/* An action the overlap policy (or a running workflow id) dropped. */
static void
sch_skipped(SchRow *r)
{
	r->skipped++;
	sch_count(r, DUR_C_SCHEDULE_SKIPPED);
}

/*
 * The timer service's start of an action.  A start the action can no
 * longer make (a durable error, a data exception or a program limit: its
 * input over a payload limit lowered since, a search attribute registered
 * since with another type)
 * drops that action: it is counted and recorded in the schedule
 * (action_errors, last_action_error; metric
 * durable_schedule_action_errors_total) and a WARNING is logged, and the
 * schedule goes on to its next time, instead of the timer failing again
 * every minute.  Any other error (a lock, a cancel, shutdown) is raised:
 * the timer service puts the schedule off and tries again.  Returns what
 * dur_start returns; *dropped when the action was dropped.
 */
static pg_uuid_t *
sch_start_or_drop(SchRow *r, DurStartRequest *q, bool *existing, bool *dropped, TimestampTz nominal)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	pg_uuid_t  *run_id = NULL;

	*existing = false;
	*dropped = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		DurCall    *call = dur_call_begin();

		run_id = dur_start(call, q, existing);
		dur_call_end(call);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;
		int			class;
		StringInfoData j;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		class = ERRCODE_TO_CATEGORY(e->sqlerrcode);
		if (class != ERRCODE_TO_CATEGORY(MAKE_SQLSTATE('D', 'U', '0', '0', '0')) &&
			class != ERRCODE_DATA_EXCEPTION && class != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
			ReThrowError(e);	/* transient: the timer service tries again */

		r->errors++;
		sch_count(r, DUR_C_SCHEDULE_ACTION_ERROR);
		initStringInfo(&j);
		appendStringInfoChar(&j, '{');
		sch_json_str(&j, "time", sch_rfc3339(GetCurrentTimestamp()), false);
		sch_json_str(&j, "nominal_time", sch_rfc3339(nominal), true);
		sch_json_str(&j, "sqlstate", unpack_sql_state(e->sqlerrcode), true);
		sch_json_str(&j, "message", e->message, true);
		appendStringInfoChar(&j, '}');
		r->last_error = j.data;
		ereport(WARNING,
				(errmsg("schedule \"%s\" of namespace \"%s\" dropped its action of %s: %s",
						r->id, r->ns, sch_rfc3339(nominal), e->message),
				 e->detail ? errdetail_internal("%s", e->detail) : 0,
				 errhint("Fix the schedule's action with durable.update_schedule; describe_schedule shows the last error.")));
		FreeErrorData(e);
		run_id = NULL;
		*dropped = true;
	}
	PG_END_TRY();
	return run_id;
}

/* Start the action's workflow for a nominal time. */
static void
sch_start(SchRow *r, TimestampTz nominal, TimestampTz scheduled)
{
	DurStartRequest q;
	DurCall    *call;
	pg_uuid_t  *run_id;
	bool		existing;
	bool		dropped = false;
	char	   *prefix = dur_jsonb_get_text(r->action, "workflow_id");
	Jsonb	   *sa = dur_jsonb_get(r->action, "search_attributes");
	Jsonb	   *v;
	StringInfoData extra;
	Datum		sad;

	memset(&q, 0, sizeof(q));
	q.namespace = r->ns;
	q.workflow_type = dur_jsonb_get_text(r->action, "workflow_type");
	q.workflow_id = psprintf("%s-%s", prefix ? prefix : r->id, sch_rfc3339(nominal));
	q.task_queue = dur_jsonb_get_text(r->action, "task_queue");
	if (q.task_queue == NULL)
		q.task_queue = "default";
	v = dur_jsonb_get(r->action, "input");
	q.input = v ? JsonbPGetDatum(v) : (Datum) 0;
	q.execution_timeout = dur_json_duration(r->action, "execution_timeout", "action.execution_timeout",
											ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	q.run_timeout = dur_json_duration(r->action, "run_timeout", "action.run_timeout",
									  ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	q.task_timeout = dur_json_duration(r->action, "task_timeout", "action.task_timeout",
									   ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	if (q.task_timeout == NULL)
		q.task_timeout = dur_parse_interval("10 seconds", "task_timeout");
	q.reuse = "allow_duplicate";
	q.conflict = "fail";
	q.quiet_conflict = true;
	q.retry_policy = dur_jsonb_get(r->action, "retry_policy");
	v = dur_jsonb_get(r->action, "memo");
	q.memo = v ? JsonbPGetDatum(v) : (Datum) 0;
	initStringInfo(&extra);
	appendStringInfoChar(&extra, '{');
	sch_json_str(&extra, "TemporalScheduledById", r->id, false);
	sch_json_str(&extra, "TemporalScheduledStartTime", sch_rfc3339(scheduled), true);
	appendStringInfoChar(&extra, '}');
	sad = DirectFunctionCall1(jsonb_in, CStringGetDatum(extra.data));
	if (sa != NULL && JB_ROOT_IS_OBJECT(sa))
		sad = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(sa), sad);
	q.search_attributes = sad;
	q.identity = psprintf("schedule %s", r->id);
	if (r->engine)
		dur_namespace_payload_limit(r->ns);	/* not the last namespace the engine acted in */

	if (r->engine)
		run_id = sch_start_or_drop(r, &q, &existing, &dropped, nominal);
	else
	{
		/* a user's trigger or backfill: the caller sees the error */
		call = dur_call_begin();
		run_id = dur_start(call, &q, &existing);
		dur_call_end(call);
	}
	CommandCounterIncrement();
	if (run_id != NULL)
	{
		SchRunning *x = palloc(sizeof(SchRunning));
		SchRecent  *rc = palloc(sizeof(SchRecent));

		x->workflow_id = pstrdup(q.workflow_id);
		x->run_id = dur_uuid_text(run_id);
		r->running = lappend(r->running, x);
		rc->scheduled = scheduled;
		rc->actual = GetCurrentTimestamp();
		rc->workflow_id = x->workflow_id;
		rc->run_id = x->run_id;
		r->recent = lappend(r->recent, rc);
		r->action_count++;
		sch_count(r, DUR_C_SCHEDULE_ACTION);
		if (r->limited && r->remaining > 0)
			r->remaining--;
	}
	else if (!dropped)			/* (a dropped action is recorded already) */
		sch_skipped(r);			/* its workflow id is running: a backfill of a time already run */
}

static void
sch_buffer(SchRow *r, TimestampTz nominal, TimestampTz scheduled, const char *overlap)
{
	SchBuffered *b = palloc(sizeof(SchBuffered));

	b->nominal = nominal;
	b->scheduled = scheduled;
	b->overlap = pstrdup(overlap);
	r->buffered = lappend(r->buffered, b);
}

/* Take an action per the overlap policy. */
static void
sch_act(SchRow *r, TimestampTz nominal, TimestampTz scheduled, const char *overlap)
{
	if (r->limited && r->remaining <= 0)
		return;
	/* allow_all starts whatever runs: the closes keep the list short */
	if (strcmp(overlap, "allow_all") != 0)
		sch_refresh_running(r);
	if (r->running != NIL && strcmp(overlap, "allow_all") != 0)
	{
		if (strcmp(overlap, "skip") == 0)
		{
			sch_skipped(r);
			return;
		}
		if (strcmp(overlap, "buffer_one") == 0)
		{
			if (r->buffered != NIL)
				sch_skipped(r);
			else
				sch_buffer(r, nominal, scheduled, overlap);
			return;
		}
		if (strcmp(overlap, "buffer_all") == 0)
		{
			sch_buffer(r, nominal, scheduled, overlap);
			return;
		}
		if (strcmp(overlap, "cancel_other") == 0)
		{
			sch_act_on_running(r, false);
			sch_buffer(r, nominal, scheduled, overlap);
			return;
		}
		sch_act_on_running(r, true);	/* terminate_other */
	}
	sch_start(r, nominal, scheduled);
}

/* Start buffered actions while nothing runs (allow_all ones at once). */
static void
sch_drain(SchRow *r)
{
	while (r->buffered != NIL && !r->paused && !(r->limited && r->remaining <= 0))
	{
		SchBuffered *b = linitial(r->buffered);

		sch_refresh_running(r);
		if (r->running != NIL && strcmp(b->overlap, "allow_all") != 0)
			return;
		r->buffered = list_delete_first(r->buffered);
		sch_start(r, b->nominal, b->scheduled);
	}
}

/* Handle the due times up to now: catch-up window, overlap policy. */
static void
sch_run_due(SchRow *r, TimestampTz now)
{
	Interval   *cw = dur_json_duration(r->policies, "catchup_window", "catchup_window",
									   ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	int64		window = cw ? sch_usecs(cw, "catchup_window", true) : SCH_DEFAULT_CATCHUP_USECS;
	const char *overlap = sch_overlap(r, NULL);
	int			n = 0;

	sch_drain(r);
	while (r->has_next && r->next_action <= now && n++ < SCH_MAX_DUE)
	{
		TimestampTz nominal = r->next_nominal;
		TimestampTz scheduled = r->next_action;

		sch_set_next(r, nominal);
		if (r->paused || (r->limited && r->remaining <= 0))
			continue;
		if (scheduled < now - window)
		{
			r->missed++;
			sch_count(r, DUR_C_SCHEDULE_MISSED_CATCHUP);
		}
		else
			sch_act(r, nominal, scheduled, overlap);
	}
}

/* ------------------------------------------------------ engine entries */

/*
 * The schedule's timer fired (timers.c, under the schedule's lock, its
 * timer row already deleted).
 */
void
dur_schedule_fire(const char *ns, Jsonb *attributes)
{
	char	   *id = dur_jsonb_get_text(attributes, "schedule_id");
	SchRow		r;

	if (id == NULL)
		return;
	sch_spi_begin();
	if (sch_load(ns, id, &r))
	{
		r.engine = true;
		sch_run_due(&r, GetCurrentTimestamp());
		sch_save(&r);
	}
	sch_spi_end();
}

/*
 * Before a schedule's timer fires: can it act without waiting?  With
 * cancel_other or terminate_other it may act on its running workflows:
 * their locks are taken now, without waiting (kept to the end of the
 * transaction); false when one is busy, and nothing was written.
 */
bool
dur_schedule_ready(const char *ns, Jsonb *attributes)
{
	char	   *id = dur_jsonb_get_text(attributes, "schedule_id");
	SchRow		r;
	bool		ready = true;

	if (id == NULL)
		return true;
	sch_spi_begin();
	if (sch_load(ns, id, &r))
	{
		const char *o = sch_overlap(&r, NULL);

		if (strcmp(o, "cancel_other") == 0 || strcmp(o, "terminate_other") == 0)
		{
			ListCell   *lc;
			List	   *taken = NIL;

			sch_refresh_running(&r);
			foreach(lc, r.running)
			{
				SchRunning *x = lfirst(lc);
				pg_uuid_t  *u = DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(x->run_id)));

				if (!dur_try_lock_run(u))
				{
					ready = false;
					break;
				}
				taken = lappend(taken, u);
			}
			/* passed over: give back what was taken (nothing was written) */
			if (!ready)
				foreach(lc, taken)
					dur_unlock_run(lfirst(lc));
		}
	}
	sch_spi_end();
	return ready;
}

/* Is this run one a schedule started?  Its schedule id, or NULL. */
char *
dur_schedule_of_run(Datum search_attributes)
{
	Jsonb	   *sa;

	/* the common case, {} (one container header), without detoasting */
	if (VARSIZE_ANY_EXHDR(DatumGetPointer(search_attributes)) <= sizeof(uint32))
		return NULL;
	sa = DatumGetJsonbP(search_attributes);
	if (JB_ROOT_COUNT(sa) == 0)
		return NULL;
	return dur_jsonb_get_text(sa, "TemporalScheduledById");
}

/*
 * A run a schedule started closed (its 'schedule_closed' timer fired,
 * under the closed run's lock): start buffered actions, apply
 * pause_on_failure.  False when the schedule's lock is busy.
 */
bool
dur_schedule_run_closed(const char *ns, const char *id, const char *workflow_id,
						const char *status)
{
	SchRow		r;
	pg_uuid_t	key;

	sch_key(ns, id, &key);
	if (!dur_try_lock_run(&key))
		return false;
	sch_spi_begin();
	if (sch_load(ns, id, &r))
	{
		char	   *pof = dur_jsonb_get_text(r.policies, "pause_on_failure");

		r.engine = true;
		if (pof != NULL && strcmp(pof, "true") == 0 &&
			(strcmp(status, "failed") == 0 || strcmp(status, "timed_out") == 0))
		{
			r.paused = true;
			r.note = psprintf("paused: workflow %s %s (pause_on_failure)", workflow_id, status);
		}
		sch_refresh_running(&r);
		sch_drain(&r);
		sch_save(&r);
	}
	sch_spi_end();
	return true;
}

/* ------------------------------------------------------- SQL functions */

static char *
sch_arg_id(FunctionCallInfo fcinfo, int n)
{
	char	   *id;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule_id must not be NULL")));
	id = text_to_cstring(PG_GETARG_TEXT_PP(n));
	dur_check_id(id, "schedule_id");
	if (id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule_id must not be empty")));
	return id;
}

static void
sch_not_found(const char *ns, const char *id)
{
	ereport(ERROR,
			(errcode(ERRCODE_DUR_SCHEDULE_NOT_FOUND),
			 errmsg("schedule \"%s\" not found", id),
			 errdetail("Namespace %s has no schedule of this id.", ns),
			 errhint("durable.schedules lists the schedules.")));
}

/* Lock and read a schedule for a client function (inside SPI). */
static void
sch_client_load(const char *ns, const char *id, SchRow *r)
{
	pg_uuid_t	key;

	sch_key(ns, id, &key);
	dur_lock_run(&key);
	if (!sch_load(ns, id, r))
		sch_not_found(ns, id);
}

static void
sch_check_action(Jsonb *action, const char *ns)
{
	static const char *const keys[] = {
		"workflow_type", "workflow_id", "task_queue", "input", "execution_timeout",
		"run_timeout", "task_timeout", "retry_policy", "memo", "search_attributes", NULL
	};
	char	   *k;
	char	   *wt;

	if (action == NULL || !JB_ROOT_IS_OBJECT(action))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action must be a JSON object")));
	k = dur_jsonb_unknown_key(action, keys);
	if (k != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown action field \"%s\"", k),
				 errhint("See docs/schedules.md \"Action\".")));
	wt = dur_jsonb_get_text(action, "workflow_type");
	if (wt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action.workflow_type is required")));
	dur_check_id(wt, "action.workflow_type");
	(void) dur_json_duration(action, "execution_timeout", "action.execution_timeout", ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	(void) dur_json_duration(action, "run_timeout", "action.run_timeout", ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	(void) dur_json_duration(action, "task_timeout", "action.task_timeout", ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	if (dur_jsonb_get(action, "retry_policy") != NULL)
		(void) dur_retry_policy(dur_jsonb_get(action, "retry_policy"), "action.retry_policy");
	/* the namespace's payload limit (set by dur_namespace_require), as each start checks it */
	if (dur_jsonb_get(action, "input") != NULL)
		dur_check_payload(JsonbPGetDatum(dur_jsonb_get(action, "input")), "action.input");
	if (dur_jsonb_get(action, "memo") != NULL)
		dur_check_payload(JsonbPGetDatum(dur_jsonb_get(action, "memo")), "action.memo");
	if (dur_jsonb_get(action, "search_attributes") != NULL)
		dur_check_payload(JsonbPGetDatum(dur_jsonb_get(action, "search_attributes")), "action.search_attributes");
	if (dur_jsonb_get(action, "search_attributes") != NULL)
	{
		/* registered keys' types (indexes.c), as the starts will check them */
		DurCall    *call = dur_call_begin();

		dur_call_snapshot(call);
		dur_check_search_attributes(call, ns, dur_jsonb_get(action, "search_attributes"));
		dur_call_end(call);
	}
}

static Jsonb *
sch_check_policies(Jsonb *p)
{
	Interval   *cw;

	if (p == NULL)
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (!JB_ROOT_IS_OBJECT(p))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policies must be a JSON object")));
	if (dur_jsonb_get_text(p, "overlap") != NULL)
		(void) dur_check_choice(dur_jsonb_get_text(p, "overlap"), "overlap policy", overlap_choices);
	cw = dur_json_duration(p, "catchup_window", "catchup_window", ERRCODE_INVALID_PARAMETER_VALUE, NULL);
	if (cw != NULL && sch_usecs(cw, "catchup_window", true) < 10 * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("catchup_window must be at least 10 seconds"),
				 errdetail("As Temporal's minimum.")));
	return p;
}

static void
sch_write_def(const char *ns, const char *id, Jsonb *spec, Jsonb *action, Jsonb *policies, bool insert)
{
	Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, JSONBOID, JSONBOID};
	Datum		v[5];

	v[0] = CStringGetTextDatum(ns);
	v[1] = CStringGetTextDatum(id);
	v[2] = JsonbPGetDatum(spec);
	v[3] = JsonbPGetDatum(action);
	v[4] = JsonbPGetDatum(policies);
	if (insert)
		sch_exec("INSERT INTO durable.schedules (namespace, schedule_id, spec, action, policies) "
				 "VALUES ($1, $2, $3, $4, $5)", 5, types, v, NULL, 1);
	else
		sch_exec("UPDATE durable.schedules SET spec = $3, action = $4, policies = $5 "
				 "WHERE namespace = $1 AND schedule_id = $2", 5, types, v, NULL, 1);
}

Datum
create_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 5);
	char	   *id;
	Jsonb	   *spec;
	Jsonb	   *action;
	Jsonb	   *policies;
	Jsonb	   *state;
	pg_uuid_t	key;
	SchRow		r;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		v[2];

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	dur_require_not_null(PG_ARGISNULL(1), "spec");
	dur_require_not_null(PG_ARGISNULL(2), "action");
	spec = PG_GETARG_JSONB_P(1);
	action = PG_GETARG_JSONB_P(2);
	policies = sch_check_policies(PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3));
	state = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	(void) sch_parse_spec(spec);
	sch_check_action(action, ns);
	if (state != NULL && !JB_ROOT_IS_OBJECT(state))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state must be a JSON object")));

	sch_key(ns, id, &key);
	dur_lock_run(&key);
	sch_spi_begin();
	v[0] = CStringGetTextDatum(ns);
	v[1] = CStringGetTextDatum(id);
	sch_exec("SELECT 1 FROM durable.schedules WHERE namespace = $1 AND schedule_id = $2",
			 2, types, v, NULL, 0);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUR_SCHEDULE_EXISTS),
				 errmsg("schedule \"%s\" already exists", id),
				 errdetail("Namespace %s has a schedule of this id.", ns),
				 errhint("Use durable.update_schedule to change it, or another id.")));
	sch_write_def(ns, id, spec, action, policies, true);
	if (!sch_load(ns, id, &r))
		elog(ERROR, "durable: schedule \"%s\" vanished", id);
	if (state != NULL)
	{
		char	   *t;

		r.paused = (t = dur_jsonb_get_text(state, "paused")) != NULL && strcmp(t, "true") == 0;
		r.note = dur_jsonb_get_text(state, "note");
		r.limited = (t = dur_jsonb_get_text(state, "limited_actions")) != NULL && strcmp(t, "true") == 0;
		t = dur_jsonb_get_text(state, "remaining_actions");
		r.remaining = t ? strtoi64(t, NULL, 10) : 0;
		if (r.remaining < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("remaining_actions must not be negative")));
		if (r.limited != (t != NULL) && r.limited)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("limited_actions needs remaining_actions")));
		if (!r.limited && t != NULL)
			r.limited = true;
	}
	sch_set_next(&r, GetCurrentTimestamp());
	sch_save(&r);
	sch_spi_end();
	PG_RETURN_VOID();
}

Datum
update_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 4);
	char	   *id;
	Jsonb	   *spec;
	Jsonb	   *action;
	Jsonb	   *policies;
	SchRow		r;

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	dur_require_not_null(PG_ARGISNULL(1), "spec");
	dur_require_not_null(PG_ARGISNULL(2), "action");
	spec = PG_GETARG_JSONB_P(1);
	action = PG_GETARG_JSONB_P(2);
	policies = sch_check_policies(PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3));
	(void) sch_parse_spec(spec);
	sch_check_action(action, ns);
	sch_spi_begin();
	sch_client_load(ns, id, &r);
	sch_write_def(ns, id, spec, action, policies, false);
	sch_load(ns, id, &r);
	sch_set_next(&r, GetCurrentTimestamp());
	sch_save(&r);
	sch_spi_end();
	PG_RETURN_VOID();
}

static void
sch_pause(FunctionCallInfo fcinfo, bool pause)
{
	char	   *ns = dur_namespace_arg(fcinfo, 2);
	char	   *id;
	SchRow		r;

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	sch_spi_begin();
	sch_client_load(ns, id, &r);
	r.note = PG_ARGISNULL(1) ? (pause ? "paused" : "unpaused") : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!pause && r.paused)
		sch_set_next(&r, GetCurrentTimestamp());	/* what passed while paused is not caught up */
	r.paused = pause;
	if (!pause)
		sch_drain(&r);
	sch_save(&r);
	sch_spi_end();
}

Datum
pause_schedule(PG_FUNCTION_ARGS)
{
	sch_pause(fcinfo, true);
	PG_RETURN_VOID();
}

Datum
unpause_schedule(PG_FUNCTION_ARGS)
{
	sch_pause(fcinfo, false);
	PG_RETURN_VOID();
}

Datum
trigger_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 2);
	char	   *id;
	SchRow		r;
	const char *overlap;
	TimestampTz now = GetCurrentTimestamp();

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	sch_spi_begin();
	sch_client_load(ns, id, &r);
	overlap = sch_overlap(&r, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	/* a whole millisecond: the workflow id carries it */
	now -= now % 1000;
	sch_act(&r, now, now, overlap);
	sch_save(&r);
	sch_spi_end();
	PG_RETURN_VOID();
}

Datum
backfill_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 4);
	char	   *id;
	SchRow		r;
	const char *overlap;
	TimestampTz from,
				to,
				t;
	int			n = 0;

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	dur_require_not_null(PG_ARGISNULL(1), "start_time");
	dur_require_not_null(PG_ARGISNULL(2), "end_time");
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	if (to < from)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_time must not be before start_time")));
	sch_spi_begin();
	sch_client_load(ns, id, &r);
	overlap = sch_overlap(&r, PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)));
	/* the range given is the range: start_at and end_at aside */
	r.parsed->start_at = DT_NOBEGIN;
	r.parsed->end_at = DT_NOEND;
	for (t = sch_spec_next(r.parsed, from - 1); t != DT_NOEND && t <= to;
		 t = sch_spec_next(r.parsed, t))
	{
		if (++n > SCH_MAX_DUE)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a backfill covers at most %d times", SCH_MAX_DUE),
					 errhint("Backfill a shorter range at a time.")));
		sch_act(&r, t, t, overlap);
	}
	sch_save(&r);
	sch_spi_end();
	PG_RETURN_VOID();
}

Datum
delete_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 1);
	char	   *id;
	SchRow		r;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		v[3];

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	sch_spi_begin();
	sch_client_load(ns, id, &r);
	v[0] = CStringGetTextDatum(ns);
	v[1] = CStringGetTextDatum(id);
	v[2] = CStringGetTextDatum(dur_uuid_text(&r.key));
	sch_exec("DELETE FROM durable.schedules WHERE namespace = $1 AND schedule_id = $2",
			 2, types, v, NULL, 1);
	sch_exec("DELETE FROM durable.timers WHERE run_id = $3::uuid AND kind = 'schedule'", 3, types, v, NULL, 0);
	sch_spi_end();
	PG_RETURN_VOID();
}

Datum
describe_schedule(PG_FUNCTION_ARGS)
{
	char	   *ns = dur_namespace_arg(fcinfo, 1);
	char	   *id;
	SchRow		r;
	StringInfoData b;
	ListCell   *lc;
	Jsonb	   *result;
	int			i;
	TimestampTz t;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		v[2];

	dur_namespace_require(ns, DUR_CAP_CLIENT);
	id = sch_arg_id(fcinfo, 0);
	sch_spi_begin();
	if (!sch_load(ns, id, &r))
		sch_not_found(ns, id);
	sch_refresh_running(&r);
	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	sch_json_str(&b, "schedule_id", id, false);
	appendStringInfo(&b, ",\"spec\":%s", JsonbToCString(NULL, &r.spec->root, VARSIZE(r.spec)));
	appendStringInfo(&b, ",\"action\":%s", JsonbToCString(NULL, &r.action->root, VARSIZE(r.action)));
	appendStringInfo(&b, ",\"policies\":%s", JsonbToCString(NULL, &r.policies->root, VARSIZE(r.policies)));
	appendStringInfo(&b, ",\"state\":{\"paused\":%s", r.paused ? "true" : "false");
	sch_json_str(&b, "note", r.note, true);
	appendStringInfo(&b, ",\"limited_actions\":%s,\"remaining_actions\":" INT64_FORMAT "}",
					 r.limited ? "true" : "false", r.remaining);
	appendStringInfo(&b, ",\"info\":{\"action_count\":" INT64_FORMAT ",\"missed_catchup_window\":"
					 INT64_FORMAT ",\"overlap_skipped\":" INT64_FORMAT ",\"buffered\":%d"
					 ",\"action_errors\":" INT64_FORMAT ",\"last_action_error\":%s",
					 r.action_count, r.missed, r.skipped, list_length(r.buffered),
					 r.errors, r.last_error ? r.last_error : "null");
	appendStringInfoString(&b, ",\"running_workflows\":[");
	foreach(lc, r.running)
	{
		SchRunning *x = lfirst(lc);

		appendStringInfoString(&b, foreach_current_index(lc) > 0 ? ",{" : "{");
		sch_json_str(&b, "workflow_id", x->workflow_id, false);
		sch_json_str(&b, "run_id", x->run_id, true);
		appendStringInfoChar(&b, '}');
	}
	appendStringInfoString(&b, "],\"recent_actions\":[");
	foreach(lc, r.recent)
	{
		SchRecent  *x = lfirst(lc);
		Oid			t1[1] = {TEXTOID};
		Datum		v1[1];
		char	   *status = NULL;

		v1[0] = CStringGetTextDatum(x->run_id);
		sch_exec("SELECT status FROM durable.workflows WHERE run_id = $1::uuid", 1, t1, v1, NULL, 0);
		if (SPI_processed > 0)
			status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		appendStringInfoString(&b, foreach_current_index(lc) > 0 ? ",{" : "{");
		sch_json_str(&b, "scheduled_time", sch_rfc3339(x->scheduled), false);
		sch_json_str(&b, "actual_time", sch_rfc3339(x->actual), true);
		sch_json_str(&b, "workflow_id", x->workflow_id, true);
		sch_json_str(&b, "run_id", x->run_id, true);
		sch_json_str(&b, "status", status, true);
		appendStringInfoChar(&b, '}');
	}
	appendStringInfoString(&b, "],\"next_action_times\":[");
	if (r.has_next && !(r.limited && r.remaining <= 0))
	{
		for (i = 0, t = r.next_nominal; i < 10 && t != DT_NOEND; i++, t = sch_spec_next(r.parsed, t))
		{
			if (i > 0)
				appendStringInfoChar(&b, ',');
			escape_json(&b, sch_rfc3339(sch_jittered(r.parsed, r.id, t)));
		}
	}
	appendStringInfoChar(&b, ']');
	v[0] = CStringGetTextDatum(ns);
	v[1] = CStringGetTextDatum(id);
	sch_exec("SELECT pg_catalog.to_json(create_time)::text, pg_catalog.to_json(update_time)::text "
			 "FROM durable.schedules WHERE namespace = $1 AND schedule_id = $2", 2, types, v, NULL, 1);
	appendStringInfo(&b, ",\"create_time\":%s,\"update_time\":%s}}",
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
	result = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(result), false, -1);
	sch_spi_end();
	PG_RETURN_JSONB_P(result);
}

/*
 * schedule_spec_times(spec jsonb, after timestamptz, count integer)
 * returns timestamptz[]: the spec's next count times after "after"
 * (without jitter): what a spec means, checked as create_schedule checks it.
 */
Datum
schedule_spec_times(PG_FUNCTION_ARGS)
{
	SchSpec    *s;
	TimestampTz t;
	int			count;
	int			i;
	Datum	   *out;

	dur_require_not_null(PG_ARGISNULL(0), "spec");
	dur_require_not_null(PG_ARGISNULL(1), "after");
	s = sch_parse_spec(PG_GETARG_JSONB_P(0));
	t = PG_GETARG_TIMESTAMPTZ(1);
	count = PG_ARGISNULL(2) ? 10 : PG_GETARG_INT32(2);
	if (count < 0 || count > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must be between 0 and 1000")));
	out = palloc(sizeof(Datum) * Max(count, 1));
	for (i = 0; i < count; i++)
	{
		t = sch_spec_next(s, t);
		if (t == DT_NOEND)
			break;
		out[i] = TimestampTzGetDatum(t);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, i, TIMESTAMPTZOID, sizeof(TimestampTz), true, TYPALIGN_DOUBLE));
}
