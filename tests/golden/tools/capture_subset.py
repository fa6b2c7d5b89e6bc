#!/usr/bin/python3
"""Keep only the client's own connections of a capture.sh split, plus per-frame wire bytes.

usage: capture_subset.py SPLIT DEST [MSGR2_SPLIT_DIR]

SPLIT is an OUT folder written by /work/shared/ceph-ref/capture.sh (it holds capture.pcap,
index.tsv, connections.tsv, message folders and frames/).  DEST gets:
  - the message folders (header/front/middle/data/wire.bin) and frames/*.bin payloads of
    every frame on connections whose client side said HELLO as entity type "client"
    (the CLI's connections to the mon and the mgr); daemon background traffic is dropped;
  - frames/NNNNN-...-TAG.wire.bin: the whole frame as sent (preamble, segments, crcs,
    epilogue) for every non-message frame; for BANNER it equals the .bin;
  - index.tsv and connections.tsv: the rows of SPLIT's files for those connections;
  - offsets.tsv: no, conn, dir, byte offset and end of each frame in its TCP direction.
It re-reads capture.pcap with msgr2_split.py's own code (imported from MSGR2_SPLIT_DIR,
default /work/shared/ceph-ref) and checks that every kept connection was seen from its
SYN, negotiated crc mode, and that its kept frames tile each direction's byte stream
exactly (so concatenating the wire files of one direction in order gives the stream).
"""
import csv
import os
import shutil
import sys


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    split, dest = argv[1], argv[2]
    sys.path.insert(0, argv[3] if len(argv) == 4 else '/work/shared/ceph-ref')
    import msgr2_split as m

    with open(os.path.join(split, 'connections.tsv')) as f:
        conns = list(csv.DictReader(f, delimiter='\t'))
    keep = {c['conn'] for c in conns if c['client_type'] == 'client'}
    for c in conns:
        if c['conn'] in keep and (c['mode'] != 'crc' or c['protocol'] != 'msgr2 rev1'
                                  or c['notes']):
            sys.exit('%s: connection %s is not a clean crc-mode msgr2 connection: %r'
                     % (split, c['conn'], c))
    if not keep:
        sys.exit('%s: no client connection found' % split)

    # Recompute frames and their numbering exactly as msgr2_split.main() does.
    notes = []
    pconns = m.read_connections(os.path.join(split, 'capture.pcap'), notes)
    for conn in pconns:
        conn.analyse()
    items = sorted(((st.time_at(fr.offset), conn.no, st is conn.server, fr.offset, conn, st, fr)
                    for conn in pconns for st, fr in conn.frames), key=lambda i: i[:4])
    wire = {}
    for no, (_, _, _, _, conn, st, fr) in enumerate(items, 1):
        wire[no] = ('c%d' % conn.no, conn.direction(st), fr.offset, fr.end,
                    st.data[fr.offset:fr.end], len(st.data))

    with open(os.path.join(split, 'index.tsv')) as f:
        header = f.readline().rstrip('\n').split('\t')
        rows = [dict(zip(header, line.rstrip('\n').split('\t'))) for line in f]
    os.makedirs(os.path.join(dest, 'frames'), exist_ok=True)
    kept, tiles = [], {}
    for r in rows:
        if r['conn'] not in keep:
            continue
        no = int(r['no'])
        conn, direction, start, end, data, total = wire[no]
        assert (conn, direction) == (r['conn'], r['dir']), (r, wire[no][:4])
        src = os.path.join(split, r['path'])
        if r['frame'] == 'MESSAGE':
            with open(os.path.join(src, 'wire.bin'), 'rb') as f:
                assert f.read() == data, 'wire.bin differs for %s' % r['path']
            shutil.copytree(src, os.path.join(dest, r['path']))
        else:
            shutil.copy(src, os.path.join(dest, r['path']))
            with open(os.path.join(dest, r['path'][:-4] + '.wire.bin'), 'wb') as f:
                f.write(data)
        tiles.setdefault((conn, direction), []).append((start, end, total))
        kept.append((r, start, end))
    for key, spans in tiles.items():
        spans.sort()
        pos = 0
        for start, end, total in spans:
            assert start == pos, 'gap in %s at byte %d' % (key, pos)
            pos = end
        assert pos == spans[0][2], '%s: frames end at %d of %d bytes' % (key, pos, spans[0][2])

    with open(os.path.join(dest, 'index.tsv'), 'w') as f:
        f.write('\t'.join(header) + '\n')
        for r, _, _ in kept:
            f.write('\t'.join(r[k] for k in header) + '\n')
    with open(os.path.join(dest, 'offsets.tsv'), 'w') as f:
        f.write('no\tconn\tdir\toffset\tend\tpath\n')
        for r, start, end in kept:
            f.write('%s\t%s\t%s\t%d\t%d\t%s\n' % (r['no'], r['conn'], r['dir'], start, end,
                                                 r['path']))
    with open(os.path.join(split, 'connections.tsv')) as src, \
            open(os.path.join(dest, 'connections.tsv'), 'w') as f:
        f.write(src.readline())
        for line in src:
            if line.split('\t', 1)[0] in keep:
                f.write(line)
    print('%s -> %s: kept connections %s, %d frames' % (
        split, dest, ' '.join(sorted(keep, key=lambda c: int(c[1:]))), len(kept)))


if __name__ == '__main__':
    main(sys.argv)
