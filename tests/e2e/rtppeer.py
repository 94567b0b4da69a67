"""A bare RTP endpoint in its own process: sends a PCMU tone every 20 ms to a list of
targets and records everything that reaches its socket.

Two uses in the suite:
* an attacker spraying the PBX's whole RTP port range (RTP to the even ports, RTCP
  sender reports to the odd ones) from a socket no SDP names;
* a caller with no softphone behind it (raw SIP) whose RTP starts late.

It runs in a child process so its 20 ms pace does not depend on the test thread
(which spends its time inside pjsua2 calls). The parent creates the UDP socket (so
it knows the port at once) and hands it over (``pass_fds``); closing the child's
stdin stops it, and it then writes what it received: a JSON summary and the decoded
PCMU payloads as an 8 kHz WAV (for the audio helpers).

    peer = RtpPeer.start(sock, targets, freq=3100, workdir=tmp_path, name="attacker")
    ...
    got = peer.stop()   # {"sent": n, "received": n, "rtp": n, "sources": {...}, "wav": path}
"""

from __future__ import annotations

import json
import math
import random
import select
import socket
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

PTIME = 0.020
SAMPLES = 160


def ulaw_encode(sample):
    """One 16-bit sample to G.711 mu-law (the classic bias-and-segment encoder)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    mag = min(abs(sample), clip) + bias
    exponent = max(0, min(7, mag.bit_length() - 8))
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(byte):
    b = ~byte & 0xFF
    sign, exponent, mantissa = b & 0x80, (b >> 4) & 0x07, b & 0x0F
    mag = ((mantissa << 3) + 0x84 << exponent) - 0x84
    return -mag if sign else mag


ULAW_DECODE = [ulaw_decode(b) for b in range(256)]


def tone_frames(freq, dbfs=-12.0, seconds=1.0):
    """Frames of 160 mu-law bytes of a sine (a whole number of cycles per second, so
    the frames loop without a click)."""
    amp = 32767.0 * 10.0 ** (dbfs / 20.0)
    n = int(8000 * seconds)
    samples = [int(round(amp * math.sin(2 * math.pi * freq * i / 8000))) for i in range(n)]
    enc = bytes(ulaw_encode(s) for s in samples)
    return [enc[i : i + SAMPLES] for i in range(0, n, SAMPLES)]


class _Stream:
    def __init__(self):
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)

    def rtp(self, payload, pt=0):
        h = struct.pack("!BBHII", 0x80, pt & 0x7F, self.seq, self.ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + SAMPLES) & 0xFFFFFFFF
        return h + payload

    def rtcp_sr(self):
        # A sender report without report blocks (RFC 3550 6.4.1): 28 bytes.
        now = time.time() + 2208988800
        return struct.pack(
            "!BBHIIIIII", 0x80, 200, 6, self.ssrc, int(now), int((now % 1) * 2**32),
            self.ts, 0, 0,
        )  # fmt: skip


def run(fd, targets, freq, start_after, out, wav_path):
    """The child: ``targets`` is [[host, port, "rtp"|"rtcp"], ...]."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    frames = tone_frames(freq) if freq else [bytes([0xFF]) * SAMPLES]
    streams = {(h, p): _Stream() for h, p, _ in targets}
    sent = received = rtp = 0
    sources: dict[str, int] = {}
    pcm = bytearray()
    t0 = time.monotonic()
    next_at = t0 + start_after
    k = 0
    while True:
        # Receive until the next send is due (or stdin closes: stop).
        while True:
            wait = max(0.0, next_at - time.monotonic())
            r, _, _ = select.select([sock, sys.stdin], [], [], wait)
            if sys.stdin in r and not sys.stdin.buffer.read1(4096):
                _finish(out, wav_path, sent, received, rtp, sources, pcm)
                return
            if sock in r:
                while True:
                    try:
                        data, src = sock.recvfrom(4096)
                    except BlockingIOError:
                        break
                    received += 1
                    key = f"{src[0]}:{src[1]}"
                    sources[key] = sources.get(key, 0) + 1
                    if len(data) >= 12 and data[0] >> 6 == 2 and not 200 <= data[1] <= 207:
                        rtp += 1
                        if data[1] & 0x7F == 0:
                            for b in data[12:]:
                                pcm += struct.pack("<h", ULAW_DECODE[b])
            if not r:
                break
        payload = frames[k % len(frames)]
        k += 1
        for host, port, kind in targets:
            s = streams[(host, port)]
            pkt = s.rtcp_sr() if kind == "rtcp" else s.rtp(payload)
            try:
                sock.sendto(pkt, (host, port))
                sent += 1
            except OSError:
                pass
        next_at += PTIME
        # Fell behind (a busy machine): carry on from now rather than burst.
        if next_at < time.monotonic() - 0.1:
            next_at = time.monotonic()


def _finish(out, wav_path, sent, received, rtp, sources, pcm):
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(pcm))
    Path(out).write_text(
        json.dumps(
            {"sent": sent, "received": received, "rtp": rtp, "sources": sources,
             "wav": str(wav_path), "seconds_received": len(pcm) / 2 / 8000}
        )  # fmt: skip
    )


class RtpPeer:
    """The parent's handle on a running peer."""

    def __init__(self, proc, sock, out, port):
        self.proc, self.sock, self.out, self.port = proc, sock, out, port
        self.result = None

    @classmethod
    def start(cls, sock, targets, workdir, name, freq=0, start_after=0.0):
        workdir = Path(workdir)
        out = workdir / f"{name}.json"
        wav_path = workdir / f"{name}-received.wav"
        spec = json.dumps([list(t) for t in targets])
        proc = subprocess.Popen(
            [sys.executable, __file__, str(sock.fileno()), spec, str(freq), str(start_after),
             str(out), str(wav_path)],
            stdin=subprocess.PIPE, pass_fds=[sock.fileno()],
        )  # fmt: skip
        return cls(proc, sock, out, sock.getsockname()[1])

    def stop(self, timeout=10.0):
        """Stop the peer; return its summary (see the module docstring)."""
        if self.result is not None:
            return self.result
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.sock.close()
        assert self.proc.returncode == 0, f"RTP peer exited {self.proc.returncode}"
        self.result = json.loads(self.out.read_text())
        return self.result


def range_targets(lo, hi, host="127.0.0.1"):
    """Every RTP (even) and RTCP (odd) port of a PBX's configured range."""
    out = []
    for p in range(lo + (lo % 2), hi, 2):
        out.append((host, p, "rtp"))
        out.append((host, p + 1, "rtcp"))
    return out


if __name__ == "__main__":
    fd, spec, freq, start_after, out, wav_path = sys.argv[1:7]
    run(int(fd), json.loads(spec), float(freq), float(start_after), out, wav_path)
