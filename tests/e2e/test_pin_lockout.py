"""PIN guessing at 778 with real phones and the SHIPPED dialplan (issue 17, item 4).

The PIN is stored with `spygroup pin set` (argon2id). Supervisor 201 keeps
guessing across calls: after 5 wrong PINs it is locked out, and then even the right
PIN is refused without a prompt; each failure and the lockout are in the audit trail.
Supervisor 202, who did nothing wrong, still gets in with the right PIN."""

import time

import pytest

from prompts import prompt_seconds, wait_prompt
from spysetup import SHIPPED, SOUNDS_ARGS, count_log, registered_phone, wait_log

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]


def try_pins(ua, pbx, phone, pins):
    """Calls 778 and enters each (wrong) PIN in turn, each once the PBX asks for it;
    returns the call."""
    call = phone.call("778")
    ua.wait_for(lambda: call.confirmed and call.media_active, 10, "778 answered")
    t = 0.0
    for pin in pins:
        t = wait_prompt(ua, call, "agent-pass", t, 10)
        ua.poll(0.3)
        n = count_log(pbx, "Authenticate: wrong password")
        call.send_digits(pin + "#")
        wait_log(ua, pbx, "Authenticate: wrong password", n, 8, f"{pin} to be refused")
        t = wait_prompt(ua, call, "auth-incorrect", t + 0.5, 8) + prompt_seconds("auth-incorrect") - 0.3
    return call


def test_a_guesser_is_locked_out_across_calls_and_others_are_not(pbx, ua, make_phone, tones):
    pbx.cli("pin", "set", "778", "4544")
    assert pbx.cli("db", "get", "spygroup", "pin_778").stdout.startswith("argon2:")
    guesser = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    other = registered_phone(pbx, make_phone, "202", tones[1000], supervisor=True)

    # Three wrong PINs: the call ends, as Asterisk's Authenticate does.
    first = try_pins(ua, pbx, guesser, ["1111", "2222", "3333"])
    ua.wait_for(lambda: first.disconnected, 15, "778 to hang up after three wrong PINs")
    # Two more in a new call: the fifth locks the caller out.
    locked = count_log(pbx, "locked out")
    second = try_pins(ua, pbx, guesser, ["4444", "5555"])
    ua.wait_for(lambda: second.disconnected, 15, "778 to hang up at the lockout")
    assert count_log(pbx, "locked out") > locked, "no lockout after 5 wrong PINs"

    # Locked: even the right PIN is not asked for.
    before = count_log(pbx, "Authenticate: accepted")
    third = guesser.call("778")
    ua.wait_for(lambda: third.disconnected, 15, "a locked-out caller is hung up")
    assert count_log(pbx, "Authenticate: accepted") == before
    assert count_log(pbx, "Authenticate: wrong password") == 5

    # Someone else is not locked out by it.
    started = count_log(pbx, "Authenticate: accepted")
    ok = other.call("778")
    ua.wait_for(lambda: ok.confirmed and ok.media_active, 10, "778 answered")
    wait_prompt(ua, ok, "agent-pass", 0.0, 10)
    ua.poll(0.3)
    ok.send_digits("4544#")
    deadline = time.monotonic() + 8
    while count_log(pbx, "Authenticate: accepted") == started and time.monotonic() < deadline:
        ua.poll(0.1)
    assert count_log(pbx, "Authenticate: accepted") > started, "202 was refused"
    ok.end()

    audit = pbx.cli("audit", "list").stdout
    assert audit.count("wrong PIN (try") == 5, audit
    assert "locked out" in audit, audit
