"""Queues with real phones and the SHIPPED dialplan: a trunk's call to a number
routed to a queue (FreePBX's inbound route) waits with music, the floor rings the
agents in the queue's order, the one who answers talks to the caller (tones both
ways), an agent logs in by feature code, a caller hears its position, a caller who
hangs up is counted as abandoned, and `spygroup queue stats` counts what happened.

The carrier sends 400 Hz, agent 111 1000 Hz; agent 110 rings and never answers."""

import re
import time

import pytest

import audio
import prompts
from spysetup import SHIPPED, SOUNDS_ARGS, at, carrier_trunk, check, fmt, registered_phone
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]


def stats_row(out, queue):
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == queue:
            return cols
    raise AssertionError(f"no row for {queue} in:\n{out}")


def test_position_announcement_and_abandon(pbx, ua, make_phone, tones):
    pbx.cli(
        "queue", "add", "401", "--announce-frequency", "30", "--announce-position", "yes",
    )  # fmt: skip
    pbx.cli("db", "put", "queue-did", "5550401", "401")
    # Its only agent is paused: the caller waits (joinempty never).
    registered_phone(pbx, make_phone, "112", tones[1000])
    pbx.cli("queue", "member", "add", "401", "112")
    pbx.cli("agent", "pause", "112", "--reason", "lunch")
    client = carrier_trunk(pbx, make_phone, tones[400])
    ccall = client.call(f"sip:5550401@{pbx.sip_addr}")
    ua.wait_for(lambda: ccall.confirmed, 10, "the queue answers")
    ua.poll(4.0)
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
