# Fuzz of the public SQL API (issue 10, point 7; the properties are those of
# points 2, 3 and 5).
#
# Every public function of schema durable (read from pg_proc: not starting
# with "_") is called with NULL, empty, huge and malformed values in each
# argument in turn (the other arguments at sane values), then with every
# argument NULL, then with seeded random combinations, as the first API role
# that may call it (durable_client, durable_worker, other durable_* roles,
# durable_admin), and once with sane values as each of those roles.  About
# 1,500 calls.  For every call:
#   (a) an error's SQLSTATE is one that docs/sql-api.md ("Error codes")
#       documents (the list is read from the doc);
#   (b) no internal error (XX000) and no crash;
#   (c) a refused call changed nothing: a checksum of every durable table
#       before and after the call, in the same transaction, under SHARE locks
#       so that the engine cannot write in between.
# Calls whose wait or timeout argument may make them wait run apart, with a
# 300 ms statement_timeout (57014 then means "it waited"), without (c).
# Then, as a worker role: tokens rebuilt from get_history, guessed, or
# tampered with (attempt, run id, time field, signature) are refused, stale
# ones give DU004, a query answer carrying another run's id or rolled back
# is not delivered (points 3 and 5); the 0.1/0.2 C helpers the library
# keeps survive NULL arguments (point 5).  At the end:
#   (d) every task queue still hands out work: on each queue a fresh
#       workflow's workflow task and then its activity are polled and
#       completed (no poisoned queue);
#   (e) every stored run's history and description still read, and no
#       duration in history is negative;
#   (f) the engine logged no error and is still active.
#
# What fails today is in %todo and in TODO blocks (Test::More), each naming
# the point of issue 10 that fixes it; remove them when the engine is fixed.
#
# Deterministic: the random combinations come from a fixed seed.  About 45 s.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $t0 = time();

# ------------------------------------------------------------ documented codes

# The documented SQLSTATEs: every code in backquotes in the "Error codes"
# section of docs/sql-api.md.
my $doc = "$FindBin::RealBin/../../docs/sql-api.md";
open(my $fh, '<', $doc) or die "cannot read $doc: $!";
my $text = do { local $/; <$fh> };
close $fh;
my ($codes_section) = $text =~ /^## Error codes\n(.*?)(?=^## |\z)/ms;
die "no \"## Error codes\" section in $doc" unless defined $codes_section;
my %documented = map { $_ => 1 } ($codes_section =~ /`([0-9A-Z]{5})`/g);
# DU010..DU013 are written as one row of four codes
cmp_ok(scalar(keys %documented), '>=', 15, 'documented SQLSTATEs read from docs/sql-api.md: '
	  . join(' ', sort keys %documented));

# ------------------------------------------------------------ TODO: known failures

# Groups ("function(argument)") that fail today, with the issue 10 point
# whose fix makes them pass.  Keyed by group and check: doc (a), internal
# (b), unchanged (c).
# (None left: a command's priority out of range now gives DU005, and the
# 0.1/0.2 C helpers refuse NULLs with 22004.)
my %todo = ();

# ------------------------------------------------------------ the node

my $node = durable_node('fuzz', conf => <<'CONF');
restart_after_crash = on
log_line_prefix = '%m [%p] %b '
CONF

sub sql { return $node->safe_psql('postgres', shift); }

sql('CREATE EXTENSION durable');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL"),
	'engine worker active');

# One login role per API role the extension made (durable_client,
# durable_worker, durable_admin, ...): fuzz_client, fuzz_worker, ...
my %role_of;
foreach my $r (split /\n/, sql("SELECT rolname FROM pg_roles WHERE rolname ~ '^durable_' ORDER BY 1"))
{
	(my $short = $r) =~ s/^durable_//;
	$role_of{$short} = "fuzz_$short";
	sql("CREATE ROLE fuzz_$short LOGIN IN ROLE $r");
}
ok(exists $role_of{client} && exists $role_of{worker} && exists $role_of{admin},
	'API roles: ' . join(' ', map { "durable_$_" } sort keys %role_of));
# the role a function is fuzzed as: the first of these that may call it
my @role_order = ((grep { exists $role_of{$_} } qw(client worker)), (grep { !/^(client|worker|admin)$/ } sort keys %role_of), 'admin');
sql(<<'SQL');
CREATE SCHEMA fuzz;
GRANT USAGE ON SCHEMA fuzz TO PUBLIC;
CREATE SEQUENCE fuzz.seq;
CREATE TABLE fuzz.calls (id int PRIMARY KEY, grp text NOT NULL, role text NOT NULL,
	call text NOT NULL, may_wait boolean NOT NULL);
CREATE TABLE fuzz.results (id int PRIMARY KEY, sqlstate text NOT NULL, message text,
	changed boolean NOT NULL, via text NOT NULL, lock_ms float8, call_ms float8, sum_ms float8);

-- values built in SQL, so that the call texts stay short
CREATE FUNCTION fuzz.deep(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE
	AS $$ SELECT (repeat('[', n) || repeat(']', n))::jsonb $$;
CREATE FUNCTION fuzz.big(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE
	AS $$ SELECT to_jsonb(repeat('x', n)) $$;
CREATE FUNCTION fuzz.wide(n int) RETURNS jsonb LANGUAGE sql IMMUTABLE
	AS $$ SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, n) i $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fuzz TO PUBLIC;

-- Factories of live objects, called inside a fuzzed call's argument list
-- (security definer: they run as the superuser whatever role calls).  Each
-- uses a queue of its own, so its poll gets exactly what it just made.
CREATE FUNCTION fuzz.new_id() RETURNS text LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT 'fz-' || nextval('fuzz.seq') $$;
-- a running workflow (nothing claimed)
CREATE FUNCTION fuzz.fresh_wf() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE id text := fuzz.new_id();
BEGIN
	PERFORM durable.start_workflow('FuzzWf', workflow_id => id, task_queue => 'fzw');
	RETURN id;
END $$;
-- the token of a claimed workflow task (its workflow on queue q)
CREATE FUNCTION fuzz.fresh_wft(q text DEFAULT NULL) RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE id text := fuzz.new_id(); tok text;
BEGIN
	q := coalesce(q, 'fzf-' || id);
	PERFORM durable.start_workflow('FuzzWf', workflow_id => id, task_queue => q);
	SELECT task_token INTO STRICT tok FROM durable.poll_task(q, 'fz-owner', '{workflow}');
	RETURN tok;
END $$;
-- a workflow whose activity a1 is scheduled (claimed when claim)
CREATE FUNCTION fuzz.fresh_act_wf(claim boolean DEFAULT false) RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE id text := fuzz.new_id(); q text := 'fza-' || id; tok text;
BEGIN
	PERFORM durable.start_workflow('FuzzWf', workflow_id => id, task_queue => q);
	SELECT task_token INTO STRICT tok FROM durable.poll_task(q, 'fz-owner', '{workflow}');
	PERFORM durable.complete_workflow_task(tok, '[{"type": "schedule_activity", "activity_id": "a1",
		"activity_type": "A", "start_to_close_timeout": "1 hour"}]');
	IF claim THEN
		PERFORM 1 FROM durable.poll_task(q, 'fz-owner', '{activity}');
	END IF;
	RETURN id;
END $$;
-- the token of a claimed activity
CREATE FUNCTION fuzz.fresh_act() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE id text := fuzz.fresh_act_wf(); tok text;
BEGIN
	SELECT task_token INTO STRICT tok FROM durable.poll_task('fza-' || id, 'fz-owner', '{activity}');
	RETURN tok;
END $$;
-- the same, with cancellation requested
CREATE FUNCTION fuzz.fresh_act_cancel() RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE id text := fuzz.new_id(); q text := 'fzc-' || id; tok text; atok text;
BEGIN
	PERFORM durable.start_workflow('FuzzWf', workflow_id => id, task_queue => q);
	SELECT task_token INTO STRICT tok FROM durable.poll_task(q, 'fz-owner', '{workflow}');
	PERFORM durable.complete_workflow_task(tok, '[{"type": "schedule_activity", "activity_id": "a1",
		"activity_type": "A", "start_to_close_timeout": "1 hour"}]');
	SELECT task_token INTO STRICT atok FROM durable.poll_task(q, 'fz-owner', '{activity}');
	PERFORM durable.signal_workflow(id, 'go');
	SELECT task_token INTO STRICT tok FROM durable.poll_task(q, 'fz-owner', '{workflow}');
	PERFORM durable.complete_workflow_task(tok, '[{"type": "request_cancel_activity", "activity_id": "a1"}]');
	RETURN atok;
END $$;

-- A checksum of the contents of every table of schema durable (the row
-- count and the sum of the rows' hashes, table by table).
CREATE FUNCTION fuzz.checksum() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; acc text := ''; h text;
BEGIN
	FOR r IN SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = 'durable' AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
		EXECUTE format('SELECT count(*) || '':'' || coalesce(sum(hash_record_extended(x, 0)), 0) FROM %s x', r.t)
			INTO h;
		acc := acc || r.t || '=' || h || ';';
	END LOOP;
	RETURN md5(acc);
END $$;

-- Run the calls that have no result yet, one transaction each: SHARE-lock
-- every durable table (the engine and other sessions wait), checksum, the
-- call as its role in a subtransaction, checksum again if it was refused.
CREATE PROCEDURE fuzz.run(p_limit int) LANGUAGE plpgsql AS $$
DECLARE fc record; tabs text; before text; after text; st text; msg text; t0 timestamptz; t1 timestamptz; t2 timestamptz; t3 timestamptz;
BEGIN
	SELECT string_agg(c.oid::regclass::text, ', ') INTO tabs FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'durable' AND c.relkind IN ('r', 'p');
	FOR fc IN SELECT k.* FROM fuzz.calls k WHERE NOT k.may_wait
			 AND NOT EXISTS (SELECT 1 FROM fuzz.results r WHERE r.id = k.id) ORDER BY k.id LIMIT p_limit LOOP
		t0 := clock_timestamp();
		LOOP
			BEGIN
				EXECUTE 'LOCK TABLE ' || tabs || ' IN SHARE MODE NOWAIT';
				EXIT;
			EXCEPTION WHEN deadlock_detected OR lock_not_available THEN
				PERFORM pg_sleep(0.002);
			END;
		END LOOP;
		t1 := clock_timestamp();
		before := fuzz.checksum();
		t2 := clock_timestamp();
		st := '00000';
		msg := NULL;
		BEGIN
			EXECUTE 'SET LOCAL ROLE ' || fc.role;
			EXECUTE fc.call;
			RESET ROLE;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		END;
		t3 := clock_timestamp();
		IF st <> '00000' THEN
			after := fuzz.checksum();
		END IF;
		INSERT INTO fuzz.results VALUES (fc.id, st, left(msg, 300), st <> '00000' AND after IS DISTINCT FROM before, 'proc',
			1000 * extract(epoch FROM t1 - t0), 1000 * extract(epoch FROM t3 - t2),
			1000 * extract(epoch FROM clock_timestamp() - t3 + t2 - t1));
		COMMIT;
	END LOOP;
END $$;
SQL

# ------------------------------------------------------------ fixtures

# fx-run: running, its workflow task done, activity a1 claimed by another
# worker, a timer pending; fx-done: completed; fx-term: terminated.
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fx-run', task_queue => 'fx')");
my $tok = sql("SELECT task_token FROM durable.poll_task('fx', 'fz-owner', '{workflow}')");
sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A", "start_to_close_timeout": "1 hour"}, {"type": "start_timer", "timer_id": "t1", "duration": "1 hour"}]')});
my $stale_wft = $tok;
my $live_act = sql("SELECT task_token FROM durable.poll_task('fx', 'fz-owner', '{activity}')");
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fx-done', task_queue => 'fx')");
$tok = sql("SELECT task_token FROM durable.poll_task('fx', 'fz-owner', '{workflow}')");
sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "complete_workflow", "result": 1}]')});
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fx-term', task_queue => 'fx')");
sql("SELECT durable.terminate_workflow('fx-term', 'fixture')");
my $run_run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = 'fx-run'");
my $done_run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = 'fx-done'");
# a completed activity's token
my $aw = sql("SELECT fuzz.fresh_act()");
sql("SELECT durable.complete_activity('$aw', '1')");
my $stale_act = $aw;
# sane ready workflow tasks for the poll_task calls (queue fzq)
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fzq-' || i, task_queue => 'fzq') FROM generate_series(1, 150) i");

# ------------------------------------------------------------ value pools

my $nil = '00000000-0000-0000-0000-000000000000';
my @p_interval = ('NULL', q{'0'}, q{'-1 second'}, q{'1 microsecond'}, q{'1 second'},
	q{'1000000 years'}, q{'-1000000 years'}, q{'178000000 years'}, q{'1 year -1 second'},
	q{'2147483647 days'}, q{'2 mons -70 days'});
my @p_int = ('NULL', '-1', '0', '1', '2147483647', '(-2147483648)::int');
my @p_bigint = (@p_int, '9223372036854775807', '(-9223372036854775808)::bigint');
my @p_bool = ('NULL', 'true', 'false');
my @p_uuid = ('NULL', 'gen_random_uuid()', "'$nil'", "'$done_run'", "'$run_run'");
my @p_textarr = ('NULL', q{'{}'}, q{'{bogus}'}, q{'{workflow}'}, q{'{activity}'}, q{'{query}'},
	q{ARRAY[NULL]::text[]}, q{'{activity,activity,workflow}'});
my @p_text = ('NULL', q{''}, q{'nope'}, q{repeat('x', 1001)}, q{repeat('y', 2100000)},
	q{'fz-é漢字'}, q{'a''b;--'}, q{E'tab\there'});
my @p_id = (@p_text, q{'fx-run'}, q{'fx-done'}, q{'fx-term'});
my @p_queue = ('NULL', q{''}, q{repeat('q', 1001)}, q{repeat('q', 2100000)}, q{'fz-é漢字'}, q{'fzs'});
my @p_policy = ('NULL', q{''}, q{'bogus'}, q{'FAIL'}, q{'allow_duplicate'}, q{'allow_duplicate_failed_only'},
	q{'reject_duplicate'}, q{'use_existing'}, q{'terminate_existing'}, q{'fail'});
my @p_token = ('NULL', q{''}, q{'garbage'}, q{'a:zzz'}, q{'a:' || repeat('9', 1000)},
	"'a:$run_run:99999999999999999999999:1:0'", "'a:$run_run:-1:1:0'", "'w:$nil:1:3:0'",
	"'a:$nil:5:1:0'", "'q:$nil:1:0:0'", "'q:$run_run:999999:0:0'", "'$stale_wft'", "'$stale_act'",
	q{'x:' || repeat('y', 2100000)}, "'a:$run_run:5:1:0:extra'", "'A:$run_run:5:1:0'",
	"' a:$run_run:5:1:0'");
my @p_json = ('NULL', q{'null'}, q{'{}'}, q{'[]'}, q{'1e20'}, q{'-1'}, q{'"s"'}, q{'true'}, q{'1e1000'},
	q{fuzz.deep(5000)}, q{fuzz.big(2100000)}, q{fuzz.wide(2000)}, q{'"\ud83d\ude00"'});
my @p_failure = ('NULL', q{'{}'}, q{'"boom"'}, q{'[]'}, q{'{"message": 5}'}, q{'{"message": null}'},
	q{'{"message": "m", "non_retryable": "yes"}'}, q{'{"message": "m", "type": 5}'},
	q{'{"message": "m", "details": 1e20}'}, q{jsonb_build_object('message', 'm', 'details', fuzz.deep(5000))},
	q{jsonb_build_object('message', repeat('m', 2100000))}, q{'{"message": "m", "cause": "c"}'},
	q{'{"message": "m", "cause": {"message": "c", "cause": {"message": 1}}}'},
	q{'{"message": "m", "timeout_type": "NOPE"}'}, q{'{"message": "m", "stack_trace": {}}'},
	q{'{"message": "m", "type": "T", "non_retryable": true}'}, q{'{"message": "m", "unknown": 1}'});
my @rp = ('{"maximum_attempts": 1e20}', '{"maximum_attempts": -1}', '{"maximum_attempts": 2147483648}',
	'{"maximum_attempts": 1.5}', '{"maximum_attempts": "3"}', '{"initial_interval": "1000000 years"}',
	'{"initial_interval": "-1 second"}', '{"initial_interval": "0"}', '{"initial_interval": "garbage"}',
	'{"initial_interval": 5}', '{"backoff_coefficient": 1e20}', '{"backoff_coefficient": 0.5}',
	'{"backoff_coefficient": -1}', '{"backoff_coefficient": "2"}', '{"maximum_interval": "1000000 years"}',
	'{"maximum_interval": "-1 second"}', '{"initial_interval": "10 seconds", "maximum_interval": "1 second"}',
	'{"non_retryable_error_types": "x"}', '{"non_retryable_error_types": [1]}', '{"unknown": 1}',
	'{"initial_interval": "178000000 years", "backoff_coefficient": 1e20, "maximum_attempts": 0}');
my @p_retry = ('NULL', q{'"x"'}, q{'[]'}, q{'{}'}, map { "'$_'" } @rp);
my @p_sa = ('NULL', q{'"x"'}, q{'[]'}, q{'{}'}, q{'{"k": 1e20}'}, q{jsonb_build_object('k', fuzz.deep(5000))},
	q{fuzz.wide(2000)}, q{jsonb_build_object(repeat('k', 2000), 1)});

# Commands for complete_workflow_task: every command with bad fields.
my $act = '"type": "schedule_activity", "activity_id": "fa", "activity_type": "A"';
my @cmd = (
	'null', '{}', '"x"', '[1]', '[null]', '[{}]', '[{"type": "nope"}]', '[{"type": 5}]',
	qq([{$act}]),
	qq([{$act, "start_to_close_timeout": "1 minute"}]),
	qq([{$act, "start_to_close_timeout": "1000000 years"}]),
	qq([{$act, "start_to_close_timeout": "178000000 years"}]),
	qq([{$act, "start_to_close_timeout": "-1 second"}]),
	qq([{$act, "start_to_close_timeout": "0"}]),
	qq([{$act, "start_to_close_timeout": "1 microsecond"}]),
	qq([{$act, "start_to_close_timeout": 5}]),
	qq([{$act, "start_to_close_timeout": "garbage"}]),
	qq([{$act, "schedule_to_close_timeout": "1000000 years"}]),
	qq([{$act, "schedule_to_close_timeout": "-1 second"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "schedule_to_start_timeout": "1000000 years"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "heartbeat_timeout": "1000000 years"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "heartbeat_timeout": "-1 second"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "priority": 1e20}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "priority": 2147483648}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "priority": "x"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "request_eager_execution": "yes"}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "task_queue": ""}]),
	qq([{$act, "start_to_close_timeout": "1 minute", "unknown": 1}]),
	qq([{$act, "start_to_close_timeout": "1 minute"}, {$act, "start_to_close_timeout": "1 minute"}]),
	'[{"type": "schedule_activity", "activity_id": 5, "activity_type": "A", "start_to_close_timeout": "1 minute"}]',
	'[{"type": "schedule_activity", "activity_id": "", "activity_type": "A", "start_to_close_timeout": "1 minute"}]',
	'[{"type": "schedule_activity", "activity_id": null, "activity_type": "A", "start_to_close_timeout": "1 minute"}]',
	(map { qq([{$act, "start_to_close_timeout": "1 minute", "retry_policy": $_}]) } @rp),
	'[{"type": "start_timer", "timer_id": "t", "duration": "1000000 years"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "178000000 years"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "-1 second"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "0"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "1 microsecond"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": 1e20}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "garbage"}]',
	'[{"type": "start_timer", "timer_id": null, "duration": "1 second"}]',
	'[{"type": "start_timer", "timer_id": "t", "duration": "1 hour"}, {"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]',
	'[{"type": "cancel_timer", "timer_id": "nope"}]',
	'[{"type": "request_cancel_activity", "activity_id": "nope"}]',
	'[{"type": "record_marker", "marker_name": 5}]',
	'[{"type": "upsert_search_attributes", "search_attributes": "x"}]',
	'[{"type": "complete_workflow", "result": 1}, {"type": "complete_workflow", "result": 2}]',
	'[{"type": "complete_workflow"}, {"type": "start_timer", "timer_id": "t", "duration": "1 second"}]',
	'[{"type": "fail_workflow", "failure": "x"}]',
	'[{"type": "fail_workflow"}]',
	'[{"type": "cancel_workflow", "details": 1e20}]',
	'[{"type": "continue_as_new", "task_timeout": "1000000 years"}]',
	'[{"type": "continue_as_new", "task_timeout": "-1 second"}]',
	'[{"type": "continue_as_new", "run_timeout": "1000000 years"}]',
	'[{"type": "continue_as_new", "run_timeout": "-1 second"}]',
	'[{"type": "continue_as_new", "workflow_type": 5, "task_queue": ""}]',
);
my @p_commands = ('NULL', (map { my $c = $_; $c =~ s/'/''/g; "'$c'" } @cmd),
	q{jsonb_build_array(jsonb_build_object('type', 'record_marker', 'marker_name', 'm', 'details', fuzz.deep(5000)))},
	q{jsonb_build_array(jsonb_build_object('type', 'complete_workflow', 'result', fuzz.big(2100000)))},
	q{jsonb_build_array(jsonb_build_object('type', 'upsert_search_attributes', 'search_attributes', jsonb_build_object('k', fuzz.deep(5000))))},
	q{(SELECT jsonb_agg(jsonb_build_object('type', 'start_timer', 'timer_id', 't' || i, 'duration', '1 hour')) FROM generate_series(1, 500) i)},
	q{(SELECT jsonb_agg(jsonb_build_object('type', 'schedule_activity', 'activity_id', 'a' || i, 'activity_type', 'A', 'start_to_close_timeout', '1 hour')) FROM generate_series(1, 300) i)});

# The pool of one argument: by name first, then by type.
sub pool
{
	my ($fn, $name, $type) = @_;
	return @p_token    if $name eq 'task_token';
	return @p_commands if $name eq 'commands';
	return @p_retry    if $name eq 'retry_policy';
	return @p_failure  if $name eq 'failure';
	return @p_sa       if $name eq 'search_attributes';
	return @p_policy   if $name =~ /_policy$/;
	return @p_queue    if $name eq 'task_queue';
	return @p_id       if $name eq 'workflow_id';
	return @p_interval if $type eq 'interval';
	return @p_int      if $type eq 'integer' || $type eq 'smallint';
	return @p_bigint   if $type eq 'bigint';
	return @p_bool     if $type eq 'boolean';
	return @p_uuid     if $type eq 'uuid';
	return @p_textarr  if $type eq 'text[]';
	return @p_json     if $type eq 'jsonb' || $type eq 'json';
	return @p_text     if $type eq 'text';
	return ('NULL');
}

my %token_of = (
	workflow_task_history  => 'fuzz.fresh_wft()',
	complete_workflow_task => 'fuzz.fresh_wft()',
	fail_workflow_task     => 'fuzz.fresh_wft()',
	report_activity_canceled => 'fuzz.fresh_act_cancel()',
	answer_query           => "'q:$run_run:1:0:0'",
);

# A sane value for an argument that has no default (and for a few that do).
sub baseline
{
	my ($fn, $name, $type) = @_;
	if ($name eq 'task_token')
	{
		return $token_of{$fn} // 'fuzz.fresh_act()';
	}
	if ($name eq 'workflow_id')
	{
		return 'fuzz.new_id()' if $fn =~ /^(start_workflow|signal_with_start_workflow)$/;
		return 'fuzz.fresh_act_wf(true)' if $fn =~ /_by_id$/;
		return 'fuzz.fresh_wf()' if $fn =~ /^(signal|cancel|terminate)_workflow$/;
		return q{'fx-done'} if $fn eq 'workflow_result';
		return q{'fx-run'};
	}
	return q{'fzq'} if $name eq 'task_queue' && $fn eq 'poll_task';
	return q{'fzs'} if $name eq 'task_queue';
	return q{'50 milliseconds'} if $name eq 'timeout';
	return q{'30 days'} if $name eq 'older_than';
	return q{'{"message": "boom"}'} if $name eq 'failure';
	return q{'a1'} if $name eq 'activity_id';
	return q{'fz-worker'} if $name eq 'worker_id';
	return q{'FuzzWf'} if $name eq 'workflow_type';
	return q{'s'} if $name =~ /_name$/;
	return q{'{"k": 1}'} if $type eq 'jsonb';
	return q{'r'} if $type eq 'text';
	return q{'1 second'} if $type eq 'interval';
	return '1' if $type =~ /^(smallint|integer|bigint)$/;
	return 'false' if $type eq 'boolean';
	return 'NULL';
}

# ------------------------------------------------------------ the calls

my @fns;
foreach my $line (split /\n/, sql(<<'SQL'))
SELECT p.proname, p.pronargs, p.pronargdefaults,
	coalesce((SELECT string_agg(format_type(t, NULL), ',' ORDER BY i)
			  FROM unnest(p.proargtypes) WITH ORDINALITY u(t, i)), ''),
	coalesce((SELECT string_agg(nm, ',' ORDER BY i) FROM unnest(p.proargnames) WITH ORDINALITY u(nm, i)
			  WHERE p.proargmodes IS NULL OR p.proargmodes[i] IN ('i', 'b', 'v')), ''),
	(SELECT string_agg(substr(r.rolname, 9), ',') FROM pg_roles r
	  WHERE r.rolname ~ '^durable_' AND has_function_privilege(r.oid, p.oid, 'EXECUTE'))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'durable' AND p.proname !~ '^_' AND p.prokind = 'f'
ORDER BY p.proname, p.oid
SQL
{
	my ($name, $nargs, $ndef, $types, $names, $allowed) = split /\|/, $line;
	my @types = split /,/, $types;
	my @names = split /,/, $names;
	my %allowed = map { $_ => 1 } split /,/, ($allowed // '');
	push @fns, { name => $name, nargs => $nargs, ndef => $ndef, types => \@types, names => \@names,
		roles => [ grep { $allowed{$_} } @role_order ] };
}
cmp_ok(scalar(@fns), '>=', 25, 'public functions found in pg_proc: ' . join(' ', map { $_->{name} } @fns));

# Deterministic pseudo-random numbers (a 32-bit xorshift; the seed is fixed).
my $seed = 20261202;
sub rnd
{
	my $n = shift;
	$seed ^= ($seed << 13) & 0xffffffff;
	$seed ^= $seed >> 17;
	$seed ^= ($seed << 5) & 0xffffffff;
	return $seed % $n;
}

my @calls;    # [grp, role, sql, may_wait]

# A call that may wait (a positive wait or timeout other than the sane
# ones) runs with a statement_timeout outside the procedure.
sub may_wait
{
	my ($fn, $args) = @_;
	foreach my $k (qw(wait timeout))
	{
		next unless exists $args->{$k};
		return 1 unless $args->{$k} =~ /^('0'|'-1 second'|'-1000000 years'|'1 microsecond'|'50 milliseconds')$/;
	}
	return 1 if $fn eq 'query_workflow' && !exists $args->{timeout};
	# update_workflow waits a minute by default for a worker to answer
	return 1 if $fn eq 'update_workflow' && !exists $args->{wait};
	return 0;
}

sub add_call
{
	my ($grp, $fn, $role, $args) = @_;
	my $fname = $fn->{name};
	my @parts = map { "$_ => $args->{$_}" } grep { exists $args->{$_} } @{ $fn->{names} };
	my $call = "SELECT durable.$fname(" . join(', ', @parts) . ')';
	push @calls, [ $grp, $role_of{$role}, $call, may_wait($fname, $args) ];
}

foreach my $fn (@fns)
{
	my @names = @{ $fn->{names} };
	my @types = @{ $fn->{types} };
	my $fname = $fn->{name};
	my $role = $fn->{roles}[0] // $role_order[0];
	my %base;
	for my $i (0 .. $#names)
	{
		my $has_default = $i >= $fn->{nargs} - $fn->{ndef};
		my $b = baseline($fname, $names[$i], $types[$i]);
		# arguments with a default keep it, but for those the fuzz needs sane
		$base{ $names[$i] } = $b if !$has_default || $names[$i] =~ /^(timeout|task_queue|workflow_type)$/;
	}

	# every role: the baseline call (privileges: success or 42501)
	add_call("$fname(roles)", $fn, $_, {%base}) foreach sort keys %role_of;

	# one argument at a time
	for my $i (0 .. $#names)
	{
		foreach my $v (pool($fname, $names[$i], $types[$i]))
		{
			add_call("$fname($names[$i])", $fn, $role, { %base, $names[$i] => $v });
		}
	}
	# every argument NULL
	add_call("$fname(all NULL)", $fn, $role, { map { $_ => 'NULL' } @names }) if @names;

	# seeded random combinations
	foreach my $k (1 .. 12)
	{
		my %args = %base;
		for my $i (0 .. $#names)
		{
			next if rnd(2);
			my @p = pool($fname, $names[$i], $types[$i]);
			$args{ $names[$i] } = $p[ rnd(scalar @p) ];
		}
		add_call("$fname(random)", $fn, $role, \%args);
	}
}

# The reproductions of issue 10, point 2, as calls.
my %fnh = map { $_->{name} => $_ } @fns;
my @issue_cases = (
	[ 'start_workflow', 'client', { workflow_type => q{'I'}, workflow_id => 'fuzz.new_id()', task_queue => q{'fzp-wft'}, task_timeout => q{'1000000 years'} } ],
	[ 'start_workflow', 'client', { workflow_type => q{'I'}, workflow_id => 'fuzz.new_id()', task_queue => q{'fzp-exec'}, execution_timeout => q{'1000000 years'} } ],
	[ 'start_workflow', 'client', { workflow_type => q{'I'}, workflow_id => 'fuzz.new_id()', task_queue => q{'fzp-delay'}, start_delay => q{'1000000 years'} } ],
	[ 'start_workflow', 'client', { workflow_type => q{'I'}, workflow_id => 'fuzz.new_id()', task_queue => q{'fzp-retry'}, retry_policy => q{'{"maximum_attempts": 1e20}'} } ],
	[ 'start_workflow', 'client', { workflow_type => q{'I'}, workflow_id => 'fuzz.new_id()', task_queue => q{'fzp-retry2'}, retry_policy => q{'{"initial_interval": "1000000 years"}'} } ],
	[ 'complete_workflow_task', 'worker', { task_token => q{fuzz.fresh_wft('fzp-act')}, commands => q{'[{"type": "schedule_activity", "activity_id": "p", "activity_type": "A", "start_to_close_timeout": "1000000 years"}]'} } ],
	[ 'complete_workflow_task', 'worker', { task_token => q{fuzz.fresh_wft('fzp-timer')}, commands => q{'[{"type": "start_timer", "timer_id": "p", "duration": "1000000 years"}]'} } ],
	[ 'purge_closed_workflows', 'admin', { older_than => q{'0'}, batch_size => '-1' } ],
	[ 'purge_closed_workflows', 'admin', { older_than => q{'1000000 years'} } ],
	[ 'workflow_result', 'client', { workflow_id => q{'fx-done'}, wait => q{'1000000 years'} } ],
	[ 'poll_task', 'worker', { task_queue => q{'fzp-none'}, worker_id => q{'w'}, wait => q{'1000000 years'} } ],
);
foreach my $c (@issue_cases)
{
	my ($fname, $role, $args) = @$c;
	next unless $fnh{$fname};
	$role = $fnh{$fname}{roles}[0] // $role;
	add_call("$fname(issue 10)", $fnh{$fname}, $role, $args);
}

note(scalar(@calls) . ' calls');
{
	my $ins = "INSERT INTO fuzz.calls VALUES\n" . join(",\n", map {
			my ($g, $r, $s, $w) = @{ $calls[$_] };
			die "call text holds the quote tag: $s" if $s =~ /\$fz\$/;
			sprintf('(%d, $fz$%s$fz$, %s, $fz$%s$fz$, %s)', $_ + 1, $g, "'$r'", $s, $w ? 'true' : 'false')
		} 0 .. $#calls) . ";\n";
	sql($ins);
}

# ------------------------------------------------------------ running them

sub wait_up
{
	return $node->poll_query_until('postgres', 'SELECT true');
}

my $crashes = 0;
my $t_calls = time();
# the procedure: in chunks, so that a crash or a hang costs one call
while (1)
{
	my $left = sql('SELECT count(*) FROM fuzz.calls k WHERE NOT may_wait AND NOT EXISTS (SELECT 1 FROM fuzz.results r WHERE r.id = k.id)');
	last if $left == 0;
	my ($ret, $out, $err) = $node->psql('postgres', "SET statement_timeout = '30s'; SET lock_timeout = '10s'; CALL fuzz.run(100)",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	next if $ret == 0;
	# the first call without a result is the one that failed the procedure
	wait_up();
	my $what = $err =~ /server closed the connection|terminating connection|connection to server was lost/
	  ? 'CRASH' : ($err =~ /ERROR:\s+([0-9A-Z]{5})/ ? "PROC:$1" : 'PROC');
	$crashes++ if $what eq 'CRASH';
	(my $msg = $err) =~ s/'/''/g;
	sql("INSERT INTO fuzz.results (id, sqlstate, message, changed, via) SELECT k.id, '$what', left('$msg', 300), false, 'proc'
		 FROM fuzz.calls k WHERE NOT may_wait AND NOT EXISTS (SELECT 1 FROM fuzz.results r WHERE r.id = k.id)
		 ORDER BY k.id LIMIT 1");
}
# the calls that may wait: each in its own session with a statement timeout
# (57014 then means it waited, as asked); no checksum for these
foreach my $row (split /\n/, sql('SELECT id, role FROM fuzz.calls WHERE may_wait ORDER BY id'))
{
	my ($id, $role) = split /\|/, $row;
	my $call = sql("SELECT call FROM fuzz.calls WHERE id = $id");
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '300ms'; SET ROLE $role; $call",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my $st = '00000';
	if ($ret != 0)
	{
		if ($err =~ /server closed the connection|terminating connection|connection to server was lost/)
		{
			$st = 'CRASH';
			$crashes++;
			wait_up();
		}
		elsif ($err =~ /ERROR:\s+([0-9A-Z]{5})/) { $st = $1; }
		else { $st = 'UNKNOWN'; }
	}
	(my $msg = $err) =~ s/'/''/g;
	sql("INSERT INTO fuzz.results (id, sqlstate, message, changed, via) VALUES ($id, '$st', left('$msg', 300), false, 'wait')");
}
note(sprintf('%d calls in %.1f s, %d crashes', scalar(@calls), time() - $t_calls, $crashes));
note('time in the procedure (ms): ' . sql("SELECT 'lock ' || round(sum(lock_ms)) || ', calls ' || round(sum(call_ms)) || ', checksums ' || round(sum(sum_ms)) FROM fuzz.results"));
note('slowest calls: ' . sql("SELECT string_agg(id || ' ' || round(call_ms) || ' ms', ', ') FROM (SELECT * FROM fuzz.results ORDER BY call_ms DESC NULLS LAST LIMIT 8) s"));

# ------------------------------------------------------------ per-group checks

my %grp;
foreach my $row (split /\n/, sql(q{SELECT k.grp, k.id, r.sqlstate, r.changed, r.via,
		replace(replace(left(k.call, 160), E'\n', ' '), '|', '/'), replace(coalesce(r.message, ''), E'\n', ' ')
	FROM fuzz.calls k JOIN fuzz.results r USING (id) ORDER BY k.id}))
{
	my ($g, $id, $st, $changed, $via, $call, $msg) = split /\|/, $row, 7;
	push @{ $grp{$g} }, { id => $id, st => $st, changed => $changed eq 't', call => $call, msg => $msg, via => $via };
}
is(scalar(map { @$_ } values %grp), scalar(@calls), 'every call has a result');

my %summary;    # sqlstate => count
foreach my $g (sort keys %grp)
{
	my (@undoc, @internal, @changed);
	foreach my $r (@{ $grp{$g} })
	{
		$summary{ $r->{st} }++;
		my $st = $r->{st};
		next if $st eq '00000';
		push @internal, $r if $st eq 'XX000' || $st =~ /^(CRASH|PROC|UNKNOWN)/;
		push @undoc, $r unless $documented{$st} || ($st eq '57014' && $r->{via} eq 'wait');
		push @changed, $r if $r->{changed};
	}
	my $show = sub {
		my @r = @_;
		my @l = map { "  #$_->{id} $_->{st}: $_->{call} -- $_->{msg}" } @r[ 0 .. ($#r < 7 ? $#r : 7) ];
		push @l, '  ... and ' . (@r - 8) . ' more' if @r > 8;
		return join("\n", @l);
	};
	{
		local $TODO = $todo{"$g doc"};
		ok(!@undoc, "$g: every SQLSTATE is documented") or diag($show->(@undoc));
	}
	{
		local $TODO = $todo{"$g internal"};
		ok(!@internal, "$g: no internal error or crash") or diag($show->(@internal));
	}
	{
		local $TODO = $todo{"$g unchanged"};
		ok(!@changed, "$g: refused calls changed nothing") or diag($show->(@changed));
	}
}
note('outcomes: ' . join(', ', map { "$_ x$summary{$_}" } sort keys %summary));

# ------------------------------------------------------------ forged tokens (point 3)

# As a worker role that claimed nothing, rebuild an activity token from
# get_history and complete the activity another worker holds.
my $wid = sql('SELECT fuzz.fresh_act_wf(true)');
my $run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = '$wid'");
my $ev = sql("SELECT event_id FROM durable.get_history('$wid') WHERE event_type = 'ActivityTaskScheduled'");
my $forged = "a:$run:$ev:1:0";
my $hist_before = sql("SELECT count(*) FROM durable.get_history('$wid')");
my ($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.complete_activity('$forged', '\"forged\"')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
{
	isnt($ret, 0, 'an activity token rebuilt from get_history is refused') or diag("accepted: $forged");
	is(sql("SELECT count(*) FROM durable.get_history('$wid')"), $hist_before, '... and history is unchanged');
}
my ($st) = $err =~ /ERROR:\s+([0-9A-Z]{5})/;
ok(!defined $st || $documented{$st}, 'with a documented SQLSTATE (' . ($st // 'none') . ')');

# the same for an activity that is scheduled and not claimed by anyone
$wid = sql('SELECT fuzz.fresh_act_wf(false)');
$run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = '$wid'");
$ev = sql("SELECT event_id FROM durable.get_history('$wid') WHERE event_type = 'ActivityTaskScheduled'");
($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.complete_activity('a:$run:$ev:1:0', '\"forged\"')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
{
	isnt($ret, 0, 'a token rebuilt for an unclaimed activity is refused');
}

# A workflow-task token: run id, sequence and started event id are in
# history; the time field is the secret.  Try the guesses an attacker would.
$wid = sql('SELECT fuzz.new_id()');
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => '$wid', task_queue => 'fzg')");
my $real = sql("SELECT task_token FROM durable.poll_task('fzg', 'fz-owner', '{workflow}')");
$run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = '$wid'");
my $len = sql("SELECT max(event_id) FROM durable.get_history('$wid')");
my @accepted;
GUESS: foreach my $seq (1 .. 3)
{
	foreach my $started ($len + 1, $len + 2)
	{
		foreach my $time (0, 1)
		{
			my $guess = "w:$run:$seq:$started:$time";
			next if $guess eq $real;
			($ret, $out, $err) = $node->psql('postgres',
				"SET ROLE fuzz_worker; SELECT durable.complete_workflow_task('$guess', '[]')");
			if ($ret == 0) { push @accepted, $guess; last GUESS; }
		}
	}
}
{
	is(scalar(@accepted), 0, 'no guessed workflow-task token is accepted') or diag("accepted: @accepted");
	is(sql("SELECT count(*) FROM durable.get_history('$wid') WHERE event_time < '2000-01-01'"), '0',
		'no event dated from a forged token (1970)');
}

# answer_query: a token with another run id must not answer this run's query
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fq-a', task_queue => 'fzqa')");
sql("SELECT durable.start_workflow('FuzzWf', workflow_id => 'fq-b', task_queue => 'fzqb')");
my $run_b = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = 'fq-b'");
my $asker = $node->background_psql('postgres', on_error_stop => 0);
$asker->query_until(qr/asking/, "\\echo asking\nSELECT 'answer=' || coalesce(durable.query_workflow('fq-a', 'q', NULL, '3 seconds')::text, 'null');\n\\echo done\n");
my $qtok = '';
foreach my $i (1 .. 100)
{
	$qtok = sql("SELECT task_token FROM durable.poll_task('fzqa', 'fz-owner', '{workflow}', '100 milliseconds') WHERE kind = 'query'");
	last if $qtok ne '';
}
like($qtok, qr/^q:/, 'a worker receives the query');
(my $cross = $qtok) =~ s/^q:[0-9a-f-]+:/q:$run_b:/;
($ret, $out, $err) = $node->psql('postgres', "BEGIN; SELECT durable.answer_query('$qtok', '\"rolled back\"'); ROLLBACK;");
($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.answer_query('$cross', '\"cross\"')");
{
	isnt($ret, 0, 'an answer with another run\'s id in the token is refused');
}
$node->psql('postgres', "SELECT durable.answer_query('$qtok', '\"right\"')");
my $answer = eval { $asker->query_until(qr/done/, '') } // '';
$answer .= $asker->{stdout} // '';
$asker->quit;
{
	like($answer, qr/answer="right"/, 'the asker gets the right answer (not the rolled-back one, not the cross-run one)')
	  or diag("asker saw: $answer");
}

# A signed token's fields cannot be changed: bump the attempt of a claimed
# activity's token, the time field of a claimed workflow task's token (the
# time a workflow task records, 1970 when forged to 0), the run id of both.
my $atok = sql('SELECT fuzz.fresh_act()');
my $wtok = sql('SELECT fuzz.fresh_wft()');
my $other_run = sql("SELECT run_id FROM durable.workflows WHERE workflow_id = 'fx-run'");
my @parts = split /:/, $atok;
my @tampered;
{
	my @p = @parts; $p[3]++; push @tampered, [ 'complete_activity', join(':', @p), 'an activity token with attempt + 1' ];
	@p = @parts; $p[1] = $other_run; push @tampered, [ 'complete_activity', join(':', @p), 'an activity token with another run id' ];
	@p = split /:/, $wtok; $p[4] = '0'; push @tampered, [ 'complete_workflow_task', join(':', @p), 'a workflow-task token with its time set to 0' ];
	@p = split /:/, $wtok; $p[1] = $other_run; push @tampered, [ 'complete_workflow_task', join(':', @p), 'a workflow-task token with another run id' ];
	@p = split /:/, $wtok; $p[-1] =~ tr/0-9a-f/1-9a-f0/; push @tampered, [ 'complete_workflow_task', join(':', @p), 'a workflow-task token with another signature' ];
}
foreach my $t (@tampered)
{
	my ($f, $token, $what) = @$t;
	my $arg = $f eq 'complete_activity' ? q{'"tampered"'} : q{'[]'};
	($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.$f('$token', $arg)",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my ($code) = $err =~ /ERROR:\s+([0-9A-Z]{5})/;
	ok($ret != 0 && defined $code && $documented{$code}, "$what is refused (" . ($code // 'accepted') . ')');
}
is(sql("SELECT count(*) FROM durable.history WHERE event_time < '2000-01-01'"), '0', 'no event is dated 1970');
# the untampered tokens still work
is(sql("SELECT durable.complete_activity('$atok', '\"ok\"') IS NULL"), 't', 'the real activity token completes');
is(sql("SELECT durable.complete_workflow_task('$wtok', '[]') ->> 'outcome'"), 'completed', 'the real workflow-task token completes');

# stale tokens are refused with DU004
($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.complete_activity('$stale_act', '1')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/DU004/, 'a completed activity\'s token is stale (DU004)');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE fuzz_worker; SELECT durable.complete_workflow_task('$stale_wft', '[]')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/DU004/, 'a completed workflow task\'s token is stale (DU004)');

is($crashes, 0, 'no API call crashed the server');
ok(!$node->log_contains(qr/terminated by signal|server process .* was terminated/), 'no backend died of a signal');

# ------------------------------------------------------------ 0.1/0.2 helpers

# The library keeps the C helpers 0.1's and 0.2's SQL declared (so that a
# database not yet updated runs on); a superuser can still declare and call
# them.  With NULL arguments they must raise an error, not crash the server
# (issue 10 point 5: _ask_query and _wait_register segfaulted).
my @legacy = (
	'_ask_query(run_id uuid, queue text, query_name text, args text, timeout_ms integer, OUT answer text, OUT failed boolean)',
	'_claim_query(queue text, OUT query_id bigint, OUT run_id uuid, OUT query_name text, OUT args text)',
	'_answer_query(query_id bigint, answer text, failed boolean) RETURNS boolean',
	'_wait_register(kind text, key text, kinds text[]) RETURNS void',
	'_wait_unregister() RETURNS void',
	'_wait("until" timestamptz) RETURNS boolean',
	'_notify_task(queue text, kind text) RETURNS void',
	'_notify_task_on_abort(queue text, kind text) RETURNS void',
	'_notify_close(workflow_id text, payload text) RETURNS void',
	'_notify_timer(at timestamptz) RETURNS void',
	'_check_id(id text, what text) RETURNS text',
	'_check_payload(value jsonb, what text) RETURNS jsonb',
	'_interval(value text, what text) RETURNS interval',
	'_duration(d interval) RETURNS text',
	'_parse_token(p_token text, OUT kind text, OUT run_id uuid, OUT n1 bigint, OUT n2 bigint, OUT n3 bigint)');
sql('CREATE SCHEMA fuzz_legacy');
my @legacy_crash;
foreach my $decl (@legacy)
{
	my ($name, $args) = $decl =~ /^(\w+)\((.*?)\)(?: RETURNS|$)/;
	my $nin = grep { !/^\s*OUT / } grep { /\S/ } split /,/, $args;
	my ($rc) = $node->psql('postgres', "CREATE FUNCTION fuzz_legacy.$decl AS '\$libdir/durable', '$name' LANGUAGE C");
	if ($rc != 0) { note("$name: not in the library"); next; }
	($ret, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '2s'; SELECT * FROM fuzz_legacy.$name(" . join(', ', ('NULL') x $nin) . ')',
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	if ($err =~ /server closed the connection|terminating connection|connection to server was lost/)
	{
		push @legacy_crash, $name;
		$node->poll_query_until('postgres', 'SELECT true');
	}
	note("$name(NULL...): " . ($ret == 0 ? 'returned' : ($err =~ /ERROR:\s+(\w{5})/ ? $1 : 'failed')));
}
is(join(', ', @legacy_crash), '', 'the 0.1/0.2 C helpers survive NULL arguments');

# ------------------------------------------------------------ (d) no poisoned queue

sql(<<'SQL');
CREATE FUNCTION fuzz.probe(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE wid text := 'probe-' || nextval('fuzz.seq'); t record; step text := 'start_workflow'; b text;
BEGIN
	-- the fuzzing may have limited the queue's rate: lift it
	PERFORM durable.set_task_queue_rate_limit(q, NULL);
	PERFORM durable.start_workflow('Probe', workflow_id => wid, task_queue => q);
	-- a queue the fuzzing gave a current build pins new runs to it
	SELECT build_id INTO b FROM durable.workflows WHERE workflow_id = wid AND status = 'running';
	step := 'poll_task(workflow)';
	LOOP
		SELECT * INTO t FROM durable.poll_task(q, 'prober', '{workflow}', build_id => b);
		IF NOT FOUND THEN RETURN 'its workflow task is not handed out'; END IF;
		EXIT WHEN t.workflow_id = wid AND t.kind = 'workflow';
	END LOOP;
	step := 'complete_workflow_task';
	PERFORM durable.complete_workflow_task(t.task_token, '[{"type": "schedule_activity", "activity_id": "pa",
		"activity_type": "P", "start_to_close_timeout": "1 minute"}]');
	step := 'poll_task(activity)';
	LOOP
		SELECT * INTO t FROM durable.poll_task(q, 'prober', '{activity}', build_id => b);
		IF NOT FOUND THEN RETURN 'its activity is not handed out'; END IF;
		EXIT WHEN t.workflow_id = wid;
	END LOOP;
	step := 'complete_activity';
	PERFORM durable.complete_activity(t.task_token, '"ok"');
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN step || ': ' || SQLSTATE || ' ' || SQLERRM;
END $$;
SQL
my @queues = split /\n/, sql(q{SELECT q FROM (SELECT task_queue AS q FROM durable.workflows
	UNION SELECT task_queue FROM durable.tasks UNION SELECT task_queue FROM durable.activities) s
	WHERE q IS NOT NULL AND octet_length(q) <= 1000 AND q !~ E'[\\n|]' ORDER BY 1});
my @poisoned;
foreach my $q (@queues)
{
	(my $lit = $q) =~ s/'/''/g;
	my $r = sql("SELECT fuzz.probe('$lit')");
	push @poisoned, "$q: $r" if $r ne 'ok';
}
{
	is(scalar(@poisoned), 0, scalar(@queues) . ' queues probed: every one hands out a fresh workflow\'s tasks')
	  or diag(join("\n", map { "  poisoned $_" } @poisoned));
}

# ------------------------------------------------------------ (e) history reads

my $bad_reads = sql(<<'SQL');
CREATE FUNCTION fuzz.read_all() RETURNS text LANGUAGE plpgsql AS $$
DECLARE w record; bad text := ''; n int;
BEGIN
	FOR w IN SELECT workflow_id, run_id FROM durable.workflows ORDER BY run_id LOOP
		BEGIN
			SELECT count(*) INTO n FROM durable.get_history(w.workflow_id, w.run_id);
			PERFORM durable.describe_workflow(w.workflow_id, w.run_id);
		EXCEPTION WHEN OTHERS THEN
			bad := bad || left(w.workflow_id, 40) || ': ' || SQLSTATE || ' ' || left(SQLERRM, 100) || E'\n';
		END;
	END LOOP;
	RETURN bad;
END $$;
SELECT fuzz.read_all();
SQL
{
	is($bad_reads, '', 'every run\'s history and description read without error');
}
my $negative = sql(q{SELECT count(*) FROM durable.history h
	WHERE jsonb_path_exists(h.attributes, '$.** ? (@.type() == "string" && @ like_regex "^-[0-9.]+s$")')});
{
	is($negative, '0', 'no negative duration in any history event');
}

# ------------------------------------------------------------ (f) the engine

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL"),
	'the engine is active after the fuzz');
my $log = slurp_file($node->logfile);
my @engine_errors = $log =~ /^.* durable engine (?:ERROR|FATAL|PANIC):.*$/mg;
{
	is(scalar(@engine_errors), 0, 'the engine logged no error')
	  or diag(join("\n", @engine_errors[ 0 .. ($#engine_errors < 5 ? $#engine_errors : 5) ]));
}

note(sprintf('fuzz suite: %.1f s', time() - $t0));
$node->stop;
done_testing();
