"""Shared set-up for the monitoring tests: extensions, the carrier trunk, inbound
calls, a baresip extension, waiting for the server to report a spy session, and
checking who hears which tone."""

from __future__ import annotations

import hashlib
import re
import time

import audio
import baresip
from conftest import REPO, free_port, free_udp_range

SHIPPED = REPO / "config" / "extensions.conf"
SOUNDS_ARGS = ("--sounds", str(REPO / "sounds"))


def secret_of(num):
    return f"s3cret-{num}"


def add_ext(pbx, num, context=None):
    args = ["ext", "add", str(num), "--secret", secret_of(num), "--name", f"Ext{num}"]
    if context:
        args += ["--context", context]
    pbx.cli(*args)


def registered_phone(pbx, make_phone, num, tone=None, context=None, exists=False, supervisor=False, **kw):
    """A registered pjsua2 extension; `supervisor` also grants it every spy group
    and mode (monitoring is restricted to granted supervisors by default)."""
    if not exists:
        add_ext(pbx, num, context)
    if supervisor:
        pbx.cli("supervisor", "grant", str(num), "--groups", "all", "--modes", "listen,whisper,barge")
    ph = make_phone(str(num), secret=secret_of(num), server=pbx.sip_addr, tone=tone, **kw)
    code = ph.register()
    assert code == 200, f"{num} failed to register: {code}"
    return ph


def carrier_trunk(pbx, make_phone, tone, name="carrier", number="5551234"):
    """A pjsua2 account without registration whose source port is the trunk."""
    carrier = make_phone(number, secret="", server=None, tone=tone)
    pbx.cli_live("trunk", "add", name, "--host", f"127.0.0.1:{carrier.port}")
    return carrier


def inbound_call(ua, pbx, carrier, agent, exten, timeout=10):
    """The carrier calls ``exten`` (rung on ``agent``, which auto-answers);
    returns (carrier's call, agent's leg) once both have media."""
    call = carrier.call(f"sip:{exten}@{pbx.sip_addr}")
    leg = agent.incoming(timeout=timeout)
    ua.wait_for(
        lambda: call.confirmed and leg.confirmed and call.media_active and leg.media_active,
        timeout,
        f"trunk call to {exten} answered with media",
    )
    return call, leg


def internal_call(ua, caller, callee, exten, timeout=10):
    call = caller.call(str(exten))
    leg = callee.incoming(timeout=timeout)
    ua.wait_for(
        lambda: call.confirmed and leg.confirmed and call.media_active and leg.media_active,
        timeout,
        f"call to {exten} answered with media",
    )
    return call, leg


def count_log(pbx, text):
    return pbx.log_text().count(text)


def wait_log(ua, pbx, text, after_count, timeout, what=None):
    """Pump pjsua until ``text`` occurs more than ``after_count`` times in the server
    log; return the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while True:
        ua.poll(0.05)
        if count_log(pbx, text) > after_count:
            return time.monotonic()
        if time.monotonic() >= deadline:
            tail = "\n".join(pbx.log_text().splitlines()[-30:])
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or text!r}\n{tail}")


def at(call, t_mono):
    """A monotonic time as seconds into ``call``'s recording."""
    assert call.rec_started is not None, f"{call} never recorded"
    return t_mono - call.rec_started


def strip_ansi(s):
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


def sha(pin):
    """A PIN as the dialplan's Authenticate reads it from the database."""
    return "sha256:" + hashlib.sha256(pin.encode()).hexdigest()


def bye_from_pbx(trace):
    """pjsua logs a received request as 'RX ... Request msg BYE/cseq=...'."""
    return any("Request msg BYE" in ln and "RX" in ln for ln in trace.splitlines())


def fmt(lv):
    return ", ".join(f"{f} Hz {v:.1f} dBFS" for f, v in lv.items())


def check(who, lv, hears, not_hears, phase):
    """Assert ``who`` hears every tone of ``hears`` and none of ``not_hears``
    (``lv``: tone levels from audio.tone_levels)."""
    for f in hears:
        assert lv[f] >= audio.PRESENT_DBFS, f"{phase}: {who} should hear {f} Hz: {fmt(lv)}"
    for f in not_hears:
        assert lv[f] <= audio.ABSENT_DBFS, f"{phase}: {who} should not hear {f} Hz: {fmt(lv)}"


def baresip_ext(pbx, ua, workdir, num, tone, exists=False):
    """A baresip instance registered as extension ``num`` (sending ``tone`` Hz,
    auto-answering). Extra call legs beyond pjsua2's 4 per process (phone.MAX_CALLS).
    The caller must ``stop()`` it."""
    if not exists:
        add_ext(pbx, num)
    b = baresip.Baresip(
        workdir, str(num), secret=secret_of(num), server=pbx.sip_addr,
        sip_port=free_port(), rtp_range=free_udp_range(size=40, lo=50000, hi=59000), tone=tone,
    )  # fmt: skip
    try:
        b.start()
        b.wait_registered(10, pump=ua.poll)
    except BaseException:
        b.stop()
        raise
    return b
