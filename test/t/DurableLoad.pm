# DurableLoad: a small application and its load for the chaos and failover
# tests (012_chaos.pl, 013_failover.pl).
#
# The application's workflow ("Chaos") starts a 200 ms timer, then runs
# activities a1, a2, a3 one after the other and completes with the number
# of activities done.  Activity a2 fails its first attempt (the engine
# retries it).  Each activity writes one row to app.effects in the same
# transaction as its durable.complete_activity: exactly one row per
# completed activity is the property to check.
#
# The load is made of shell loops that come back after every crash:
#   workers   pgbench clients, each poll_task then app.decide or app.act
#             (one transaction to claim, one to complete)
#   starters  psql scripts of start_workflow calls, each followed by the
#             same signal sent twice with one request id; a start is
#             acknowledged when psql printed "ack <workflow_id> <port>"
#             after it returned, its signal when it printed "sig ...", so
#             the files list exactly the acknowledged calls (psql stops at
#             the first error: ON_ERROR_STOP)
# Every loop stops when the stop file exists.
package DurableLoad;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(app_setup start_load stop_starters stop_load acked_starts load_errors
  wait_all_closed check_invariants);

my $app_sql = <<'SQL';
CREATE SCHEMA app;
CREATE TABLE app.effects (run_id uuid NOT NULL, activity_id text NOT NULL, attempt int NOT NULL,
	at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE app.errors (site text, sqlstate text, message text, at timestamptz DEFAULT clock_timestamp());

-- The workflow code: decide from the whole history, complete the task.
CREATE FUNCTION app.decide(tok text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE h jsonb; n_started int; n_fired int; n_sched int; n_done int; cmds jsonb;
BEGIN
	h := durable.workflow_task_history(tok);
	SELECT count(*) FILTER (WHERE e->>'event_type' = 'TimerStarted'),
		   count(*) FILTER (WHERE e->>'event_type' = 'TimerFired'),
		   count(*) FILTER (WHERE e->>'event_type' = 'ActivityTaskScheduled'),
		   count(*) FILTER (WHERE e->>'event_type' = 'ActivityTaskCompleted')
	  INTO n_started, n_fired, n_sched, n_done
	  FROM jsonb_array_elements(h) e;
	IF n_started = 0 THEN
		cmds := '[{"type": "start_timer", "timer_id": "t", "duration": "200 milliseconds"}]';
	ELSIF n_fired = 0 OR n_sched > n_done THEN
		cmds := '[]';
	ELSIF n_done >= 3 THEN
		cmds := jsonb_build_array(jsonb_build_object('type', 'complete_workflow', 'result', n_done));
	ELSE
		cmds := jsonb_build_array(jsonb_build_object('type', 'schedule_activity',
			'activity_id', 'a' || (n_done + 1), 'activity_type', 'Effect',
			'start_to_close_timeout', '3 seconds',
			'retry_policy', jsonb_build_object('initial_interval', '100 milliseconds',
											   'maximum_interval', '1 second')));
	END IF;
	PERFORM durable.complete_workflow_task(tok, cmds);
EXCEPTION WHEN OTHERS THEN
	INSERT INTO app.errors (site, sqlstate, message) VALUES ('decide', SQLSTATE, SQLERRM);
END $$;

-- The activity: its effect and its completion commit together.
CREATE FUNCTION app.act(tok text, rid uuid, aid text, att int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF aid = 'a2' AND att = 1 THEN
		PERFORM durable.fail_activity(tok, '{"message": "transient"}');
	ELSE
		INSERT INTO app.effects (run_id, activity_id, attempt) VALUES (rid, aid, att);
		PERFORM durable.complete_activity(tok, to_jsonb(aid));
	END IF;
EXCEPTION WHEN OTHERS THEN
	INSERT INTO app.errors (site, sqlstate, message) VALUES ('act', SQLSTATE, SQLERRM);
END $$;
SQL

my $worker_script = <<'PGB';
SELECT coalesce(max(task_token), '') AS tok,
	coalesce(max(CASE kind WHEN 'workflow' THEN 1 WHEN 'activity' THEN 2 ELSE 0 END), 0) AS k,
	coalesce(max(CAST(run_id AS text)), '') AS rid,
	coalesce(max(activity_id), '') AS aid,
	coalesce(max(attempt), 0) AS att
FROM durable.poll_task('chaos', 'w-' || pg_backend_pid(), '{workflow,activity}', '300 milliseconds') \gset
\if :k = 1
SELECT app.decide(':tok');
\elif :k = 2
SELECT app.act(':tok', ':rid', ':aid', :att);
\endif
PGB

# One starter: batches of 20 starts, one psql each; a batch ends at the
# first error (a crash), and the next batch goes on with new ids.
my $starter_code = q{
	my ($dir, $s, $p, $pause) = @ARGV;
	my $bs = chr(92);    # a backslash
	my $n = 0;
	while (!-e "$dir/stop" && !-e "$dir/stop-starters")
	{
		open(my $f, '>', "$dir/start-$s.sql") or die $!;
		foreach my $i ($n .. $n + 19)
		{
			print $f "SELECT durable.start_workflow('Chaos', workflow_id => '$p-$i', task_queue => 'chaos', "
			  . "task_timeout => '2 seconds') AS r ${bs}gset\n${bs}echo ack $p-$i :PORT\n";
			# the same signal twice (a client retrying): delivered once
			print $f "SELECT durable.signal_workflow('$p-$i', 'ping', request_id => 'ping-$p-$i') AS s ${bs}gset\n"
			  x 2;
			print $f "${bs}echo sig $p-$i :PORT\nSELECT pg_sleep($pause) AS s ${bs}gset\n";
		}
		close $f;
		system(qq{psql -X -q -At -v ON_ERROR_STOP=1 -d "\$CONN" -f "$dir/start-$s.sql" >>"$dir/ack-$s" 2>>"$dir/starter-$s.err"}) == 0
		  or select(undef, undef, undef, 0.2);
		$n += 20;
	}
};

# Create the application (schema app) in $node's database postgres.
sub app_setup
{
	my $node = shift;
	$node->safe_psql('postgres', $app_sql);
}

# Start the load against connection string $conn.  Options: dir (where the
# scripts, logs and ack files go), workers (pgbench clients), starters,
# pause (seconds between two starts of one starter), prefix (of workflow
# ids).  Returns a handle for stop_load.
sub start_load
{
	my (%o) = @_;
	my $dir = $o{dir};
	mkdir $dir;
	my $stop = "$dir/stop";
	unlink $stop, "$dir/stop-starters";
	open(my $fh, '>', "$dir/worker.sql") or die $!;
	print $fh $worker_script;
	close $fh;

	my @h;
	local $ENV{CONN} = $o{conn};
	local $ENV{DIR} = $dir;
	push @h, IPC::Run::start([ 'bash', '-c', <<SH ], '>', "$dir/workers.out", '2>&1');
while [ ! -e "\$DIR/stop" ]; do
	pgbench -n -M simple -c $o{workers} -j 1 -T 2 -f "\$DIR/worker.sql" "\$CONN" >>"\$DIR/pgbench.log" 2>&1
	[ -e "\$DIR/stop" ] || sleep 0.2
done
SH
	foreach my $s (1 .. $o{starters})
	{
		push @h, IPC::Run::start([ $^X, '-e', $starter_code, $dir, $s, "$o{prefix}$s", $o{pause} ],
			'>', "$dir/starter$s.out", '2>&1');
	}
	return { dir => $dir, handles => \@h, starters => $o{starters} };
}

# Make the starters stop (they finish the current batch of 20 starts).
sub stop_starters
{
	my $load = shift;
	open(my $fh, '>', "$load->{dir}/stop-starters") or die $!;
	close $fh;
	$_->finish foreach @{ $load->{handles} }[ 1 .. $#{ $load->{handles} } ];
}

sub stop_load
{
	my $load = shift;
	open(my $fh, '>', "$load->{dir}/stop") or die $!;
	close $fh;
	$_->finish foreach @{ $load->{handles} };
}

# The acknowledged starts: { workflow_id => port that acknowledged it }
# (with "sig", the acknowledged signals).
sub acked_starts
{
	my ($load, $what) = @_;
	$what //= 'ack';
	my %acked;
	foreach my $s (1 .. $load->{starters})
	{
		my $f = "$load->{dir}/ack-$s";
		next unless -e $f;
		foreach my $line (split /\n/, slurp_file($f))
		{
			$acked{$1} = $2 if $line =~ /^$what (\S+) (\d+)$/;
		}
	}
	return \%acked;
}

# Errors the application recorded, by site and SQLSTATE: "act DU004" => n.
sub load_errors
{
	my $node = shift;
	my %e;
	foreach my $line (split /\n/, $node->safe_psql('postgres',
			"SELECT site || ' ' || sqlstate || ' ' || min(message), count(*) FROM app.errors GROUP BY site, sqlstate"))
	{
		my ($k, $n) = split /\|/, $line;
		$e{$k} = $n;
	}
	return \%e;
}

# Wait until no run is open (at most $timeout seconds).  True when none is.
sub wait_all_closed
{
	my ($node, $timeout) = @_;
	my $until = time() + $timeout;
	while (time() < $until)
	{
		return 1 if $node->safe_psql('postgres',
			"SELECT count(*) FROM durable.workflows WHERE status = 'running'") eq '0';
		usleep(250_000);
	}
	return 0;
}

# The invariants, as tests: every acknowledged start ran once and
# completed; every run's history is contiguous with no duplicate event;
# exactly one effect per completed activity; amcheck is clean on every
# durable index.
sub check_invariants
{
	my ($node, $acked, $label, $signaled) = @_;
	my $q = sub { return $node->safe_psql('postgres', shift); };

	# every acknowledged start: one run, completed with 3 activities
	my %runs;
	foreach my $line (split /\n/, $q->(
			"SELECT workflow_id, count(*), string_agg(status || ':' || coalesce(result::text, ''), ',') FROM durable.workflows GROUP BY workflow_id"))
	{
		my ($wid, $n, $st) = split /\|/, $line;
		$runs{$wid} = [ $n, $st ];
	}
	my (@lost, @dup, @unfinished);
	foreach my $wid (sort keys %$acked)
	{
		my $r = $runs{$wid};
		if (!$r) { push @lost, $wid; next; }
		push @dup, "$wid ($r->[0] runs)" if $r->[0] != 1;
		push @unfinished, "$wid ($r->[1])" if $r->[1] ne 'completed:3';
	}
	my $n = scalar(keys %$acked);
	is(scalar(@lost), 0, "$label: none of the $n acknowledged workflows is lost") or diag("lost: @lost[0 .. ($#lost < 20 ? $#lost : 20)]");
	is(scalar(@dup), 0, "$label: none is duplicated") or diag("duplicated: @dup");
	is(scalar(@unfinished), 0, "$label: every one completed, after 3 activities")
	  or diag("unfinished: @unfinished[0 .. ($#unfinished < 20 ? $#unfinished : 20)]");
	is($q->("SELECT count(*) FROM durable.workflows WHERE status <> 'completed'"), '0',
		"$label: so did every start committed without an acknowledgement");

	# history: event ids 1..n, no gap, no duplicate, n = history_length
	is($q->(q{SELECT count(*) FROM (
			SELECT w.run_id, w.history_length, count(h.event_id) AS n, count(DISTINCT h.event_id) AS d,
				   min(h.event_id) AS lo, max(h.event_id) AS hi
			FROM durable.workflows w LEFT JOIN durable.history h ON h.run_id = w.run_id
			GROUP BY w.run_id, w.history_length) s
		WHERE n <> d OR lo <> 1 OR hi <> n OR n <> history_length}), '0',
		"$label: every run's history is contiguous (event ids 1..n, no gap, no duplicate)");
	is($q->(q{SELECT count(*) FROM (
			SELECT run_id, attributes->>'scheduled_event_id' FROM durable.history
			WHERE event_type IN ('ActivityTaskCompleted', 'ActivityTaskStarted')
			GROUP BY run_id, event_type, attributes->>'scheduled_event_id' HAVING count(*) > 1) s}), '0',
		"$label: no activity completed or started twice in history");
	is($q->(q{SELECT count(*) FROM (SELECT run_id, attributes->>'activity_id' FROM durable.history
			WHERE event_type = 'ActivityTaskScheduled' GROUP BY 1, 2 HAVING count(*) > 1) s}), '0',
		"$label: no activity scheduled twice");

	# signals: each acknowledged one delivered, none twice (request ids)
	my %sigs = map { split /\|/ } split /\n/, $q->(q{SELECT w.workflow_id, count(*) FROM durable.workflows w
		JOIN durable.history h ON h.run_id = w.run_id WHERE h.event_type = 'WorkflowExecutionSignaled' GROUP BY 1});
	my @missing = grep { !$sigs{$_} } sort keys %{ $signaled // {} };
	is(scalar(@missing), 0, "$label: every one of the " . scalar(keys %{ $signaled // {} }) . ' acknowledged signals was delivered')
	  or diag("missing: @missing[0 .. ($#missing < 20 ? $#missing : 20)]");
	my @twice = grep { $sigs{$_} > 1 } sort keys %sigs;
	is(scalar(@twice), 0, "$label: no signal was delivered twice (each was sent twice with one request id)")
	  or diag("twice: @twice[0 .. ($#twice < 20 ? $#twice : 20)]");

	# effects: exactly one per completed activity, none for another
	my $completed = q{SELECT s.run_id, s.attributes->>'activity_id' AS activity_id
		FROM durable.history c JOIN durable.history s
		  ON s.run_id = c.run_id AND s.event_id = (c.attributes->>'scheduled_event_id')::bigint
		WHERE c.event_type = 'ActivityTaskCompleted'};
	my $n_completed = $q->("SELECT count(*) FROM ($completed) c");
	cmp_ok($n_completed, '>=', 3 * $n, "$label: $n_completed activities completed");
	is($q->("SELECT count(*) FROM (SELECT run_id, activity_id FROM app.effects GROUP BY 1, 2 HAVING count(*) > 1) s"),
		'0', "$label: no activity has two effects");
	is($q->("SELECT count(*) FROM ($completed) c WHERE NOT EXISTS
			(SELECT 1 FROM app.effects e WHERE e.run_id = c.run_id AND e.activity_id = c.activity_id)"),
		'0', "$label: every completed activity has its effect");
	is($q->("SELECT count(*) FROM app.effects e WHERE NOT EXISTS
			(SELECT 1 FROM ($completed) c WHERE e.run_id = c.run_id AND e.activity_id = c.activity_id)"),
		'0', "$label: no effect without a completed activity");

	# amcheck on every btree index of durable's tables
	my ($ret, $out, $err) = $node->psql('postgres', q{CREATE EXTENSION IF NOT EXISTS amcheck;
		SELECT count(*) FROM (SELECT bt_index_check(c.oid, true)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
			WHERE n.nspname = 'durable' AND c.relkind = 'i' AND a.amname = 'btree') s});
	is($ret, 0, "$label: amcheck (bt_index_check with heapallindexed) is clean on the $out btree indexes of durable")
	  or diag($err);
	return;
}

1;
