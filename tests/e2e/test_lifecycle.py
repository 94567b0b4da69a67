"""The PBX process's life: clean shutdown with live calls, restart with
registrations kept in the database."""

import json
import re
import time

import pytest

from test_call import check_two_way, connect

pytestmark = pytest.mark.needs_pbx


def _bye_received_by(trace, phone):
    """Did ``phone`` receive a BYE addressed to its own contact? (pjsua's RX trace)"""
    pat = rf"RX \d+ bytes Request msg BYE/[^\n]*\n\s*BYE sip:{phone.ext}@127\.0\.0\.1:{phone.port}\b"
    return re.search(pat, trace) is not None


def test_sigterm_hangs_up_live_calls_and_writes_cdr(pbx, ua, registered):
    a, b = registered
    call, leg = connect(ua, a, b)
    ua.poll(1.0)
    offset = ua.log_offset()
    t0 = time.monotonic()
    pbx.terminate()
    # keep pumping pjsua so both phones can receive and answer the PBX's BYEs
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both phones hung up by SIGTERM")
    took = time.monotonic() - t0
    code = pbx.wait_exit(10, pump=ua.poll)
    assert code == 0, f"spygroup exited {code} after SIGTERM"
    trace = ua.log_since(offset)
    assert _bye_received_by(trace, a), "101 got no BYE from the PBX"
    assert _bye_received_by(trace, b), "102 got no BYE from the PBX"
    assert took <= 5.0
    # the call record was written before exit
    lines = pbx.cdr_lines()
    answered = [ln for ln in lines if "101" in ln and "102" in ln]
    assert len(answered) == 1, lines
    assert "ANSWERED" in answered[0], answered[0]


def test_registrations_survive_restart(pbx, ua, make_phone, tones):
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000])
    assert b.register() == 200
    reg_events = len(b.reg_events)

    pbx.restart(pump=ua.poll)  # same database, same SIP port
    assert pbx.restarts == 1 and pbx.alive()
    status, body = pbx.http_get("/health")
    assert status == 200 and json.loads(body)["registrations"] >= 1, body

    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert a.register() == 200
    call, leg = connect(ua, a, b)  # 102 rings and auto-answers
    assert len(b.reg_events) == reg_events, "102 re-registered: the test proves nothing"
    ua.poll(3.8)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")
    check_two_way(call.stop_recording(), leg.stop_recording())
