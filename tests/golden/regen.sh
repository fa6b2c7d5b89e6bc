#!/bin/bash
# Regenerate the golden test data in tests/golden/ with the real Ceph Pacific (16.2) tools.
#
#   tests/golden/regen.sh [monmap] [keyring] [cluster] [capture]     (no argument: all four)
#
#   monmap   monmap/*.monmap + .print.txt + .features.txt     monmaptool        deterministic
#   keyring  keyring/*                                           ceph-authtool     deterministic
#            (except admin-genkey.keyring, which shows --gen-key and is new on every run)
#   cluster  monmap/cluster-ref.*: `mon getmap` + `mon dump -f json` of the SAME epoch from a
#            running cluster ($REF_CONF, default /tmp/ref/ceph.conf; only read from)
#   capture  capture/*: starts its own cluster ($CAP_DIR on $CAP_IP, default /tmp/ref-cap on
#            127.0.0.3) with up.sh, switches every ms_*_mode to crc and restarts the
#            daemons, records `ceph -s`, `ceph mon dump -f json` and `ceph pg stat` with
#            capture.sh, keeps only the CLI's own connections, stops the cluster (down.sh).
#            Needs root and tcpdump. Not deterministic (random fsid, keys, nonces, times).
#
# Every command that writes a golden file is logged, with its exact arguments, in the
# COMMANDS.txt of that folder (regenerated on each run), so each file's origin is on record.
# Needs: monmaptool, ceph-authtool, ceph, python3; for capture also CEPH_REF scripts
# (/work/shared/ceph-ref: up.sh, down.sh, capture.sh, msgr2_split.py), tcpdump and the
# python3 `cryptography` module (Debian python3-cryptography) for tools/verify_cephx.py.
set -euo pipefail
G=$(cd "$(dirname "$0")" && pwd)
CEPH_REF=${CEPH_REF:-/work/shared/ceph-ref}
REF_CONF=${REF_CONF:-/tmp/ref/ceph.conf}
CAP_DIR=${CAP_DIR:-/tmp/ref-cap}
CAP_IP=${CAP_IP:-127.0.0.3}
PY=${PYTHON:-python3}

# monmaptool --create stamps created/last_changed with "now" and has no option to set them;
# tools/monmap_set_time.py overwrites both with this fixed time (2021-03-31T00:00:00.123456Z,
# the Pacific 16.2.0 release day) right after creation, before --print.
FIXED_SEC=1617148800
FIXED_NSEC=123456000

# Fixed cephx keys (made once with `ceph-authtool --gen-print-key`; base64 CryptoKey:
# le16 type=1 (AES), utime_t created, le16 len=16, 16-byte secret).
KEY_ADMIN=AQCs6QZreI9rHBAAJ3R4t+F46OqBLtWIfAukgw==
KEY_MON=AQCs6QZrnQ5iHhAAfN0R4iUxcOjDj4yQ05O8Dw==
KEY_OSD0=AQCs6QZrMAoRIBAADxtgo5J2rFKX2j1V1dSZ8w==
KEY_MGRX=AQCs6QZrlsyFIRAA0YExCe9RIyxqAKze153G4g==
# A hand-made key with a recognisable secret 00 01 .. 0f and created = FIXED_SEC.FIXED_NSEC
KEY_BOB=$($PY -c "import base64,struct,sys; sys.stdout.write(base64.b64encode(struct.pack('<HIIH',1,$FIXED_SEC,$FIXED_NSEC,16)+bytes(range(16))).decode())")

die() { echo "regen.sh: $*" >&2; exit 1; }
q() { local s; printf -v s '%q ' "$@"; printf '%s' "${s% }"; }

# run DIR OUT CMD...: run CMD in DIR with stdout to OUT ('-': discarded), log it in
# DIR/$LOG as "OUT <= CMD".
LOG=COMMANDS.txt
run() {
  local dir=$1 out=$2; shift 2
  printf '%s <= %s\n' "$out" "$(q "$@")" >>"$dir/$LOG"
  if [ "$out" = - ]; then (cd "$dir" && "$@" >/dev/null)
  else (cd "$dir" && "$@" >"$out"); fi
}
note() { local d=$1; shift; printf '# %s\n' "$*" >>"$d/$LOG"; }

# ------------------------------------------------------------------ monmaps (monmaptool)
mkmonmap() {   # mkmonmap NAME FSID monmaptool-args...
  local d=$G/monmap name=$1 fsid=$2; shift 2
  rm -f "$d/$name".*
  run "$d" - monmaptool --create --clobber --fsid "$fsid" "$@" "$name.monmap"
  run "$d" - "$PY" ../tools/monmap_set_time.py "$name.monmap" $FIXED_SEC $FIXED_NSEC
  run "$d" "$name.print.txt" monmaptool --print "$name.monmap"
  run "$d" "$name.features.txt" monmaptool --feature-list parseable "$name.monmap"
  echo >>"$d/$name.features.txt"   # monmaptool ends this output without a newline
}

do_monmap() {
  local d=$G/monmap
  mkdir -p "$d"; rm -f "$d"/[a-z]-*.* "$d/COMMANDS.txt"
  note "$d" "monmaps made by monmaptool $(monmaptool --version 2>/dev/null | head -1 || true)"
  note "$d" "created/last_changed rewritten to $FIXED_SEC.$FIXED_NSEC by tools/monmap_set_time.py"
  # (a) one mon, v2+v1 address vector (what up.sh/cephadm make)
  mkmonmap a-1mon-v2v1 11111111-2222-3333-4444-55555555555a \
    --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]'
  # (b) three mons, v2+v1 on different IPs; names deliberately not in address order.
  #     No persistent features, so ranks are the legacy ones: sorted by address.
  mkmonmap b-3mon-v2v1 11111111-2222-3333-4444-55555555555b \
    --addv a '[v2:10.0.0.3:3300,v1:10.0.0.3:6789]' \
    --addv b '[v2:10.0.0.1:3300,v1:10.0.0.1:6789]' \
    --addv c '[v2:10.0.0.2:3300,v1:10.0.0.2:6789]'
  # (c) legacy --add: no port -> v1 :6789 (no nautilus feature), :6789 -> v1, :3300 -> v2
  mkmonmap c-legacy-add 11111111-2222-3333-4444-55555555555c \
    --add a 10.0.0.1 --add b 10.0.0.2:6789 --add c 10.0.0.3:3300
  # (d) --enable-all-features: persistent features = all 8 (0xff), ranks in insertion
  #     order (monmaptool adds the --add ones first, then the --addv ones, each by name);
  #     --add without port now gives [v2:...:3300,v1:...:6789]
  mkmonmap d-all-features 11111111-2222-3333-4444-55555555555d --enable-all-features \
    --add d 10.0.0.4 \
    --addv a '[v2:10.0.0.3:3300,v1:10.0.0.3:6789]' \
    --addv b '[v2:10.0.0.1:3300,v1:10.0.0.1:6789]' \
    --addv c '[v2:10.0.0.2:3300,v1:10.0.0.2:6789]'
  # (e) IPv6 address vector
  mkmonmap e-ipv6 11111111-2222-3333-4444-55555555555e \
    --addv a '[v2:[::1]:3300,v1:[::1]:6789]'
  # (f) no monitors at all
  mkmonmap f-empty 11111111-2222-3333-4444-55555555555f
}

# ------------------------------------------------------------------ keyrings (ceph-authtool)
do_keyring() {
  local d=$G/keyring
  mkdir -p "$d"; rm -f "$d"/*.keyring "$d"/*.txt
  note "$d" "keyrings made by ceph-authtool ($(ceph --version | awk '{print $3}'))"
  # client.admin with a fixed key and the usual admin caps
  run "$d" - ceph-authtool --create-keyring admin.keyring -n client.admin --add-key "$KEY_ADMIN" \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
  run "$d" admin.print-key.txt ceph-authtool admin.keyring --print-key -n client.admin
  run "$d" admin.list.txt ceph-authtool admin.keyring --list
  # same with --gen-key: a fresh random key on every run (format reference only)
  run "$d" - ceph-authtool --create-keyring admin-genkey.keyring --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
  # several entities: mon., client.admin (imported), osd.0, mgr.x (no caps), client.bob
  run "$d" - ceph-authtool --create-keyring multi.keyring -n mon. --add-key "$KEY_MON" \
    --cap mon 'allow *'
  run "$d" - ceph-authtool multi.keyring --import-keyring admin.keyring
  run "$d" - ceph-authtool multi.keyring -n osd.0 --add-key "$KEY_OSD0" \
    --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
  run "$d" - ceph-authtool multi.keyring -n mgr.x --add-key "$KEY_MGRX"
  run "$d" - ceph-authtool multi.keyring -n client.bob --add-key "$KEY_BOB" \
    --cap mon 'allow r' --cap osd 'allow rw pool=rbd namespace=ns1, allow r pool=other'
  run "$d" multi.list.txt ceph-authtool multi.keyring --list
  run "$d" multi.print-key-bob.txt ceph-authtool multi.keyring -p -n client.bob
  # decoded CryptoKeys (28 bytes each)
  run "$d" cryptokey.txt "$PY" -c '
import base64, datetime, struct, sys
print("# base64 key -> 28-byte CryptoKey: le16 type | le32 created.sec | le32 created.nsec"
      " | le16 secret_len | secret[16]   (type 1 = CEPH_CRYPTO_AES)")
for name, k in zip(sys.argv[1::2], sys.argv[2::2]):
    b = base64.b64decode(k)
    t, sec, nsec, n = struct.unpack("<HIIH", b[:12])
    when = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    print("%s\n  base64   %s\n  hex      %s\n  type     %d\n  created  %d.%09d (%s.%06dZ)"
          "\n  len      %d\n  secret   %s" % (name, k, b.hex(), t, sec, nsec, when, nsec // 1000,
                                               n, b[12:].hex()))
' client.admin "$KEY_ADMIN" mon. "$KEY_MON" osd.0 "$KEY_OSD0" mgr.x "$KEY_MGRX" \
    client.bob "$KEY_BOB"
}

# ------------------------------------------------------------------ a real cluster's monmap
do_cluster() {
  local d=$G/monmap C=$REF_CONF e
  [ -f "$C" ] || die "no $C (set REF_CONF to a running cluster's ceph.conf)"
  mkdir -p "$d"; rm -f "$d"/cluster-ref.* "$d/COMMANDS.cluster-ref.txt"
  e=$(ceph -c "$C" mon dump -f json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  local LOG=COMMANDS.cluster-ref.txt   # own log: `regen.sh monmap` rewrites COMMANDS.txt
  note "$d" "cluster-ref.*: read from the running cluster of $C at monmap epoch $e"
  run "$d" - ceph -c "$C" mon getmap "$e" -o cluster-ref.monmap
  run "$d" cluster-ref.json ceph -c "$C" mon dump "$e" -f json
  run "$d" cluster-ref.dump.txt ceph -c "$C" mon dump "$e"
  run "$d" cluster-ref.print.txt monmaptool --print cluster-ref.monmap
  run "$d" cluster-ref.features.txt monmaptool --feature-list parseable cluster-ref.monmap
  echo >>"$d/cluster-ref.features.txt"
  "$PY" - "$d/cluster-ref.json" "$e" >"$d/cluster-ref.meta.txt" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["epoch"] == int(sys.argv[2]), "mon dump epoch differs from getmap epoch"
print("epoch %d\nfsid %s\ncreated %s\nmons %s" % (j["epoch"], j["fsid"], j["created"],
      " ".join(m["name"] for m in j["mons"])))
EOF
  echo "ceph $(ceph --version | awk '{print $3}')" >>"$d/cluster-ref.meta.txt"
}

# ------------------------------------------------------------------ msgr2 captures
wait_clean() {   # wait until every PG is active+clean and the mgr is available
  local C=$1 st total clean
  for i in $(seq 180); do
    st=$(ceph -c "$C" pg stat 2>/dev/null || true)
    total=$(sed -n 's/^\([0-9]*\) pgs:.*/\1/p' <<<"$st")
    clean=$(grep -o '[0-9]* active+clean' <<<"$st" | awk '{print $1}' || true)
    [ -n "$total" ] && [ "$total" = "${clean:-x}" ] && return 0
    sleep 1
  done
  die "PGs not clean after 180 s: $st"
}

do_capture() {
  local d=$G/capture C=$CAP_DIR/ceph.conf tmp
  [ "$(id -u)" = 0 ] || die "capture needs root (tcpdump)"
  command -v tcpdump >/dev/null || die "tcpdump missing: apt-get install -y tcpdump"
  [ ! -e "$CAP_DIR/run" ] || die "$CAP_DIR already holds a cluster: $CEPH_REF/down.sh $CAP_DIR"
  "$CEPH_REF/up.sh" "$CAP_DIR" "$CAP_IP" >"$CAP_DIR.up.log" 2>&1 || { cat "$CAP_DIR.up.log" >&2; die "up.sh failed"; }
  trap '"$CEPH_REF/down.sh" "$CAP_DIR" >/dev/null 2>&1 || true' EXIT
  # crc-mode recipe from $CEPH_REF/README.md: all six ms_*_mode = crc, restart daemons
  sed -i '/^\[global\]/a ms_client_mode = crc\nms_cluster_mode = crc\nms_service_mode = crc\nms_mon_client_mode = crc\nms_mon_cluster_mode = crc\nms_mon_service_mode = crc' "$C"
  local p pid cmd
  for p in "$CAP_DIR"/run/*.pid; do
    pid=$(cat "$p"); cmd=$(tr '\0' ' ' </proc/"$pid"/cmdline)
    kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    $cmd >>"$CAP_DIR.up.log" 2>&1
  done
  sleep 3; wait_clean "$C"; sleep 5; wait_clean "$C"

  rm -rf "$d"; mkdir -p "$d"; tmp=$(mktemp -d)
  note "$d" "captures on a fresh up.sh cluster in $CAP_DIR ($CAP_IP), every ms_*_mode = crc"
  local name args
  for spec in "status|-s" "mon-dump|mon dump -f json" "pg-stat|pg stat"; do
    name=${spec%%|*}; args=${spec#*|}
    # the CLI's stdout goes to a file: capture.sh prints its own summary on stdout
    # shellcheck disable=SC2086
    run "$d" "$name.capture.log" "$CEPH_REF/capture.sh" "$CAP_DIR" "$tmp/$name" -- \
      sh -c 'exec "$@" >"$0"' "$tmp/$name.stdout" ceph -c "$C" $args
    run "$d" - "$PY" "$G/tools/capture_subset.py" "$tmp/$name" "$d/$name" "$CEPH_REF"
    mv "$tmp/$name.stdout" "$d/$name/stdout.txt"
    printf 'ceph -c %s %s\n' "$C" "$args" >"$d/$name/command.txt"
    mv "$d/$name.capture.log" "$d/$name/capture.log"
    run "$d" "$name/cephx.txt" "$PY" "$G/tools/verify_cephx.py" "$d/$name" "$CAP_DIR/keyring"
  done
  # the maps the client received, fetched again at the same epochs for cross-checks
  local me oe ge
  me=$(ceph -c "$C" mon dump -f json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  oe=$(ceph -c "$C" osd dump -f json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  ge=$(ceph -c "$C" mgr dump -f json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  mkdir -p "$d/maps"
  run "$d/maps" - ceph -c "$C" mon getmap "$me" -o monmap.bin
  run "$d/maps" monmap.json ceph -c "$C" mon dump "$me" -f json
  run "$d/maps" - ceph -c "$C" osd getmap "$oe" -o osdmap.bin
  run "$d/maps" osdmap.json ceph -c "$C" osd dump "$oe" -f json
  run "$d/maps" mgrmap.json ceph -c "$C" mgr dump "$ge" -f json
  printf 'monmap epoch %s\nosdmap epoch %s\nmgrmap epoch %s\n' "$me" "$oe" "$ge" >"$d/maps/epochs.txt"
  cp "$C" "$d/ceph.conf"; cp "$CAP_DIR/keyring" "$d/keyring"
  "$CEPH_REF/down.sh" "$CAP_DIR" >/dev/null 2>&1; trap - EXIT
  rm -rf "$tmp" "$CAP_DIR.up.log"
  "$PY" "$G/tools/capture_readme.py" "$d" "$(ceph --version | awk '{print $3}')" >"$d/README.md"
}

parts=("$@"); [ ${#parts[@]} -gt 0 ] || parts=(monmap keyring cluster capture)
for p in "${parts[@]}"; do
  case $p in
    monmap) do_monmap;; keyring) do_keyring;; cluster) do_cluster;; capture) do_capture;;
    *) die "unknown part '$p' (monmap keyring cluster capture)";;
  esac
  echo "regen.sh: $p done" >&2
done
