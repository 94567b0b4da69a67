"""Basic calls through the real PBX, with real audio checked both ways."""

import time

import pytest

from audio import check_two_way

pytestmark = pytest.mark.needs_pbx


def connect(ua, caller, callee_phone, number="102", timeout=10):
    call = caller.call(number)
    ua.wait_for(lambda: call.confirmed and call.media_active, timeout, f"{number} to answer")
    leg = callee_phone.incoming(timeout=1)
    ua.wait_for(lambda: leg.confirmed and leg.media_active, 5, "callee leg confirmed with media")
    return call, leg


def assert_anchored(pbx, call, other_phone):
    """The phone sends RTP to the PBX's media address, not to the other phone."""
    assert call.stream_remote, "no stream info"
    host, port = call.stream_remote.rsplit(":", 1)
    port = int(port)
    assert host == "127.0.0.1", call.stream_remote
    assert pbx.rtp_lo <= port <= pbx.rtp_hi, (
        f"{call.phone.ext} sends RTP to {call.stream_remote}, outside the PBX range "
        f"{pbx.rtp_lo}-{pbx.rtp_hi}"
    )
    other = [c.stream_remote for c in other_phone.calls]
    assert call.stream_remote not in other


def two_way_call(pbx, ua, a, b):
    call, leg = connect(ua, a, b)
    assert_anchored(pbx, call, b)
    assert_anchored(pbx, leg, a)
    ua.poll(3.8)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")
    check_two_way(call.stop_recording(), leg.stop_recording())
    return call, leg


def test_two_way_audio_udp(pbx, ua, registered):
    a, b = registered
    two_way_call(pbx, ua, a, b)


def test_two_way_audio_tcp(pbx, ua, make_phone, tones):
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400], transport="tcp")
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000], transport="tcp")
    assert a.register() == 200
    assert b.register() == 200
    two_way_call(pbx, ua, a, b)


def test_caller_hangup_tears_down_callee(pbx, ua, registered):
    a, b = registered
    call, leg = connect(ua, a, b)
    ua.poll(0.5)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")


def test_callee_hangup_tears_down_caller(pbx, ua, registered):
    a, b = registered
    call, leg = connect(ua, a, b)
    ua.poll(0.5)
    leg.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")


def test_cancel_before_answer(pbx, ua, make_phone, tones):
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    b = make_phone("102", server=pbx.sip_addr, answer=None)
    assert a.register() == 200 and b.register() == 200
    call = a.call("102")
    leg = b.incoming(timeout=10)
    ua.poll(0.3)
    assert not call.disconnected
    call.end()  # CANCEL
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down after CANCEL")
    assert call.last_code == 487, call
    assert "CONFIRMED" not in leg.states and "CONFIRMED" not in call.states


def test_unknown_number_404(pbx, ua, registered):
    a, _ = registered
    call = a.call("999")
    ua.wait_for(lambda: call.disconnected, 10, "call to 999 to fail")
    assert call.last_code == 404, call


def test_unregistered_extension_480(pbx, ua, registered):
    a, _ = registered
    call = a.call("103")
    ua.wait_for(lambda: call.disconnected, 10, "call to 103 to fail")
    assert call.last_code == 480, call


def test_callee_busy_486(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    b = make_phone("102", server=pbx.sip_addr, answer=486)
    assert a.register() == 200 and b.register() == 200
    call = a.call("102")
    ua.wait_for(lambda: call.disconnected, 10, "busy call to fail")
    assert call.last_code == 486, call
    assert b.calls, "102 was never offered the call"


@pytest.mark.pbx_args("--no-answer-timeout", "3")
def test_no_answer_408(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    b = make_phone("102", server=pbx.sip_addr, answer=None)
    assert a.register() == 200 and b.register() == 200
    t0 = time.monotonic()
    call = a.call("102")
    leg = b.incoming(timeout=5)
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 12, "no-answer timeout")
    assert call.last_code == 408, call
    assert 2.5 <= time.monotonic() - t0 <= 10


def test_hold_resume_keeps_audio(pbx, ua, registered, tmp_path):
    a, b = registered
    call, leg = connect(ua, a, b)
    ua.poll(1.0)
    call.hold()
    ua.wait_for(lambda: not call.media_active, 5, "hold acknowledged")
    ua.poll(1.0)
    call.unhold()
    ua.wait_for(lambda: call.media_active and leg.media_active, 5, "resumed")
    ua.poll(0.3)
    after_a = call.record(tmp_path / "101-after-resume.wav")
    after_b = leg.record(tmp_path / "102-after-resume.wav")
    ua.poll(3.5)
    call.stop_recording()
    leg.stop_recording()
    assert call.confirmed and leg.confirmed
    check_two_way(after_a, after_b)


def test_cdr_answered(pbx, ua, registered):
    a, b = registered
    call, leg = connect(ua, a, b)
    ua.poll(1.0)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")
    deadline = time.monotonic() + 5
    lines = []
    while time.monotonic() < deadline:
        lines = pbx.cdr_lines()
        if any("ANSWERED" in ln for ln in lines):
            break
        time.sleep(0.2)
    answered = [ln for ln in lines if "ANSWERED" in ln]
    assert len(answered) == 1, lines
    assert "101" in answered[0] and "102" in answered[0], answered[0]
