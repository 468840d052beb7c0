#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# Perl's signals under the shim: %SIG handlers run from its own C handler,
# which keeps the interpreter in TLS.  Alarm timeouts out of reads and
# sleeps, a signal from a child, a pipe to a forked child, wait.
use strict;
use warnings;

$| = 1;
pipe(my $r, my $w) or die "pipe: $!";
my $timeouts = 0;
for my $i (1 .. 5) {
	my $ok = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 1;
		my $line = <$r>;    # nobody writes
		alarm 0;
		1;
	};
	$timeouts++ if !$ok && $@ eq "timeout\n";
}
print "alarm: $timeouts of 5 reads timed out\n";

my $got = 0;
local $SIG{USR1} = sub { $got++ };
for my $i (1 .. 5) {
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		kill 'USR1', getppid();
		exit 0;
	}
	waitpid($pid, 0);
	select(undef, undef, undef, 0.05) while $got < $i;
}
print "usr1: $got of 5 from children\n";

pipe(my $cr, my $cw) or die "pipe: $!";
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
	close $cr;
	print $cw "line $_\n" for 1 .. 1000;
	exit 3;
}
close $cw;
my $lines = 0;
$lines++ while <$cr>;
waitpid($pid, 0);
print "pipe: $lines lines, child exit ", $? >> 8, "\n";
