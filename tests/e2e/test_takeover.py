"""Taking a call over, with real phones and the SHIPPED dialplan: the client (a
trunk, 400 Hz) calls agent 110 (1000 Hz); supervisor 201 (1500 Hz) listens and
takes the call over. The agent's leg gets a BYE, the client stays, now with the
supervisor, with no silence over 60 ms on the client's side; when the supervisor
hangs up, the call ends. The call record and the audit say who held the call.

From the API: PATCH {"mode":"takeover"}; a second supervisor's takeover of the
same call is refused (409), and so is any other mode for the one who took it."""

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
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500)
ALL_MODES = "listen,whisper,barge,takeover"


def levels(wav, start, end):
    return audio.tone_levels(wav, FREQS, start, end)


def test_dtmf_7_takes_the_call_over_without_a_gap(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", ALL_MODES)

    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    t0 = ccall.rec_started
    started = count_log(pbx, "spy session started")
    scall = sup.call("*225110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*225110 answered")
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the spy session to start")
    ua.poll(2.5)  # listening
    t_listen_end = time.monotonic()

    taken = count_log(pbx, "call taken over")
    scall.send_digits("7")
    t_take = wait_log(ua, pbx, "call taken over", taken, 5, "the takeover")
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent's leg to get its BYE")
    ua.poll(3.0)  # the client talks with the supervisor
    t_held_end = time.monotonic()
    assert ccall.confirmed, "the client's call dropped at the takeover"
    assert scall.confirmed, "the supervisor's call dropped at the takeover"

    # The supervisor hangs up: the call is over for the client too.
    scall.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the client's call to end with the supervisor's")

    cwav, swav = ccall.stop_recording(), scall.stop_recording()
    m = 0.6
    report = {
        "client listening": levels(cwav, at(ccall, t_spy + m), at(ccall, t_listen_end)),
        "client held": levels(cwav, at(ccall, t_take + m), at(ccall, t_held_end)),
        "supervisor held": levels(swav, at(scall, t_take + m), at(scall, t_held_end)),
    }
    print({k: fmt(v) for k, v in report.items()})
    check("client", report["client listening"], [1000], [400, 1500], "while 201 listens")
    check("client", report["client held"], [1500], [400, 1000], "after the takeover")
    check("supervisor", report["supervisor held"], [400], [1000, 1500], "after the takeover")
    # From the agent to the supervisor without an audible gap.
    gap, where = audio.longest_silence(cwav, at(ccall, t0 + m), at(ccall, t_held_end))
    assert gap <= 0.06, f"the client heard {gap * 1000:.0f} ms of silence at {where} s"

    cdr = pbx.cli("cdr", "list").stdout
    assert "taken over by 201" in cdr, cdr
    audit = pbx.cli("audit", "list").stdout
    assert "takeover" in audit.lower() and "201" in audit, audit


def test_api_takeover_is_one_per_call(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    first = registered_phone(pbx, make_phone, "201", tones[1500])
    second = registered_phone(pbx, make_phone, "202", tones[1500])
    for sup in ("201", "202"):
        pbx.cli("supervisor", "grant", sup, "--groups", "all", "--modes", ALL_MODES)
    tokens = {
        sup: pbx.cli("token", "create", "--scope", "supervise", "--supervisor", sup).stdout.strip()
        for sup in ("201", "202")
    }
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    status, calls = api(pbx, "GET", "/api/v1/calls", tokens["201"])
    assert status == 200, calls
    [call] = calls["calls"]

    monitors = {}
    for sup, phone in (("201", first), ("202", second)):
        started = count_log(pbx, "spy session started")
        status, body = api(pbx, "POST", f"/api/v1/calls/{call['id']}/monitor", tokens[sup],
                           {"supervisor": sup, "mode": "listen"})  # fmt: skip
        assert status == 201, body
        monitors[sup] = body["id"]
        leg = phone.incoming(timeout=10)
        ua.wait_for(lambda: leg.confirmed and leg.media_active, 10, f"{sup} answers")
        wait_log(ua, pbx, "spy session started", started, 8, f"{sup}'s monitor to start")

    # Both are on the roster of the call.
    status, calls = api(pbx, "GET", "/api/v1/calls", tokens["201"])
    [call] = calls["calls"]
    roster = sorted((m["endpoint"], m["spying"]["mode"]) for m in call["monitored_by"])
    assert roster == [("201", "listen"), ("202", "listen")], call

    ua.poll(1.0)
    t_take = time.monotonic()
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitors['201']}", tokens["201"],
                       {"mode": "takeover"})  # fmt: skip
    assert status == 204, body
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent's leg to get its BYE")

    # A second takeover, and any other mode for the one who took over: 409.
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitors['202']}", tokens["202"],
                       {"mode": "takeover"})  # fmt: skip
    assert status == 409, body
    assert "already taken over by 201" in body["error"], body
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitors['201']}", tokens["201"],
                       {"mode": "listen"})  # fmt: skip
    assert status == 409, body
    ua.poll(2.0)
    assert ccall.confirmed, "the client's call dropped"
    wav = ccall.stop_recording()
    end = audio.duration(wav)
    check("client", levels(wav, end - 1.5, end), [1500], [1000], "after the API takeover")
    gap, where = audio.longest_silence(wav, at(ccall, t_take - 0.5), end)
    assert gap <= 0.06, f"the client heard {gap * 1000:.0f} ms of silence at {where} s"
    # The second supervisor still listens to the call.
    assert second.calls[-1].confirmed, "the second supervisor's monitor dropped"


    # The supervisor who took the call over stops: the call ends.
    status, body = api(pbx, "DELETE", f"/api/v1/monitors/{monitors['201']}", tokens["201"])
    assert status == 204, body
    ua.wait_for(lambda: ccall.disconnected, 5, "the client's call to end")
    reader = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    status, body = api(pbx, "GET", "/api/v1/cdr", reader)
    assert status == 200, body
    held = [r for r in body if r["taken_over_by"]]
    assert [r["taken_over_by"] for r in held] == ["201"], body
    assert held[0]["taken_over_at"] >= held[0]["answer_at"], held
    audit = pbx.cli("audit", "list").stdout
    assert "DENIED" in audit and "already taken over by 201" in audit, audit


def test_click_to_spy_straight_into_takeover(pbx, ua, make_phone, tones):
    """POST /calls/{id}/monitor with mode takeover (what ChanSpy's T does): the
    supervisor's phone rings, and on answer the call is theirs at once."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen,takeover")
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    [call] = calls["calls"]
    taken = count_log(pbx, "call taken over")
    status, body = api(pbx, "POST", f"/api/v1/calls/{call['id']}/monitor", token,
                       {"supervisor": "201", "mode": "takeover"})  # fmt: skip
    assert status == 201, body
    leg = sup.incoming(timeout=10)
    ua.wait_for(lambda: leg.confirmed and leg.media_active, 10, "the supervisor answers")
    wait_log(ua, pbx, "call taken over", taken, 8, "the takeover")
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent's leg to get its BYE")
    ua.poll(2.5)
    wav = ccall.stop_recording()
    end = audio.duration(wav)
    check("client", levels(wav, end - 1.5, end), [1500], [400, 1000], "after the takeover")
    leg.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the client's call to end with the supervisor's")
