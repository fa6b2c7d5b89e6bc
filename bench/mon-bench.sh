#!/bin/bash
# Monitor speed: our ceph-mon against a real Pacific ceph-mon on the same
# machine, same run. Prints times and real/ours ratios (>1 means we are faster):
#   1. mon start (process spawn) to the first answered `health` command;
#   2. 1,000 `osd pool get POOL size` mon commands from python3-rados (one client).
#   bench/mon-bench.sh [ROUNDS]     (default 3 starts per mon; the median counts)
# Uses the real cluster in $OXCEPH_REF_DIR, or starts one on ${OXCEPH_REF_IP:-127.0.0.3}.
# The real mon is restarted during the run (its data is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SHARED=${OXCEPH_SHARED:-$(cd .. && pwd)/shared}
cargo build --release --bin ceph-mon --bin ceph >&2
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release
REF=${OXCEPH_REF_DIR:-}
if [ -z "$REF" ]; then
    REF=$(mktemp -d /tmp/oxceph-monbench-ref.XXXXXX)
    "$SHARED/ceph-ref/up.sh" "$REF" "${OXCEPH_REF_IP:-127.0.0.3}" >&2
    trap '"$SHARED/ceph-ref/down.sh" "$REF" >/dev/null 2>&1; rm -rf "$REF"' EXIT
fi
OURS=$(mktemp -d /tmp/oxceph-monbench.XXXXXX)
deploy/vstart.sh --dir "$OURS" --ip "${OXCEPH_BENCH_IP:-127.0.0.9}" >/dev/null
cleanup_ours() { deploy/vstart.sh --dir "$OURS" --down >/dev/null 2>&1 || true; rm -rf "$OURS"; }
trap 'cleanup_ours; [ -n "${OXCEPH_REF_DIR:-}" ] || { "$SHARED/ceph-ref/down.sh" "$REF" >/dev/null 2>&1; rm -rf "$REF"; }' EXIT

now_ms() { date +%s%3N; }
# wait_up CONF -> ms until `health` answers (our fast CLI polls both mons alike)
wait_up() {
    local t0=$1 conf=$2 hostport
    # Wait for the port first (cheap), so client retry back-off does not count.
    hostport=$(sed -n 's/^mon_host = \[v2:\([^],]*\).*/\1/p' "$conf")
    until (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; do sleep 0.005; done
    until "$BIN/ceph" -c "$conf" --connect-timeout 1 health >/dev/null 2>&1; do sleep 0.01; done
    echo $(( $(now_ms) - t0 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_times() { # WHICH -> one ms value per round
    for _ in $(seq "$ROUNDS"); do
        if [ "$1" = ours ]; then
            pid=$(cat "$OURS/run/mon.a.pid"); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
            t0=$(now_ms); "$BIN/ceph-mon" -c "$OURS/ceph.conf" -i a
            wait_up "$t0" "$OURS/ceph.conf"
        else
            pid=$(cat "$REF/run/mon.a.pid"); cmd=$(tr '\0' ' ' < /proc/$pid/cmdline)
            kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
            t0=$(now_ms); $cmd
            wait_up "$t0" "$REF/ceph.conf"
        fi
    done
}

commands_ms() { # CONF POOL -> ms for 1000 mon commands
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys, time, rados
c = rados.Rados(conffile=sys.argv[1]); c.connect()
cmd = json.dumps({"prefix": "osd pool get", "pool": sys.argv[2], "var": "size", "format": "json"})
for _ in range(20):
    c.mon_command(cmd, b'')
t = time.monotonic()
for _ in range(1000):
    r, out, err = c.mon_command(cmd, b'')
    assert r == 0, err
print(int((time.monotonic() - t) * 1000))
c.shutdown()
EOF
}

/usr/bin/ceph -c "$OURS/ceph.conf" osd pool create benchpool 8 >/dev/null 2>&1
/usr/bin/ceph -c "$REF/ceph.conf" osd pool create benchpool 8 >/dev/null 2>&1 || true
ours_start=$(start_times ours | median)
real_start=$(start_times real | median)
ours_cmd=$(commands_ms "$OURS/ceph.conf" benchpool)
real_cmd=$(commands_ms "$REF/ceph.conf" benchpool)
/usr/bin/ceph -c "$REF/ceph.conf" osd pool rm benchpool benchpool --yes-i-really-really-mean-it >/dev/null 2>&1 || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '%-40s %10s %10s %8s\n' measurement "ours ms" "real ms" real/ours
printf '%-40s %10s %10s %8s\n' "mon start to first answer (median)" "$ours_start" "$real_start" "$(ratio "$real_start" "$ours_start")"
printf '%-40s %10s %10s %8s\n' "1000 'osd pool get' via python3-rados" "$ours_cmd" "$real_cmd" "$(ratio "$real_cmd" "$ours_cmd")"
