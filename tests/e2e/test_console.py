"""The supervisors' web console (`/console`) in a real browser: Debian's Chromium,
headless, driven by Playwright (no browser download), against the PBX with real
phones. Sign-in and sign-out, what a read session may not press, a live call on
the floor within a second, Listen, Whisper and Barge by one click (the PBX rings
the supervisor's desk phone; every party's recording shows which tones it got), a
refusal with the API's reason, the audit log and the call's timeline, and the
virtualised calls list with 500 calls. Screenshots of each view are saved in
``tests/e2e/out/console/``.

Parties: the client is a trunk (400 Hz) calling agent 110 (1000 Hz); supervisor
201 sends 1500 Hz and auto-answers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import audio
from conftest import free_port, run_pbx
from test_click_to_spy import api
from test_tls_srtp import make_cert
from spysetup import (
    SHIPPED,
    SOUNDS_ARGS,
    add_ext,
    at,
    carrier_trunk,
    check,
    count_log,
    inbound_call,
    registered_phone,
    secret_of,
    wait_log,
)

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.needs_pbx,
    pytest.mark.pbx_args(*SOUNDS_ARGS),
    pytest.mark.pbx_dialplan(path=str(SHIPPED)),
]

FREQS = (400, 1000, 1500)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "out" / "console"


@pytest.fixture(scope="module")
def pw():
    """One Playwright driver for the module (its sync API allows one at a time)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(pw):
    browser = pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


@pytest.fixture
def new_page(chromium):
    """Pages in browser contexts of their own (separate cookies: separate users)."""
    contexts = []

    logs = []

    def make():
        ctx = chromium.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(5000)
        n = len(contexts)
        page.on("console", lambda m: logs.append(f"page {n} console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: logs.append(f"page {n} error: {e}"))
        page.on("response", lambda r: r.status >= 400 and logs.append(
            f"page {n}: {r.request.method} {r.url} answered {r.status}"))  # fmt: skip
        return page

    yield make
    # Shown with a failure (pytest prints captured output then).
    print("\n".join(logs))
    for ctx in contexts:
        ctx.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, pbx, extension=None, secret=None, token=None):
    page.goto(pbx.http_url + "/console")
    page.wait_for_selector("#signin-view:not([hidden])")
    if token is not None:
        page.check("input[name=how][value=token]")
        page.fill("#in-token", token)
    else:
        page.fill("#in-extension", extension)
        page.fill("#in-secret", secret)
    page.click("#signin-go")


def signed_in(page, pbx, **kw):
    sign_in(page, pbx, **kw)
    page.wait_for_selector("#floor-view:not([hidden])")
    page.wait_for_selector("#link.on")


def wait_page(ua, page, js, timeout, what):
    """Pumps the phones until ``js`` (an expression) is true in the page; the time."""
    deadline = time.monotonic() + timeout
    while True:
        if page.evaluate(js):
            return time.monotonic()
        if time.monotonic() > deadline:
            shown = page.evaluate("document.querySelector('main:not([hidden])').innerText")
            raise AssertionError(f"timed out after {timeout}s waiting for {what} ({js}); "
                                 f"the page shows:\n{shown[:1500]}")  # fmt: skip
        ua.poll(0.02)


def switch_mode(ua, page, mode, seconds):
    """Clicks ``mode`` in "My session" and waits for it; after a second to settle,
    the window (start, end) of ``seconds`` in that mode."""
    page.click(f"#mine-modes button[data-mode={mode}]")
    wait_page(ua, page, f"document.querySelector('#mine-mode').textContent === '{mode}'", 3, mode)
    ua.poll(1.0)
    start = time.monotonic()
    ua.poll(seconds)
    return start, time.monotonic()


def row_of(ext):
    """JS: the calls-list row whose parties include extension ``ext``."""
    return (
        "[...document.querySelectorAll('#calls .row')].find(r => "
        f"[...r.querySelectorAll('.c-parties .party')].some(p => p.textContent === {json.dumps(ext)}))"
    )


# What the agent (1000 Hz) and the client (400 Hz) hear, by mode, while the
# supervisor (1500 Hz) monitors the agent: (hears, does not hear).
HEARS = {
    "listen": {"agent": ([400], [1000, 1500]), "client": ([1000], [400, 1500])},
    "whisper": {"agent": ([400, 1500], [1000]), "client": ([1000], [400, 1500])},
    "barge": {"agent": ([400, 1500], [1000]), "client": ([1000, 1500], [400])},
}


def check_parties(aleg, awav, ccall, cwav, windows):
    """Each (mode, start, end) window of the agent's and the client's recordings
    against HEARS."""
    for mode, t0, t1 in windows:
        for who, call, wav in (("agent", aleg, awav), ("client", ccall, cwav)):
            hears, not_hears = HEARS[mode][who]
            check(who, audio.tone_levels(wav, FREQS, at(call, t0), at(call, t1)), hears, not_hears, mode)


def test_sign_in_refuses_a_wrong_secret_and_sign_out_ends_the_session(pbx, new_page):
    add_ext(pbx, 201)
    add_ext(pbx, 301)
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen")
    page = new_page()
    sign_in(page, pbx, "201", "not-the-secret")
    page.wait_for_selector("#signin-error:has-text('wrong extension or secret')")
    shot(page, "signin-refused")
    # An extension that is no supervisor: refused, and told why.
    sign_in(page, pbx, "301", secret_of(301))
    page.wait_for_selector("#signin-error:has-text('not a supervisor')")
    sign_in(page, pbx, "201", secret_of(201))
    page.wait_for_selector("#floor-view:not([hidden])")
    assert page.inner_text("#who") == "201 (Ext201)"
    assert page.inner_text("#scope") == "supervise"
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "spygroup_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict", session
    # A reload keeps the session; sign-out ends it, and a reload shows the sign-in.
    page.reload()
    page.wait_for_selector("#floor-view:not([hidden])")
    page.click("#signout")
    page.wait_for_selector("#signin-view:not([hidden])")
    assert "Signed out" in page.inner_text("#signin-error")
    page.reload()
    page.wait_for_selector("#signin-view:not([hidden])")
    assert not [c for c in page.context.cookies() if c["name"] == "spygroup_session" and c["value"]]
    # The old cookie is dead on the server too.
    old = {"Cookie": f"spygroup_session={session['value']}"}
    r = page.request.get(pbx.http_url + "/api/v1/calls", headers=old)
    assert r.status == 401, r.text()
    assert "sign in again" in r.json()["error"]


def test_the_floor_a_real_call_and_listen_whisper_barge_by_click(pbx, ua, make_phone, tones, new_page):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    sup = registered_phone(pbx, make_phone, "201", tones[1500], supervisor=True)
    add_ext(pbx, 203)
    pbx.cli("group", "add", "elsewhere")
    pbx.cli("supervisor", "grant", "203", "--groups", "elsewhere", "--modes", "listen")
    read_token = pbx.cli("token", "create", "--scope", "read").stdout.strip()

    page = new_page()
    signed_in(page, pbx, extension="201", secret=secret_of(201))
    # This browser has no microphone: the supervisor's desk phone rings.
    page.select_option("#in-hear", "phone")
    shot(page, "floor-empty")
    # What a supervisor with listen, whisper and barge may press: those three.
    ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
    t_answered = time.monotonic()
    t_row = wait_page(ua, page, f"!!{row_of('110')}", 5, "the call on the floor")
    assert t_row - t_answered < 1.0, f"the call showed {t_row - t_answered:.2f} s after the answer"
    row = page.locator("#calls .row", has=page.locator(".party", has_text="110"))
    assert "5551234" in row.inner_text()
    assert row.locator(".c-dir").inner_text() == "inbound"
    modes = row.locator("button[data-mode]").evaluate_all("bs => bs.map(b => b.dataset.mode)")
    assert modes == ["listen", "whisper", "barge"], modes

    # A read session sees the call and has nothing to press.
    reader = new_page()
    signed_in(reader, pbx, token=read_token)
    reader.wait_for_selector("#calls .row")
    assert reader.locator("#calls .row").count() == 1
    assert reader.locator("button[data-mode]").count() == 0
    assert reader.locator("#spygrp button").count() == 0, "only admins toggle 7791/7792"
    shot(reader, "floor-read-only")

    # A supervisor whose grant does not cover the call: the API's reason, shown.
    other = new_page()
    signed_in(other, pbx, extension="203", secret=secret_of(203))
    other.select_option("#in-hear", "phone")
    other.wait_for_selector("#calls .row")
    other.locator("#calls .row button[data-mode=listen]").click()
    other.wait_for_selector("#notice:not([hidden])")
    refused = other.inner_text("#notice")
    assert refused.startswith("Refused:") and "203" in refused, refused
    shot(other, "refused")

    # Listen by one click: the supervisor's phone rings and answers.
    started = count_log(pbx, "spy session started")
    row.locator("button[data-mode=listen]").click()
    scall = sup.incoming(timeout=10)
    ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
    t_listen = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
    wait_page(ua, page, "document.querySelector('#mine-what').textContent.startsWith('Monitoring 110')",
              3, "my session shown")  # fmt: skip
    assert page.text_content("#mine-mode") == "listen"
    wait_page(ua, page, f"{row_of('110')}.querySelector('.c-mon').textContent.includes('201')",
              2, "the call shows its monitor")  # fmt: skip
    ua.poll(3.0)
    t_listen_end = time.monotonic()
    timer = page.inner_text("#mine-timer")
    assert timer != "0:00", timer
    shot(page, "listening")

    # Whisper, then barge, from "My session", without reloading.
    t_whisper, t_whisper_end = switch_mode(ua, page, "whisper", 3.0)
    t_barge, t_barge_end = switch_mode(ua, page, "barge", 3.0)
    wait_page(ua, page, f"{row_of('110')}.querySelector('.c-mon .mode').textContent === 'barge'",
              2, "the floor shows barge")  # fmt: skip

    ended = count_log(pbx, "spy session ended")
    page.click("#mine-stop")
    wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
    ua.wait_for(lambda: scall.disconnected, 5, "the PBX to hang up the supervisor")
    wait_page(ua, page, "document.querySelector('#mine').hidden", 3, "my session gone")
    assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"

    swav, awav, cwav = scall.stop_recording(), aleg.stop_recording(), ccall.stop_recording()
    m = 0.6
    check("supervisor", audio.tone_levels(swav, FREQS, at(scall, t_listen + m), at(scall, t_listen_end)),
          [400, 1000], [1500], "listen")  # fmt: skip
    check_parties(aleg, awav, ccall, cwav, [
        ("listen", t_listen + m, t_listen_end),
        ("whisper", t_whisper + m, t_whisper_end),
        ("barge", t_barge + m, t_barge_end),
    ])  # fmt: skip

    # The call's timeline and the audit log tell who joined, when, in which modes.
    row.locator("button", has_text="timeline").click()
    wait_page(ua, page, "document.querySelector('#timeline').textContent.includes('201 joined')",
              3, "the timeline")  # fmt: skip
    text = page.inner_text("#timeline")
    for said in ("110 (callee)", "switched to whisper", "switched to barge", "201 left"):
        assert said in text, text
    page.fill("#a-supervisor", "201")
    page.click("#audit-search button[type=submit]")
    wait_page(ua, page, "document.querySelectorAll('#audit tr.clickable').length >= 1", 3, "the audit")
    audit = page.text_content("#audit")
    assert "110" in audit and "listen \u2192 whisper \u2192 barge" in audit, audit
    page.fill("#a-supervisor", "nobody")
    page.click("#audit-search button[type=submit]")
    wait_page(ua, page, "document.querySelector('#audit').textContent.includes('Nothing matches')",
              3, "an empty search")  # fmt: skip
    page.fill("#a-supervisor", "")
    page.click("#audit-search button[type=submit]")
    shot(page, "audit-and-timeline")

    # The call ends: gone from every floor within a second.
    ccall.end()
    t_hangup = time.monotonic()
    gone = wait_page(ua, page, f"!{row_of('110')}", 5, "the call to leave the floor")
    assert gone - t_hangup < 1.0, f"the ended call stayed {gone - t_hangup:.2f} s"
    wait_page(ua, reader, f"!{row_of('110')}", 2, "the call to leave the read-only floor")
    # Every event reached the screen (fetched and drawn) within 200 ms.
    lags = page.evaluate("window.consoleStats.eventToDrawMs")
    print(f"event to screen: {len(lags)} events, max {max(lags):.0f} ms, "
          f"median {sorted(lags)[len(lags) // 2]:.0f} ms")  # fmt: skip
    assert lags and max(lags) < 200, lags


def test_an_admin_toggles_group_monitoring_and_the_list_stays_light_with_500_calls(pbx, ua, new_page):
    add_ext(pbx, 110)
    pbx.cli("group", "add", "sales")
    pbx.cli("group", "member", "add", "sales", "110")
    admin_token = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    page = new_page()
    signed_in(page, pbx, token=admin_token)
    assert not page.locator("#ring-as").is_hidden(), "an admin names the phone to ring"
    toggle = page.locator("#spygrp button[data-ext='110']")
    toggle.wait_for()
    assert toggle.inner_text() == "off (7792)"
    toggle.click()
    wait_page(ua, page, "document.querySelector(\"#spygrp button[data-ext='110']\").textContent === 'on (7791)'",
              3, "7791 set")  # fmt: skip
    assert "spyon" in pbx.cli("db", "get", "spygrp", "110").stdout
    page.locator("#spygrp button[data-ext='110']").click()
    wait_page(ua, page, "document.querySelector(\"#spygrp button[data-ext='110']\").textContent === 'off (7792)'",
              3, "7792 cleared")  # fmt: skip
    assert pbx.cli("db", "get", "spygrp", "110", check=False).returncode != 0

    # 500 live calls in the API's own shape: the page keeps only the rows in view.
    now = int(time.time() * 1000)
    calls = [{
        "id": f"c{i:04d}",
        "channels": [
            {"name": f"SIP/carrier-{i:08x}", "endpoint": "carrier", "spygroup": "", "bridged_to": None,
             "number": f"555{i:04d}", "queue": None, "spying": None, "in_chanspy": False,
             "role": "caller", "trunk": True,
             "started_at": now - i * 1000},
            {"name": f"SIP/{1000 + i}-{i:08x}", "endpoint": str(1000 + i), "number": str(1000 + i),
             "spygroup": "sales",
             "bridged_to": None, "queue": "support" if i % 2 else None, "spying": None,
             "in_chanspy": False, "role": "callee", "trunk": False, "started_at": now - i * 1000},
        ],
        "monitored_by": [],
    } for i in range(500)]  # fmt: skip
    body = json.dumps({"calls": calls})
    page.route("**/api/v1/calls", lambda route: route.fulfill(
        status=200, content_type="application/json", body=body))  # fmt: skip
    page.evaluate("window.consoleStats.maxRenderMs = 0")
    page.reload()
    page.wait_for_selector("#link.on")
    wait_page(ua, page, "document.querySelector('#calls-count').textContent === '500'", 5, "500 calls counted")
    rows = page.locator("#calls .row").count()
    assert 10 <= rows <= 40, f"{rows} rows in the page for 500 calls"
    page.evaluate("document.querySelector('#calls').scrollTop = 1e9")
    wait_page(ua, page, f"!!{row_of('1499')}", 5, "the last call drawn")
    assert page.locator("#calls .row").count() <= 40
    # Filtering by agent redraws at once.
    page.fill("#f-agent", "1499")
    wait_page(ua, page, "document.querySelector('#calls-count').textContent === '1'", 5, "one call left")
    stats = page.evaluate("window.consoleStats")
    print(f"500 calls: {rows} rows in the page; slowest redraw {stats['maxRenderMs']:.1f} ms "
          f"over {stats['renders']} redraws")  # fmt: skip
    assert stats["maxRenderMs"] < 50, stats
    page.fill("#f-agent", "")
    shot(page, "floor-500-calls")


@pytest.fixture(scope="module")
def chromium_with_tone(pw, tones):
    """A Chromium whose microphone is a 1500 Hz tone (fake media, granted)."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tones[1500]}",
        "--autoplay-policy=no-user-gesture-required",
        # The PBX offers its WebRTC media on 127.0.0.1 in these tests.
        "--allow-loopback-in-peer-connection",
    ])  # fmt: skip
    yield browser
    browser.close()


def browser_levels(page, ms=1500):
    """What the page's WebAudio analyser measured over the last ``ms``: dB by tone."""
    got = page.evaluate(f"window.consoleAudio.levels([400, 1000, 1500], {ms})")
    return {int(k): v for k, v in got.items()}


BROWSER_PRESENT, BROWSER_ABSENT = -60.0, -80.0



def check_browser(lv, hears, not_hears, phase):
    for f in hears:
        assert lv[f] >= BROWSER_PRESENT, f"{phase}: the browser should hear {f} Hz: {lv}"
    for f in not_hears:
        assert lv[f] <= BROWSER_ABSENT, f"{phase}: the browser should not hear {f} Hz: {lv}"


def test_listen_whisper_barge_in_the_browser_over_webrtc(pbx, ua, make_phone, tones, chromium_with_tone):
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    add_ext(pbx, 201)
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen,whisper,barge")
    ctx = chromium_with_tone.new_context(viewport={"width": 1360, "height": 900})
    logs = []
    page = ctx.new_page()
    page.on("console", lambda m: logs.append(f"console {m.type}: {m.text}"))
    page.set_default_timeout(5000)
    try:
        signed_in(page, pbx, extension="201", secret=secret_of(201))
        assert page.locator("#in-hear").input_value() == "browser"
        ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
        wait_page(ua, page, f"!!{row_of('110')}", 5, "the call on the floor")
        row = page.locator("#calls .row", has=page.locator(".party", has_text="110"))

        started = count_log(pbx, "spy session started")
        t_click = time.monotonic()
        row.locator("button[data-mode=listen]").click()
        t_listen = wait_log(ua, pbx, "spy session started", started, 8, "the monitor to start")
        wait_page(ua, page, "document.querySelector('#mine-what').textContent.includes('in this browser')",
                  3, "my session in the browser")  # fmt: skip
        # Heard within a second of the click: both parties' tones in the page.
        heard = None
        while time.monotonic() < t_click + 3.0:
            lv = browser_levels(page, 200)
            if lv[400] >= BROWSER_PRESENT and lv[1000] >= BROWSER_PRESENT:
                heard = time.monotonic()
                break
            ua.poll(0.05)
        assert heard is not None, f"the browser heard nothing: {browser_levels(page, 500)}"
        print(f"heard in the browser {heard - t_click:.2f} s after the click on Listen")
        assert heard - t_click < 1.0, f"heard {heard - t_click:.2f} s after the click"
        assert page.text_content("#mine-mic") == "microphone muted"
        codec = page.evaluate("window.consoleAudio.codec")
        assert codec == "opus", f"the browser sends {codec!r}: Opus, transcoded by the PBX, is expected"
        ua.poll(2.5)
        t_listen_end = time.monotonic()
        lv_listen = browser_levels(page, 2000)
        shot(page, "listening-in-the-browser")

        t_whisper, t_whisper_end = switch_mode(ua, page, "whisper", 2.5)
        assert page.text_content("#mine-mic") == "microphone on"
        lv_whisper = browser_levels(page, 2000)

        t_barge, t_barge_end = switch_mode(ua, page, "barge", 2.5)
        lv_barge = browser_levels(page, 2000)

        ended = count_log(pbx, "spy session ended")
        page.click("#mine-stop")
        wait_log(ua, pbx, "spy session ended", ended, 5, "the monitor to end")
        wait_page(ua, page, "document.querySelector('#mine').hidden", 3, "my session gone")
        assert ccall.confirmed and aleg.confirmed, "the monitored call dropped"
        print(f"browser levels: listen {lv_listen} whisper {lv_whisper} barge {lv_barge}")
    finally:
        print("\n".join(logs))
        ctx.close()

    awav, cwav = aleg.stop_recording(), ccall.stop_recording()
    m = 0.6
    # The browser hears both parties in every mode, never its own microphone.
    for phase, lv in (("listen", lv_listen), ("whisper", lv_whisper), ("barge", lv_barge)):
        check_browser(lv, [400, 1000], [1500], phase)
    check_parties(aleg, awav, ccall, cwav, [
        ("listen", t_listen + m, t_listen_end),
        ("whisper", t_whisper + m, t_whisper_end),
        ("barge", t_barge + m, t_barge_end),
    ])  # fmt: skip


def test_the_floor_shows_queues_waiting_callers_and_agents(pbx, ua, make_phone, tones, new_page):
    client = carrier_trunk(pbx, make_phone, tones[400])
    admin = pbx.cli("token", "create", "--scope", "admin").stdout.strip()
    code, q = api(pbx, "POST", "/api/v1/queues", admin, {"name": "401"})
    assert code == 201, q
    pbx.cli("db", "put", "queue-did", "5550401", "401")
    registered_phone(pbx, make_phone, "112", tones[1000])
    code, q = api(pbx, "PUT", "/api/v1/queues/401/members/112", admin)
    assert code == 201, q
    page = new_page()
    signed_in(page, pbx, token=admin)
    wait_page(ua, page, "document.querySelector('#agents').textContent.includes('112')", 3, "the agent")
    # Paused by an administrator elsewhere: the floor follows.
    code, paused = api(pbx, "PUT", "/api/v1/agents/112/pause", admin, {"reason": "lunch"})
    assert code == 200, paused
    wait_page(ua, page, "document.querySelector('#agents').textContent.includes('paused (lunch)')",
              3, "the agent paused")  # fmt: skip
    # A caller waits (its only agent is paused): the queue shows it, its wait ticks.
    ccall = client.call(f"sip:5550401@{pbx.sip_addr}")
    ua.wait_for(lambda: ccall.confirmed, 10, "the queue answers")
    row = "[...document.querySelectorAll('#queues tr')].find(r => r.cells[0].textContent === '401')"
    wait_page(ua, page, f"{row}.cells[1].textContent === '1'", 3, "one caller waiting")
    ua.poll(2.2)
    wait_page(ua, page, f"{row}.cells[2].textContent >= '0:02'", 2, "the wait ticking")
    page.select_option("#f-queue", "401")
    shot(page, "queues-and-agents")
    ccall.end()
    ua.wait_for(lambda: ccall.disconnected, 5, "hang up")
    wait_page(ua, page, f"{row}.cells[1].textContent === '0'", 3, "nobody waiting")


@pytest.fixture
def https_pbx(tmp_path, request):
    """A PBX that also serves the API and the console over HTTPS (its SIP TLS
    certificate, self-signed for 127.0.0.1)."""
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = make_cert(certs)
    https_port = free_port()
    extra = [
        "--sip-tls", f"127.0.0.1:{free_port()}", "--tls-cert", str(cert), "--tls-key", str(key),
        "--https", f"127.0.0.1:{https_port}",
    ]  # fmt: skip
    for server in run_pbx(tmp_path, request, extra):
        server.https_url = f"https://127.0.0.1:{https_port}"
        yield server


def test_the_console_over_https_keeps_its_cookie_secure_and_streams_over_wss(https_pbx, ua, chromium):
    pbx = https_pbx
    add_ext(pbx, 201)
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen")
    ctx = chromium.new_context(ignore_https_errors=True)
    try:
        page = ctx.new_page()
        page.set_default_timeout(5000)
        page.goto(pbx.https_url + "/console")
        page.wait_for_selector("#signin-view:not([hidden])")
        page.fill("#in-extension", "201")
        page.fill("#in-secret", secret_of(201))
        page.click("#signin-go")
        page.wait_for_selector("#floor-view:not([hidden])")
        page.wait_for_selector("#link.on")  # the event stream, over wss
        assert page.evaluate("location.protocol") == "https:"
        assert page.evaluate("window.isSecureContext")
        cookie = next(c for c in ctx.cookies() if c["name"] == "spygroup_session")
        assert cookie["secure"] and cookie["httpOnly"], cookie
        r = page.request.get(pbx.https_url + "/api/v1/calls")
        assert r.status == 200, r.text()
        # Plain HTTP goes on beside it; its cookie is not marked Secure.
        plain = ctx.request.post(pbx.http_url + "/console/session",
                                 data={"extension": "201", "secret": secret_of(201)})  # fmt: skip
        assert plain.status == 201, plain.text()
        assert "Secure" not in plain.headers["set-cookie"], plain.headers
    finally:
        ctx.close()


@pytest.fixture
def browser_floor(pbx, ua, make_phone, tones, chromium_with_tone):
    """Returns a function: the client's call to agent 110 (answered), supervisor 201
    granted ``modes`` and signed in, in a browser whose microphone is 1500 Hz, the
    call on its floor. Gives (page, client's call, agent's leg)."""
    contexts = []

    def make(modes):
        client = carrier_trunk(pbx, make_phone, tones[400])
        agent = registered_phone(pbx, make_phone, "110", tones[1000])
        add_ext(pbx, 201)
        pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", modes)
        ctx = chromium_with_tone.new_context()
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(5000)
        signed_in(page, pbx, extension="201", secret=secret_of(201))
        ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
        wait_page(ua, page, f"!!{row_of('110')}", 5, "the call on the floor")
        return page, ccall, aleg

    yield make
    for ctx in contexts:
        ctx.close()


def test_a_takeover_from_the_browser_leaves_the_client_with_the_supervisor(ua, browser_floor):
    page, ccall, aleg = browser_floor("listen,takeover")
    row = page.locator("#calls .row", has=page.locator(".party", has_text="110"))
    modes = row.locator("button[data-mode]").evaluate_all("bs => bs.map(b => b.dataset.mode)")
    assert modes == ["listen", "takeover"], modes
    row.locator("button[data-mode=takeover]").click()
    ua.wait_for(lambda: aleg.disconnected, 10, "the agent released")
    wait_page(ua, page, "document.querySelector('#mine-mic').textContent === 'microphone on'",
              3, "the microphone on")  # fmt: skip
    t0 = time.monotonic()
    ua.poll(3.0)
    t1 = time.monotonic()
    lv = browser_levels(page, 2000)
    assert ccall.confirmed, "the client's call dropped"
    cwav = ccall.stop_recording()
    check("client", audio.tone_levels(cwav, FREQS, at(ccall, t0 + 0.6), at(ccall, t1)),
          [1500], [400, 1000], "takeover")  # fmt: skip
    check_browser(lv, [400], [1000, 1500], "takeover")
    shot(page, "takeover-in-the-browser")
    page.click("#mine-stop")
    ua.wait_for(lambda: ccall.disconnected, 10, "the call ends with the supervisor")


def test_a_conference_is_offered_with_the_phone_only(pbx, browser_floor):
    """A barge made a conference needs the supervisor's phone: a browser's leg is not
    offered it, and the API refuses it with the reason."""
    page, _, _ = browser_floor("listen,conference")
    modes = f"[...{row_of('110')}.querySelectorAll('button[data-mode]')].map(b => b.dataset.mode).join()"
    assert page.evaluate(modes) == "listen"
    page.select_option("#in-hear", "phone")
    assert page.evaluate(modes) == "listen,conference"
    call = page.evaluate(f"{row_of('110')}.dataset.call")
    csrf = page.evaluate("fetch('/console/session').then(r => r.json()).then(j => j.csrf)")
    r = page.request.post(pbx.http_url + f"/api/v1/calls/{call}/monitor", headers={"X-CSRF-Token": csrf},
                          data={"supervisor": "201", "mode": "conference", "webrtc": {"offer": "v=0"}})  # fmt: skip
    assert r.status == 400 and "needs the supervisor's phone" in r.json()["error"], r.text()


@pytest.mark.pbx_args(*SOUNDS_ARGS, "--rtp-timeout", "3")
def test_a_browser_without_a_microphone_listens_past_the_rtp_timeout(pbx, ua, make_phone, tones, chromium):
    """No microphone: the browser sends no audio, and the PBX hangs up a leg that
    sends no RTP for 3 s here; the gateway keeps the listening leg alive."""
    client = carrier_trunk(pbx, make_phone, tones[400])
    agent = registered_phone(pbx, make_phone, "110", tones[1000])
    add_ext(pbx, 201)
    pbx.cli("supervisor", "grant", "201", "--groups", "all", "--modes", "listen")
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        page.set_default_timeout(5000)
        signed_in(page, pbx, extension="201", secret=secret_of(201))
        ccall, aleg = inbound_call(ua, pbx, client, agent, "110")
        wait_page(ua, page, f"!!{row_of('110')}", 5, "the call on the floor")
        page.locator("#calls .row button[data-mode=listen]").click()
        wait_page(ua, page, "document.querySelector('#mine-what').textContent.includes('in this browser')",
                  5, "my session in the browser")  # fmt: skip
        assert page.text_content("#mine-mic") == "(no microphone: listen only)"
        ua.poll(6.0)
        assert not page.locator("#mine").is_hidden(), "the monitor ended"
        check_browser(browser_levels(page, 2000), [400, 1000], [1500], "listen without a microphone")
        assert "spy session ended" not in pbx.log_text()
        assert ccall.confirmed and aleg.confirmed
    finally:
        ctx.close()
