"""MixMonitor with real phones: 101 (400 Hz) calls 110 (1000 Hz) through a dialplan
that records the call with `MixMonitor(file,r()t()S())`; supervisor 201 (1500 Hz)
whispers to 110, then barges. Each file holds only what it should:

| file | holds |
|---|---|
| main | 101 and 110 (and 201 while barging: 101 hears that) |
| r() what 101 said | 400 only |
| t() what 101 heard | 1000, and 1500 only while barging: never the whisper |
| S() what supervisors said | 1500 while whispering and barging, nothing else |
"""

import tempfile
import time
from pathlib import Path

import pytest

import audio
from spysetup import SOUNDS_ARGS, add_ext, count_log, registered_phone, wait_log

REC = Path(tempfile.mkdtemp(prefix="spygroup-mixmonitor-"))

DIALPLAN = """
[from-internal]
exten => 110,1,MixMonitor(calls/${EXTEN}-main,r(calls/${EXTEN}-said)t(calls/${EXTEN}-heard)S(calls/${EXTEN}-sup))
 same => n,Dial(SIP/110,30)
 same => n,Hangup()
exten => _*223X.,1,Answer()
 same => n,ChanSpy(SIP/${EXTEN:4},qd)
 same => n,Hangup()
"""

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS, "--recordings", str(REC)),
    pytest.mark.pbx_dialplan(text=DIALPLAN),
]

FREQS = (400, 1000, 1500)


def levels(path, a, b):
    return audio.tone_levels(str(path), FREQS, a, b)


def test_mixmonitor_tracks_tell_the_parties_apart(pbx, ua, make_phone, tones):
    caller = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert caller.register() == 200
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    t0 = time.monotonic()
    call = caller.call("110")
    leg = agent.incoming(timeout=10)
    ua.wait_for(lambda: call.confirmed and leg.confirmed and leg.media_active, 10, "110 answered")
    t_answer = time.monotonic()
    ua.poll(2.0)
    started = count_log(pbx, "spy session started")
    scall = sup.call("*223110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*223110 answered")
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the spy session")
    # ChanSpy with d: 5 whisper, 6 barge
    n = count_log(pbx, "spy mode changed")
    scall.send_digits("5")
    t_whisper = wait_log(ua, pbx, "spy mode changed", n, 5, "whisper")
    ua.poll(2.5)
    n = count_log(pbx, "spy mode changed")
    scall.send_digits("6")
    t_barge = wait_log(ua, pbx, "spy mode changed", n, 5, "barge")
    ua.poll(2.5)
    t_end = time.monotonic()
    scall.end()
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "the call to end")
    files = {k: REC / "calls" / f"110-{k}.wav" for k in ("main", "said", "heard", "sup")}
    deadline = time.monotonic() + 5
    while not all(f.exists() and f.stat().st_size > 44 for f in files.values()):
        assert time.monotonic() < deadline, f"recordings missing: {sorted(REC.rglob('*'))}"
        ua.poll(0.1)
    ua.poll(0.5)  # writers complete the headers
    # The recording starts when MixMonitor runs (before the Dial): times from t0.
    m = 0.6
    before = (t_answer - t0 + m, t_spy - t0)
    whisper = (t_whisper - t0 + m, t_barge - t0)
    barge = (t_barge - t0 + m, t_end - t0)
    report = {
        (name, phase): levels(path, *span)
        for name, path in files.items()
        for phase, span in (("before", before), ("whisper", whisper), ("barge", barge))
    }
    for k, v in report.items():
        print(k, {f: round(x, 1) for f, x in v.items()})

    def check(name, phase, hears, not_hears):
        lv = report[(name, phase)]
        for f in hears:
            assert lv[f] >= audio.PRESENT_DBFS, f"{name} {phase}: {f} Hz at {lv[f]:.1f} dBFS, expected"
        for f in not_hears:
            assert lv[f] <= audio.ABSENT_DBFS, f"{name} {phase}: {f} Hz at {lv[f]:.1f} dBFS, must not be there"

    for phase in ("before", "whisper", "barge"):
        check("said", phase, [400], [1000, 1500])
    check("heard", "before", [1000], [400, 1500])
    check("heard", "whisper", [1000], [400, 1500])  # the whisper never reaches 101
    check("heard", "barge", [1000, 1500], [400])
    check("sup", "before", [], [400, 1000, 1500])
    check("sup", "whisper", [1500], [400, 1000])
    check("sup", "barge", [1500], [400, 1000])
    check("main", "before", [400, 1000], [1500])
    check("main", "whisper", [400, 1000], [1500])
    check("main", "barge", [400, 1000, 1500], [])
