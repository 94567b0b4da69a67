"""baresip as a second, independent user agent (Debian's baresip 1.0.0)."""

import pytest

import audio
import baresip
from conftest import SECRETS, free_port, free_udp_range

pytestmark = [
    pytest.mark.needs_baresip,
    pytest.mark.skipif(not baresip.available(), reason="baresip (with ausine) is not installed"),
]


@pytest.fixture
def make_baresip(tmp_path, request):
    made = []

    def factory(ext, **kw):
        rtp = free_udp_range(size=40, lo=50000, hi=59000)
        b = baresip.Baresip(tmp_path / f"baresip-{ext}", ext, sip_port=free_port(), rtp_range=rtp, **kw)
        made.append(b)
        return b.start()

    yield factory
    for b in made:
        b.stop()


def _call_and_check(ua, caller, target, bs, seconds=3.5):
    call = caller.call(target)
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "baresip to answer")
    ua.poll(seconds)
    call.end()
    ua.wait_for(lambda: call.disconnected, 5, "call down")
    bs.wait_log(r"session closed|terminated", 5, pump=ua.poll)
    heard_by_pjsua = call.stop_recording()
    assert audio.duration(heard_by_pjsua) >= 3.0
    audio.assert_hears(heard_by_pjsua, 1000, start=0.5)
    audio.assert_not_hears(heard_by_pjsua, 400, start=0.5)
    audio.assert_no_gaps(heard_by_pjsua, start=0.5, end=audio.duration(heard_by_pjsua) - 0.3)
    dumps = bs.received_wavs()
    assert len(dumps) == 1, dumps
    audio.assert_hears(dumps[0], 400, start=0.5)
    audio.assert_not_hears(dumps[0], 1000, start=0.5)
    return call


def test_baresip_harness_p2p(ua, make_phone, make_baresip, tones):
    """No PBX: proves the baresip helper (tone out, auto-answer, received-audio dump)."""
    bs = make_baresip("102", tone=1000)
    a = make_phone("101", tone=tones[400])
    call = _call_and_check(ua, a, f"sip:102@127.0.0.1:{bs.sip_port}", bs)
    assert call.stream_remote.startswith("127.0.0.1:")


@pytest.mark.needs_pbx
# baresip 1.0.0 (libre) aborts digest auth with ENOSYS when any challenge header
# names an algorithm other than MD5: offer MD5 alone (see baresip.py).
@pytest.mark.pbx_args("--digest-algorithms", "MD5")
def test_pjsua_calls_baresip_through_pbx(pbx, ua, make_phone, make_baresip, tones):
    bs = make_baresip("102", secret=SECRETS["102"], server=pbx.sip_addr, tone=1000)
    bs.wait_registered(10)
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert a.register() == 200
    call = _call_and_check(ua, a, "102", bs)
    host, port = call.stream_remote.rsplit(":", 1)
    assert host == "127.0.0.1" and pbx.rtp_lo <= int(port) <= pbx.rtp_hi, call.stream_remote


@pytest.mark.needs_pbx
@pytest.mark.pbx_args("--digest-algorithms", "MD5", "--rtp-timeout", "4")
def test_a_frozen_phone_is_hung_up_after_the_rtp_timeout(pbx, ua, make_phone, make_baresip, tones):
    """baresip answers, then freezes (SIGSTOP: no more RTP, no BYE, as a phone that
    lost power or network): the PBX hangs the call up after --rtp-timeout, so the
    caller is not left in silence and the ports come back."""
    import signal
    import time

    bs = make_baresip("102", secret=SECRETS["102"], server=pbx.sip_addr, tone=1000)
    bs.wait_registered(10)
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert a.register() == 200
    call = a.call("102")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "baresip to answer")
    ua.poll(2.0)
    assert not call.disconnected, "a call with media both ways stays up"
    bs.proc.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        ua.wait_for(lambda: call.disconnected, 12, "the PBX to hang up the frozen call")
        took = time.monotonic() - frozen
        # 4 s of silence, noticed within the 2 s the counters are read at.
        assert 3.5 <= took <= 8.0, f"hung up {took:.1f} s after the phone froze"
        assert "RTP timeout" in pbx.log_text()
    finally:
        bs.proc.send_signal(signal.SIGCONT)
