"""Fixtures for the end-to-end suite: free ports, the pjsua2 endpoint, phones,
and a real `spygroup serve` process (the ``pbx`` fixture).

Tests marked ``needs_pbx`` drive the real binary (target/release/spygroup, or
$SPYGROUP_BIN). They fail, not skip, when the binary is missing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import phone as phone_mod  # noqa: E402

REPO = HERE.parent.parent
OUT = HERE / "out"
SECRETS = {"101": "s3cret-101", "102": "s3cret-102", "103": "s3cret-103"}
NAMES = {"101": "Alice", "102": "Bob", "103": "Carol"}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_pbx: drives the real spygroup binary")
    config.addinivalue_line("markers", "pbx_args(*args): extra arguments for `spygroup serve`")
    config.addinivalue_line(
        "markers",
        "pbx_dialplan(path=None, text=None): the dialplan `spygroup serve` loads "
        "(a file, or text written to the server's work directory)",
    )
    config.addinivalue_line("markers", "needs_baresip: uses the baresip user agent")
    config.addinivalue_line("markers", "needs_sipp: uses SIPp")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def test_failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


# ---- ports -----------------------------------------------------------------
def free_port(udp_too=True, tcp_too=True):
    """A port free on 127.0.0.1 for TCP and UDP (checked by binding both)."""
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        try:
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                finally:
                    u.close()
            # SIPp/baresip may use port+1 (TLS over TCP): keep it free too
            taken = False
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                n = socket.socket(socket.AF_INET, kind)
                try:
                    n.bind(("127.0.0.1", port + 1))
                except OSError:
                    taken = True
                finally:
                    n.close()
            if taken:
                continue
            return port
        finally:
            t.close()
    raise RuntimeError("no free port found")


def free_udp_range(size=100, lo=40000, hi=49900):
    """An even-aligned block of UDP ports, spot-checked free (start, middle, end)."""
    for _ in range(50):
        start = random.randrange(lo, hi - size, 2)
        ok = True
        for p in (start, start + 1, start + size // 2, start + size - 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return start, start + size - 1
    raise RuntimeError("no free RTP port range")


@pytest.fixture
def port():
    return free_port()


# ---- pjsua2 ------------------------------------------------------------------
@pytest.fixture(scope="session")
def ua():
    OUT.mkdir(parents=True, exist_ok=True)
    agent = phone_mod.UA(OUT / f"pjsua-{os.getpid()}.log")
    yield agent
    agent.destroy()


@pytest.fixture(scope="session")
def tones(tmp_path_factory):
    d = tmp_path_factory.mktemp("tones")
    return {f: phone_mod.wav_tone(d / f"tone{f}.wav", f) for f in (400, 1000, 1500)}


@pytest.fixture
def make_phone(ua, tmp_path, request):
    """Factory: make_phone("101", server=pbx.sip_addr, tone=..., record=True)."""
    made = []

    def factory(ext, secret=None, server=None, record=True, **kw):
        if secret is None:
            secret = SECRETS.get(str(ext), "")
        ph = phone_mod.Phone(
            ua, ext, secret, server=server, record_dir=tmp_path if record else None, **kw
        )
        made.append(ph)
        return ph

    yield factory
    for ph in made:
        ph.close()
    if test_failed(request):
        dest = OUT / request.node.name
        dest.mkdir(parents=True, exist_ok=True)
        for wav in tmp_path.glob("*.wav"):
            shutil.copy(wav, dest / wav.name)


# ---- the PBX ---------------------------------------------------------------
def spygroup_bin():
    env = os.environ.get("SPYGROUP_BIN")
    return Path(env) if env else REPO / "target" / "release" / "spygroup"


class Pbx:
    def __init__(self, workdir: Path, extra_args=()):
        self.bin = spygroup_bin()
        self.workdir = workdir
        self.db_path = workdir / "spygroup.db"
        self.db_url = f"sqlite://{self.db_path}"
        self.sip_port = free_port()
        self.http_port = free_port()
        self.rtp_lo, self.rtp_hi = free_udp_range()
        self.log_path = workdir / "server.log"
        self.dialplan = Path(os.environ.get("SPYGROUP_E2E_DIALPLAN", HERE / "dialplan.conf"))
        self.extra_args = list(extra_args)
        self.proc = None
        self.stopped_on_purpose = False  # set by terminate(): not a crash
        self.restarts = 0

    @property
    def sip_addr(self):
        return f"127.0.0.1:{self.sip_port}"

    @property
    def http_url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def cli(self, *args, check=True, timeout=30):
        cmd = [str(self.bin), *map(str, args), "--db", self.db_url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
            )
        return r

    def config_version(self):
        status, body = self.http_get("/health")
        assert status == 200, (status, body)
        return json.loads(body)["database"]["config_version"]

    def cli_live(self, *args, timeout=5.0):
        """A configuration command that SIP traffic depends on at once (a trunk a
        carrier calls from a moment later): the server picks changes up within
        ~50 ms, so wait until its snapshot moved past the one before the command.
        A reload still due for an earlier command would move it too, so first wait
        until the version holds still for 200 ms."""
        before, since = self.config_version(), time.monotonic()
        deadline = since + timeout
        while time.monotonic() - since < 0.2 and time.monotonic() < deadline:
            time.sleep(0.02)
            now = self.config_version()
            if now != before:
                before, since = now, time.monotonic()
        r = self.cli(*args)
        deadline = time.monotonic() + timeout
        while self.config_version() == before:
            assert time.monotonic() < deadline, f"{args}: not live within {timeout}s"
            time.sleep(0.01)
        return r

    def add_ext(self, num, secret, name):
        return self.cli("ext", "add", num, "--secret", secret, "--name", name)

    def serve_cmd(self):
        return [
            str(self.bin),
            "serve",
            "--sip", self.sip_addr,
            "--media-ip", "127.0.0.1",
            "--rtp-ports", f"{self.rtp_lo}-{self.rtp_hi}",
            "--http", f"127.0.0.1:{self.http_port}",
            "--db", self.db_url,
            "--dialplan", str(self.dialplan),
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout=20.0, append=False):
        # The ports were free when chosen, but another program (a phone of a
        # neighbouring test, an ephemeral socket) may take one before we bind it.
        # On a first start that is not the PBX's fault: choose again, twice at most.
        # A restart keeps its ports (tests rely on them), so it does not retry.
        for attempt in range(3):
            try:
                return self._start_once(timeout, append)
            except ServerExited as e:
                if append or attempt == 2 or "Address already in use" not in e.log:
                    raise
                self.sip_port = free_port()
                self.http_port = free_port()
                self.rtp_lo, self.rtp_hi = free_udp_range()

    def _start_once(self, timeout, append):
        self._log = open(self.log_path, "ab" if append else "wb")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "debug")
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            self.serve_cmd(), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerExited(self.proc.returncode, self.log_text())
            try:
                status, body = self.http_get("/health", timeout=1.0)
                if status == 200:
                    json.loads(body)  # the contract says JSON
                    return
                last = f"status {status}"
            except (OSError, ValueError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(
            f"spygroup not healthy within {timeout}s (last: {last})\n{self.log_text()[-4000:]}"
        )

    def http_get(self, path, timeout=2.0):
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def healthy(self):
        try:
            return self.http_get("/health", timeout=2.0)[0] == 200
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """Send SIGTERM without waiting (a test stopping the PBX on purpose; the
        phones must keep being polled meanwhile so they can answer its BYEs)."""
        self.stopped_on_purpose = True
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout=10.0, pump=None):
        """Wait for the process to exit (pumping ``pump(seconds)`` if given);
        return its exit code, or None if it is still running."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        return self.proc.poll()

    def restart(self, timeout=20.0, pump=None):
        """SIGTERM, wait for exit 0, then start a new process on the same database,
        SIP/HTTP ports and RTP range (its output is appended to the same log)."""
        self.terminate()
        code = self.wait_exit(10.0, pump)
        assert code == 0, f"spygroup did not exit 0 within 10 s of SIGTERM (exit {code})"
        self._log.close()
        self.start(timeout, append=True)
        self.stopped_on_purpose = False
        self.restarts += 1

    def stop(self, timeout=10.0):
        """SIGTERM and return the exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cdr_lines(self):
        out = self.cli("cdr", "list").stdout
        return [ln for ln in out.splitlines() if ln.strip()]


class ServerExited(Exception):
    def __init__(self, code, log):
        super().__init__(f"spygroup serve exited early with {code}\n{log[-4000:]}")
        self.code = code
        self.log = log


@pytest.fixture
def pbx(tmp_path, request):
    """A running `spygroup serve` with extensions 101, 102, 103 (secrets in SECRETS)."""
    marker = request.node.get_closest_marker("pbx_args")
    yield from run_pbx(tmp_path, request, list(marker.args) if marker else [])


def run_pbx(tmp_path, request, extra):
    """The `pbx` fixture's body, for fixtures that add arguments of their own
    (files made in ``tmp_path``, as TLS certificates): ``yield from run_pbx(...)``."""
    if not spygroup_bin().exists():
        pytest.fail(
            f"PBX binary {spygroup_bin()} not found: build it with "
            "`cargo build --release -p spygroup` or set SPYGROUP_BIN"
        )
    work = tmp_path / "pbx"
    work.mkdir()
    server = Pbx(work, extra)
    dp = request.node.get_closest_marker("pbx_dialplan")
    if dp is not None:
        path = dp.kwargs.get("path", dp.args[0] if dp.args else None)
        text = dp.kwargs.get("text")
        if text is not None:
            path = work / "extensions.conf"
            path.write_text(text)
        server.dialplan = Path(path)
    for num in ("101", "102", "103"):
        server.add_ext(num, SECRETS[num], NAMES[num])
    try:
        server.start()
    except ServerExited as e:
        unknown = any(
            a.startswith("--") and a in e.log and ("unexpected argument" in e.log or "unrecognized" in e.log)
            for a in extra
        )
        if extra and unknown:
            pytest.skip(f"spygroup serve rejects {extra}: {e.log.strip().splitlines()[-1][:200]}")
        _save_log(server, request.node.name)
        raise
    yield server
    alive_before = server.alive() or server.stopped_on_purpose
    code = server.stop(timeout=10.0)
    if test_failed(request) or code != 0 or not alive_before:
        _save_log(server, request.node.name)
    assert alive_before, f"spygroup died during the test (exit {server.proc.returncode})"
    assert code == 0, f"spygroup did not exit 0 within 10 s of SIGTERM (exit {code})"


def _save_log(server, name):
    OUT.mkdir(parents=True, exist_ok=True)
    dest = OUT / f"{name}-server.log"
    try:
        shutil.copy(server.log_path, dest)
    except OSError:
        pass


@pytest.fixture
def registered(pbx, make_phone, tones):
    """101 (sends 400 Hz) and 102 (sends 1000 Hz, auto-answers), both registered over UDP."""
    a = make_phone("101", server=pbx.sip_addr, tone=tones[400])
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000])
    assert a.register() == 200
    assert b.register() == 200
    return a, b
