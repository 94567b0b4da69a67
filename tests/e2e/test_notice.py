"""Notice to monitored parties, by their spy group's policy (`spygroup group notice`),
with real phones and the SHIPPED dialplan. The client (a trunk, 400 Hz) calls agent
110 (1000 Hz), who is in group `sales`; supervisor 201 (1500 Hz) monitors.

- `agent`: a 1400 Hz beep to the agent when monitoring starts, and a reminder every
  N seconds (`--every`); the client hears none;
- `both`: the beep to both, also at each mode change;
- `announce`: "this call is being monitored" to both;
- `none` (the default): nobody is told, as in Asterisk.
The supervisor's own ChanSpy beep (`q` silences it) is another matter."""

import time

import pytest

import audio
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    add_ext,
    at,
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

NOTICE_HZ = 1400
HEARD = -30.0


def beeps(wav, start, end, freq=NOTICE_HZ, window=0.05):
    """Start times (s) of the bursts of ``freq`` heard in [start, end)."""
    pcm, rate = audio.read_wav(wav)
    step = int(window * rate)
    a, b = int(start * rate), min(len(pcm), int(end * rate))
    out, on = [], False
    for i in range(a, b - step + 1, step):
        loud = audio.goertzel_dbfs(pcm[i : i + step], rate, freq) >= HEARD
        if loud and not on:
            out.append(round(i / rate, 2))
        on = loud
    return out


def floor(pbx, make_phone, tones, agent_tone=1000, client_tone=400):
    add_ext(pbx, "110")
    pbx.cli("group", "add", "sales")
    pbx.cli("group", "member", "add", "sales", "110")
    client = carrier_trunk(pbx, make_phone, tones.get(client_tone))
    agent = registered_phone(pbx, make_phone, "110", tones.get(agent_tone), exists=True)
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    return client, agent, sup


def spy(ua, pbx, sup, code):
    started = count_log(pbx, "spy session started")
    scall = sup.call(code)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, f"{code} answered")
    return scall, wait_log(ua, pbx, "spy session started", started, 8, "the spy session")


def test_agent_notice_beeps_the_agent_only_and_reminds(pbx, ua, make_phone, tones):
    client, agent, sup = floor(pbx, make_phone, tones)
    pbx.cli_live("group", "notice", "sales", "agent", "--every", "2")
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    ua.poll(1.5)
    scall, t_spy = spy(ua, pbx, sup, "*222110")
    ua.poll(5.0)
    t_end = time.monotonic()
    awav, cwav = aleg.stop_recording(), ccall.stop_recording()
    heard = beeps(awav, at(aleg, t_spy - 0.5), at(aleg, t_end))
    print("agent beeps at", heard, "spy at", at(aleg, t_spy))
    # one at the start, then every 2 s: 3 in 5 s (start, +2, +4)
    assert 3 <= len(heard) <= 4, heard
    assert heard[0] - at(aleg, t_spy) < 0.6, f"first beep {heard[0]}, session at {at(aleg, t_spy)}"
    assert all(1.6 <= b - a <= 2.4 for a, b in zip(heard, heard[1:])), heard
    assert beeps(cwav, at(ccall, t_spy - 0.5), at(ccall, t_end)) == [], "the client heard the agent's notice"
    # before the supervisor came: no beep at all
    assert beeps(awav, 0.5, at(aleg, t_spy) - 0.5) == []


def test_both_notice_at_start_and_mode_change(pbx, ua, make_phone, tones):
    client, agent, sup = floor(pbx, make_phone, tones)
    pbx.cli_live("group", "notice", "sales", "both")
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    scall, t_spy = spy(ua, pbx, sup, "*225110")
    ua.poll(2.0)
    n = count_log(pbx, "spy mode changed")
    scall.send_digits("5")
    t_mode = wait_log(ua, pbx, "spy mode changed", n, 5, "the switch to whisper")
    ua.poll(2.0)
    t_end = time.monotonic()
    for who, call in (("agent", aleg), ("client", ccall)):
        wav = call.stop_recording()
        heard = beeps(wav, at(call, t_spy - 0.5), at(call, t_end))
        print(who, "beeps at", heard, "spy", at(call, t_spy), "mode", at(call, t_mode))
        assert len(heard) == 2, f"{who}: {heard}"
        assert abs(heard[0] - at(call, t_spy)) < 0.6 and abs(heard[1] - at(call, t_mode)) < 0.6, heard


def test_announcement_to_both_and_none_by_default(pbx, ua, make_phone, tones):
    # silent parties, so the announcement is the only sound either hears
    client, agent, sup = floor(pbx, make_phone, {1500: tones[1500]}, agent_tone=None, client_tone=None)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    # none (the default): nothing at the start
    scall, t_spy = spy(ua, pbx, sup, "*222110")
    ua.poll(2.0)
    n = count_log(pbx, "spy session ended")
    scall.end()
    wait_log(ua, pbx, "spy session ended", n, 5, "the first session to end")
    pbx.cli_live("group", "notice", "sales", "announce")
    scall, t_spy2 = spy(ua, pbx, sup, "*222110")
    ua.poll(2.5)
    t_end = time.monotonic()
    for who, call in (("agent", aleg), ("client", ccall)):
        wav = call.stop_recording()
        quiet = audio.level_dbfs(audio.read_wav(wav)[0][int(at(call, t_spy) * 8000) : int(at(call, t_spy + 1.8) * 8000)])
        spoken = audio.gaps(wav, at(call, t_spy2), at(call, t_spy2 + 1.5), threshold=-40.0)
        print(who, f"level after the first session started {quiet:.1f} dBFS; quiet windows during the announcement {spoken}")
        assert quiet < -45.0, f"{who} heard something although the policy was none ({quiet:.1f} dBFS)"
        assert len(spoken) <= 6, f"{who}: the announcement was not heard ({spoken})"
