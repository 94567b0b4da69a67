"""SIP over TLS and SRTP (SDES), with real user agents: pjsua2 and baresip.

The PBX gets a self-signed certificate made by ``openssl`` for the test. What is
proven, each by the wire or by tones:
- phones register and call over TLS (TLS 1.2 and 1.3; 1.1 is refused), with SRTP:
  each hears the other's tone, and a sniffer on loopback sees only packets whose
  payload carries no tone (encrypted), where a plain call shows it;
- a supervisor spies on an SRTP call and hears both parties;
- ``require_tls`` refuses REGISTER over UDP; ``require_srtp`` refuses a plain
  offer from that extension (488), and a call *to* it is offered SRTP while the
  caller's leg stays plain;
- baresip (libre's TLS, its ``srtp`` module) calls a pjsua2 phone over TLS+SRTP;
- SIGHUP reloads the certificate: the next handshake shows the new one;
- a source holding more TCP connections than allowed has the next one closed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import numpy as np
import pytest

import audio
import baresip
from conftest import SECRETS, free_port, free_udp_range, run_pbx
from spysetup import SHIPPED, SOUNDS_ARGS, at, count_log, wait_log

pytestmark = [pytest.mark.needs_pbx, pytest.mark.pbx_dialplan(path=str(SHIPPED))]


def make_cert(dir_, name="pbx"):
    """A self-signed EC certificate for 127.0.0.1 (SAN IP), as a site would get
    from its CA."""
    cert, key = dir_ / f"{name}.crt", dir_ / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=spygroup-test",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_pbx(tmp_path, request):
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = make_cert(certs)
    tls_port = free_port()
    marker = request.node.get_closest_marker("pbx_args")
    extra = [
        "--sip-tls", f"127.0.0.1:{tls_port}",
        "--tls-cert", str(cert),
        "--tls-key", str(key),
        *SOUNDS_ARGS,
        *(marker.args if marker else ()),
    ]  # fmt: skip
    for server in run_pbx(tmp_path, request, extra):
        server.tls_addr = f"127.0.0.1:{tls_port}"
        server.tls_port = tls_port
        server.cert, server.key = cert, key
        yield server


def tls_phone(pbx, make_phone, num, tone, srtp="mandatory", **kw):
    ph = make_phone(str(num), server=pbx.tls_addr, transport="tls", tone=tone, srtp=srtp, **kw)
    code = ph.register()
    assert code == 200, f"{num} failed to register over TLS: {code}"
    return ph


class Sniffer:
    """Captures UDP payloads on the loopback interface (AF_PACKET, root) sent to
    ports in ``ports``; counts how many look like RTP carrying a given tone when
    decoded as G.711. An SRTP payload is noise to this decoder."""

    def __init__(self, ports):
        self.lo, self.hi = ports
        self.payloads = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + 30  # bounded, whatever the test does
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                frame = self.sock.recv(65535)
            except socket.timeout:
                continue
            # Ethernet (14) + IPv4 with protocol 17 (UDP)
            if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            ihl = (frame[14] & 0x0F) * 4
            udp = frame[14 + ihl :]
            dport = struct.unpack("!H", udp[2:4])[0]
            if self.lo <= dport <= self.hi and len(udp) > 8 + 12 and udp[8] >> 6 == 2:
                self.payloads.append(bytes(udp[8:]))

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()

    def tone_share(self, freq):
        """Fraction of captured RTP packets whose payload, read as PCMU/PCMA at
        offset 12, shows ``freq`` clearly."""
        if not self.payloads:
            return 0.0
        hits = 0
        for p in self.payloads:
            pcm = decode_g711(p[12:172], p[1] & 0x7F)
            if pcm is not None and tone_in(pcm, freq):
                hits += 1
        return hits / len(self.payloads)


def decode_g711(b, pt):
    a = np.frombuffer(b, dtype=np.uint8).astype(np.int32)
    if pt == 0:
        a = ~a & 0xFF
        sign, exp, man = a & 0x80, (a >> 4) & 7, a & 0x0F
        mag = (((man << 3) + 0x84) << exp) - 0x84
        return np.where(sign, -mag, mag).astype(np.float64)
    if pt == 8:
        a = a ^ 0x55
        sign, exp, man = a & 0x80, (a >> 4) & 7, a & 0x0F
        mag = np.where(exp == 0, (man << 4) + 8, ((man << 4) + 0x108) << (exp - 1))
        return np.where(sign, mag, -mag).astype(np.float64)
    return None


def tone_in(pcm, freq, rate=8000):
    if len(pcm) < 80 or not np.any(pcm):
        return False
    spec = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    k = int(round(freq * len(pcm) / rate))
    band = spec[max(k - 1, 0) : k + 2].sum()
    return band > 0.5 * spec.sum()


def sniffed_call(pbx, ua, a, b, seconds):
    """a calls b (102) with the sniffer on the PBX's RTP ports for `seconds` of
    media; returns the call, b's leg and the sniffer, both legs hung up."""
    sniff = Sniffer((pbx.rtp_lo, pbx.rtp_hi))
    try:
        call = a.call("102")
        leg = b.incoming(timeout=10)
        ua.wait_for(lambda: call.confirmed and leg.media_active and call.media_active, 10, "call up")
        ua.poll(seconds)
    finally:
        sniff.close()
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "hang-up")
    return call, leg, sniff


@pytest.mark.parametrize("srtp", ["mandatory", "optional"])
def test_tls_srtp_call_both_ways_encrypted_on_the_wire(tls_pbx, ua, make_phone, tones, srtp):
    """``mandatory``: phones that accept RTP/SAVP only, on extensions with
    ``require_srtp`` (so the PBX offers them RTP/SAVP). ``optional``: phones that
    offer RTP/AVP with crypto and take SRTP when offered: over TLS the PBX offers
    it unasked."""
    if srtp == "mandatory":
        for ext in ("101", "102"):
            tls_pbx.cli_live("ext", "set", ext, "--require-srtp", "true")
    a = tls_phone(tls_pbx, make_phone, "101", tones[400], srtp=srtp)
    b = tls_phone(tls_pbx, make_phone, "102", tones[1000], srtp=srtp)
    call, leg, sniff = sniffed_call(tls_pbx, ua, a, b, 4.0)
    audio.check_two_way(call.stop_recording(), leg.stop_recording())
    assert len(sniff.payloads) > 100, f"sniffer saw {len(sniff.payloads)} RTP packets to the PBX"
    share = max(sniff.tone_share(400), sniff.tone_share(1000))
    assert share < 0.02, f"{share:.0%} of the packets to the PBX carry a clear tone: not encrypted"
    log = tls_pbx.log_text()
    assert "SRTP" in log or "srtp" in log, "the PBX should log the leg's SRTP suite"


def test_sniffer_sees_the_tone_of_a_plain_call(tls_pbx, ua, make_phone, tones):
    """The control for the test above: the same sniffer on a plain RTP call."""
    a = make_phone("101", server=tls_pbx.sip_addr, tone=tones[400])
    b = make_phone("102", server=tls_pbx.sip_addr, tone=tones[1000])
    assert a.register() == 200 and b.register() == 200
    _, _, sniff = sniffed_call(tls_pbx, ua, a, b, 2.0)
    assert sniff.tone_share(400) > 0.3 and sniff.tone_share(1000) > 0.3


def test_spy_on_an_srtp_call_hears_both(tls_pbx, ua, make_phone, tones):
    tls_pbx.cli("ext", "add", "201", "--secret", "s3cret-201-sup", "--name", "Sup")
    tls_pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen,whisper,barge")
    for ext in ("101", "102", "201"):
        tls_pbx.cli("ext", "set", ext, "--require-srtp", "true")
    a = tls_phone(tls_pbx, make_phone, "101", tones[400])
    b = tls_phone(tls_pbx, make_phone, "102", tones[1000])
    sup = make_phone("201", secret="s3cret-201-sup", server=tls_pbx.tls_addr, transport="tls",
                     tone=tones[1500], srtp="mandatory")  # fmt: skip
    assert sup.register() == 200
    call = a.call("102")
    leg = b.incoming(timeout=10)
    ua.wait_for(lambda: call.confirmed and leg.media_active and call.media_active, 10, "call up")
    started = count_log(tls_pbx, "spy session started")
    scall = sup.call("*222102")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*222102 answered")
    t_spy = wait_log(ua, tls_pbx, "spy session started", started, 8, "the spy session")
    ua.poll(3.0)
    t_end = time.monotonic()
    scall.end()
    call.end()
    ua.wait_for(lambda: call.disconnected and scall.disconnected, 5, "hang-ups")
    swav = scall.stop_recording()
    lo, hi = at(scall, t_spy + 0.6), at(scall, t_end)
    audio.assert_hears(swav, 400, lo, hi)
    audio.assert_hears(swav, 1000, lo, hi)
    # Listen mode: the parties do not hear the supervisor.
    audio.assert_not_hears(call.stop_recording(), 1500, at(call, t_spy + 0.6), at(call, t_end))


def test_require_tls_refuses_plain_register(tls_pbx, ua, make_phone, tones):
    tls_pbx.cli_live("ext", "set", "103", "--require-tls", "true")
    plain = make_phone("103", server=tls_pbx.sip_addr, tone=tones[400])
    assert plain.register() == 403
    secure = make_phone("103", server=tls_pbx.tls_addr, transport="tls", tone=tones[400])
    assert secure.register() == 200


def test_require_srtp_refuses_plain_offer_and_is_offered_srtp(tls_pbx, ua, make_phone, tones):
    tls_pbx.cli_live("ext", "set", "102", "--require-srtp", "true")
    # 102 calling without SRTP: refused with 488.
    b_plain = tls_phone(tls_pbx, make_phone, "102", tones[1000], srtp=None)
    a = tls_phone(tls_pbx, make_phone, "101", tones[400], srtp=None)
    call = b_plain.call("101")
    ua.wait_for(lambda: call.disconnected, 10, "the plain offer refused")
    assert 488 in call.codes, call.codes
    b_plain.close()
    # A call to 102 (now an SRTP phone) from the plain 101: both hear each other.
    b = tls_phone(tls_pbx, make_phone, "102", tones[1000], srtp="mandatory")
    call = a.call("102")
    leg = b.incoming(timeout=10)
    ua.wait_for(lambda: call.confirmed and leg.media_active and call.media_active, 10, "call up")
    ua.poll(4.0)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "hang-up")
    audio.check_two_way(call.stop_recording(), leg.stop_recording())


@pytest.mark.needs_baresip
@pytest.mark.pbx_args("--digest-algorithms", "MD5")
def test_baresip_over_tls_with_srtp(tls_pbx, ua, make_phone, tones, tmp_path):
    if not baresip.available() or not os.path.exists("/usr/lib/baresip/modules/srtp.so"):
        pytest.fail("baresip with its srtp module is required (apt-get install baresip)")
    # baresip's srtp-mand takes RTP/SAVP offers only: its extension requires SRTP.
    tls_pbx.cli_live("ext", "set", "102", "--require-srtp", "true")
    a = tls_phone(tls_pbx, make_phone, "101", tones[400])
    rtp = free_udp_range(size=40, lo=50000, hi=59000)
    br = baresip.Baresip(tmp_path / "br", "102", SECRETS["102"], server=tls_pbx.tls_addr,
                         sip_port=free_port(), rtp_range=rtp, tone=1000, transport="tls",
                         mediaenc="srtp-mand")  # fmt: skip
    br.start()
    try:
        br.wait_registered(10, pump=ua.poll)
        call = a.call("102")
        ua.wait_for(lambda: call.confirmed and call.media_active, 10, "baresip answered over TLS")
        ua.poll(3.0)
        call.end()
        ua.wait_for(lambda: call.disconnected, 5, "hang-up")
        br.wait_log(r"session closed|terminated", 5, pump=ua.poll)
        heard = call.stop_recording()
        audio.assert_hears(heard, 1000, start=1.0)
        audio.assert_not_hears(heard, 400, start=1.0)
        dumps = br.received_wavs()
        assert len(dumps) == 1, dumps
        audio.assert_hears(dumps[0], 400, start=1.0)
        assert "srtp" in br.log().lower(), "baresip should report SRTP on the call"
    finally:
        br.stop()


def peer_cert_sha(port, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest(), t.version()


def test_tls_versions_and_certificate_reload(tls_pbx, tmp_path):
    first, v = peer_cert_sha(tls_pbx.tls_port)
    assert v == "TLSv1.3"
    _, v12 = peer_cert_sha(tls_pbx.tls_port, ssl.TLSVersion.TLSv1_2)
    assert v12 == "TLSv1.2"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.fail("this Python cannot offer TLS 1.1 at all")
    with socket.create_connection(("127.0.0.1", tls_pbx.tls_port), timeout=3) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s).do_handshake()

    # A renewed certificate, written over the old files; then SIGHUP.
    new_cert, new_key = make_cert(tmp_path, "renewed")
    tls_pbx.cert.write_bytes(new_cert.read_bytes())
    tls_pbx.key.write_bytes(new_key.read_bytes())
    n = count_log(tls_pbx, "TLS certificate reloaded")
    tls_pbx.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while count_log(tls_pbx, "TLS certificate reloaded") == n:
        assert time.monotonic() < deadline, "no reload logged after SIGHUP"
        time.sleep(0.05)
    second, _ = peer_cert_sha(tls_pbx.tls_port)
    assert second != first
    assert second == hashlib.sha256(
        ssl.PEM_cert_to_DER_cert(new_cert.read_text())
    ).hexdigest()

    # A broken renewal: the reload fails, the certificate in use stays.
    tls_pbx.cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    n = count_log(tls_pbx, "TLS certificate NOT reloaded")
    tls_pbx.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while count_log(tls_pbx, "TLS certificate NOT reloaded") == n:
        assert time.monotonic() < deadline, "no failed reload logged after SIGHUP"
        time.sleep(0.05)
    assert peer_cert_sha(tls_pbx.tls_port)[0] == second


@pytest.mark.pbx_args("--tcp-max-per-source", "5")
def test_tcp_connections_per_source_are_capped(tls_pbx):
    held = [socket.create_connection(("127.0.0.1", tls_pbx.sip_port), timeout=3) for _ in range(5)]
    try:
        extra = socket.create_connection(("127.0.0.1", tls_pbx.sip_port), timeout=3)
        extra.settimeout(3)
        # Closed by the server at once: EOF (or a reset) before anything is sent.
        try:
            assert extra.recv(1) == b""
        except ConnectionResetError:
            pass
        extra.close()
        # The five held ones still work: an OPTIONS on one is answered.
        s = held[0]
        req = (
            f"OPTIONS sip:127.0.0.1:{tls_pbx.sip_port} SIP/2.0\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-cap1\r\n"
            "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
            "Call-ID: cap1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        s.sendall(req.encode())
        s.settimeout(3)
        assert s.recv(4096).startswith(b"SIP/2.0 ")
        from test_security import _metrics

        token = tls_pbx.cli("token", "create", "--scope", "read").stdout.strip()
        m = _metrics(tls_pbx, token)
        assert m['spygroup_sip_connections_closed_total{reason="refused"}'] >= 1, m
        assert m["spygroup_sip_connections"] >= 5, m
    finally:
        for s in held:
            s.close()


def test_silent_connection_is_closed(tls_pbx):
    """A connection that sends nothing (slowloris, a half-open TLS scan) is closed
    after 10 s; one that sent a message stays."""
    s = socket.create_connection(("127.0.0.1", tls_pbx.tls_port), timeout=15)
    t0 = time.monotonic()
    s.settimeout(15)
    try:
        data = s.recv(1)
    except ConnectionResetError:
        data = b""
    waited = time.monotonic() - t0
    s.close()
    assert data == b"" and 8 <= waited <= 13, (data, waited)
