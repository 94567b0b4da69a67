"""The dialplan engine routing real calls: `${EXTEN:1}` in a pattern, GotoIf on an
expression, the `h` extension, Asterisk's match ordering (a literal beats `_X.`),
and `spygroup dialplan reload` against the running server.

Every test runs its own small dialplan written to the server's work directory.
"""

import re
import time

import pytest

import audio
from conftest import REPO
from prompts import MATCH, find_prompt, tone_track
from spysetup import internal_call

pytestmark = [pytest.mark.needs_pbx, pytest.mark.pbx_args("--sounds", str(REPO / "sounds"))]

ROUTING = """
[from-internal]
; (a) 9 + extension: strip the 9
exten => _9XXX,1,Dial(SIP/${EXTEN:1})
 same => n,Hangup()

; (b) 300 rings 102 when 101 calls, else 101
exten => 300,1,GotoIf($[${CALLERID(num)} = 101]?to102:to101)
 same => n(to101),Dial(SIP/101)
 same => n,Hangup()
 same => n(to102),Dial(SIP/102)
 same => n,Hangup()

; (c) answered, then waits for the caller to hang up; h records the hang-up
exten => 500,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()

exten => h,1,Set(DB(test/hangup)=${CHANNEL})
"""

routing = pytest.mark.pbx_dialplan(text=ROUTING)


def db_get(pbx, family, key):
    """The value, or None when the key is missing (exit 1)."""
    r = pbx.cli("db", "get", family, key, check=False)
    if r.returncode == 1:
        return None
    assert r.returncode == 0, f"db get {family} {key}: exit {r.returncode} {r.stdout!r} {r.stderr!r}"
    return r.stdout.strip()


def end_call(ua, call, leg):
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")


# ---- (a) ----------------------------------------------------------------
@routing
def test_9xxx_strips_the_9_and_dials(pbx, ua, registered):
    a, b = registered
    call, leg = internal_call(ua, a, b, "9102")
    ua.poll(3.8)
    end_call(ua, call, leg)
    audio.check_two_way(call.stop_recording(), leg.stop_recording())
    assert b.calls == [leg], f"102 got {len(b.calls)} calls"


# ---- (b) ----------------------------------------------------------------
@routing
def test_gotoif_routes_on_caller_id(pbx, ua, registered):
    a, b = registered  # 101 sends 400 Hz, 102 sends 1000 Hz; both auto-answer
    # 101 calls 300: $[101 = 101] is true -> 102
    call, leg = internal_call(ua, a, b, "300")
    assert not [c for c in a.calls if c.incoming], "101 rang for its own call"
    ua.poll(1.5)
    end_call(ua, call, leg)
    audio.assert_hears(call.stop_recording(), 1000, start=0.5)
    # 102 calls 300: $[102 = 101] is false -> 101
    call2, leg2 = internal_call(ua, b, a, "300")
    assert len([c for c in b.calls if c.incoming]) == 1, "102 rang for its own call"
    ua.poll(1.5)
    end_call(ua, call2, leg2)
    audio.assert_hears(call2.stop_recording(), 400, start=0.5)


# ---- (c) ----------------------------------------------------------------
@routing
def test_h_extension_runs_on_caller_hangup(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    assert a.register() == 200
    call = a.call("500")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "500 answered")
    ua.poll(1.0)
    assert db_get(pbx, "test", "hangup") is None, "h ran before the hang-up"
    call.end()
    ua.wait_for(lambda: call.disconnected, 5, "the call to end")
    seen = {}

    def stored():
        seen["v"] = db_get(pbx, "test", "hangup")
        return seen["v"] is not None

    deadline = time.monotonic() + 5
    while not stored() and time.monotonic() < deadline:
        ua.poll(0.2)
    value = seen["v"]
    tail = "\n".join(pbx.log_text().splitlines()[-20:])
    assert value is not None, f"test/hangup never set: the h extension did not run\n{tail}"
    assert re.fullmatch(r"SIP/101-\S+", value), f"test/hangup = {value!r}, want the caller's channel SIP/101-..."
    assert pbx.healthy()


# ---- (d) ----------------------------------------------------------------
ORDERING = """
[from-internal]
; the pattern comes first in the file: Asterisk still tries the literal first
exten => _X.,1,Set(DB(test/route)=pattern-${EXTEN})
 same => n,Hangup()
exten => _60X,1,Set(DB(test/route)=60X-${EXTEN})
 same => n,Hangup()
exten => 600,1,Set(DB(test/route)=literal-${EXTEN})
 same => n,Hangup()
"""


@pytest.mark.pbx_dialplan(text=ORDERING)
def test_literal_beats_pattern(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    assert a.register() == 200
    got = {}
    for number in ("600", "605", "71"):
        pbx.cli("db", "del", "test", "route", check=False)
        c = a.call(number)
        ua.wait_for(lambda: c.disconnected, 10, f"the call to {number} to end")
        # The dialplan's DB() write goes through the write-behind queue: it lands
        # a moment after the call ends (longer on a busy machine).
        deadline = time.monotonic() + 5
        while (route := db_get(pbx, "test", "route")) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        got[number] = route
    print("routes:", got)
    assert got["600"] == "literal-600", f"600 ran {got['600']!r}: the literal must win over _X. and _60X"
    assert got["605"] == "60X-605", f"605 ran {got['605']!r}: _60X is more specific than _X."
    assert got["71"] == "pattern-71", f"71 ran {got['71']!r}"


# ---- (e) ----------------------------------------------------------------
def prompt_plan(prompt, extra=""):
    return f"""
[from-internal]
exten => 400,1,Answer()
 same => n,Wait(0.5)
 same => n,Playback({prompt})
 ; the phone's recorder lags its audio: keep the call up until it has all of it
 same => n,Wait(1)
 same => n,Hangup()
{extra}"""


def call_400(ua, phone):
    """Call 400, let the PBX play and hang up; return the recording."""
    c = phone.call("400")
    ua.wait_for(lambda: c.disconnected, 15, "400 to play its prompt and hang up")
    assert 200 in c.codes, f"400 not answered: {c}"
    return c.stop_recording()


def beep_heard(wav):
    return any(lv >= -20.0 for _, lv in tone_track(wav, 1000, 0.0, 1.5))


def reload(pbx):
    return pbx.cli("dialplan", "reload", "--http", f"127.0.0.1:{pbx.http_port}", check=False)


@pytest.mark.pbx_dialplan(text=prompt_plan("beep"))
def test_dialplan_reload(pbx, ua, make_phone):
    a = make_phone("101", server=pbx.sip_addr)
    assert a.register() == 200

    wav = call_400(ua, a)
    t, score = find_prompt(wav, "activated")
    assert beep_heard(wav), f"400 did not play the beep: {tone_track(wav, 1000, 0.0, 1.5)}"
    assert score < MATCH, f"'activated' heard before the reload (score {score:.2f} at {t})"

    # rewrite: 400 now says "activated"
    pbx.dialplan.write_text(prompt_plan("activated"))
    r = reload(pbx)
    print("reload:", r.returncode, r.stdout, r.stderr)
    assert r.returncode == 0, f"reload exited {r.returncode}: {r.stdout} {r.stderr}"
    wav = call_400(ua, a)
    t, score = find_prompt(wav, "activated")
    assert score >= MATCH, f"'activated' not heard after the reload (best {score:.2f} at {t})"

    # a broken file is refused with FILE:LINE and the running dialplan stays
    broken = prompt_plan("beep", extra="this is not a dialplan line\n")
    bad_line = broken.splitlines().index("this is not a dialplan line") + 1
    pbx.dialplan.write_text(broken)
    r = reload(pbx)
    out = r.stdout + r.stderr
    print("broken reload:", r.returncode, out)
    assert r.returncode == 1, f"reload of a broken file exited {r.returncode}: {out}"
    assert re.search(rf"{re.escape(pbx.dialplan.name)}:{bad_line}:", out), (
        f"no {pbx.dialplan.name}:{bad_line}: in the reload's error: {out}"
    )
    wav = call_400(ua, a)
    t, score = find_prompt(wav, "activated")
    assert score >= MATCH, f"the old dialplan ('activated') did not answer after the refused reload (best {score:.2f})"
    assert not beep_heard(wav), "the broken dialplan's beep was played"
    assert pbx.healthy()
