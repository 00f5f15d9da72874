# Crashing a server in TAP tests, shared by the gv_hnsw and gv_ivfpq tests:
# child_pids($pid), crash_node($node) (SIGKILL to the postmaster and all its
# children at once, waiting until they are gone), start_pgbench($node, $tag,
# \%scripts, @options) and finish_pgbench($handle).
package GvCrash;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(child_pids crash_node start_pgbench finish_pgbench);

# pids of the direct children of $pid (scans /proc)
sub child_pids
{
	my ($pid) = @_;
	my @kids;
	opendir(my $dh, '/proc') or die "cannot open /proc: $!";
	for my $p (grep { /^\d+$/ } readdir $dh)
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close $fh;
		next unless defined $stat;
		# "pid (comm) state ppid ..."; comm may contain spaces and parentheses
		$stat =~ s/^.*\)\s+//s;
		my (undef, $ppid) = split /\s+/, $stat;
		push @kids, $p if defined $ppid && $ppid == $pid;
	}
	closedir $dh;
	return @kids;
}

# Crash the whole server at once: freeze the postmaster (no new children), SIGKILL
# its children and then the postmaster itself ($node->kill9), and wait until they
# are all gone, so that the restart finds no process attached to the old shared memory.
sub crash_node
{
	my ($node) = @_;
	open(my $fh, '<', $node->data_dir . '/postmaster.pid')
	  or die "no postmaster.pid: $!";
	chomp(my $pm = <$fh>);
	close $fh;
	kill 'STOP', $pm;
	my @kids = child_pids($pm);
	note "killing postmaster $pm and its children @kids";
	kill 'KILL', @kids if @kids;
	$node->kill9;
	for my $p ($pm, @kids)
	{
		my $tries = 0;
		while (-e "/proc/$p" && $tries++ < 600)
		{
			usleep(50_000);
		}
		die "process $p did not go away" if -e "/proc/$p";
	}
	return;
}

# Runs pgbench in the background against $node with the given scripts.
sub start_pgbench
{
	my ($node, $tag, $scripts, @opts) = @_;
	my @cmd = ('pgbench', '-n', '-h', $node->host, '-p', $node->port, @opts);
	for my $key (sort keys %$scripts)
	{
		# "name.sql@weight"
		my ($name, $weight) = split /\@/, $key;
		my $file = $node->basedir . "/$tag-$name";
		open(my $fh, '>', $file) or die "cannot write $file: $!";
		print $fh $scripts->{$key};
		close $fh;
		push @cmd, '-f', $file . (defined $weight ? "\@$weight" : '');
	}
	push @cmd, 'postgres';
	my ($out, $err) = ('', '');
	note "running in the background: @cmd";
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err,
		IPC::Run::timeout(300));
	return { h => $h, out => \$out, err => \$err };
}

# pgbench ends by itself once the server is gone (its clients abort)
sub finish_pgbench
{
	my ($b) = @_;
	eval { $b->{h}->finish; 1 } or do { $b->{h}->kill_kill; };
	return;
}

1;
