# Composition under crashes (issue 11): parents start children and signal
# other workflows while the server is killed, then the invariants.
#
# The load is DurableLoad's (test/t/DurableLoad.pm: pgbench clients as
# workers, psql starters that start "Chaos" workflows on queue chaos and
# signal each twice with one request id) with another application: here a
# started workflow is a parent, and the workflows it starts are "Kid"s.
#
# A parent <id>, in its first workflow task, starts five children
#   <id>/k1  a 200 ms timer, then completes       (parent close policy terminate)
#   <id>/k2  a 400 ms timer, then completes       (request_cancel)
#   <id>/k3  a one-hour timer                     (terminate)
#   <id>/k4  a one-hour timer                     (request_cancel)
#   <id>/k5  a 2 s timer, then completes          (abandon)
# and signals three workflows: its child k4, the parent started before it
# (p1-6 signals p1-5: running, closed or never started) and one that does
# not exist.  It completes once k1 and k2 have completed and the three
# signals are answered (ExternalWorkflowExecutionSignaled or
# SignalExternalWorkflowExecutionFailed).  A Kid asked to cancel cancels.
# So k3 and k4 are still open when their parent closes: only its close
# policy ends them (k3 terminated, k4 canceled); k5 ends on its own.
#
# Faults, in rotation every 2.5 to 3.5 s: kill -9 of the postmaster, of a
# worker's backend, of the engine worker (which delivers children's closes,
# close policies and external signals), and an immediate shutdown.  Then the
# workers drain every run, and:
#   - every acknowledged parent ran once and completed;
#   - every child was started once (ChildWorkflowExecutionStarted), and
#     its parent heard of its close at most once; k1 and k2 exactly once,
#     as ChildWorkflowExecutionCompleted;
#   - the close policies were applied: every k3 terminated by the engine,
#     every k4 canceled after exactly one WorkflowExecutionCancelRequested,
#     every k5 completed without one;
#   - every external signal answered once; a Signaled one is in its
#     target's history exactly once (request id "<sender run>:<initiated
#     event>"), a Failed one nowhere; the signal to k4 was always delivered;
#     no request id delivered twice; every acknowledged client signal
#     delivered once;
#   - no children, timers, buffered events or tasks left; histories
#     contiguous; amcheck clean; no PANIC.
#
# Temporal's semantics: child workflows and parent close policies
#   https://docs.temporal.io/child-workflows
#   https://docs.temporal.io/parent-close-policy
# and the events, temporal/api/history/v1/message.proto.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use DurableLoad;

my $t0 = time();
my $node = durable_node('composition', conf => <<'CONF');
restart_after_crash = on
max_connections = 60
log_line_prefix = '%m [%p] %b '
CONF

sub sql { return $node->safe_psql('postgres', shift); }

sql('CREATE EXTENSION durable');
ok(engine_active($node), 'engine worker active');

# The application: app.decide is the workflow code of both types (the
# worker script of DurableLoad calls it for every workflow task).
sql(<<'SQL');
CREATE SCHEMA app;
CREATE TABLE app.errors (site text, sqlstate text, message text, at timestamptz DEFAULT clock_timestamp());

CREATE FUNCTION app.child(wid text, sleep text, policy text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('type', 'start_child_workflow', 'workflow_id', wid, 'workflow_type', 'Kid',
		'input', jsonb_build_object('sleep', sleep), 'task_timeout', '2 seconds',
		'parent_close_policy', policy)
$$;
CREATE FUNCTION app.signal(wid text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('type', 'signal_external_workflow', 'workflow_id', wid,
		'signal_name', 'hello', 'input', wid)
$$;

CREATE FUNCTION app.decide(tok text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	h jsonb;
	started jsonb;
	wid text;
	prev text;
	cmds jsonb := '[]';
BEGIN
	h := durable.workflow_task_history(tok);
	started := h->0->'attributes';
	IF started->>'workflow_type' = 'Kid' THEN
		IF EXISTS (SELECT 1 FROM jsonb_array_elements(h) e WHERE e->>'event_type' = 'WorkflowExecutionCancelRequested') THEN
			cmds := '[{"type": "cancel_workflow", "details": "asked"}]';
		ELSIF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(h) e WHERE e->>'event_type' = 'TimerStarted') THEN
			cmds := jsonb_build_array(jsonb_build_object('type', 'start_timer', 'timer_id', 't',
				'duration', started->'input'->>'sleep'));
		ELSIF EXISTS (SELECT 1 FROM jsonb_array_elements(h) e WHERE e->>'event_type' = 'TimerFired') THEN
			cmds := '[{"type": "complete_workflow", "result": "kid"}]';
		END IF;
	ELSE
		SELECT workflow_id INTO wid FROM durable.workflows WHERE run_id = split_part(tok, ':', 2)::uuid;
		IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(h) e WHERE e->>'event_type' = 'StartChildWorkflowExecutionInitiated') THEN
			prev := regexp_replace(wid, '[0-9]+$', '') || (substring(wid FROM '[0-9]+$')::int - 1);
			cmds := jsonb_build_array(
				app.child(wid || '/k1', '200 milliseconds', 'terminate'),
				app.child(wid || '/k2', '400 milliseconds', 'request_cancel'),
				app.child(wid || '/k3', '1 hour', 'terminate'),
				app.child(wid || '/k4', '1 hour', 'request_cancel'),
				app.child(wid || '/k5', '2 seconds', 'abandon'),
				app.signal(wid || '/k4'), app.signal(prev), app.signal('nobody-' || wid));
		ELSIF (SELECT count(*) FROM jsonb_array_elements(h) e
			   WHERE e->>'event_type' = 'ChildWorkflowExecutionCompleted'
				 AND e->'attributes'->'workflow_execution'->>'workflow_id' IN (wid || '/k1', wid || '/k2')) = 2
			AND (SELECT count(*) FROM jsonb_array_elements(h) e
				 WHERE e->>'event_type' IN ('ExternalWorkflowExecutionSignaled', 'SignalExternalWorkflowExecutionFailed')) = 3 THEN
			cmds := '[{"type": "complete_workflow", "result": "parent"}]';
		END IF;
	END IF;
	PERFORM durable.complete_workflow_task(tok, cmds);
EXCEPTION WHEN OTHERS THEN
	INSERT INTO app.errors (site, sqlstate, message) VALUES ('decide', SQLSTATE, SQLERRM);
END $$;
CREATE FUNCTION app.act(tok text, rid uuid, aid text, att int) RETURNS void LANGUAGE sql AS 'SELECT';
SQL

my $dir = PostgreSQL::Test::Utils::tempdir('composition');
my $load = start_load(dir => $dir, conn => $node->connstr('postgres'), workers => 4,
	starters => 2, pause => 0.15, prefix => 'p');

# Deterministic pseudo-random numbers (a 32-bit xorshift, fixed seed).
my $seed = 1111;
sub rnd
{
	my $n = shift;
	$seed ^= ($seed << 13) & 0xffffffff;
	$seed ^= $seed >> 17;
	$seed ^= ($seed << 5) & 0xffffffff;
	return $seed % $n;
}

ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM durable.workflows WHERE status = 'completed' AND parent_workflow_id IS NULL"),
	'the load is running: parents complete');

my @kinds = ('kill9 postmaster', 'kill9 backend', 'kill9 engine', 'immediate');
my @log;
foreach my $cycle (1 .. 8)
{
	usleep(2_500_000 + 100_000 * rnd(11));
	my $kind = $kinds[ ($cycle - 1) % @kinds ];
	my $composing = sql("SELECT count(*) FROM durable.timers WHERE kind IN ('child_closed', 'parent_close', 'signal_external')")
	  . ' deliveries pending, ' . sql("SELECT count(*) FROM durable.children") . ' open children';
	my $engine = engine_pid($node);
	my $t = time();
	if ($kind eq 'immediate')
	{
		$node->stop('immediate');
		$node->start;
	}
	elsif ($kind eq 'kill9 postmaster')
	{
		my $pm = $node->{_pid};
		$node->kill9;
		my $name = $node->name;
		for (1 .. 200)
		{
			last if !kill(0, $pm) && system("pgrep -f '^postgres: $name:' >/dev/null") != 0;
			usleep(50_000);
		}
		$node->start;
	}
	elsif ($kind eq 'kill9 engine')
	{
		kill 'KILL', $engine;
	}
	else
	{
		my $pid = sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' ORDER BY pid LIMIT 1 OFFSET "
			  . rnd(3));
		$pid = $engine if $pid eq '';    # no worker connected at this instant
		kill 'KILL', $pid;
	}
	ok(engine_active($node, $engine), "kill $cycle ($kind): the server and the engine are back");
	push @log, sprintf('kill %d %-16s (%s), back in %.1f s', $cycle, $kind, $composing, time() - $t);
}
note($_) foreach @log;

stop_starters($load);
my $drained = wait_all_closed($node, 40);
ok($drained, 'the workers drain every run');
stop_load($load);
diag(sql("SELECT status, workflow_type, count(*) FROM durable.workflows WHERE status = 'running' GROUP BY 1, 2"))
  unless $drained;

my $acked = acked_starts($load);
my $nparents = scalar(keys %$acked);
cmp_ok($nparents, '>=', 50, "$nparents parents acknowledged");
my $errors = load_errors($node);
note('application errors: ' . join(', ', map { "$_ x$errors->{$_}" } sort keys %$errors));
is(join(', ', grep { !/^\S+ DU004 / } sort keys %$errors), '',
	'the workers saw no error but stale tokens (DU004)');

# --- parents ---------------------------------------------------------------

my %runs = map { my ($w, $n, $s) = split /\|/; ($w => "$n:$s") } split /\n/,
  sql("SELECT workflow_id, count(*), string_agg(status, ',') FROM durable.workflows WHERE parent_workflow_id IS NULL GROUP BY 1");
my @bad = grep { ($runs{$_} // 'lost') ne '1:completed' } sort keys %$acked;
is(scalar(@bad), 0, 'every acknowledged parent ran once and completed')
  or diag(join(', ', map { "$_=" . ($runs{$_} // 'lost') } @bad[0 .. ($#bad < 20 ? $#bad : 20)]));
is(sql("SELECT count(*) FROM durable.workflows WHERE parent_workflow_id IS NULL AND status <> 'completed'"), '0',
	'so did every parent started without an acknowledgement');

# --- children ----------------------------------------------------------------

my $parents = "SELECT run_id, workflow_id FROM durable.workflows WHERE parent_workflow_id IS NULL";
is(sql("SELECT count(*) FROM ($parents) p WHERE
		(SELECT count(*) FROM durable.history h WHERE h.run_id = p.run_id AND h.event_type = 'StartChildWorkflowExecutionInitiated') <> 5
		OR (SELECT count(*) FROM durable.history h WHERE h.run_id = p.run_id AND h.event_type = 'ChildWorkflowExecutionStarted') <> 5"),
	'0', 'every parent initiated five children and every one started');
is(sql("SELECT count(*) FROM durable.workflows WHERE parent_workflow_id IS NOT NULL"),
	sql("SELECT 5 * count(*) FROM durable.workflows WHERE parent_workflow_id IS NULL"),
	'one run per child (none started twice)');
my $closes = "SELECT h.run_id, (h.attributes->>'initiated_event_id')::bigint AS initiated, h.event_type,
		h.attributes->'workflow_execution'->>'workflow_id' AS child
	FROM durable.history h WHERE h.event_type LIKE 'ChildWorkflowExecution%' AND h.event_type <> 'ChildWorkflowExecutionStarted'";
is(sql("SELECT count(*) FROM (SELECT run_id, initiated FROM ($closes) c GROUP BY 1, 2 HAVING count(*) > 1) s"), '0',
	'no parent heard of a child\'s close twice');
is(sql("SELECT count(*) FROM ($parents) p WHERE
		(SELECT count(*) FROM ($closes) c WHERE c.run_id = p.run_id AND c.event_type = 'ChildWorkflowExecutionCompleted'
		   AND c.child IN (p.workflow_id || '/k1', p.workflow_id || '/k2')) <> 2"),
	'0', 'every parent heard of k1\'s and k2\'s completion exactly once');
is(sql("SELECT count(*) FROM ($closes) c JOIN durable.history i ON i.run_id = c.run_id AND i.event_id = c.initiated
		WHERE i.event_type <> 'StartChildWorkflowExecutionInitiated' OR i.attributes->>'workflow_id' <> c.child"),
	'0', 'every close event names its initiated event and child');

# what each kind of child ended as
my %ended = map { my ($k, $s) = split /\|/; ($k => $s) } split /\n/, sql(q{
	SELECT substring(workflow_id FROM '/(k[0-9])$'), string_agg(DISTINCT status || '/' || cancel_requested, ',')
	FROM durable.workflows WHERE parent_workflow_id IS NOT NULL GROUP BY 1});
is_deeply(\%ended,
	{ k1 => 'completed/false', k2 => 'completed/false', k3 => 'terminated/false', k4 => 'canceled/true', k5 => 'completed/false' },
	'close policies applied: every k3 terminated, every k4 canceled, k5 (abandon) and the others completed');
is(sql("SELECT count(*) FROM durable.workflows w WHERE w.workflow_id LIKE '%/k3' AND NOT EXISTS
		(SELECT 1 FROM durable.history h WHERE h.run_id = w.run_id AND h.event_type = 'WorkflowExecutionTerminated'
		   AND h.attributes->>'identity' = 'durable')"), '0', 'every k3 was terminated by the engine');
is(sql("SELECT count(*) FROM durable.workflows w WHERE w.workflow_id LIKE '%/k4' AND
		(SELECT count(*) FROM durable.history h WHERE h.run_id = w.run_id AND h.event_type = 'WorkflowExecutionCancelRequested') <> 1"),
	'0', 'every k4 was asked to cancel exactly once');

# --- external signals ------------------------------------------------------

my $sent = "SELECT i.run_id, i.event_id, i.attributes->'workflow_execution'->>'workflow_id' AS target,
		i.run_id::text || ':' || i.event_id AS request_id,
		(SELECT string_agg(a.event_type, ',') FROM durable.history a WHERE a.run_id = i.run_id
		   AND a.event_type IN ('ExternalWorkflowExecutionSignaled', 'SignalExternalWorkflowExecutionFailed')
		   AND (a.attributes->>'initiated_event_id')::bigint = i.event_id) AS answer
	FROM durable.history i WHERE i.event_type = 'SignalExternalWorkflowExecutionInitiated'";
my $received = "SELECT h.attributes->>'request_id' AS request_id, h.run_id FROM durable.history h
	WHERE h.event_type = 'WorkflowExecutionSignaled'";
is(sql("SELECT count(*) FROM ($sent) s WHERE s.answer IS DISTINCT FROM 'ExternalWorkflowExecutionSignaled'
		AND s.answer IS DISTINCT FROM 'SignalExternalWorkflowExecutionFailed'"), '0',
	'every external signal was answered exactly once');
my $by_target = "SELECT r.request_id, w.workflow_id, count(*) AS n FROM ($received) r
	JOIN durable.workflows w ON w.run_id = r.run_id GROUP BY 1, 2";
is(sql("SELECT count(*) FROM ($sent) s LEFT JOIN ($by_target) t ON t.request_id = s.request_id AND t.workflow_id = s.target
		WHERE s.answer = 'ExternalWorkflowExecutionSignaled' AND t.n IS DISTINCT FROM 1"), '0',
	'every signal answered Signaled is in its target\'s history exactly once');
is(sql("SELECT count(*) FROM ($sent) s JOIN ($by_target) t ON t.request_id = s.request_id
		WHERE s.answer <> 'ExternalWorkflowExecutionSignaled'"), '0',
	'no signal answered Failed reached anyone');
is(sql("SELECT count(*) FROM ($sent) s WHERE s.target LIKE '%/k4' AND s.answer <> 'ExternalWorkflowExecutionSignaled'"), '0',
	'every signal to a running child was delivered');
is(sql("SELECT count(*) FROM ($sent) s WHERE s.target LIKE 'nobody-%' AND s.answer <> 'SignalExternalWorkflowExecutionFailed'"), '0',
	'every signal to a missing workflow failed');
my $delivered = sql("SELECT count(*) FROM ($sent) s WHERE s.answer = 'ExternalWorkflowExecutionSignaled' AND s.target NOT LIKE '%/k4'");
note("$delivered signals to an earlier parent delivered, "
	  . sql("SELECT count(*) FROM ($sent) s WHERE s.answer <> 'ExternalWorkflowExecutionSignaled' AND s.target NOT LIKE 'nobody-%'")
	  . ' failed (it had closed)');
is(sql("SELECT count(*) FROM (SELECT request_id FROM ($received) r WHERE request_id IS NOT NULL
		GROUP BY 1 HAVING count(*) > 1) s"), '0', 'no request id delivered twice (to any run)');
my $sigs = acked_starts($load, 'sig');
my %pings = map { split /\|/ } split /\n/, sql("SELECT w.workflow_id, count(*) FROM durable.workflows w
	JOIN durable.history h ON h.run_id = w.run_id WHERE h.event_type = 'WorkflowExecutionSignaled'
	AND h.attributes->>'signal_name' = 'ping' GROUP BY 1");
my @ping_bad = grep { ($pings{$_} // 0) != 1 } sort keys %$sigs;
is(scalar(@ping_bad), 0, 'every one of the ' . scalar(keys %$sigs) . ' acknowledged client signals delivered once')
  or diag("@ping_bad[0 .. ($#ping_bad < 20 ? $#ping_bad : 20)]");

# --- what is left ------------------------------------------------------------

is(join('/', map { sql("SELECT count(*) FROM durable.$_") } qw(children timers buffered_events tasks signal_requests)),
	'0/0/0/0/0', 'no children, timers, buffered events, tasks or signal requests left');
is(sql(q{SELECT count(*) FROM (
		SELECT w.run_id, w.history_length, count(h.event_id) AS n, count(DISTINCT h.event_id) AS d,
			   min(h.event_id) AS lo, max(h.event_id) AS hi
		FROM durable.workflows w LEFT JOIN durable.history h ON h.run_id = w.run_id
		GROUP BY w.run_id, w.history_length) s
	WHERE n <> d OR lo <> 1 OR hi <> n OR n <> history_length}), '0',
	'every run\'s history is contiguous (event ids 1..n, no gap, no duplicate)');
my ($ret, $out, $err) = $node->psql('postgres', q{CREATE EXTENSION IF NOT EXISTS amcheck;
	SELECT count(*) FROM (SELECT bt_index_check(c.oid, true)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
		WHERE n.nspname = 'durable' AND c.relkind = 'i' AND a.amname = 'btree') s});
is($ret, 0, "amcheck (bt_index_check with heapallindexed) is clean on the $out btree indexes of durable") or diag($err);

my $log = slurp_file($node->logfile);
my @panics = $log =~ /^.*(?:PANIC|terminated by signal (?!9)\d+|TRAP:).*$/mg;
is(scalar(@panics), 0, 'no PANIC, assertion or crash other than the kills')
  or diag(join("\n", @panics[0 .. ($#panics < 5 ? $#panics : 5)]));

note(sprintf('%d parents, %d workflows; composition crash suite: %.1f s', $nparents,
		sql('SELECT count(*) FROM durable.workflows'), time() - $t0));
$node->stop;
done_testing();
