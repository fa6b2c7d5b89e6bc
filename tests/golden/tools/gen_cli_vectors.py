#!/usr/bin/python3
"""Generate validate_command() test vectors from cmddesc.json.
Output JSONL: {"args": [...], "sent": <json.dumps of dict or null>, "stderr": "..."}
args are the childargs given to validate_command (i.e. after global option parsing)."""
import sys, io, json, contextlib, random
sys.path.insert(0, '/usr/lib/python3/dist-packages')
import ceph_argparse as ca
from multiprocessing import Pool
import os
DESC = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cli', 'cmddesc.json')).read()
SIGDICT = ca.parse_json_funcsigs(DESC, 'cli')
RAW = json.loads(DESC)

def sample(a, bad=False):
    t = a['type']
    rng = a.get('range', '')
    if t == 'CephInt':
        if bad: return 'notint'
        lo = int(rng.split('|')[0]) if rng else 1
        return str(max(lo, 1) if not rng or '|' not in rng else lo)
    if t == 'CephFloat':
        if bad: return 'notfloat'
        return '0.5' if rng.startswith('0') else '1.5'
    if t == 'CephChoices':
        if bad: return 'nosuchchoice'
        return a['strings'].split('|')[0]
    if t == 'CephBool':
        return 'maybe' if bad else 'true'
    if t == 'CephOsdName': return 'osd.x' if bad else 'osd.1'
    if t == 'CephName': return 'foo.1' if bad else 'osd.1'
    if t == 'CephPgid': return '1.zz' if bad else '1.a'
    if t == 'CephUUID': return 'not-a-uuid' if bad else 'a6c7e5a2-3b5d-4d0e-9b1a-0d4c8b8e7f11'
    if t == 'CephEntityAddr': return '1.2.3' if bad else '127.0.0.1:0/123'
    if t == 'CephIPAddr': return '1.2.3' if bad else '127.0.0.1'
    if t == 'CephPoolname': return 'rbd'
    if t == 'CephObjectname': return 'obj'
    if t == 'CephString':
        if bad and 'goodchars' in a: return 'bad/char'
        return 'val1'
    return 'x'

def variants(sig):
    pre = [w for w in sig if isinstance(w, str)]
    args = [a for a in sig if isinstance(a, dict)]
    req = [a for a in args if a.get('req', 'true') in (True, 'True', 'true')]
    out = []
    # positional words: walk sig in order
    def build(include_opt, bad_idx=None, kw=False, drop_idx=None):
        words = []; idx = 0
        for w in sig:
            if isinstance(w, str):
                words.append(w); continue
            isreq = w.get('req', 'true') in (True, 'True', 'true')
            if not isreq and not include_opt: continue
            if drop_idx is not None and idx == drop_idx:
                idx += 1; continue
            v = sample(w, bad=(bad_idx == idx))
            if w['type'] == 'CephBool':
                words.append('--' + w['name'].replace('_', '-') if not bad_idx == idx else '--%s=%s' % (w['name'], v))
            elif kw:
                words += ['--' + w['name'], v]
            else:
                words.append(v)
            idx += 1
        return words
    out.append(pre)
    out.append(build(False))
    out.append(build(True))
    out.append(build(True, kw=True))
    if len(pre) > 1: out.append(pre[:-1])
    if pre: out.append(pre[:-1] + [pre[-1][:-1]] if len(pre[-1]) > 1 else pre)
    for i in range(len(args)):
        out.append(build(True, bad_idx=i))
    if req:
        out.append(build(True, drop_idx=0))
    out.append(build(True) + ['extra1'])
    out.append(build(False) + ['--nosuchflag'])
    return out

def run(args):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        d = ca.validate_command(SIGDICT, args)
    return {'args': args, 'sent': json.dumps(d) if d else None, 'stderr': err.getvalue()}

if __name__ == '__main__':
    cases = []
    seen = set()
    for k, v in RAW.items():
        for a in variants(v['sig']):
            key = tuple(a)
            if key not in seen:
                seen.add(key); cases.append(a)
    extra = json.load(open(sys.argv[1])) if len(sys.argv) > 1 else []
    for a in extra:
        if tuple(a) not in seen: seen.add(tuple(a)); cases.append(a)
    with Pool(8) as p:
        for r in p.imap(run, cases, chunksize=20):
            print(json.dumps(r))
