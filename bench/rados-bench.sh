#!/bin/bash
# Client throughput: our `rados bench` against the real one, same cluster,
# same run, interleaved so both see the same cache and load. Prints ops/s and
# MB/s for each tool and ours/real ratios (>1 means we are faster).
#   bench/rados-bench.sh [SECONDS]        (default 10 per phase)
# Uses the cluster in $OXCEPH_REF_DIR, or starts a real Pacific cluster on
# ${OXCEPH_REF_IP:-127.0.0.3} for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
SHARED=${OXCEPH_SHARED:-$(cd .. && pwd)/shared}
cargo build --release --bin rados >&2
OURS=${CARGO_TARGET_DIR:-$PWD/target}/release/rados
REAL=/usr/bin/rados
DIR=${OXCEPH_REF_DIR:-}
if [ -z "$DIR" ]; then
    DIR=$(mktemp -d /tmp/oxceph-bench.XXXXXX)
    "$SHARED/ceph-ref/up.sh" "$DIR" "${OXCEPH_REF_IP:-127.0.0.3}" >&2
    trap '"$SHARED/ceph-ref/down.sh" "$DIR" >/dev/null 2>&1; rm -rf "$DIR"' EXIT
fi
POOL=oxbench
/usr/bin/ceph -c "$DIR/ceph.conf" osd pool create $POOL 32 >/dev/null 2>&1 || true

# field NAME OUTPUT -> the number after "NAME:" in rados bench's summary
field() { awk -F: -v k="$1" '$1 == k { gsub(/ /, "", $2); print $2 }' <<<"$2"; }

phase() { # TOOL MODE SIZE THREADS -> "iops bandwidth"
    local tool=$1 mode=$2 size=$3 threads=$4 out
    if [ "$mode" = write ]; then
        out=$("$tool" -c "$DIR/ceph.conf" -p $POOL bench "$SECS" write -b "$size" -t "$threads" --no-cleanup 2>&1)
    else
        out=$("$tool" -c "$DIR/ceph.conf" -p $POOL bench "$SECS" "$mode" -t "$threads" 2>&1)
    fi
    echo "$(field 'Average IOPS' "$out") $(field 'Bandwidth (MB/sec)' "$out")"
}

printf '%-22s %12s %12s %12s %12s %8s\n' workload "ours ops/s" "real ops/s" "ours MB/s" "real MB/s" ratio
for spec in "4096 16" "4194304 16"; do
    set -- $spec
    for tool in "$OURS" "$REAL"; do
        "$tool" -c "$DIR/ceph.conf" -p $POOL cleanup >/dev/null 2>&1 || true
        read -r iops bw <<<"$(phase "$tool" write "$1" "$2")"
        read -r riops rbw <<<"$(phase "$tool" seq "$1" "$2")"
        if [ "$tool" = "$OURS" ]; then ow="$iops $bw"; os="$riops $rbw"; else rw="$iops $bw"; rs="$riops $rbw"; fi
    done
    for m in write seq; do
        if [ $m = write ]; then read -r oi ob <<<"$ow"; read -r ri rb <<<"$rw"; else read -r oi ob <<<"$os"; read -r ri rb <<<"$rs"; fi
        ratio=$(awk -v a="$oi" -v b="$ri" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '%-22s %12s %12s %12s %12s %8s\n' "$m $(($1 / 1024))KiB -t$2" "$oi" "$ri" "$ob" "$rb" "$ratio"
    done
done
/usr/bin/ceph -c "$DIR/ceph.conf" osd pool rm $POOL $POOL --yes-i-really-really-mean-it >/dev/null 2>&1 || true
