"""SIP protocol edge cases, driven by SIPp scenarios (tests/sipp) and raw text."""

import socket
import time

import pytest

import audio
import sipp
from conftest import SECRETS, free_port

pytestmark = [
    pytest.mark.needs_sipp,
    pytest.mark.skipif(not sipp.available(), reason="sipp (Debian sip-tester) is not installed"),
]


# ---- raw UDP -----------------------------------------------------------------
def udp_exchange(addr_port, payload: bytes, wait=1.0):
    """Send one datagram; return the first answer (bytes) or None after ``wait`` s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(wait)
    try:
        s.sendto(payload, ("127.0.0.1", addr_port))
        try:
            return s.recvfrom(65535)[0]
        except socket.timeout:
            return None
    finally:
        s.close()


def raw_request(port, lport, method="OPTIONS", cseq=None, call_id=True, extra=""):
    lines = [
        f"{method} sip:127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{lport};rport;branch=z9hG4bK-raw{time.monotonic_ns()}",
        f"From: <sip:raw@127.0.0.1:{lport}>;tag=raw1",
        f"To: <sip:127.0.0.1:{port}>",
    ]
    if call_id:
        lines.append(f"Call-ID: raw-{time.monotonic_ns()}@127.0.0.1")
    lines += [f"CSeq: {cseq or '1 ' + method}", "Max-Forwards: 70", "Content-Length: 0"]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_exchange(port, build, wait=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(wait)
    try:
        s.sendto(build(s.getsockname()[1]), ("127.0.0.1", port))
        return s.recvfrom(65535)[0].decode(errors="replace")
    finally:
        s.close()


# ---- harness self-tests (no PBX) -------------------------------------------------
def test_sipp_register_scenario_against_sipp_registrar(tmp_path):
    """register_auth.xml against a SIPp registrar that challenges: proves the
    scenario's digest flow (and that a failing peer makes SIPp exit non-zero)."""
    srv = free_port()
    registrar = sipp.start("uas_challenge_register.xml", tmp_path, port=srv, timeout_s=10)
    time.sleep(0.3)
    sipp.assert_ok(
        "register_auth.xml", tmp_path, target=f"127.0.0.1:{srv}", port=free_port(),
        user="101", password="pw", keys={"contact_port": 5999}, timeout_s=10,
    )  # fmt: skip
    assert sipp.finish(registrar, 15) == 0, sipp.report(tmp_path, "uas_challenge_register")
    # negative control: nobody answers -> SIPp must fail
    code, _ = sipp.run(
        "options.xml", tmp_path, target=f"127.0.0.1:{free_port()}", port=free_port(), timeout_s=2
    )
    assert code != 0


def test_sipp_uas_echo_answers_pjsua(tmp_path, ua, make_phone, tones):
    """uas_answer.xml with -rtp_echo, called directly by pjsua: the caller hears
    its own tone back, SIPp sees INVITE/ACK/BYE and exits 0."""
    port = free_port()
    uas = sipp.start("uas_answer.xml", tmp_path, port=port, media_port=free_port(), rtp_echo=True,
                     timeout_s=20)  # fmt: skip
    time.sleep(0.3)
    a = make_phone("101", tone=tones[400])
    call = a.call(f"sip:102@127.0.0.1:{port}")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "SIPp to answer")
    ua.poll(3.6)
    call.end()
    ua.wait_for(lambda: call.disconnected, 5, "BYE answered")
    wav = call.stop_recording()
    assert sipp.finish(uas, 15) == 0, sipp.report(tmp_path, "uas_answer")
    audio.assert_hears(wav, 400, start=0.5)
    audio.assert_not_hears(wav, 1000, start=0.5)


# ---- against the PBX -----------------------------------------------------------------
@pytest.mark.needs_pbx
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_digest(pbx, tmp_path, transport):
    sipp.assert_ok(
        "register_auth.xml", tmp_path, target=pbx.sip_addr, port=free_port(), transport=transport,
        user="101", password=SECRETS["101"], keys={"contact_port": free_port()},
    )  # fmt: skip


@pytest.mark.needs_pbx
def test_register_wrong_password_fails(pbx, tmp_path):
    code, text = sipp.run(
        "register_auth.xml", tmp_path, target=pbx.sip_addr, port=free_port(),
        user="101", password="wrong", keys={"contact_port": free_port()}, timeout_s=8,
    )  # fmt: skip
    assert code != 0, "a wrong password must not get 200"
    assert "SIP/2.0 200" not in text


@pytest.mark.needs_pbx
def test_options_answered(pbx, tmp_path):
    sipp.assert_ok("options.xml", tmp_path, target=pbx.sip_addr, port=free_port())


@pytest.mark.needs_pbx
def test_invite_without_credentials_gets_407(pbx, tmp_path):
    sipp.assert_ok(
        "invite_noauth.xml", tmp_path, target=pbx.sip_addr, port=free_port(),
        media_port=free_port(), user="101", keys={"callee": "102"},
    )  # fmt: skip


@pytest.mark.needs_pbx
def test_authenticated_invite_to_unknown_number_gets_404(pbx, tmp_path):
    sipp.assert_ok(
        "invite_auth_404.xml", tmp_path, target=pbx.sip_addr, port=free_port(),
        media_port=free_port(), user="101", password=SECRETS["101"], keys={"callee": "999"},
    )  # fmt: skip


@pytest.mark.needs_pbx
def test_bad_cseq_number_gets_400(pbx, tmp_path):
    sipp.assert_ok("bad_cseq_number.xml", tmp_path, target=pbx.sip_addr, port=free_port())


@pytest.mark.needs_pbx
def test_cseq_method_mismatch_gets_400(pbx):
    answer = raw_exchange(pbx.sip_port, lambda lp: raw_request(pbx.sip_port, lp, cseq="1 INVITE"))
    assert answer.startswith("SIP/2.0 400"), answer


@pytest.mark.needs_pbx
def test_missing_call_id_gets_400(pbx):
    answer = raw_exchange(pbx.sip_port, lambda lp: raw_request(pbx.sip_port, lp, call_id=False))
    assert answer.startswith("SIP/2.0 400"), answer


@pytest.mark.needs_pbx
def test_garbage_datagrams_ignored_server_survives(pbx, tmp_path):
    garbage = [
        b"\x00\xff\xfe garbage \x01\x02",
        b"NOT SIP AT ALL\r\n\r\n",
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200\r\n",  # a response with nothing to match
        bytes(range(256)) * 4,
        b"\r\n\r\n",  # keep-alive: legal, never answered
    ]
    for g in garbage:
        assert udp_exchange(pbx.sip_port, g, wait=0.5) is None, f"answered garbage {g[:30]!r}"
    assert pbx.alive()
    assert pbx.healthy()
    sipp.assert_ok("options.xml", tmp_path, target=pbx.sip_addr, port=free_port())


@pytest.mark.needs_pbx
def test_sipp_phone_answers_call_through_pbx_with_echo(pbx, tmp_path, ua, make_phone, tones):
    """SIPp registers as 102 (binding pointing at a SIPp UAS with -rtp_echo);
    pjsua 101 calls 102 through the PBX, hears its own 400 Hz echoed back."""
    uas_port = free_port()
    uas = sipp.start("uas_answer.xml", tmp_path, port=uas_port, media_port=free_port(),
                     rtp_echo=True, timeout_s=25)  # fmt: skip
    sipp.assert_ok(
        "register_auth.xml", tmp_path, target=pbx.sip_addr, port=free_port(),
        user="102", password=SECRETS["102"], keys={"contact_port": uas_port},
    )  # fmt: skip
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert a.register() == 200
    call = a.call("102")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "SIPp 102 to answer")
    host, port = call.stream_remote.rsplit(":", 1)
    assert pbx.rtp_lo <= int(port) <= pbx.rtp_hi, call.stream_remote
    ua.poll(3.6)
    call.end()
    ua.wait_for(lambda: call.disconnected, 5, "call down")
    wav = call.stop_recording()
    assert sipp.finish(uas, 15) == 0, sipp.report(tmp_path, "uas_answer")
    audio.assert_hears(wav, 400, start=0.5)
