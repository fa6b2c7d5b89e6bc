#!/usr/bin/python3
"""Overwrite last_changed and created of a monmaptool-made monmap with a fixed time.

usage: monmap_set_time.py MONMAP SEC NSEC

monmaptool --create stamps both with the current time and has no option to choose it,
so regen.sh rewrites them to keep the golden files reproducible.  Only touches files
that look exactly like a Pacific MonMap encoding made by --create:
  u8 struct_v = 9, u8 struct_compat = 6, le32 struct_len = filesize - 6,
  16-byte fsid, le32 epoch, utime_t last_changed, utime_t created (utime_t = le32 sec,
  le32 nsec), with last_changed == created (what --create writes).
So the two timestamps are bytes 26..33 and 34..41.  No checksum covers them.
"""
import struct
import sys

def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, sec, nsec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    v, compat, length = struct.unpack_from('<BBI', data, 0)
    if (v, compat) != (9, 6) or length != len(data) - 6:
        sys.exit('%s: not a v9/compat6 MonMap encoding (v=%d compat=%d len=%d size=%d)'
                 % (path, v, compat, length, len(data)))
    if data[26:34] != data[34:42]:
        sys.exit('%s: last_changed != created; not a fresh monmaptool --create map' % path)
    stamp = struct.pack('<II', sec, nsec)
    data[26:34] = stamp
    data[34:42] = stamp
    with open(path, 'wb') as f:
        f.write(data)

if __name__ == '__main__':
    main()
