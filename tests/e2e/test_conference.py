"""Conference rooms (ConfBridge) with real phones and the SHIPPED dialplan (`*88<room>`).

131 (400 Hz), 132 (1000 Hz) and 133 (1500 Hz) join room 800: each hears the other
two and not itself; the room goes on when one leaves; a member muted through the
CLI is no longer heard, and heard again once unmuted; a member kicked through the
API is hung up (the shipped dialplan hangs up after ConfBridge); the room is gone
with its last member. A supervisor spying on one member hears the whole room, and
a whisper to one member reaches that member only."""

import time
import urllib.parse

import pytest

import audio
from phone import wav_tone
from spysetup import SHIPPED, SOUNDS_ARGS, at, check, count_log, fmt, registered_phone, wait_log
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500, 2000)
TONE_OF = {"131": 400, "132": 1000, "133": 1500}


def join(ua, pbx, phone, room="800"):
    n = count_log(pbx, "joined the conference")
    call = phone.call(f"*88{room}")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, f"{phone.ext} in the room")
    wait_log(ua, pbx, "joined the conference", n, 5, f"{phone.ext} to join")
    return call


def room_members(pbx, token):
    status, body = api(pbx, "GET", "/api/v1/conferences", token)
    assert status == 200, body
    return {r["name"]: r["members"] for r in body["conferences"]}


def listen(ua, calls, phase, seconds=2.5):
    """Records what each of ``calls`` hears for ``seconds`` (fresh recordings), and
    returns each one's tone levels, leaving out the first 0.6 s."""
    for ext, c in calls.items():
        c.record(c.rec_path.with_name(f"{ext}-{phase}.wav"))
    ua.wait_for(lambda: all(c.rec_started is not None for c in calls.values()), 3, "recorders")
    t0 = time.monotonic()
    ua.poll(seconds)
    t1 = time.monotonic()
    out = {}
    for ext, c in calls.items():
        wav = c.stop_recording()
        out[ext] = audio.tone_levels(wav, FREQS, at(c, t0 + 0.6), at(c, t1 - 0.1))
    print(phase, {e: fmt(v) for e, v in out.items()})
    return out


def expect(levels, ext, present, absent, phase):
    check(ext, levels[ext], present, absent, phase)


@pytest.fixture
def room(pbx, ua, make_phone, tones):
    phones = {ext: registered_phone(pbx, make_phone, ext, tones[f]) for ext, f in TONE_OF.items()}
    calls = {ext: join(ua, pbx, ph) for ext, ph in phones.items()}
    return phones, calls


def test_members_hear_each_other_and_the_room_outlives_each_leaver(pbx, ua, room):
    phones, calls = room
    token = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    ua.poll(1.0)
    lv = listen(ua, calls, "all")
    for ext, f in TONE_OF.items():
        others = [g for e, g in TONE_OF.items() if e != ext]
        expect(lv, ext, others, [f], "all three in the room")
    assert sorted(m["endpoint"] for m in room_members(pbx, token)["800"]) == ["131", "132", "133"]

    # 131 leaves: the others go on, hearing each other only.
    n = count_log(pbx, "left the conference")
    calls["131"].end()
    wait_log(ua, pbx, "left the conference", n, 5, "131 to leave")
    rest = {e: calls[e] for e in ("132", "133")}
    lv = listen(ua, rest, "after-131")
    expect(lv, "132", [1500], [400, 1000], "after 131 left")
    expect(lv, "133", [1000], [400, 1500], "after 131 left")
    assert all(c.confirmed for c in rest.values())
    assert sorted(m["endpoint"] for m in room_members(pbx, token)["800"]) == ["132", "133"]

    calls["132"].end()
    calls["133"].end()
    ua.wait_for(lambda: calls["132"].disconnected and calls["133"].disconnected, 5, "hang up")
    ua.wait_for(lambda: room_members(pbx, token) == {}, 5, "the room to end with its last member")


def test_mute_through_the_cli_and_kick_through_the_api(pbx, ua, room):
    phones, calls = room
    admin = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    read = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    members = room_members(pbx, read)["800"]
    chan = {m["endpoint"]: m["channel"] for m in members}
    http = ("--http", f"127.0.0.1:{pbx.http_port}")
    listing = pbx.cli("conf", "list", *http, "--token", read).stdout
    assert "800" in listing and chan["132"] in listing, listing

    out = pbx.cli("conf", "mute", "800", chan["132"], *http, "--token", admin).stdout
    assert "muted" in out, out
    assert [m["muted"] for m in room_members(pbx, read)["800"] if m["endpoint"] == "132"] == [True]
    lv = listen(ua, {e: calls[e] for e in ("131", "133")}, "132-muted")
    expect(lv, "131", [1500], [1000], "132 muted")
    expect(lv, "133", [400], [1000], "132 muted")

    pbx.cli("conf", "unmute", "800", chan["132"], *http, "--token", admin)
    lv = listen(ua, {"131": calls["131"]}, "132-unmuted")
    expect(lv, "131", [1000, 1500], [], "132 unmuted")

    # A read token may not kick; an admin's kick hangs the member up.
    path = f"/api/v1/conferences/800/members/{urllib.parse.quote(chan['133'], safe='')}"
    status, body = api(pbx, "DELETE", path, read)
    assert status == 403, body
    status, body = api(pbx, "DELETE", path, admin)
    assert status == 204, body
    ua.wait_for(lambda: calls["133"].disconnected, 5, "the kicked member to be hung up")
    assert sorted(m["endpoint"] for m in room_members(pbx, read)["800"]) == ["131", "132"]
    status, body = api(pbx, "DELETE", path, admin)
    assert status == 404, body
    assert calls["131"].confirmed and calls["132"].confirmed


def test_a_spy_on_a_member_hears_the_room_and_whispers_to_that_member_only(pbx, ua, make_phone, room, tmp_path):
    phones, calls = room
    sup = registered_phone(pbx, make_phone, "201", wav_tone(tmp_path / "t2000.wav", 2000), supervisor=True)
    started = count_log(pbx, "spy session started")
    scall = sup.call("*223132")  # whisper to 132
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*223132 answered")
    wait_log(ua, pbx, "spy session started", started, 8, "the whisper to start")
    ua.poll(0.5)
    lv = listen(ua, dict(calls, sup=scall), "whisper")
    check("supervisor", lv["sup"], [400, 1000, 1500], [2000], "spying on 132 in the room")
    expect(lv, "132", [400, 1500, 2000], [1000], "whispered to")
    expect(lv, "131", [1000, 1500], [2000], "not whispered to")
    expect(lv, "133", [400, 1000], [2000], "not whispered to")


# ----------------------------------------------------------- barge -> conference

CONF_MODES = "listen,whisper,barge,conference"


def conference_call(pbx, ua, make_phone, tones):
    """Client (trunk, 400 Hz) -> agent 110 (1000 Hz); supervisor 201 (1500 Hz)
    spies with *225110 (d: DTMF modes), barges (6), then makes it a conference (8)."""
    from spysetup import carrier_trunk, inbound_call

    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", CONF_MODES)
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    started = count_log(pbx, "spy session started")
    scall = sup.call("*225110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*225110 answered")
    wait_log(ua, pbx, "spy session started", started, 8, "the spy session to start")
    ua.poll(1.0)
    scall.send_digits("6")
    ua.poll(1.0)
    n = count_log(pbx, "call turned into a conference")
    scall.send_digits("8")
    wait_log(ua, pbx, "call turned into a conference", n, 5, "the conference")
    ua.poll(0.8)
    return ccall, aleg, scall


def test_dtmf_8_makes_the_barge_a_conference_that_outlives_the_agent(pbx, ua, make_phone, tones):
    ccall, aleg, scall = conference_call(pbx, ua, make_phone, tones)
    token = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    [(room, members)] = room_members(pbx, token).items()
    assert room.startswith("call-"), room
    assert sorted(m["endpoint"] for m in members) == ["110", "201", "carrier"], members
    lv = listen(ua, {"client": ccall, "agent": aleg, "sup": scall}, "conference")
    check("client", lv["client"], [1000, 1500], [400], "in the conference")
    check("agent", lv["agent"], [400, 1500], [1000], "in the conference")
    check("supervisor", lv["sup"], [400, 1000], [1500], "in the conference")

    # The agent leaves: the client and the supervisor go on.
    aleg.end()
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent hangs up")
    ua.poll(0.8)
    assert ccall.confirmed and scall.confirmed, "the conference ended with the agent"
    lv = listen(ua, {"client": ccall, "sup": scall}, "without-agent")
    check("client", lv["client"], [1500], [400, 1000], "after the agent left")
    check("supervisor", lv["sup"], [400], [1000, 1500], "after the agent left")
    assert sorted(m["endpoint"] for m in room_members(pbx, token)[room]) == ["201", "carrier"]

    # Then the supervisor: the client is the last one; when it leaves, the room
    # and the call are over, with the conference in the audit trail.
    scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor hangs up")
    ccall.end()
    ua.wait_for(lambda: room_members(pbx, token) == {}, 5, "the room to end")
    audit = pbx.cli("audit", "list").stdout
    assert "conference" in audit, audit


def test_the_conference_outlives_the_supervisor_too(pbx, ua, make_phone, tones):
    ccall, aleg, scall = conference_call(pbx, ua, make_phone, tones)
    scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor hangs up")
    ua.poll(0.8)
    assert ccall.confirmed and aleg.confirmed, "the call ended with the supervisor"
    lv = listen(ua, {"client": ccall, "agent": aleg}, "without-supervisor")
    check("client", lv["client"], [1000], [400, 1500], "after the supervisor left")
    check("agent", lv["agent"], [400], [1000, 1500], "after the supervisor left")
    # The client leaves: the agent is alone, then leaves too; the call record is one
    # answered call.
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the client hangs up")
    ua.poll(0.5)
    assert aleg.confirmed, "the agent was hung up with the client"
    aleg.end()
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent hangs up")
    ua.poll(0.5)
    cdr = pbx.cli("cdr", "list").stdout
    assert "ANSWERED" in cdr, cdr


def test_conference_needs_the_grant(pbx, ua, make_phone, tones):
    from spysetup import carrier_trunk, inbound_call

    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen,whisper,barge")
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    started = count_log(pbx, "spy session started")
    scall = sup.call("*225110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*225110 answered")
    wait_log(ua, pbx, "spy session started", started, 8, "the spy session to start")
    ua.poll(1.0)
    n = count_log(pbx, "mode refused")
    scall.send_digits("8")
    ua.poll(1.5)
    assert count_log(pbx, "call turned into a conference") == 0
    token = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    assert room_members(pbx, token) == {}
    aleg.end()
    ua.wait_for(lambda: ccall.disconnected, 8, "the call ends with the agent, as any barge")


def test_the_api_makes_a_monitor_a_conference(pbx, ua, make_phone, tones):
    from spysetup import carrier_trunk, inbound_call

    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500])
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", CONF_MODES)
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    [call] = calls["calls"]
    started = count_log(pbx, "spy session started")
    status, body = api(pbx, "POST", f"/api/v1/calls/{call['id']}/monitor", token,
                       {"supervisor": "201", "mode": "barge"})  # fmt: skip
    assert status == 201, body
    monitor = body["id"]
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitor}", token, {"mode": "conference"})
    assert status == 204, body
    assert list(room_members(pbx, token)) == [f"call-{call['id']}"]
    # In the room, no other mode.
    status, body = api(pbx, "PATCH", f"/api/v1/monitors/{monitor}", token, {"mode": "listen"})
    assert status == 409, body
    aleg.end()
    ua.wait_for(lambda: aleg.disconnected, 5, "the agent hangs up")
    ua.poll(0.8)
    lv = listen(ua, {"client": ccall}, "api-conference")
    check("client", lv["client"], [1500], [400, 1000], "with the supervisor, the agent gone")
    # Stopping the monitor takes the supervisor out; the client is alone in the room.
    status, body = api(pbx, "DELETE", f"/api/v1/monitors/{monitor}", token)
    assert status == 204, body
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor's phone hung up")
    assert ccall.confirmed
