#!/usr/bin/env python3
"""Writes spygroup's own default music on hold, sounds/moh/default/arpeggio.wav:
a gentle arpeggio over C - Am - F - G (soft attack and release on each note,
-20 dBFS), 8 kHz mono 16-bit like every spygroup sound, 8 s, looped by the PBX.
Notes: F4 349 Hz, A4 440, B4 494, C5 523, D5 587, E5 659, G5 784 (none near the
400/1000/1500 Hz tones the tests give their phones). Run from the repository root."""

import math
import struct
import wave
from pathlib import Path

RATE = 8000
NOTE_S = 0.5
LEVEL = 10 ** (-20 / 20) * 32767
CHORDS = [
    (523.25, 659.26, 783.99, 659.26),  # C
    (440.00, 523.25, 659.26, 523.25),  # Am
    (349.23, 440.00, 523.25, 440.00),  # F
    (493.88, 587.33, 783.99, 587.33),  # G
]


def note(freq):
    n = int(NOTE_S * RATE)
    out = []
    for i in range(n):
        t = i / RATE
        # 20 ms attack, exponential decay, 30 ms release: a plucked, soft sound
        env = min(1.0, t / 0.02) * math.exp(-2.2 * t) * min(1.0, (NOTE_S - t) / 0.03)
        # pure tones: no overtone comes near the tests' 400/1000/1500 Hz
        out.append(int(LEVEL * env * math.sin(2 * math.pi * freq * t)))
    return out


def main():
    samples = [s for chord in CHORDS for f in chord for s in note(f)]
    path = Path("sounds/moh/default/arpeggio.wav")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    print(f"{path}: {len(samples) / RATE:.1f} s")


if __name__ == "__main__":
    main()
