#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/seed-*.

Seeds come from the project's own tests and shipped files: run it again after
those change (`python3 fuzz/make-seeds.py` from the repo root or fuzz/).
The corpus that grows while fuzzing is not committed (see fuzz/.gitignore).
"""
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def crlf(text):
    lines = [l.strip() for l in text.strip("\n").split("\n")]
    return "".join(l + "\r\n" for l in lines if l)


# --- sip_message -----------------------------------------------------------
SDP_OFFER = crlf("""
v=0
o=- 1852734219 1264559185 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 10286 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=ptime:20
""")

SIP = {
    "invite": crlf("""
INVITE sip:*222110@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: <sip:*222110@pbx.example.com>
From: "Supervisor" <sip:200@pbx.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@192.0.2.10
CSeq: 314159 INVITE
Contact: <sip:200@192.0.2.10:5060;transport=udp>;expires=3600
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO
Supported: replaces, timer
User-Agent: baresip
Content-Type: application/sdp
Content-Length: %d
""") % len(SDP_OFFER) + "\r\n" + SDP_OFFER,
    "register-auth": crlf("""
REGISTER sip:pbx.example.com SIP/2.0
Via: SIP/2.0/TCP 192.0.2.11:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
To: "Agent 110" <sip:110@pbx.example.com>
From: "Agent 110" <sip:110@pbx.example.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
Contact: <sip:110@192.0.2.11:5060;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1
Authorization: Digest username="110", realm="spygroup", nonce="abc123", uri="sip:pbx.example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz"
Expires: 7200
Content-Length: 0
""") + "\r\n",
    "response-200": crlf("""
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5062;received=203.0.113.4;branch=z9hG4bK776asdhds
To: <sip:*222110@pbx.example.com>;tag=a6c85cf
From: "Supervisor" <sip:200@pbx.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@192.0.2.10
CSeq: 314159 INVITE
Contact: <sip:110@192.0.2.11>
Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
Content-Type: application/sdp
Content-Length: %d
""") % len(SDP_OFFER) + "\r\n" + SDP_OFFER,
    "response-401": crlf("""
SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 192.0.2.11:5060;branch=z9hG4bKnashds7
To: <sip:110@pbx.example.com>;tag=srv1
From: <sip:110@pbx.example.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 REGISTER
WWW-Authenticate: Digest realm="spygroup", nonce="6b8b4567327b23c6", algorithm=MD5, qop="auth"
Content-Length: 0
""") + "\r\n",
    "compact-bye": crlf("""
BYE sip:110@192.0.2.11:5060;transport=tcp SIP/2.0
v: SIP/2.0/TCP [2001:db8::7]:5061;branch=z9hG4bK-b1,SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-b2
f: <sip:200@pbx.example.com>;tag=x
t: sip:110@pbx.example.com;tag=y
i: 987@host
CSeq: 2 BYE
m: *
l: 0
""") + "\r\n",
    "refer-folded": crlf("""
REFER sip:110@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.11;branch=z9hG4bKr
From: <sip:110@pbx.example.com>;tag=a
To: <sip:111@pbx.example.com>;tag=b
Call-ID: r1
CSeq: 5 REFER
Max-Forwards: 70
Refer-To: <sip:112@pbx.example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>
Subject: a folded
 header line
""") + "\r\n",
    "info-dtmf": crlf("""
INFO sip:pbx.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.11;branch=z9hG4bKi
From: <sip:110@pbx.example.com>;tag=a
To: <sip:111@pbx.example.com>;tag=b
Call-ID: i1
CSeq: 6 INFO
Content-Type: application/dtmf-relay
Content-Length: 24
""") + "\r\nSignal=5\r\nDuration=160\r\n",
}
# A TCP stream: keep-alive, two messages back to back.
SIP["stream"] = "\r\n\r\n" + SIP["response-401"] + SIP["compact-bye"]
for name, msg in SIP.items():
    write("sip_message", name, msg)

# --- sdp -------------------------------------------------------------------
tests = read("crates/media/src/sdp/tests.rs").decode()
for m in re.finditer(r'const ([A-Z0-9_]+): &str = "(.*?)";', tests, re.S):
    write("sdp", m.group(1).lower(), crlf(m.group(2)))
write("sdp", "spygroup-answer", SDP_OFFER)
write("sdp", "ipv6-hold", crlf("""
v=0
o=- 1 2 IN IP6 2001:db8::5
s=-
c=IN IP6 2001:db8::5
t=0 0
a=inactive
m=audio 6000 RTP/AVP 8
a=rtcp:6001
"""))
write("sdp", "t38-then-audio", crlf("""
v=0
o=- 1 2 IN IP4 0.0.0.0
s=-
c=IN IP4 0.0.0.0
t=0 0
m=image 4002 udptl t38
a=T38FaxVersion:0
m=audio 0 RTP/AVP 0
m=audio 4000 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc
m=audio 4004 RTP/AVP 0 18 101
a=rtpmap:101 telephone-event/8000
a=sendonly
"""))


# --- rtp -------------------------------------------------------------------
def rtp(pt, seq, ts, ssrc, payload=b"\xff" * 160, marker=False, csrc=(), ext=None, pad=0):
    b0 = 0x80 | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | len(csrc)
    out = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    for c in csrc:
        out += struct.pack("!I", c)
    if ext is not None:
        out += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    out += payload
    if pad:
        out += b"\x00" * (pad - 1) + bytes([pad])
    return out


def rtcp_sr(ssrc):
    body = struct.pack("!IIIII", ssrc, 0xE1234567, 0x89ABCDEF, 160000, 50, ) + struct.pack("!I", 8000)
    return struct.pack("!BBH", 0x80, 200, len(body) // 4) + body


def rtcp_rr(ssrc, report_of):
    block = struct.pack("!IIIIII", report_of, 0x01000002, 1000, 20, 0, 0)
    body = struct.pack("!I", ssrc) + block
    return struct.pack("!BBH", 0x81, 201, len(body) // 4) + body


def rtcp_sdes(ssrc, cname=b"110@pbx"):
    item = bytes([1, len(cname)]) + cname + b"\x00"
    while (4 + len(item)) % 4:
        item += b"\x00"
    body = struct.pack("!I", ssrc) + item
    return struct.pack("!BBH", 0x81, 202, len(body) // 4) + body


def rtcp_bye(ssrc):
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def records(rate, pkts):
    out = struct.pack("!I", rate)
    for ms, p in pkts:
        p = p[:255]
        out += bytes([len(p)]) + struct.pack("!H", ms) + p
    return out


write("rtp", "pcmu", rtp(0, 1000, 160000, 0xDEADBEEF))
write("rtp", "csrc-ext-pad", rtp(8, 7, 8, 0x1234, payload=b"\xd5" * 20, marker=True,
                                  csrc=(1, 2), ext=b"\x10\xaa\x00\x00", pad=4))
write("rtp", "dtmf-event", rtp(101, 5, 800, 0x42, payload=bytes([5, 0x8A, 0x03, 0x20]), marker=True))
write("rtp", "rtcp-sr-sdes", rtcp_sr(0xDEADBEEF) + rtcp_sdes(0xDEADBEEF))
write("rtp", "rtcp-rr-bye", rtcp_rr(0x42, 0xDEADBEEF) + rtcp_bye(0x42))
small = b"\xff" * 20
stream = [(20, rtp(0, 100 + i, 160 * i, 0xAAAA, payload=small)) for i in range(5)]
stream += [(20, rtp(0, 102, 320, 0xAAAA, payload=small))]  # late packet
stream += [(0, rtp(0, 9000, 5, 0xBBBB, payload=small))]  # new source
stream += [(40, rtp(0, 104, 640, 0xAAAA, payload=small))]  # straggler of the old one
stream += [(3000, rtp(0, 9001, 8005, 0xBBBB, payload=small))]  # after silence
write("rtp", "rewriter-switch", records(8000, stream))
write("rtp", "rewriter-wrap", records(16000, [(20, rtp(9, 65534 + i, 0xFFFFFE00 + 320 * i, 7, payload=small)) for i in range(4)]))

# --- srtp ------------------------------------------------------------------
# Plain packets: the target protects and unprotects them (the first byte, 0x80
# or 0x81, picks the suite: even _80, odd _32).
write("srtp", "pcmu", rtp(0, 65535, 160000, 0xDEADBEEF))
write("srtp", "csrc-ext", rtp(8, 7, 8, 0x1234, payload=b"\xd5" * 20, csrc=(1, 2), ext=b"\x10\xaa\x00\x00"))
write("srtp", "rtcp-rr-sdes", rtcp_rr(0x42, 0xDEADBEEF) + rtcp_sdes(0x42))

# --- dialplan ----------------------------------------------------------------
for rel in ["config/extensions.conf", "tests/fixtures/extensions-seed.conf",
            "tests/e2e/dialplan.conf", "bench/dialplan.conf"]:
    write("dialplan", rel.replace("/", "-"), read(rel))
write("dialplan", "gosub-macro", """[globals]
OPERATOR=100
[macro-greet]
exten => s,1,Set(GREETED=${ARG1})
 same => n,MacroExit()
[sub-x]
exten => s,1(start),NoOp(${ARG1})
 same => n,Return(${ARG1})
[from-internal]
include => sub-x
exten => _1XX,1,Macro(greet,${EXTEN})
 same => n,Gosub(sub-x,s,1(${EXTEN}))
 same => n,GotoIf($[${GOSUB_RETVAL} > 100]?ok,1:fail,1)
 same => n,ExecIf($["${DB(spygroup/110)}" = "sales"]?Set(X=1):Set(X=0))
 same => n,Hangup()
exten => _*222.,1,ChanSpy(SIP/${EXTEN:4},qE)
exten => ok,1,Dial(SIP/${ARG1},20,tT)
exten => fail,1,Busy()
exten => h,1,NoOp(${DIALSTATUS})
;-- a block
comment --;
exten => _[1-5]Z!,hint,SIP/1
""")

# --- expr --------------------------------------------------------------------
EXPR = {
    "arith": "1+2*3 - (4 / 2) % 3",
    "compare": "${EXTEN:4} >= 110 & 150<=201 | abc < abd",
    "ternary": "1 ? yes :: $[0 ? a :: b]",
    "regex": 'abcde : "a(.)c" =~ "c(d)"',
    "quoted": '"${A}" = "hello"',
    "nested": "${HE${B}}x${CALLERID(num)}$[${LEN(${A})}+1]",
    "db": "${DB(spygroup/${CALLERID(num)})}${DB_EXISTS(CF/110)}${DB_DELETE(DND/111)}",
    "funcs": "${IF($[1=1]?yes:no)}${TOUPPER(${A})}${CUT(PATH,-,1&3-)}${SET(X=${NUM:-8:4})}${X}",
    "substring": "${EXTEN:1:3}${EXTEN:-3}${NUM:0:-3}${CALLERID(all)}${GLOBAL(TRUNK)}",
    "unclosed": "${A$[1+${B",
}
for name, text in EXPR.items():
    write("expr", name, text)
# Every application argument of the shipped dialplan is substituted at run time.
conf = read("config/extensions.conf").decode()
args = [m.group(1) for m in re.finditer(r"\w+\((.*)\)\s*$", conf, re.M) if "$" in m.group(1)]
for i, a in enumerate(args[:20]):
    write("expr", "conf-%02d" % i, a)
