# Without shared_preload_libraries the extension can still be created, and
# every function that needs the engine says so with a hint (55000); adding
# the library and restarting brings the engine up on the existing install.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

is($node->safe_psql('postgres', "CREATE EXTENSION durable;
		SELECT e.extversion = a.default_version FROM pg_extension e, pg_available_extensions a
		WHERE e.extname = 'durable' AND a.name = 'durable'"),
	't', 'CREATE EXTENSION works without the preloaded library');

foreach my $call (
	"SELECT durable.start_workflow('W')",
	"SELECT * FROM durable.poll_task('q', 'w', wait => '1 second')",
	"SELECT * FROM durable.engine_workers")
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "\\set VERBOSITY verbose\n$call");
	like($stderr, qr/ERROR:  55000: durable is not loaded/, "$call: not loaded");
	like($stderr, qr/HINT:  Add durable to shared_preload_libraries/, "$call: hint names shared_preload_libraries");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM durable.workflows'), '0', 'a failed start leaves nothing');

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'durable'\ndurable.launcher_naptime = '200ms'");
$node->restart;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active'"),
	'after preloading and a restart the engine runs');
ok($node->safe_psql('postgres', "SELECT durable.start_workflow('W') IS NOT NULL") eq 't', 'and workflows start');

$node->stop;
done_testing();
