"""Audio datasets: WAV files in class folders or named ``<label>_<anything>.wav``.

Clips become log-mel spectrograms, float32 ``(n, 40, frames)``, computed here with numpy and
scipy only: 25 ms Hann windows every 10 ms, power spectrum, 40 triangular mel filters (HTK mel
scale) from 0 Hz to half the sample rate, natural log of the mel power plus 1e-10. Every model
then starts from the same features; the floor ``log(1e-10)`` is silence, which is also what pads
shorter clips.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections import Counter
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy.io import wavfile
from scipy.signal import get_window, resample_poly

from nnvsml.data.dataset import Dataset
from nnvsml.data.detect import (
    LabelledFiles,
    flat_audio_files,
    labelled_dataset,
    labelled_files,
    split_folders,
    visible_dirs,
)
from nnvsml.errors import InputError

N_MELS = 40
WINDOW_MS = 25
HOP_MS = 10
MAX_SECONDS = 10.0  # longer clips are cropped: keeps the feature array bounded
#: Sample rates a clip to predict may have: resampling from a stranger one costs unbounded memory.
MIN_RATE, MAX_RATE = 1_000, 384_000
LOG_FLOOR = 1e-10
FEATURE = "log-mel power (natural log)"

#: Full scale of the integer sample formats WAV files use, to map them onto [-1, 1].
_FULL_SCALE = {
    np.dtype(np.int16): 32768.0,
    np.dtype(np.int32): 2147483648.0,
    np.dtype(np.int64): 2.0**63,
}


def audio_info(sample_rate: int, frames: int) -> dict:
    """The ``info`` of an audio Dataset."""
    return {
        "sample_rate": int(sample_rate),
        "n_mels": N_MELS,
        "frames": int(frames),
        "hop_ms": HOP_MS,
        "window_ms": WINDOW_MS,
        "feature": FEATURE,
    }


def load_audio_folder(
    folder: str | os.PathLike,
    task: str | None = None,
    name: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """An audio Dataset from ``folder/<class>/*.wav`` (optionally under train/ and test/) or
    from a flat ``folder/<label>_<anything>.wav``."""
    folder = Path(folder)
    notices = notices if notices is not None else []
    roots = split_folders(folder) or (folder,)
    files: LabelledFiles = (
        labelled_files(folder, "audio", notices)
        if visible_dirs(roots[0])
        else flat_audio_files(folder, notices)
    )
    X, sample_rate = log_mel_clips(files.paths, notices)
    return labelled_dataset(
        X,
        files.labels,
        modality="audio",
        name=name or folder.resolve().name,
        source=str(folder),
        task=task,
        notices=notices,
        info=audio_info(sample_rate, X.shape[2]),
        split=files.split,
    )


def log_mel_clips(paths: list[Path], notices: list[str]) -> tuple[np.ndarray, int]:
    """``(float32 (n, 40, frames), sample rate)`` for the WAV files ``paths``.

    Clips at other sample rates are resampled to the most common one; ``frames`` is the longest
    clip's frame count, capped at :data:`MAX_SECONDS` (longer clips cropped).
    """
    clips = [read_wav(p) for p in paths]
    rates = Counter(rate for rate, _ in clips)
    sample_rate = rates.most_common(1)[0][0]
    if len(rates) > 1:
        others = sum(n for rate, n in rates.items() if rate != sample_rate)
        notices.append(
            f"resampled {others} clip(s) to {sample_rate} Hz, the most common sample rate"
        )
    signals = [_resampled(x, rate, sample_rate) for rate, x in clips]
    limit = int(MAX_SECONDS * sample_rate)
    cropped = sum(len(x) > limit for x in signals)
    if cropped:
        notices.append(
            f"cropped {cropped} clip(s) longer than {MAX_SECONDS:g} s to their first {MAX_SECONDS:g} s"
        )
        signals = [x[:limit] for x in signals]
    frames = max(frame_count(len(x), sample_rate) for x in signals)
    X = np.full((len(signals), N_MELS, frames), math.log(LOG_FLOOR), dtype=np.float32)
    filters = mel_filterbank(sample_rate, frame_sizes(sample_rate)[2])
    for i, x in enumerate(signals):
        spectrogram = log_mel(x, sample_rate, filters)
        X[i, :, : spectrogram.shape[1]] = spectrogram
    return X, sample_rate


def read_wav(path: Path | BinaryIO, name: str | None = None) -> tuple[int, np.ndarray]:
    """``(sample rate, mono float64 samples in [-1, 1])``; stereo is averaged to mono.

    ``path`` may also be an open binary file, which messages call ``name``.
    """
    name = name or str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown chunks (metadata) are skipped, not a problem
            rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError, TypeError, KeyError, IndexError, struct.error) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            f"cannot read WAV file {name} ({reason}); fix or remove the file"
        ) from None
    if data.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        samples = (data.astype(np.float64) - 128.0) / 128.0
    elif data.dtype in _FULL_SCALE:
        samples = data.astype(np.float64) / _FULL_SCALE[data.dtype]
    else:
        samples = data.astype(np.float64)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0 or rate <= 0:
        raise InputError(f"WAV file {name} holds no audio; remove it")
    return int(rate), samples


def log_mel_like(clips: list[tuple[int, np.ndarray]], names: list[str], sample_rate: int,
                 frames: int, notices: list[str]) -> np.ndarray:
    """New clips ``(rate, samples)`` as a model trained on ``sample_rate`` Hz clips of
    ``frames`` frames takes them, float32 ``(n, 40, frames)``.

    Each is made as :func:`log_mel_clips` makes a training clip: resampled to the model's rate,
    cropped at :data:`MAX_SECONDS`, padded with silence. A clip longer than ``frames`` keeps
    its first ``frames`` frames (notice), as training keeps the first seconds of a long clip.
    """
    X = np.full((len(clips), N_MELS, frames), math.log(LOG_FLOOR), dtype=np.float32)
    window, hop, n_fft = frame_sizes(sample_rate)
    filters = mel_filterbank(sample_rate, n_fft)
    resampled = cut = 0
    for i, ((rate, x), name) in enumerate(zip(clips, names)):
        if not MIN_RATE <= rate <= MAX_RATE:
            raise InputError(f"WAV file {name} has a sample rate of {rate:,} Hz; use one from "
                             f"{MIN_RATE:,} to {MAX_RATE:,} Hz (the model's is {sample_rate:,})")
        if not np.isfinite(x).all():
            raise InputError(f"WAV file {name} holds samples that are not numbers (NaN or "
                             "infinite); fix the file")
        if rate != sample_rate:
            # Cut a second past where training crops first: resampling a long clip whole
            # costs memory in proportion, and the cut is too far from the crop to change it.
            x = _resampled(x[: int((MAX_SECONDS + 1) * rate)], rate, sample_rate)
            resampled += 1
        x = x[: int(MAX_SECONDS * sample_rate)]
        if frame_count(len(x), sample_rate) > frames:
            cut += 1
            x = x[: window + (frames - 1) * hop]  # exactly the samples of the first frames
        spectrogram = log_mel(x, sample_rate, filters)
        X[i, :, : spectrogram.shape[1]] = spectrogram
    if resampled:
        notices.append(f"resampled {resampled} clip(s) to {sample_rate} Hz, the model's rate")
    if cut:
        seconds = ((frames - 1) * hop + window) / sample_rate
        notices.append(f"cut {cut} clip(s) longer than the model's {frames} frames to their "
                       f"first {seconds:.2f} s")
    return X


def _resampled(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return x
    g = math.gcd(rate, target)
    return resample_poly(x, target // g, rate // g)


def frame_sizes(sample_rate: int) -> tuple[int, int, int]:
    """``(window, hop, n_fft)`` in samples: 25 ms, 10 ms, and the next power of two >= window."""
    window = max(1, round(sample_rate * WINDOW_MS / 1000))
    hop = max(1, round(sample_rate * HOP_MS / 1000))
    return window, hop, 1 << (window - 1).bit_length()


def frame_count(n_samples: int, sample_rate: int) -> int:
    """Frames of a clip: one per hop, the last one zero-padded; at least one."""
    window, hop, _ = frame_sizes(sample_rate)
    return 1 + max(0, math.ceil((n_samples - window) / hop))


def log_mel(x: np.ndarray, sample_rate: int, filters: np.ndarray | None = None) -> np.ndarray:
    """Log-mel spectrogram ``(40, frames)`` of mono samples ``x``: ln(mel power + 1e-10)."""
    window, hop, n_fft = frame_sizes(sample_rate)
    frames = frame_count(len(x), sample_rate)
    padded = np.zeros(window + (frames - 1) * hop)
    padded[: min(len(x), len(padded))] = x[: len(padded)]
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[::hop]
    # Periodic Hann, the usual choice for spectral analysis (overlapping windows sum evenly).
    spectrum = np.fft.rfft(windows * get_window("hann", window, fftbins=True), n=n_fft, axis=1)
    power = spectrum.real**2 + spectrum.imag**2  # (frames, n_fft // 2 + 1)
    if filters is None:
        filters = mel_filterbank(sample_rate, n_fft)
    return np.log(filters @ power.T + LOG_FLOOR)


def hz_to_mel(hz):
    """HTK mel scale: 2595 * log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int = N_MELS, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` to apply to a power spectrum.

    Centres are equally spaced on the HTK mel scale between ``fmin`` and ``fmax`` (default: half
    the sample rate); each triangle rises from its left neighbour's centre to 1 at its own and
    falls to 0 at its right neighbour's. Triangles are evaluated at each FFT bin's frequency, so
    even the narrow low filters touch a bin; peaks are 1 (no area normalization).
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling))
