# Sourced by the cluster benches: starts our mon + 3 OSDs (deploy/vstart.sh)
# on $OXCEPH_BENCH_IP (default 127.0.0.4) in $OURS, uses the real Pacific
# cluster in $OXCEPH_REF_DIR or starts one on $OXCEPH_REF_IP (default
# 127.0.0.3) in $REF, tears down what it started on exit, and creates a
# size-3 pool $POOL with 32 PGs on both (application $APP), waiting until it
# is clean. OXCEPH_BENCH_OSD_CONFIG sets options on our OSDs (see below).
SHARED=${OXCEPH_SHARED:-$(cd .. && pwd)/shared}
cargo build --release --bin ceph-mon --bin ceph-osd --bin ceph --bin rbd >&2
CEPH=/usr/bin/ceph
REF=${OXCEPH_REF_DIR:-}
OURS=$(mktemp -d /tmp/oxceph-bench.XXXXXX)
cleanup() {
    deploy/vstart.sh --dir "$OURS" --down >/dev/null 2>&1 || true
    rm -rf "$OURS"
    if [ -n "${STARTED_REF:-}" ]; then "$SHARED/ceph-ref/down.sh" "$REF" >/dev/null 2>&1; rm -rf "$REF"; fi
}
trap cleanup EXIT
if [ -z "$REF" ]; then
    REF=$(mktemp -d /tmp/oxceph-refbench.XXXXXX)
    STARTED_REF=1
    "$SHARED/ceph-ref/up.sh" "$REF" "${OXCEPH_REF_IP:-127.0.0.3}" >&2
fi
deploy/vstart.sh --dir "$OURS" --ip "${OXCEPH_BENCH_IP:-127.0.0.4}" >&2
# OXCEPH_BENCH_OSD_CONFIG="name=value ...": set on our OSDs through the
# monitors' config database (e.g. osd_cache_primary_writes=true).
for kv in ${OXCEPH_BENCH_OSD_CONFIG:-}; do
    $CEPH -c "$OURS/ceph.conf" config set osd "${kv%%=*}" "${kv#*=}" >&2
done
for d in "$REF" "$OURS"; do
    $CEPH -c "$d/ceph.conf" osd pool create "$POOL" 32 >/dev/null 2>&1 || true
    $CEPH -c "$d/ceph.conf" osd pool set "$POOL" size 3 >/dev/null 2>&1
    $CEPH -c "$d/ceph.conf" osd pool application enable "$POOL" "$APP" --yes-i-really-mean-it >/dev/null 2>&1
    # wait until all PGs of the pool are active+clean
    for _ in $(seq 300); do
        $CEPH -c "$d/ceph.conf" pg stat 2>/dev/null | grep -Eq '^[0-9]+ pgs: [0-9]+ active\+clean;' && break
        sleep 0.2
    done
done
