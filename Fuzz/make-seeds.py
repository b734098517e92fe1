#!/usr/bin/env python3
"""Writes the seed corpora in Fuzz/Seeds/TARGET from the test fixtures and a few hand-made inputs.

Run from the repository root: python3 Fuzz/make-seeds.py. The output is committed (small);
tools/fuzz reads it. Re-running gives the same files except the JWT seeds' signatures, which
are recomputed from the harness's fixed secret (same result).
"""
import base64, hashlib, hmac, json, os, re, shutil, struct, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "Fuzz", "Seeds")


def records(path):
    d = open(os.path.join(ROOT, path), "rb").read()
    out, i = [], 0
    while i + 2 <= len(d):
        n = d[i] << 8 | d[i + 1]
        out.append(d[i + 2:i + 2 + n])
        i += 2 + n
    return out


def write(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    open(os.path.join(SEEDS, target, name), "wb").write(data)


def rtp_header_length(p):
    n = 12 + 4 * (p[0] & 0x0F)
    if p[0] & 0x10:
        n += 4 + 4 * (p[n + 2] << 8 | p[n + 3])
    return n


def rtp(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, padding=0):
    b0 = 0x80 | len(csrcs) | (0x10 if ext is not None else 0) | (0x20 if padding else 0)
    out = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    for c in csrcs:
        out += struct.pack("!I", c)
    if ext is not None:
        profile, body = ext
        body += b"\0" * (-len(body) % 4)
        out += struct.pack("!HH", profile, len(body) // 4) + body
    out += payload
    if padding:
        out += b"\0" * (padding - 1) + bytes([padding])
    return out


def rtcp(pt, count, body, padding=False):
    if padding or len(body) % 4:
        pad = 4 - len(body) % 4 if len(body) % 4 else 4
        body += b"\0" * (pad - 1) + bytes([pad])
        padding = True
    return struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | count, pt, len(body) // 4) + body


for d in ["rtp", "rtcp", "stun", "sdp", "vp8", "opus", "relay", "ws", "jwt"]:
    shutil.rmtree(os.path.join(SEEDS, d), ignore_errors=True)

# RTP: real GStreamer captures (VP8 with and without extensions, Opus) and hand-made headers.
vp8 = records("Tests/MediaWireTests/Fixtures/gstreamer-vp8.rtp")
vp8x = records("Tests/MediaWireTests/Fixtures/gstreamer-vp8-extensions.rtp")
opus = records("Tests/MediaWireTests/Fixtures/gstreamer-opus.rtp")
for i, p in enumerate(vp8[:6] + vp8x[:3] + opus[:4]):
    write("rtp", "capture-%02d" % i, p)
abs_capture = bytes([0x35]) + struct.pack("!Q", 0x1234567890ABCDEF) + struct.pack("!q", -5)[:7]
write("rtp", "one-byte-abs-capture", rtp(96, 1, 2, 3, b"\x10\x00", ext=(0xBEDE, bytes([0x37]) + struct.pack("!Q", 7))))
write("rtp", "two-byte-ext", rtp(97, 9, 9, 9, b"xyz", ext=(0x1000, bytes([200, 16]) + struct.pack("!QQ", 1, 2))))
write("rtp", "csrcs-padding", rtp(111, 65535, 1, 2, b"\xfc\xff", csrcs=(1, 2, 3), padding=4))
write("rtp", "opaque-ext", rtp(100, 5, 5, 5, b"", ext=(0xABCD, b"\1\2\3\4")))

# RTCP: the GStreamer capture (SR + SDES) and one of every kind we parse.
for i, p in enumerate(records("Tests/MediaWireTests/Fixtures/gstreamer-rtcp.rtcp")):
    write("rtcp", "capture-%02d" % i, p)
block = struct.pack("!IB", 0xFEED0002, 12) + (5).to_bytes(3, "big") + struct.pack("!IIII", 70000, 30, 0x11223344, 6553)
rr = rtcp(201, 1, struct.pack("!I", 0x5EED0001) + block)
sr = rtcp(200, 1, struct.pack("!IQIII", 2918757263, 0xE1234567_89ABCDEF, 90000, 10, 12000) + block)
sdes = rtcp(202, 1, struct.pack("!I", 2918757263) + b"\x01\x08showroom\x00\x00")
bye = rtcp(203, 1, struct.pack("!I", 2918757263) + b"\x04bye!")
nack = rtcp(205, 1, struct.pack("!II", 1, 0xFEED0002) + struct.pack("!HH", 100, 0b101))
twcc = rtcp(205, 15, struct.pack("!IIHH", 1, 2, 10, 9) + (0x123456).to_bytes(3, "big") + b"\x07"
            + struct.pack("!HH", 0x2003, 0xD555) + b"\x04\x04\x04" + b"\x01\x02\x03\x04\x05")
pli = rtcp(206, 1, struct.pack("!II", 1, 0xFEED0002))
fir = rtcp(206, 4, struct.pack("!II", 1, 0) + struct.pack("!IB3x", 0xFEED0002, 7))
remb = rtcp(206, 15, struct.pack("!II", 1, 0) + b"REMB" + bytes([1, (3 << 2) | 1, 0x23, 0x45]) + struct.pack("!I", 0xFEED0002))
app = rtcp(204, 0, struct.pack("!I", 1) + b"name" + b"data")
for name, p in [("rr", rr), ("sr", sr), ("sdes", sdes), ("bye", bye), ("nack", nack), ("twcc", twcc), ("pli", pli),
                ("fir", fir), ("remb", remb), ("app", app), ("compound", rr + remb + nack + twcc)]:
    write("rtcp", name, p)

# STUN: RFC 5769's sample request (parsed out of the Swift test support) and one like the relay's.
src = open(os.path.join(ROOT, "Tests/ShowroomTestSupport/RFC5769.swift")).read()
rfc5769 = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", src.split("request: [UInt8] = [")[1].split("]")[0]))
write("stun", "rfc5769-request", rfc5769)


def stun(mtype, tid, attrs, key=None):
    body = b""
    for t, v in attrs:
        body += struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    def header(extra):
        return struct.pack("!HHI", mtype, len(body) + extra, 0x2112A442) + tid
    if key is not None:
        mac = hmac.new(key, header(24) + body, hashlib.sha1).digest()
        body += struct.pack("!HH", 8, 20) + mac
    crc = zlib.crc32(header(8) + body) ^ 0x5354554E
    body += struct.pack("!HHI", 0x8028, 4, crc)
    return header(0) + body


check = stun(1, bytes(range(12)), [(6, b"evtj:h6vY"), (0x25, b""), (0x802A, b"\1" * 8), (0x24, b"\x6e\0\1\xff")],
             key=b"VOkJxbRl1RmTxUk/WvJxBt")
write("stun", "binding-request", check)
write("stun", "binding-success", stun(0x0101, bytes(range(12)), [(0x20, b"\x00\x01" + struct.pack("!H", 5000 ^ 0x2112) + bytes([127 ^ 0x21, 0 ^ 0x12, 0 ^ 0xA4, 1 ^ 0x42]))],
                                      key=b"VOkJxbRl1RmTxUk/WvJxBt"))

# SDP: the real aiortc offers and a minimal one.
for name in ["aiortc-publisher-offer.sdp", "aiortc-viewer-offer.sdp"]:
    write("sdp", name, open(os.path.join(ROOT, "Tests/RelayTests/Fixtures", name), "rb").read())
write("sdp", "minimal.sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n"
      "a=fingerprint:sha-256 AA:BB\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=rtpmap:96 VP8/90000\r\n"
      "a=extmap:4/sendonly " + "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time\r\na=ssrc:1 cname:x\r\n")

# VP8: descriptors of the captured payloads, and assembler input (flag, length, payload)...
for i, p in enumerate(vp8[:6] + vp8x[:2]):
    write("vp8", "payload-%02d" % i, p[rtp_header_length(p):][:64])
frames = b""
for i, p in enumerate(vp8[:5]):
    payload = p[rtp_header_length(p):][:120]
    frames += bytes([0x01 if p[1] & 0x80 else 0x00, len(payload)]) + payload
write("vp8", "assembler", frames)
write("vp8", "all-fields", bytes([0x90, 0xF0, 0x80 | 0x12, 0x34, 0x56, 0b10100011]) + b"\x00\x9d\x01\x2a")

# Opus: the captured payloads' TOC bytes and every frame-count code.
for i, p in enumerate(opus[:4]):
    write("opus", "payload-%02d" % i, p[rtp_header_length(p):][:16])
for code in range(4):
    write("opus", "code-%d" % code, bytes([(19 << 3) | 0x04 | code, 0x03, 0xAA]))

# Relay: records [kind][length u16][bytes] (see Fuzz/Sources/FuzzRelay).
def rec(kind, data):
    return bytes([kind]) + struct.pack("!H", len(data)) + data


def as_pt(p, pt):
    return p[:1] + bytes([(p[1] & 0x80) | pt]) + p[2:]


video = [as_pt(p, 97) for p in vp8[:4]]
audio = [as_pt(p, 96) for p in opus[:2]]
write("relay", "publisher-media", b"".join(rec(2, p) for p in video + audio))
write("relay", "publisher-media-ext", b"".join(rec(2, as_pt(p, 97)) for p in vp8x[:2]))
write("relay", "publisher-sr", rec(3, sr))
write("relay", "viewer-rr-nack-pli", rec(2, video[0]) + rec(2, video[1]) + rec(0x0B, rr + nack) + rec(0x0B, rr + pli) + rec(0x0B, rr + remb))
write("relay", "viewer-fir-tick", rec(0x0B, rr + fir) + rec(5, b"\x03\xe8") + rec(0x0B, rr))
write("relay", "stun", rec(4, check) + rec(0x0C, check) + rec(0, rfc5769) + rec(1, rfc5769))
write("relay", "dtls-and-strangers", rec(0, bytes([22, 254, 253]) + bytes(10) + b"\x00\x10" + bytes(16))
      + rec(8, bytes([23, 254, 253]) + bytes(10) + b"\x00\x04abcd") + rec(1, video[0]) + rec(0, video[0]) + rec(0, b""))

# /ws: one message of each type (docs/protocol.md), each content kind in a send.
sdp_text = open(os.path.join(ROOT, "Tests/RelayTests/Fixtures/aiortc-publisher-offer.sdp")).read()
ws = {
    "hello": {"type": "hello", "v": 1, "token": "eyJhbGciOiJIUzI1NiJ9.e30.sig", "ref": "r1"},
    "join": {"type": "join", "room": "consult-demo", "lastSeq": 41},
    "leave": {"type": "leave"},
    "send-text": {"type": "send", "id": "m1", "kind": "text", "text": "Does it come in blue?"},
    "send-image": {"type": "send", "id": "m2", "kind": "image", "url": "https://example.com/a.png", "width": 640, "height": 480, "alt": "blue"},
    "send-product": {"type": "send", "id": "m3", "kind": "product", "sku": "SKU-1", "title": "Blue shirt", "price": "1299.00",
                     "currency": "EUR", "image": "https://example.com/s.png", "link": "https://example.com/p/1"},
    "send-coupon": {"type": "send", "id": "m4", "kind": "coupon", "code": "BLUE10", "discount": "10%", "expires": "2026-12-31T23:59:59Z"},
    "send-coupon-amount": {"type": "send", "id": "m5", "kind": "coupon", "code": "FIVE", "discount": "5.00 EUR", "expires": "2027-01-01T00:00:00Z"},
    "send-system": {"type": "send", "id": "m6", "kind": "system", "text": "joined"},
    "typing": {"type": "typing", "on": True},
    "read": {"type": "read", "seq": 42},
    "history": {"type": "history", "before": 42, "limit": 50},
    "publish": {"type": "publish", "sdp": sdp_text},
    "subscribe": {"type": "subscribe", "sdp": "v=0\r\n", "source": "abc", "quality": "low", "adaptive": False},
    "setQuality": {"type": "setQuality", "session": "abc", "quality": "medium"},
    "stop": {"type": "stop", "session": "abc"},
    "mute": {"type": "mute", "kind": "audio", "muted": True},
    "ping": {"type": "ping", "ref": "p"},
}
for name, m in ws.items():
    write("ws", name, json.dumps(m, separators=(",", ":")))

# JWT: tokens signed with the harness's secret (valid until 2100, another room, expired, another role).
SECRET = b"showroom-fuzz-secret-0123456789abcdef"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, header=None):
    h = json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()
    c = json.dumps(claims, separators=(",", ":")).encode()
    signing = b64(h) + "." + b64(c)
    return signing + "." + b64(hmac.new(SECRET, signing.encode(), hashlib.sha256).digest())


good = {"sub": "obs", "exp": 4102444800, "room": "demo", "role": "publisher"}
write("jwt", "valid", b"\x00" + jwt(good).encode())
write("jwt", "other-room", b"\x00" + jwt(dict(good, room="elsewhere")).encode())
write("jwt", "expired", b"\x00" + jwt(dict(good, exp=1000)).encode())
write("jwt", "viewer", b"\x00" + jwt(dict(good, role="viewer")).encode())
write("jwt", "claims", b"\x01" + json.dumps(good, separators=(",", ":")).encode())
write("jwt", "claims-float-exp", b"\x01" + json.dumps(dict(good, exp=4102444800.5), separators=(",", ":")).encode())
write("jwt", "header-and-claims", b"\x03" + b'{"alg":"HS256","typ":"JWT","kid":"k"}' + b"\x00" + json.dumps(good).encode())
write("jwt", "none-alg", b"\x00" + jwt(good, {"alg": "none"}).encode())
