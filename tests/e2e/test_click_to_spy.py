"""Click-to-spy through the HTTP API, with real phones: a supervise token starts a
monitor on a live call (the PBX rings the supervisor's phone, which answers), switches
it to whisper, and stops it; the event stream reports it in order.

The client is a trunk (400 Hz) calling agent 110 (1000 Hz); supervisor 201 sends
1500 Hz and auto-answers."""

import json
import time
import urllib.parse
import urllib.request

import pytest
import websocket

from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    carrier_trunk,
    check,
    count_log,
    inbound_call,
    registered_phone,
    wait_log,
)
import audio

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500)


def api(pbx, method, path, token, body=None):
    req = urllib.request.Request(
        pbx.http_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


def test_click_to_spy_listen_then_whisper_then_stop(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")

    events = websocket.create_connection(
        pbx.http_url.replace("http://", "ws://") + "/api/v1/events?token=" + token, timeout=5
    )

    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    assert status == 200, calls
    names = [c["name"] for call in calls["calls"] for c in call["channels"]]
    target = next(n for n in names if n.startswith("SIP/110-"))

    # A token may not act as another supervisor.
    status, body = api(pbx, "POST", f"/api/v1/calls/{urllib.parse.quote(target, safe='')}/monitor",
                       token, {"supervisor": "202", "mode": "listen"})  # fmt: skip
    assert status == 403, body

    started = count_log(pbx, "spy session started")
    status, body = api(pbx, "POST", f"/api/v1/calls/{urllib.parse.quote(target, safe='')}/monitor",
                       token, {"supervisor": "201", "mode": "listen"})  # fmt: skip
    assert status == 201, body
    monitor = body["id"]
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    t_listen = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    ua.poll(3.0)
    t_listen_end = time.monotonic()

    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitor}", token, {"mode": "whisper"})
    assert status == 204, body
    ua.poll(1.0)
    t_whisper = time.monotonic()
    ua.poll(3.0)
    t_whisper_end = time.monotonic()

    ended = count_log(pbx, "spy session ended")
    status, body = api(pbx, "DELETE", f"/api/v1/monitors/{monitor}", token)
    assert status == 204, body
    wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
    ua.wait_for(lambda: scall.disconnected, 5, "the PBX to hang up the supervisor")
    status, body = api(pbx, "DELETE", f"/api/v1/monitors/{monitor}", token)
    assert status == 404, body
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"

    swav, awav, cwav = scall.stop_recording(), aleg.stop_recording(), ccall.stop_recording()
    m = 0.6
    check("supervisor", audio.tone_levels(swav, FREQS, at(scall, t_listen + m), at(scall, t_listen_end)),
          [400, 1000], [1500], "listen")  # fmt: skip
    check("agent", audio.tone_levels(awav, FREQS, at(aleg, t_listen + m), at(aleg, t_listen_end)),
          [400], [1000, 1500], "listen")  # fmt: skip
    check("agent", audio.tone_levels(awav, FREQS, at(aleg, t_whisper + m), at(aleg, t_whisper_end)),
          [400, 1500], [1000], "whisper")  # fmt: skip
    check("client", audio.tone_levels(cwav, FREQS, at(ccall, t_whisper + m), at(ccall, t_whisper_end)),
          [1000], [400, 1500], "whisper")  # fmt: skip

    # The event stream told the story in order, with increasing sequence numbers.
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["type"] == "monitor.stop" for e in seen):
        try:
            seen.append(json.loads(events.recv()))
        except websocket.WebSocketTimeoutException:
            break
    events.close()
    types = [e["type"] for e in seen if e["type"].startswith("monitor.")]
    assert types[:3] == ["monitor.start", "monitor.mode", "monitor.stop"], types
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    start = next(e for e in seen if e["type"] == "monitor.start")
    assert start["supervisor"] == "201" and start["target_channel"] == target, start
    assert start["peer_channel"], start


def test_cli_calls_and_monitor(pbx, ua, make_phone, tones):
    """The same through the CLI: `spygroup calls`, `monitor start|mode|stop`."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    token = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    inbound_call(ua, pbx, client, agent, "110")
    api_args = ("--http", f"127.0.0.1:{pbx.http_port}", "--token", token)

    out = pbx.cli("calls", *api_args).stdout
    assert "SIP/carrier-" in out and "SIP/110-" in out and "spygrp" in out, out
    target = next(w for w in out.split() if w.startswith("SIP/110-"))

    started = count_log(pbx, "spy session started")
    monitor = pbx.cli("monitor", "start", target, "--supervisor", "201", *api_args).stdout.strip()
    assert monitor, "monitor start printed no id"
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed, 10, "the supervisor answers")
    wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    out = pbx.cli("calls", *api_args).stdout
    assert "monitored by" in out, out

    pbx.cli("monitor", "mode", monitor, "barge", *api_args)
    ended = count_log(pbx, "spy session ended")
    pbx.cli("monitor", "stop", monitor, *api_args)
    wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
    r = pbx.cli("monitor", "stop", monitor, *api_args, check=False)
    assert r.returncode != 0 and "no running monitor" in r.stderr, r
    audit = pbx.cli("audit", "list").stdout
    assert "barge" in audit and "201" in audit, audit
