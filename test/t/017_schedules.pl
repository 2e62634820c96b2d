# Schedules across downtime (issue 14 point 4): the server is down across
# two due times of two schedules; when it comes back, the catch-up window
# decides what runs.  One schedule's window covers the downtime: both times
# run, in order.  The other's (10 seconds, Temporal's minimum) does not:
# both are skipped and counted in missed_catchup_window.
# Temporal: https://docs.temporal.io/schedule#catchup-window
# ("the amount of time that a Schedule can be down and still take actions
# that it missed"), temporalio/api temporal/api/schedule/v1/message.proto
# (SchedulePolicies.catchup_window, ScheduleInfo.missed_catchup_window).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('schedules');

sub sql { return $node->safe_psql('postgres', shift); }

sql("CREATE EXTENSION durable");
ok(engine_active($node), 'engine worker active');

# two due times, 10 seconds apart, at least 8 seconds from now
my $t1 = int((time() + 8) / 10 + 1) * 10;
my $t2 = $t1 + 10;
my $at1 = sql("SELECT to_char(to_timestamp($t1) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
my $at2 = sql("SELECT to_char(to_timestamp($t2) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
my $spec = qq({"intervals": [{"every": "10 seconds"}], "start_at": "$at1", "end_at": "$at2"});
for my $s (['inside', '10 minutes'], ['outside', '10 seconds'])
{
	sql(qq{SELECT durable.create_schedule('$s->[0]', '$spec',
		'{"workflow_type": "Tick", "workflow_id": "$s->[0]", "task_queue": "sq"}',
		'{"overlap": "allow_all", "catchup_window": "$s->[1]"}')});
}
is(sql("SELECT string_agg(d->'info'->>'next_action_times', ' ') FROM durable.describe_schedule('inside') d"),
	qq(["$at1", "$at2"]), 'two due times ahead');

$node->stop;
ok(time() < $t1, 'the server is down before the first due time');
# back 15 seconds after the second: both times are older than 10 seconds
sleep($t2 + 15 - time());
$node->start;
ok(engine_active($node), 'engine worker back');

ok($node->poll_query_until('postgres',
	"SELECT (d->'info'->>'action_count')::int = 2 FROM durable.describe_schedule('inside') d"),
	'inside the window: both missed times run');
is(sql("SELECT string_agg(workflow_id || ' ' || (search_attributes->>'TemporalScheduledStartTime'), ', ' ORDER BY start_time)
		FROM durable.workflows WHERE workflow_id LIKE 'inside-%'"),
	"inside-$at1 $at1, inside-$at2 $at2", 'in order, with their scheduled times');
ok(sql("SELECT bool_and(start_time > to_timestamp($t2 + 15)) FROM durable.workflows WHERE workflow_id LIKE 'inside-%'"),
	'started after the restart');

ok($node->poll_query_until('postgres',
	"SELECT (d->'info'->>'missed_catchup_window')::int = 2 FROM durable.describe_schedule('outside') d"),
	'outside the window: both counted in missed_catchup_window');
is(sql("SELECT count(*) FROM durable.workflows WHERE workflow_id LIKE 'outside-%'"), '0',
	'and none ran');
is(sql("SELECT d->'info'->>'action_count' FROM durable.describe_schedule('outside') d"), '0',
	'action_count 0');
is(sql("SELECT d->'info'->>'missed_catchup_window' FROM durable.describe_schedule('inside') d"), '0',
	'the other missed none');
is(sql("SELECT count(*) FROM durable.timers WHERE kind = 'schedule'"), '0',
	'past end_at neither has a timer');
# the same, as the metrics counted them since the restart (docs/metrics.md)
is(sql("SELECT string_agg(metric || ' ' || value, ', ' ORDER BY metric) FROM durable.metrics
		WHERE labels->>'task_queue' = 'sq' AND metric LIKE 'durable\\_schedule\\_%'"),
	'durable_schedule_action_errors_total 0, durable_schedule_action_skipped_total 0, '
	  . 'durable_schedule_action_success_total 2, '
	  . 'durable_schedule_missed_catchup_window_total 2',
	'schedule metrics: 2 actions, 2 missed');

$node->stop;
done_testing();
