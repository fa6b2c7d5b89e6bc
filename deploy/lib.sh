# Shared by vstart.sh and netns-cluster.sh (sourced; needs $bin and $dir).

# A CryptoKey as Ceph encodes it: le16 type (1 = AES), utime created, le16 length, 16 random bytes.
genkey() {
  python3 -c 'import os,struct,base64,time; print(base64.b64encode(struct.pack("<HIIH",1,int(time.time()),0,16)+os.urandom(16)).decode())'
}

# The cluster keyring: mon. and client.admin with every cap.
write_keyring() {
  cat > "$dir/keyring" <<KEYS
[mon.]
	key = $(genkey)
	caps mon = "allow *"
[client.admin]
	key = $(genkey)
	caps mds = "allow *"
	caps mgr = "allow *"
	caps mon = "allow *"
	caps osd = "allow *"
KEYS
}

ceph() { "$bin/ceph" -c "$dir/ceph.conf" --connect-timeout 5 "$@"; }

wait_mons() {
  for _ in $(seq 300); do
    ceph health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# An OSD the way Ceph deploys one: register (osd new), keyring, mkfs. Not started.
make_osd() {
  local id=$1 uuid key
  uuid=$(cat /proc/sys/kernel/random/uuid)
  key=$(genkey)
  mkdir -p "$dir/osd.$id"
  printf '{"cephx_secret": "%s"}' "$key" > "$dir/osd.$id/secret.json"
  ceph osd new "$uuid" "$id" -i "$dir/osd.$id/secret.json" >/dev/null
  printf '[osd.%s]\n\tkey = %s\n' "$id" "$key" > "$dir/osd.$id/keyring"
  rm -f "$dir/osd.$id/secret.json"
  "$bin/ceph-osd" -c "$dir/ceph.conf" --mkfs -i "$id" --osd-uuid "$uuid" >/dev/null
}

# Waits until N OSDs are up (prints how many are up on failure).
wait_osds_up() {
  local n=$1 up=-1
  for _ in $(seq 300); do
    up=$(ceph osd stat --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["num_up_osds"])' 2>/dev/null || echo -1)
    [ "$up" = "$n" ] && return 0
    sleep 0.1
  done
  echo "$up"
  return 1
}
