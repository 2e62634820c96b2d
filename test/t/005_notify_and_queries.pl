# LISTEN/NOTIFY of workflow closes and workflow queries, across sessions:
# a subscriber hears every close and nothing when nobody subscribes; a query
# is answered by a worker session while the asking statement waits, times
# out cleanly without one, and a query whose asker was terminated frees its
# slot.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('notify');

sub sql { return $node->safe_psql('postgres', shift); }

sql("CREATE EXTENSION durable");

# --- closes are announced to subscribers ------------------------------------

my $listener = $node->background_psql('postgres');
$listener->query_safe("SELECT durable.subscribe_workflow_closes()");

my $n1_run = sql("SELECT durable.start_workflow('N', workflow_id => 'n1')");
sql("SELECT durable.terminate_workflow('n1', 'done')");

# psql prints pending notifications after the next command it runs
my $out = '';
foreach my $i (1 .. 50)
{
	$out .= $listener->query_safe("SELECT 1");
	last if $out =~ /durable_workflow_closed/;
	$out .= $listener->{stderr} // '';
	last if $out =~ /durable_workflow_closed/;
	usleep(100_000);
}
# the payload names the run and nothing else (any role may LISTEN)
like($out . ($listener->{stdout} // ''), qr/durable_workflow_closed" with payload "\{"run_id": "\Q$n1_run\E"\}"/s,
	'a subscriber hears the close, by run id only');

$listener->query_safe("SELECT durable.unsubscribe_workflow_closes()");
$listener->quit;

# Nobody subscribed: a close queues no notification at all.
sql("SELECT durable.start_workflow('N', workflow_id => 'n2')");
is(sql("BEGIN; SELECT durable.terminate_workflow('n2', 'done'); SELECT pg_notification_queue_usage() = 0; COMMIT;"),
	"\nt", 'no NOTIFY when nobody listens');

# --- queries ------------------------------------------------------------------

sql("SELECT durable.start_workflow('Q', workflow_id => 'q1', task_queue => 'qq')");
my $asker = $node->background_psql('postgres');
$asker->query_until(qr/asking/, "\\echo asking\nSELECT durable.query_workflow('q1', 'status', '{\"x\": 1}', '20 seconds') AS answer;\n");

my $task = '';
foreach my $i (1 .. 100)
{
	$task = sql("SELECT task_token || '|' || query_name || '|' || input::text FROM durable.poll_task('qq', 'w', '{workflow}', '1 second') WHERE kind = 'query'");
	last if $task ne '';
}
my ($token, $name, $args) = split /\|/, $task;
is($name, 'status', 'a worker receives the query');
is($args, '{"x": 1}', 'with its arguments');
sql("SELECT durable.answer_query('$token', '{\"state\": \"waiting\"}')");
my $answer = $asker->query_until(qr/waiting/, '');
$asker->quit;
like($answer, qr/\{"state": "waiting"\}/, 'the asker gets the answer');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT durable.query_workflow('q1', 'status', NULL, '300 milliseconds')");
like($stderr, qr/timed out/, 'no worker: the query times out');

# A second answer with the same token is refused as stale.
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT durable.answer_query('$token', '1')");
like($stderr, qr/stale task token/, 'an answer to a finished query is stale');

# Terminated askers free their slots: more terminated askers than there are
# slots, then a query still works.
foreach my $i (1 .. 34)
{
	my $bg = $node->background_psql('postgres');
	$bg->query_until(qr/asking/, "\\echo asking\nSELECT durable.query_workflow('q1', 'status', NULL, '60 seconds');\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%durable.query_workflow%' AND pid <> pg_backend_pid()");
	sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%durable.query_workflow%' AND pid <> pg_backend_pid()");
	eval { $bg->quit; };
}
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT durable.query_workflow('q1', 'status', NULL, '200 milliseconds')");
like($stderr, qr/timed out/, 'slots of terminated askers were freed (no "too many queries")');

$node->stop;
done_testing();
