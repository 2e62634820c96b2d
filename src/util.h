/*-------------------------------------------------------------------------
 *
 * util.h
 *	  Input checks, tokens, failures and retry policies.
 *
 * See util.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_UTIL_H
#define DURABLE_UTIL_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "jsonw.h"

/* Longest workflow, activity, timer or request id, in bytes. */
#define DUR_MAX_ID_BYTES	1000

/* durable's own SQLSTATEs (class DU) */
#define ERRCODE_DUR_NOT_FOUND			MAKE_SQLSTATE('D','U','0','0','1')
#define ERRCODE_DUR_ALREADY_STARTED		MAKE_SQLSTATE('D','U','0','0','2')
#define ERRCODE_DUR_NOT_RUNNING			MAKE_SQLSTATE('D','U','0','0','3')
#define ERRCODE_DUR_STALE_TOKEN			MAKE_SQLSTATE('D','U','0','0','4')
#define ERRCODE_DUR_BAD_COMMAND			MAKE_SQLSTATE('D','U','0','0','5')
#define ERRCODE_DUR_DUPLICATE_ID		MAKE_SQLSTATE('D','U','0','0','6')
#define ERRCODE_DUR_STILL_RUNNING		MAKE_SQLSTATE('D','U','0','0','7')
#define ERRCODE_DUR_ACTIVITY_NOT_FOUND	MAKE_SQLSTATE('D','U','0','0','8')
#define ERRCODE_DUR_NAMESPACE_NOT_FOUND	MAKE_SQLSTATE('D','U','0','0','9')
#define ERRCODE_DUR_FAILED				MAKE_SQLSTATE('D','U','0','1','0')
#define ERRCODE_DUR_CANCELED			MAKE_SQLSTATE('D','U','0','1','1')
#define ERRCODE_DUR_TERMINATED			MAKE_SQLSTATE('D','U','0','1','2')
#define ERRCODE_DUR_TIMED_OUT			MAKE_SQLSTATE('D','U','0','1','3')
#define ERRCODE_DUR_QUERY_FAILED		MAKE_SQLSTATE('D','U','0','2','0')
#define ERRCODE_DUR_QUERY_TIMEOUT		MAKE_SQLSTATE('D','U','0','2','1')
/* admin.c: retention's pg_cron job */
#define ERRCODE_DUR_NO_PG_CRON			MAKE_SQLSTATE('D','U','0','4','5')
/* indexes.c: search attributes and site indexes */
#define ERRCODE_DUR_SEARCH_ATTRIBUTE_TYPE	MAKE_SQLSTATE('D','U','0','5','0')
#define ERRCODE_DUR_SEARCH_ATTRIBUTE_REGISTRATION	MAKE_SQLSTATE('D','U','0','5','1')
#define ERRCODE_DUR_SEARCH_ATTRIBUTE_NOT_FOUND	MAKE_SQLSTATE('D','U','0','5','2')
#define ERRCODE_DUR_SITE_INDEX_DEFINITION	MAKE_SQLSTATE('D','U','0','5','3')
#define ERRCODE_DUR_SITE_INDEX_NOT_FOUND	MAKE_SQLSTATE('D','U','0','5','4')

/* Unix epoch in PostgreSQL's microseconds (tokens count from 1970). */
#define DUR_UNIX_EPOCH_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC)

/* A task token, split. */
typedef struct DurToken
{
	char		kind;			/* 'w', 'a' or 'q' */
	pg_uuid_t	run_id;
	int64		n1;				/* w: wft_seq; a: scheduled event id; q: query id */
	int64		n2;				/* w: started event id; a: attempt */
	int64		n3;				/* w, a: started time, microseconds since 1970 */
	bool		legacy;			/* unsigned, as durable 0.1 and 0.2 made them */
} DurToken;

/* A failure object, checked and filled in. */
typedef struct DurFailure
{
	const char *message;
	const char *type;			/* NULL: JSON null */
	bool		non_retryable;
	Jsonb	   *details;		/* NULL: JSON null */
	Jsonb	   *stack_trace;	/* NULL: absent */
	Jsonb	   *cause;			/* NULL: absent */
	Jsonb	   *timeout_type;	/* NULL: absent */
	Interval   *next_retry_delay;	/* NULL: absent (the policy's backoff) */
} DurFailure;

/* A retry policy, normalised. */
typedef struct DurRetryPolicy
{
	Interval   *initial;
	Interval   *maximum;
	Datum		coefficient;	/* numeric */
	int32		maximum_attempts;
	Jsonb	   *non_retryable_types;	/* array of strings */
} DurRetryPolicy;

/* Retry states, as Temporal names them. */
#define DUR_RETRY_IN_PROGRESS		"IN_PROGRESS"
#define DUR_RETRY_NON_RETRYABLE		"NON_RETRYABLE_FAILURE"
#define DUR_RETRY_TIMEOUT			"TIMEOUT"
#define DUR_RETRY_MAX_ATTEMPTS		"MAXIMUM_ATTEMPTS_REACHED"
#define DUR_RETRY_NOT_SET			"RETRY_POLICY_NOT_SET"
#define DUR_RETRY_CANCEL_REQUESTED	"CANCEL_REQUESTED"

extern void dur_check_id(const char *value, const char *what);
extern void dur_check_payload(Datum value, const char *what);
/*
 * The longest duration an argument, a command or a retry policy may give
 * (100 years): every deadline computed from one is a valid timestamp, and
 * its microseconds fit in an int64 with room to spare.
 */
#define DUR_MAX_DURATION_MONTHS	1200

extern Interval *dur_parse_interval(const char *str, const char *what);
extern Interval *dur_json_duration(Jsonb *obj, const char *key, const char *what,
								   int type_errcode, const char *detail);
extern void dur_check_interval(const Interval *value, const char *what, bool positive);
extern const char *dur_check_choice(const char *value, const char *what,
									const char *const *choices);
extern void dur_require_not_null(bool isnull, const char *what);
extern int	dur_interval_cmp(const Interval *a, const Interval *b);
extern double dur_interval_usecs(const Interval *iv);
extern bool dur_interval_is_zero(const Interval *iv);
extern TimestampTz dur_time_plus(TimestampTz t, const Interval *iv);
extern Interval *dur_interval_min(Interval *a, Interval *b);

extern void dur_parse_token(const char *token, char kind, DurToken *tok);
extern void dur_stale(const char *token, const char *why) pg_attribute_noreturn();
extern char *dur_token(char kind, const pg_uuid_t *run, int64 n1, int64 n2, int64 n3);
struct DurRow;
extern void dur_check_legacy_token(const char *token, const DurToken *tok,
								   const struct DurRow *task);
extern char *dur_activity_token(const pg_uuid_t *run, int64 seid, int32 attempt,
								TimestampTz started);
extern char *dur_uuid_text(const pg_uuid_t *u);

extern void dur_failure(Jsonb *f, const char *what, DurFailure *out);
extern void dur_failure_fields(const DurFailure *f, DurJsonObj *o);
extern Jsonb *dur_failure_jsonb(const DurFailure *f);
extern void dur_failure_read(Jsonb *stored, DurFailure *out);

extern Jsonb *dur_retry_policy(Jsonb *p, const char *what);
extern Jsonb *dur_default_retry_policy(void);
extern const char *dur_retry_backoff(Jsonb *policy, int32 attempt, const DurFailure *failure,
									 TimestampTz expiration, bool has_expiration,
									 bool cancel_requested, Interval **backoff);

extern Jsonb *dur_jsonb_get(Jsonb *obj, const char *key);
extern char *dur_jsonb_get_text(Jsonb *obj, const char *key);
extern const char *dur_jsonb_typeof(Jsonb *value);
extern char *dur_jsonb_unknown_key(Jsonb *object, const char *const *keys);
extern char *dur_session_user(void);
extern int	dur_spi_execute(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
							bool read_only, long count);
extern int	dur_spi_exec(const char *sql, int nargs, const char *a1, const char *a2, const char *a3,
						 const char *a4);

#endif							/* DURABLE_UTIL_H */
