#!/bin/bash
# Records what real Ceph (Pacific 16.2) prints as OSDs pass the nearfull,
# backfillfull and full ratios, for tests/tests/osd_vs_real.rs
# (`full_osds_flag_their_pools_and_hold_writes_like_real_ceph`).
# Run against a real cluster from ../shared/ceph-ref/up.sh whose only pools
# are 'rbd' and 'fullpool' (remove device_health_metrics first, and set
# mon_data_avail_warn 1 if the host disk is below 30% free):
#   capture.sh /tmp/ref/ceph.conf > real-pacific.txt
set -u
C="ceph -c $1"
step() { # RATIO-COMMAND VALUE: set it, wait for the state to settle, print what the CLI shows
    echo "### ceph osd $1 $2"
    $C osd "$1" "$2" 2>&1
    sleep 8
    echo "### ceph health detail"
    $C health detail
    echo "### ceph osd dump (ratios, pools, osd states)"
    $C osd dump | grep -E '^(full|backfillfull|nearfull)_ratio|^pool ' | sed -E 's/ last_change [0-9]+//'
    $C osd dump | awk '/^osd\./ { print $1, $(NF-1) }'
}
step set-nearfull-ratio 0.0000001
step set-backfillfull-ratio 0.0000002
step set-full-ratio 0.0000003
step set-full-ratio 0.95
step set-backfillfull-ratio 0.9
step set-nearfull-ratio 0.85
step set-full-ratio 0.5
step set-full-ratio 0.95
