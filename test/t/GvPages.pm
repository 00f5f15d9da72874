# Planting damage in index files while the server is stopped, shared by the
# damaged-page tests: find_block($path, $type, $nth) finds the $nth block
# (0-based) whose page type (the special space's first uint16) is $type, and
# garble($path, $block, $offset, $len, $seed) writes $len seeded
# pseudo-random bytes at $offset of a block.
package GvPages;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(find_block garble);

sub find_block
{
	my ($path, $type, $nth) = @_;
	$nth //= 0;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	binmode $fh;
	my $blocks = (-s $path) / 8192;
	my $seen = 0;
	for my $b (0 .. $blocks - 1)
	{
		seek($fh, $b * 8192 + 8192 - 8, 0);
		read($fh, my $special, 2);
		next unless unpack('v', $special) == $type;
		if ($seen++ == $nth) { close $fh; return $b; }
	}
	close $fh;
	die "no block of type $type number $nth in $path";
}

sub garble
{
	my ($path, $block, $offset, $len, $seed) = @_;
	srand($seed);
	open(my $fh, '+<', $path) or die "cannot open $path: $!";
	binmode $fh;
	seek($fh, $block * 8192 + $offset, 0);
	print $fh pack('C*', map { int(rand(256)) } 1 .. $len);
	close $fh;
	return;
}

1;
