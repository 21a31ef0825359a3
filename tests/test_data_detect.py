"""Modality detection for paths and arrays, the --modality option, and cross-modality rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from makedata import (
    shared,
    ucr_folder,
    write_digits_png,
    write_mnist_idx,
    write_sms_csv,
    write_sms_folders,
    write_tones_wav,
)

from nnvsml.data import array_modality, detect_modality, load_dataset
from nnvsml.data.detect import normalize_modality
from nnvsml.errors import InputError


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """One small dataset per layout: {description: (path, modality)}."""
    root = tmp_path_factory.mktemp("layouts")
    rng = np.random.default_rng(0)
    walks = pd.DataFrame(
        np.cumsum(rng.normal(size=(20, 12)), axis=1), columns=[f"t{i}" for i in range(12)]
    )
    walks["y"] = [0, 1] * 10
    walks.to_csv(root / "walks.csv", index=False)
    pd.DataFrame({"a": rng.normal(size=20), "b": ["x", "y"] * 10, "y": [0, 1] * 10}).to_parquet(
        root / "plain.parquet"
    )
    np.savez(root / "img.npz", x=np.zeros((10, 4, 4), np.float32), y=np.arange(10) % 2)
    np.savez(root / "seq.npz", x=np.zeros((10, 30)), y=np.arange(10) % 2)
    return {
        "image class folders": (write_digits_png(root / "digits", n_per_class=2), "image"),
        "image class folders under train/test": (
            write_digits_png(root / "split", 5, split=True, classes=range(2)),
            "image",
        ),
        "IDX folder": (write_mnist_idx(root / "idx", 60, 20), "image"),
        "IDX file": (root / "idx" / "train-labels-idx1-ubyte.gz", "image"),
        "UCR folder": (ucr_folder("GunPoint"), "sequence"),
        "UCR file": (ucr_folder("ECG200") / "ECG200_TEST.tsv.gz", "sequence"),
        "text class folders": (write_sms_folders(root / "sms", 12), "text"),
        "audio class folders": (write_tones_wav(root / "tones", 4), "audio"),
        "flat audio": (write_tones_wav(root / "flat", 4, flat=True), "audio"),
        "text table": (write_sms_csv(root / "sms.csv", 30), "text"),
        "series table": (root / "walks.csv", "sequence"),
        "plain table": (root / "plain.parquet", "tabular"),
        "shared table": (shared("adult", "adult.tsv.gz"), "tabular"),
        "npz images": (root / "img.npz", "image"),
        "npz series": (root / "seq.npz", "sequence"),
    }


CASES = [
    "image class folders",
    "image class folders under train/test",
    "IDX folder",
    "IDX file",
    "UCR folder",
    "UCR file",
    "text class folders",
    "audio class folders",
    "flat audio",
    "text table",
    "series table",
    "plain table",
    "shared table",
    "npz images",
    "npz series",
]


@pytest.mark.parametrize("case", CASES)
def test_detection_table(layouts, case):
    path, expected = layouts[case]
    assert detect_modality(path) == expected
    if case != "shared table":  # 48k rows: detection is enough
        assert load_dataset(path).modality == expected


def test_nothing_recognisable(tmp_path):
    (tmp_path / "stuff" / "sub").mkdir(parents=True)
    (tmp_path / "stuff" / "notes.md").write_text("x")
    with pytest.raises(
        InputError,
        match=r"stuff holds nothing loadable \(for a table, pass the file itself\); supported: a CSV/TSV/Parquet table; .* \.wav files",
    ):
        detect_modality(tmp_path / "stuff")


def test_modality_option():
    assert normalize_modality(None) is None and normalize_modality(" Auto ") is None
    assert normalize_modality("IMAGE") == "image"
    with pytest.raises(
        InputError,
        match="unknown modality 'video'; use one of: auto, tabular, image, text, sequence, audio",
    ):
        load_dataset(pd.DataFrame({"a": [1]}), modality="video")


def test_modality_that_does_not_fit_the_layout(layouts):
    idx, _ = layouts["IDX folder"]
    with pytest.raises(
        InputError,
        match="holds MNIST-style IDX image files, which cannot be read as text; drop --modality",
    ):
        load_dataset(idx, modality="text")
    with pytest.raises(InputError, match="a table cannot be read as image"):
        load_dataset(layouts["plain table"][0], modality="image")
    with pytest.raises(InputError, match="image arrays need 3 or 4 dimensions"):
        load_dataset(layouts["npz series"][0], modality="image")
    # an explicit choice that fits overrides detection
    ds = load_dataset(layouts["npz images"][0], modality="sequence")
    assert ds.modality == "sequence" and ds.X.shape == (10, 4, 4)
    assert load_dataset(layouts["series table"][0], modality="tabular").modality == "tabular"


def test_class_folders_with_mixed_files_follow_the_option(tmp_path):
    root = write_digits_png(tmp_path / "mixed", n_per_class=5, classes=range(2))
    for label in ("0", "1"):
        for i in range(5):
            (root / label / f"note{i}.txt").write_text(f"digit {label} note {i}")
    assert detect_modality(root) == "image"
    ds = load_dataset(root, modality="text")
    assert ds.modality == "text" and ds.n_rows == 10
    assert any("ignored 10 file(s) that are not TXT" in n for n in ds.notices)


def test_target_is_ignored_for_folders(layouts):
    ds = load_dataset(layouts["image class folders"][0], target="digit")
    assert ds.target == "label"
    assert any(
        "--target 'digit' is ignored: the labels come from the class folder names" in n
        for n in ds.notices
    )


@pytest.mark.parametrize(
    "X, expected",
    [
        (np.zeros((5, 8, 8), np.uint8), "image"),
        (np.zeros((5, 8, 8, 3), np.uint8), "image"),
        (np.array(["a b", "c"] * 3, dtype=object), "text"),
        (np.array(["a b", "c"] * 3), "text"),
        (np.zeros((5, 30)), "sequence"),
        (np.zeros((5, 2, 30), np.float32), "sequence"),
    ],
)
def test_array_rules(X, expected):
    assert array_modality(X) == expected


def test_array_rules_refuse_ambiguity():
    with pytest.raises(InputError, match="pass --modality to choose"):
        array_modality(np.zeros((5, 8, 8), np.int64))
    assert array_modality(np.zeros((5, 8, 8), np.int64), npz=True) == "image"
    with pytest.raises(InputError, match=r"has 5 labels but there are 4 examples"):
        load_dataset((np.zeros((4, 3, 3), np.uint8), [0, 1, 0, 1, 0]))
    with pytest.raises(InputError, match=r"pair \(X, y\), not a tuple of 3 items"):
        load_dataset((1, 2, 3))
    with pytest.raises(InputError, match="audio is read from WAV files"):
        load_dataset((np.zeros((20, 40, 9), np.float32), [0, 1] * 10), modality="audio")


def test_an_npz_whose_header_lies_about_its_shape_is_refused_before_allocation(tmp_path):
    """A 1 KB file must not make NumPy try to allocate 745 GiB."""
    import io
    import zipfile

    from numpy.lib import format as npy

    from nnvsml.data.detect import read_npz
    from nnvsml.errors import InputError

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                        "shape": (10**8, 10**3)})
    labels = io.BytesIO()
    np.save(labels, np.arange(20) % 2)
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + np.zeros((20, 3)).tobytes())
        archive.writestr("y.npy", labels.getvalue())
    with pytest.raises(InputError, match="claims shape .* damaged"):
        read_npz(path)
