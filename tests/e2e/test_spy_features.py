"""The seed's monitoring feature codes with the SHIPPED dialplan and real phones:
7791/7792 (an extension's spy group in the database), 779 (PIN, then "extension",
then spy on the extension typed), 778 (PIN, then scan every call with `*`), and
the inbound monitored range (trunk calls to 110-160 get SPYGROUP=spygrp).

Prompts are recognised by cross-correlating the recording with sounds/en/*.wav.
"""

import time

import pytest

import audio
import baresip
import phone as phone_mod
from prompts import MATCH, find_prompt, prompt_seconds, speech_fraction, wait_prompt
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    baresip_ext,
    bye_from_pbx,
    carrier_trunk,
    count_log,
    fmt,
    inbound_call,
    registered_phone,
    sha,
    wait_log,
)

pytestmark = [pytest.mark.needs_pbx, pytest.mark.pbx_args(*SOUNDS_ARGS)]
shipped = pytest.mark.pbx_dialplan(path=str(SHIPPED))

PRESENT, ABSENT = audio.PRESENT_DBFS, audio.ABSENT_DBFS


def spy_levels(wav, start, end, freqs):
    return audio.tone_levels(wav, freqs, start, end)


# ---- 7791 / 7792 ----------------------------------------------------------
@shipped
def test_7791_sets_and_7792_clears_spygroup(pbx, ua, make_phone):
    ext = registered_phone(pbx, make_phone, "110")
    offset = ua.log_offset()
    c = ext.call("7791")
    ua.wait_for(lambda: c.disconnected, 10, "7791 to play 'activated' and hang up")
    assert 200 in c.codes, c
    assert bye_from_pbx(ua.log_since(offset)), "7791 did not end with a BYE from the PBX"
    r = pbx.cli("db", "get", "spygrp", "110", check=False)
    assert r.returncode == 0 and r.stdout.strip() == "spyon", f"spygrp/110 after 7791: {r}"
    wav = c.stop_recording()
    t, score = find_prompt(wav, "activated")
    assert score >= MATCH, f"'activated' not heard (best {score:.2f} at {t})"
    assert t >= 0.7, f"'activated' at {t:.2f}s: before the Wait(1)?"
    assert speech_fraction(wav, t, t + 0.8) >= 0.5

    c2 = ext.call("7792")
    ua.wait_for(lambda: c2.disconnected, 10, "7792 to play 'de-activated' and hang up")
    r = pbx.cli("db", "get", "spygrp", "110", check=False)
    assert r.returncode == 1, f"spygrp/110 still set after 7792: {r}"
    t, score = find_prompt(c2.stop_recording(), "de-activated")
    assert score >= MATCH, f"'de-activated' not heard (best {score:.2f} at {t})"


# ---- 779 -----------------------------------------------------------------
@shipped
def test_779_pin_then_extension_spies_on_it(pbx, ua, make_phone, tones):
    pbx.cli("db", "put", "spygroup", "pin_779", sha("4567"))
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")

    started = count_log(pbx, "spy session started")
    s = sup.call("779")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "779 answered")
    t_pass = wait_prompt(ua, s, "agent-pass", 0.0, 6)
    s.send_digits("4567#")
    t_sent = at(s, time.monotonic())
    t_thanks = wait_prompt(ua, s, "auth-thankyou", t_pass + 0.5, 8)
    t_ext = wait_prompt(ua, s, "extension", t_thanks + 0.3, 8)
    assert t_ext > t_sent
    ua.poll(1.0)  # let the prompt finish
    s.send_digits("110")
    t_spy = wait_log(ua, pbx, "spy session started", started, 15, "779's ChanSpy on 110")
    ua.poll(3.0)
    t_end = time.monotonic()
    assert s.confirmed and ccall.confirmed and aleg.confirmed
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "supervisor hangs up")
    lv = spy_levels(s.stop_recording(), at(s, t_spy + 0.6), at(s, t_end), (400, 1000, 1500))
    assert lv[400] >= PRESENT and lv[1000] >= PRESENT, f"779 supervisor does not hear the call: {fmt(lv)}"
    assert lv[1500] <= ABSENT, f"supervisor hears itself: {fmt(lv)}"
    lines = [ln for ln in pbx.log_text().splitlines() if "spy session started" in ln]
    assert lines and "SIP/110-" in lines[-1], f"the spy session is not on 110's channel: {lines[-1:]}"


@shipped
def test_779_wrong_pin_three_times_hangs_up(pbx, ua, make_phone):
    pbx.cli("db", "put", "spygroup", "pin_779", sha("4567"))
    sup = registered_phone(pbx, make_phone, "201", supervisor=True)
    offset = ua.log_offset()
    s = sup.call("779")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "779 answered")
    after = 0.0
    for attempt in range(3):
        t = wait_prompt(ua, s, "agent-pass", after, 9)
        assert s.confirmed, f"hung up before attempt {attempt + 1}"
        s.send_digits("1111#")
        after = t + 0.8
        t_bad = wait_prompt(ua, s, "auth-incorrect", after, 8)
        # auth-incorrect itself says agent-pass's words ("...please enter your
        # password..."): look for the next prompt after it has played
        after = t_bad + prompt_seconds("auth-incorrect") - 0.2
    ua.wait_for(lambda: s.disconnected, 10, "the PBX to hang up after three wrong PINs")
    assert bye_from_pbx(ua.log_since(offset)), "no BYE from the PBX"
    wav = s.stop_recording()
    t, score = find_prompt(wav, "vm-goodbye", start=after)
    assert score >= MATCH, f"'vm-goodbye' not heard before the hangup (best {score:.2f})"
    assert "spy session started" not in pbx.log_text(), "spied without the PIN"
    assert pbx.healthy()


# ---- 778 -----------------------------------------------------------------
@shipped
@pytest.mark.needs_baresip
def test_778_pin_then_scan_with_star(pbx, ua, make_phone, tones, tmp_path):
    """Two calls up: trunk (400) -> 110 (1000), and 120 (600) -> 121 (2000). 121 is
    baresip: this pjsua2 build holds only 4 calls per process (see phone.MAX_CALLS)
    and the supervisor needs the fifth leg."""
    if not baresip.available():
        pytest.skip("baresip with the ausine module is not installed")
    t600 = phone_mod.wav_tone(tmp_path / "tone600.wav", 600)
    pbx.cli("db", "put", "spygroup", "pin_778", sha("4544"))
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    a120 = registered_phone(pbx, make_phone, "120", t600)
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    b121 = baresip_ext(pbx, ua, tmp_path / "baresip-121", "121", 2000)
    try:
        _scan_778(pbx, ua, client, agent, a120, sup)
    finally:
        b121.stop()


def _scan_778(pbx, ua, client, agent, a120, sup):
    inbound_call(ua, pbx, client, agent, "110")
    cb = a120.call("121")
    ua.wait_for(lambda: cb.confirmed and cb.media_active, 10, "baresip 121 to answer 120")
    calls = {"A (400+1000)": (400, 1000), "B (600+2000)": (600, 2000)}
    freqs = (400, 1000, 600, 2000, 1500)
    s = None

    def heard(t_from, t_to):
        lv = spy_levels(s.rec_path, at(s, t_from), at(s, t_to), freqs)
        which = [k for k, (f1, f2) in calls.items() if lv[f1] >= PRESENT and lv[f2] >= PRESENT]
        silent = [k for k, (f1, f2) in calls.items() if lv[f1] <= ABSENT and lv[f2] <= ABSENT]
        return which, silent, lv

    started = count_log(pbx, "spy session started")
    s = sup.call("778")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "778 answered")
    wait_prompt(ua, s, "agent-pass", 0.0, 6)
    s.send_digits("4544#")
    t1 = wait_log(ua, pbx, "spy session started", started, 12, "778's first spy session")
    ua.poll(2.5)
    first, silent, lv = heard(t1 + 0.6, time.monotonic())
    assert len(first) == 1 and len(silent) == 1, f"first session: hears {first}: {fmt(lv)}"
    seen = [first[0]]
    for press in range(3):  # a call has two channels: at most 3 presses reach the other call
        n = count_log(pbx, "spy session started")
        s.send_digits("*")
        t = wait_log(ua, pbx, "spy session started", n, 8, "the next spy session after '*'")
        ua.poll(2.5)
        now, silent, lv = heard(t + 0.6, time.monotonic())
        assert len(now) == 1 and len(silent) == 1, f"after '*' #{press + 1}: hears {now}: {fmt(lv)}"
        seen.append(now[0])
        if now[0] != first[0]:
            break
    print("778 sessions heard:", seen)
    assert set(seen) == set(calls), f"'*' never moved to the other call: {seen}"
    assert seen[1] != seen[0], f"the first '*' stayed on the same call (its other channel): {seen}"
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "supervisor hangs up")


# ---- inbound monitored range -------------------------------------------------
SPYTEST = f"""#include "{SHIPPED}"

; test only: a supervisor context that spies on group spygrp
[spytest]
exten => 555,1,Answer()
 same => n,ChanSpy(,g(spygrp)q)
 same => n,Hangup()
"""


@pytest.mark.pbx_dialplan(text=SPYTEST)
def test_inbound_to_110_is_monitorable_by_group(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "202", tones[1500], context="spytest", supervisor=True)
    inbound_call(ua, pbx, client, agent, "110")
    started = count_log(pbx, "spy session started")
    s = sup.call("555")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "555 answered")
    t = wait_log(ua, pbx, "spy session started", started, 6, "ChanSpy(,g(spygrp)q) to find 110's call")
    ua.poll(3.0)
    lv = spy_levels(s.rec_path, at(s, t + 0.6), at(s, time.monotonic()), (400, 1000, 1500))
    assert lv[400] >= PRESENT and lv[1000] >= PRESENT and lv[1500] <= ABSENT, fmt(lv)


@pytest.mark.pbx_dialplan(text=SPYTEST)
def test_inbound_to_170_is_not_in_the_group(pbx, ua, make_phone, tones, tmp_path):
    t2000 = phone_mod.wav_tone(tmp_path / "tone2000.wav", 2000)
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent170 = registered_phone(pbx, make_phone, "170", t2000)
    agent110 = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "202", tones[1500], context="spytest", supervisor=True)
    c170, l170 = inbound_call(ua, pbx, client, agent170, "170")
    started = count_log(pbx, "spy session started")
    s = sup.call("555")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "555 answered")
    ua.poll(4.0)
    t_quiet_end = time.monotonic()
    assert count_log(pbx, "spy session started") == started, "ChanSpy g(spygrp) spied on the call to 170"
    lv = spy_levels(s.rec_path, at(s, s.rec_started + 0.5), at(s, t_quiet_end), (400, 1000, 1500, 2000))
    assert all(v <= ABSENT for v in lv.values()), f"supervisor hears something: {fmt(lv)}"
    # control: the same supervisor finds a call to 110 (170's call ended first:
    # this pjsua2 build holds 4 calls per process, see phone.MAX_CALLS)
    c170.end()
    ua.wait_for(lambda: c170.disconnected and l170.disconnected, 5, "170's call to end")
    inbound_call(ua, pbx, client, agent110, "110")
    t = wait_log(ua, pbx, "spy session started", started, 6, "ChanSpy to find the call to 110")
    ua.poll(3.0)
    lv = spy_levels(s.rec_path, at(s, t + 0.6), at(s, time.monotonic()), (400, 1000, 1500, 2000))
    assert lv[400] >= PRESENT and lv[1000] >= PRESENT, f"110's call not heard: {fmt(lv)}"
    assert lv[2000] <= ABSENT, f"170's agent heard: {fmt(lv)}"
