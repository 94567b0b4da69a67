"""Hold and music on hold with real phones and the SHIPPED dialplan: the client (a
trunk, 400 Hz) calls agent 110 (1000 Hz) and puts it on hold (pjsua2 re-INVITE
with a=sendonly): the agent hears the shipped default music on hold instead of the
client, until the client resumes. A supervisor who whispers (201, 1500 Hz) is heard
by the agent over the music, and with a client that sends nothing at all; the
client never hears the whisper."""

import time

import pytest

import audio
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    carrier_trunk,
    check,
    count_log,
    fmt,
    inbound_call,
    registered_phone,
    wait_log,
)

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500)
MUSIC = -32.0  # the music reads about -24 dBFS; a party's tone alone reads < -60
NO_MUSIC = -50.0


def hold_and_wait(ua, pbx, call, held):
    n = count_log(pbx, "hold changed")
    call.hold() if held else call.unhold()
    wait_log(ua, pbx, "hold changed", n, 5, "the PBX to see the hold change")
    return time.monotonic()


def test_the_held_party_hears_music_until_resumed(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    ua.poll(2.0)
    t_hold = hold_and_wait(ua, pbx, ccall, True)
    ua.poll(3.0)
    t_resume = hold_and_wait(ua, pbx, ccall, False)
    ua.poll(3.0)
    t_end = time.monotonic()
    assert aleg.confirmed and ccall.confirmed
    awav = aleg.stop_recording()
    m = 0.6
    held = (at(aleg, t_hold + m), at(aleg, t_resume))
    after = (at(aleg, t_resume + m), at(aleg, t_end))
    music_held = audio.music_level(awav, *held)
    music_after = audio.music_level(awav, *after)
    lv_held = audio.tone_levels(awav, FREQS, *held)
    lv_after = audio.tone_levels(awav, FREQS, *after)
    print("held", fmt(lv_held), f"music {music_held:.1f}", "after", fmt(lv_after), f"music {music_after:.1f}")
    assert music_held >= MUSIC, f"the held agent hears no music ({music_held:.1f} dBFS)"
    check("agent", lv_held, [], [400, 1000, 1500], "while held")
    assert music_after <= NO_MUSIC, f"music still playing after the resume ({music_after:.1f} dBFS)"
    check("agent", lv_after, [400], [1000, 1500], "after the resume")


def test_whisper_is_heard_over_music_and_with_a_silent_client(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, None)  # sends no audio at all
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    started = count_log(pbx, "spy session started")
    scall = sup.call("*223110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*223110 answered")
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the whisper to start")
    ua.poll(2.5)
    t_hold = hold_and_wait(ua, pbx, ccall, True)
    ua.poll(3.0)
    t_end = time.monotonic()
    assert aleg.confirmed and ccall.confirmed and scall.confirmed
    awav, cwav = aleg.stop_recording(), ccall.stop_recording()
    m = 0.6
    silent = (at(aleg, t_spy + m), at(aleg, t_hold))
    held = (at(aleg, t_hold + m), at(aleg, t_end))
    lv_silent = audio.tone_levels(awav, FREQS, *silent)
    lv_held = audio.tone_levels(awav, FREQS, *held)
    music_held = audio.music_level(awav, *held)
    print("silent client", fmt(lv_silent), "held", fmt(lv_held), f"music {music_held:.1f}")
    check("agent", lv_silent, [1500], [400, 1000], "whispered to, silent client")
    check("agent", lv_held, [1500], [400, 1000], "whispered to, held by the client")
    assert music_held >= MUSIC, f"the held agent hears no music under the whisper ({music_held:.1f})"
    lv_client = audio.tone_levels(cwav, FREQS, at(ccall, t_spy + m), at(ccall, t_hold))
    check("client", lv_client, [1000], [1500], "while 201 whispers")
