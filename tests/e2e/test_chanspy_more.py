"""More ChanSpy with real phones: switching modes by DTMF (option `d`), 779 with a
wrong then a right extension, the spied agent hanging up (with and without `E`),
the supervisor hanging up, and two supervisors on one call.

The client is a trunk (400 Hz) calling agent 110 (1000 Hz); supervisors send 1500
Hz (and 600 Hz for a second one). The shipped dialplan is included, plus a test
context [spytest] for supervisors with the ChanSpy options under test.
"""

import time

import pytest

import audio
import baresip
import phone as phone_mod
from prompts import MATCH, find_prompt, prompt_seconds, wait_prompt
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    baresip_ext,
    bye_from_pbx,
    carrier_trunk,
    check,
    count_log,
    fmt,
    inbound_call,
    registered_phone,
    wait_log,
)

SPYMORE = f"""#include "{SHIPPED}"

; test only: supervisors whose context is spytest
[spytest]
; DTMF 4/5/6 switch listen/whisper/barge
exten => 555,1,Answer()
 same => n,ChanSpy(SIP/110,qd)
 same => n,Hangup()
; plain: stays when the spied call ends
exten => 556,1,Answer()
 same => n,ChanSpy(SIP/110,q)
 same => n,Hangup()
; E: leaves ChanSpy when the spied channel hangs up, and the dialplan goes on
exten => 557,1,Answer()
 same => n,ChanSpy(SIP/110,qE)
 same => n,Playback(vm-goodbye)
 same => n,Hangup()
"""

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(text=SPYMORE),
]

FREQS = (400, 1000, 1500)
M = 0.6  # margin after an event before a level window starts (jitter buffers)


def levels(call, t_from, t_to, freqs=FREQS):
    """Tone levels in ``call``'s live recording between two monotonic times."""
    return audio.tone_levels(call.rec_path, freqs, at(call, t_from), at(call, t_to))


def spy_call(ua, pbx, sup, number, timeout=8):
    """``sup`` dials ``number``; wait for the server's next spy session; return
    (call, monotonic time the session started)."""
    started = count_log(pbx, "spy session started")
    s = sup.call(number)
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, f"{number} answered")
    t = wait_log(ua, pbx, "spy session started", started, timeout, f"{number}'s spy session to start")
    return s, t


def audit(pbx):
    r = pbx.cli("audit", "list")
    print(r.stdout)
    return r.stdout


def session_header(out, supervisor):
    lines = [ln for ln in out.splitlines() if not ln.startswith(" ") and f" {supervisor} (SIP/{supervisor}-" in ln]
    assert lines, f"no audit session of supervisor {supervisor}:\n{out}"
    return lines


# ---- (a) DTMF mode switching -------------------------------------------------
def test_dtmf_switches_listen_whisper_barge(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "202", tones[1500], context="spytest", supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    t0 = max(ccall.rec_started, aleg.rec_started)
    s, t_spy = spy_call(ua, pbx, sup, "555")

    # (digit, mode, agent hears the supervisor, client hears the supervisor)
    phases = [(None, "listen", False, False)]
    phases += [("5", "whisper", True, False), ("6", "barge", True, True), ("4", "listen", False, False)]
    windows = []
    t_start = t_spy
    for digit, mode, agent_hears, client_hears in phases:
        if digit is not None:
            n = count_log(pbx, "spy mode changed")
            s.send_digits(digit)
            t_start = wait_log(ua, pbx, "spy mode changed", n, 5, f"the switch to {mode} after '{digit}'")
        ua.poll(3.0)
        windows.append((digit, mode, agent_hears, client_hears, t_start + M, time.monotonic()))
    t_end = time.monotonic()
    assert ccall.confirmed and aleg.confirmed and s.confirmed, "a call dropped"
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "supervisor hangs up")

    for digit, mode, agent_hears, client_hears, a, b in windows:
        phase = f"after {digit!r} ({mode})" if digit else "start (listen)"
        lv_s, lv_a, lv_c = levels(s, a, b), levels(aleg, a, b), levels(ccall, a, b)
        print(phase, "supervisor:", fmt(lv_s), "| agent:", fmt(lv_a), "| client:", fmt(lv_c))
        check("supervisor", lv_s, [400, 1000], [1500], phase)
        check("agent", lv_a, [400, 1500] if agent_hears else [400], [1000] if agent_hears else [1000, 1500], phase)
        check(
            "client", lv_c, [1000, 1500] if client_hears else [1000], [400] if client_hears else [400, 1500], phase
        )
    audio.assert_no_gaps(ccall.rec_path, at(ccall, t0 + M), at(ccall, t_end))
    audio.assert_no_gaps(aleg.rec_path, at(aleg, t0 + M), at(aleg, t_end))

    out = audit(pbx)
    header = session_header(out, "202")
    assert len(header) == 1 and "listen" in header[0] and "SIP/110-" in header[0], header
    changes = [ln.split()[-1] for ln in out.splitlines() if ln.startswith(" ") and " mode " in ln]
    assert changes == ["whisper", "barge", "listen"], f"audit mode changes {changes}:\n{out}"


# ---- (b) 779: wrong extension, then the right one ----------------------------
@pytest.mark.pbx_dialplan(path=str(SHIPPED))
def test_779_wrong_extension_then_right(pbx, ua, make_phone, tones):
    pbx.cli("pin", "set", "779", "4567")  # argon2id, as the README sets it
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")

    started = count_log(pbx, "spy session started")
    s = sup.call("779")
    ua.wait_for(lambda: s.confirmed and s.media_active, 10, "779 answered")
    t_pass = wait_prompt(ua, s, "agent-pass", 0.0, 6)
    s.send_digits("4567#")
    t_thanks = wait_prompt(ua, s, "auth-thankyou", t_pass + 0.5, 8)
    t_ext = wait_prompt(ua, s, "extension", t_thanks + 0.3, 8)
    ua.poll(1.0)  # let the prompt finish
    s.send_digits("999")  # nobody's call: ChanSpy(SIP/999,S) returns at once
    t_sent = at(s, time.monotonic())
    t_inv = wait_prompt(ua, s, "invalid", max(t_sent, t_ext + prompt_seconds("extension") - 0.2), 12)
    t_ext2 = wait_prompt(ua, s, "extension", t_inv + prompt_seconds("invalid") - 0.2, 8)
    print(f"extension at {t_ext:.2f}s, 999 sent at {t_sent:.2f}s, invalid at {t_inv:.2f}s, extension again at {t_ext2:.2f}s")
    assert count_log(pbx, "spy session started") == started, "999 started a spy session"
    assert s.confirmed, "779 hung up after the wrong extension"
    ua.poll(1.0)
    s.send_digits("110")
    t_spy = wait_log(ua, pbx, "spy session started", started, 15, "779's ChanSpy on 110")
    ua.poll(3.0)
    lv = levels(s, t_spy + M, time.monotonic())
    print("779 supervisor:", fmt(lv))
    check("supervisor", lv, [400, 1000], [1500], "spying on 110")
    lines = [ln for ln in pbx.log_text().splitlines() if "spy session started" in ln]
    assert "SIP/110-" in lines[-1], f"the spy session is not on 110's channel: {lines[-1]}"
    assert ccall.confirmed and aleg.confirmed
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "supervisor hangs up")


# ---- (c) the agent hangs up while spied ----------------------------------------
def test_agent_hangup_plain_chanspy_keeps_scanning(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "202", tones[1500], context="spytest", supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    s, t_spy = spy_call(ua, pbx, sup, "556")
    ua.poll(2.0)
    lv = levels(s, t_spy + M, time.monotonic())
    check("supervisor", lv, [400, 1000], [1500], "first call")

    ended = count_log(pbx, "spy session ended")
    aleg.end()  # the agent hangs up
    ua.wait_for(lambda: aleg.disconnected and ccall.disconnected, 5, "the spied call to end")
    wait_log(ua, pbx, "spy session ended", ended, 5, "the spy session to end")
    t_gone = time.monotonic()
    ua.poll(3.0)  # ChanSpy without E stays and looks for another SIP/110 channel
    t_idle_end = time.monotonic()
    assert s.confirmed, f"the supervisor's call ended with the spied call: {s}"
    lv = levels(s, t_gone + M, t_idle_end)
    check("supervisor", lv, [], [400, 1000, 1500], "between calls")
    ended_lines = [ln for ln in pbx.log_text().splitlines() if "spy session ended" in ln]
    assert "target hung up" in ended_lines[-1], ended_lines[-1]

    started = count_log(pbx, "spy session started")
    ccall2, aleg2 = inbound_call(ua, pbx, client, agent, "110")
    t2 = wait_log(ua, pbx, "spy session started", started, 6, "ChanSpy to find the new call to 110")
    ua.poll(3.0)
    lv = levels(s, t2 + M, time.monotonic())
    print("supervisor on the second call:", fmt(lv))
    check("supervisor", lv, [400, 1000], [1500], "second call")
    assert s.confirmed and ccall2.confirmed and aleg2.confirmed
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "supervisor hangs up")


def test_agent_hangup_with_E_continues_dialplan(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "202", tones[1500], context="spytest", supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    s, t_spy = spy_call(ua, pbx, sup, "557")
    ua.poll(2.0)
    check("supervisor", levels(s, t_spy + M, time.monotonic()), [400, 1000], [1500], "spying")

    offset = ua.log_offset()
    ended = count_log(pbx, "spy session ended")
    aleg.end()
    t_gone = time.monotonic()
    wait_log(ua, pbx, "spy session ended", ended, 5, "the spy session to end")
    ua.wait_for(lambda: s.disconnected, 10, "the supervisor's call to end after Playback(vm-goodbye)")
    assert bye_from_pbx(ua.log_since(offset)), "the supervisor's call did not end with a BYE from the PBX"
    wav = s.stop_recording()
    t, score = find_prompt(wav, "vm-goodbye", start=max(0.0, at(s, t_gone)))
    print(f"vm-goodbye at {t}s, score {score:.2f}; agent hung up at {at(s, t_gone):.2f}s")
    assert score >= MATCH, f"'vm-goodbye' not heard after ChanSpy returned (best {score:.2f})"
    ended_lines = [ln for ln in pbx.log_text().splitlines() if "spy session ended" in ln]
    assert "target hung up" in ended_lines[-1], ended_lines[-1]


# ---- (d) the supervisor hangs up ----------------------------------------------
@pytest.mark.pbx_dialplan(path=str(SHIPPED))
def test_supervisor_hangup_leaves_call_untouched(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    t0 = max(ccall.rec_started, aleg.rec_started)
    ua.poll(1.5)
    s, t_spy = spy_call(ua, pbx, sup, "*224110")  # barge: both parties hear 1500
    ua.poll(3.0)
    t_during = time.monotonic()
    ended = count_log(pbx, "spy session ended")
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "the supervisor's call to end")
    t_left = wait_log(ua, pbx, "spy session ended", ended, 5, "the spy session to end")
    ua.poll(3.0)
    t_end = time.monotonic()
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped with the supervisor"

    check("client", levels(ccall, t_spy + M, t_during), [1000, 1500], [400], "barge")
    check("agent", levels(aleg, t_spy + M, t_during), [400, 1500], [1000], "barge")
    check("client", levels(ccall, t_left + M, t_end), [1000], [400, 1500], "after the supervisor left")
    check("agent", levels(aleg, t_left + M, t_end), [400], [1000, 1500], "after the supervisor left")
    audio.assert_no_gaps(ccall.rec_path, at(ccall, t0 + M), at(ccall, t_end))
    audio.assert_no_gaps(aleg.rec_path, at(aleg, t0 + M), at(aleg, t_end))
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected and aleg.disconnected, 5, "the monitored call to end")

    header = session_header(audit(pbx), "201")
    assert len(header) == 1, header
    assert "barge" in header[0], header[0]
    assert header[0].rstrip().endswith("supervisor hung up"), f"audit record: {header[0]!r}"


# ---- (e) two supervisors on one call -------------------------------------------
@pytest.mark.pbx_dialplan(path=str(SHIPPED))
@pytest.mark.needs_baresip
def test_two_supervisors_listen_to_one_call(pbx, ua, make_phone, tones, tmp_path):
    """The agent is baresip (1000 Hz): client, agent and two supervisors on pjsua2
    would fill this pjsua2 build's 4 calls per process exactly (phone.MAX_CALLS);
    with the agent on baresip there is room, and an independent UA checks what the
    agent hears."""
    if not baresip.available():
        pytest.skip("baresip with the ausine module is not installed")
    t600 = phone_mod.wav_tone(tmp_path / "tone600.wav", 600)
    freqs = (400, 1000, 1500, 600)
    client = carrier_trunk(pbx, make_phone, tones[400])
    sup1 = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    sup2 = registered_phone(pbx, make_phone, "203", t600, supervisor=True)
    agent = baresip_ext(pbx, ua, tmp_path / "baresip-110", "110", 1000)
    try:
        ccall = client.call(f"sip:110@{pbx.sip_addr}")
        ua.wait_for(lambda: ccall.confirmed and ccall.media_active, 10, "baresip 110 to answer the trunk call")
        t0 = ccall.rec_started
        s1, t1 = spy_call(ua, pbx, sup1, "*222110")
        s2, t2 = spy_call(ua, pbx, sup2, "*222110")
        ua.poll(3.5)
        t_both = time.monotonic()
        assert ccall.confirmed and s1.confirmed and s2.confirmed
        lines = [ln for ln in pbx.log_text().splitlines() if "spy session started" in ln]
        assert all("SIP/110-" in ln for ln in lines[-2:]), lines[-2:]

        lv1, lv2 = levels(s1, t2 + M, t_both, freqs), levels(s2, t2 + M, t_both, freqs)
        lvc = levels(ccall, t2 + M, t_both, freqs)
        print("sup1:", fmt(lv1), "| sup2:", fmt(lv2), "| client:", fmt(lvc))
        check("supervisor 201", lv1, [400, 1000], [1500, 600], "both listening")
        check("supervisor 203", lv2, [400, 1000], [1500, 600], "both listening")
        check("client", lvc, [1000], [400, 1500, 600], "both listening")
        audio.assert_no_gaps(ccall.rec_path, at(ccall, t0 + M), at(ccall, t_both))
        s1.end()
        s2.end()
        ua.wait_for(lambda: s1.disconnected and s2.disconnected, 5, "the supervisors hang up")
        ccall.end()
        ua.wait_for(lambda: ccall.disconnected, 5, "the client hangs up")
        agent.wait_log(r"session closed|terminated", 5, pump=ua.poll)
    finally:
        agent.stop()
    dumps = agent.received_wavs()
    assert len(dumps) == 1, dumps
    lva = audio.tone_levels(dumps[0], freqs, 0.5, audio.duration(dumps[0]) - 0.5)
    print("agent (baresip):", fmt(lva))
    check("agent", lva, [400], [1000, 1500, 600], "whole call")
    out = audit(pbx)
    assert len(session_header(out, "201")) == 1 and len(session_header(out, "203")) == 1
