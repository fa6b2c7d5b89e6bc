#!/bin/bash
# Regenerate the CRUSH and OSDMap golden data in tests/golden/crush/ and tests/golden/osdmap/
# with the real Ceph Pacific (16.2.15) tools.
#
#   tests/golden/regen-crush-osdmap.sh [crush] [osdmap] [cluster] [inc]
#        (no argument = crush osdmap: the deterministic parts only)
#
#   crush    crush/*: crushtool --build / -c maps, -d, recompile check, --dump, --tree,
#            --test --show-mappings (gzip), --show-utilization.          deterministic
#   osdmap   osdmap/tool-*: osdmaptool --createsimple / --create-from-conf maps (run under
#            `faketime -f '2021-03-31 00:00:00'` so created/modified are fixed; needs the
#            Debian package faketime), --print, --dump json, --tree, --test-map-*.
#                                                                          deterministic
#   cluster  osdmap/cluster-*: reads the running reference cluster ($REF_CONF, default
#            /tmp/ref/ceph.conf): full map + osd dump + crush map of one epoch, a run of
#            consecutive full maps while a gold_seq pool is created/changed/removed, and
#            `osd map` of 2000+ objects in a fresh 64-PG pool gold_map (removed again).
#            Not reproducible (epochs, fsid, times are the cluster's).
#   inc      osdmap/inc/*: starts its OWN cluster ($INC_DIR on $INC_IP, default
#            /tmp/ref-osdmap on 127.0.0.4) with /work/shared/ceph-ref/up.sh, switches it to
#            msgr2 crc mode, records the daemons' traffic with capture.sh while it makes a
#            scripted series of map changes, cuts the OSDMap::Incremental blobs out of the
#            MOSDMap messages the mon/OSDs exchanged (inc-E.bin), fetches every full map of
#            the range with `ceph osd getmap E` (+ `osd dump E -f json`), cross-checks the
#            incrementals against ceph-objectstore-tool --op get-inc-osdmap on a stopped
#            OSD, then stops the cluster (down.sh). Needs root + tcpdump. Not reproducible.
#
# Every command that writes a golden file is logged, with its exact arguments, in the
# COMMANDS*.txt of that folder, as `OUT <= command` (`-` when the command writes the file
# itself; `| gzip -9n` when the output was gzipped).
set -euo pipefail
G=$(cd "$(dirname "$0")" && pwd)
CEPH_REF=${CEPH_REF:-/work/shared/ceph-ref}
REF_CONF=${REF_CONF:-/tmp/ref/ceph.conf}
INC_DIR=${INC_DIR:-/tmp/ref-osdmap}
INC_IP=${INC_IP:-127.0.0.4}
PY=${PYTHON:-/usr/bin/python3}   # Debian python3: has the rados module
export TZ=UTC
FAKE=(faketime -f '2021-03-31 00:00:00')   # frozen clock: 1617148800.000000000

die() { echo "regen-crush-osdmap.sh: $*" >&2; exit 1; }
q() { local s; printf -v s '%q ' "$@"; printf '%s' "${s% }"; }
LOG=COMMANDS.txt
# run DIR OUT CMD...: run CMD in DIR, stdout to OUT ('-': discarded; *.gz: gzip -9n),
# stderr discarded; logged in DIR/$LOG as "OUT <= CMD".
run() {
  local dir=$1 out=$2; shift 2
  case $out in
    -) printf '%s <= %s\n' "$out" "$(q "$@")" >>"$dir/$LOG"
       (cd "$dir" && "$@" >/dev/null 2>&1);;
    *.gz) printf '%s <= %s | gzip -9n\n' "$out" "$(q "$@")" >>"$dir/$LOG"
       (cd "$dir" && "$@" 2>/dev/null | gzip -9n >"$out");;
    *) printf '%s <= %s\n' "$out" "$(q "$@")" >>"$dir/$LOG"
       (cd "$dir" && "$@" >"$out" 2>/dev/null);;
  esac
}
note() { local d=$1; shift; printf '# %s\n' "$*" >>"$d/$LOG"; }

# =================================================================== CRUSH (crushtool)
C=$G/crush
MINX=0 MAXX=9999 MAXX_SHORT=1999

# finish NAME: decompile, recompile + compare, --dump, --tree for crush/NAME.bin
finish() {
  local n=$1
  run "$C" - crushtool -d "$n.bin" -o "$n.txt"
  run "$C" - crushtool -c "$n.txt" -o "$n.recompiled.bin"
  if cmp -s "$C/$n.bin" "$C/$n.recompiled.bin"; then
    echo "$n.recompiled.bin identical to $n.bin" >>"$C/RECOMPILE.txt"
  else
    echo "$n.recompiled.bin DIFFERS from $n.bin ($(cmp "$C/$n.bin" "$C/$n.recompiled.bin" 2>&1 | head -1))" >>"$C/RECOMPILE.txt"
  fi
  run "$C" "$n.dump.json" crushtool -i "$n.bin" --dump -f json-pretty
  run "$C" "$n.tree.txt" crushtool -i "$n.bin" --tree
}
# maps NAME RULE REPS... [-- extra crushtool args]: mappings for x in MINX..MAXX
maps() {
  local n=$1 r=$2 tag=; shift 2
  local reps=() extra=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do reps+=("$1"); shift; done
  if [ "${1:-}" = -- ]; then shift; extra=("$@"); fi
  [ -n "${TAG:-}" ] && tag=".$TAG"
  local k mx
  for k in "${reps[@]}"; do
    # size budget: x = 0..9999 for num-rep 3 (and every num-rep when FULL=1), else 0..1999
    mx=$MAXX; [ "$k" = 3 ] || [ "${FULL:-0}" = 1 ] || mx=$MAXX_SHORT
    run "$C" "$n$tag.rule$r.rep$k.x$MINX-$mx.mappings.txt.gz" crushtool -i "$n.bin" --test --show-mappings \
      --rule "$r" --num-rep "$k" --min-x $MINX --max-x $mx "${extra[@]}"
  done
}
# compile NAME: crush/NAME.src.txt (hand-written, from stdin) -> NAME.bin
compile() {
  local n=$1
  cat >"$C/$n.src.txt"
  run "$C" - crushtool -c "$n.src.txt" -o "$n.bin"
}

do_crush() {
  mkdir -p "$C"
  rm -f "$C"/*.bin "$C"/*.txt "$C"/*.json "$C"/*.gz
  note "$C" "made by $(crushtool --version 2>/dev/null | head -1 || echo crushtool)"
  note "$C" "mappings: crushtool --test --show-mappings, x = $MINX..$MAXX for num-rep 3 and for 01 + 09 rule 1 (FULL=1), else x = $MINX..$MAXX_SHORT; every weight 0x10000 unless --weight"

  # 01: the brief's first example: 4 hosts x 3 osds, straw2
  run "$C" - crushtool --build --num_osds 12 -o 01-build-host-straw2.bin host straw2 3 root straw2 0
  finish 01-build-host-straw2
  FULL=1 maps 01-build-host-straw2 0 1 2 3 4
  run "$C" 01-build-host-straw2.rule0.rep3.utilization.txt crushtool -i 01-build-host-straw2.bin \
    --test --show-utilization --rule 0 --num-rep 3 --min-x $MINX --max-x $MAXX
  run "$C" 01-build-host-straw2.rule0.rep5.x0-99.bad-mappings.txt crushtool -i 01-build-host-straw2.bin \
    --test --show-bad-mappings --rule 0 --num-rep 5 --min-x 0 --max-x 99
  # same map, osd.4 out (test weight 0) and osd.7 half in (0.5 = 0x8000)
  TAG=w4-0 maps 01-build-host-straw2 0 1 2 3 4 -- --weight 4 0
  TAG=w4-0.w7-0.5 maps 01-build-host-straw2 0 3 -- --weight 4 0 --weight 7 0.5
  run "$C" 01-build-host-straw2.w4-0.rule0.rep3.utilization.txt crushtool -i 01-build-host-straw2.bin \
    --test --show-utilization --rule 0 --num-rep 3 --min-x $MINX --max-x $MAXX --weight 4 0

  # 02: 40 osds, 10 hosts x 4, 5 racks x 2 hosts; plus a rule over racks added by crushtool
  run "$C" - crushtool --build --num_osds 40 -o 02-build-rack-straw2.base.bin host straw2 4 rack straw2 2 root straw2 0
  run "$C" - crushtool -i 02-build-rack-straw2.base.bin --create-replicated-rule by_rack root rack -o 02-build-rack-straw2.bin
  rm -f "$C/02-build-rack-straw2.base.bin"
  finish 02-build-rack-straw2
  maps 02-build-rack-straw2 0 1 2 3 4
  maps 02-build-rack-straw2 1 1 2 3 4

  # 03: straw (v1) buckets; straws depend on weights and straw_calc_version, so the
  # weights are made uneven with --reweight-item (one per crushtool run: only the last
  # --reweight-item of a command line takes effect).
  run "$C" - crushtool --build --num_osds 16 -o 03-build-straw1.bin host straw 4 root straw 0
  run "$C" - crushtool -i 03-build-straw1.bin --reweight-item osd.1 0.5 -o 03-build-straw1.bin
  run "$C" - crushtool -i 03-build-straw1.bin --reweight-item osd.6 3.0 -o 03-build-straw1.bin
  run "$C" - crushtool -i 03-build-straw1.bin --reweight-item osd.9 0.25 -o 03-build-straw1.bin
  run "$C" - crushtool -i 03-build-straw1.bin --reweight-item osd.10 1.75 -o 03-build-straw1.bin
  finish 03-build-straw1
  maps 03-build-straw1 0 1 2 3 4
  # 03b: same, straw_calc_version 0 (the old, buggy straw calculation), reweighted again
  # so that the straws are recomputed with version 0
  run "$C" - crushtool -i 03-build-straw1.bin --set-straw-calc-version 0 -o 03b-straw1-calc0.bin
  run "$C" - crushtool -i 03b-straw1-calc0.bin --reweight-item osd.1 0.5 -o 03b-straw1-calc0.bin
  run "$C" - crushtool -i 03b-straw1-calc0.bin --reweight-item osd.6 3.0 -o 03b-straw1-calc0.bin
  run "$C" - crushtool -i 03b-straw1-calc0.bin --reweight-item osd.9 0.25 -o 03b-straw1-calc0.bin
  run "$C" - crushtool -i 03b-straw1-calc0.bin --reweight-item osd.10 1.75 -o 03b-straw1-calc0.bin
  finish 03b-straw1-calc0
  maps 03b-straw1-calc0 0 1 2 3 4

  # 04-06: uniform, list, tree buckets
  run "$C" - crushtool --build --num_osds 12 -o 04-build-uniform.bin host uniform 3 root uniform 0
  finish 04-build-uniform
  maps 04-build-uniform 0 1 2 3 4
  run "$C" - crushtool --build --num_osds 15 -o 05-build-list.bin host list 5 root list 0
  run "$C" - crushtool -i 05-build-list.bin --reweight-item osd.2 0.5 -o 05-build-list.bin
  run "$C" - crushtool -i 05-build-list.bin --reweight-item osd.7 2.0 -o 05-build-list.bin
  finish 05-build-list
  maps 05-build-list 0 1 2 3 4
  run "$C" - crushtool --build --num_osds 15 -o 06-build-tree.bin host tree 5 root tree 0
  run "$C" - crushtool -i 06-build-tree.bin --reweight-item osd.2 0.5 -o 06-build-tree.bin
  run "$C" - crushtool -i 06-build-tree.bin --reweight-item osd.7 2.0 -o 06-build-tree.bin
  finish 06-build-tree
  maps 06-build-tree 0 1 2 3 4
  # 06b: mixed algorithms in one hierarchy (uniform hosts, list racks, tree root)
  run "$C" - crushtool --build --num_osds 24 -o 06b-build-mixed.bin host uniform 3 rack list 2 root tree 0
  finish 06b-build-mixed
  maps 06b-build-mixed 0 1 2 3 4

  # 07: odd weights (realistic TiB sizes, a zero weight, uneven hosts), two racks,
  # a rack-then-host rule and a plain osd rule
  compile 07-odd-weights <<'EOF'
# hand-written: uneven hosts and odd weights
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6
device 7 osd.7
device 8 osd.8
device 9 osd.9
device 10 osd.10
device 11 osd.11
device 12 osd.12
device 13 osd.13
device 14 osd.14

type 0 osd
type 1 host
type 2 rack
type 11 root

host h0 {
	id -2
	alg straw2
	hash 0
	item osd.0 weight 1.819
	item osd.1 weight 1.819
	item osd.2 weight 3.638
}
host h1 {
	id -3
	alg straw2
	hash 0
	item osd.3 weight 7.277
	item osd.4 weight 0.455
}
host h2 {
	id -4
	alg straw2
	hash 0
	item osd.5 weight 0.900
	item osd.6 weight 0.000
	item osd.7 weight 0.123
	item osd.8 weight 12.000
}
host h3 {
	id -5
	alg straw2
	hash 0
	item osd.9 weight 0.010
}
host h4 {
	id -6
	alg straw2
	hash 0
	item osd.10 weight 2.500
	item osd.11 weight 2.500
	item osd.12 weight 5.000
}
host h5 {
	id -7
	alg straw2
	hash 0
	item osd.13 weight 1.000
	item osd.14 weight 0.333
}
rack ra {
	id -8
	alg straw2
	hash 0
	item h0
	item h1
	item h2
}
rack rb {
	id -9
	alg straw2
	hash 0
	item h3
	item h4
	item h5
}
root default {
	id -1
	alg straw2
	hash 0
	item ra
	item rb
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
rule rack_then_host {
	id 1
	type replicated
	min_size 1
	max_size 10
	step take default
	step choose firstn 2 type rack
	step chooseleaf firstn 2 type host
	step emit
}
rule any_osd {
	id 2
	type replicated
	min_size 1
	max_size 10
	step take default
	step choose firstn 0 type osd
	step emit
}
EOF
  finish 07-odd-weights
  maps 07-odd-weights 0 1 2 3 4
  maps 07-odd-weights 1 1 2 3 4
  maps 07-odd-weights 2 1 2 3 4
  TAG=w3-0 maps 07-odd-weights 0 1 2 3 4 -- --weight 3 0
  run "$C" 07-odd-weights.rule0.rep3.utilization.txt crushtool -i 07-odd-weights.bin \
    --test --show-utilization-all --rule 0 --num-rep 3 --min-x $MINX --max-x $MAXX
  # 07b: reweight-item on a compiled map (adjusts ancestors' weights)
  run "$C" - crushtool -i 07-odd-weights.bin --reweight-item osd.3 0.5 -o 07b-odd-reweighted.bin
  finish 07b-odd-reweighted
  maps 07b-odd-reweighted 0 1 2 3 4

  # 08: device classes (shadow trees are made by the compiler)
  compile 08-device-classes <<'EOF'
# hand-written: device classes, class rules, a two-class hybrid rule
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 osd.0 class hdd
device 1 osd.1 class hdd
device 2 osd.2 class ssd
device 3 osd.3 class hdd
device 4 osd.4 class hdd
device 5 osd.5 class ssd
device 6 osd.6 class hdd
device 7 osd.7 class hdd
device 8 osd.8 class ssd
device 9 osd.9 class hdd
device 10 osd.10 class ssd
device 11 osd.11 class nvme

type 0 osd
type 1 host
type 11 root

host node1 {
	id -2
	alg straw2
	hash 0
	item osd.0 weight 3.638
	item osd.1 weight 3.638
	item osd.2 weight 0.894
}
host node2 {
	id -3
	alg straw2
	hash 0
	item osd.3 weight 3.638
	item osd.4 weight 3.638
	item osd.5 weight 0.894
}
host node3 {
	id -4
	alg straw2
	hash 0
	item osd.6 weight 3.638
	item osd.7 weight 3.638
	item osd.8 weight 0.894
}
host node4 {
	id -5
	alg straw2
	hash 0
	item osd.9 weight 7.277
	item osd.10 weight 1.788
	item osd.11 weight 1.000
}
root default {
	id -1
	alg straw2
	hash 0
	item node1
	item node2
	item node3
	item node4
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
rule fast {
	id 1
	type replicated
	min_size 1
	max_size 10
	step take default class ssd
	step chooseleaf firstn 0 type host
	step emit
}
rule slow {
	id 2
	type replicated
	min_size 1
	max_size 10
	step take default class hdd
	step chooseleaf firstn 0 type host
	step emit
}
rule hybrid {
	id 3
	type replicated
	min_size 1
	max_size 10
	step take default class ssd
	step chooseleaf firstn 1 type host
	step emit
	step take default class hdd
	step chooseleaf firstn -1 type host
	step emit
}
rule ec_hdd {
	id 4
	type erasure
	min_size 3
	max_size 4
	step set_chooseleaf_tries 5
	step set_choose_tries 100
	step take default class hdd
	step chooseleaf indep 0 type host
	step emit
}
EOF
  finish 08-device-classes
  for r in 0 1 2 3; do maps 08-device-classes $r 1 2 3 4; done
  maps 08-device-classes 4 1 2 3 4 5

  # 09: erasure rules (indep), 6 hosts x 2 osds
  compile 09-erasure <<'EOF'
# hand-written: erasure (indep) rules
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6
device 7 osd.7
device 8 osd.8
device 9 osd.9
device 10 osd.10
device 11 osd.11

type 0 osd
type 1 host
type 11 root

host e0 {
	id -2
	alg straw2
	hash 0
	item osd.0 weight 1.000
	item osd.1 weight 1.000
}
host e1 {
	id -3
	alg straw2
	hash 0
	item osd.2 weight 1.000
	item osd.3 weight 1.000
}
host e2 {
	id -4
	alg straw2
	hash 0
	item osd.4 weight 1.000
	item osd.5 weight 1.000
}
host e3 {
	id -5
	alg straw2
	hash 0
	item osd.6 weight 1.000
	item osd.7 weight 1.000
}
host e4 {
	id -6
	alg straw2
	hash 0
	item osd.8 weight 1.000
	item osd.9 weight 1.000
}
host e5 {
	id -7
	alg straw2
	hash 0
	item osd.10 weight 2.000
	item osd.11 weight 0.500
}
root default {
	id -1
	alg straw2
	hash 0
	item e0
	item e1
	item e2
	item e3
	item e4
	item e5
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}
rule ec {
	id 1
	type erasure
	min_size 3
	max_size 8
	step set_chooseleaf_tries 5
	step take default
	step chooseleaf indep 0 type host
	step emit
}
rule ec_osd {
	id 2
	type erasure
	min_size 3
	max_size 12
	step set_chooseleaf_tries 5
	step set_choose_tries 100
	step take default
	step choose indep 0 type osd
	step emit
}
rule ec_3x2 {
	id 3
	type erasure
	min_size 6
	max_size 6
	step set_choose_tries 100
	step take default
	step choose indep 3 type host
	step choose indep 2 type osd
	step emit
}
EOF
  finish 09-erasure
  maps 09-erasure 0 1 2 3 4
  FULL=1 maps 09-erasure 1 1 2 3 4 5 6 8
  maps 09-erasure 2 1 2 3 4 5 6
  maps 09-erasure 3 6
  TAG=w4-0 maps 09-erasure 1 4 6 -- --weight 4 0
  TAG=w4-0 maps 09-erasure 3 6 -- --weight 4 0

  # 10: choose_args (weight sets). crushtool --test uses choose_args 0 if present, else
  # the compat weight set 18446744073709551615 (-1) (CrushWrapper::do_rule(...,
  # choose_args_index 0) -> choose_args_get_with_fallback). 10a: compat only; 10b: id 0
  # with 3 positions and ids, plus id 1 (for pool 1 of an OSDMap) and the compat set.
  compile 10a-choose-args-compat <<'EOF'
# hand-written: compat weight set (choose_args -1 = 18446744073709551615)
tunable choose_local_tries 0
tunable choose_local_fallback_tries 0
tunable choose_total_tries 50
tunable chooseleaf_descend_once 1
tunable chooseleaf_vary_r 1
tunable chooseleaf_stable 1
tunable straw_calc_version 1
tunable allowed_bucket_algs 54

device 0 osd.0
device 1 osd.1
device 2 osd.2
device 3 osd.3
device 4 osd.4
device 5 osd.5
device 6 osd.6
device 7 osd.7
device 8 osd.8
device 9 osd.9
device 10 osd.10
device 11 osd.11

type 0 osd
type 1 host
type 11 root

host host0 {
	id -1
	alg straw2
	hash 0
	item osd.0 weight 1.000
	item osd.1 weight 1.000
	item osd.2 weight 1.000
}
host host1 {
	id -2
	alg straw2
	hash 0
	item osd.3 weight 1.000
	item osd.4 weight 1.000
	item osd.5 weight 1.000
}
host host2 {
	id -3
	alg straw2
	hash 0
	item osd.6 weight 1.000
	item osd.7 weight 1.000
	item osd.8 weight 1.000
}
host host3 {
	id -4
	alg straw2
	hash 0
	item osd.9 weight 1.000
	item osd.10 weight 1.000
	item osd.11 weight 1.000
}
root default {
	id -5
	alg straw2
	hash 0
	item host0 weight 3.000
	item host1 weight 3.000
	item host2 weight 3.000
	item host3 weight 3.000
}

rule replicated_rule {
	id 0
	type replicated
	min_size 1
	max_size 10
	step take default
	step chooseleaf firstn 0 type host
	step emit
}

choose_args 18446744073709551615 {
  {
    bucket_id -5
    weight_set [
      [ 2.000 3.000 1.000 6.000 ]
    ]
  }
  {
    bucket_id -1
    weight_set [
      [ 0.100 1.000 1.900 ]
    ]
  }
  {
    bucket_id -4
    weight_set [
      [ 1.000 0.000 2.000 ]
    ]
  }
}
EOF
  finish 10a-choose-args-compat
  maps 10a-choose-args-compat 0 1 2 3 4
  { sed -e 's/^# hand-written: .*/# hand-written: choose_args 0 (3 positions, ids), 1 and -1/' \
      -e '/^choose_args 18446744073709551615/,$d' "$C/10a-choose-args-compat.src.txt"
    cat <<'EOF'
choose_args 0 {
  {
    bucket_id -5
    weight_set [
      [ 3.000 3.000 3.000 0.500 ]
      [ 1.000 5.000 3.000 3.000 ]
      [ 3.000 3.000 0.000 6.000 ]
    ]
    ids [ -105 -106 -107 -108 ]
  }
  {
    bucket_id -2
    weight_set [
      [ 1.000 1.000 1.000 ]
      [ 0.200 2.000 1.000 ]
      [ 1.000 1.000 1.000 ]
    ]
    ids [ 103 104 105 ]
  }
}
choose_args 1 {
  {
    bucket_id -5
    weight_set [
      [ 0.500 3.000 3.000 3.000 ]
    ]
  }
  {
    bucket_id -3
    weight_set [
      [ 2.000 1.000 0.500 ]
      [ 2.000 1.000 0.500 ]
      [ 0.500 1.000 2.000 ]
    ]
  }
}
choose_args 18446744073709551615 {
  {
    bucket_id -5
    weight_set [
      [ 2.000 3.000 1.000 6.000 ]
    ]
  }
}
EOF
  } | compile 10b-choose-args-positions
  finish 10b-choose-args-positions
  maps 10b-choose-args-positions 0 1 2 3 4
  # 10c: 10b without any choose_args (to show they change the result)
  sed -e 's/^# hand-written: .*/# hand-written: 10b topology without choose_args/' \
      -e '/^choose_args 18446744073709551615/,$d' "$C/10a-choose-args-compat.src.txt" |
    compile 10c-no-choose-args
  finish 10c-no-choose-args
  maps 10c-no-choose-args 0 3

  # 11: tunables profiles on one topology (07's hosts, straw2) set with crushtool flags
  #   argonaut: local 2, fallback 5, total 19, descend_once 0, vary_r 0, stable 0, straw_calc 0
  #   bobtail:  local 0, fallback 0, total 50, descend_once 1, vary_r 0, stable 0
  #   firefly:  bobtail + vary_r 1;   jewel/optimal: firefly + stable 1 (= 07 itself)
  #   vary_r 2 (legal but unusual), and total_tries 1 (to force failures)
  cp "$C/07-odd-weights.bin" "$C/11-tunables-argonaut.bin"
  note "$C" "11-tunables-argonaut.bin = copy of 07-odd-weights.bin, then:"
  run "$C" - crushtool -i 11-tunables-argonaut.bin --set-choose-local-tries 2 \
    --set-choose-local-fallback-tries 5 --set-choose-total-tries 19 \
    --set-chooseleaf-descend-once 0 --set-chooseleaf-vary-r 0 --set-chooseleaf-stable 0 \
    --set-straw-calc-version 0 -o 11-tunables-argonaut.bin
  run "$C" - crushtool -i 07-odd-weights.bin --set-chooseleaf-vary-r 0 --set-chooseleaf-stable 0 \
    -o 11-tunables-bobtail.bin
  run "$C" - crushtool -i 07-odd-weights.bin --set-chooseleaf-stable 0 -o 11-tunables-firefly.bin
  run "$C" - crushtool -i 07-odd-weights.bin --set-chooseleaf-vary-r 2 -o 11-tunables-vary-r2.bin
  run "$C" - crushtool -i 07-odd-weights.bin --set-choose-total-tries 1 -o 11-tunables-total-tries1.bin
  for t in argonaut bobtail firefly vary-r2 total-tries1; do
    finish 11-tunables-$t
    maps 11-tunables-$t 0 1 2 3 4
    maps 11-tunables-$t 1 4
    maps 11-tunables-$t 2 3
    TAG=w3-0 maps 11-tunables-$t 0 3 -- --weight 3 0
  done
  # legacy (argonaut) tunables with straw v1 buckets (03b), as an old cluster had them
  cp "$C/03b-straw1-calc0.bin" "$C/11-tunables-argonaut-straw1.bin"
  note "$C" "11-tunables-argonaut-straw1.bin = copy of 03b-straw1-calc0.bin, then:"
  run "$C" - crushtool -i 11-tunables-argonaut-straw1.bin --set-choose-local-tries 2 \
    --set-choose-local-fallback-tries 5 --set-choose-total-tries 19 \
    --set-chooseleaf-descend-once 0 --set-chooseleaf-vary-r 0 --set-chooseleaf-stable 0 \
    -o 11-tunables-argonaut-straw1.bin
  finish 11-tunables-argonaut-straw1
  maps 11-tunables-argonaut-straw1 0 1 2 3 4
  TAG=w5-0 maps 11-tunables-argonaut-straw1 0 3 -- --weight 5 0
}

# =================================================================== OSDMap (osdmaptool)
O=$G/osdmap
OBJECTS=(foo bar obj0 obj1 obj2 obj3 obj4 obj5 obj6 obj7 obj8 obj9 rbd_header.10226b8b4567
  rbd_data.10226b8b4567.0000000000000000 rbd_data.10226b8b4567.00000000000003e7
  'a b' 'x/y:z' "$(printf 'long%.0s' $(seq 64))")

# omfinish NAME: print/dump/tree/crush + pg and object mappings of osdmap/tool-NAME.osdmap
omfinish() {
  local n=tool-$1 pool=${2:-1}
  run "$O" "$n.print.txt" osdmaptool "$n.osdmap" --print
  run "$O" "$n.dump.json" osdmaptool "$n.osdmap" --dump json
  run "$O" "$n.tree.txt" osdmaptool "$n.osdmap" --tree
  run "$O" - osdmaptool "$n.osdmap" --export-crush "$n.crush.bin"
  run "$O" - crushtool -d "$n.crush.bin" -o "$n.crush.txt"
  # as created: the OSDs do not exist (DNE), so nothing maps
  run "$O" "$n.pgs-dump.txt" osdmaptool "$n.osdmap" --test-map-pgs-dump --pool "$pool"
  run "$O" "$n.upin.pgs-dump.txt" osdmaptool "$n.osdmap" --mark-up-in --test-map-pgs-dump --pool "$pool"
  run "$O" "$n.upin.pgs-dump-all.txt" osdmaptool "$n.osdmap" --mark-up-in --test-map-pgs-dump-all --pool "$pool"
  run "$O" "$n.upin-out1.pgs-dump-all.txt" osdmaptool "$n.osdmap" --mark-up-in --mark-out 1 --test-map-pgs-dump-all --pool "$pool"
  : >"$O/$n.upin.objects.txt"
  local o
  for o in "${OBJECTS[@]}"; do
    printf '%s <= %s\n' ">>$n.upin.objects.txt" "$(q osdmaptool "$n.osdmap" --mark-up-in --test-map-object "$o" --pool "$pool")" >>"$O/$LOG"
    (cd "$O" && osdmaptool "$n.osdmap" --mark-up-in --test-map-object "$o" --pool "$pool" 2>/dev/null | grep -v '^marking' >>"$n.upin.objects.txt")
  done
}

do_osdmap() {
  mkdir -p "$O"
  rm -f "$O"/tool-* "$O/$LOG"
  note "$O" "made by $(osdmaptool --version 2>/dev/null | head -1 || echo osdmaptool); every osdmaptool that creates or modifies a map runs as: TZ=UTC $(q "${FAKE[@]}") osdmaptool ..."
  note "$O" "objects list (tool-*.upin.objects.txt) one osdmaptool run each: $(q "${OBJECTS[@]}")"
  # simple maps: all OSDs under one host "localhost", so a size-3 pool maps to 1 OSD
  run "$O" - "${FAKE[@]}" osdmaptool --createsimple 3 --with-default-pool tool-simple3.osdmap
  omfinish simple3
  run "$O" - "${FAKE[@]}" osdmaptool --createsimple 12 --with-default-pool --pg-bits 4 --pgp-bits 3 tool-simple12-pg4-pgp3.osdmap
  omfinish simple12-pg4-pgp3
  # the same with real crush maps imported (4 hosts x 3; weight-sets for pool 1)
  cp "$O/tool-simple12-pg4-pgp3.osdmap" "$O/tool-simple12-crush01.osdmap"
  note "$O" "tool-simple12-crush01.osdmap = copy of tool-simple12-pg4-pgp3.osdmap, then:"
  run "$O" - "${FAKE[@]}" osdmaptool tool-simple12-crush01.osdmap --import-crush ../crush/01-build-host-straw2.bin
  omfinish simple12-crush01
  cp "$O/tool-simple12-pg4-pgp3.osdmap" "$O/tool-simple12-cargs.osdmap"
  note "$O" "tool-simple12-cargs.osdmap = copy of tool-simple12-pg4-pgp3.osdmap, then:"
  run "$O" - "${FAKE[@]}" osdmaptool tool-simple12-cargs.osdmap --import-crush ../crush/10b-choose-args-positions.bin
  omfinish simple12-cargs
  cp "$O/tool-simple12-pg4-pgp3.osdmap" "$O/tool-simple12-classes.osdmap"
  note "$O" "tool-simple12-classes.osdmap = copy of tool-simple12-pg4-pgp3.osdmap, then:"
  run "$O" - "${FAKE[@]}" osdmaptool tool-simple12-classes.osdmap --import-crush ../crush/08-device-classes.bin
  omfinish simple12-classes
  # from a conf listing OSDs on hosts in racks
  cat >"$O/tool-conf6.conf" <<'EOF'
[global]
fsid = 11111111-2222-3333-4444-555555555555
[osd.0]
host = node-a
rack = r1
[osd.1]
host = node-a
rack = r1
[osd.2]
host = node-b
rack = r1
[osd.3]
host = node-c
rack = r2
[osd.4]
host = node-c
rack = r2
[osd.5]
host = node-d
rack = r2
EOF
  run "$O" - "${FAKE[@]}" osdmaptool -c tool-conf6.conf --create-from-conf --with-default-pool tool-conf6.osdmap
  omfinish conf6
  # pg / pgid parsing and a single-PG query
  for pg in 1.0 1.a 1.17f 1.180 1.5ff; do
    printf '%s <= %s\n' ">>tool-conf6.upin.pgs.txt" "$(q osdmaptool tool-conf6.osdmap --mark-up-in --test-map-pg $pg)" >>"$O/$LOG"
    (cd "$O" && osdmaptool tool-conf6.osdmap --mark-up-in --test-map-pg $pg 2>/dev/null | grep -v '^marking' >>tool-conf6.upin.pgs.txt)
  done
}

# =================================================================== reference cluster
do_cluster() {
  local conf=$REF_CONF L=COMMANDS.cluster.txt
  [ -f "$conf" ] || die "no $conf (REF_CONF)"
  local ceph=(ceph -c "$conf")
  mkdir -p "$O"
  rm -rf "$O"/cluster-* "$O/$L"
  local LOG=$L
  note "$O" "reference cluster $conf, $(date -u +%FT%TZ)"
  # 1. the current map
  local e
  e=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  run "$O" - "${ceph[@]}" osd getmap "$e" -o "cluster-full-$e.osdmap"
  run "$O" "cluster-full-$e.dump.json" "${ceph[@]}" osd dump "$e" -f json
  run "$O" "cluster-full-$e.dump.txt" "${ceph[@]}" osd dump "$e"
  run "$O" "cluster-full-$e.print.txt" osdmaptool "cluster-full-$e.osdmap" --print
  run "$O" - "${ceph[@]}" osd getcrushmap "$e" -o "cluster-full-$e.crush.bin"
  run "$O" - crushtool -d "cluster-full-$e.crush.bin" -o "cluster-full-$e.crush.txt"
  run "$O" "cluster-full-$e.pgs-dump-all.txt" osdmaptool "cluster-full-$e.osdmap" --test-map-pgs-dump-all
  run "$O" "cluster-full-$e.pg-dump.json" "${ceph[@]}" pg dump pgs_brief -f json

  # 2. consecutive full maps while a gold_seq pool is created, changed and removed
  "${ceph[@]}" osd pool rm gold_seq gold_seq --yes-i-really-really-mean-it >/dev/null 2>&1 || true
  local e0 e1
  e0=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  note "$O" "seq: start epoch $e0; then:"
  run "$O" - "${ceph[@]}" osd pool create gold_seq 8 8 replicated --autoscale-mode=off
  run "$O" - "${ceph[@]}" osd pool set gold_seq size 2
  run "$O" - "${ceph[@]}" osd pool application enable gold_seq rbd
  run "$O" - "${ceph[@]}" osd pool set gold_seq pgp_num 4
  run "$O" - "${ceph[@]}" osd pool mksnap gold_seq s1
  sleep 5
  run "$O" - "${ceph[@]}" osd pool rm gold_seq gold_seq --yes-i-really-really-mean-it
  sleep 5
  e1=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  note "$O" "seq: end epoch $e1"
  mkdir -p "$O/cluster-seq"
  for ((e = e0; e <= e1; e++)); do
    run "$O/cluster-seq" - "${ceph[@]}" osd getmap "$e" -o "full-$e.osdmap"
    run "$O/cluster-seq" "full-$e.dump.json" "${ceph[@]}" osd dump "$e" -f json
  done
  mv "$O/cluster-seq/$LOG" "$O/cluster-seq/COMMANDS.txt"
  printf '%s\n' "$e0 $e1" >"$O/cluster-seq/epochs.txt"

  # 3. `osd map` of many objects in a fresh 64-PG pool gold_map, at one epoch
  "${ceph[@]}" osd pool rm gold_map gold_map --yes-i-really-really-mean-it >/dev/null 2>&1 || true
  run "$O" - "${ceph[@]}" osd pool create gold_map 64 64 replicated --autoscale-mode=off
  for _ in $(seq 60); do
    "${ceph[@]}" pg stat | grep -q 'creating\|peering\|unknown\|activating' || break; sleep 1; done
  sleep 2
  local before after
  before=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  run "$O" - "${ceph[@]}" osd getmap "$before" -o cluster-map.osdmap
  run "$O" cluster-map.dump.json "${ceph[@]}" osd dump "$before" -f json
  note "$O" "cluster-map.jsonl: one mon_command {prefix: 'osd map', pool, object, [nspace], format: json} per line (python3-rados, one connection)"
  printf '%s <= %s\n' cluster-map.jsonl "python3 (rados.Rados(conffile=$conf).mon_command 'osd map' for pools gold_map (obj0..obj1999, ns1/obj0..obj99, ns2/obj0..obj49, specials) and rbd (obj0..obj199))" >>"$O/$LOG"
  "$PY" - "$conf" >"$O/cluster-map.jsonl" <<'EOF'
import json, sys, rados
r = rados.Rados(conffile=sys.argv[1])
r.connect()
jobs = [("gold_map", f"obj{i}", None) for i in range(2000)]
jobs += [("gold_map", f"obj{i}", "ns1") for i in range(100)]
jobs += [("gold_map", f"obj{i}", "ns2") for i in range(50)]
jobs += [("gold_map", n, None) for n in ["", "a b", "x/y:z", "rbd_header.10226b8b4567",
         "rbd_data.10226b8b4567.0000000000000000", "\u00e9t\u00e9", "long" * 64]]
jobs += [("rbd", f"obj{i}", None) for i in range(200)]
for pool, obj, ns in jobs:
    cmd = {"prefix": "osd map", "pool": pool, "object": obj, "format": "json"}
    if ns is not None:
        cmd["nspace"] = ns
    ret, out, err = r.mon_command(json.dumps(cmd), b"")
    if ret != 0:
        sys.exit(f"osd map {pool} {obj!r} {ns}: {ret} {err}")
    sys.stdout.write(json.dumps(json.loads(out), sort_keys=False) + "\n")
r.shutdown()
EOF
  after=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  "$PY" - "$O/cluster-map.jsonl" "$before" "$after" <<'EOF' || die "map changed during osd map"
import json, sys
ep = {json.loads(l)["epoch"] for l in open(sys.argv[1])}
ok = ep == {int(sys.argv[2])} and sys.argv[2] == sys.argv[3]
print("epochs in cluster-map.jsonl:", sorted(ep), "before", sys.argv[2], "after", sys.argv[3], "OK" if ok else "CHANGED", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
  run "$O" cluster-map.pgs-dump-all.txt osdmaptool cluster-map.osdmap --test-map-pgs-dump-all
  echo "$before" >"$O/cluster-map.epoch.txt"
  run "$O" - "${ceph[@]}" osd pool rm gold_map gold_map --yes-i-really-really-mean-it
}

# =================================================================== own cluster: incrementals
do_inc() {
  local D=$INC_DIR I=$O/inc
  [ "$(id -u)" = 0 ] || die "inc needs root (tcpdump)"
  command -v tcpdump >/dev/null || die "inc needs tcpdump"
  [ ! -e "$D/run" ] || die "$D holds a cluster; run $CEPH_REF/down.sh $D first"
  rm -rf "$I"; mkdir -p "$I"
  local LOG=COMMANDS.txt
  "$CEPH_REF/up.sh" "$D" "$INC_IP" --osds 4 >&2
  trap '"$CEPH_REF/down.sh" "$D" >&2 || true' EXIT
  local conf=$D/ceph.conf
  sed -i '/^\[global\]/a ms_client_mode = crc\nms_cluster_mode = crc\nms_service_mode = crc\nms_mon_client_mode = crc\nms_mon_cluster_mode = crc\nms_mon_service_mode = crc\nmon_osd_allow_primary_temp = true' "$conf"
  local p pid cmd
  for p in "$D"/run/*.pid; do pid=$(cat "$p"); cmd=$(tr '\0' ' ' </proc/$pid/cmdline)
    kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; $cmd 2>/dev/null; done
  local ceph=(ceph -c "$conf")
  for _ in $(seq 120); do
    "${ceph[@]}" pg stat 2>/dev/null | grep -q ' 33 active+clean' && [ "$("${ceph[@]}" osd stat -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["num_up_osds"])')" = 4 ] && break
    sleep 1; done
  sleep 3
  local e0 e1
  e0=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  # the scripted changes (each mon command makes >= 1 epoch; OSDs add some, e.g. up_thru)
  cat >"$I/changes.sh" <<EOF
#!/bin/bash
# map changes made while capturing (each followed by a pause so the epochs stay apart)
c() { echo "+ ceph \$*" >&2; ceph -c $conf "\$@"; sleep 2; }
c osd pool create gold_a 16 16 replicated --autoscale-mode=off
c osd pool set gold_a size 2
c osd pool application enable gold_a rbd
c osd out 1
c osd in 1
c osd set noout
c osd unset noout
c osd primary-affinity 2 0.5
c osd reweight 3 0.75
c osd crush reweight osd.3 0.5
c osd crush add-bucket gold_rack rack
c osd crush move gold_rack root=default
c osd set-require-min-compat-client luminous
c osd pg-upmap-items 3.0 0 1
c osd pg-upmap 3.1 2 3
c osd rm-pg-upmap-items 3.0
c osd primary-temp 3.2 2
c osd pool mksnap gold_a snap1
c osd erasure-code-profile set gold_ec k=2 m=1 crush-failure-domain=osd
c osd pool create gold_ec 8 8 erasure gold_ec --autoscale-mode=off
c osd blocklist add 127.0.0.9:0/1234 3600
c osd down 2
sleep 8
c osd pool set gold_a pg_num 32
sleep 10
c osd pool rm gold_ec gold_ec --yes-i-really-really-mean-it
EOF
  chmod +x "$I/changes.sh"
  note "$I" "own cluster: $CEPH_REF/up.sh $D $INC_IP --osds 4, six ms_*_mode = crc + mon_osd_allow_primary_temp = true in ceph.conf, daemons restarted; start epoch $e0"
  note "$I" "capture <= $CEPH_REF/capture.sh $D /tmp/... -- changes.sh   (changes.sh is kept here)"
  local cap
  cap=$(mktemp -d /tmp/gold-inc-cap.XXXXXX)
  rmdir "$cap"
  "$CEPH_REF/capture.sh" "$D" "$cap" -- "$I/changes.sh" >"$I/capture-summary.txt" 2>&1 || true
  sleep 2
  e1=$("${ceph[@]}" osd dump -f json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
  echo "$e0 $e1" >"$I/epochs.txt"
  note "$I" "epochs $e0..$e1"
  local e
  for ((e = e0 - 1; e <= e1; e++)); do
    run "$I" - "${ceph[@]}" osd getmap "$e" -o "full-$e.osdmap"
    run "$I" "full-$e.dump.json" "${ceph[@]}" osd dump "$e" -f json
  done
  run "$I" - "${ceph[@]}" osd getcrushmap "$e1" -o "full-$e1.crush.bin"
  run "$I" - crushtool -d "full-$e1.crush.bin" -o "full-$e1.crush.txt"
  # cut the incrementals (and full maps) out of every captured MOSDMap
  note "$I" "inc-E.bin <= mosdmap split of $cap/*MOSDMap*/front.bin (see mosdmap-index.tsv)"
  "$PY" - "$cap" "$I" "$e0" "$e1" <<'EOF'
import glob, hashlib, os, struct, sys
cap, out, e0, e1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rd_map(b, o):
    n, = struct.unpack_from('<I', b, o); o += 4; m = {}
    for _ in range(n):
        e, l = struct.unpack_from('<II', b, o); o += 8; m[e] = b[o:o + l]; o += l
    return m, o
incs, fulls, rows = {}, {}, []
for d in sorted(glob.glob(cap + '/*-MOSDMap-v*')):
    b = open(d + '/front.bin', 'rb').read()
    fsid = b[:16]
    inc, o = rd_map(b, 16); full, o = rd_map(b, o)
    oldest, newest = struct.unpack_from('<II', b, o); o += 8
    name = os.path.basename(d)
    rows.append((name, ','.join(map(str, sorted(inc))), ','.join(map(str, sorted(full))), oldest, newest, len(b) - o))
    for kind, m, acc in (('inc', inc, incs), ('full', full, fulls)):
        for e, v in m.items():
            acc.setdefault(e, {}).setdefault(v, []).append(name)
with open(out + '/mosdmap-index.tsv', 'w') as f:
    f.write('message\tincremental_epochs\tfull_epochs\tcluster_osdmap_trim_lower_bound\tnewest_map\ttrailing_bytes\n')
    for r in rows: f.write('\t'.join(map(str, r)) + '\n')
with open(out + '/inc-check.txt', 'w') as f:
    for kind, acc in (('inc', incs), ('full', fulls)):
        for e in sorted(acc):
            vs = acc[e]
            f.write(f'{kind} {e}: {len(vs)} distinct encoding(s) in {sum(map(len, vs.values()))} message(s): ' +
                    '; '.join(f'{len(v)} bytes sha256 {hashlib.sha256(v).hexdigest()[:16]} x{len(n)}' for v, n in vs.items()) + '\n')
            if kind == 'inc' and e0 <= e <= e1:
                v = max(vs, key=lambda v: len(vs[v]))
                open(f'{out}/inc-{e}.bin', 'wb').write(v)
            if kind == 'full':
                fp = f'{out}/full-{e}.osdmap'
                same = os.path.exists(fp) and open(fp, 'rb').read() in vs
                f.write(f'  full {e} from MOSDMap == ceph osd getmap {e}: {same}\n')
missing = [e for e in range(e0, e1 + 1) if e not in incs]
with open(out + '/inc-check.txt', 'a') as f:
    f.write(f'epochs {e0}..{e1}; incrementals missing from the capture: {missing}\n')
EOF
  # cross-check with the incrementals an OSD stored (stop osd.0 for ceph-objectstore-tool)
  pid=$(cat "$D/run/osd.0.pid"); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  local tmpi
  tmpi=$(mktemp -d)
  for ((e = e0; e <= e1; e++)); do
    if ceph-objectstore-tool --no-mon-config --data-path "$D/osd.0" --op get-inc-osdmap --epoch "$e" --file "$tmpi/inc-$e.bin" >/dev/null 2>&1; then
      if [ -f "$I/inc-$e.bin" ]; then
        if cmp -s "$tmpi/inc-$e.bin" "$I/inc-$e.bin"; then echo "inc $e: capture == ceph-objectstore-tool get-inc-osdmap (osd.0)"
        else echo "inc $e: capture DIFFERS from ceph-objectstore-tool get-inc-osdmap (osd.0)"; fi
      else
        cp "$tmpi/inc-$e.bin" "$I/inc-$e.bin"
        echo "inc $e: not in capture; inc-$e.bin taken from ceph-objectstore-tool --op get-inc-osdmap on osd.0"
        printf '%s <= %s\n' "inc-$e.bin" "ceph-objectstore-tool --no-mon-config --data-path $D/osd.0 --op get-inc-osdmap --epoch $e --file inc-$e.bin (osd.0 stopped)" >>"$I/$LOG"
      fi
    else echo "inc $e: ceph-objectstore-tool could not read it from osd.0"; fi
  done >>"$I/inc-check.txt"
  rm -rf "$tmpi"
  for f in "$I"/full-*.osdmap; do osdmaptool "$f" --print >"${f%.osdmap}.print.txt" 2>/dev/null; done
  note "$I" "full-E.print.txt <= osdmaptool full-E.osdmap --print"
  note "$I" "epochs.tsv <= summary of what changed between full-(E-1).dump.json and full-E.dump.json"
  "$PY" - "$I" "$e0" "$e1" <<'EOF'
import json, os, sys
d, e0, e1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(e): return json.load(open(f'{d}/full-{e}.dump.json'))
def byid(l, k): return {x[k]: x for x in l}
with open(f'{d}/epochs.tsv', 'w') as f:
    f.write('epoch\tinc_bytes\tfull_bytes\tchanged (vs previous epoch, from osd dump -f json)\n')
    prev = load(e0 - 1)
    for e in range(e0, e1 + 1):
        cur = load(e); ch = []
        for k in cur:
            if k in ('epoch', 'modified'): continue
            if cur.get(k) == prev.get(k): continue
            if k == 'pools':
                a, b = byid(prev[k], 'pool_name'), byid(cur[k], 'pool_name')
                for n in sorted(set(a) | set(b)):
                    if n not in a: ch.append(f'+pool {n}')
                    elif n not in b: ch.append(f'-pool {n}')
                    elif a[n] != b[n]:
                        ks = [x for x in b[n] if a[n].get(x) != b[n].get(x)]
                        ch.append(f'pool {n}: ' + ','.join(ks))
            elif k in ('osds', 'osd_xinfo'):
                a, b = byid(prev[k], 'osd'), byid(cur[k], 'osd')
                for o in sorted(set(a) | set(b)):
                    if a.get(o) != b.get(o):
                        ks = [x for x in (b.get(o) or a.get(o)) if (a.get(o) or {}).get(x) != (b.get(o) or {}).get(x)]
                        ch.append(f'{k}[{o}]: ' + ','.join(ks))
            elif isinstance(cur[k], list): ch.append(f'{k} ({len(prev.get(k) or [])}->{len(cur[k])})')
            else: ch.append(k)
        ib = os.path.getsize(f'{d}/inc-{e}.bin') if os.path.exists(f'{d}/inc-{e}.bin') else '-'
        f.write(f'{e}\t{ib}\t{os.path.getsize(f"{d}/full-{e}.osdmap")}\t' + '; '.join(ch) + '\n')
        prev = cur
EOF
  cp "$conf" "$I/ceph.conf"
  "$CEPH_REF/down.sh" "$D" >&2
  trap - EXIT
  rm -rf "$cap"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(crush osdmap)
for p in "${parts[@]}"; do
  case $p in
    crush) do_crush;; osdmap) do_osdmap;; cluster) do_cluster;; inc) do_inc;;
    *) die "unknown part $p (crush osdmap cluster inc)";;
  esac
done
