"""Recordings through the HTTP API and the CLI, with real phones.

101 (400 Hz) calls 110 (1000 Hz) through a dialplan that records the call with
`MixMonitor(file,r()t())`. After the hangup the API lists the recording (read token)
with its call, parties and tracks; each downloaded track holds only its party's
tone; a read token may not delete it (403), an admin token deletes it and its files.

101 calls 111, and supervisor 201 (1500 Hz) spies on 111 with ChanSpy's `r()`,
listening, then whispering (DTMF 5). The API lists that recording with its
monitoring session, whose events show the mode change; the CLI shows and deletes it.
"""

import json
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

import audio
from spysetup import SOUNDS_ARGS, count_log, registered_phone, wait_log

REC = Path(tempfile.mkdtemp(prefix="spygroup-recordings-"))

DIALPLAN = """
[from-internal]
exten => 110,1,MixMonitor(calls/${UNIQUEID},r(calls/${UNIQUEID}-said)t(calls/${UNIQUEID}-heard))
 same => n,Dial(SIP/110,30)
 same => n,Hangup()
exten => 111,1,Dial(SIP/111,30)
 same => n,Hangup()
exten => _*224X.,1,Answer()
 same => n,ChanSpy(SIP/${EXTEN:4},qdr(spy))
 same => n,Hangup()
"""

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS, "--recordings", str(REC)),
    pytest.mark.pbx_dialplan(text=DIALPLAN),
]

FREQS = (400, 1000, 1500)


def request(pbx, method, path, token):
    """(status, headers, body bytes)."""
    req = urllib.request.Request(
        pbx.http_url + path, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def api(pbx, path, token):
    status, _, body = request(pbx, "GET", path, token)
    assert status == 200, (path, status, body)
    return json.loads(body)


def tokens(pbx):
    read = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    admin = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    return read, admin


def ended_recording(ua, pbx, token, kind, timeout=10):
    """The first recording of `kind` once its files are complete (pumping the phones)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in api(pbx, "/api/v1/recordings", token) if r["kind"] == kind]
        if found and found[0]["ended_at"] is not None:
            return found[0]
        assert time.monotonic() < deadline, f"no ended {kind} recording: {found}"
        ua.poll(0.1)


def download(pbx, rec, track, token, dest):
    status, headers, body = request(pbx, "GET", f"/api/v1/recordings/{rec['id']}/tracks/{track}", token)
    assert status == 200, (track, status, body[:200])
    assert headers["Content-Type"] == "audio/wav", headers
    path = dest / f"{track}.wav"
    path.write_bytes(body)
    return path, body


def check(name, lv, hears, not_hears):
    for f in hears:
        assert lv[f] >= audio.PRESENT_DBFS, f"{name}: {f} Hz at {lv[f]:.1f} dBFS, expected"
    for f in not_hears:
        assert lv[f] <= audio.ABSENT_DBFS, f"{name}: {f} Hz at {lv[f]:.1f} dBFS, must not be there"


def test_mixmonitor_recording_listed_downloaded_and_deleted(pbx, ua, make_phone, tones, tmp_path):
    read, admin = tokens(pbx)
    caller = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert caller.register() == 200
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    t0 = time.monotonic()
    call = caller.call("110")
    leg = agent.incoming(timeout=10)
    ua.wait_for(lambda: call.confirmed and leg.confirmed and leg.media_active, 10, "110 answered")
    t_answer = time.monotonic()
    ua.poll(3.0)
    t_end = time.monotonic()
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "the call to end")

    rec = ended_recording(ua, pbx, read, "mixmonitor")
    assert rec["channel"].startswith("SIP/101-"), rec
    assert (rec["peer_channel"] or "").startswith("SIP/110-"), rec
    assert (rec["caller"], rec["callee"]) == ("101", "110"), rec
    assert rec["monitor_session"] is None and rec["supervisor"] is None, rec
    cdr = api(pbx, "/api/v1/cdr", read)
    assert rec["call"] == cdr[0]["id"], (rec, cdr)
    # The recording runs from MixMonitor (before the Dial) to the hangup.
    took = t_end - t0
    assert took - 1.5 <= rec["duration_ms"] / 1000 <= took + 1.5, (rec, took)
    assert [t["track"] for t in rec["tracks"]] == ["mixed", "read", "write"], rec
    assert len({t["path"] for t in rec["tracks"]}) == 3, "a file per track"
    for t in rec["tracks"]:
        on_disk = REC / t["path"]
        assert t["path"].startswith("calls/") and on_disk.exists(), t
        assert t["bytes"] == on_disk.stat().st_size, t
        assert t["frames"] > 0 and t["dropped_frames"] == 0, t

    # Each track, downloaded with a read token, holds only its party's tone.
    span = (t_answer - t0 + 0.6, t_end - t0 - 0.2)
    got = {}
    for t in rec["tracks"]:
        path, body = download(pbx, rec, t["track"], read, tmp_path)
        assert body == (REC / t["path"]).read_bytes(), t["track"]
        got[t["track"]] = audio.tone_levels(str(path), FREQS, *span)
    print({k: {f: round(x, 1) for f, x in v.items()} for k, v in got.items()})
    check("read (what 101 said)", got["read"], [400], [1000, 1500])
    check("write (what 101 heard)", got["write"], [1000], [400, 1500])
    check("mixed", got["mixed"], [400, 1000], [1500])

    detail = api(pbx, f"/api/v1/recordings/{rec['id']}", read)
    assert detail["sessions"] == [], detail

    # A read token may not delete; an admin token deletes the rows and the files.
    status, _, body = request(pbx, "DELETE", f"/api/v1/recordings/{rec['id']}", read)
    assert status == 403, body
    assert all((REC / t["path"]).exists() for t in rec["tracks"])
    status, _, body = request(pbx, "DELETE", f"/api/v1/recordings/{rec['id']}", admin)
    assert status == 204, body
    assert not any((REC / t["path"]).exists() for t in rec["tracks"]), sorted(REC.rglob("*"))
    status, _, _ = request(pbx, "GET", f"/api/v1/recordings/{rec['id']}", read)
    assert status == 404
    status, _, _ = request(pbx, "DELETE", f"/api/v1/recordings/{rec['id']}", admin)
    assert status == 404


def test_chanspy_recording_with_its_session_and_mode_changes(pbx, ua, make_phone, tones, tmp_path):
    read, _ = tokens(pbx)
    caller = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert caller.register() == 200
    agent = registered_phone(pbx, make_phone, "111", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    call = caller.call("111")
    leg = agent.incoming(timeout=10)
    ua.wait_for(lambda: call.confirmed and leg.confirmed and leg.media_active, 10, "111 answered")
    started = count_log(pbx, "spy session started")
    scall = sup.call("*224111")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*224111 answered")
    wait_log(ua, pbx, "spy session started", started, 8, "the spy session")
    ua.poll(2.0)
    n = count_log(pbx, "spy mode changed")
    scall.send_digits("5")  # ChanSpy's d: 5 whispers
    wait_log(ua, pbx, "spy mode changed", n, 5, "whisper")
    ua.poll(1.5)
    scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor to hang up")

    rec = ended_recording(ua, pbx, read, "chanspy")
    assert rec["channel"].startswith("SIP/111-"), rec
    assert (rec["peer_channel"] or "").startswith("SIP/101-"), rec
    assert (rec["caller"], rec["callee"]) == ("101", "111"), rec
    assert rec["supervisor"] == "201", rec
    assert [t["track"] for t in rec["tracks"]] == ["heard"], rec
    assert rec["tracks"][0]["path"].startswith("spy-"), rec

    detail = api(pbx, f"/api/v1/recordings/{rec['id']}", read)
    own = [s for s in detail["sessions"] if s["id"] == rec["monitor_session"]]
    assert len(own) == 1, detail
    modes = [(e["kind"], e["detail"]) for e in own[0]["events"]]
    assert modes[:2] == [("start", "listen"), ("mode", "whisper")], modes
    assert modes[-1][0] == "end", modes
    audit = api(pbx, "/api/v1/audit?supervisor=201", read)
    assert rec["monitor_session"] in [s["id"] for s in audit], audit

    # What the supervisor heard: both parties, never their own voice.
    path, _ = download(pbx, rec, "heard", read, tmp_path)
    lv = audio.tone_levels(str(path), FREQS, 0.6, audio.duration(str(path)) - 0.3)
    print({f: round(x, 1) for f, x in lv.items()})
    check("heard", lv, [400, 1000], [1500])

    # The CLI lists, shows (with the mode change) and deletes it, files included.
    assert rec["id"] in pbx.cli("recordings", "list").stdout
    shown = pbx.cli("recordings", "show", rec["id"], "--recordings", REC).stdout
    assert "mode whisper" in shown and "201" in shown, shown
    file = REC / rec["tracks"][0]["path"]
    assert str(file) in shown, shown
    out = pbx.cli("recordings", "delete", rec["id"], "--recordings", REC).stdout
    assert "1 file removed" in out, out
    assert not file.exists()
    status, _, _ = request(pbx, "GET", f"/api/v1/recordings/{rec['id']}", read)
    assert status == 404
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "the call to end")
