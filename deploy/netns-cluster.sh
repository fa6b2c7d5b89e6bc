#!/bin/bash
# Runs an oxceph cluster as separate "hosts" on this machine: each host is a
# network namespace with its own IP on a private bridge, so mons and OSDs talk
# over real interfaces that can be cut (a network partition) without killing
# anything. Needs root and iproute2.
#
#   deploy/netns-cluster.sh [--dir DIR] [--mons N] [--osds N] [--net 10.77.0]
#   deploy/netns-cluster.sh [--dir DIR] --cut HOST | --heal HOST
#   deploy/netns-cluster.sh [--dir DIR] --down
#
# Host i (1, 2, ...) is namespace oxceph-hI at NET.(10+i) and runs mon
# a, b, c... (for i <= mons) and osd.(i-1) (for i <= osds). This machine
# reaches every host through the bridge at NET.1, so clients run here:
#   ceph -c DIR/ceph.conf -s
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=./netns-cluster
mons=3
osds=3
net=10.77.0
action=up
host=
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --mons) mons=$2; shift 2 ;;
    --osds) osds=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    --cut) action=cut; host=$2; shift 2 ;;
    --heal) action=heal; host=$2; shift 2 ;;
    --down) action=down; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "netns-cluster: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bridge=oxbr0

down() {
  for f in "$dir"/run/*.pid; do
    [ -e "$f" ] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  for ns in $(ip netns list | awk '/^oxceph-h/ {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
  done
  # A namespace outlives its name while anything holds it: drop our links too.
  for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^oxv[0-9]*$' || true); do
    ip link del "$l" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
}

# --cut/--heal/--down act on the cluster made in DIR, with its network.
if [ "$action" != up ] && [ -f "$dir/net" ]; then net=$(cat "$dir/net"); fi
case $action in
  down) down; echo "netns cluster in $dir stopped"; exit 0 ;;
  # A partition: the host's interface goes down; its daemons keep running.
  cut) ip netns exec "oxceph-h$host" ip link set eth0 down; echo "host $host cut off"; exit 0 ;;
  heal) ip netns exec "oxceph-h$host" ip link set eth0 up
        # The link's own route comes back with its carrier; then the default one.
        for _ in $(seq 50); do
          ip netns exec "oxceph-h$host" ip route replace default via "$net.1" 2>/dev/null && break
          sleep 0.1
        done
        ip netns exec "oxceph-h$host" ip route replace default via "$net.1"; echo "host $host back"; exit 0 ;;
esac

target=${CARGO_TARGET_DIR:-$here/target}
bin=$target/release
. "$here/deploy/lib.sh"
if [ ! -x "$bin/ceph-mon" ] || [ ! -x "$bin/ceph-osd" ] || [ ! -x "$bin/ceph" ]; then
  (cd "$here" && cargo build --release --bins -q)
fi
down
rm -rf "$dir"/mon.* "$dir"/osd.* "$dir/log" "$dir/run"
mkdir -p "$dir/log" "$dir/run"
echo "$net" > "$dir/net"
hosts=$(( mons > osds ? mons : osds ))

ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
for i in $(seq 1 "$hosts"); do
  ns=oxceph-h$i
  ip netns add "$ns"
  ip link add "oxv$i" type veth peer name eth0 netns "$ns"
  ip link set "oxv$i" master "$bridge" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "$net.$((10 + i))/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip route add default via "$net.1"
done

names=() hosts_v2=()
for i in $(seq 1 "$mons"); do
  names+=("$(printf "\\$(printf %o $((96 + i)))")")
  hosts_v2+=("[v2:$net.$((10 + i)):3300]")
done
{
  echo "[global]"
  echo "fsid = $(cat /proc/sys/kernel/random/uuid)"
  echo "mon_initial_members = $(IFS=,; echo "${names[*]}")"
  echo "mon_host = $(IFS=,; echo "${hosts_v2[*]}")"
  echo "auth_cluster_required = cephx"
  echo "auth_service_required = cephx"
  echo "auth_client_required = cephx"
  echo "keyring = $dir/keyring"
  echo "run_dir = $dir/run"
  echo "pid_file = $dir/run/\$name.pid"
  echo "osd_pool_default_size = 3"
  echo "osd_pool_default_min_size = 1"
  echo "osd_crush_chooseleaf_type = 0"
  echo "osd_pool_default_pg_autoscale_mode = off"
  echo "mon_allow_pool_delete = true"
  echo "mon_osd_reporter_subtree_level = osd"
  echo "osd_heartbeat_interval = 2"
  echo "osd_heartbeat_grace = 8"
  echo "osd_mon_report_interval = 2"
  echo "[mon]"
  echo "mon_data = $dir/mon.\$id"
  echo "log_file = $dir/log/\$name.log"
  echo "[osd]"
  echo "osd_data = $dir/osd.\$id"
  echo "keyring = $dir/osd.\$id/keyring"
  echo "log_file = $dir/log/\$name.log"
  for i in $(seq 1 "$mons"); do
    printf '[mon.%s]\npublic_addr = %s\n' "${names[$((i - 1))]}" "$net.$((10 + i))"
  done
  for i in $(seq 1 "$osds"); do
    printf '[osd.%s]\npublic_addr = %s\n' "$((i - 1))" "$net.$((10 + i))"
  done
} > "$dir/ceph.conf"
write_keyring
on() { local h=$1; shift; ip netns exec "oxceph-h$h" "$@"; }
for i in $(seq 1 "$mons"); do
  m=${names[$((i - 1))]}
  "$bin/ceph-mon" -c "$dir/ceph.conf" --mkfs -i "$m" --keyring "$dir/keyring" >/dev/null
  on "$i" "$bin/ceph-mon" -c "$dir/ceph.conf" -i "$m"
done
wait_mons || true
for i in $(seq 1 "$osds"); do
  make_osd "$((i - 1))"
  on "$i" "$bin/ceph-osd" -c "$dir/ceph.conf" -i "$((i - 1))"
done
if up=$(wait_osds_up "$osds"); then
  echo "oxceph netns cluster up in $dir: $hosts hosts on $net.11-$net.$((10 + hosts)), mons ${names[*]}, $osds osds"
  echo "try:   $bin/ceph -c $dir/ceph.conf -s"
  echo "split: $0 --dir $dir --cut 1   (then --heal 1)"
  echo "stop:  $0 --dir $dir --down"
  exit 0
fi
echo "netns-cluster: the cluster did not come up ($up of $osds osds up); see $dir/log/" >&2
exit 1
