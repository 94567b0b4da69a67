"""ChanSpy's audio matrix with the SHIPPED dialplan (config/extensions.conf) and real
phones, checked against Asterisk 22 as measured (NOTES.md):

| mode | supervisor hears | agent hears | client hears |
|---|---|---|---|
| none | - | 400 | 1000 |
| listen `*222` (q) | 400 + 1000 | 400 only | 1000 only |
| whisper `*223` (qw) | 400 + 1000 | 400 + 1500 | 1000 only |
| barge `*224` (qB) | 400 + 1000 | 400 + 1500 | 1000 + 1500 |

The client is a trunk (400 Hz) calling agent 110 (1000 Hz); supervisor 201 sends
1500 Hz. Each party's recording is checked BEFORE the supervisor comes, DURING the
session and AFTER the supervisor hung up, and the client's and agent's recordings
must have no gap across the supervisor joining and leaving.
"""

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

# (feature code, what the agent hears from the supervisor, what the client hears)
MODES = {
    "listen": ("*222", False, False),
    "whisper": ("*223", True, False),
    "barge": ("*224", True, True),
}


def levels(wav, start, end):
    return audio.tone_levels(wav, FREQS, start, end)


@pytest.mark.parametrize("mode", list(MODES))
def test_chanspy_matrix(pbx, ua, make_phone, tones, mode):
    code, agent_hears_sup, client_hears_sup = MODES[mode]
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)

    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    t0 = max(ccall.rec_started, aleg.rec_started)
    ua.poll(3.0)  # BEFORE
    t_before_end = time.monotonic()

    started = count_log(pbx, "spy session started")
    scall = sup.call(f"{code}110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, f"{code}110 answered")
    # Answer, NoCDR, Wait(1), then ChanSpy: the server says when the hook is on
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the spy session to start")
    ua.poll(4.0)  # DURING
    t_during_end = time.monotonic()
    ended = count_log(pbx, "spy session ended")
    scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor's call to end")
    t_left = wait_log(ua, pbx, "spy session ended", ended, 5, "the spy session to end")
    ua.poll(3.0)  # AFTER
    t_after_end = time.monotonic()
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected and aleg.disconnected, 5, "the monitored call to end")

    cwav, awav, swav = ccall.stop_recording(), aleg.stop_recording(), scall.stop_recording()
    # windows, seconds into each recording; 0.6 s margin for jitter buffers
    m = 0.6
    phases = {
        "BEFORE": (t0 + m, t_before_end),
        "DURING": (t_spy + m, t_during_end),
        "AFTER": (t_left + m, t_after_end),
    }
    report = {}
    for phase, (a, b) in phases.items():
        report[phase] = {
            "client": levels(cwav, at(ccall, a), at(ccall, b)),
            "agent": levels(awav, at(aleg, a), at(aleg, b)),
        }
    report["DURING"]["supervisor"] = levels(swav, at(scall, t_spy + m), at(scall, t_during_end))
    print(mode, {p: {w: fmt(lv) for w, lv in r.items()} for p, r in report.items()})

    for phase in ("BEFORE", "AFTER"):
        check("client", report[phase]["client"], [1000], [400, 1500], phase)
        check("agent", report[phase]["agent"], [400], [1000, 1500], phase)

    d = report["DURING"]
    check("supervisor", d["supervisor"], [400, 1000], [1500], f"DURING {mode}")
    check(
        "agent",
        d["agent"],
        [400, 1500] if agent_hears_sup else [400],
        [1000] if agent_hears_sup else [1000, 1500],
        f"DURING {mode}",
    )
    check(
        "client",
        d["client"],
        [1000, 1500] if client_hears_sup else [1000],
        [400] if client_hears_sup else [400, 1500],
        f"DURING {mode}",
    )
    # the two parties keep hearing each other at full level (within 3 dB of before)
    for who, f in (("client", 1000), ("agent", 400)):
        before, during = report["BEFORE"][who][f], d[who][f]
        assert during >= before - 3.0, f"{who} hears {f} Hz at {during:.1f} dBFS while spied, {before:.1f} before"

    # no gap from the call's start to after the supervisor left
    audio.assert_no_gaps(cwav, at(ccall, t0 + m), at(ccall, t_after_end))
    audio.assert_no_gaps(awav, at(aleg, t0 + m), at(aleg, t_after_end))

    # the session is in the audit trail
    r = pbx.cli("audit", "list", check=False)
    if r.returncode != 0 and "unrecognized" in (r.stderr + r.stdout):
        pytest.skip("`spygroup audit list` does not exist yet")
    assert r.returncode == 0, r
    out = r.stdout
    print(out)
    assert "110" in out and "201" in out and mode in out.lower(), f"audit list lacks the {mode} session:\n{out}"
