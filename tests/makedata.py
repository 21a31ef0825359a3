"""Small real or synthetic datasets written to disk in the layouts users bring, for tests.

Import with ``from makedata import ...`` (pytest puts ``tests/`` on ``sys.path`` through
``tests/conftest.py``). Real data comes from scikit-learn (digits) and from the shared
development data (MNIST, UCR, SMS spam); tests skip when the shared data is absent.
"""

from __future__ import annotations

import csv
import gzip
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.io import wavfile
from sklearn.datasets import load_digits

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared(*parts: str) -> Path:
    """A path in the shared development data; the calling test is skipped when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared development data not found at {path}")
    return path


# --- images ------------------------------------------------------------------------------------


def write_digits_png(
    root: str | Path, n_per_class: int | None = None, split: bool = False, classes=range(10)
) -> Path:
    """scikit-learn's 8x8 digits as grayscale PNGs in ``root/<digit>/`` (or ``root/train|test/<digit>/``).

    Pixels 0..16 are scaled to 0..255. With ``split``, every 4th image of a class goes to test/.
    Returns ``root``.
    """
    root = Path(root)
    digits = load_digits()
    pixels = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    for label in classes:
        rows = np.flatnonzero(digits.target == label)[:n_per_class]
        for k, row in enumerate(rows):
            part = ("test" if k % 4 == 3 else "train") if split else ""
            folder = root / part / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[row], "L").save(folder / f"{row}.png")
    return root


def write_mnist_idx(root: str | Path, n_train: int, n_test: int) -> Path:
    """The first rows of the shared MNIST as gzipped IDX files in ``root`` (MNIST's file names)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    source = shared("mnist")
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, ndim in (("images", 3), ("labels", 1)):
            name = f"{prefix}-{kind}-idx{ndim}-ubyte.gz"
            data = gzip.decompress((source / name).read_bytes())
            dims = list(struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim]))
            row_bytes = int(np.prod(dims[1:])) if ndim > 1 else 1
            dims[0] = n
            body = data[4 + 4 * ndim : 4 + 4 * ndim + n * row_bytes]
            (root / name).write_bytes(
                gzip.compress(data[:4] + struct.pack(f">{ndim}I", *dims) + body)
            )
    return root


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """A uint8 array as one (uncompressed) IDX file."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())
    return path


# --- time series -------------------------------------------------------------------------------


def ucr_folder(name: str) -> Path:
    """The shared UCR folder of ``name`` (``GunPoint``, ``ECG200``, ``ItalyPowerDemand``)."""
    return shared(f"ucr-{name.lower()}")


def write_ucr(root: str | Path, name: str, n_train: int, n_test: int) -> Path:
    """The first rows of a shared UCR dataset as ``root/NAME_TRAIN.tsv`` and ``_TEST.tsv`` (plain)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    source = ucr_folder(name)
    for part, n in (("TRAIN", n_train), ("TEST", n_test)):
        with gzip.open(source / f"{name}_{part}.tsv.gz", "rt") as f:
            lines = f.read().splitlines()[:n]
        (root / f"{name}_{part}.tsv").write_text("\n".join(lines) + "\n")
    return root


def write_bump_series(root: str | Path, n_train: int, n_test: int, length: int = 60,
                      window: tuple[int, int] = (30, 42), seed: int = 0) -> Path:
    """Noisy random walks in UCR layout (``root/BUMP_TRAIN.tsv``, ``_TEST.tsv``, label first)
    whose class is told by one thing only: class 1 has a bump over the steps ``window``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    a, b = window
    for part, n in (("TRAIN", n_train), ("TEST", n_test)):
        labels = np.arange(n) % 2
        X = np.cumsum(rng.normal(0, 0.15, (n, length)), axis=1) + rng.normal(0, 0.5, (n, 1))
        X[labels == 1, a:b] += 3 * np.sin(np.linspace(0, np.pi, b - a))
        lines = ["\t".join([str(y)] + [f"{v:.4f}" for v in x]) for y, x in zip(labels, X)]
        (root / f"BUMP_{part}.tsv").write_text("\n".join(lines) + "\n")
    return root


# --- text --------------------------------------------------------------------------------------


def sms_rows(n: int) -> pd.DataFrame:
    """The first ``n`` rows of the shared SMS spam collection as columns label, message."""
    return pd.read_csv(
        shared("sms-spam", "SMSSpamCollection.gz"),
        sep="\t",
        header=None,
        names=["label", "message"],
        quoting=csv.QUOTE_NONE,
        nrows=n,
    )


def write_sms_csv(path: str | Path, n: int) -> Path:
    """The first ``n`` SMS messages as a CSV with columns label, message."""
    path = Path(path)
    sms_rows(n).to_csv(path, index=False)
    return path


def write_sms_folders(root: str | Path, n: int, split: bool = False) -> Path:
    """The first ``n`` SMS messages as ``root/<ham|spam>/<i>.txt`` (every 4th to test/ with ``split``)."""
    root = Path(root)
    for i, (label, message) in enumerate(sms_rows(n).itertuples(index=False)):
        part = ("test" if i % 4 == 3 else "train") if split else ""
        folder = root / part / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(message, encoding="utf-8")
    return root


# --- audio -------------------------------------------------------------------------------------

#: Tone patterns by class: a start and end frequency in Hz (a chirp when they differ).
TONES = {
    "low": (300, 300),
    "mid": (900, 900),
    "high": (2200, 2200),
    "up": (500, 1800),
    "down": (1800, 500),
}


def tone(kind: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One noisy clip of 0.3-0.6 s: the class's pitch or chirp, jittered in pitch, phase and level."""
    start, end = TONES[kind]
    jitter = rng.uniform(0.85, 1.15)
    seconds = rng.uniform(0.3, 0.6)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    frequency = jitter * (start + (end - start) * t / seconds)  # linear chirp
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate + rng.uniform(0, 2 * np.pi)
    level = rng.uniform(0.1, 0.7)
    signal = level * np.sin(phase) + rng.uniform(0.02, 0.15) * rng.normal(size=len(t))
    return np.clip(signal, -1, 1)


def write_tones_wav(
    root: str | Path,
    n_per_class: int,
    classes=("low", "mid", "high"),
    flat: bool = False,
    split: bool = False,
    sample_rate: int = 8000,
    seed: int = 0,
) -> Path:
    """Synthetic 16-bit WAV clips, ``n_per_class`` per class, learnable but not trivial.

    Classes are tone patterns (see :data:`TONES`). Files go to ``root/<class>/<i>.wav``, or
    ``root/train|test/<class>/`` with ``split`` (every 4th to test), or ``root/<class>_<i>.wav``
    with ``flat``. Returns ``root``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for kind in classes:
        for i in range(n_per_class):
            if flat:
                path = root / f"{kind}_{i}.wav"
            else:
                part = ("test" if i % 4 == 3 else "train") if split else ""
                path = root / part / kind / f"{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            samples = np.rint(tone(kind, sample_rate, rng) * 32767).astype(np.int16)
            wavfile.write(path, sample_rate, samples)
    return root


# --- awkward class folders -----------------------------------------------------------------------


def add_links_and_nested(root: str | Path, outside: str | Path) -> None:
    """Make the class folders in ``root`` awkward without changing what they hold: the first
    two files of the first class move into a nested folder (``<class>/nested/deeper/``), and
    three symbolic links lead to ``outside`` (made here, holding copies of a file): a file link
    and a folder link in the first class folder, and a linked class folder beside the others."""
    root, outside = Path(root), Path(outside)
    first = sorted(p for p in root.iterdir() if p.is_dir())[0]
    files = sorted(p for p in first.iterdir() if p.is_file())
    nested = first / "nested" / "deeper"
    nested.mkdir(parents=True)
    for f in files[:2]:
        f.rename(nested / f.name)
    outside.mkdir(parents=True)
    for i in range(3):
        (outside / f"x{i}{files[2].suffix}").write_bytes(files[2].read_bytes())
    (first / f"link{files[2].suffix}").symlink_to(outside / f"x0{files[2].suffix}")
    (first / "linked_folder").symlink_to(outside, target_is_directory=True)
    (root / "linked_class").symlink_to(outside, target_is_directory=True)
