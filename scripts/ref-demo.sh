#!/bin/bash
# The main job for now: build our tools, start a real Ceph Pacific cluster on
# 127.0.0.2 (in ./cluster-ref), and drive it with our `ceph`.
#   scripts/ref-demo.sh          start (or reuse) and show `ceph -s`
#   scripts/ref-demo.sh --down   stop it
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${OXCEPH_SHARED:-$(cd .. && pwd)/shared}
DIR=${OXCEPH_REF_DEMO_DIR:-$PWD/cluster-ref}
if [ "${1:-}" = --down ]; then exec "$SHARED/ceph-ref/down.sh" "$DIR"; fi
cargo build --release --bins
[ -e "$DIR/run" ] || "$SHARED/ceph-ref/up.sh" "$DIR" 127.0.0.2
./target/release/ceph -c "$DIR/ceph.conf" -s
echo
echo "our ceph CLI:  $PWD/target/release/ceph -c $DIR/ceph.conf <command>"
echo "stop with:     scripts/ref-demo.sh --down"
