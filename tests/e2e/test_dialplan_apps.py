"""Dialplan applications driven by real phones: Playback, Read with DTMF (RFC 4733
and SIP INFO), an application spygroup does not have, and `spygroup dialplan check`.

Every call runs through a small test dialplan written to the server's work
directory; prompts come from the repository's sounds/.
"""

import subprocess

import pytest

import audio
from conftest import REPO, spygroup_bin
from prompts import MATCH, find_prompt, speech_fraction, tone_track, wait_until
from spysetup import bye_from_pbx

pytestmark = [pytest.mark.needs_pbx, pytest.mark.pbx_args("--sounds", str(REPO / "sounds"))]

APPS_DIALPLAN = """
[from-internal]
exten => 200,1,Answer()
 same => n,Playback(beep)
 same => n,Playback(activated)
 same => n,Hangup()

exten => 201,1,Read(NUM,beep,3)
 same => n,Set(DB(test/got)=${NUM})
 same => n,Hangup()

; AGI is not a spygroup application: before and after answer
exten => 202,1,AGI(dialparties.agi)
 same => n,Hangup()
exten => 203,1,Answer()
 same => n,Wait(0.5)
 same => n,AGI(dialparties.agi)
 same => n,Hangup()
"""

uses_apps_dialplan = pytest.mark.pbx_dialplan(text=APPS_DIALPLAN)


@uses_apps_dialplan
def test_playback_beep_then_speech_then_bye(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)  # sends nothing: only the PBX is heard
    assert a.register() == 200
    offset = ua.log_offset()
    call = a.call("200")
    ua.wait_for(lambda: call.disconnected, 15, "the PBX to end the call after the prompts")
    assert 200 in call.codes, f"never answered: {call}"
    trace = ua.log_since(offset)
    assert bye_from_pbx(trace), "the call ended without a BYE from the PBX"
    wav = call.stop_recording()
    dur = audio.duration(wav)
    assert dur >= 1.0, f"recording only {dur:.2f}s long (beep 0.25 s + activated 0.92 s)"

    # The beep: 1000 Hz loud in 100 ms windows near the start.
    beep = [t for t, lv in tone_track(wav, 1000, 0.0, 1.0) if lv >= -20.0]
    assert beep, f"no 1000 Hz window >= -20 dBFS in the first second: {tone_track(wav, 1000, 0, 1.0)}"
    beep_end = max(beep) + 0.1
    # then speech ("activated"): loud, and not the 1000 Hz tone
    t_act, score = find_prompt(wav, "activated", start=beep_end - 0.1)
    print(f"beep windows {beep}, 'activated' at {t_act:.2f}s score {score:.2f}, recording {dur:.2f}s")
    assert score >= MATCH, f"'activated' not found after the beep (best {score:.2f} at {t_act})"
    assert t_act >= beep_end - 0.15, f"'activated' at {t_act:.2f}s, before the beep ended ({beep_end:.2f}s)"
    assert speech_fraction(wav, t_act, t_act + 0.8) >= 0.5
    after = [lv for _, lv in tone_track(wav, 1000, t_act + 0.1, t_act + 0.8)]
    assert max(after) < -25.0, f"1000 Hz still loud during the speech: {after}"
    assert pbx.healthy()


def _read_with(pbx, ua, make_phone, method):
    a = make_phone("101", server=pbx.sip_addr)
    assert a.register() == 200
    call = a.call("201")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "201 answered")
    # let the beep prompt play out, then type
    wait_until(ua, lambda: call.recorded_seconds() >= 0.6, 5, "beep played")
    call.send_digits("123", method=method)
    ua.wait_for(lambda: call.disconnected, 15, "Hangup after Read got 3 digits")
    r = pbx.cli("db", "get", "test", "got", check=False)
    assert r.returncode == 0, f"db get test got: exit {r.returncode}, {r.stdout!r} {r.stderr!r}"
    assert r.stdout.strip() == "123", f"Read stored {r.stdout!r}"
    assert pbx.healthy()


@uses_apps_dialplan
def test_read_gets_rfc4733_digits(pbx, ua, make_phone):
    _read_with(pbx, ua, make_phone, "rfc2833")


@uses_apps_dialplan
def test_read_gets_sip_info_digits(pbx, ua, make_phone):
    offset = ua.log_offset()
    _read_with(pbx, ua, make_phone, "info")
    trace = ua.log_since(offset)
    assert "INFO sip:" in trace and "application/dtmf-relay" in trace, "pjsua sent no SIP INFO"


@uses_apps_dialplan
def test_unknown_application_fails_call_cleanly(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    assert a.register() == 200

    # before answer: a final non-2xx response
    c1 = a.call("202")
    ua.wait_for(lambda: c1.disconnected, 10, "a final response to the call hitting AGI")
    assert 200 not in c1.codes, f"a call that only runs AGI was answered: {c1}"
    print("AGI before answer:", c1.last_code, c1.last_reason)
    assert c1.last_code >= 400, f"final response {c1.last_code} {c1.last_reason}"

    # after answer: a BYE from the PBX
    offset = ua.log_offset()
    c2 = a.call("203")
    ua.wait_for(lambda: c2.disconnected, 10, "a BYE after AGI failed")
    assert 200 in c2.codes, c2
    assert bye_from_pbx(ua.log_since(offset)), "no BYE from the PBX"

    # the server is fine and still runs dialplans
    assert pbx.healthy()
    c3 = a.call("200")
    ua.wait_for(lambda: c3.disconnected, 15, "the playback call to finish")
    assert 200 in c3.codes, c3
    assert "AGI" in pbx.log_text(), "the server log does not say why the call failed"


def test_dialplan_check_on_seed_warns_and_exits_0():
    seed = REPO / "tests" / "fixtures" / "extensions-seed.conf"
    r = subprocess.run(
        [str(spygroup_bin()), "dialplan", "check", str(seed)], capture_output=True, text=True, timeout=30
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"exit {r.returncode}: {out}"
    lines = [ln for ln in out.splitlines() if ":60:" in ln]
    assert lines, f"no diagnostic for line 60 (the unclosed ${{DB(}}:\n{out}"
    assert any("warning" in ln.lower() for ln in lines), lines
