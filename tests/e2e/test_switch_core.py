"""The switch core's seams, with real phones: call ids from GET /calls go into a URL
as they are; click-to-spy refusals are decided before the supervisor's phone rings
(403 with the reason, audited); a mode the grant lacks is refused on the spot by
the API and the CLI; the supervisor's phone shows what is monitored; the
click-to-spy leg has call.start/call.end events and its remote stop is audited as
such; a late-offer INVITE (SIPp) gets our offer in the 200 and audio both ways;
404 for a number that is nobody's, 480 for an unregistered extension."""

import json
import time

import pytest
import websocket

import audio
import sipp
from conftest import SECRETS, free_port
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    add_ext,
    carrier_trunk,
    count_log,
    inbound_call,
    registered_phone,
    wait_log,
)
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]


def events_socket(pbx, token):
    return websocket.create_connection(
        pbx.http_url.replace("http://", "ws://") + "/api/v1/events?token=" + token, timeout=0.5
    )


def drain(ws, seconds, ua):
    """Every event that arrives within ``seconds`` (pumping the phones)."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        ua.poll(0.02)
        try:
            seen.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
    return seen


def test_call_ids_refusals_and_the_click_to_spy_leg(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen,whisper")
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    ws = events_socket(pbx, token)

    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    assert status == 200, calls
    [call] = calls["calls"]
    call_id = call["id"]
    assert "/" not in call_id and "%" not in call_id, call_id
    assert [c["role"] for c in call["channels"]] == ["caller", "callee"], call

    # Barge is not granted: 403 with the reason, and the phone never rings.
    status, body = api(pbx, "POST", f"/api/v1/calls/{call_id}/monitor", token,
                       {"supervisor": "201", "mode": "barge"})  # fmt: skip
    assert status == 403, body
    assert "may not barge" in body["error"], body
    r = pbx.cli("monitor", "start", call_id, "--supervisor", "201", "--mode", "barge",
                "--http", f"127.0.0.1:{pbx.http_port}", "--token", token, check=False)  # fmt: skip
    assert r.returncode != 0 and "may not barge" in r.stderr, f"monitor start --mode barge: {r}"
    ua.poll(2.0)
    assert not any(c.incoming for c in sup.calls), "the supervisor's phone rang for a refused request"
    audit = pbx.cli("audit", "list").stdout
    assert "DENIED" in audit and "may not barge" in audit and "API/201" in audit, audit

    # No such call: 404, and 409 is tested in the Rust suite (busy supervisor).
    status, body = api(pbx, "POST", "/api/v1/calls/1-999/monitor", token,
                       {"supervisor": "201", "mode": "listen"})  # fmt: skip
    assert status == 404, body

    # The call id as GET /calls handed it out, unencoded.
    started = count_log(pbx, "spy session started")
    status, body = api(pbx, "POST", f"/api/v1/calls/{call_id}/monitor", token,
                       {"supervisor": "201", "mode": "listen"})  # fmt: skip
    assert status == 201, body
    monitor = body["id"]
    scall = sup.incoming(timeout=10)
    assert "Listen 110" in scall.remote_uri, f"the supervisor's phone shows {scall.remote_uri!r}"
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")

    # A mode the grant lacks: refused on the spot, by the API and by the CLI.
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitor}", token, {"mode": "barge"})
    assert status == 403, body
    r = pbx.cli("monitor", "mode", monitor, "barge", "--http", f"127.0.0.1:{pbx.http_port}",
                "--token", token, check=False)  # fmt: skip
    assert r.returncode != 0, f"monitor mode barge exited 0: {r.stdout} {r.stderr}"
    assert "may not barge" in r.stderr, r.stderr
    ua.poll(2.0)
    # The session stayed in listen: the agent hears only the client.
    wav = aleg.stop_recording()
    lv = audio.tone_levels(wav, (400, 1500), max(0.0, audio.duration(wav) - 1.5), None)
    assert lv[1500] <= audio.ABSENT_DBFS, f"the agent hears the supervisor: {lv}"

    ended = count_log(pbx, "spy session ended")
    status, body = api(pbx, "DELETE", f"/api/v1/monitors/{monitor}", token)
    assert status == 204, body
    wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
    ua.wait_for(lambda: scall.disconnected, 5, "the PBX to hang up the supervisor")
    seen = drain(ws, 1.0, ua)
    ws.close()
    types = [e["type"] for e in seen]
    leg = [e for e in seen if e["type"] in ("call.start", "call.end")
           and str(e.get("channel", "")).startswith("Local/monitor-")]  # fmt: skip
    assert [e["type"] for e in leg] == ["call.start", "call.end"], types
    assert any(e["type"] == "monitor.denied" for e in seen), types

    audit = pbx.cli("audit", "list").stdout
    assert "stopped through the API" in audit, audit
    assert "exit digit" not in audit, audit
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"


def test_a_non_supervisor_asking_for_nobody_hears_congestion_and_is_audited(pbx, ua, make_phone):
    caller = make_phone("101", server=pbx.sip_addr)
    assert caller.register() == 200
    c = caller.call("*222999")
    ua.wait_for(lambda: c.disconnected or (c.confirmed and c.recorded_seconds() > 2.5), 10,
                "the refusal to play")  # fmt: skip
    assert 200 in c.codes, c
    wav = c.stop_recording()
    # The congestion tone is on half the time, about -25 dBFS a component: a 0.5 s
    # window reads about -32 dBFS, silence below -60 (as in test_permissions).
    lv = audio.tone_levels(wav, (480, 620), 1.0, audio.duration(wav))
    assert lv[480] > -40.0 and lv[620] > -40.0, f"no congestion tone: {lv}"
    if not c.disconnected:
        c.end()
    audit = pbx.cli("audit", "list").stdout
    assert "101 is not a supervisor" in audit, audit


@pytest.mark.pbx_dialplan(text="[from-internal]\nexten => _1XX,1,Dial(SIP/${EXTEN})\n")
def test_a_refused_reload_is_logged(pbx):
    before = count_log(pbx, "dialplan NOT reloaded")
    pbx.dialplan.write_text("[from-internal]\nthis is not a dialplan line\n")
    r = pbx.cli("dialplan", "reload", "--http", f"127.0.0.1:{pbx.http_port}", check=False)
    assert r.returncode != 0, r
    deadline = time.monotonic() + 3
    while count_log(pbx, "dialplan NOT reloaded") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_log(pbx, "dialplan NOT reloaded") > before, pbx.log_text()[-2000:]


@pytest.mark.needs_sipp
@pytest.mark.skipif(not sipp.available(), reason="sipp (Debian sip-tester) is not installed")
def test_late_offer_gets_our_offer_and_audio_flows_both_ways(pbx, ua, make_phone, tones, tmp_path):
    callee = make_phone("102", server=pbx.sip_addr, tone=tones[1000])
    assert callee.register() == 200
    proc = sipp.start(
        "invite_late_offer.xml", tmp_path, target=pbx.sip_addr, port=free_port(),
        media_port=free_port(), rtp_echo=True, user="101", password=secret_101(),
        keys={"callee": "102"},
    )  # fmt: skip
    leg = callee.incoming(timeout=10)
    ua.wait_for(lambda: leg.confirmed and leg.media_active, 10, "102 answers")
    ua.wait_for(lambda: leg.disconnected, 12, "SIPp to hang up")
    code = sipp.finish(proc)
    assert code == 0, f"sipp exited {code}\n{sipp.report(tmp_path, 'invite_late_offer')}"
    wav = leg.stop_recording()
    # 102 sends 1000 Hz; SIPp echoes what reaches it: 102 hears its own tone back
    # only if media flows PBX -> SIPp and SIPp -> PBX.
    lv = audio.tone_levels(wav, (1000,), 1.0, 3.0)
    assert lv[1000] >= audio.PRESENT_DBFS, f"the echo did not come back through the PBX: {lv}"


def secret_101():
    return SECRETS["101"]


@pytest.mark.needs_sipp
@pytest.mark.skipif(not sipp.available(), reason="sipp (Debian sip-tester) is not installed")
def test_nobodys_number_is_404_and_an_unregistered_extension_480(pbx, tmp_path):
    add_ext(pbx, 150)
    for scenario, number in (("invite_auth_404.xml", "999"), ("invite_auth_480.xml", "150")):
        sipp.assert_ok(
            scenario, tmp_path, target=pbx.sip_addr, port=free_port(), media_port=free_port(),
            user="101", password=secret_101(), keys={"callee": number},
        )  # fmt: skip
