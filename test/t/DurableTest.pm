# DurableTest: the set-up shared by durable's TAP tests.
#
#	use FindBin;
#	use lib $FindBin::RealBin;
#	use DurableTest;
#	my $node = durable_node('name', init => { allows_streaming => 1 }, conf => "...\n");
package DurableTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(durable_node durable_conf engine_pid engine_active);

# What every durable test node runs with: the library preloaded, room for
# engine workers, and a launcher that rescans quickly.
my $durable_conf = <<'CONF';
shared_preload_libraries = 'durable'
max_worker_processes = 16
durable.launcher_naptime = '200ms'
CONF

# The postgresql.conf lines above, for a node made another way (a standby
# made from a backup inherits them from its primary).
sub durable_conf { return $durable_conf; }

# A started node that preloads durable.  Options: init, a hash of arguments
# for PostgreSQL::Test::Cluster::init; conf, more postgresql.conf lines.
sub durable_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', $durable_conf . ($opts{conf} // ''));
	$node->start;
	return $node;
}

# The pid of the active engine worker of database postgres on $node.
sub engine_pid
{
	my $node = shift;
	return $node->safe_psql('postgres',
		"SELECT pid FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active'");
}

# Wait until database postgres on $node has one active engine worker (one
# whose pid is not $not, if given); true once it has, false on timeout.
sub engine_active
{
	my ($node, $not) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL"
		  . (defined $not ? " AND pid <> $not" : ''));
}

1;
