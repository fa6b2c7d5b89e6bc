#!/bin/bash
# Starts a local oxceph cluster from target/release (building it if needed).
#
#   deploy/vstart.sh [--dir DIR] [--ip IP] [--mons N] [--osds N] [--with-mds] [--with-rgw]
#   deploy/vstart.sh [--dir DIR] --down
#
# Writes DIR/ceph.conf and DIR/keyring (client.admin), starts the daemons with
# Ceph's flags, waits until the monitor answers, and prints how to use it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=./cluster
ip=127.0.0.1
mons=1
osds=3
down=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --ip) ip=$2; shift 2 ;;
    --mons) mons=$2; shift 2 ;;
    --osds) osds=$2; shift 2 ;;
    --with-mds) echo "vstart: --with-mds: ceph-mds is not part of oxceph yet" >&2; exit 2 ;;
    --with-rgw) echo "vstart: --with-rgw: radosgw is not part of oxceph yet" >&2; exit 2 ;;
    --down) down=1; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vstart: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop_all() {
  local pids=()
  for f in "$dir"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill "$pid" 2>/dev/null; then pids+=("$pid"); fi
    rm -f "$f"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

if [ $down = 1 ]; then
  stop_all
  echo "oxceph cluster in $dir stopped"
  exit 0
fi
case "$mons" in
  [1-9]) ;;
  *) echo "vstart: --mons takes 1 to 9" >&2; exit 2 ;;
esac
case "$osds" in
  ''|*[!0-9]*) echo "vstart: --osds needs a number" >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-$here/target}
bin=$target/release
. "$here/deploy/lib.sh"
if [ ! -x "$bin/ceph-mon" ] || [ ! -x "$bin/ceph-osd" ] || [ ! -x "$bin/ceph" ]; then
  echo "building oxceph (cargo build --release) ..."
  (cd "$here" && cargo build --release --bins -q)
fi

stop_all
rm -rf "$dir"/mon.* "$dir"/osd.* "$dir/log" "$dir/run"
mkdir -p "$dir/log" "$dir/run"
fsid=$(cat /proc/sys/kernel/random/uuid)
# Mons a, b, c... on ports 3300, 3301, ... (their quorum ports are 1000 above).
names=() hosts=()
for i in $(seq 0 $((mons - 1))); do
  names+=("$(printf "\\$(printf %o $((97 + i)))")")
  hosts+=("[v2:$ip:$((3300 + i))]")
done
cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon_initial_members = $(IFS=,; echo "${names[*]}")
mon_host = $(IFS=,; echo "${hosts[*]}")
public_addr = $ip
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $dir/keyring
run_dir = $dir/run
pid_file = $dir/run/\$name.pid
osd_pool_default_size = 3
osd_pool_default_min_size = 1
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_delete = true
# All daemons share one host here: count failure reporters per OSD, and
# notice a dead OSD within seconds rather than Ceph's 20 s.
mon_osd_reporter_subtree_level = osd
osd_heartbeat_interval = 2
osd_heartbeat_grace = 8
osd_mon_report_interval = 2
[mon]
mon_data = $dir/mon.\$id
log_file = $dir/log/\$name.log
[osd]
osd_data = $dir/osd.\$id
keyring = $dir/osd.\$id/keyring
log_file = $dir/log/\$name.log
EOF
write_keyring
for m in "${names[@]}"; do
  "$bin/ceph-mon" -c "$dir/ceph.conf" --mkfs -i "$m" --keyring "$dir/keyring" >/dev/null
done
for m in "${names[@]}"; do
  "$bin/ceph-mon" -c "$dir/ceph.conf" -i "$m"
done
wait_mons || true
# OSDs the way Ceph deploys them: register (osd new), mkfs, start.
for i in $(seq 0 $((osds - 1))); do
  make_osd "$i"
  "$bin/ceph-osd" -c "$dir/ceph.conf" -i "$i"
done
if up=$(wait_osds_up "$osds"); then
  echo "oxceph cluster up in $dir: mons ${names[*]} on $(IFS=,; echo "${hosts[*]}") (mgr built in), $osds osds"
  echo "try:  $bin/ceph -c $dir/ceph.conf -s      (or the real ceph: ceph -c $dir/ceph.conf -s)"
  echo "stop: $0 --dir $dir --down"
  exit 0
fi
echo "vstart: the cluster did not come up ($up of $osds osds up); see $dir/log/" >&2
exit 1
