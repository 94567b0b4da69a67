"""The README's shell examples, run as a newcomer pastes them.

Every ```sh block of README.md runs, in order, in ONE bash session (so variables such as
SPYGROUP_TOKEN and $id carry from block to block, as in a terminal), with
``set -euo pipefail``, in a fresh directory: the release binary on PATH as
``spygroup``, no database yet, and a ``spygroup.toml`` that only moves the server to
free loopback ports (the CLI reads ``http`` and ``db`` from it too). The README's
commands are run unchanged.

A block that cannot run here carries, right before it, the marker
``<!-- not run by tests/e2e/test_readme.py: REASON -->``; the test knows exactly which
blocks those are (KNOWN_SKIPPED), so a new block is never skipped silently. Where the
quick start starts the server, the test starts the release binary (``spygroup serve``
in the scratch directory). Before the click-to-spy block it registers real phones
(pjsua2) with the README's secrets: 110 calls 101, and supervisor 201 auto-answers; the
supervisor must then hear both parties of the call.

Each block must exit 0, and the test checks what it should have done (extensions,
grants, a non-empty exported token, a live monitor, the PIN entries).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

import audio
from conftest import OUT, REPO, free_port, free_udp_range, spygroup_bin
from spysetup import SHIPPED, at, check, count_log, internal_call, wait_log

pytestmark = [pytest.mark.needs_pbx]

README = REPO / "README.md"
MARKER = re.compile(r"^<!-- not run by tests/e2e/test_readme\.py: (.+?) -->\s*$")
# The first line of every block the README marks as not run, in order.
KNOWN_SKIPPED = [
    "cargo build --release -p spygroup",  # quick start: build and serve
    "./scripts/test.sh",  # the test command itself
]
BLOCK_TIMEOUT = 60.0
FREQS = (400, 1000, 1500)


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None  # the marker's reason, when marked as not run

    @property
    def first(self):
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "")


def parse_blocks(text):
    """Every fenced block, checking the fences themselves: a closing fence is ``` alone
    on its line (text after it would swallow the rest of the page on GitHub)."""
    lines = text.splitlines()
    blocks, errors = [], []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            if lines[i].startswith("```"):
                errors.append(f"README.md:{i + 1}: a fence with text after its language: {lines[i]!r}")
            i += 1
            continue
        start, lang = i, m.group(1)
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            errors.append(f"README.md:{start + 1}: code block never closed")
            break
        if lines[i].rstrip() != "```":
            errors.append(
                f"README.md:{i + 1}: the block opened at line {start + 1} is closed by a fence "
                f"with text after it: {lines[i]!r}"
            )
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mk = MARKER.match(lines[j]) if j >= 0 else None
        blocks.append(Block(start + 1, lang, "\n".join(body) + "\n", mk.group(1) if mk else None))
        i += 1
    # A marker not right before a block skips nothing: say so rather than ignore it.
    marked = {b.line for b in blocks if b.skip}
    for n, ln in enumerate(lines):
        if MARKER.match(ln):
            k = n + 1
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k + 1 not in marked:
                errors.append(f"README.md:{n + 1}: skip marker not followed by a code block")
    return blocks, errors


def test_readme_fences_and_skip_markers():
    """Cheap checks that need no server: fences close cleanly, exactly the known blocks
    are marked as not run, and only ```sh blocks carry markers."""
    blocks, errors = parse_blocks(README.read_text())
    assert not errors, "\n".join(errors)
    skipped = [b for b in blocks if b.skip]
    assert [b.first for b in skipped] == KNOWN_SKIPPED, (
        "blocks marked as not run by this test changed: "
        + ", ".join(f"line {b.line}: {b.first!r}" for b in skipped)
    )
    assert all(b.lang == "sh" for b in skipped), [b.line for b in skipped if b.lang != "sh"]
    assert sum(1 for b in blocks if b.lang == "sh" and not b.skip) >= 5


# ---- the newcomer's terminal and server ---------------------------------------
class Shell:
    """One bash process fed block after block on stdin, like a terminal one pastes
    into. ``set -euo pipefail`` holds for the whole session: a failing command ends the
    shell, and the block that was running is reported with its output."""

    def __init__(self, cwd: Path, env: dict, scratch: Path):
        self.cwd = cwd
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=open(scratch / "shell.log", "wb"),
            text=True,
        )
        self._send("set -euo pipefail\n")

    def _send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, text, pump, timeout=BLOCK_TIMEOUT):
        """Run ``text`` in the session; return (exit status, stdout, stderr), the status
        being 0 or the shell's exit code when ``set -e`` ended it."""
        self.n += 1
        base = self.scratch / f"block{self.n}"
        script, out, err, status = (base.with_suffix(s) for s in (".sh", ".out", ".err", ".status"))
        script.write_text(text)
        # stdin from /dev/null: a command reading stdin must not eat the next block.
        self._send(
            f"{{ source {script}; }} < /dev/null > {out} 2> {err}\n"
            f"printf '%s' \"$?\" > {status}.tmp && mv {status}.tmp {status}\n"
        )
        deadline = time.monotonic() + timeout
        while True:
            if status.exists():
                rc = int(status.read_text() or "0")
                break
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"block still running after {timeout}s:\n{text}")
            pump(0.05)
        read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
        return rc, read(out), read(err)

    def var(self, name, pump):
        """A shell variable's value ('' when unset)."""
        rc, out, err = self.run(f"printf '%s' \"${{{name}-}}\"\n", pump)
        assert rc == 0, err
        return out

    def exported(self, name, pump):
        """The variable as child processes see it ('' when not exported)."""
        rc, out, err = self.run(f"printenv {name} || true\n", pump)
        assert rc == 0, err
        return out.strip()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Server:
    """`spygroup serve` started the README's way: no flags, in the directory whose
    spygroup.toml names the ports."""

    def __init__(self, bin_path: Path, work: Path, env: dict):
        self.bin = bin_path
        self.work = work
        self.env = env
        self.log_path = work / "server.log"
        self.proc = None
        self.pick_ports()

    def pick_ports(self):
        self.sip_port, self.http_port = free_port(), free_port()
        self.rtp_lo, self.rtp_hi = free_udp_range()
        (self.work / "spygroup.toml").write_text(
            "\n".join(
                [
                    "# Written by tests/e2e/test_readme.py: free loopback ports, the shipped",
                    "# dialplan and prompts from the repository; everything else default.",
                    f'sip = "127.0.0.1:{self.sip_port}"',
                    'media_ip = "127.0.0.1"',
                    f'rtp_ports = "{self.rtp_lo}-{self.rtp_hi}"',
                    f'http = "127.0.0.1:{self.http_port}"',
                    f'dialplan = "{SHIPPED}"',
                    f'sounds = "{REPO / "sounds"}"',
                    'log_level = "debug"',
                    "",
                ]
            )
        )

    @property
    def sip_addr(self):
        return f"127.0.0.1:{self.sip_port}"

    def start(self, timeout=20.0):
        for attempt in range(3):
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [str(self.bin), "serve"], cwd=self.work, env=self.env,
                stdout=self._log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    url = f"http://127.0.0.1:{self.http_port}/health"
                    with urllib.request.urlopen(url, timeout=1) as r:
                        json.loads(r.read())
                        return
                except (OSError, ValueError):
                    time.sleep(0.1)
            self._log.close()
            if self.proc.poll() is None:
                self.stop()
                raise AssertionError(f"spygroup serve not healthy in {timeout}s\n{self.log_text()[-3000:]}")
            if attempt == 2 or "Address already in use" not in self.log_text():
                raise AssertionError(f"spygroup serve exited {self.proc.returncode}\n{self.log_text()[-3000:]}")
            self.pick_ports()  # a port was taken meanwhile: choose again

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None
        finally:
            self._log.close()


def readme_secrets(blocks):
    """Extension -> secret, from the README's own `spygroup ext add` lines."""
    found = {}
    for b in blocks:
        for m in re.finditer(r"spygroup ext add (\d+) --secret '([^']+)'", b.text):
            found[m.group(1)] = m.group(2)
    return found


def test_readme_examples_run_in_order(ua, make_phone, tones, tmp_path, request):
    blocks, errors = parse_blocks(README.read_text())
    assert not errors, "\n".join(errors)
    assert [b.first for b in blocks if b.skip] == KNOWN_SKIPPED
    sh = [b for b in blocks if b.lang == "sh"]
    secrets = readme_secrets(sh)
    for ext in ("101", "110", "201"):
        assert ext in secrets, f"the README no longer creates extension {ext}"

    binary = spygroup_bin()
    if not binary.exists():
        pytest.fail(f"PBX binary {binary} not found: `cargo build --release -p spygroup` or set SPYGROUP_BIN")
    # `spygroup` on PATH, whatever SPYGROUP_BIN is called.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "spygroup").symlink_to(binary.resolve())
    work = tmp_path / "newcomer"
    work.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }
    server = Server(bindir / "spygroup", work, dict(env, RUST_BACKTRACE="1"))
    shell = Shell(work, env, tmp_path / "shell")
    ok = False

    def cli(*args):
        r = subprocess.run(["spygroup", *args], cwd=work, env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"spygroup {' '.join(args)} exited {r.returncode}: {r.stderr}"
        return r.stdout

    def pump(seconds):
        ua.poll(seconds)

    phones = {}
    state = {}
    done = set()

    def before(b):
        if "spygroup monitor start" in b.text:
            # The README's words: "phones 110 and 201 registered and 110 on a call".
            for ext, tone in (("101", 400), ("110", 1000), ("201", 1500)):
                ph = make_phone(ext, secret=secrets[ext], server=server.sip_addr, tone=tones[tone])
                assert ph.register() == 200, f"{ext} did not register with the README's secret"
                phones[ext] = ph
            state["agent_call"], state["peer_leg"] = internal_call(ua, phones["110"], phones["101"], "101")
            state["started"] = count_log(server, "spy session started")
            done.add("phones")

    def after(b, out):
        text = b.text
        if "spygroup ext add 101" in text:
            listed = cli("ext", "list")
            assert re.search(r"^101\s", listed, re.M) and re.search(r"^102\s", listed, re.M), listed
            done.add("extensions")
        if "spygroup supervisor grant" in text:
            listed = cli("ext", "list")
            for ext in ("110", "201"):
                assert re.search(rf"^{ext}\s", listed, re.M), listed
            sup = cli("supervisor", "list")
            assert re.search(r"^201\s+sales\s+-\s+listen,whisper,barge,takeover\s*$", sup, re.M), sup
            groups = cli("group", "list")
            assert re.search(r"^sales\s+110\b", groups, re.M), groups
            assert "carrier" in cli("rule", "list")
            assert "restricted" in cli("monitoring"), "the example must leave monitoring restricted"
            done.add("grants")
        if "spygroup monitor start" in text:
            token = shell.var("SPYGROUP_TOKEN", pump)
            assert token, "SPYGROUP_TOKEN is empty"
            assert shell.exported("SPYGROUP_TOKEN", pump) == token, "SPYGROUP_TOKEN is not exported"
            assert "SIP/110-" in out, f"`spygroup calls` does not list 110's call:\n{out}"
            call = shell.var("call", pump)
            assert re.fullmatch(r"[0-9]+-[0-9]+", call), f"call={call!r} (a call id from `spygroup calls`)"
            state["id"] = shell.var("id", pump)
            assert state["id"], "monitor start printed no id"
            sup = phones["201"]
            scall = sup.incoming(timeout=10)
            ua.wait_for(lambda: scall.confirmed and scall.media_active, 10, "the supervisor answers")
            t_listen = wait_log(ua, server, "spy session started", state["started"], 8, "the monitor to start")
            ua.poll(3.0)
            t_end = time.monotonic()
            wav = scall.stop_recording()
            lv = audio.tone_levels(wav, FREQS, at(scall, t_listen + 0.6), at(scall, t_end))
            check("supervisor", lv, [400, 1000], [1500], "README click-to-spy, listen")
            state["scall"] = scall
            done.add("listen")
        if "spygroup monitor stop" in text:
            scall = state["scall"]
            ua.wait_for(lambda: scall.disconnected, 5, "the PBX to hang up the supervisor")
            assert "spy session ended" in server.log_text()
            audit = cli("audit", "list")
            assert "201" in audit and "whisper" in audit, audit
            assert state["agent_call"].confirmed and state["peer_leg"].confirmed, "the monitored call dropped"
            done.add("stop")
        if "spygroup pin set" in text:
            # Salted argon2id (a call with the PIN is in test_chanspy_more).
            p779 = cli("db", "get", "spygroup", "pin_779").strip()
            p778 = cli("db", "get", "spygroup", "pin_778").strip()
            assert p779.startswith("argon2:$argon2id$") and p778.startswith("argon2:$argon2id$"), (p779, p778)
            assert "4567" not in p779 and p779 != p778
            shown = cli("db", "show", "spygroup")
            assert "/spygroup/pin_779" in shown and "/spygroup/pin_778" in shown, shown
            done.add("pins")

    ran = []
    try:
        for b in sh:
            if b.skip:
                if "spygroup serve" in b.text:
                    assert not ran, "the README runs commands before its quick start starts the server"
                    server.start()
                    done.add("server")
                continue
            before(b)
            t0 = time.monotonic()
            rc, out, err = shell.run(b.text, pump)
            ran.append((b.line, time.monotonic() - t0))
            assert rc == 0, (
                f"README.md:{b.line}: the block exited {rc}\n--- block\n{b.text}--- stdout\n{out}--- stderr\n{err}"
            )
            after(b, out)
        assert done == {"server", "extensions", "grants", "phones", "listen", "stop", "pins"}, (
            f"the README lost an example this test checks: only {sorted(done)}"
        )
        assert (work / "spygroup.db").exists()
        ok = True
    finally:
        shell.close()
        for ph in phones.values():
            ph.close()
        code = server.stop()
        if not ok:
            dest = OUT / request.node.name
            dest.mkdir(parents=True, exist_ok=True)
            for f in [server.log_path, *sorted((tmp_path / "shell").glob("*"))]:
                if f.is_file():
                    shutil.copy(f, dest / f.name)
    print("blocks run (README line, seconds):", ", ".join(f"{ln}: {s:.1f}" for ln, s in ran))
    assert code == 0, f"spygroup serve did not exit 0 on SIGTERM ({code})"
