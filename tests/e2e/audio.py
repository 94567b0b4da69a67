"""Tone generation and detection for the end-to-end tests.

Levels are in dBFS where a full-scale sine (peak 32767) reads 0 dBFS, so a sine
written at -12 dBFS reads about -12 dBFS back.

* ``tone_levels`` runs a Goertzel filter (Hann window) over 0.5 s windows and
  returns, per frequency, the median level of the windows inside [start, end).
* ``gaps`` scans 100 ms windows and reports those whose overall level is below
  a silence threshold: while a tone should be playing there must be none.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import numpy as np

PRESENT_DBFS = -20.0  # a tone counts as heard at or above this level
ABSENT_DBFS = -40.0  # a tone counts as not heard at or below this level
GAP_DBFS = -35.0  # a 100 ms window below this overall level is a gap
FLOOR_DBFS = -120.0


def write_tone(path, freq, seconds=10.0, rate=8000, dbfs=-12.0, gaps=()):
    """Write a 16-bit mono sine WAV. ``gaps`` is a list of (start, end) seconds
    that are written as digital silence (used to prove the gap detector)."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    amp = 32767.0 * (10.0 ** (dbfs / 20.0))
    if isinstance(freq, (list, tuple)):
        sig = sum(np.sin(2 * math.pi * f * t) for f in freq) * amp
    elif freq:
        sig = np.sin(2 * math.pi * freq * t) * amp
    else:
        sig = np.zeros(n)
    for a, b in gaps:
        sig[int(a * rate) : int(b * rate)] = 0.0
    pcm = np.clip(np.round(sig), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return Path(path)


def read_wav(path):
    """Return (samples as float in [-1, 1), rate). Mono 16-bit PCM only.

    Parses RIFF chunks by hand: a recorder that has not finalised its header yet
    (data size 0) still yields everything written so far."""
    raw = Path(path).read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, rate, channels, bits, data = 12, None, None, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt_tag, channels, rate = struct.unpack("<HHI", raw[body : body + 8])
            bits = struct.unpack("<H", raw[body + 14 : body + 16])[0]
            if fmt_tag != 1:
                raise ValueError(f"{path}: not PCM (format {fmt_tag})")
        elif cid == b"data":
            end = body + size if size and body + size <= len(raw) else len(raw)
            data = raw[body:end]
            break
        pos = body + size + (size & 1)
    if rate is None or data is None:
        raise ValueError(f"{path}: missing fmt or data chunk")
    if bits != 16:
        raise ValueError(f"{path}: {bits}-bit samples, want 16")
    data = data[: len(data) - len(data) % (2 * channels)]
    pcm = np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels)[:, 0]
    return pcm, rate


def duration(path):
    pcm, rate = read_wav(path)
    return len(pcm) / rate


def _db(amplitude):
    return 20.0 * math.log10(amplitude) if amplitude > 0 else FLOOR_DBFS


def goertzel_dbfs(block, rate, freq):
    """Level (dBFS, sine-peak scale) of ``freq`` inside ``block``."""
    n = len(block)
    if n == 0:
        return FLOOR_DBFS
    win = np.hanning(n)
    x = block * win
    k = freq * n / rate
    w = 2.0 * math.pi * k / n
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for v in x.tolist():
        s0 = v + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    mag = math.sqrt(max(power, 0.0))
    return max(_db(2.0 * mag / win.sum()), FLOOR_DBFS)


def _windows(pcm, rate, start, end, length):
    a = max(0, int(start * rate))
    b = len(pcm) if end is None else min(len(pcm), int(end * rate))
    step = int(length * rate)
    return [pcm[i : i + step] for i in range(a, b - step + 1, step)]


def tone_levels(wav_path, freqs=(400, 1000, 1500), start=0.0, end=None, window=0.5):
    """{freq: median dBFS over the ``window``-second windows in [start, end)}."""
    pcm, rate = read_wav(wav_path)
    blocks = _windows(pcm, rate, start, end, window)
    if not blocks:
        raise AssertionError(
            f"{wav_path}: no {window}s window between {start}s and {end}s "
            f"(recording is {len(pcm) / rate:.2f}s long)"
        )
    return {f: float(np.median([goertzel_dbfs(b, rate, f) for b in blocks])) for f in freqs}


def level_dbfs(block):
    """Overall level (RMS scaled so that a sine reads its peak in dBFS)."""
    if len(block) == 0:
        return FLOOR_DBFS
    rms = float(np.sqrt(np.mean(np.square(block))))
    return max(_db(rms * math.sqrt(2.0)), FLOOR_DBFS)


def gaps(wav_path, start=0.0, end=None, window=0.1, threshold=GAP_DBFS):
    """Start times (s) of the ``window`` windows quieter than ``threshold``."""
    pcm, rate = read_wav(wav_path)
    out = []
    a = max(0, int(start * rate))
    for i, blk in enumerate(_windows(pcm, rate, start, end, window)):
        if level_dbfs(blk) < threshold:
            out.append(round((a + i * int(window * rate)) / rate, 3))
    return out


# The notes of the shipped default music on hold (scripts/make-moh.py).
MOH_NOTES = (349.23, 440.0, 493.88, 523.25, 587.33, 659.26, 783.99)


def music_level(wav_path, start=0.0, end=None, notes=MOH_NOTES, window=0.1):
    """Median over 100 ms windows of the loudest note of the music on hold: one
    note per window at most, so the music reads near its note level while a
    steady test tone between the notes reads as nothing."""
    pcm, rate = read_wav(wav_path)
    blocks = _windows(pcm, rate, start, end, window)
    if not blocks:
        raise AssertionError(f"{wav_path}: nothing between {start}s and {end}s")
    return float(np.median([max(goertzel_dbfs(b, rate, f) for f in notes) for b in blocks]))


def longest_silence(wav_path, start=0.0, end=None, window=0.01, threshold=GAP_DBFS):
    """The longest run of quiet ``window`` windows (10 ms: fine enough to see a
    60 ms gap that a 100 ms window would average away), in seconds, and where it
    starts."""
    pcm, rate = read_wav(wav_path)
    step = int(window * rate)
    a = max(0, int(start * rate))
    best, best_at, run, run_at = 0, a / rate, 0, 0
    for i, blk in enumerate(_windows(pcm, rate, start, end, window)):
        if level_dbfs(blk) < threshold:
            if run == 0:
                run_at = a + i * step
            run += 1
            if run > best:
                best, best_at = run, run_at / rate
        else:
            run = 0
    return round(best * window, 3), round(best_at, 3)


def assert_hears(wav, freq, start=0.0, end=None, threshold=PRESENT_DBFS):
    lv = tone_levels(wav, [freq], start, end)[freq]
    assert lv >= threshold, f"{wav}: {freq} Hz at {lv:.1f} dBFS, expected >= {threshold} dBFS"
    return lv


def assert_not_hears(wav, freq, start=0.0, end=None, threshold=ABSENT_DBFS):
    lv = tone_levels(wav, [freq], start, end)[freq]
    assert lv <= threshold, f"{wav}: {freq} Hz at {lv:.1f} dBFS, expected <= {threshold} dBFS"
    return lv


def assert_no_gaps(wav, start=0.0, end=None, threshold=GAP_DBFS):
    g = gaps(wav, start, end, threshold=threshold)
    assert not g, f"{wav}: silent 100 ms windows at {g[:20]} s"


def check_two_way(caller_wav, callee_wav, caller_sends=400, callee_sends=1000):
    """A call's two recordings: each side hears the other's tone, never its own,
    without a gap (from 0.5 s to 0.3 s before the end)."""
    for wav in (caller_wav, callee_wav):
        assert duration(wav) >= 3.0, f"{wav}: only {duration(wav):.2f}s recorded"
    assert_hears(caller_wav, callee_sends, start=0.5)
    assert_not_hears(caller_wav, caller_sends, start=0.5)
    assert_hears(callee_wav, caller_sends, start=0.5)
    assert_not_hears(callee_wav, callee_sends, start=0.5)
    assert_no_gaps(caller_wav, start=0.5, end=duration(caller_wav) - 0.3)
    assert_no_gaps(callee_wav, start=0.5, end=duration(callee_wav) - 0.3)
