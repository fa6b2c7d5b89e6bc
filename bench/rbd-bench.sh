#!/bin/bash
# Block throughput: the real `rbd bench` (librbd) against an image on our
# mon + 3 OSDs and on a real Pacific cluster (3 BlueStore OSDs), same
# machine, same run, size-3 pools. Prints ops/s, bytes/s and ours/real ratios
# (>1 means we are faster). Then our `rbd bench` (the rbd crate) against the
# real one, both on the real cluster: the client alone.
#   bench/rbd-bench.sh [IO_TOTAL [IO_TOTAL_4M]]
# IO_TOTAL is the 4 KiB phase's total (default 256M); IO_TOTAL_4M the 4 MiB
# phases' (default 2G: at 1 GB/s a 512M phase lasts half a second, too
# short to measure; the image is 1G, so rbd bench wraps around it).
# Env: OXCEPH_REF_DIR (use a running real cluster), OXCEPH_REF_IP (default
# 127.0.0.3 when one is started), OXCEPH_BENCH_IP (ours, default 127.0.0.4).
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-256M}
TOTAL_4M=${2:-2G}
POOL=oxrbdbench
APP=rbd
. bench/clusters.sh
RBD=/usr/bin/rbd
OUR_RBD=${CARGO_TARGET_DIR:-$(pwd)/target}/release/rbd
for d in "$REF" "$OURS"; do
    $RBD -c "$d/ceph.conf" create $POOL/img --size 1G
done

# phase DIR TYPE SIZE PATTERN [RBD] -> "ops/s bytes/s" from rbd bench's summary line
phase() {
    local out
    local total=$TOTAL
    [ "$3" = 4M ] && total=$TOTAL_4M
    out=$(${5:-$RBD} -c "$1/ceph.conf" bench $POOL/img --io-type "$2" --io-size "$3" --io-threads 16 --io-total "$total" --io-pattern "$4" 2>&1 | tail -1)
    awk '{ for (i = 1; i <= NF; i++) { if ($i == "ops/sec:") o = $(i+1); if ($i == "bytes/sec:") b = $(i+1) " " $(i+2) } } END { print o, b }' <<<"$out"
}

printf '%-24s %12s %12s %14s %14s %8s\n' workload "ours ops/s" "real ops/s" "ours bytes/s" "real bytes/s" ratio
for spec in "write 4K rand" "write 4M seq" "read 4M seq"; do
    set -- $spec
    read -r oo ob1 ob2 <<<"$(phase "$OURS" "$1" "$2" "$3")"
    read -r ro rb1 rb2 <<<"$(phase "$REF" "$1" "$2" "$3")"
    ratio=$(awk -v a="$oo" -v b="$ro" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    printf '%-24s %12s %12s %14s %14s %8s\n' "$1 $2 $3 -t16" "$oo" "$ro" "$ob1 $ob2" "$rb1 $rb2" "$ratio"
done
echo
printf '%-24s %12s %12s %14s %14s %8s\n' "client (on real Ceph)" "our rbd" "real rbd" "ours bytes/s" "real bytes/s" ratio
for spec in "write 4K rand" "write 4M seq" "read 4M seq"; do
    set -- $spec
    read -r oo ob1 ob2 <<<"$(phase "$REF" "$1" "$2" "$3" "$OUR_RBD")"
    read -r ro rb1 rb2 <<<"$(phase "$REF" "$1" "$2" "$3")"
    ratio=$(awk -v a="$oo" -v b="$ro" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    printf '%-24s %12s %12s %14s %14s %8s\n' "$1 $2 $3 -t16" "$oo" "$ro" "$ob1 $ob2" "$rb1 $rb2" "$ratio"
done
for d in "$OURS" "$REF"; do
    $RBD -c "$d/ceph.conf" rm $POOL/img >/dev/null 2>&1 || true
    $CEPH -c "$d/ceph.conf" osd pool rm $POOL $POOL --yes-i-really-really-mean-it >/dev/null 2>&1 || true
done
