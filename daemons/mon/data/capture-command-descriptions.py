#!/usr/bin/python3
# Regenerates command_descriptions.json from a running real Pacific mon:
#   /usr/bin/python3 capture-command-descriptions.py /path/to/ceph.conf
# The mon answers get_command_descriptions with MonCommands.h plus the mgr's
# MgrCommands.h/module commands (flag 8 = FLAG_MGR); we serve the same table.
import json, sys, rados
c = rados.Rados(conffile=sys.argv[1])
c.connect()
ret, out, err = c.mon_command(json.dumps({"prefix": "get_command_descriptions"}), b'')
assert ret == 0, err
sys.stdout.write(json.dumps(json.loads(out), indent=1, sort_keys=False) + "\n")
