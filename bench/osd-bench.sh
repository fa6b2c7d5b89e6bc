#!/bin/bash
# Cluster throughput: the real `rados bench` against our mon + 3 OSDs and
# against a real Pacific cluster (3 bluestore OSDs), same machine, same run.
# Both pools are size 3. Prints ops/s, MB/s and ours/real ratios (>1 means we
# are faster), then each cluster's mean OSD RSS after the run.
#   bench/osd-bench.sh [SECONDS]        (default 10 per phase)
# Env: OXCEPH_REF_DIR (use a running real cluster), OXCEPH_REF_IP (default
# 127.0.0.3 when one is started), OXCEPH_BENCH_IP (ours, default 127.0.0.4).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
POOL=oxbench
APP=rados
. bench/clusters.sh
RADOS=/usr/bin/rados

field() { awk -F: -v k="$1" '$1 == k { gsub(/ /, "", $2); print $2 }' <<<"$2"; }

phase() { # DIR MODE SIZE THREADS -> "iops bandwidth"
    local d=$1 mode=$2 size=$3 threads=$4 out
    if [ "$mode" = write ]; then
        out=$($RADOS -c "$d/ceph.conf" -p $POOL bench "$SECS" write -b "$size" -t "$threads" --no-cleanup 2>&1)
    else
        out=$($RADOS -c "$d/ceph.conf" -p $POOL bench "$SECS" "$mode" -t "$threads" 2>&1)
    fi
    echo "$(field 'Average IOPS' "$out") $(field 'Bandwidth (MB/sec)' "$out")"
}

# osd_rss DIR [FIELD] -> mean VmRSS (or FIELD of /proc/PID/status) in MiB of
# the ceph-osd processes serving DIR's cluster
osd_rss() {
    local total=0 n=0 pid
    for pid in $(pgrep -f "ceph-osd.*$1" || true); do
        total=$((total + $(awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' /proc/$pid/status)))
        n=$((n + 1))
    done
    [ $n -gt 0 ] && echo $((total / n / 1024)) || echo 0
}

# Warm-up, not measured: both clusters' OSDs sit on sparse files, where the
# first write of every block makes the filesystem allocate it (a block device,
# as OSDs use in production, does not). One 4 MiB write pass, then cleanup,
# so the measured phases write into allocated space on both clusters.
for d in "$OURS" "$REF"; do
    $RADOS -c "$d/ceph.conf" -p $POOL bench "$SECS" write -b 4194304 -t 16 --no-cleanup >/dev/null 2>&1
    $RADOS -c "$d/ceph.conf" -p $POOL cleanup >/dev/null 2>&1 || true
done

printf '%-22s %12s %12s %12s %12s %8s\n' workload "ours ops/s" "real ops/s" "ours MB/s" "real MB/s" ratio
for spec in "4096 16" "4194304 16"; do
    set -- $spec
    declare -A res=()
    for d in "$OURS" "$REF"; do
        $RADOS -c "$d/ceph.conf" -p $POOL cleanup >/dev/null 2>&1 || true
        res[$d.write]=$(phase "$d" write "$1" "$2")
        res[$d.seq]=$(phase "$d" seq "$1" "$2")
    done
    for m in write seq; do
        read -r oi ob <<<"${res[$OURS.$m]}"
        read -r ri rb <<<"${res[$REF.$m]}"
        ratio=$(awk -v a="$oi" -v b="$ri" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '%-22s %12s %12s %12s %12s %8s\n' "$m $(($1 / 1024))KiB -t$2" "$oi" "$ri" "$ob" "$rb" "$ratio"
    done
    unset res
done
# At rest: our OSDs give freed op buffers back to the kernel once idle for a
# second; give both clusters a few seconds to settle. Peak is VmHWM.
sleep 3
o=$(osd_rss "$OURS"); r=$(osd_rss "$REF")
printf '%-22s %12s %12s %21s %8s\n' "OSD RSS at rest (MiB)" "$o" "$r" "" "$(awk -v a="$o" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
o=$(osd_rss "$OURS" VmHWM); r=$(osd_rss "$REF" VmHWM)
printf '%-22s %12s %12s %21s %8s\n' "OSD peak RSS (MiB)" "$o" "$r" "" "$(awk -v a="$o" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
for d in "$OURS" "$REF"; do
    $RADOS -c "$d/ceph.conf" -p $POOL cleanup >/dev/null 2>&1 || true
    $CEPH -c "$d/ceph.conf" osd pool rm $POOL $POOL --yes-i-really-really-mean-it >/dev/null 2>&1 || true
done
