"""Password guessing against the registrar, tried as an attacker would: SIPVicious's
svwar and svcrack, forged nonces, a guesser behind the phone's own address. The
attacker sends from other loopback addresses (127.0.0.0/8) than the real phone, as
it would from another host.

What must hold: scanners find nothing and are locked out within 10 wrong tries;
the real phone stays registered; forged requests lock nobody; a lock is listed
(API, CLI), announced (events), kept across a restart and lifted by an admin; a
locked-out phone gets in on its next attempt after the lock."""

import json
import subprocess
import sys
import time

import pytest
import websocket

from conftest import SECRETS
from sipraw import RawClient, status_of
from test_click_to_spy import api

pytestmark = pytest.mark.needs_pbx

# SIPVicious 0.3.x takes `-b BINDINGIP` but never hands it to its scanners, which
# bind to any address and so send from 127.0.0.1, the phone's own address. The
# attacker belongs on another host: run the tool's own main() with its sockets
# bound to the attacker's loopback address instead.
RUN_FROM = """
import socket, sys
source = sys.argv.pop(1)
_bind = socket.socket.bind
def bind(sock, addr):
    if addr[0] in ("", "0.0.0.0"):
        addr = (source, *addr[1:])
    return _bind(sock, addr)
socket.socket.bind = bind
from importlib import import_module
sys.argv[0] = "sipvicious_" + sys.argv[1]
sys.exit(import_module("sipvicious." + sys.argv.pop(1)).main())
"""


def svtool(name, source, *args, timeout=60):
    """Runs SIPVicious's `name` (svwar, svcrack) from loopback address `source`."""
    try:
        import sipvicious  # noqa: F401
    except ImportError:
        pytest.fail("sipvicious missing: pip install sipvicious (the README's test command does)")
    cmd = [sys.executable, "-c", RUN_FROM, source, name, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def lockouts(pbx, token):
    status, body = api(pbx, "GET", "/api/v1/security/lockouts", token)
    assert status == 200, body
    return body["lockouts"]


def test_svwar_and_svcrack_find_nothing_and_are_locked_out_while_the_phone_stays_registered(
    pbx, make_phone, tmp_path
):
    read = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    phone = make_phone("101", server=pbx.sip_addr)
    assert phone.register() == 200

    # Enumeration: every answer looks the same, existing or not.
    out = svtool("svwar", "127.0.0.7", "-e", "100-110", "-m", "REGISTER", f"udp://{pbx.sip_addr}")
    assert "found nothing" in out or "| Extension" not in out, out
    for ext in ("101", "102", "103"):
        assert f"| {ext} " not in out, f"svwar found {ext}:\n{out}"

    # The right password is the 8th of the dictionary: locked out after the 5th wrong
    # one, svcrack never gets a chance to try it.
    words = [f"guess{i}" for i in range(7)] + [SECRETS["101"]] + [f"more{i}" for i in range(12)]
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("\n".join(words) + "\n")
    out = svtool(
        "svcrack", "127.0.0.8", "-u", "101", "-d", str(dictionary),
        "--maximumtime", "5", f"udp://{pbx.sip_addr}",
    )  # fmt: skip
    assert SECRETS["101"] not in out, f"svcrack found the password:\n{out}"

    locks = lockouts(pbx, read)
    subjects = [l["subject"] for l in locks]
    assert "source 127.0.0.8" in subjects, locks
    lock = next(l for l in locks if l["subject"] == "source 127.0.0.8")
    assert lock["kind"] == "source"
    assert lock["reason"].startswith("5 wrong passwords"), lock
    # Neither the phone's address nor the extension is locked.
    assert not any("127.0.0.1" in s or s == "extension 101" for s in subjects), locks

    # In the metrics too.
    from test_security import _metrics

    m = _metrics(pbx, read)
    assert m['spygroup_lockouts{kind="source"}'] >= 1, m
    assert m['spygroup_lockouts_started_total{kind="source"}'] >= 1, m

    # The real phone stays registered: its refresh is accepted.
    assert phone.register() == 200
    status, body = pbx.http_get("/health")
    assert json.loads(body)["registrations"] >= 1


def test_forged_nonces_lock_nobody(pbx, make_phone):
    """Credentials for nonces the server never issued (or issued to another
    address) earn a fresh challenge and count for nothing."""
    read = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    forger = RawClient(pbx.sip_port, "101", host="127.0.0.9")
    try:
        fake = (
            'Digest username="101", realm="spygroup", nonce="' + "ab" * 32 + '", '
            f'uri="sip:127.0.0.1:{pbx.sip_port}", response="' + "0" * 32 + '", algorithm=MD5'
        )
        for _ in range(10):
            resp = forger.register(auth=fake)
            assert status_of(resp) == 401, resp
        # A nonce given to 127.0.0.10, presented from 127.0.0.9: not ours there.
        other = RawClient(pbx.sip_port, "101", host="127.0.0.10")
        try:
            challenge = other.register()
            nonce = challenge.split('nonce="')[1].split('"')[0]
        finally:
            other.close()
        stolen = fake.replace("ab" * 32, nonce)
        for _ in range(6):
            assert status_of(forger.register(auth=stolen)) == 401
    finally:
        forger.close()
    assert lockouts(pbx, read) == []
    phone = make_phone("101", server=pbx.sip_addr)
    assert phone.register() == 200


def test_a_lock_is_announced_listed_kept_across_a_restart_and_lifted(pbx, make_phone):
    read = pbx.cli("token", "create", "--scope", "read").stdout.strip()
    admin = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    events = websocket.create_connection(
        f"ws://127.0.0.1:{pbx.http_port}/api/v1/events?token={read}", timeout=5
    )
    guesser = RawClient(pbx.sip_port, "102", host="127.0.0.11")
    try:
        for i in range(5):
            _, final = guesser.register_with_password(f"wrong-{i}")
            assert status_of(final) == 403, final
        _, final = guesser.register_with_password(SECRETS["102"])
        assert status_of(final) == 403, "the right password during the lock is refused alike"
        deadline = time.monotonic() + 5
        announced = None
        while announced is None and time.monotonic() < deadline:
            ev = json.loads(events.recv())
            if ev["type"] == "security.lockout":
                announced = ev
        assert announced and announced["subject"] == "source 127.0.0.11", announced
        (lock,) = lockouts(pbx, read)
        assert lock["id"] == announced["id"]

        # The CLI shows it.
        out = pbx.cli("security", "lockouts", "--http", f"127.0.0.1:{pbx.http_port}", "--token", read).stdout
        assert lock["id"] in out and "source 127.0.0.11" in out, out

        # A restart does not lift it.
        pbx.restart()
        assert [l["id"] for l in lockouts(pbx, read)] == [lock["id"]]
        _, final = guesser.register_with_password(SECRETS["102"])
        assert status_of(final) == 403, final

        # Only an admin lifts it; then the right password works.
        status, _ = api(pbx, "DELETE", f"/api/v1/security/lockouts/{lock['id']}", read)
        assert status == 403
        r = pbx.cli(
            "security", "lift", lock["id"], "--http", f"127.0.0.1:{pbx.http_port}", "--token", admin
        )
        assert "lifted" in r.stdout, r.stdout
        assert lockouts(pbx, read) == []
        _, final = guesser.register_with_password(SECRETS["102"])
        assert status_of(final) == 200, final
        history = pbx.cli(
            "security", "history", "--http", f"127.0.0.1:{pbx.http_port}", "--token", read
        ).stdout
        assert "source 127.0.0.11" in history and "by token:" in history, history
    finally:
        guesser.close()
        events.close()


@pytest.mark.pbx_args("--lockout-secs", "3")
def test_a_locked_out_phone_gets_in_on_its_next_attempt_after_the_lock(pbx, make_phone):
    """A new phone (never registered from its address) shares that address with a
    guesser, which gets the address locked: the phone is refused while the lock
    holds, and registers on its first attempt after it."""
    guesser = RawClient(pbx.sip_port, "103")
    try:
        for i in range(5):
            guesser.register_with_password(f"wrong-{i}")
    finally:
        guesser.close()
    phone = make_phone("102", server=pbx.sip_addr)
    assert phone.register() == 403
    time.sleep(3.5)
    assert phone.register() == 200
