/*
 * bench/worker.c -- the engine-only benchmark worker for durable.
 *
 * A deliberately thin worker on libpq: K threads, one connection each,
 * long-poll durable.poll_task and complete every task at once, taking the
 * tasks each completion hands back (eager dispatch: chain activities are
 * scheduled with request_eager_execution, completions pass
 * return_workflow_task; --no-eager turns both off); S starter
 * threads start workflows with durable.start_workflow (one transaction per
 * start).  All statements are prepared.  The "workflow code" is a few lines
 * of C that look at the history text:
 *
 *   chain    count ActivityTaskCompleted in the history: schedule the next
 *            activity, or complete the workflow after --activities of them
 *   fanout   first task: schedule --fanout activities at once; later tasks:
 *            complete the workflow once all completed, else no commands
 *   timer    first task: start a timer that fires at input.fire_at_ms
 *            (epoch ms); after TimerFired: complete the workflow
 *   latency  chain, but one workflow at a time: the starter starts one,
 *            waits for its result (durable.workflow_result(wait)), and
 *            records start -> first activity claimed and start -> result
 *   start    only start workflows (no worker threads needed)
 *
 * Prints one JSON object on stdout.  Run with --help for the options.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

enum mode { M_CHAIN, M_FANOUT, M_TIMER, M_LATENCY, M_START };

static struct {
	const char *dsn;
	enum mode	mode;
	const char *queue;
	const char *type;
	const char *prefix;
	const char *input;
	int			workers;
	int			starters;
	long		n;				/* workflows to start (and to see closed) */
	long		expect;			/* closes to wait for when not starting (-s 0) */
	int			activities;
	int			fanout;
	double		rate;			/* starts per second, 0 = unbounded */
	long		inflight;		/* max started-not-closed, 0 = unbounded */
	double		duration;		/* start for this many seconds (soak), 0 = use n */
	double		timeout;
	double		interval;		/* seconds per sample of the closes series */
	const char *poll_wait;
	int			eager;			/* ask for tasks in completions' results */
} o = {
	.dsn = "", .mode = M_CHAIN, .queue = "default", .type = "chain3", .prefix = "w",
	.input = NULL, .workers = 8, .starters = 2, .n = 2000, .expect = 0, .activities = 3,
	.fanout = 1000, .rate = 0, .inflight = 0, .duration = 0, .timeout = 600, .interval = 1.0,
	.poll_wait = "5 seconds", .eager = 1,
};

static atomic_long next_start;	/* next index to start */
static atomic_long started;		/* starts committed */
static atomic_long closed;		/* complete_workflow commands committed */
static atomic_long n_wft, n_act, n_eager, n_empty, n_errors, n_late_timers, n_monitor;
static atomic_int stop_workers, stop_starters;
static double t_begin;

/* latency mode: the workflow in flight and when its first activity was claimed */
static pthread_mutex_t lat_mu = PTHREAD_MUTEX_INITIALIZER;
static char lat_wid[128];
static double lat_t_act;

typedef struct {
	int			id;
	pthread_t	th;
	PGconn	   *conn;
	PGcancel   *cancel;
	int			backend_pid;
	double		backend_cpu;	/* seconds, read from /proc before disconnecting */
	/* latency mode (starter 0) */
	double	   *lat_first, *lat_closed;
	long		lat_n;
} Thread;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t) s;
	ts.tv_nsec = (long) ((s - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
die(const char *what, PGconn *c)
{
	fprintf(stderr, "worker: %s: %s\n", what, c ? PQerrorMessage(c) : "");
	exit(1);
}

static double
proc_cpu(int pid)
{
	char		path[64], buf[2048], *p;
	FILE	   *f;
	unsigned long ut = 0, st = 0;
	int			i;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(buf, sizeof buf, f))
	{
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2;						/* field 3: state */
	for (i = 3; i < 14 && p; i++)
	{
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		sscanf(p, "%lu %lu", &ut, &st);
	return (double) (ut + st) / sysconf(_SC_CLK_TCK);
}

static PGconn *
connect_db(Thread *t)
{
	PGconn	   *c = PQconnectdb(o.dsn);
	PGresult   *r;

	if (PQstatus(c) != CONNECTION_OK)
		die("connect", c);
	t->conn = c;
	t->cancel = PQgetCancel(c);
	t->backend_pid = PQbackendPID(c);
	r = PQexec(c, "SET application_name = 'durable-bench'");
	PQclear(r);
	return c;
}

static void
disconnect_db(Thread *t)
{
	t->backend_cpu = proc_cpu(t->backend_pid);
	if (t->cancel)
		PQfreeCancel(t->cancel);
	PQfinish(t->conn);
}

static void
prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
	PGresult   *r = PQprepare(c, name, sql, nparams, NULL);

	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die(name, c);
	PQclear(r);
}

static long
count_str(const char *hay, const char *needle)
{
	long		n = 0;
	size_t		l = strlen(needle);

	while ((hay = strstr(hay, needle)) != NULL)
	{
		n++;
		hay += l;
	}
	return n;
}

static int
exec_ok(PGconn *c, const char *stmt, int n, const char *const *vals, const char *what)
{
	PGresult   *r = PQexecPrepared(c, stmt, n, vals, NULL, NULL, 0);
	int			ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
	{
		atomic_fetch_add(&n_errors, 1);
		if (!atomic_load(&stop_workers))
			fprintf(stderr, "worker: %s: %s", what, PQerrorMessage(c));
	}
	PQclear(r);
	return ok;
}

typedef struct Task Task;
static long parse_tasks(const char *res, Task **head, Task **tail);

/*
 * Run a completion; on success, append the tasks its result handed out (if
 * any) to the thread's list.  Returns 1 on success.
 */
static int
exec_tasks(PGconn *c, const char *stmt, int n, const char *const *vals, const char *what,
		   Task **head, Task **tail)
{
	PGresult   *r = PQexecPrepared(c, stmt, n, vals, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		atomic_fetch_add(&n_errors, 1);
		if (!atomic_load(&stop_workers))
			fprintf(stderr, "worker: %s: %s", what, PQerrorMessage(c));
		PQclear(r);
		return 0;
	}
	if (!PQgetisnull(r, 0, 0))
		atomic_fetch_add(&n_eager, parse_tasks(PQgetvalue(r, 0, 0), head, tail));
	PQclear(r);
	return 1;
}

/* Build the workflow task's commands; returns 1 when they close the workflow. */
static int
decide(const char *history, const char *input, char **cmds, size_t *cap)
{
	char	   *b = *cmds;

	switch (o.mode)
	{
		case M_CHAIN:
		case M_LATENCY:
			{
				long		done = count_str(history, "\"ActivityTaskCompleted\"");

				if (done < o.activities)
				{
					snprintf(b, *cap, "[{\"type\": \"schedule_activity\", \"activity_id\": \"%ld\", "
							 "\"activity_type\": \"step\", \"input\": %ld, "
							 "\"start_to_close_timeout\": \"30 seconds\"%s}]", done + 1, done + 1,
							 o.eager ? ", \"request_eager_execution\": true" : "");
					return 0;
				}
				snprintf(b, *cap, "[{\"type\": \"complete_workflow\", \"result\": %ld}]", done);
				return 1;
			}
		case M_FANOUT:
			if (!strstr(history, "\"ActivityTaskScheduled\""))
			{
				size_t		need = (size_t) o.fanout * 160 + 16, len;
				int			i;

				if (need > *cap)
				{
					*cap = need;
					*cmds = b = realloc(b, need);
				}
				len = snprintf(b, *cap, "[");
				for (i = 1; i <= o.fanout; i++)
					len += snprintf(b + len, *cap - len,
									"%s{\"type\": \"schedule_activity\", \"activity_id\": \"%d\", "
									"\"activity_type\": \"step\", \"input\": %d, "
									"\"start_to_close_timeout\": \"60 seconds\"}", i > 1 ? ", " : "", i, i);
				snprintf(b + len, *cap - len, "]");
				return 0;
			}
			if (count_str(history, "\"ActivityTaskCompleted\"") >= o.fanout)
			{
				snprintf(b, *cap, "[{\"type\": \"complete_workflow\", \"result\": %d}]", o.fanout);
				return 1;
			}
			snprintf(b, *cap, "[]");
			return 0;
		case M_TIMER:
			if (!strstr(history, "\"TimerFired\""))
			{
				const char *p = input ? strstr(input, "fire_at_ms") : NULL;
				long long	at = p ? strtoll(p + 12, NULL, 10) : 0;
				long long	ms = at - (long long) (now_s() * 1000);

				if (ms < 50)
				{
					atomic_fetch_add(&n_late_timers, 1);
					if (ms < 1)
						ms = 1;
				}
				snprintf(b, *cap, "[{\"type\": \"start_timer\", \"timer_id\": \"t\", "
						 "\"duration\": \"%lld milliseconds\"}]", ms);
				return 0;
			}
			snprintf(b, *cap, "[{\"type\": \"complete_workflow\"}]");
			return 1;
		default:
			snprintf(b, *cap, "[]");
			return 0;
	}
}

/* A task a worker thread holds: polled, or handed out by a completion. */
struct Task {
	char	   *token;
	char	   *kind;
	char	   *wid;
	char	   *aid;			/* NULL for workflow tasks */
	char	   *history;		/* JSON text; NULL for activity tasks */
	char	   *input;
	struct Task *next;
};

static char *
dup_or_null(const char *s, size_t n)
{
	char	   *d;

	if (s == NULL)
		return NULL;
	d = malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/*
 * The raw JSON text of field key of the object in [obj, end), up to the
 * field that follows it in durable.task (to_json keeps the type's order).
 */
static char *
json_span(const char *obj, const char *end, const char *key, const char *next_key)
{
	char		pat[64];
	const char *v, *e;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	v = strstr(obj, pat);
	if (v == NULL || v >= end)
		return NULL;
	v += strlen(pat);
	snprintf(pat, sizeof pat, ",\"%s\":", next_key);
	e = strstr(v, pat);
	if (e == NULL || e > end)
		e = end;
	if (e - v == 4 && strncmp(v, "null", 4) == 0)
		return NULL;
	return dup_or_null(v, e - v);
}

/* A string field of the object (ids and tokens hold no quotes), or NULL. */
static char *
json_string(const char *obj, const char *end, const char *key, const char *next_key)
{
	char	   *raw = json_span(obj, end, key, next_key);
	char	   *s;

	if (raw == NULL || raw[0] != '"')
	{
		free(raw);
		return NULL;
	}
	s = dup_or_null(raw + 1, strlen(raw) - 2);
	free(raw);
	return s;
}

static void
free_task(Task *t)
{
	free(t->token);
	free(t->kind);
	free(t->wid);
	free(t->aid);
	free(t->history);
	free(t->input);
	free(t);
}

/* Append the tasks of a completion's json result ({"tasks": [...]}) to the list. */
static long
parse_tasks(const char *res, Task **head, Task **tail)
{
	const char *marker = "{\"task_token\":";
	const char *p = res ? strstr(res, marker) : NULL;
	long		n = 0;

	while (p != NULL)
	{
		const char *next = strstr(p + 1, marker);
		const char *end = next ? next : p + strlen(p);
		Task	   *t = calloc(1, sizeof *t);

		t->token = json_string(p, end, "task_token", "kind");
		t->kind = json_string(p, end, "kind", "workflow_id");
		t->wid = json_string(p, end, "workflow_id", "run_id");
		t->aid = json_string(p, end, "activity_id", "activity_type");
		t->input = json_span(p, end, "input", "attempt");
		t->history = json_span(p, end, "history", "heartbeat_details");
		if (*tail)
			(*tail)->next = t;
		else
			*head = t;
		*tail = t;
		n++;
		p = next;
	}
	return n;
}

static void *
worker_main(void *arg)
{
	Thread	   *t = arg;
	PGconn	   *c = connect_db(t);
	char		wid[32];
	size_t		cap = 4096;
	char	   *cmds = malloc(cap);
	Task	   *head = NULL, *tail = NULL;
	char		sql[256];

	snprintf(wid, sizeof wid, "bench-%d", t->id);
	prepare(c, "poll",
			"SELECT task_token, kind, workflow_id, activity_id, history::text, input::text "
			"FROM durable.poll_task($1, $2, '{workflow,activity}', $3::interval)", 3);
	/* a completion returns the tasks handed to us eagerly, as json */
	snprintf(sql, sizeof sql, "SELECT durable.complete_workflow_task($1, $2::jsonb, %s)",
			 o.eager ? "true" : "false");
	prepare(c, "cwt", sql, 2);
	snprintf(sql, sizeof sql, "SELECT durable.complete_activity($1, $2::jsonb, %s)",
			 o.eager ? "true" : "false");
	prepare(c, "ca", sql, 2);

	while (!atomic_load(&stop_workers))
	{
		Task	   *task;

		if (head == NULL)
		{
			const char *pv[3] = {o.queue, wid, o.poll_wait};
			PGresult   *r = PQexecPrepared(c, "poll", 3, pv, NULL, NULL, 0);

			if (PQresultStatus(r) != PGRES_TUPLES_OK)
			{
				if (!atomic_load(&stop_workers))
				{
					fprintf(stderr, "worker: poll: %s", PQerrorMessage(c));
					atomic_fetch_add(&n_errors, 1);
					sleep_s(0.1);
				}
				PQclear(r);
				if (PQstatus(c) == CONNECTION_BAD)
					break;
				continue;
			}
			if (PQntuples(r) == 0)
			{
				atomic_fetch_add(&n_empty, 1);
				PQclear(r);
				continue;
			}
			head = tail = calloc(1, sizeof *head);
			head->token = strdup(PQgetvalue(r, 0, 0));
			head->kind = strdup(PQgetvalue(r, 0, 1));
			head->wid = strdup(PQgetvalue(r, 0, 2));
			head->aid = PQgetisnull(r, 0, 3) ? NULL : strdup(PQgetvalue(r, 0, 3));
			head->history = PQgetisnull(r, 0, 4) ? NULL : strdup(PQgetvalue(r, 0, 4));
			head->input = PQgetisnull(r, 0, 5) ? NULL : strdup(PQgetvalue(r, 0, 5));
			PQclear(r);
		}
		task = head;
		head = head->next;
		if (head == NULL)
			tail = NULL;

		if (strcmp(task->kind, "workflow") == 0)
		{
			int			closes = decide(task->history ? task->history : "", task->input, &cmds, &cap);
			const char *v[2] = {task->token, cmds};

			atomic_fetch_add(&n_wft, 1);
			if (exec_tasks(c, "cwt", 2, v, "complete_workflow_task", &head, &tail) && closes)
				atomic_fetch_add(&closed, 1);
		}
		else if (strcmp(task->kind, "activity") == 0)
		{
			const char *v[2] = {task->token, "\"ok\""};

			if (o.mode == M_LATENCY && task->aid && strcmp(task->aid, "1") == 0)
			{
				double		ts = now_s();

				pthread_mutex_lock(&lat_mu);
				if (strcmp(lat_wid, task->wid) == 0)
					lat_t_act = ts;
				pthread_mutex_unlock(&lat_mu);
			}
			atomic_fetch_add(&n_act, 1);
			exec_tasks(c, "ca", 2, v, "complete_activity", &head, &tail);
		}
		free_task(task);
	}
	while (head != NULL)
	{
		Task	   *done = head;

		head = head->next;
		free_task(done);
	}
	free(cmds);
	disconnect_db(t);
	return NULL;
}

static void *
starter_main(void *arg)
{
	Thread	   *t = arg;
	PGconn	   *c = connect_db(t);
	char		wid[128];

	prepare(c, "start", "SELECT durable.start_workflow($1, $2::jsonb, $3, $4)", 4);
	for (;;)
	{
		long		i = atomic_fetch_add(&next_start, 1);
		const char *v[4];

		if (atomic_load(&stop_starters))
			break;
		if (o.duration > 0)
		{
			if (now_s() - t_begin >= o.duration)
				break;
		}
		else if (i >= o.n)
			break;
		if (o.rate > 0)
			sleep_s(t_begin + i / o.rate - now_s());
		while (o.inflight > 0 && atomic_load(&started) - atomic_load(&closed) >= o.inflight &&
			   !atomic_load(&stop_starters))
			sleep_s(0.0002);
		snprintf(wid, sizeof wid, "%s-%ld", o.prefix, i);
		v[0] = o.type;
		v[1] = o.input;
		v[2] = wid;
		v[3] = o.queue;
		if (exec_ok(c, "start", 4, v, "start_workflow"))
			atomic_fetch_add(&started, 1);
		else if (PQstatus(c) == CONNECTION_BAD)
			break;
	}
	disconnect_db(t);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static void
print_dist(const char *name, double *v, long n)
{
	double		sum = 0;
	long		i;

	qsort(v, n, sizeof *v, cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("\"%s\": {\"n\": %ld", name, n);
	if (n > 0)
		printf(", \"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f",
			   sum / n, v[(long) (0.5 * (n - 1))], v[(long) (0.9 * (n - 1))], v[(long) (0.99 * (n - 1))], v[n - 1]);
	printf("}");
}

/* latency mode: one workflow at a time */
static void *
latency_main(void *arg)
{
	Thread	   *t = arg;
	PGconn	   *c = connect_db(t);
	long		i;

	t->lat_first = calloc(o.n, sizeof(double));
	t->lat_closed = calloc(o.n, sizeof(double));
	prepare(c, "start", "SELECT durable.start_workflow($1, $2::jsonb, $3, $4)", 4);
	prepare(c, "result", "SELECT durable.workflow_result($1, NULL, '30 seconds')", 1);
	sleep_s(0.2);				/* let the pollers settle into their wait */
	for (i = 0; i < o.n && !atomic_load(&stop_starters); i++)
	{
		char		wid[128];
		const char *v[4];
		double		t0, t2, t1;

		snprintf(wid, sizeof wid, "%s-%ld", o.prefix, i);
		pthread_mutex_lock(&lat_mu);
		snprintf(lat_wid, sizeof lat_wid, "%s", wid);
		lat_t_act = 0;
		pthread_mutex_unlock(&lat_mu);
		v[0] = o.type;
		v[1] = o.input;
		v[2] = wid;
		v[3] = o.queue;
		t0 = now_s();
		if (!exec_ok(c, "start", 4, v, "start_workflow"))
		{
			if (PQstatus(c) == CONNECTION_BAD)
				break;
			continue;
		}
		atomic_fetch_add(&started, 1);
		if (!exec_ok(c, "result", 1, v + 2, "workflow_result"))
			continue;
		t2 = now_s();
		pthread_mutex_lock(&lat_mu);
		t1 = lat_t_act;
		pthread_mutex_unlock(&lat_mu);
		t->lat_first[t->lat_n] = t1 > 0 ? (t1 - t0) * 1000 : -1;
		t->lat_closed[t->lat_n] = (t2 - t0) * 1000;
		t->lat_n++;
		sleep_s(0.002);			/* idle system: let everyone go back to waiting */
	}
	disconnect_db(t);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: worker --dsn DSN [options]\n"
			"  --mode chain|fanout|timer|latency|start  (chain)\n"
			"  -c, --workers K      worker connections (8)\n"
			"  -s, --starters S     starter connections (2; latency: 1)\n"
			"  -n N                 workflows to start (2000)\n"
			"  --expect N           closes to wait for when -s 0 (workflows started elsewhere)\n"
			"  --activities A       chain length (3)\n"
			"  --fanout F           activities of the fan-out workflow (1000)\n"
			"  --rate R             starts per second (0: as fast as possible)\n"
			"  --inflight M         max workflows started and not closed (0: unbounded)\n"
			"  --duration SECS      start workflows for SECS seconds instead of N\n"
			"  --interval SECS      sample period of the closes series (1)\n"
			"  --no-eager           poll for every task (no eager dispatch in completions)\n"
			"  --queue Q --type T --prefix P --input JSON --poll-wait INTERVAL --timeout SECS\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct option lo[] = {
		{"dsn", 1, 0, 'd'}, {"mode", 1, 0, 'm'}, {"workers", 1, 0, 'c'}, {"starters", 1, 0, 's'},
		{"queue", 1, 0, 'q'}, {"type", 1, 0, 't'}, {"prefix", 1, 0, 'p'}, {"input", 1, 0, 'i'},
		{"activities", 1, 0, 'a'}, {"fanout", 1, 0, 'f'}, {"rate", 1, 0, 'r'}, {"inflight", 1, 0, 'I'},
		{"duration", 1, 0, 'D'}, {"timeout", 1, 0, 'T'}, {"interval", 1, 0, 'v'}, {"expect", 1, 0, 'e'},
		{"poll-wait", 1, 0, 'w'}, {"no-eager", 0, 0, 'E'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}
	};
	int			ch, i, nthreads;
	int			starters_set = 0;
	Thread	   *th;
	PGconn	   *mon_conn = NULL;
	double		t_end, last_sample, *series = NULL;
	long		nseries = 0, cap_series = 0, last_closed = 0, target;
	struct rusage ru;
	double		backend_cpu = 0;

	while ((ch = getopt_long(argc, argv, "c:s:n:h", lo, NULL)) != -1)
	{
		switch (ch)
		{
			case 'd': o.dsn = optarg; break;
			case 'm':
				if (!strcmp(optarg, "chain")) o.mode = M_CHAIN;
				else if (!strcmp(optarg, "fanout")) o.mode = M_FANOUT;
				else if (!strcmp(optarg, "timer")) o.mode = M_TIMER;
				else if (!strcmp(optarg, "latency")) o.mode = M_LATENCY;
				else if (!strcmp(optarg, "start")) o.mode = M_START;
				else usage();
				break;
			case 'c': o.workers = atoi(optarg); break;
			case 's': o.starters = atoi(optarg); starters_set = 1; break;
			case 'n': o.n = atol(optarg); break;
			case 'e': o.expect = atol(optarg); break;
			case 'q': o.queue = optarg; break;
			case 't': o.type = optarg; break;
			case 'p': o.prefix = optarg; break;
			case 'i': o.input = optarg; break;
			case 'a': o.activities = atoi(optarg); break;
			case 'f': o.fanout = atoi(optarg); break;
			case 'r': o.rate = atof(optarg); break;
			case 'I': o.inflight = atol(optarg); break;
			case 'D': o.duration = atof(optarg); break;
			case 'T': o.timeout = atof(optarg); break;
			case 'v': o.interval = atof(optarg); break;
			case 'w': o.poll_wait = optarg; break;
			case 'E': o.eager = 0; break;
			default: usage();
		}
	}
	if (o.mode == M_LATENCY)
		o.starters = 1;
	if (o.mode == M_START)
		o.workers = 0;
	(void) starters_set;

	nthreads = o.workers + o.starters;
	th = calloc(nthreads, sizeof *th);
	t_begin = now_s();
	for (i = 0; i < o.workers; i++)
	{
		th[i].id = i;
		pthread_create(&th[i].th, NULL, worker_main, &th[i]);
	}
	if (o.mode == M_LATENCY)
		sleep_s(0.3);
	t_begin = now_s();
	for (i = o.workers; i < nthreads; i++)
	{
		th[i].id = i;
		pthread_create(&th[i].th, NULL, o.mode == M_LATENCY ? latency_main : starter_main, &th[i]);
	}

	/*
	 * --mode start with --inflight: the workers are another process (the
	 * SDK), so count the closes in the database (an index-only count;
	 * the number of these read-only transactions is reported).
	 */
	if (o.mode == M_START && o.inflight > 0)
	{
		Thread		mon = {0};

		mon_conn = connect_db(&mon);
		prepare(mon_conn, "count",
				"SELECT count(*) FROM durable.workflows WHERE workflow_type = $1 AND status <> 'running' "
				"AND workflow_id LIKE $2 || '-%'", 2);
	}

	/* wait: for every started workflow to close (or, -s 0, for --expect closes) */
	last_sample = t_begin;
	for (;;)
	{
		double		now = now_s();
		long		c = atomic_load(&closed);
		int			starting_done = o.starters == 0 ||
			(o.duration > 0 ? now - t_begin >= o.duration : atomic_load(&next_start) >= o.n + o.starters);

		if (now - last_sample >= o.interval)
		{
			if (nseries == cap_series)
				series = realloc(series, (cap_series = cap_series * 2 + 64) * sizeof *series);
			series[nseries++] = c - last_closed;
			last_closed = c;
			last_sample += o.interval;
		}
		if (o.mode == M_START)
		{
			if (mon_conn)
			{
				const char *v[2] = {o.type, o.prefix};
				PGresult   *r = PQexecPrepared(mon_conn, "count", 2, v, NULL, NULL, 0);

				if (PQresultStatus(r) == PGRES_TUPLES_OK)
					atomic_store(&closed, atol(PQgetvalue(r, 0, 0)));
				PQclear(r);
				atomic_fetch_add(&n_monitor, 1);
				if (starting_done && atomic_load(&closed) >= atomic_load(&started))
					break;
				sleep_s(0.01);
				continue;
			}
			if (starting_done && atomic_load(&next_start) >= o.n)
				break;
		}
		else if (o.mode == M_LATENCY)
		{
			if (atomic_load(&started) >= o.n && c >= o.n)
				break;
		}
		else
		{
			target = o.starters == 0 ? o.expect : atomic_load(&started);
			if (starting_done && c >= target && (o.starters > 0 || target > 0))
				break;
		}
		if (now - t_begin > o.timeout)
		{
			fprintf(stderr, "worker: timeout after %.0f s: started %ld closed %ld\n",
					o.timeout, atomic_load(&started), c);
			atomic_fetch_add(&n_errors, 1);
			break;
		}
		sleep_s(o.mode == M_LATENCY ? 0.05 : 0.002);
	}
	t_end = now_s();
	if (mon_conn)
		PQfinish(mon_conn);
	atomic_store(&stop_starters, 1);
	for (i = o.workers; i < nthreads; i++)
		pthread_join(th[i].th, NULL);
	atomic_store(&stop_workers, 1);
	for (i = 0; i < o.workers; i++)
	{
		char		buf[256];

		if (th[i].cancel)
			PQcancel(th[i].cancel, buf, sizeof buf);
	}
	for (i = 0; i < o.workers; i++)
		pthread_join(th[i].th, NULL);
	for (i = 0; i < nthreads; i++)
		backend_cpu += th[i].backend_cpu;
	getrusage(RUSAGE_SELF, &ru);

	printf("{\"mode\": \"%s\", \"workers\": %d, \"starters\": %d, \"started\": %ld, \"closed\": %ld, "
		   "\"elapsed_s\": %.3f, \"workflow_tasks\": %ld, \"activity_tasks\": %ld, \"eager_tasks\": %ld, "
		   "\"empty_polls\": %ld, "
		   "\"errors\": %ld, \"late_timer_setups\": %ld, \"backend_cpu_s\": %.2f, \"client_cpu_s\": %.2f, "
		   "\"monitor_queries\": %ld, ",
		   argv[0] ? (o.mode == M_CHAIN ? "chain" : o.mode == M_FANOUT ? "fanout" : o.mode == M_TIMER ? "timer" :
					  o.mode == M_LATENCY ? "latency" : "start") : "",
		   o.workers, o.starters, atomic_load(&started), atomic_load(&closed), t_end - t_begin,
		   atomic_load(&n_wft), atomic_load(&n_act), atomic_load(&n_eager), atomic_load(&n_empty), atomic_load(&n_errors),
		   atomic_load(&n_late_timers), backend_cpu,
		   ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		   atomic_load(&n_monitor));
	if (o.mode == M_LATENCY)
	{
		Thread	   *s = &th[o.workers];
		long		k, m = 0;

		for (k = 0; k < s->lat_n; k++)
			if (s->lat_first[k] >= 0)
				s->lat_first[m++] = s->lat_first[k];
		print_dist("first_activity_ms", s->lat_first, m);
		printf(", ");
		print_dist("closed_ms", s->lat_closed, s->lat_n);
		printf(", ");
	}
	printf("\"interval_s\": %.3f, \"closes_series\": [", o.interval);
	for (i = 0; i < nseries; i++)
		printf("%s%.0f", i ? ", " : "", series[i]);
	printf("]}\n");
	return atomic_load(&n_errors) > 0 ? 1 : 0;
}
