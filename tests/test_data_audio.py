"""Audio loading: WAV class folders or <label>_*.wav files to log-mel spectrograms."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from makedata import add_links_and_nested, write_tones_wav
from scipy.io import wavfile

from nnvsml.data import load_dataset, log_mel, mel_filterbank
from nnvsml.data.audio import frame_count, frame_sizes, hz_to_mel, read_wav
from nnvsml.errors import InputError

FLOOR = math.log(1e-10)


def test_tone_folders(tmp_path):
    root = write_tones_wav(tmp_path / "tones", 6)
    ds = load_dataset(root)
    assert ds.modality == "audio" and ds.name == "tones" and ds.classes == ["high", "low", "mid"]
    assert ds.X.dtype == np.float32 and ds.X.shape[:2] == (18, 40)
    assert ds.info == {
        "sample_rate": 8000,
        "n_mels": 40,
        "frames": ds.X.shape[2],
        "hop_ms": 10,
        "window_ms": 25,
        "feature": "log-mel power (natural log)",
    }
    longest = max(len(wavfile.read(p)[1]) for p in root.rglob("*.wav"))
    assert ds.X.shape[2] == frame_count(longest, 8000) and 28 <= ds.X.shape[2] <= 60
    assert np.isclose(ds.X.min(), FLOOR)  # shorter clips are padded with silence
    assert ds.X.max() > 0 and ds.split is None and ds.n_features == 40 * ds.X.shape[2]
    # the class shows where the energy is: low tones peak in lower mel bands than high ones
    peak = ds.X[:, :, :25].mean(axis=2).argmax(axis=1)
    assert (
        peak[ds.y == "low"].max()
        < peak[ds.y == "mid"].min()
        <= peak[ds.y == "mid"].max()
        < peak[ds.y == "high"].min()
    )


def test_flat_and_split_layouts(tmp_path):
    flat = load_dataset(write_tones_wav(tmp_path / "flat", 5, classes=("up", "down"), flat=True))
    assert flat.X.shape[:2] == (10, 40) and flat.classes == ["down", "up"] and flat.split is None
    split = load_dataset(write_tones_wav(tmp_path / "split", 8, split=True, classes=("up", "down")))
    assert [len(p) for p in split.split] == [12, 4]


def test_sample_formats_rates_and_cropping(tmp_path):
    root = tmp_path / "mixed"
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            wavfile.write(
                root / label / f"{i}.wav", 8000, (rng.normal(size=2000) * 3000).astype(np.int16)
            )
    t = np.arange(16000) / 16000
    wavfile.write(
        root / "a" / "stereo.wav",
        16000,
        np.stack([np.sin(2e3 * t), np.sin(2e3 * t)], 1).astype(np.float32),
    )
    wavfile.write(
        root / "b" / "bytes.wav", 8000, (128 + 100 * np.sin(np.arange(4000) / 3)).astype(np.uint8)
    )
    wavfile.write(
        root / "b" / "long.wav", 8000, (rng.normal(size=8000 * 11) * 2**28).astype(np.int32)
    )
    ds = load_dataset(root)
    text = " | ".join(ds.notices)
    assert "resampled 1 clip(s) to 8000 Hz" in text and "cropped 1 clip(s) longer than 10 s" in text
    assert ds.X.shape == (13, 40, frame_count(80000, 8000)) and ds.info["frames"] == 999
    rate, x = read_wav(root / "b" / "bytes.wav")
    assert rate == 8000 and -1 <= x.min() < -0.7 and 0.7 < x.max() <= 1
    assert read_wav(root / "a" / "stereo.wav")[1].ndim == 1


def test_mel_filterbank():
    window, hop, n_fft = frame_sizes(16000)
    assert (window, hop, n_fft) == (400, 160, 512)
    fb = mel_filterbank(16000, n_fft)
    assert fb.shape == (40, 257) and fb.min() == 0 and fb.max() <= 1
    assert (fb.max(axis=1) > 0.5).all()  # every band touches at least one bin
    centres = np.argmax(fb, axis=1)
    assert (np.diff(centres) >= 0).all() and centres[-1] > 230
    assert np.isclose(hz_to_mel(700), 2595 * np.log10(2))
    assert mel_filterbank(8000, 256).shape == (40, 129)


def test_log_mel_of_a_pure_tone():
    sr = 16000
    x = np.sin(2 * np.pi * 1000 * np.arange(sr // 2) / sr)
    spec = log_mel(x, sr)
    assert spec.shape == (40, frame_count(sr // 2, sr)) == (40, 49)
    band = spec.mean(axis=1).argmax()
    fb = mel_filterbank(sr, 512)
    assert abs(np.argmax(fb[band]) * sr / 512 - 1000) < 100
    assert np.allclose(log_mel(np.zeros(800), sr), FLOOR)


def test_audio_errors(tmp_path):
    (tmp_path / "none" / "a").mkdir(parents=True)
    with pytest.raises(InputError, match=r"no audio files \(WAV\) found in"):
        load_dataset(tmp_path / "none", modality="audio")
    root = write_tones_wav(tmp_path / "t", 5, classes=("low", "high"))
    bad = root / "low" / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    with pytest.raises(InputError, match=rf"cannot read WAV file {bad}"):
        load_dataset(root)
    bad.unlink()
    (root / "solo").mkdir()
    (root / "low" / "0.wav").rename(root / "solo" / "0.wav")
    with pytest.raises(InputError, match=r"class 'solo' in .* has a single audio example"):
        load_dataset(root)
    flat = write_tones_wav(tmp_path / "flat", 5, flat=True)
    (flat / "nolabel.wav").write_bytes((flat / "low_0.wav").read_bytes())
    with pytest.raises(InputError, match="nolabel.wav has no label in its name"):
        load_dataset(flat)
    with pytest.raises(InputError, match="regression is supported on tables only"):
        load_dataset(root, task="regression")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinks_are_skipped_and_nested_files_counted(tmp_path):
    root = write_tones_wav(tmp_path / "t", 5, classes=("low", "high"))
    add_links_and_nested(root, tmp_path / "elsewhere")
    ds = load_dataset(root)
    assert ds.n_rows == 10 and ds.classes == ["high", "low"]
    assert any(n.startswith("skipped 3 symbolic link(s)") for n in ds.notices)
    assert any(n.startswith("2 file(s) came from sub-folders nested") for n in ds.notices)
