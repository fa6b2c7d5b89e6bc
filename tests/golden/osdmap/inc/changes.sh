#!/bin/bash
# map changes made while capturing (each followed by a pause so the epochs stay apart)
c() { echo "+ ceph $*" >&2; ceph -c /tmp/ref-osdmap/ceph.conf "$@"; sleep 2; }
c osd pool create gold_a 16 16 replicated --autoscale-mode=off
c osd pool set gold_a size 2
c osd pool application enable gold_a rbd
c osd out 1
c osd in 1
c osd set noout
c osd unset noout
c osd primary-affinity 2 0.5
c osd reweight 3 0.75
c osd crush reweight osd.3 0.5
c osd crush add-bucket gold_rack rack
c osd crush move gold_rack root=default
c osd set-require-min-compat-client luminous
c osd pg-upmap-items 3.0 0 1
c osd pg-upmap 3.1 2 3
c osd rm-pg-upmap-items 3.0
c osd primary-temp 3.2 2
c osd pool mksnap gold_a snap1
c osd erasure-code-profile set gold_ec k=2 m=1 crush-failure-domain=osd
c osd pool create gold_ec 8 8 erasure gold_ec --autoscale-mode=off
c osd blocklist add 127.0.0.9:0/1234 3600
c osd down 2
sleep 8
c osd pool set gold_a pg_num 32
sleep 10
c osd pool rm gold_ec gold_ec --yes-i-really-really-mean-it
