"""Self-tests of the phone harness, peer to peer (no PBX): two pjsua2 accounts
on their own transports call each other directly. They prove that tone send,
record, detection, hold/resume, hang-up and rejection work in the harness, so a
failing PBX test points at the PBX, not at the harness."""

import pytest

import audio
from phone import CONFIRMED


def _p2p_call(make_phone, tones, transport="udp", answer=200):
    a = make_phone("101", tone=tones[400], transport=transport)
    b = make_phone("102", tone=tones[1000], transport=transport, answer=answer)
    call = a.call(b.uri("102"))
    return a, b, call


def _two_way(ua, a, b, call, seconds=3.0):
    ua.wait_for(lambda: call.confirmed and call.media_active, 5, "caller connected")
    callee = b.incoming(timeout=1)
    ua.wait_for(lambda: callee.confirmed and callee.media_active, 5, "callee connected")
    ua.poll(seconds + 0.7)
    return callee


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_p2p_two_way_tones(ua, make_phone, tones, transport):
    a, b, call = _p2p_call(make_phone, tones, transport)
    callee = _two_way(ua, a, b, call)
    # the phones talk straight to each other: the caller sends RTP to the callee's port
    assert call.stream_remote and call.stream_remote.startswith("127.0.0.1:")
    call.end()
    ua.wait_for(lambda: call.disconnected and callee.disconnected, 5, "both legs down")
    heard_by_a = call.stop_recording()
    heard_by_b = callee.stop_recording()
    assert audio.duration(heard_by_a) >= 3.0
    audio.assert_hears(heard_by_a, 1000, start=0.5)
    audio.assert_not_hears(heard_by_a, 400, start=0.5)
    audio.assert_hears(heard_by_b, 400, start=0.5)
    audio.assert_not_hears(heard_by_b, 1000, start=0.5)
    audio.assert_no_gaps(heard_by_a, start=0.5, end=audio.duration(heard_by_a) - 0.3)
    audio.assert_no_gaps(heard_by_b, start=0.5, end=audio.duration(heard_by_b) - 0.3)
    # tone level survives G.711 at about the sent level
    lv = audio.tone_levels(heard_by_a, [1000], 0.5)[1000]
    assert -14.5 <= lv <= -9.5, lv


def test_p2p_callee_hangs_up(ua, make_phone, tones):
    a, b, call = _p2p_call(make_phone, tones)
    callee = _two_way(ua, a, b, call, seconds=0.5)
    callee.end()
    ua.wait_for(lambda: call.disconnected and callee.disconnected, 5, "both legs down")
    assert "CONFIRMED" in call.states


def test_p2p_busy(ua, make_phone, tones):
    a, b, call = _p2p_call(make_phone, tones, answer=486)
    ua.wait_for(lambda: call.disconnected, 5, "caller disconnected")
    assert call.last_code == 486


def test_p2p_cancel_before_answer(ua, make_phone, tones):
    a, b, call = _p2p_call(make_phone, tones, answer=None)
    callee = b.incoming()
    ua.wait_for(lambda: call.last_code == 180, 5, "ringing")
    call.end()  # CANCEL
    ua.wait_for(lambda: call.disconnected and callee.disconnected, 5, "both legs down")
    assert call.last_code == 487
    assert "CONFIRMED" not in callee.states


def test_p2p_hold_resume_keeps_audio(ua, make_phone, tones, tmp_path):
    a, b, call = _p2p_call(make_phone, tones)
    callee = _two_way(ua, a, b, call, seconds=1.0)
    call.hold()
    ua.wait_for(lambda: not call.media_active, 5, "local hold")
    ua.poll(0.5)
    call.unhold()
    ua.wait_for(lambda: call.media_active and callee.media_active, 5, "resumed")
    ua.poll(0.3)
    after_a = call.record(tmp_path / "a-after-resume.wav")
    after_b = callee.record(tmp_path / "b-after-resume.wav")
    ua.poll(2.5)
    call.stop_recording()
    callee.stop_recording()
    audio.assert_hears(after_a, 1000, start=0.2)
    audio.assert_hears(after_b, 400, start=0.2)
    audio.assert_no_gaps(after_a, start=0.2, end=audio.duration(after_a) - 0.2)
    assert call.state == CONFIRMED
