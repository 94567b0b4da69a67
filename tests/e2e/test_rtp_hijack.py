"""Issue 17 item 1, "RTP hijack while ringing": a stranger spraying the PBX's RTP
ports must never become a party of a call.

The attacker is a UDP socket on 127.0.0.1 (a port no SDP names) that sends valid
RTP (PCMU, payload type 0, a random SSRC per port) of a 3100 Hz tone to every even
port of the PBX's configured RTP range, and RTCP sender reports to every odd port,
every 20 ms, from before the call starts until after it ends (rtppeer.py). It must
receive nothing at all, and nobody may hear its tone. Phones send their own tones
(caller 400 Hz, callee 1000 Hz, supervisor 1500 Hz).

Every phone here is on 127.0.0.1, so "the address the SDP names" must mean IP and
port: the attacker shares the phones' IP.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
import uuid

import pytest

import audio
from rtppeer import RtpPeer, range_targets
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    carrier_trunk,
    check,
    count_log,
    inbound_call,
    registered_phone,
    wait_log,
)
from test_click_to_spy import api

pytestmark = pytest.mark.needs_pbx

ATTACK_HZ = 3100
FREQS = (400, 1000, 1500, ATTACK_HZ)


def udp_outside_range(pbx):
    """A UDP socket on 127.0.0.1 whose port is not in the PBX's RTP range.

    The range is picked free but not reserved, and the kernel's ephemeral ports
    overlap it: an attacker bound inside the range sprays itself (and reads its own
    tone back as if the PBX had sent it), a caller's RTP port inside it is sprayed
    by the attacker directly. Neither says anything about the PBX."""
    held = []
    try:
        for _ in range(50):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            if not pbx.rtp_lo <= sock.getsockname()[1] <= pbx.rtp_hi + 1:
                return sock
            held.append(sock)  # keep it bound so the next bind gets another port
        raise RuntimeError("no UDP port outside the PBX's RTP range")
    finally:
        for s in held:
            s.close()


def start_attacker(pbx, tmp_path, name="attacker"):
    sock = udp_outside_range(pbx)
    return RtpPeer.start(
        sock, range_targets(pbx.rtp_lo, pbx.rtp_hi), tmp_path, name, freq=ATTACK_HZ
    )


def assert_attacker_got_nothing(got):
    """Not one datagram: neither the call's audio nor its own packets echoed back,
    nor RTCP. What it got, if anything, says which hole is open."""
    if got["received"]:
        heard = ""
        if got["seconds_received"] >= 0.5:
            lv = audio.tone_levels(got["wav"], FREQS)
            heard = "; it heard " + ", ".join(f"{f} Hz at {v:.0f} dBFS" for f, v in lv.items())
        raise AssertionError(
            f"the attacker received {got['received']} datagrams ({got['rtp']} RTP, "
            f"{got['seconds_received']:.2f} s of PCMU) from {got['sources']}{heard}"
        )
    assert got["sent"] > 1000, f"the attacker hardly sprayed: {got}"


def pbx_port(call):
    return int(call.stream_remote.rsplit(":", 1)[1])


def test_a_stranger_spraying_the_ports_of_a_ringing_then_answered_call_gets_nothing(
    pbx, ua, make_phone, tones, tmp_path
):
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000], answer=None)
    assert a.register() == 200
    assert b.register() == 200
    attacker = start_attacker(pbx, tmp_path)
    try:
        ua.poll(0.3)
        call = a.call("102")
        leg = b.incoming(timeout=10)
        # Ringing: the PBX sent B its port, B has not answered (nor sent RTP).
        ua.poll(2.0)
        assert not leg.confirmed and not call.confirmed
        leg.answer_with(200)
        ua.wait_for(
            lambda: call.confirmed and leg.confirmed and call.media_active and leg.media_active,
            10,
            "the call answered with media",
        )
        for c in (call, leg):
            assert pbx.rtp_lo <= pbx_port(c) <= pbx.rtp_hi, c.stream_remote
        ua.poll(4.0)
        call.end()
        ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "hang-up")
        ua.poll(0.3)
    finally:
        got = attacker.stop()
    a_wav, b_wav = call.stop_recording(), leg.stop_recording()
    assert_attacker_got_nothing(got)
    audio.check_two_way(a_wav, b_wav)
    audio.assert_not_hears(b_wav, ATTACK_HZ, start=0.0)
    audio.assert_not_hears(a_wav, ATTACK_HZ, start=0.0)


class RawCaller:
    """A caller with no softphone behind it: raw SIP over UDP from the trunk's port
    (IP-authenticated, no digest), an SDP naming ``rtp_port`` on 127.0.0.1."""

    def __init__(self, pbx, rtp_port):
        self.pbx = pbx
        self.sock = udp_outside_range(pbx)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.rtp_port = rtp_port
        self.call_id = f"late-{uuid.uuid4().hex}@127.0.0.1"
        self.tag = uuid.uuid4().hex[:10]
        self.me = f"sip:5551234@127.0.0.1:{self.port}"
        self.statuses = []
        self.ok = None  # the 200 to our INVITE
        self.bye_ok = False

    def _send(self, text):
        self.sock.sendto(text.encode(), ("127.0.0.1", self.pbx.sip_port))

    def _via(self):
        return f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch=z9hG4bK-{uuid.uuid4().hex}"

    def invite(self, exten):
        self.target = f"sip:{exten}@127.0.0.1:{self.pbx.sip_port}"
        sdp = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
            "a=sendrecv\r\n"
        )
        self._send(
            "\r\n".join([
                f"INVITE {self.target} SIP/2.0", self._via(),
                f"From: <{self.me}>;tag={self.tag}", f"To: <{self.target}>",
                f"Call-ID: {self.call_id}", "CSeq: 1 INVITE", f"Contact: <{self.me}>",
                "Max-Forwards: 70", "Content-Type: application/sdp",
                f"Content-Length: {len(sdp)}", "", sdp,
            ])
        )  # fmt: skip

    def _in_dialog(self, method, cseq):
        to = re.search(r"^To:.*$", self.ok, re.M | re.I).group(0)
        contact = re.search(r"^Contact:\s*<([^>]+)>", self.ok, re.M | re.I)
        uri = contact.group(1) if contact else self.target
        return "\r\n".join([
            f"{method} {uri} SIP/2.0", self._via(), f"From: <{self.me}>;tag={self.tag}", to,
            f"Call-ID: {self.call_id}", f"CSeq: {cseq} {method}", "Max-Forwards: 70",
            "Content-Length: 0", "", "",
        ])  # fmt: skip

    def poll(self):
        """Handle what arrived: ACK every 200 to the INVITE, answer requests."""
        while True:
            try:
                text = self.sock.recv(65535).decode(errors="replace")
            except BlockingIOError:
                return
            m = re.match(r"SIP/2\.0 (\d{3})", text)
            if m:
                code = int(m.group(1))
                self.statuses.append(code)
                cseq = re.search(r"^CSeq:.*$", text, re.M | re.I)
                if code == 200 and cseq and "INVITE" in cseq.group(0):
                    self.ok = text
                    self._send(self._in_dialog("ACK", 1))
                elif code == 200:
                    self.bye_ok = True
                continue
            # A request (a BYE from the PBX): 200, echoing the transaction's headers.
            keep = [
                ln for ln in text.split("\r\n")
                if re.match(r"(Via|From|To|Call-ID|CSeq):", ln, re.I)
            ]  # fmt: skip
            self.sock.sendto(
                ("\r\n".join(["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""])).encode(),
                ("127.0.0.1", self.pbx.sip_port),
            )

    def pbx_rtp_port(self):
        return int(re.search(r"m=audio (\d+)", self.ok).group(1))

    def bye(self, ua):
        self._send(self._in_dialog("BYE", 2))
        deadline = time.monotonic() + 5
        while not self.bye_ok and time.monotonic() < deadline:
            ua.poll(0.05)
            self.poll()

    def close(self):
        self.sock.close()


def test_a_caller_that_sends_late_keeps_its_leg_and_the_callee_never_hears_the_stranger(
    pbx, ua, make_phone, tones, tmp_path
):
    """The caller's first packet comes 3 s into the call (a phone that sends only
    when spoken to, a muted caller): until then its leg must not belong to whoever
    sprays first. The callee's audio goes to the caller's SDP address meanwhile."""
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000], answer=None)
    assert b.register() == 200
    rtp_sock = udp_outside_range(pbx)
    caller = RawCaller(pbx, rtp_sock.getsockname()[1])
    pbx.cli_live("trunk", "add", "carrier", "--host", f"127.0.0.1:{caller.port}")
    attacker = start_attacker(pbx, tmp_path)
    voice = None
    try:
        ua.poll(0.3)
        caller.invite("102")
        leg = b.incoming(timeout=10)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            ua.poll(0.05)
            caller.poll()
        leg.answer_with(200)
        deadline = time.monotonic() + 10
        while caller.ok is None or not leg.media_active:
            assert time.monotonic() < deadline, f"no answer: {caller.statuses}"
            ua.poll(0.05)
            caller.poll()
        t_answer = time.monotonic()
        voice = RtpPeer.start(
            rtp_sock, [("127.0.0.1", caller.pbx_rtp_port(), "rtp")], tmp_path, "caller",
            freq=400, start_after=3.0,
        )  # fmt: skip
        while time.monotonic() < t_answer + 6.0:
            ua.poll(0.05)
            caller.poll()
        caller.bye(ua)
        ua.wait_for(lambda: leg.disconnected, 5, "the callee hung up by the PBX")
    finally:
        got = attacker.stop()
        heard = voice.stop() if voice else None
        if voice is None:
            rtp_sock.close()
        caller.close()
    b_wav = leg.stop_recording()
    assert_attacker_got_nothing(got)
    # The callee heard nothing of the stranger, before or after the caller spoke,
    # and the caller once it did.
    audio.assert_not_hears(b_wav, ATTACK_HZ, start=0.0)
    t_voice = at(leg, t_answer + 3.0)
    audio.assert_not_hears(b_wav, 400, start=0.5, end=t_voice - 0.3)
    audio.assert_hears(b_wav, 400, start=t_voice + 0.5)
    # The caller heard the callee all along, from before its own first packet.
    assert heard["seconds_received"] >= 4.0, heard
    audio.assert_hears(heard["wav"], 1000, start=0.5, end=2.5)
    audio.assert_not_hears(heard["wav"], ATTACK_HZ)
    assert list(heard["sources"]) == [f"127.0.0.1:{caller.pbx_rtp_port()}"], heard


@pytest.mark.pbx_args(*SOUNDS_ARGS)
@pytest.mark.pbx_dialplan(path=str(SHIPPED))
def test_click_to_spy_legs_are_not_hijacked(pbx, ua, make_phone, tones, tmp_path):
    """Click-to-spy: the PBX calls the supervisor's phone from its own, phoneless,
    side. That side never gets an SDP, so nobody may become it; the supervisor's
    leg, ringing and then answered, is the supervisor's phone's alone."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True, answer=None)
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    assert status == 200, calls
    names = [c["name"] for call in calls["calls"] for c in call["channels"]]
    target = next(n for n in names if n.startswith("SIP/110-"))

    attacker = start_attacker(pbx, tmp_path)
    try:
        ua.poll(0.3)
        started = count_log(pbx, "spy session started")
        status, body = api(pbx, "POST", f"/api/v1/calls/{urllib.parse.quote(target, safe='')}/monitor",
                           token, {"supervisor": "201", "mode": "whisper"})  # fmt: skip
        assert status == 201, body
        scall = sup.incoming(timeout=10)
        ua.poll(1.5)  # the supervisor's phone rings, sprayed
        scall.answer_with(200)
        ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
        t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
        ua.poll(3.5)
        t_end = time.monotonic()
        ended = count_log(pbx, "spy session ended")
        status, body = api(pbx, "DELETE", f"/api/v1/monitors/{body['id']}", token)
        assert status == 204, body
        wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
        ua.wait_for(lambda: scall.disconnected, 5, "the PBX to hang up the supervisor")
    finally:
        got = attacker.stop()
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"
    swav, awav, cwav = scall.stop_recording(), aleg.stop_recording(), ccall.stop_recording()
    assert_attacker_got_nothing(got)
    m = 0.6
    check("supervisor", audio.tone_levels(swav, FREQS, at(scall, t_spy + m), at(scall, t_end)),
          [400, 1000], [1500, ATTACK_HZ], "whisper")  # fmt: skip
    check("agent", audio.tone_levels(awav, FREQS, at(aleg, t_spy + m), at(aleg, t_end)),
          [400, 1500], [1000, ATTACK_HZ], "whisper")  # fmt: skip
    check("client", audio.tone_levels(cwav, FREQS, at(ccall, t_spy + m), at(ccall, t_end)),
          [1000], [400, 1500, ATTACK_HZ], "whisper")  # fmt: skip
    for wav in (swav, awav, cwav):
        audio.assert_not_hears(wav, ATTACK_HZ, start=0.0)


def test_a_calls_rtp_ports_do_not_follow_from_the_last_calls(pbx, ua, registered):
    """Ports handed out in order (+4 per call, the callee's pair next to the
    caller's) let anyone who made one call aim at the next; they are random."""
    a, b = registered
    ports = []
    for _ in range(6):
        call = a.call("102")
        leg = b.incoming(timeout=10)
        ua.wait_for(
            lambda: call.media_active and leg.media_active and call.stream_remote and leg.stream_remote,
            10,
            "a call with media",
        )
        ports.append((pbx_port(call), pbx_port(leg)))
        call.end()
        ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "hang-up")
        ua.poll(0.2)
    flat = [p for pair in ports for p in pair]
    assert all(pbx.rtp_lo <= p <= pbx.rtp_hi and p % 2 == 0 for p in flat), ports
    steps = [n[0] - p[0] for p, n in zip(ports, ports[1:])]
    assert len(set(steps)) > 1, f"the callers' ports move by a constant step: {ports}"
    assert len({b - a for a, b in ports}) > 1, f"the callee's port follows the caller's: {ports}"
    # A just-freed pair is not the next call's.
    assert all(n[0] not in p and n[1] not in p for p, n in zip(ports, ports[1:])), ports
