"""Monitoring permissions, with the SHIPPED dialplan: supervisors are granted spy
groups and modes in the database; anything else is refused with a congestion tone
and an audit record "denied". `spygroup monitoring open` restores Asterisk's
behaviour (anyone who reaches ChanSpy may spy).

The client is a trunk (400 Hz) calling agent 110 (1000 Hz); supervisor 201 sends
1500 Hz."""

import pytest

import audio
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    carrier_trunk,
    count_log,
    inbound_call,
    registered_phone,
    wait_log,
)

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

CONGESTION = (480, 620)


def spy_attempt(ua, pbx, sup, code, seconds=3.0):
    """Dials a feature code, listens for `seconds`, hangs up; returns the recording."""
    scall = sup.call(code)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, f"{code} answered")
    ua.poll(seconds)
    if not scall.disconnected:
        scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor's call to end")
    return scall.stop_recording()


def heard(wav, freq, start=1.0):
    # The congestion tone is on half the time, at about -25 dBFS a component, so a
    # window averages about -32 dBFS; a tone that is absent reads below -60.
    return audio.tone_levels(wav, (freq,), start, audio.duration(wav))[freq] > -40.0


def audit(pbx):
    r = pbx.cli("audit", "list")
    return r.stdout


def test_no_grant_is_refused(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    denied = count_log(pbx, "monitoring refused")
    wav = spy_attempt(ua, pbx, sup, "*222110")
    wait_log(ua, pbx, "monitoring refused", denied, 5, "the refusal")
    assert heard(wav, CONGESTION[0]) and heard(wav, CONGESTION[1]), "no congestion tone"
    assert not heard(wav, 400) and not heard(wav, 1000), "a refused supervisor heard the call"
    out = audit(pbx)
    assert "DENIED" in out and "201" in out and "not a supervisor" in out, out
    assert ccall.confirmed and aleg.confirmed, "the refused attempt disturbed the call"


def test_grant_limits_groups_and_modes(pbx, ua, make_phone, tones):
    pbx.cli("group", "add", "sales")
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("group", "member", "add", "sales", "110")
    pbx.cli("supervisor", "grant", "201", "--groups", "sales", "--modes", "listen")
    inbound_call(ua, pbx, client, agent, "110")

    # Listen is granted for sales: the supervisor hears both parties.
    started = count_log(pbx, "spy session started")
    wav = spy_attempt(ua, pbx, sup, "*222110", seconds=4.0)
    wait_log(ua, pbx, "spy session started", started, 5, "the granted session")
    assert heard(wav, 400, start=2.0) and heard(wav, 1000, start=2.0), "granted listen heard nothing"

    # Whisper is not granted.
    denied = count_log(pbx, "monitoring refused")
    wav = spy_attempt(ua, pbx, sup, "*223110")
    wait_log(ua, pbx, "monitoring refused", denied, 5, "the whisper refusal")
    assert heard(wav, CONGESTION[0]), "no congestion tone for a mode not granted"
    out = audit(pbx)
    assert "may not whisper" in out, out


def test_open_monitoring_restores_asterisk_behaviour(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("monitoring", "open")
    inbound_call(ua, pbx, client, agent, "110")
    started = count_log(pbx, "spy session started")
    wav = spy_attempt(ua, pbx, sup, "*222110", seconds=4.0)
    wait_log(ua, pbx, "spy session started", started, 5, "the session")
    assert heard(wav, 400, start=2.0) and heard(wav, 1000, start=2.0)
