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
 * of C that count events in the history text:
 *
 *   chain    count ActivityTaskCompleted in the history: schedule the next
 *            activity, or complete the workflow after --activities of them
 *   fanout   first task: schedule --fanout activities at once; later tasks:
 *            complete the workflow once all completed, else no commands
 *   children a parent's first task starts --children child workflows at
 *            once (ids <parent id>/c<i>, on the same queue); its later tasks
 *            complete it once a ChildWorkflowExecutionCompleted arrived for
 *            each, else no commands.  A child (an id with a '/') completes
 *            at once, or (--child-activities 1) runs one activity first
 *   timer    first task: start a timer that fires at input.fire_at_ms
 *            (epoch ms); after TimerFired: complete the workflow
 *   latency  chain, but one workflow at a time: the starter starts one,
 *            waits for its result (durable.workflow_result(wait)), and
 *            records start -> first activity claimed and start -> result
 *   start    only start workflows (no worker threads needed)
 *   watch    no worker, no starter: watch one workflow (--watch-id) run by
 *            another process (the SDK) and take the --marks samples when its
 *            history_length shows that the workflow task after Ki completed
 *            activities has started (3 + --step-events * Ki events)
 *
 * Sticky execution.  When the engine has the setting durable.sticky_execution
 * (0.3 and later; detected at start), every worker connection turns it on
 * unless --no-sticky: the runs whose workflow tasks a thread completes stay
 * sticky to its worker_id, and their next workflow task carries only the
 * events after the last WorkflowTaskStarted that thread completed.  So each
 * thread keeps a small cache, run_id -> the counts the workflow code needs
 * (activities scheduled and completed, timers fired) as of the last task it
 * completed, evicted when it closes the run.  A history whose first event is
 * event 1 is whole and counted from scratch; a partial one adds to the
 * cached counts, or, when the thread lacks the run, the whole history is
 * fetched with durable.workflow_task_history(token).
 *
 * --marks K1,K2,...  (chain mode) samples the wall clock and the CPU time of
 * every server process (the postmaster and its children, /proc/PID/schedstat)
 * when a workflow task that has seen Ki completed activities arrives, before
 * it is completed: bench/run --long attributes server CPU to step windows
 * with it.
 *
 * Prints one JSON object on stdout.  Run with --help for the options.
 */
#include <dirent.h>
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

enum mode { M_CHAIN, M_FANOUT, M_TIMER, M_LATENCY, M_START, M_WATCH, M_CHILDREN };

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
	int			children;		/* children mode: children per parent */
	int			child_activities;	/* children mode: activities each child runs (0 or 1) */
	double		rate;			/* starts per second, 0 = unbounded */
	long		inflight;		/* max started-not-closed, 0 = unbounded */
	double		duration;		/* start for this many seconds (soak), 0 = use n */
	double		timeout;
	double		interval;		/* seconds per sample of the closes series */
	const char *poll_wait;
	int			eager;			/* ask for tasks in completions' results */
	int			sticky;			/* 1: on when the engine has it; 0: --no-sticky */
	long	   *marks;			/* --marks: completed-activity counts to sample at */
	int			nmarks;
	const char *watch_id;		/* watch mode */
	int			step_events;
	double		watch_every;
	int			client_pid;		/* watch mode: a process whose CPU is sampled with the marks */
	int			wait_closed;	/* start mode: wait until all close (another process runs them) */
} o = {
	.dsn = "", .mode = M_CHAIN, .queue = "default", .type = "chain3", .prefix = "w",
	.input = NULL, .workers = 8, .starters = 2, .n = 2000, .expect = 0, .activities = 3,
	.fanout = 1000, .children = 100, .child_activities = 0, .rate = 0, .inflight = 0, .duration = 0, .timeout = 600, .interval = 1.0,
	.poll_wait = "5 seconds", .eager = 1, .sticky = 1, .step_events = 6, .watch_every = 0.002,
};

/* sticky execution in force (the engine has it and --no-sticky was not given) */
static int	sticky_on;

static atomic_long next_start;	/* next index to start */
static atomic_long started;		/* starts committed */
static atomic_long closed;		/* complete_workflow commands committed */
static atomic_long n_wft, n_act, n_eager, n_empty, n_errors, n_late_timers, n_monitor;
static atomic_long n_hist_full, n_hist_partial, n_cache_miss;
static atomic_long max_open;	/* largest started - closed seen by the main loop */
static double t_starts_done;	/* when the last start committed (0: not yet) */
static atomic_int stop_workers, stop_starters;
static atomic_int n_ready, go;	/* every thread connected and prepared; then all begin at once */
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
	long		cache_peak;		/* most runs held in the sticky cache */
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

/* CPU seconds of a process, in ns precision when /proc/PID/schedstat exists */
static double
proc_runtime(int pid)
{
	char		path[64];
	FILE	   *f;
	unsigned long long ns;

	snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
	if ((f = fopen(path, "r")) != NULL)
	{
		int			ok = fscanf(f, "%llu", &ns) == 1;

		fclose(f);
		if (ok)
			return ns / 1e9;
	}
	return proc_cpu(pid);
}

/* CPU seconds of the children a process has waited for (cutime + cstime) */
static double
proc_children_cpu(int pid)
{
	char		path[64], buf[2048], *p;
	FILE	   *f;
	unsigned long cut = 0, cst = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %lu %lu", &cut, &cst);
	fclose(f);
	return (double) (cut + cst) / sysconf(_SC_CLK_TCK);
}

static int
proc_ppid(int pid)
{
	char		path[64], buf[2048], *p;
	FILE	   *f;
	int			ppid = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* the postmaster: the parent of our backends */
static int	postmaster_pid;

/* a thread is connected and has prepared its statements: wait until all are */
static void
ready_wait(void)
{
	atomic_fetch_add(&n_ready, 1);
	while (!atomic_load(&go))
		sleep_s(0.0002);
}

/*
 * CPU seconds of the whole server but the process "skip": the postmaster,
 * its live children, and the children it has reaped (its cutime + cstime),
 * so that the difference of two samples is all the CPU the server used in
 * between, whichever processes came and went.
 */
static double
server_cpu(int skip)
{
	DIR		   *d;
	struct dirent *e;
	double		sum;

	if (postmaster_pid <= 0)
		return 0;
	sum = proc_runtime(postmaster_pid) + proc_children_cpu(postmaster_pid);
	if (!(d = opendir("/proc")))
		return sum;
	while ((e = readdir(d)) != NULL)
	{
		int			pid = atoi(e->d_name);

		if (pid > 0 && pid != skip && proc_ppid(pid) == postmaster_pid)
			sum += proc_runtime(pid);
	}
	closedir(d);
	return sum;
}

/* --marks: samples taken when a workflow task has seen marks[i] completed activities */
typedef struct
{
	double		t;
	double		cpu;			/* server_cpu() */
	double		client;			/* this process (or --client-pid) */
	int			seen;
} Mark;
static Mark *mark_v;
static pthread_mutex_t mark_mu = PTHREAD_MUTEX_INITIALIZER;
static double *step_t;			/* --marks: when the workflow task after k completions arrived */
static long n_step_t;

static void
mark_take(Mark *m, int skip)
{
	m->t = now_s();
	m->cpu = server_cpu(skip);
	m->seen = 1;
}

static void
print_marks(double t0)
{
	int			i;

	printf("\"marks\": [");
	for (i = 0; i < o.nmarks; i++)
	{
		Mark	   *m = &mark_v[i];

		if (!m->seen)
			printf("%s{\"done\": %ld, \"t\": null}", i ? ", " : "", o.marks[i]);
		else
			printf("%s{\"done\": %ld, \"t\": %.6f, \"server_cpu_s\": %.6f, \"client_cpu_s\": %.6f}",
				   i ? ", " : "", o.marks[i], m->t - t0, m->cpu, m->client);
	}
	printf("]");
}

static void
mark_hit(long done)
{
	int			i;

	if (done >= 0 && done < n_step_t && step_t[done] == 0)
		step_t[done] = now_s();

	for (i = 0; i < o.nmarks; i++)
	{
		if (o.marks[i] != done)
			continue;
		pthread_mutex_lock(&mark_mu);
		if (!mark_v[i].seen)
		{
			struct rusage ru;

			mark_take(&mark_v[i], 0);
			getrusage(RUSAGE_SELF, &ru);
			mark_v[i].client = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
				ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		}
		pthread_mutex_unlock(&mark_mu);
	}
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

/* What the workflow code needs of a history: counts of some events. */
typedef struct
{
	long		scheduled;		/* ActivityTaskScheduled */
	long		completed;		/* ActivityTaskCompleted */
	long		fired;			/* TimerFired */
	long		children_started;	/* StartChildWorkflowExecutionInitiated */
	long		children_done;	/* ChildWorkflowExecutionCompleted */
} Counts;

/* one pass over the text: the event types are the only strings with these values */
static void
history_counts(const char *h, Counts *c)
{
	const char *p;

	memset(c, 0, sizeof *c);
	for (p = strchr(h, '"'); p != NULL; p = strchr(p + 1, '"'))
	{
		if (p[1] == 'A' && strncmp(p + 1, "ActivityTask", 12) == 0)
		{
			if (strncmp(p + 13, "Completed\"", 10) == 0)
				c->completed++;
			else if (strncmp(p + 13, "Scheduled\"", 10) == 0)
				c->scheduled++;
		}
		else if (p[1] == 'T' && strncmp(p + 1, "TimerFired\"", 11) == 0)
			c->fired++;
		else if (p[1] == 'C' && strncmp(p + 1, "ChildWorkflowExecutionCompleted\"", 32) == 0)
			c->children_done++;
		else if (p[1] == 'S' && strncmp(p + 1, "StartChildWorkflowExecutionInitiated\"", 37) == 0)
			c->children_started++;
	}
}

/* Is this history whole (it begins with event 1), or only the events a sticky worker lacks? */
static int
history_whole(const char *h)
{
	const char *p = strstr(h, "\"event_id\":");

	if (p == NULL)
		return 1;
	p += strlen("\"event_id\":");
	while (*p == ' ')
		p++;
	return strtol(p, NULL, 10) == 1;
}

/*
 * A worker thread's cache of sticky runs: run_id -> the counts as of the
 * last workflow task it completed.  Chained hash, evicted when the thread
 * closes the run; cleared whole if it ever holds CACHE_MAX runs (runs that
 * moved to another worker and never came back).
 */
#define CACHE_BUCKETS 4096
#define CACHE_MAX 200000
typedef struct CacheEnt
{
	struct CacheEnt *next;
	Counts		c;
	char		run_id[40];
} CacheEnt;
typedef struct
{
	CacheEnt   *b[CACHE_BUCKETS];
	long		n;
	long		peak;
} Cache;

static CacheEnt **
cache_find(Cache *c, const char *run)
{
	unsigned	h = 2166136261u;
	const char *p;
	CacheEnt  **pp;

	for (p = run; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	pp = &c->b[h % CACHE_BUCKETS];
	while (*pp && strcmp((*pp)->run_id, run) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void
cache_clear(Cache *c)
{
	int			i;

	for (i = 0; i < CACHE_BUCKETS; i++)
		while (c->b[i])
		{
			CacheEnt   *e = c->b[i];

			c->b[i] = e->next;
			free(e);
		}
	c->n = 0;
}

static void
cache_put(Cache *c, const char *run, const Counts *cnt)
{
	CacheEnt  **pp = cache_find(c, run);

	if (*pp == NULL)
	{
		if (c->n >= CACHE_MAX)
		{
			cache_clear(c);
			pp = cache_find(c, run);
		}
		*pp = calloc(1, sizeof **pp);
		snprintf((*pp)->run_id, sizeof (*pp)->run_id, "%s", run);
		if (++c->n > c->peak)
			c->peak = c->n;
	}
	(*pp)->c = *cnt;
}

static void
cache_del(Cache *c, const char *run)
{
	CacheEnt  **pp = cache_find(c, run);

	if (*pp)
	{
		CacheEnt   *e = *pp;

		*pp = e->next;
		free(e);
		c->n--;
	}
}

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

/*
 * Build the workflow task's commands (wid: the workflow id); returns 1 when
 * they close a workflow the main loop counts (one started by the starters),
 * 2 when they close another (a child), else 0.
 */
static int
decide(const Counts *cnt, const char *input, const char *wid, char **cmds, size_t *cap)
{
	char	   *b = *cmds;

	switch (o.mode)
	{
		case M_CHAIN:
		case M_LATENCY:
			{
				long		done = cnt->completed;

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
			if (cnt->scheduled == 0)
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
			if (cnt->completed >= o.fanout)
			{
				snprintf(b, *cap, "[{\"type\": \"complete_workflow\", \"result\": %d}]", o.fanout);
				return 1;
			}
			snprintf(b, *cap, "[]");
			return 0;
		case M_CHILDREN:
			if (strchr(wid, '/') != NULL)
			{
				/* a child: complete at once, or after its one activity */
				if (cnt->completed < o.child_activities)
				{
					if (cnt->scheduled == 0)
						snprintf(b, *cap, "[{\"type\": \"schedule_activity\", \"activity_id\": \"1\", "
								 "\"activity_type\": \"step\", \"input\": 1, "
								 "\"start_to_close_timeout\": \"30 seconds\"%s}]",
								 o.eager ? ", \"request_eager_execution\": true" : "");
					else
						snprintf(b, *cap, "[]");
					return 0;
				}
				snprintf(b, *cap, "[{\"type\": \"complete_workflow\", \"result\": %ld}]", cnt->completed);
				return 2;
			}
			if (cnt->children_started == 0)
			{
				size_t		need = (size_t) o.children * (strlen(wid) + 160) + 16, len;
				int			i;

				if (need > *cap)
				{
					*cap = need;
					*cmds = b = realloc(b, need);
				}
				len = snprintf(b, *cap, "[");
				for (i = 1; i <= o.children; i++)
					len += snprintf(b + len, *cap - len,
									"%s{\"type\": \"start_child_workflow\", \"workflow_id\": \"%s/c%d\", "
									"\"workflow_type\": \"child\", \"input\": %d}", i > 1 ? ", " : "", wid, i, i);
				snprintf(b + len, *cap - len, "]");
				return 0;
			}
			if (cnt->children_done >= o.children)
			{
				snprintf(b, *cap, "[{\"type\": \"complete_workflow\", \"result\": %ld}]", cnt->children_done);
				return 1;
			}
			snprintf(b, *cap, "[]");
			return 0;
		case M_TIMER:
			if (cnt->fired == 0)
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
	char	   *run;
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
	free(t->run);
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
		t->run = json_string(p, end, "run_id", "workflow_type");
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
	Cache	   *cache = calloc(1, sizeof *cache);

	/* unique per process too: a later bench/worker must not look like this one to the engine */
	snprintf(wid, sizeof wid, "bench-%d-%d", (int) getpid(), t->id);
	if (sticky_on)
	{
		PGresult   *r = PQexec(c, "SET durable.sticky_execution = on");

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("SET durable.sticky_execution", c);
		PQclear(r);
		prepare(c, "wth", "SELECT durable.workflow_task_history($1)::text", 1);
	}
	prepare(c, "poll",
			"SELECT task_token, kind, workflow_id, activity_id, history::text, input::text, run_id "
			"FROM durable.poll_task($1, $2, '{workflow,activity}', $3::interval)", 3);
	/* a completion returns the tasks handed to us eagerly, as json */
	snprintf(sql, sizeof sql, "SELECT durable.complete_workflow_task($1, $2::jsonb, %s)",
			 o.eager ? "true" : "false");
	prepare(c, "cwt", sql, 2);
	snprintf(sql, sizeof sql, "SELECT durable.complete_activity($1, $2::jsonb, %s)",
			 o.eager ? "true" : "false");
	prepare(c, "ca", sql, 2);
	ready_wait();

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
			head->run = PQgetisnull(r, 0, 6) ? NULL : strdup(PQgetvalue(r, 0, 6));
			PQclear(r);
		}
		task = head;
		head = head->next;
		if (head == NULL)
			tail = NULL;

		if (strcmp(task->kind, "workflow") == 0)
		{
			const char *h = task->history ? task->history : "";
			const char *v[2] = {task->token, NULL};
			Counts		cnt;
			int			closes, ok;

			atomic_fetch_add(&n_wft, 1);
			history_counts(h, &cnt);
			if (history_whole(h))
				atomic_fetch_add(&n_hist_full, 1);
			else
			{
				/* only the events after the last task we completed: add what we had */
				CacheEnt  **e = task->run ? cache_find(cache, task->run) : NULL;

				atomic_fetch_add(&n_hist_partial, 1);
				if (e && *e)
				{
					cnt.scheduled += (*e)->c.scheduled;
					cnt.completed += (*e)->c.completed;
					cnt.fired += (*e)->c.fired;
					cnt.children_started += (*e)->c.children_started;
					cnt.children_done += (*e)->c.children_done;
				}
				else
				{
					PGresult   *r;

					atomic_fetch_add(&n_cache_miss, 1);
					if (!sticky_on)
					{
						fprintf(stderr, "worker: a partial history without sticky execution\n");
						atomic_fetch_add(&n_errors, 1);
						free_task(task);
						continue;
					}
					r = PQexecPrepared(c, "wth", 1, v, NULL, NULL, 0);
					if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
					{
						atomic_fetch_add(&n_errors, 1);
						if (!atomic_load(&stop_workers))
							fprintf(stderr, "worker: workflow_task_history: %s", PQerrorMessage(c));
						PQclear(r);
						free_task(task);
						continue;
					}
					history_counts(PQgetvalue(r, 0, 0), &cnt);
					PQclear(r);
				}
			}
			if (o.nmarks > 0)
				mark_hit(cnt.completed);
			closes = decide(&cnt, task->input, task->wid, &cmds, &cap);
			v[1] = cmds;
			ok = exec_tasks(c, "cwt", 2, v, "complete_workflow_task", &head, &tail);
			if (ok && closes == 1)
				atomic_fetch_add(&closed, 1);
			if (sticky_on && task->run)
			{
				if (ok && !closes)
					cache_put(cache, task->run, &cnt);
				else
					cache_del(cache, task->run);
			}
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
	t->cache_peak = cache->peak;
	cache_clear(cache);
	free(cache);
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
	ready_wait();
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
	/* stay connected until the end: a backend exiting inside the measured window would blur its CPU */
	while (!atomic_load(&stop_starters))
		sleep_s(0.005);
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
	ready_wait();
	sleep_s(0.5);				/* let the pollers settle into their wait */
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

/*
 * watch mode: poll one workflow's history_length every --watch-every
 * seconds and take the marks' samples when it reaches 3 + step_events * Ki
 * (the workflow task that has seen Ki completed activities has started);
 * the CPU of this watcher's own backend is left out of the server's.
 */
static int
watch_run(void)
{
	Thread		mon = {0};
	PGconn	   *c;
	double		t0, t_close = 0;
	long		polls = 0, h = 0;
	int			i, done = 0;
	const char *v[1] = {o.watch_id};

	c = connect_db(&mon);
	postmaster_pid = proc_ppid(mon.backend_pid);
	prepare(c, "h", "SELECT history_length, status FROM durable.workflows WHERE workflow_id = $1 "
			"ORDER BY start_time DESC LIMIT 1", 1);
	t0 = t_begin = now_s();
	while (!done)
	{
		PGresult   *r = PQexecPrepared(c, "h", 1, v, NULL, NULL, 0);
		double		now = now_s();

		polls++;
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("watch", c);
		if (PQntuples(r) == 1)
		{
			long		steps;

			h = atol(PQgetvalue(r, 0, 0));
			done = strcmp(PQgetvalue(r, 0, 1), "running") != 0;
			steps = h >= 3 ? (h - 3) / o.step_events : -1;
			for (i = 0; i < o.nmarks; i++)
				if (!mark_v[i].seen && steps >= o.marks[i])
				{
					mark_take(&mark_v[i], mon.backend_pid);
					mark_v[i].client = o.client_pid > 0 ? proc_cpu(o.client_pid) : 0;
				}
			if (done)
				t_close = now;
		}
		PQclear(r);
		if (now - t0 > o.timeout)
		{
			fprintf(stderr, "worker: watch: timeout after %.0f s, history_length %ld\n", o.timeout, h);
			atomic_fetch_add(&n_errors, 1);
			break;
		}
		if (!done)
			sleep_s(o.watch_every);
	}
	PQfinish(c);
	printf("{\"mode\": \"watch\", \"history_length\": %ld, \"closed_s\": %.6f, \"monitor_queries\": %ld, "
		   "\"errors\": %ld, ", h, t_close > 0 ? t_close - t0 : 0.0, polls, atomic_load(&n_errors));
	print_marks(t0);
	printf("}\n");
	return atomic_load(&n_errors) > 0 ? 1 : 0;
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: worker --dsn DSN [options]\n"
			"  --mode chain|fanout|children|timer|latency|start|watch  (chain)\n"
			"  -c, --workers K      worker connections (8)\n"
			"  -s, --starters S     starter connections (2; latency: 1)\n"
			"  -n N                 workflows to start (2000)\n"
			"  --expect N           closes to wait for when -s 0 (workflows started elsewhere)\n"
			"  --activities A       chain length (3)\n"
			"  --fanout F           activities of the fan-out workflow (1000)\n"
			"  --children N         children mode: child workflows per parent (100)\n"
			"  --child-activities A children mode: activities each child runs, 0 or 1 (0)\n"
			"  --rate R             starts per second (0: as fast as possible)\n"
			"  --inflight M         max workflows started and not closed (0: unbounded)\n"
			"  --duration SECS      start workflows for SECS seconds instead of N\n"
			"  --interval SECS      sample period of the closes series (1)\n"
			"  --no-eager           poll for every task (no eager dispatch in completions)\n"
			"  --no-sticky          no sticky execution (default: on when the engine has it)\n"
			"  --marks K1,K2,...    sample the server's CPU when a workflow task has seen Ki\n"
			"                       completed activities (chain mode; for one long workflow)\n"
			"  --watch-id WID       watch mode: the workflow to watch\n"
			"  --step-events E      watch mode: history events per chain step (6)\n"
			"  --watch-every SECS   watch mode: poll period (0.002)\n"
			"  --client-pid PID     watch mode: also sample this process's CPU at the marks\n"
			"  --wait-closed        start mode: wait until every workflow started is closed (polls\n"
			"                       every 10 ms with --inflight, else every 50 ms)\n"
			"  --queue Q --type T --prefix P --input JSON --poll-wait INTERVAL --timeout SECS\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct option lo[] = {
		{"dsn", 1, 0, 'd'}, {"mode", 1, 0, 'm'}, {"workers", 1, 0, 'c'}, {"starters", 1, 0, 's'},
		{"queue", 1, 0, 'q'}, {"type", 1, 0, 't'}, {"prefix", 1, 0, 'p'}, {"input", 1, 0, 'i'},
		{"activities", 1, 0, 'a'}, {"fanout", 1, 0, 'f'}, {"children", 1, 0, 'H'}, {"child-activities", 1, 0, 'A'}, {"rate", 1, 0, 'r'}, {"inflight", 1, 0, 'I'},
		{"duration", 1, 0, 'D'}, {"timeout", 1, 0, 'T'}, {"interval", 1, 0, 'v'}, {"expect", 1, 0, 'e'},
		{"poll-wait", 1, 0, 'w'}, {"no-eager", 0, 0, 'E'}, {"no-sticky", 0, 0, 'S'}, {"marks", 1, 0, 'M'},
		{"watch-id", 1, 0, 'W'}, {"step-events", 1, 0, 'x'}, {"watch-every", 1, 0, 'y'},
		{"client-pid", 1, 0, 'P'}, {"wait-closed", 0, 0, 'C'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}
	};
	int			ch, i, nthreads;
	int			starters_set = 0;
	Thread	   *th;
	PGconn	   *mon_conn = NULL;
	Thread		mon = {0};
	double		mon_cpu = 0, cpu_begin, cpu_end;
	double		t_end, last_sample, *series = NULL;
	long		nseries = 0, cap_series = 0, last_closed = 0, target;
	struct rusage ru;
	double		backend_cpu = 0;
	long		cache_peak = 0;

	while ((ch = getopt_long(argc, argv, "c:s:n:h", lo, NULL)) != -1)
	{
		switch (ch)
		{
			case 'd': o.dsn = optarg; break;
			case 'm':
				if (!strcmp(optarg, "chain")) o.mode = M_CHAIN;
				else if (!strcmp(optarg, "fanout")) o.mode = M_FANOUT;
				else if (!strcmp(optarg, "children")) o.mode = M_CHILDREN;
				else if (!strcmp(optarg, "timer")) o.mode = M_TIMER;
				else if (!strcmp(optarg, "latency")) o.mode = M_LATENCY;
				else if (!strcmp(optarg, "start")) o.mode = M_START;
				else if (!strcmp(optarg, "watch")) o.mode = M_WATCH;
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
			case 'H': o.children = atoi(optarg); break;
			case 'A': o.child_activities = atoi(optarg) > 0 ? 1 : 0; break;
			case 'r': o.rate = atof(optarg); break;
			case 'I': o.inflight = atol(optarg); break;
			case 'D': o.duration = atof(optarg); break;
			case 'T': o.timeout = atof(optarg); break;
			case 'v': o.interval = atof(optarg); break;
			case 'w': o.poll_wait = optarg; break;
			case 'E': o.eager = 0; break;
			case 'S': o.sticky = 0; break;
			case 'W': o.watch_id = optarg; break;
			case 'x': o.step_events = atoi(optarg); break;
			case 'y': o.watch_every = atof(optarg); break;
			case 'P': o.client_pid = atoi(optarg); break;
			case 'C': o.wait_closed = 1; break;
			case 'M':
				{
					char	   *p = optarg;

					while (*p)
					{
						o.marks = realloc(o.marks, (o.nmarks + 1) * sizeof *o.marks);
						o.marks[o.nmarks++] = strtol(p, &p, 10);
						if (*p == ',')
							p++;
						else if (*p)
							usage();
					}
				}
				break;
			default: usage();
		}
	}
	if (o.mode == M_LATENCY)
		o.starters = 1;
	if (o.mode == M_START)
		o.workers = 0;
	(void) starters_set;
	mark_v = calloc(o.nmarks + 1, sizeof *mark_v);
	if (o.nmarks > 0 && o.mode == M_CHAIN)
	{
		n_step_t = o.activities + 1;
		step_t = calloc(n_step_t, sizeof *step_t);
	}
	if (o.mode == M_WATCH)
	{
		if (o.watch_id == NULL || o.step_events < 1)
			usage();
		return watch_run();
	}

	/*
	 * Does the engine have sticky execution?  (durable 0.3: the setting
	 * exists; 0.2 reserves the prefix and has no such setting.)  And which
	 * process is the postmaster, for --marks.
	 */
	if (o.workers > 0)
	{
		Thread		probe = {0};
		PGconn	   *c = connect_db(&probe);
		PGresult   *r = PQexec(c, "SELECT current_setting('durable.sticky_execution', true)");

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("probe", c);
		sticky_on = o.sticky && !PQgetisnull(r, 0, 0) && PQgetvalue(r, 0, 0)[0] != '\0';
		PQclear(r);
		postmaster_pid = proc_ppid(probe.backend_pid);
		PQfinish(c);
	}

	nthreads = o.workers + o.starters;
	th = calloc(nthreads, sizeof *th);
	for (i = 0; i < nthreads; i++)
	{
		th[i].id = i;
		pthread_create(&th[i].th, NULL, i < o.workers ? worker_main :
					   o.mode == M_LATENCY ? latency_main : starter_main, &th[i]);
	}

	/*
	 * --mode start with --inflight: the workers are another process (the
	 * SDK), so count the closes in the database: the runs of ours still
	 * running (through the partial index of running runs, so the count
	 * costs what is open, not what has closed so far), taken from the
	 * starts committed before the count began.  A start that commits
	 * between the two is counted as running, never as closed, so the
	 * figure can lag by a start but never run ahead.  The number of these
	 * read-only transactions and their backend's CPU are reported.
	 */
	if (o.mode == M_START && (o.inflight > 0 || o.wait_closed))
	{
		mon_conn = connect_db(&mon);
		/* a plain index scan marks the closed runs' dead entries, a bitmap scan visits them every time */
		PQclear(PQexec(mon_conn, "SET enable_bitmapscan = off"));
		prepare(mon_conn, "count",
				"SELECT count(*) FROM durable.workflows WHERE status = 'running' "
				"AND workflow_type = $1 AND workflow_id LIKE $2 || '-%'", 2);
	}

	/*
	 * Everyone connected and prepared: the window begins.  The server's CPU
	 * is sampled here and when the last close is seen, so that connecting,
	 * disconnecting and cancelling the long polls are left out (and the
	 * close-counting connection's backend, which is no part of the load).
	 */
	while (atomic_load(&n_ready) < nthreads)
		sleep_s(0.001);
	if (postmaster_pid == 0 && (mon_conn || nthreads > 0))
		postmaster_pid = proc_ppid(mon_conn ? mon.backend_pid : th[0].backend_pid);
	cpu_begin = server_cpu(mon_conn ? mon.backend_pid : 0);
	t_begin = now_s();
	atomic_store(&go, 1);

	/* wait: for every started workflow to close (or, -s 0, for --expect closes) */
	last_sample = t_begin;
	for (;;)
	{
		double		now = now_s();
		long		c = atomic_load(&closed);
		int			starting_done = o.starters == 0 ||
			(o.duration > 0 ? now - t_begin >= o.duration : atomic_load(&next_start) >= o.n + o.starters);
		long		open_now = atomic_load(&started) - c;

		if (open_now > atomic_load(&max_open))
			atomic_store(&max_open, open_now);
		if (t_starts_done == 0 && o.starters > 0 && o.duration <= 0 && atomic_load(&started) >= o.n)
			t_starts_done = now;

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
				long		started_before = atomic_load(&started);
				PGresult   *r = PQexecPrepared(mon_conn, "count", 2, v, NULL, NULL, 0);

				if (PQresultStatus(r) == PGRES_TUPLES_OK)
				{
					long		c_now = started_before - atol(PQgetvalue(r, 0, 0));

					if (c_now > atomic_load(&closed))
						atomic_store(&closed, c_now);
				}
				PQclear(r);
				atomic_fetch_add(&n_monitor, 1);
				if (starting_done && atomic_load(&closed) >= atomic_load(&started))
					break;
				sleep_s(o.inflight > 0 ? 0.01 : 0.05);
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
	cpu_end = server_cpu(mon_conn ? mon.backend_pid : 0);
	if (mon_conn)
	{
		mon_cpu = proc_runtime(mon.backend_pid);
		PQfinish(mon_conn);
	}
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
	for (i = 0; i < o.workers; i++)
		cache_peak += th[i].cache_peak;
	getrusage(RUSAGE_SELF, &ru);

	printf("{\"mode\": \"%s\", \"workers\": %d, \"starters\": %d, \"started\": %ld, \"closed\": %ld, "
		   "\"elapsed_s\": %.3f, \"workflow_tasks\": %ld, \"activity_tasks\": %ld, \"eager_tasks\": %ld, "
		   "\"empty_polls\": %ld, "
		   "\"errors\": %ld, \"late_timer_setups\": %ld, \"backend_cpu_s\": %.2f, \"client_cpu_s\": %.2f, "
		   "\"server_cpu_s\": %.4f, \"monitor_queries\": %ld, \"monitor_cpu_s\": %.4f, \"sticky\": %s, \"histories_whole\": %ld, \"histories_partial\": %ld, "
		   "\"cache_misses\": %ld, \"cache_peak_runs\": %ld, \"max_open\": %ld, \"starts_done_s\": %.3f, ",
		   argv[0] ? (o.mode == M_CHAIN ? "chain" : o.mode == M_FANOUT ? "fanout" :
					  o.mode == M_CHILDREN ? "children" : o.mode == M_TIMER ? "timer" :
					  o.mode == M_LATENCY ? "latency" : "start") : "",
		   o.workers, o.starters, atomic_load(&started), atomic_load(&closed), t_end - t_begin,
		   atomic_load(&n_wft), atomic_load(&n_act), atomic_load(&n_eager), atomic_load(&n_empty), atomic_load(&n_errors),
		   atomic_load(&n_late_timers), backend_cpu,
		   ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		   cpu_end - cpu_begin, atomic_load(&n_monitor), mon_cpu, sticky_on ? "true" : "false", atomic_load(&n_hist_full),
		   atomic_load(&n_hist_partial), atomic_load(&n_cache_miss), cache_peak, atomic_load(&max_open),
		   t_starts_done > 0 ? t_starts_done - t_begin : 0.0);
	if (o.nmarks > 0)
	{
		print_marks(t_begin);
		printf(", ");
	}
	if (step_t)
	{
		/* the times of every step's workflow task, ms from the start: for per-step medians */
		printf("\"step_ms\": [");
		for (i = 0; i < n_step_t; i++)
			printf("%s%.3f", i ? ", " : "", step_t[i] > 0 ? (step_t[i] - t_begin) * 1000 : -1.0);
		printf("], ");
	}
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
