"""Transfers with real phones and the SHIPPED dialplan, and where a supervisor goes
when the call is transferred.

The client is a trunk (400 Hz) calling agent 110 (1000 Hz); the transfer target
120 sends 1500 Hz. Blind transfer (REFER) from pjsua2 and from baresip; attended
transfer (hold, consultation call, REFER with Replaces) from pjsua2, with a pjsua2
and a baresip target (baresip 1.0.0 can make blind transfers only, so it is the
moved phone there: the PBX re-INVITEs it onto the client's call). Each time the
client ends up hearing 120 and 120 the client, the agent's phone is hung up by
the PBX and told `200 OK` in its NOTIFY.

Monitoring: a supervisor (201, silent) spying on 110 with ChanSpy (no E) leaves
the call with 110 and picks up 110's next call (follow the agent); a click-to-spy
monitor with `follow: "client"` stays with the client and hears it with 120."""

import time
import urllib.parse

import pytest

import audio
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
    wait_log,
)
from test_click_to_spy import api

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500)
# baresip 1.0.0 answers MD5 challenges only (see baresip.py).
MD5_ONLY = pytest.mark.pbx_args("--digest-algorithms", "MD5", *SOUNDS_ARGS)


def wait_transfer(ua, pbx, before, what):
    return wait_log(ua, pbx, "transfer", before, 8, what)


def levels(call, wav, t0, t1):
    return audio.tone_levels(wav, FREQS, at(call, t0), at(call, t1))


def assert_client_with_120(ua, ccall, tleg_wav_call, t_from, seconds=3.0):
    """From ``t_from``, the client hears 120 (1500) and no agent; 120 hears the client."""
    ua.poll(seconds)
    t_end = time.monotonic()
    assert ccall.confirmed, f"the client's call dropped: {ccall}"
    cwav = ccall.stop_recording()
    lv = levels(ccall, cwav, t_from, t_end)
    print("client after the transfer:", fmt(lv))
    check("client", lv, [1500], [1000], "after the transfer")
    assert audio.music_level(cwav, at(ccall, t_from), at(ccall, t_end)) <= -50.0, "music still plays"
    if tleg_wav_call is not None:
        twav = tleg_wav_call.stop_recording()
        lv = levels(tleg_wav_call, twav, t_from, t_end)
        print("120 after the transfer:", fmt(lv))
        check("120", lv, [400], [1000], "after the transfer")


def test_blind_transfer_from_pjsua2(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    ua.poll(1.0)
    n = count_log(pbx, "blind transfer")
    aleg.transfer("120")
    wait_log(ua, pbx, "blind transfer", n, 5, "the PBX to take the REFER")
    tleg = target.incoming(timeout=10)
    ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers")
    ua.wait_for(lambda: aleg.disconnected, 5, "the PBX hangs the agent up")
    assert aleg.transferred_ok, f"the agent was not told 200 OK: {aleg.transfer_codes}"
    assert [c for c, _ in aleg.transfer_codes][:1] == [100], aleg.transfer_codes
    assert_client_with_120(ua, ccall, tleg, time.monotonic() + 0.6)


@MD5_ONLY
def test_blind_transfer_from_baresip(pbx, ua, make_phone, tones, tmp_path):
    client = carrier_trunk(pbx, make_phone, tones[400])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    agent = baresip_ext(pbx, ua, tmp_path / "b110", "110", 1000)
    try:
        ccall = client.call(f"sip:110@{pbx.sip_addr}")
        ua.wait_for(lambda: ccall.confirmed and ccall.media_active, 10, "baresip 110 answers")
        ua.poll(1.5)
        n = count_log(pbx, "blind transfer")
        agent.command(f"/transfer sip:120@{pbx.sip_addr}")
        wait_log(ua, pbx, "blind transfer", n, 8, "the PBX to take baresip's REFER")
        tleg = target.incoming(timeout=10)
        ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers")
        agent.wait_log(r"(?i)session closed|terminated|call closed", 8, pump=ua.poll)
        assert_client_with_120(ua, ccall, tleg, time.monotonic() + 0.6)
    finally:
        agent.stop()


def consult_and_transfer(ua, pbx, agent, aleg, callee_exten, wait_answer):
    """110 holds the client, calls ``callee_exten``, then transfers the client to it."""
    aleg.hold()
    ua.poll(1.0)
    consult = agent.call(callee_exten)
    wait_answer(consult)
    ua.poll(1.0)
    n = count_log(pbx, "attended transfer")
    aleg.transfer_to_call(consult)
    wait_log(ua, pbx, "attended transfer", n, 5, "the PBX to take the REFER with Replaces")
    ua.wait_for(lambda: aleg.disconnected and consult.disconnected, 5, "the PBX hangs both agent calls up")
    assert aleg.transferred_ok, f"the agent was not told 200 OK: {aleg.transfer_codes}"
    return time.monotonic()


def test_attended_transfer_from_pjsua2(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    ua.poll(1.0)
    legs = []

    def answered(consult):
        legs.append(target.incoming(timeout=10))
        ua.wait_for(lambda: consult.confirmed and consult.media_active and legs[0].media_active, 10, "120 answers 110")
        legs.append(legs[0].stream_remote)

    t_done = consult_and_transfer(ua, pbx, agent, aleg, "120", answered)
    tleg, before = legs
    ua.wait_for(lambda: tleg.stream_remote != before, 5, "120 re-INVITEd onto the client's call")
    assert tleg.confirmed, tleg
    assert_client_with_120(ua, ccall, tleg, t_done + 0.8)


@MD5_ONLY
def test_attended_transfer_to_baresip(pbx, ua, make_phone, tones, tmp_path):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    target = baresip_ext(pbx, ua, tmp_path / "b120", "120", 1500)
    try:
        ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
        ua.poll(1.0)

        def answered(consult):
            ua.wait_for(lambda: consult.confirmed and consult.media_active, 10, "baresip 120 answers 110")

        t_done = consult_and_transfer(ua, pbx, agent, aleg, "120", answered)
        assert_client_with_120(ua, ccall, None, t_done + 0.8)
        # What baresip heard: the agent while consulted, the client after the transfer.
        ccall.end()
        ua.wait_for(lambda: ccall.disconnected, 5, "client hangs up")
        target.wait_log(r"(?i)session closed|terminated|call closed", 8, pump=ua.poll)
        dumps = target.received_wavs()
        assert dumps, "baresip recorded nothing"
        wav = max(dumps, key=lambda p: p.stat().st_mtime)
        total = audio.duration(wav)
        lv = audio.tone_levels(wav, FREQS, total - 2.5, total - 0.3)
        print("baresip 120 at the end:", fmt(lv))
        check("120 (baresip)", lv, [400], [1000], "after the transfer")
    finally:
        target.stop()


@MD5_ONLY
def test_a_spy_on_the_agent_follows_the_agent_to_its_next_call(pbx, ua, make_phone, tones, tmp_path):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", None, supervisor=True)
    target = baresip_ext(pbx, ua, tmp_path / "b120", "120", 1500)
    try:
        ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
        started = count_log(pbx, "spy session started")
        scall = sup.call("*222110")
        ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*222110 answered")
        t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the spy to start")
        ua.poll(2.0)
        t_xfer = time.monotonic()
        n = count_log(pbx, "blind transfer")
        aleg.transfer("120")
        wait_log(ua, pbx, "blind transfer", n, 5, "the PBX to take the REFER")
        ua.wait_for(lambda: aleg.disconnected, 8, "the agent hung up by the PBX")
        ua.poll(3.0)  # 120 answers; the client talks with 120 now
        t_next = time.monotonic()
        started = count_log(pbx, "spy session started")
        ccall2, aleg2 = inbound_call(ua, pbx, client, agent, "110")
        t_spy2 = wait_log(ua, pbx, "spy session started", started, 8, "the spy to find 110's next call")
        ua.poll(2.5)
        t_end = time.monotonic()
        swav = scall.stop_recording()
        lv_before = levels(scall, swav, t_spy + 0.6, t_xfer)
        lv_between = levels(scall, swav, t_xfer + 1.0, t_next)
        lv_after = levels(scall, swav, t_spy2 + 0.6, t_end)
        print("spy before", fmt(lv_before), "between", fmt(lv_between), "after", fmt(lv_after))
        check("supervisor", lv_before, [400, 1000], [1500], "spying on 110's first call")
        check("supervisor", lv_between, [], [400, 1500], "after 110 transferred the client away")
        check("supervisor", lv_after, [400, 1000], [1500], "on 110's next call")
        assert ccall.confirmed and ccall2.confirmed
    finally:
        target.stop()


def test_click_to_spy_following_the_client_hears_it_with_the_next_agent(pbx, ua, make_phone, tones):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    sup = registered_phone(pbx, make_phone, "201", None, supervisor=True)
    token = pbx.cli("token", "create", "--scope", "supervise", "--supervisor", "201").stdout.strip()
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    assert status == 200, calls
    names = [c["name"] for call in calls["calls"] for c in call["channels"]]
    agent_chan = next(n for n in names if n.startswith("SIP/110-"))
    path = f"/api/v1/calls/{urllib.parse.quote(agent_chan, safe='')}/monitor"
    status, body = api(pbx, "POST", path, token, {"supervisor": "201", "mode": "listen", "follow": "sideways"})
    assert status == 400 and body["field"] == "follow", body
    started = count_log(pbx, "spy session started")
    status, body = api(pbx, "POST", path, token, {"supervisor": "201", "mode": "listen", "follow": "client"})
    assert status == 201, body
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    t_spy = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    ua.poll(2.0)
    t_xfer = time.monotonic()
    started = count_log(pbx, "spy session started")
    aleg.transfer("120")
    tleg = target.incoming(timeout=10)
    ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers")
    t_follow = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to follow the client")
    ua.poll(3.0)
    t_end = time.monotonic()
    assert scall.confirmed, "the monitor ended with the agent"
    swav = scall.stop_recording()
    lv_before = levels(scall, swav, t_spy + 0.6, t_xfer)
    lv_after = levels(scall, swav, t_follow + 0.6, t_end)
    print("spy before", fmt(lv_before), "after", fmt(lv_after))
    check("supervisor", lv_before, [400, 1000], [1500], "on the agent's call")
    check("supervisor", lv_after, [400, 1500], [1000], "with the client and 120")
    status, calls = api(pbx, "GET", "/api/v1/calls", token)
    spying = [m["spying"] for call in calls["calls"] for m in call.get("monitored_by", [])]
    assert spying and spying[0]["channel"].startswith("SIP/120-"), spying


@pytest.mark.pbx_dialplan(
    text="""
[from-internal]
exten => 555,1,Answer()
same => n,Wait(1)
same => n,Transfer(SIP/120)
same => n,Set(DB(xfer/result)=${TRANSFERSTATUS}:${TRANSFERSTATUSPROTOCOL})
same => n,Hangup()
exten => 556,1,Transfer(120)
same => n,Set(DB(xfer/ringing)=${TRANSFERSTATUS}:${TRANSFERSTATUSPROTOCOL})
exten => _1XX,1,Dial(SIP/${EXTEN},30)
"""
)
def test_transfer_in_the_dialplan_sends_the_phone_to_the_target(pbx, ua, make_phone, tones):
    caller = registered_phone(pbx, make_phone, "130", tones[400])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    # Answered: a REFER; the phone calls 120 itself and hangs this call up.
    first = caller.call("555")
    ua.wait_for(lambda: first.confirmed, 10, "555 answers")
    tleg = target.incoming(timeout=10)
    ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers the transferred phone")
    assert first.transfer_requests and "120@" in first.transfer_requests[0], first.transfer_requests
    ua.wait_for(lambda: first.disconnected, 8, "the first call to end")
    new = [c for c in caller.calls if c is not first and not c.incoming]
    assert new and new[0].confirmed, caller.calls
    ua.wait_for(lambda: pbx.cli("db", "get", "xfer", "result").stdout.strip() != "", 5, "TRANSFERSTATUS")
    assert pbx.cli("db", "get", "xfer", "result").stdout.strip() == "SUCCESS:200"
    ua.poll(2.5)
    wav = tleg.stop_recording()
    lv = audio.tone_levels(wav, FREQS, audio.duration(wav) - 2.0, audio.duration(wav) - 0.2)
    check("120", lv, [400], [1500], "talking with the transferred phone")
    new[0].end()
    ua.wait_for(lambda: new[0].disconnected, 5, "hang up")

    # Not answered yet: a 302 to the target, which the phone follows.
    redirected = caller.call("556")
    tleg2 = target.incoming(timeout=10)
    ua.wait_for(lambda: tleg2.confirmed, 10, "120 answers the redirected call")
    assert redirected.redirects and "120@" in redirected.redirects[0], redirected.redirects
    ua.wait_for(lambda: pbx.cli("db", "get", "xfer", "ringing").stdout.strip() != "", 5, "TRANSFERSTATUS")
    assert pbx.cli("db", "get", "xfer", "ringing").stdout.strip() == "SUCCESS:302"


def test_blind_transfer_by_an_agent_who_dialled_out(pbx, ua, make_phone, tones):
    """110 calls 130 itself, then transfers 130 to 120: 130's leg gets a call of its
    own (re-INVITEd onto it) whose dialplan dials 120."""
    from spysetup import internal_call

    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    other = registered_phone(pbx, make_phone, "130", tones[400])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    acall, oleg = internal_call(ua, agent, other, "130")
    ua.poll(1.0)
    before = oleg.stream_remote
    n = count_log(pbx, "blind transfer by the caller")
    acall.transfer("120")
    wait_log(ua, pbx, "blind transfer by the caller", n, 5, "the PBX to take the REFER")
    tleg = target.incoming(timeout=10)
    ua.wait_for(lambda: tleg.confirmed and tleg.media_active, 10, "120 answers")
    ua.wait_for(lambda: acall.disconnected, 5, "the PBX hangs the agent up")
    assert acall.transferred_ok, acall.transfer_codes
    ua.wait_for(lambda: oleg.stream_remote != before, 5, "130 re-INVITEd onto its new call")
    assert oleg.confirmed
    t = time.monotonic() + 0.6
    ua.poll(3.0)
    owav, twav = oleg.stop_recording(), tleg.stop_recording()
    lv_o = levels(oleg, owav, t, time.monotonic())
    lv_t = levels(tleg, twav, t, time.monotonic())
    print("130:", fmt(lv_o), "120:", fmt(lv_t))
    check("130", lv_o, [1500], [1000], "after the transfer")
    check("120", lv_t, [400], [1000], "after the transfer")


def test_attended_transfer_between_two_calls_the_agent_dialled(pbx, ua, make_phone, tones):
    """110 calls 130, holds it, calls 120, then transfers: 130 and 120 get a call
    of their own (both re-INVITEd onto it), and 110 is hung up on both."""
    from spysetup import internal_call

    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    other = registered_phone(pbx, make_phone, "130", tones[400])
    target = registered_phone(pbx, make_phone, "120", tones[1500])
    first, oleg = internal_call(ua, agent, other, "130")
    ua.poll(1.0)
    legs = []

    def answered(consult):
        legs.append(target.incoming(timeout=10))
        ua.wait_for(lambda: consult.confirmed and consult.media_active and legs[0].media_active, 10, "120 answers")

    t_done = consult_and_transfer(ua, pbx, agent, first, "120", answered)
    tleg = legs[0]
    assert oleg.confirmed and tleg.confirmed
    ua.poll(3.0)
    owav, twav = oleg.stop_recording(), tleg.stop_recording()
    lv_o = levels(oleg, owav, t_done + 0.8, time.monotonic())
    lv_t = levels(tleg, twav, t_done + 0.8, time.monotonic())
    print("130:", fmt(lv_o), "120:", fmt(lv_t))
    check("130", lv_o, [1500], [1000], "after the transfer")
    check("120", lv_t, [400], [1000], "after the transfer")
    # One of them hangs up: the other is hung up too.
    tleg.end()
    ua.wait_for(lambda: oleg.disconnected, 5, "130 hung up with 120")
