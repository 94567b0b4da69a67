"""Unit tests of the tone detector itself, on synthetic WAVs (no PBX needed)."""

import struct

import numpy as np
import pytest

import audio


def test_tone_present_reads_its_level(tmp_path):
    wav = audio.write_tone(tmp_path / "t400.wav", 400, seconds=3)
    lv = audio.tone_levels(wav, [400, 1000, 1500])
    assert lv[400] == pytest.approx(-12.0, abs=0.5)
    assert lv[1000] <= -60
    assert lv[1500] <= -60
    audio.assert_hears(wav, 400)
    audio.assert_not_hears(wav, 1000)
    audio.assert_no_gaps(wav)


def test_two_tones_both_detected(tmp_path):
    wav = audio.write_tone(tmp_path / "mix.wav", [400, 1000], seconds=2, dbfs=-18)
    lv = audio.tone_levels(wav, [400, 1000, 1500])
    assert lv[400] == pytest.approx(-18.0, abs=0.5)
    assert lv[1000] == pytest.approx(-18.0, abs=0.5)
    assert lv[1500] <= -60


def test_absent_tone_fails_assert_hears(tmp_path):
    wav = audio.write_tone(tmp_path / "t1000.wav", 1000, seconds=2)
    with pytest.raises(AssertionError, match="400 Hz"):
        audio.assert_hears(wav, 400)
    with pytest.raises(AssertionError, match="1000 Hz"):
        audio.assert_not_hears(wav, 1000)


def test_quiet_tone_is_neither_present_nor_absent(tmp_path):
    wav = audio.write_tone(tmp_path / "quiet.wav", 400, seconds=2, dbfs=-30)
    with pytest.raises(AssertionError):
        audio.assert_hears(wav, 400)
    with pytest.raises(AssertionError):
        audio.assert_not_hears(wav, 400)


def test_silence(tmp_path):
    wav = audio.write_tone(tmp_path / "silence.wav", 0, seconds=2)
    assert all(v <= audio.FLOOR_DBFS + 1 for v in audio.tone_levels(wav).values())
    assert len(audio.gaps(wav)) == 20


def test_gap_detected_at_its_place(tmp_path):
    wav = audio.write_tone(tmp_path / "gap.wav", 400, seconds=3, gaps=[(1.2, 1.45)])
    g = audio.gaps(wav)
    assert g, "a 250 ms hole must show"
    assert min(g) >= 1.1 and max(g) <= 1.45, g
    with pytest.raises(AssertionError, match="silent"):
        audio.assert_no_gaps(wav)
    # outside the hole the signal is clean
    audio.assert_no_gaps(wav, start=1.5)


def test_window_range_selects_part_of_file(tmp_path):
    rate = 8000
    t = np.arange(2 * rate) / rate
    sig = np.where(t < 1.0, np.sin(2 * np.pi * 400 * t), np.sin(2 * np.pi * 1500 * t)) * 0.25
    wav = tmp_path / "switch.wav"
    import wave

    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((sig * 32767).astype("<i2").tobytes())
    first = audio.tone_levels(wav, [400, 1500], 0.0, 1.0)
    second = audio.tone_levels(wav, [400, 1500], 1.0, 2.0)
    assert first[400] > -15 and first[1500] < -40
    assert second[1500] > -15 and second[400] < -40


def test_unfinalised_header_still_read(tmp_path):
    wav = audio.write_tone(tmp_path / "t.wav", 1000, seconds=1)
    raw = bytearray(wav.read_bytes())
    # zero the RIFF and data sizes, as a recorder that is still open leaves them
    raw[4:8] = struct.pack("<I", 0)
    idx = raw.find(b"data")
    raw[idx + 4 : idx + 8] = struct.pack("<I", 0)
    wav.write_bytes(bytes(raw))
    assert audio.duration(wav) == pytest.approx(1.0, abs=0.01)
    audio.assert_hears(wav, 1000)


def test_empty_range_is_an_error(tmp_path):
    wav = audio.write_tone(tmp_path / "short.wav", 400, seconds=0.3)
    with pytest.raises(AssertionError, match="no 0.5s window"):
        audio.tone_levels(wav, [400])
