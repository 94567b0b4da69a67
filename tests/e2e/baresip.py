"""baresip (Debian's 1.0.0) as a second, independent user agent.

It sends a sine tone (``ausine``), auto-answers (``answermode=auto``) and dumps
the decoded audio it receives with the ``sndfile`` filter (``snd_path``).
Output goes to a log file that the helper greps for events.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path


def available():
    return shutil.which("baresip") is not None and Path("/usr/lib/baresip/modules/ausine.so").exists()


class Baresip:
    def __init__(self, workdir, ext, secret="", server=None, sip_port=None, rtp_range=(31000, 31100),
                 tone=1000, answer_auto=True):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ext = str(ext)
        self.sip_port = sip_port
        self.server = server
        self.log_path = self.dir / "baresip.log"
        rtp_lo, rtp_hi = rtp_range
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{sip_port}",
                    "net_interface 127.0.0.1",
                    f"rtp_ports {rtp_lo}-{rtp_hi}",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module ausine.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    f"audio_source ausine,{tone}",
                    "ausrc_srate 48000",
                    "ausrc_channels 2",
                    "audio_player ausine,0",
                    "audio_alert ausine,0",
                    f"snd_path {self.dir}",
                    "",
                ]
            )
        )
        host = server or f"127.0.0.1:{sip_port}"
        params = ["audio_codecs=PCMU/8000/1,PCMA/8000/1"]
        if answer_auto:
            params.append("answermode=auto")
        if server:
            params += [f"auth_pass={secret}", "regint=300"]
        else:
            params.append("regint=0")
        (self.dir / "accounts").write_text(f"<sip:{self.ext}@{host}>;" + ";".join(params) + "\n")
        self.proc = None

    def start(self, timeout=10.0):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["baresip", "-f", str(self.dir), "-v"],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_log(r"baresip is ready", timeout)
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0, pump=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"baresip exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            if pump:
                pump(0.1)
            else:
                time.sleep(0.1)
        raise TimeoutError(f"baresip: no /{pattern}/ within {timeout}s:\n{self.log()[-3000:]}")

    def command(self, line):
        """Send a menu command (e.g. "/dial sip:101@host", "/hangup")."""
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def received_wavs(self):
        """WAV files of decoded audio received from the peer (sndfile dumps)."""
        return sorted(self.dir.glob("*-dec.wav"))

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.command("/quit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=timeout)
        self._log.close()
