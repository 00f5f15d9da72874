# gigavector.embed's keys and cache across a server's life: a key from the
# server's environment (OPENAI_API_KEY) is used when the setting is empty,
# the superuser-only setting wins over it, neither reaches the server log,
# and the embedding cache survives a restart (the same text after it sends
# no request). Runs test/scripts/embedding_mock.py on loopback.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep);

my $tmp = PostgreSQL::Test::Utils::tempdir();
my ($port_file, $log_file) = ("$tmp/mock.port", "$tmp/mock.jsonl");
my $mock = IPC::Run::start(
	[ 'python3', 'test/scripts/embedding_mock.py', '--port-file', $port_file, '--log', $log_file, '--dim', '8' ],
	'>', "$tmp/mock.out", '2>', "$tmp/mock.err");
for (1 .. 100) { last if -s $port_file; usleep(50_000); }
my $port = slurp_file($port_file);
chomp $port;
ok($port =~ /^\d+$/, "the mock embedding server listens on $port");

# the last request the mock received: its Authorization header, and the count
sub requests
{
	return () unless -s $log_file;
	return map { decode_json($_) } grep { /\S/ } split /\n/, slurp_file($log_file);
}
sub last_auth
{
	my @r = requests();
	my $h = $r[-1]{headers} // {};
	my %lc = map { lc($_) => $h->{$_} } keys %$h;
	return $lc{authorization} // '';
}

my $env_key = "sk-env-$$-FROMTHEENVIRONMENT";
my $guc_key = "sk-guc-$$-FROMTHESETTING";
my $node = PostgreSQL::Test::Cluster->new('embed_env');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'gigavector'\nlog_statement = 'all'\n");
{
	local $ENV{OPENAI_API_KEY} = $env_key;  # the postmaster's environment
	$node->start;
}
$node->safe_psql('postgres', 'CREATE EXTENSION gigavector');
my $url = "SET gigavector.embedding_url = 'http://127.0.0.1:$port/v1';";

my $v1 = $node->safe_psql('postgres', "$url SELECT gigavector.embed('hello')");
like($v1, qr/^\[/, 'embed works with the key from the environment');
is(last_auth(), "Bearer $env_key", 'the request carried OPENAI_API_KEY');

$node->safe_psql('postgres', "$url SET gigavector.openai_api_key = '$guc_key'; SELECT gigavector.embed('hello')");
is(last_auth(), "Bearer $guc_key", 'gigavector.openai_api_key wins over the environment');

# the cache survives a restart: the second call after it sends nothing (and
# needs no key: the server restarts without OPENAI_API_KEY)
$node->safe_psql('postgres', "$url SET gigavector.embedding_cache = on; SELECT gigavector.embed('kept across a restart')");
my $before = scalar(requests());
$node->restart;
my $v2 = $node->safe_psql('postgres', "$url SET gigavector.embedding_cache = on; SELECT gigavector.embed('kept across a restart')");
like($v2, qr/^\[/, 'after a restart the cached text embeds');
is(scalar(requests()), $before, '... without a request: the cache is a table');
my ($rc, $out, $err) = $node->psql('postgres', "$url SELECT gigavector.embed('not cached')");
like($err, qr/no API key for the openai embedding provider/, 'an uncached text needs the key, now gone');

my $log = slurp_file($node->logfile);
like($log, qr/gigavector\.openai_api_key/, 'the server log holds the statements (log_statement = all)');
unlike($log, qr/\Q$guc_key\E/, '... but not the key set in a session');
unlike($log, qr/\Q$env_key\E/, '... nor the key from the environment');

$node->stop;
$mock->kill_kill;
done_testing();
