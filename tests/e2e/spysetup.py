"""Shared set-up for the monitoring tests: extensions, the carrier trunk, inbound
calls, and waiting for the server to report a spy session."""

from __future__ import annotations

import re
import time

from conftest import REPO

SHIPPED = REPO / "config" / "extensions.conf"
SOUNDS_ARGS = ("--sounds", str(REPO / "sounds"))


def secret_of(num):
    return f"s3cret-{num}"


def add_ext(pbx, num, context=None):
    args = ["ext", "add", str(num), "--secret", secret_of(num), "--name", f"Ext{num}"]
    if context:
        args += ["--context", context]
    pbx.cli(*args)


def registered_phone(pbx, make_phone, num, tone=None, context=None, exists=False, **kw):
    if not exists:
        add_ext(pbx, num, context)
    ph = make_phone(str(num), secret=secret_of(num), server=pbx.sip_addr, tone=tone, **kw)
    code = ph.register()
    assert code == 200, f"{num} failed to register: {code}"
    return ph


def carrier_trunk(pbx, make_phone, tone, name="carrier", number="5551234"):
    """A pjsua2 account without registration whose source port is the trunk."""
    carrier = make_phone(number, secret="", server=None, tone=tone)
    pbx.cli("trunk", "add", name, "--host", f"127.0.0.1:{carrier.port}")
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
