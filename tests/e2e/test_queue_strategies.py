"""Each queue strategy with real phones and the SHIPPED dialplan: four callers in
turn (a trunk sending 400 Hz, to a number routed to the queue) and three agents
110/111/112 (1000, 1500, 2000 Hz) who let the call ring until the test answers.
For every call the test sees which agents ring, answers the one that rang (the
first, for ringall), checks by tone that the caller talks with that agent, and
has the agent hang up. The order each strategy gives, an agent on a direct call
being skipped, and the statistics of the calls made are checked; the finer
points of each strategy (penalties, weights, memory across failures) are tested
in virtual time (`cargo test -p pbx --lib queue`)."""

import time

import pytest

import audio
import phone as phone_mod
from spysetup import SHIPPED, SOUNDS_ARGS, at, carrier_trunk, check, registered_phone
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

AGENTS = {"110": 1000, "111": 1500, "112": 2000}
FREQS = (400, 1000, 1500, 2000)


def new_incoming(agents, seen):
    """The agents with an incoming call not yet seen, with that call."""
    out = {}
    for ext, ph in agents.items():
        calls = [c for c in ph.calls if c.incoming]
        if len(calls) > seen[ext]:
            out[ext] = calls[seen[ext]]
    return out


def ring_round(ua, agents, seen, settle=0.6, timeout=10):
    """Waits for the queue to ring someone, then `settle` more seconds so every
    agent a ringall would ring has rung; marks what it returns as seen."""
    ua.wait_for(lambda: new_incoming(agents, seen), timeout, "an agent to ring")
    ua.poll(settle)
    rung = new_incoming(agents, seen)
    for ext in rung:
        seen[ext] += 1
    return rung


def one_call(ua, pbx, client, agents, seen, did, expect=None):
    """A caller into the queue: returns the agents that rang and the one who
    answered. `expect`: the set of agents that must ring (all at once for
    ringall, one at a time otherwise)."""
    ccall = client.call(f"sip:{did}@{pbx.sip_addr}")
    rung = ring_round(ua, agents, seen)
    if expect is not None:
        assert set(rung) == set(expect), f"rang {sorted(rung)}, expected {sorted(expect)}"
    answerer = sorted(rung)[0]
    leg = rung[answerer]
    leg.answer_with(200)
    ua.wait_for(lambda: leg.confirmed and leg.media_active and ccall.media_active, 10, f"{answerer} answers")
    for ext, other in rung.items():
        if ext != answerer:
            ua.wait_for(lambda: other.disconnected, 5, f"{ext}'s ringing is cancelled")
    t1 = time.monotonic() + 0.4
    ua.poll(1.4)
    t2 = time.monotonic()
    lv = audio.tone_levels(ccall.rec_path, FREQS, at(ccall, t1), at(ccall, t2))
    hears = AGENTS[answerer]
    check("caller", lv, [hears], [f for f in AGENTS.values() if f != hears], f"with {answerer}")
    leg.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "the caller is hung up with the agent")
    ua.poll(0.3)
    return set(rung), answerer


def stats(pbx, queue):
    out = pbx.cli("queue", "stats", queue).stdout
    print(out)
    row = next(l.split() for l in out.splitlines() if l.split()[:1] == [queue])
    agents = [l.split() for l in out.splitlines() if l.startswith("SIP/")]
    # Answered per agent (agents with none left out); nobody rang without answer
    # (the test answers every call; a ringall's other agents are cancelled).
    assert all(a[2] == "0" for a in agents), f"NOANSWER counted: {out}"
    return row, {a[0][4:]: int(a[1]) for a in agents if a[1] != "0"}


def floor(pbx, ua, make_phone, tmp_path, strategy):
    client = carrier_trunk(pbx, make_phone, phone_mod.wav_tone(tmp_path / "t400.wav", 400))
    pbx.cli("queue", "add", "410", "--strategy", strategy, "--timeout", "15", "--retry", "1")
    pbx.cli("db", "put", "queue-did", "5550410", "410")
    agents = {}
    for ext, f in AGENTS.items():
        agents[ext] = registered_phone(pbx, make_phone, ext, phone_mod.wav_tone(tmp_path / f"t{f}.wav", f), answer=None)
        pbx.cli("queue", "member", "add", "410", ext)
    # The switch takes members from its next snapshot: wait until its floor
    # shows all three as available.
    token = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    deadline = time.monotonic() + 5
    while True:
        code, live = api(pbx, "GET", "/api/v1/agents", token)
        states = {a["extension"]: a["state"] for a in live} if code == 200 else live
        if states == {ext: "available" for ext in AGENTS}:
            break
        assert time.monotonic() < deadline, f"agents not available: {states}"
        ua.poll(0.05)
    return client, agents, {ext: 0 for ext in agents}


# Sequential callers, every agent free each time (wrap-up 0): who answers.
ORDER = {
    "linear": ["110", "110", "110", "110"],
    "rrmemory": ["110", "111", "112", "110"],
    "leastrecent": ["110", "111", "112", "110"],
    "fewestcalls": ["110", "111", "112", "110"],
}


@pytest.mark.parametrize("strategy", sorted(ORDER))
def test_strategy_order(pbx, ua, make_phone, tmp_path, strategy):
    client, agents, seen = floor(pbx, ua, make_phone, tmp_path, strategy)
    got = []
    for want in ORDER[strategy]:
        rung, answerer = one_call(ua, pbx, client, agents, seen, "5550410", expect=[want])
        got.append(answerer)
    print(strategy, "answered by", got)
    row, per_agent = stats(pbx, "410")
    assert row[1:4] == ["4", "4", "0"], f"offered, answered, abandoned: {row}"
    assert per_agent == {e: got.count(e) for e in set(got)}, per_agent


def test_ringall_rings_every_free_agent(pbx, ua, make_phone, tmp_path):
    client, agents, seen = floor(pbx, ua, make_phone, tmp_path, "ringall")
    got = [one_call(ua, pbx, client, agents, seen, "5550410", expect=AGENTS)[1] for _ in range(2)]
    row, per_agent = stats(pbx, "410")
    assert row[1:3] == ["2", "2"], row
    assert sum(per_agent.values()) == 2 and set(per_agent) == set(got), per_agent


@pytest.mark.parametrize("strategy", ["random", "wrandom"])
def test_random_rings_one_free_agent_at_a_time(pbx, ua, make_phone, tmp_path, strategy):
    client, agents, seen = floor(pbx, ua, make_phone, tmp_path, strategy)
    got = []
    for _ in range(4):
        rung, answerer = one_call(ua, pbx, client, agents, seen, "5550410")
        assert len(rung) == 1, f"{strategy} rang {sorted(rung)} at once"
        got.append(answerer)
    print(strategy, "answered by", got)
    row, per_agent = stats(pbx, "410")
    assert row[1:3] == ["4", "4"], row
    assert per_agent == {e: got.count(e) for e in set(got)}, per_agent


def test_an_agent_on_a_direct_call_is_skipped(pbx, ua, make_phone, tmp_path):
    """linear would ring 110 first: while 110 is on a call of its own (a
    conference room), the caller rings 111; once 110 hangs up, 110 again."""
    client, agents, seen = floor(pbx, ua, make_phone, tmp_path, "linear")
    direct = agents["110"].call("*88777")
    ua.wait_for(lambda: direct.confirmed, 10, "110's own call is answered")
    ua.poll(0.5)
    assert one_call(ua, pbx, client, agents, seen, "5550410", expect=["111"])[1] == "111"
    direct.end()
    ua.wait_for(lambda: direct.disconnected, 5, "110 hangs up its own call")
    ua.poll(0.5)
    assert one_call(ua, pbx, client, agents, seen, "5550410", expect=["110"])[1] == "110"


def test_callers_wait_in_turn_for_one_agent(pbx, ua, make_phone, tmp_path):
    """Two callers at once, one agent: the first talks with 111, the second
    hears music until 111 hangs up, then talks with 111; the statistics show
    the second caller's wait."""
    client = carrier_trunk(pbx, make_phone, phone_mod.wav_tone(tmp_path / "t400.wav", 400))
    pbx.cli("queue", "add", "411", "--retry", "1")
    pbx.cli("db", "put", "queue-did", "5550411", "411")
    agent = registered_phone(pbx, make_phone, "111", phone_mod.wav_tone(tmp_path / "t1500.wav", 1500))
    pbx.cli_live("queue", "member", "add", "411", "111")
    first = client.call(f"sip:5550411@{pbx.sip_addr}")
    leg1 = agent.incoming(timeout=10)
    ua.wait_for(lambda: leg1.confirmed and first.media_active, 10, "111 answers the first caller")
    second = client.call(f"sip:5550411@{pbx.sip_addr}")
    ua.wait_for(lambda: second.confirmed and second.media_active, 10, "the queue answers the second caller")
    t0 = time.monotonic()
    ua.poll(2.5)
    t1 = time.monotonic()
    assert len([c for c in agent.calls if c.incoming]) == 1, "111 was rung while on a call"
    leg1.end()
    ua.wait_for(lambda: first.disconnected, 5, "the first caller is hung up")
    leg2 = agent.incoming(timeout=10)
    ua.wait_for(lambda: leg2.confirmed and leg2.media_active, 10, "111 answers the second caller")
    t2 = time.monotonic() + 0.4
    ua.poll(1.5)
    t3 = time.monotonic()
    w = second.rec_path
    assert audio.music_level(w, at(second, t0 + 0.3), at(second, t1)) > -40.0, "no music while waiting"
    lv = audio.tone_levels(w, (1500,), at(second, t0 + 0.3), at(second, t1))
    assert lv[1500] <= audio.ABSENT_DBFS, "the waiting caller heard the agent"
    lv = audio.tone_levels(w, (400, 1500), at(second, t2), at(second, t3))
    check("second caller", lv, [1500], [], "with 111")
    leg2.end()
    ua.wait_for(lambda: second.disconnected, 5, "the second caller is hung up")
    ua.poll(0.3)
    row, per_agent = stats(pbx, "411")
    assert row[1:4] == ["2", "2", "0"], row
    assert int(row[8]) >= 2, f"MAXWAIT: the second caller waited about 2.5 s: {row}"
    assert per_agent == {"111": 2}, per_agent
