"""Text loading: tables with a free-text column, class folders of .txt files, in-memory texts."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from makedata import add_links_and_nested, sms_rows, write_sms_csv, write_sms_folders

from nnvsml.data import load_dataset
from nnvsml.errors import InputError

REVIEWS = [
    "the battery lasts for days and the screen is bright and sharp",
    "it stopped working after a week and support never answered my emails",
    "great value for the money, would happily buy this one again",
    "the case cracked the first time it fell off the kitchen table",
] * 10


def _reviews(**extra) -> pd.DataFrame:
    labels = ["good", "bad"] * 20
    return pd.DataFrame(
        {"review": [f"{t} ({i})" for i, t in enumerate(REVIEWS)], **extra, "label": labels}
    )


def test_sms_csv_is_text(tmp_path):
    path = write_sms_csv(tmp_path / "sms.csv", 200)
    ds = load_dataset(path, target="label")
    assert ds.modality == "text" and ds.name == "sms" and ds.target == "label"
    assert ds.task == "binary" and ds.classes == ["ham", "spam"]
    assert ds.X.dtype == object and ds.X.ndim == 1 and ds.n_rows == 200 and ds.n_features == 1
    assert all(isinstance(d, str) for d in ds.X) and ds.X[0].startswith("Go until jurong point")
    assert set(ds.info) == {"text_column", "median_chars", "max_chars"}
    assert (
        ds.info["text_column"] == "message" and 20 < ds.info["median_chars"] < ds.info["max_chars"]
    )
    assert ds.columns == [] and ds.split is None
    assert any(n.startswith("modality: text (free-text column(s) message") for n in ds.notices)
    # without --target the column named 'label' is chosen anyway
    assert load_dataset(path).modality == "text"


def test_text_beside_other_features_stays_tabular():
    df = _reviews(price=np.arange(40) * 1.5)
    ds = load_dataset(df)
    assert ds.modality == "tabular"
    assert any(
        "free-text (pass --modality text to model the text alone) column(s): review" in n
        for n in ds.notices
    )
    forced = load_dataset(df, modality="text")
    assert forced.modality == "text" and forced.X[0] == df.review[0]
    assert any(
        "ignored 1 non-text column(s) for the text models: price" in n for n in forced.notices
    )


def test_id_and_constant_columns_do_not_block_text():
    ds = load_dataset(_reviews(id=np.arange(40), source=["web"] * 40))
    assert ds.modality == "text" and ds.info["text_column"] == "review"


def test_several_text_columns_are_joined_and_missing_texts_counted():
    df = _reviews()
    df.insert(
        1,
        "title",
        [f"title number {i} is a rather long title" if i % 5 else None for i in range(40)],
    )
    df.loc[3, "review"] = None
    ds = load_dataset(df, modality="text")
    assert ds.info["text_column"] == ["review", "title"]
    assert ds.X[1] == df.review[1] + " \n " + df.title[1]
    assert ds.X[0] == df.review[0] and ds.X[3] == df.title[3]  # missing parts leave no separator
    text = " | ".join(ds.notices)
    assert (
        "joined the 2 text columns review, title" in text
        and "9 missing text(s) became empty" in text
    )


def test_single_column_missing_texts_become_empty():
    df = _reviews()
    df.loc[[2, 5], "review"] = np.nan
    ds = load_dataset(df)
    assert ds.modality == "text" and ds.X[2] == "" and ds.X[5] == ""
    assert any("2 missing text(s) became empty documents" in n for n in ds.notices)


def test_text_modality_on_a_table_without_text():
    df = pd.DataFrame({"a": np.arange(20.0), "b": ["x", "y"] * 10, "y": [0, 1] * 10})
    ds = load_dataset(df, modality="text")
    assert list(ds.X[:2]) == ["x", "y"] and any(
        "no column looks like free text" in n for n in ds.notices
    )
    with pytest.raises(InputError, match="no text column to read as text"):
        load_dataset(df[["a", "y"]], modality="text")


def test_regression_is_refused_for_text():
    df = _reviews()
    df["score"] = np.linspace(0, 1, 40)
    with pytest.raises(InputError, match="regression is supported on tables only"):
        load_dataset(df.drop(columns="label"), target="score", modality="text", task="regression")
    with pytest.raises(
        InputError,
        match=r"target 'score' looks continuous .* regression is supported on tables only",
    ):
        load_dataset(df.drop(columns="label"), target="score")


def test_text_folders_with_split(tmp_path):
    root = write_sms_folders(tmp_path / "sms", 80, split=True)
    ds = load_dataset(root)
    assert ds.modality == "text" and ds.name == "sms" and ds.classes == ["ham", "spam"]
    assert [len(p) for p in ds.split] == [60, 20]
    assert set(ds.info) == {"median_chars", "max_chars"}
    assert sorted(ds.X) == sorted(sms_rows(80).message)


def test_non_utf8_files_get_one_notice(tmp_path):
    root = tmp_path / "docs"
    for label in ("fr", "de"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            (root / label / f"{i}.txt").write_text(
                f"plain text {i} about {label}", encoding="utf-8"
            )
    (root / "fr" / "0.txt").write_bytes("café crème à Noël".encode("cp1252"))
    (root / "fr" / "1.txt").write_bytes(b"\x81 odd byte \xe9")  # 0x81 is undefined in cp1252
    (root / "de" / "0.txt").write_bytes("\ufeffmit BOM Grüße".encode("utf-8"))
    ds = load_dataset(root)
    non_utf8 = [n for n in ds.notices if "not UTF-8" in n]
    assert (
        len(non_utf8) == 1
        and "2 file(s)" in non_utf8[0]
        and str(root / "fr" / "0.txt") in non_utf8[0]
    )
    docs = dict(zip([f"{y}/{i}" for y, i in zip(ds.y, [0, 1, 2, 3, 4] * 2)], ds.X))
    assert docs["fr/0"] == "café crème à Noël" and docs["fr/1"] == "\x81 odd byte é"
    assert docs["de/0"] == "mit BOM Grüße"


def test_empty_text_folder(tmp_path):
    (tmp_path / "t" / "a").mkdir(parents=True)
    (tmp_path / "t" / "b").mkdir()
    with pytest.raises(InputError, match=r"no text files \(TXT\) found in"):
        load_dataset(tmp_path / "t", modality="text")


def test_in_memory_texts():
    ds = load_dataset((REVIEWS, ["good", "bad"] * 20))
    assert ds.modality == "text" and ds.X.dtype == object and ds.n_rows == 40
    ds = load_dataset((np.array(REVIEWS, dtype=object), np.arange(40) % 2), target="y")
    assert ds.task == "binary" and any("--target 'y' is ignored" in n for n in ds.notices)


def _text_folders(root, n=5):
    for label in ("good", "bad"):
        (root / label).mkdir(parents=True)
        for i in range(n):
            text = f"a {label} review, number {i}"
            (root / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


def test_binary_files_are_skipped_with_a_notice(tmp_path):
    root = _text_folders(tmp_path / "docs")
    noise = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    (root / "good" / "noise.txt").write_bytes(noise)
    (root / "bad" / "utf16.txt").write_bytes("a bad review".encode("utf-16"))
    ds = load_dataset(root)
    assert ds.n_rows == 10 and all("review" in d for d in ds.X)
    skipped = "skipped 2 of 12 .txt file(s) that hold binary data"
    assert any(n.startswith(skipped) for n in ds.notices)
    for path in list((root / "good").iterdir()) + list((root / "bad").iterdir()):
        path.write_bytes(noise)
    with pytest.raises(InputError, match=r"none of the 12 \.txt file\(s\) in .* is text"):
        load_dataset(root)


def test_binary_files_keep_the_split_in_step(tmp_path):
    root = tmp_path / "split"
    _text_folders(root / "train")
    _text_folders(root / "test", n=3)
    (root / "train" / "good" / "0.txt").write_bytes(b"\x00\x01\x02binary")
    ds = load_dataset(root)
    train, test = ds.split
    assert (len(train), len(test)) == (9, 6) and ds.n_rows == 15
    assert all("review" in d for d in ds.X[test]) and list(test) == list(range(9, 15))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinks_are_skipped_and_nested_files_counted(tmp_path):
    root = _text_folders(tmp_path / "docs")
    add_links_and_nested(root, tmp_path / "elsewhere")
    ds = load_dataset(root)
    assert ds.n_rows == 10 and ds.classes == ["bad", "good"]
    assert any(n.startswith("skipped 3 symbolic link(s)") for n in ds.notices)
    assert any(n.startswith("2 file(s) came from sub-folders nested") for n in ds.notices)
