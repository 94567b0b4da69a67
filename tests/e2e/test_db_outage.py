"""A database outage costs no call. The PBX runs on PostgreSQL with the shipped
dialplan; the test stops PostgreSQL mid-run: a new call between registered phones
still connects with audio both ways, `*222` still monitors it (with the last-known
grant), `/health` says the database is degraded, and once PostgreSQL is back the
call records and the audit entries made during the outage are in it.

Client 101 sends 400 Hz, agent 110 1000 Hz, supervisor 201 1500 Hz."""

import json
import time

import pytest

import audio
from conftest import SECRETS, Pbx
from pgcluster import Cluster, bin_dir
from spysetup import SHIPPED, SOUNDS_ARGS, check, count_log, internal_call, registered_phone, wait_log

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.skipif(bin_dir() is None, reason="PostgreSQL server binaries are not installed"),
]


@pytest.fixture
def pg_pbx(tmp_path):
    cluster = Cluster()
    work = tmp_path / "pbx"
    work.mkdir()
    server = Pbx(work, list(SOUNDS_ARGS))
    server.db_url = cluster.url
    server.dialplan = SHIPPED
    server.add_ext("101", SECRETS["101"], "Alice")
    try:
        server.start()
        yield server, cluster
    finally:
        code = server.stop(timeout=15.0)
        cluster.destroy()
        assert code == 0, f"spygroup did not exit 0 after the outage (exit {code})\n{server.log_text()[-3000:]}"


def health(pbx):
    status, body = pbx.http_get("/health")
    assert status == 200, body
    return json.loads(body)


def wait_health(ua, pbx, want, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        h = health(pbx)
        if want(h):
            return h
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: /health is {h}")
        ua.poll(0.1)


def test_calls_and_monitoring_go_on_while_postgresql_is_down(pg_pbx, ua, make_phone, tones):
    pbx, cluster = pg_pbx
    client = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    assert client.register() == 200
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    assert health(pbx)["status"] == "ok"

    cluster.stop()
    h = wait_health(ua, pbx, lambda h: h["status"] == "degraded", 10, "the outage to show")
    assert h["database"]["status"] == "degraded", h
    assert [d["part"] for d in h["degraded"]] == ["database"], h

    # A new call between registered phones connects, with audio both ways.
    call, leg = internal_call(ua, client, agent, "110")
    started = count_log(pbx, "spy session started")
    scall = sup.call("*222110")
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "*222110 answered during the outage")
    t0 = wait_log(ua, pbx, "spy session started", started, 8, "the spy session during the outage")
    ua.poll(3.0)
    t1 = time.monotonic()
    scall.end()
    ua.wait_for(lambda: scall.disconnected, 5, "the supervisor hangs up")
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "the call ends")
    m = 0.6
    check("supervisor", audio.tone_levels(scall.stop_recording(), (400, 1000, 1500), t0 - scall.rec_started + m,
                                          t1 - scall.rec_started), [400, 1000], [1500], "listen during the outage")  # fmt: skip
    audio.check_two_way(call.stop_recording(), leg.stop_recording(), 400, 1000)
    h = health(pbx)
    assert h["status"] == "degraded" and h["database"]["queued_writes"] > 0, h

    # PostgreSQL is back: what waited is written, and the PBX says it is healthy.
    cluster.start()
    wait_health(ua, pbx, lambda h: h["status"] == "ok" and h["database"]["queued_writes"] == 0, 20,
                "the queued writes to land")  # fmt: skip
    cdr = pbx.cli("cdr", "list").stdout
    assert "101" in cdr and "110" in cdr and "ANSWERED" in cdr, cdr
    audit = pbx.cli("audit", "list").stdout
    assert "201" in audit and "110" in audit and "listen" in audit, audit
    assert "supervisor hung up" in audit, audit
