"""Finding the PBX's prompts and tones in what a phone recorded.

* ``find_prompt`` slides a prompt WAV (sounds/en/NAME.wav) over a recording and
  returns where it matches best, with the normalised cross-correlation there
  (1.0 = identical waveform; a prompt heard through G.711 scores about 0.9 or more,
  another prompt or a tone well under 0.5).
* ``speech_fraction`` is the share of 100 ms windows louder than a threshold.
* ``wait_until`` polls a live recording (pjsua writes it as it goes).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from audio import goertzel_dbfs, level_dbfs, read_wav

REPO = Path(__file__).resolve().parent.parent.parent
SOUNDS = REPO / "sounds"
MATCH = 0.6  # a prompt counts as heard at or above this correlation


def sound(name, lang="en"):
    return SOUNDS / lang / f"{name}.wav"


def find_prompt(wav, name, start=0.0, end=None, head=0.6):
    """(time in s, score) of the best match of the first ``head`` seconds of prompt
    ``name`` inside the recording ``wav`` between ``start`` and ``end``."""
    x, rate = read_wav(wav)
    p, prate = read_wav(sound(name))
    assert prate == rate, f"prompt at {prate} Hz, recording at {rate} Hz"
    if head:
        p = p[: int(head * rate)]
    # skip leading near-silence of the prompt: it correlates with nothing
    a = max(0, int(start * rate))
    b = len(x) if end is None else min(len(x), int(end * rate))
    seg = x[a:b]
    n, m = len(seg), len(p)
    if n < m or m == 0:
        return None, 0.0
    nfft = 1 << int(np.ceil(np.log2(n + m)))
    c = np.fft.irfft(np.fft.rfft(seg, nfft) * np.conj(np.fft.rfft(p, nfft)), nfft)[: n - m + 1]
    sq = np.concatenate(([0.0], np.cumsum(seg * seg)))
    win = np.sqrt(np.maximum(sq[m:] - sq[:-m], 0.0))[: n - m + 1]
    score = c / (np.linalg.norm(p) * win + 1e-9)
    # windows that are almost silent give meaningless ratios
    score[win < 1e-3 * np.sqrt(m)] = 0.0
    i = int(np.argmax(score))
    return (a + i) / rate, float(score[i])


def speech_fraction(wav, start=0.0, end=None, threshold=-40.0, window=0.1):
    """Share of ``window`` windows in [start, end) louder than ``threshold`` dBFS."""
    x, rate = read_wav(wav)
    step = int(window * rate)
    a = max(0, int(start * rate))
    b = len(x) if end is None else min(len(x), int(end * rate))
    blocks = [x[i : i + step] for i in range(a, b - step + 1, step)]
    if not blocks:
        return 0.0
    return sum(1 for blk in blocks if level_dbfs(blk) > threshold) / len(blocks)


def tone_track(wav, freq, start=0.0, end=None, window=0.1):
    """[(t, dBFS of ``freq``)] per ``window`` in [start, end)."""
    x, rate = read_wav(wav)
    step = int(window * rate)
    a = max(0, int(start * rate))
    b = len(x) if end is None else min(len(x), int(end * rate))
    return [(i / rate, goertzel_dbfs(x[i : i + step], rate, freq)) for i in range(a, b - step + 1, step)]


def duration(wav):
    x, rate = read_wav(wav)
    return len(x) / rate


def prompt_seconds(name):
    """Length of prompt ``name`` (sounds/en/NAME.wav) in seconds."""
    return duration(sound(name))


def wait_prompt(ua, call, name, after=0.0, timeout=8.0):
    """Pump until prompt ``name`` shows up in ``call``'s live recording after
    ``after`` s; return where it starts (seconds into the recording)."""
    found = {}

    def seen():
        if call.rec_path is None:
            return False
        t, score = find_prompt(call.rec_path, name, start=after)
        found["last"] = (t, score)
        return score >= MATCH

    deadline = time.monotonic() + timeout
    while True:
        ua.poll(0.25)
        try:
            if seen():
                return found["last"][0]
        except (ValueError, AssertionError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"prompt {name!r} not heard within {timeout}s after {after:.2f}s (best {found.get('last')})"
            )


def wait_until(ua, predicate, timeout, what, step=0.25):
    """Pump pjsua events until ``predicate()`` (which may read live recordings)."""
    deadline = time.monotonic() + timeout
    while True:
        ua.poll(step)
        try:
            if predicate():
                return True
        except (ValueError, AssertionError, FileNotFoundError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
