#!/bin/bash
# The test command: builds everything, starts a real Ceph Pacific reference
# cluster (unless OXCEPH_REF_DIR points at a running one), runs all tests.
#   scripts/test.sh [extra args for cargo nextest / cargo test]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${OXCEPH_SHARED:-$(cd .. && pwd)/shared}
export OXCEPH_SHARED=$SHARED

cargo build --release --workspace --bins --tests

if [ -z "${OXCEPH_REF_DIR:-}" ]; then
  REF=$(mktemp -u /tmp/oxceph-ref.XXXXXX)
  IP=${OXCEPH_REF_IP:-127.0.0.2}
  trap '"$SHARED/ceph-ref/down.sh" "$REF" >/dev/null 2>&1 || true' EXIT
  "$SHARED/ceph-ref/up.sh" "$REF" "$IP"
  export OXCEPH_REF_DIR=$REF
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --workspace --no-fail-fast "$@"
else
  cargo test --release --workspace --no-fail-fast "$@"
fi
