#!/usr/bin/python3
"""Check the cephx math of a capture subset and print what it derives (session keys ...).

usage: verify_cephx.py CAPTURE_SUBSET_DIR KEYRING

Reference implementation (Python, `cryptography` for AES) of what the client side of
cephx over msgr2 computes, run against real captured frames; exits 1 when a check fails.
Uses only the client.admin key from KEYRING.  Checked per connection:
  mon connections (cephx CEPHX_GET_AUTH_SESSION_KEY):
    - AUTH_REQUEST_MORE key == XOR of the le64 words of
      encode_encrypt(client.admin secret, {le64 server_challenge, le64 client_challenge})
      (encode_encrypt = le32 length + AES-128-CBC(IV "cephsageyudagreg", PKCS#7) of
      u8 1 + le64 magic 0xff009cad8826aa55 + payload; the length prefix is XORed too)
    - AUTH_DONE: the auth service ticket (service 32) decrypts with the client.admin
      secret to the session key; connection secret and extra service tickets (mon 1,
      osd 4, mgr 16) decrypt with that session key
  mgr connection (cephx authorizer, service 16): the authorizer, challenge and reply
    decrypt with the mgr service session key from the mon connection's AUTH_DONE
  all: AUTH_SIGNATURE == HMAC-SHA256(session key, every byte received from the peer
    during the pre-auth phase: its banner and all its frames up to its last AUTH_* frame,
    i.e. the server's banner..AUTH_DONE for the client's signature and the client's
    banner..AUTH_REQUEST_MORE for the server's; the peer's own AUTH_SIGNATURE is not
    included), the session key being the auth session key on mon connections and the
    mgr service session key on the mgr connection.
"""
import base64
import csv
import hashlib
import hmac
import os
import re
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV = b'cephsageyudagreg'
MAGIC = 0xff009cad8826aa55
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return 'ok' if ok else 'FAILED'


def aes_dec(key, ct):
    d = Cipher(algorithms.AES(key), modes.CBC(IV)).decryptor()
    p = d.update(ct) + d.finalize()
    return p[:-p[-1]]


def aes_enc(key, pt):
    n = 16 - len(pt) % 16
    e = Cipher(algorithms.AES(key), modes.CBC(IV)).encryptor()
    return e.update(pt + bytes([n]) * n) + e.finalize()


def dec_payload(key, ct):
    """decrypt an encode_encrypt body; check and strip u8 1 + le64 magic."""
    p = aes_dec(key, ct)
    v, magic = struct.unpack_from('<BQ', p)
    check(v == 1 and magic == MAGIC, 'magic')
    return p[9:]


class R:
    def __init__(self, b, o=0):
        self.b, self.o = b, o

    def u(self, fmt):
        v = struct.unpack_from('<' + fmt, self.b, self.o)
        self.o += struct.calcsize('<' + fmt)
        return v if len(v) > 1 else v[0]

    def raw(self, n):
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def bl(self):
        return self.raw(self.u('I'))


def crypto_key(b):
    """CryptoKey: le16 type, utime_t created, le16 len, secret -> secret"""
    r = R(b)
    r.u('HIIH')
    return r.raw(struct.unpack_from('<H', b, 10)[0])


def service_ticket_reply(r, key):
    """cephx_build_service_ticket_reply -> {service_id: (session_key, validity)}"""
    out = {}
    v, num = r.u('BI')
    for _ in range(num):
        sid, sv = r.u('IB')
        t = R(dec_payload(key, r.bl()))
        t.u('B')                                  # CephXServiceTicket struct_v
        skey = crypto_key(t.raw(12 + struct.unpack_from('<H', t.b, t.o + 10)[0]))
        validity = t.u('II')
        enc_ticket = r.u('B')
        r.bl()                                    # ticket blob (opaque to the client)
        out[sid] = (skey, validity, enc_ticket)
    return out


def main():
    d, keyring = sys.argv[1], sys.argv[2]
    text = open(keyring).read()
    m = re.search(r'\[client\.admin\]\s*\n\s*key = (\S+)', text)
    admin = crypto_key(base64.b64decode(m.group(1)))
    offs = list(csv.DictReader(open(os.path.join(d, 'offsets.tsv')), delimiter='\t'))
    idx = {r['no']: r for r in csv.DictReader(open(os.path.join(d, 'index.tsv')),
                                               delimiter='\t')}
    conns = {r['conn']: r for r in csv.DictReader(open(os.path.join(d, 'connections.tsv')),
                                                  delimiter='\t')}

    def payload(r):
        return open(os.path.join(d, r['path']), 'rb').read()

    def wire(r):
        p = r['path']
        if p.startswith('frames/'):
            p = p if p.endswith('BANNER.bin') else p[:-4] + '.wire.bin'
        else:
            p = os.path.join(p, 'wire.bin')
        return open(os.path.join(d, p), 'rb').read()

    out = []
    w = out.append
    w('# cephx over msgr2, derived from the frames of %s with the client.admin key'
      % os.path.basename(os.path.abspath(d)))
    w('# (made by tools/verify_cephx.py; every "ok" is a check that passed)')
    mgr_service_key = None
    for c in sorted(conns, key=lambda c: int(c[1:])):
        rs = [r for r in offs if r['conn'] == c]

        def frame(tag, direction=None):
            return [r for r in rs if idx[r['no']]['frame'] == tag
                    and (direction is None or r['dir'] == direction)][0]
        info = conns[c]
        w('')
        w('%s %s -> %s (%s)' % (c, info['client'], info['server'], info['server_type']))
        done = R(payload(frame('AUTH_DONE')))
        gid, mode = done.u('QI')
        auth = R(done.bl())
        w('  AUTH_DONE global_id %d con_mode %d (%s)' % (gid, mode, {1: 'crc', 2: 'secure'}[mode]))
        if info['server_type'] == 'mon':
            req = R(payload(frame('AUTH_REQUEST')))
            method = req.u('I')
            nmodes = req.u('I')
            pref = [req.u('I') for _ in range(nmodes)]
            a = R(req.bl())
            amode = a.u('B')
            etype, nlen = a.u('II')
            ename = a.raw(nlen).decode()
            w('  AUTH_REQUEST method %d modes %s: auth_mode %d entity type %d name %r '
              'global_id %d' % (method, pref, amode, etype, ename, a.u('Q')))
            more = R(payload(frame('AUTH_REPLY_MORE')))
            ch = R(more.bl())
            ch.u('B')
            server_challenge = ch.u('Q')
            rq = R(R(payload(frame('AUTH_REQUEST_MORE'))).bl())
            req_type, av, client_challenge, key = rq.u('HBQQ')
            enc = aes_enc(admin, struct.pack('<BQQQ', 1, MAGIC, server_challenge,
                                             client_challenge))
            enc = struct.pack('<I', len(enc)) + enc
            k = 0
            for i in range(0, len(enc) - 7, 8):
                k ^= struct.unpack_from('<Q', enc, i)[0]
            w('  server_challenge %016x client_challenge %016x' % (server_challenge,
                                                                    client_challenge))
            w('  AUTH_REQUEST_MORE request_type 0x%04x CephXAuthenticate v%d key %016x: %s'
              % (req_type, av, key, check(k == key, c + ' challenge proof')))
            rtype, status = auth.u('Hi')
            w('  AUTH_DONE CephXResponseHeader request_type 0x%04x status %d' % (rtype, status))
            tickets = service_ticket_reply(auth, admin)
            skey, validity, _ = tickets[32]
            w('  auth (service 32) session key %s validity %d.%09d s' % (skey.hex(), *validity))
            cbl = R(auth.bl())
            secret = R(dec_payload(skey, cbl.bl())).bl() if cbl.b else b''
            w('  connection secret (%d bytes) %s' % (len(secret), secret.hex() or '(empty: crc mode)'))
            extra = auth.bl()
            if extra:
                for sid, (k2, val, _) in service_ticket_reply(R(extra), skey).items():
                    w('  service %d session key %s validity %d.%09d s' % (sid, k2.hex(), *val))
                    if sid == 16:
                        mgr_service_key = k2
            w('  AUTH_DONE fully consumed: %s' % check(auth.o == len(auth.b), c + ' consumed'))
            sign_key = skey
        else:
            if mgr_service_key is None:
                w('  (no mgr service key from an earlier mon connection)')
                failures.append(c + ' no key')
                continue
            sign_key = mgr_service_key
            req = R(payload(frame('AUTH_REQUEST')))
            method = req.u('I')
            pref = [req.u('I') for _ in range(req.u('I'))]
            a = R(req.bl())
            av, agid, sid = a.u('BQI')
            tv, secret_id = a.u('BQ')
            blob = a.bl()
            az = R(dec_payload(sign_key, a.bl()))
            azv, nonce, have = az.u('BQB')
            w('  AUTH_REQUEST method %d modes %s: authorizer v%d global_id %d service %d '
              'ticket secret_id %d blob %d bytes; CephXAuthorize v%d nonce %016x '
              'have_challenge %d' % (method, pref, av, agid, sid, secret_id, len(blob), azv,
                                     nonce, have))
            ch = R(dec_payload(sign_key, R(payload(frame('AUTH_REPLY_MORE'))).bl()))
            chv, server_challenge = ch.u('BQ')
            w('  AUTH_REPLY_MORE CephXAuthorizeChallenge v%d server_challenge %016x'
              % (chv, server_challenge))
            a2 = R(R(payload(frame('AUTH_REQUEST_MORE'))).bl())
            a2.u('BQI')
            a2.u('BQ')
            a2.bl()
            az2 = R(dec_payload(sign_key, a2.bl()))
            v2, nonce2, have2, plus1 = az2.u('BQBQ')
            w('  AUTH_REQUEST_MORE CephXAuthorize v%d nonce %016x have_challenge %d '
              'server_challenge+1 %016x: %s' % (v2, nonce2, have2, plus1,
                                               check(plus1 == (server_challenge + 1) % 2**64,
                                                     c + ' challenge+1')))
            rep = R(dec_payload(sign_key, auth.bl()))
            rv, nonce_plus_one = rep.u('BQ')
            secret = rep.bl() if rep.o < len(rep.b) else b''
            w('  AUTH_DONE CephXAuthorizeReply v%d nonce+1 %016x: %s; connection secret '
              '(%d bytes) %s' % (rv, nonce_plus_one,
                                 check(nonce_plus_one == (nonce2 + 1) % 2**64, c + ' nonce+1'),
                                 len(secret), secret.hex() or '(empty: crc mode)'))
        for direction in ('S>C', 'C>S'):
            sig = frame('AUTH_SIGNATURE', direction)
            other = 'C>S' if direction == 'S>C' else 'S>C'
            got = b''.join(wire(r) for r in rs
                           if r['dir'] == other and int(r['no']) < int(sig['no'])
                           and idx[r['no']]['frame'] != 'AUTH_SIGNATURE')
            ok = hmac.new(sign_key, got, hashlib.sha256).digest() == payload(sig)
            w('  AUTH_SIGNATURE %s = HMAC-SHA256(session key, %d pre-auth bytes %s): %s'
              % (direction, len(got), other, check(ok, c + ' signature ' + direction)))
    w('')
    w('result: ' + ('all checks passed' if not failures else 'FAILED: ' + ', '.join(failures)))
    print('\n'.join(out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
