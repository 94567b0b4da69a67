"""baresip (Debian's 1.0.0) as a second, independent user agent.

It sends a sine tone (``ausine``), auto-answers (``answermode=auto``) and dumps
the decoded audio it receives with the ``sndfile`` filter (``snd_path``).
Output goes to a log file that the helper greps for events.

Registration: baresip 1.0.0 links libre whose digest client (``sip/auth.c``)
understands MD5 only, and it walks *every* WWW-Authenticate header of a 401:
the first one with another algorithm (our PBX offers MD5 and SHA-256, RFC 8760)
aborts the whole authentication with ENOSYS, logged as
``reg: sip:102@...: Register: Function not implemented``. The REGISTER does reach
the PBX (it answers 401); baresip just never answers the challenge. So a PBX
that baresip registers to must offer MD5 alone (``--digest-algorithms MD5``).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import free_port


def available():
    return shutil.which("baresip") is not None and Path("/usr/lib/baresip/modules/ausine.so").exists()


class Baresip:
    def __init__(self, workdir, ext, secret="", server=None, sip_port=None, rtp_range=(31000, 31100),
                 tone=1000, answer_auto=True, transport=None, mediaenc=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ext = str(ext)
        self.sip_port = sip_port
        self.server = server
        self.log_path = self.dir / "baresip.log"
        self._secret, self._rtp_range, self._tone = secret, rtp_range, tone
        self._answer_auto, self._transport, self._mediaenc = answer_auto, transport, mediaenc
        self._write_files()
        self.proc = None

    def _write_files(self):
        """baresip's config and accounts for the current ``sip_port``."""
        rtp_lo, rtp_hi = self._rtp_range
        mediaenc = self._mediaenc
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "net_interface 127.0.0.1",
                    f"rtp_ports {rtp_lo}-{rtp_hi}",
                    "module_path /usr/lib/baresip/modules",
                    "module stdio.so",  # reads menu commands (command()) from stdin
                    "module g711.so",
                    *(["module srtp.so"] if mediaenc else []),
                    "module ausine.so",
                    "module sndfile.so",
                    "module_tmp uuid.so",  # +sip.instance, as baresip's own default config
                    "module_tmp account.so",
                    "module_app menu.so",
                    f"audio_source ausine,{self._tone}",
                    "ausrc_srate 48000",
                    "ausrc_channels 2",
                    "audio_player ausine,0",
                    "audio_alert ausine,0",
                    f"snd_path {self.dir}",
                    "",
                ]
            )
        )
        host = self.server or f"127.0.0.1:{self.sip_port}"
        params = ["audio_codecs=PCMU/8000/1,PCMA/8000/1"]
        if mediaenc:
            # srtp (optional), srtp-mand (RTP/SAVP only), srtp-mandf (SAVPF)
            params.append(f"mediaenc={mediaenc}")
        if self._answer_auto:
            params.append("answermode=auto")
        if self.server:
            params += [f"auth_pass={self._secret}", "regint=300"]
        else:
            params.append("regint=0")
        transport = self._transport
        uri = f"sip:{self.ext}@{host}" + (f";transport={transport}" if transport else "")
        (self.dir / "accounts").write_text(f"<{uri}>;" + ";".join(params) + "\n")

    def start(self, timeout=10.0, attempts=3):
        """Start baresip and wait until it is ready. A start whose SIP port was
        taken between choosing it and binding it (another process's ephemeral
        socket) tries again on a new free port, ``attempts`` times in all."""
        for attempt in range(attempts):
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                ["baresip", "-f", str(self.dir), "-v"],
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            try:
                self.wait_log(r"baresip is ready", timeout)
                return self
            except AssertionError:
                if "Address already in use" not in self.log() or attempt == attempts - 1:
                    raise
                self._log.close()
                self.sip_port = free_port()
                self._write_files()
        raise AssertionError("baresip: no start attempted")

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

    def wait_registered(self, timeout=10.0, pump=None):
        """Wait for the REGISTER's 200 OK; fail at once on a registration error."""
        m = self.wait_log(rf"{self.ext}@127\.0\.0\.1[^\n]*200 OK|reg: [^\n]*(Register|failed)[^\n]*", timeout, pump)
        if "200 OK" not in m.group(0):
            raise AssertionError(f"baresip {self.ext} did not register: {m.group(0)}\n{self.log()[-3000:]}")
        return m

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
