"""Queues with real phones and the SHIPPED dialplan: a trunk's call to a number
routed to a queue (FreePBX's inbound route) waits with music, the floor rings the
agents in the queue's order, the one who answers talks to the caller (tones both
ways), an agent logs in by feature code, a caller hears its position, a caller who
hangs up is counted as abandoned, and `spygroup queue stats` counts what happened.

The carrier sends 400 Hz, agent 111 1000 Hz; agent 110 rings and never answers."""

import json
import re
import time
import urllib.parse

import pytest
import websocket

import audio
import baresip
import phone as phone_mod
import prompts
from prompts import wait_prompt
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    at,
    baresip_ext,
    carrier_trunk,
    check,
    count_log,
    fmt,
    inbound_call,
    registered_phone,
    sha,
    wait_log,
)
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]


PRESENT, ABSENT = audio.PRESENT_DBFS, audio.ABSENT_DBFS


def stats_row(out, queue):
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == queue:
            return cols
    raise AssertionError(f"no row for {queue} in:\n{out}")


def test_position_announcement_and_abandon(pbx, ua, make_phone, tones):
    """The queue, its member and the pause are made through the API, as a
    console would: the running switch takes them from the database."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    admin = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    code, q = api(pbx, "POST", "/api/v1/queues", admin,
                  {"name": "401", "announce_frequency": 30, "announce_position": True})  # fmt: skip
    assert code == 201, q
    pbx.cli("db", "put", "queue-did", "5550401", "401")
    # Its only agent is paused: the caller waits (joinempty never).
    registered_phone(pbx, make_phone, "112", tones[1000])
    code, q = api(pbx, "PUT", "/api/v1/queues/401/members/112", admin)
    assert code == 201, q
    events = websocket.create_connection(
        pbx.http_url.replace("http://", "ws://") + "/api/v1/events?token=" + admin, timeout=1
    )
    code, paused = api(pbx, "PUT", "/api/v1/agents/112/pause", admin, {"reason": "lunch"})
    assert (code, paused) == (200, {"queues": ["401"]}), paused
    # A console sees the pause: its queue log line at once, the agent's state as
    # it takes effect on the floor.
    seen, logged, deadline = [], [], time.monotonic() + 5
    while time.monotonic() < deadline and not (logged and any(e.get("state") == "paused" for e in seen)):
        try:
            e = json.loads(events.recv())
        except websocket.WebSocketTimeoutException:
            continue
        if e["type"] == "agent.state" and e["extension"] == "112":
            seen.append(e)
        elif e["type"] == "queue.log":
            logged.append(e)
    events.close()
    assert seen and seen[-1]["state"] == "paused" and seen[-1]["reason"] == "lunch", seen
    assert seen[-1]["queues"] == ["401"], seen
    pause = [(e["queue"], e["agent"], e["data"][0]) for e in logged if e["event"] == "PAUSE"]
    assert pause == [("401", "SIP/112", "lunch")], logged
    ccall = client.call(f"sip:5550401@{pbx.sip_addr}")
    ua.wait_for(lambda: ccall.confirmed, 10, "the queue answers")
    ua.poll(4.0)
    code, agents = api(pbx, "GET", "/api/v1/agents", admin)
    assert [(a["extension"], a["state"], a["reason"]) for a in agents] == [("112", "paused", "lunch")], agents
    wav = ccall.stop_recording()
    t, score = prompts.find_prompt(wav, "queue-youarenext")
    print(f"queue-youarenext at {t:.2f}s, score {score:.2f}")
    assert score >= prompts.MATCH, "the caller did not hear its position"
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "hang up")
    ua.poll(0.5)
    out = pbx.cli("queue", "stats", "401").stdout
    print(out)
    row = stats_row(out, "401")
    assert row[1:4] == ["1", "0", "1"], f"offered, answered, abandoned: {row}"


def test_linear_queue_rings_in_order_and_connects(pbx, ua, make_phone, tones):
    pbx.cli("queue", "add", "400", "--strategy", "linear", "--timeout", "3", "--retry", "1")
    pbx.cli("db", "put", "queue-did", "5550400", "400")
    ringer = registered_phone(pbx, make_phone, "110", tones[1500], answer=None)
    pbx.cli("queue", "member", "add", "400", "110")
    agent = registered_phone(pbx, make_phone, "111", tones[1000])
    # 111 logs in by feature code (AddQueueMember): a dynamic member after 110.
    login = agent.call("*45400")
    ua.wait_for(lambda: login.disconnected, 10, "the login call ends")
    listed = pbx.cli("queue", "show", "400").stdout
    assert re.search(r"111\s+0\s+dynamic", listed), listed
    client = carrier_trunk(pbx, make_phone, tones[400])

    token = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    t0 = time.monotonic()
    ccall = client.call(f"sip:5550400@{pbx.sip_addr}")
    ring = ringer.incoming(timeout=10)
    # The floor, live in the API: the caller waits, 110 rings for it.
    code, queues = api(pbx, "GET", "/api/v1/queues", token)
    assert code == 200, queues
    q400 = next(q for q in queues if q["settings"]["name"] == "400")
    assert [m["extension"] for m in q400["members"]] == ["110", "111"], q400
    waiting = q400["live"]["waiting"]
    assert len(waiting) == 1 and waiting[0]["ringing"] == ["110"], q400["live"]
    code, agents = api(pbx, "GET", "/api/v1/agents", token)
    states = {a["extension"]: a["state"] for a in agents}
    assert states == {"110": "ringing", "111": "available"}, agents
    t_ring = time.monotonic() - t0
    leg = agent.incoming(timeout=15)
    t_agent = time.monotonic() - t0
    print(f"110 rang after {t_ring:.2f}s, 111 after {t_agent:.2f}s")
    assert t_agent >= 3.5, "111 rings only after 110's 3 s timeout and the retry"
    ua.wait_for(lambda: ring.disconnected, 5, "110's ringing is cancelled")
    ua.wait_for(lambda: leg.confirmed and leg.media_active and ccall.media_active, 10, "111 answers")
    t1 = time.monotonic() + 0.5
    ua.poll(3.0)
    t2 = time.monotonic()
    cwav = ccall.stop_recording()
    awav = leg.stop_recording()
    lv = audio.tone_levels(cwav, (400, 1000, 1500), at(ccall, t1), at(ccall, t2))
    print("caller:", fmt(lv))
    check("caller", lv, [1000], [1500], "connected")
    assert audio.music_level(cwav, at(ccall, t1), at(ccall, t2)) <= -50.0, "music still plays"
    # While it waited, the caller heard music on hold.
    assert audio.music_level(cwav, at(ccall, t0 + 1.0), at(ccall, t0 + 3.0)) > -40.0, "no music while waiting"
    lv = audio.tone_levels(awav, (400, 1000, 1500), at(leg, t1), at(leg, t2))
    print("agent:", fmt(lv))
    check("agent", lv, [400], [1500], "connected")

    # The agent hangs up: without option c the caller is hung up too.
    leg.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the caller is hung up")
    ua.poll(0.5)
    out = pbx.cli("queue", "stats", "400").stdout
    print(out)
    row = stats_row(out, "400")
    assert row[1:5] == ["1", "1", "0", "0"], f"offered, answered, abandoned, timeout: {row}"
    agents = {l.split()[0]: l.split() for l in out.splitlines() if l.startswith("SIP/")}
    assert agents["SIP/111"][1] == "1", agents
    assert agents["SIP/110"][2] == "1", f"110 rang without answer: {agents}"
    code, stats = api(pbx, "GET", "/api/v1/queues/400/stats", token)
    assert code == 200, stats
    assert (stats["queue"]["offered"], stats["queue"]["answered"]) == (1, 1), stats
    assert stats["queue"]["avg_handle_s"] >= 3.0, stats
    code, err = api(pbx, "GET", "/api/v1/queues/nosuch/stats", token)
    assert code == 404, err


@pytest.mark.needs_baresip
def test_supervisor_granted_the_queue_monitors_its_agent(pbx, ua, make_phone, tones, tmp_path):
    """Agent 111 is in no spy group. 201 is granted queue 402 only: it hears the
    agent who answered 402's call, by extension (*222111) and by the queue's own
    scan (*778402, which skips a direct call that is up too). 202, granted a group
    111 is not in, is refused. The direct call 112 (600 Hz) -> 113 (2000 Hz) rings
    baresip: pjsua2 holds only 4 calls per process (phone.MAX_CALLS)."""
    if not baresip.available():
        pytest.skip("baresip with the ausine module is not installed")
    t600 = phone_mod.wav_tone(tmp_path / "tone600.wav", 600)
    # First: cli_live waits for the snapshot after the one before it.
    client = carrier_trunk(pbx, make_phone, tones[400])
    pbx.cli("queue", "add", "402")
    pbx.cli("db", "put", "queue-did", "5550402", "402")
    pbx.cli("db", "put", "spygroup", "pin_778", sha("4544"))
    pbx.cli("group", "add", "sales")
    agent = registered_phone(pbx, make_phone, "111", tones[1000])
    pbx.cli("queue", "member", "add", "402", "111")
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    other = registered_phone(pbx, make_phone, "202", tones[1500])
    out = pbx.cli("supervisor", "grant", "201", "--queues", "402", "--modes", "listen").stdout
    assert "queues 402" in out, out
    pbx.cli("supervisor", "grant", "202", "--groups", "sales", "--modes", "listen")
    inbound_call(ua, pbx, client, agent, "5550402")

    freqs = (400, 1000, 600, 2000, 1500)

    def levels(call, t_from, t_to):
        lv = audio.tone_levels(call.rec_path, freqs, at(call, t_from), at(call, t_to))
        print(fmt(lv))
        return lv

    # By extension: the queue grant covers the agent's leg of the queue's call.
    started = count_log(pbx, "spy session started")
    s = sup.call("*222111")
    t = wait_log(ua, pbx, "spy session started", started, 10, "201's session")
    ua.poll(2.5)
    lv = levels(s, t + 0.6, time.monotonic())
    assert lv[400] >= PRESENT and lv[1000] >= PRESENT, "201 did not hear the queue's call"
    s.end()
    ua.wait_for(lambda: s.disconnected, 5, "201 hangs up")

    # A grant for a group the agent is not in: refused, audited.
    denied = count_log(pbx, "monitoring refused")
    r = other.call("*222111")
    wait_log(ua, pbx, "monitoring refused", denied, 10, "202's refusal")
    ua.poll(1.5)
    lv = levels(r, time.monotonic() - 1.0, time.monotonic())
    assert lv[400] <= ABSENT and lv[1000] <= ABSENT, "a refused supervisor heard the call"
    if not r.disconnected:
        r.end()
    ua.wait_for(lambda: r.disconnected, 5, "202 hangs up")
    audit = pbx.cli("audit", "list").stdout
    assert "DENIED" in audit and "202" in audit, audit

    # *778402: the scan over queue 402 finds its agent and never the direct call.
    b113 = baresip_ext(pbx, ua, tmp_path / "baresip-113", "113", 2000)
    try:
        a112 = registered_phone(pbx, make_phone, "112", t600)
        direct = a112.call("113")
        ua.wait_for(lambda: direct.confirmed and direct.media_active, 10, "113 answers 112")
        started = count_log(pbx, "spy session started")
        s = sup.call("*778402")
        ua.wait_for(lambda: s.confirmed and s.media_active, 10, "*778402 answered")
        wait_prompt(ua, s, "agent-pass", 0.0, 6)
        s.send_digits("4544#")
        t = wait_log(ua, pbx, "spy session started", started, 12, "the queue scan's session")
        for press in range(2):
            ua.poll(2.5)
            lv = levels(s, t + 0.6, time.monotonic())
            assert lv[400] >= PRESENT and lv[1000] >= PRESENT, f"scan #{press}: not the queue's call"
            assert lv[600] <= ABSENT and lv[2000] <= ABSENT, f"scan #{press}: heard the direct call"
            n = count_log(pbx, "spy session started")
            s.send_digits("*")
            t = wait_log(ua, pbx, "spy session started", n, 8, "the next session after '*'")
        s.end()
        ua.wait_for(lambda: s.disconnected, 5, "201 hangs up")
        direct.end()
    finally:
        b113.stop()


def test_follow_client_back_into_the_queue(pbx, ua, make_phone, tones):
    """Agent 110 (1000 Hz) answers a queue call and blind-transfers the client
    (400 Hz) back into the queue (*7403); 110 is in wrap-up, so 120 (1500 Hz)
    answers next. A click-to-spy monitor with follow=client, by a supervisor
    granted the queue only, hears the client with 110, then with 120."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    pbx.cli("queue", "add", "403", "--strategy", "linear", "--wrapuptime", "60", "--retry", "1")
    pbx.cli("db", "put", "queue-did", "5550403", "403")
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    for ext in ("110", "120"):
        pbx.cli("queue", "member", "add", "403", ext)
    sup = registered_phone(pbx, make_phone, "201", None)
    pbx.cli("supervisor", "grant", "201", "--queues", "403", "--modes", "listen")
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "5550403")

    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    assert status == 200, calls
    chans = [c for call in calls["calls"] for c in call["channels"]]
    agent_chan = next(c for c in chans if c["name"].startswith("SIP/110-"))
    assert agent_chan["queue"] == "403", agent_chan
    path = f"/api/v1/calls/{urllib.parse.quote(agent_chan['name'], safe='')}/monitor"
    started = count_log(pbx, "spy session started")
    status, body = api(pbx, "POST", path, token, {"supervisor": "201", "mode": "listen", "follow": "client"})
    assert status == 201, body
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    ua.poll(2.0)
    t_xfer = time.monotonic()
    started = count_log(pbx, "spy session started")
    aleg.transfer("*7403")
    rung_110 = len([c for c in agent.calls if c.incoming])
    tleg = target.incoming(timeout=15)
    ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers the queue")
    t_follow = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to follow the client")
    ua.poll(3.0)
    t_end = time.monotonic()
    assert scall.confirmed, "the monitor ended with the agent"
    assert ccall.confirmed, "the client's call dropped"
    assert len([c for c in agent.calls if c.incoming]) == rung_110, "110 was rung in its wrap-up"
    swav = scall.stop_recording()
    freqs = (400, 1000, 1500)
    lv_before = audio.tone_levels(swav, freqs, at(scall, t_spy + 0.6), at(scall, t_xfer))
    lv_after = audio.tone_levels(swav, freqs, at(scall, t_follow + 0.6), at(scall, t_end))
    print("spy before", fmt(lv_before), "after", fmt(lv_after))
    check("supervisor", lv_before, [400, 1000], [1500], "on 110's queue call")
    check("supervisor", lv_after, [400, 1500], [1000], "with the client and 120")

    # The queue log: 110's call ended by a transfer, the client entered again
    # and 120 answered it.
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the client hangs up")
    ua.poll(0.5)
    out = pbx.cli("queue", "stats", "403").stdout
    print(out)
    row = stats_row(out, "403")
    assert row[1:3] == ["2", "2"], f"offered, answered: {row}"
    agents = {l.split()[0]: l.split() for l in out.splitlines() if l.startswith("SIP/")}
    assert agents["SIP/110"][1] == "1" and agents["SIP/120"][1] == "1", agents


@pytest.mark.pbx_dialplan(
    text=f"""#include "{SHIPPED}"

; test only: a queue with a member announcement (Queue's announceoverride)
[from-internal]
exten => 7404,1,Queue(404,t,,queue-thankyou,600)
same => n,Hangup()
"""
)
def test_the_agent_hears_the_announcement_before_the_caller(pbx, ua, make_phone, tones):
    """Caller 113 (400 Hz) dials 7404; agent 111 (1000 Hz) answers and first
    hears queue-thankyou while the caller still hears music; then they talk."""
    pbx.cli("queue", "add", "404")
    agent = registered_phone(pbx, make_phone, "111", tones[1000])
    pbx.cli_live("queue", "member", "add", "404", "111")
    caller = registered_phone(pbx, make_phone, "113", tones[400])
    ccall = caller.call("7404")
    leg = agent.incoming(timeout=10)
    ua.wait_for(lambda: leg.confirmed and leg.media_active, 10, "111 answers")
    t_answer = time.monotonic()
    prompt_len = prompts.prompt_seconds("queue-thankyou")
    ua.poll(prompt_len + 2.5)
    t_end = time.monotonic()
    awav = leg.stop_recording()
    cwav = ccall.stop_recording()
    t, score = prompts.find_prompt(awav, "queue-thankyou", end=at(leg, t_answer) + 1.5)
    print(f"agent: queue-thankyou at {t:.2f}s (answered at {at(leg, t_answer):.2f}s), score {score:.2f}")
    assert score >= prompts.MATCH, "the agent did not hear the announcement"
    during = audio.tone_levels(awav, (400,), at(leg, t_answer) + 0.2, t + prompt_len - 0.2)
    assert during[400] <= ABSENT, f"the agent heard the caller during the announcement: {fmt(during)}"
    after = (t + prompt_len + 0.5, at(leg, t_end))
    lv = audio.tone_levels(awav, (400, 1000), *after)
    check("agent", lv, [400], [], "after the announcement")
    # The caller: music while the agent hears the prompt, then the agent.
    c_ans = at(ccall, t_answer)
    assert audio.music_level(cwav, c_ans + 0.2, c_ans + prompt_len - 0.3) > -40.0, "no music during the announcement"
    lv = audio.tone_levels(cwav, (1000,), c_ans + 0.2, c_ans + prompt_len - 0.3)
    assert lv[1000] <= ABSENT, f"the caller heard the agent during the announcement: {fmt(lv)}"
    lv = audio.tone_levels(cwav, (400, 1000), c_ans + prompt_len + 0.5, at(ccall, t_end))
    check("caller", lv, [1000], [], "after the announcement")


def test_feature_codes_log_in_and_out_but_a_static_member_stays(pbx, ua, make_phone, tones):
    """*45405 logs 111 in ("activated"), *46405 out ("de-activated"); 110, a static
    member, dialling *46405 hears "invalid" (RemoveQueueMember: NOTDYNAMIC) and
    stays in the queue."""
    pbx.cli("queue", "add", "405")
    static = registered_phone(pbx, make_phone, "110", tones[1000])
    pbx.cli("queue", "member", "add", "405", "110")
    agent = registered_phone(pbx, make_phone, "111", tones[1500])

    def feature(phone, code, prompt):
        c = phone.call(code)
        ua.wait_for(lambda: c.disconnected, 10, f"{code} plays and hangs up")
        t, score = prompts.find_prompt(c.stop_recording(), prompt)
        print(f"{code}: {prompt} at {t:.2f}s, score {score:.2f}")
        assert score >= prompts.MATCH, f"{code}: {prompt!r} not heard"

    def members():
        out = pbx.cli("queue", "show", "405").stdout
        return {l.split()[0]: l.split()[2] for l in out.splitlines() if re.match(r"^\d+\s", l)}

    feature(agent, "*45405", "activated")
    assert members() == {"110": "static", "111": "dynamic"}
    feature(static, "*46405", "invalid")
    feature(agent, "*46405", "de-activated")
    ua.poll(0.5)  # the write-behind queue writes the logout
    assert members() == {"110": "static"}
