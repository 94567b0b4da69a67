"""Run SIPp 3.6 scenarios from tests/sipp (one call, bounded, exit code checked)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "sipp"


def available():
    return shutil.which("sipp") is not None


def cmd(scenario, target=None, port=None, workdir=".", transport="udp", user=None, password=None,
        keys=None, media_port=None, rtp_echo=False, calls=1, timeout_s=20, extra=()):
    work = Path(workdir)
    name = Path(scenario).stem
    c = ["sipp"]
    if target:
        c.append(target)
    c += [
        "-sf", str(SCENARIOS / scenario),
        "-m", str(calls),
        "-timeout", f"{timeout_s}s",
        "-timeout_error",
        "-i", "127.0.0.1",
        "-mi", "127.0.0.1",
        "-t", "t1" if transport == "tcp" else "u1",
        "-nostdin",
        "-trace_msg", "-message_file", str(work / f"{name}-messages.log"),
        "-trace_err", "-error_file", str(work / f"{name}-errors.log"),
        "-trace_screen", "-screen_file", str(work / f"{name}-screen.log"),
    ]  # fmt: skip
    if port:
        c += ["-p", str(port)]
    if media_port:
        c += ["-mp", str(media_port)]
    if rtp_echo:
        c.append("-rtp_echo")
    if user:
        c += ["-s", str(user), "-au", str(user)]
    if password is not None:
        c += ["-ap", password]
    for k, v in (keys or {}).items():
        c += ["-key", k, str(v)]
    c += list(extra)
    return c


def start(scenario, workdir, **kw):
    """Start SIPp in the background (a Popen); wait for it with ``finish``."""
    c = cmd(scenario, workdir=workdir, **kw)
    log = open(Path(workdir) / f"{Path(scenario).stem}-stdout.log", "wb")
    proc = subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    proc._log, proc._cmd, proc._workdir, proc._name = log, c, Path(workdir), Path(scenario).stem
    return proc


def finish(proc, timeout=25):
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    proc._log.close()
    return proc.returncode


def report(workdir, name):
    parts = []
    for suffix in ("stdout", "errors", "messages"):
        p = Path(workdir) / f"{name}-{suffix}.log"
        if p.exists():
            parts.append(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}")
    return "\n".join(parts)


def run(scenario, workdir, **kw):
    """Run to completion; return (exit code, report text)."""
    proc = start(scenario, workdir, **kw)
    code = finish(proc, timeout=kw.get("timeout_s", 20) + 5)
    return code, report(workdir, Path(scenario).stem)


def assert_ok(scenario, workdir, **kw):
    code, text = run(scenario, workdir, **kw)
    assert code == 0, f"sipp {scenario} exited {code}\n{text}"
