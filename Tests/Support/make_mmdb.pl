#!/usr/bin/perl
# Writes a small MaxMind DB (GeoLite2-Country layout) for the geoblock tests.
#   make_mmdb.pl OUT.mmdb CIDR=CC [CIDR=CC ...]
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb CIDR=CC ...\n";
my %types = (country => 'map', iso_code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version            => 6,
    record_size           => 24,
    database_type         => 'GeoLite2-Country',
    languages             => ['en'],
    description           => { en => 'Gatehouse test database' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # The tests use the documentation ranges (RFC 5737, RFC 3849), which are reserved.
    remove_reserved_networks => 0,
);
for my $pair (@ARGV) {
    my ($network, $country) = split /=/, $pair;
    $tree->insert_network($network, { country => { iso_code => $country } });
}
open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh;
