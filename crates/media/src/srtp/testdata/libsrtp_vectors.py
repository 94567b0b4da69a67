"""Known-answer vectors from libsrtp (through the pylibsrtp wrapper) for
crates/media/src/srtp/tests.rs. Regenerate with:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pylibsrtp==1.0.0
    /tmp/v/bin/python crates/media/src/srtp/testdata/libsrtp_vectors.py

and paste the output into the `libsrtp` tests.
"""

from pylibsrtp import Policy, Session

KEY = bytes(range(0x10, 0x20))  # master key
SALT = bytes(range(0xA0, 0xAE))  # master salt
SSRC = 0xCAFEBABE


def rtp(seq, payload, csrcs=(), ext=None):
    b0 = 0x80 | len(csrcs) | (0x10 if ext is not None else 0)
    out = bytes([b0, 0x00]) + seq.to_bytes(2, "big")
    out += (seq * 160).to_bytes(4, "big") + SSRC.to_bytes(4, "big")
    for c in csrcs:
        out += c.to_bytes(4, "big")
    if ext is not None:
        out += bytes([0xBE, 0xDE]) + (len(ext) // 4).to_bytes(2, "big") + ext
    return out + payload


def rtcp_rr():
    # RR with one report block, then an SDES with a CNAME: a compound packet.
    rr = bytes([0x81, 201, 0x00, 0x07]) + SSRC.to_bytes(4, "big") + bytes(range(24))
    sdes = bytes([0x81, 202, 0x00, 0x03]) + SSRC.to_bytes(4, "big") + b"\x01\x03abc\x00"
    return rr + sdes


def session(profile, inbound):
    kind = Policy.SSRC_ANY_INBOUND if inbound else Policy.SSRC_ANY_OUTBOUND
    return Session(Policy(key=KEY + SALT, ssrc_type=kind, srtp_profile=profile))


for name, profile in [
    ("80", Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
    ("32", Policy.SRTP_PROFILE_AES128_CM_SHA1_32),
]:
    tx = session(profile, inbound=False)
    print(f"// suite _{name}")
    for seq in (65534, 65535, 0, 1):
        plain = rtp(seq, bytes([seq & 0xFF]) * 20)
        print(f'("{plain.hex()}", "{tx.protect(plain).hex()}"),')
    plain = rtp(2, b"\x55" * 20, csrcs=(0x11111111, 0x22222222), ext=b"\x10\xAA\x00\x00")
    print(f'("{plain.hex()}", "{tx.protect(plain).hex()}"),')
    for _ in range(2):
        plain = rtcp_rr()
        print(f'rtcp ("{plain.hex()}", "{tx.protect_rtcp(plain).hex()}"),')
