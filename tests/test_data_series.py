"""Time-series loading: UCR folders, tables of one series per row, in-memory arrays."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from makedata import shared, ucr_folder, write_ucr

from nnvsml.data import load_dataset
from nnvsml.errors import InputError


@pytest.mark.parametrize(
    "name, n_train, n_test, length, classes",
    [
        ("GunPoint", 50, 150, 150, [1, 2]),
        ("ECG200", 100, 100, 96, [-1, 1]),
        ("ItalyPowerDemand", 67, 1029, 24, [1, 2]),
    ],
)
def test_shared_ucr_sets(name, n_train, n_test, length, classes):
    ds = load_dataset(ucr_folder(name))
    assert ds.modality == "sequence" and ds.name == name and ds.task == "binary"
    assert ds.X.shape == (n_train + n_test, 1, length) and ds.X.dtype == np.float32
    assert [len(p) for p in ds.split] == [n_train, n_test] and ds.classes == classes
    assert ds.info == {"length": length, "channels": 1, "padded": False, "min_length": length}
    assert not np.isnan(ds.X).any() and ds.columns == [] and ds.target == "label"


def test_pointing_at_one_file_loads_the_pair():
    ds = load_dataset(ucr_folder("GunPoint") / "GunPoint_TRAIN.tsv.gz", target="class")
    assert ds.n_rows == 200 and [len(p) for p in ds.split] == [50, 150]
    assert any("--target 'class' is ignored" in n for n in ds.notices)


def test_first_values_match_the_file(tmp_path):
    root = write_ucr(tmp_path / "ecg", "ECG200", 12, 8)
    ds = load_dataset(root)
    first = (root / "ECG200_TRAIN.tsv").read_text().splitlines()[0].split("\t")
    assert ds.y[0] == int(first[0]) and np.allclose(ds.X[0, 0, :3], [float(v) for v in first[1:4]])
    assert [len(p) for p in ds.split] == [12, 8]


def _ucr(root, train_lines, test_lines, name="Toy", suffix=".tsv"):
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}_TRAIN{suffix}").write_text("\n".join(train_lines) + "\n")
    (root / f"{name}_TEST{suffix}").write_text("\n".join(test_lines) + "\n")
    return root


def _rows(n, length, sep="\t", start=0):
    return [
        sep.join([str(i % 2)] + [f"{np.sin(t + i):.3f}" for t in range(length)])
        for i in range(start, start + n)
    ]


def test_ragged_and_nan_padded_rows(tmp_path):
    train = _rows(8, 10)
    train[1] = "\t".join(train[1].split("\t")[:7])  # 6 values: ragged
    train[2] = "\t".join(train[2].split("\t")[:9] + ["NaN", "NaN"])  # 8 values, NaN-padded
    ds = load_dataset(_ucr(tmp_path / "toy", train, _rows(4, 10, start=8)))
    assert ds.X.shape == (12, 1, 10) and ds.info == {
        "length": 10,
        "channels": 1,
        "padded": True,
        "min_length": 6,
    }
    assert np.isnan(ds.X[1, 0, 6:]).all() and not np.isnan(ds.X[1, 0, :6]).any()
    assert np.isnan(ds.X[2, 0, 8:]).all()
    text = " | ".join(ds.notices)
    assert "1 rows shorter than 10 values: padded at the end with NaN" in text
    assert "series lengths vary from 6 to 10" in text


def test_comma_and_space_separated_variants(tmp_path):
    ds = load_dataset(_ucr(tmp_path / "c", _rows(6, 5, ","), _rows(6, 5, ","), suffix=".txt"))
    assert ds.X.shape == (12, 1, 5)
    ds = load_dataset(_ucr(tmp_path / "s", _rows(6, 5, "  "), _rows(6, 5, " "), suffix=""))
    assert ds.X.shape == (12, 1, 5) and ds.name == "Toy"


def test_ucr_errors(tmp_path):
    train = _rows(6, 5)
    train[3] = train[3].replace("\t", "\tabc\t", 1)
    root = _ucr(tmp_path / "bad", train, _rows(6, 5))
    with pytest.raises(InputError, match=r"Toy_TRAIN.tsv, line 4, value 1: 'abc' is not a number"):
        load_dataset(root)
    gap = _rows(6, 5)
    gap[2] = "\t".join(gap[2].split("\t")[:2] + ["NaN"] + gap[2].split("\t")[3:])
    with pytest.raises(
        InputError, match=r"Toy_TRAIN.tsv, line 3, value 2: missing value in the middle of a series"
    ):
        load_dataset(_ucr(tmp_path / "gap", gap, _rows(6, 5)))
    (tmp_path / "bad" / "Toy_TEST.tsv").unlink()
    with pytest.raises(InputError, match=r"has Toy_TRAIN.tsv but no Toy_TEST file"):
        load_dataset(tmp_path / "bad")
    with pytest.raises(InputError, match="regression is supported on tables only"):
        load_dataset(ucr_folder("ECG200"), task="regression")


def test_gzipped_pair_in_a_folder_with_other_files(tmp_path):
    root = tmp_path / "gz"
    root.mkdir()
    (root / "Toy_TRAIN.tsv.gz").write_bytes(gzip.compress(("\n".join(_rows(6, 7)) + "\n").encode()))
    (root / "Toy_TEST.tsv.gz").write_bytes(gzip.compress(("\n".join(_rows(5, 7)) + "\n").encode()))
    (root / "UCR_README.md").write_text("# Toy")
    ds = load_dataset(root)
    assert ds.X.shape == (11, 1, 7) and [len(p) for p in ds.split] == [6, 5]


# --- tables ----------------------------------------------------------------------------------------


def _series_table(n=30, length=40, prefix="t", start=0):
    rng = np.random.default_rng(0)
    walks = np.cumsum(rng.normal(size=(n, length)), axis=1)
    df = pd.DataFrame(walks, columns=[f"{prefix}{i}" for i in range(start, start + length)])
    df["kind"] = np.where(walks[:, -1] > 0, "up", "down")
    return df


def test_table_of_series_is_detected(tmp_path):
    path = tmp_path / "walks.csv"
    _series_table(prefix="x_", start=1).to_csv(path, index=False)
    ds = load_dataset(path)
    assert ds.modality == "sequence" and ds.target == "kind" and ds.X.shape == (30, 1, 40)
    assert ds.info == {"length": 40, "channels": 1, "padded": False, "min_length": 40}
    assert any(
        n.startswith("modality: sequence (40 numbered columns x_1..x_40") for n in ds.notices
    )


def test_trailing_missing_values_pad_and_gaps_fail():
    df = _series_table()
    df.loc[0, ["t37", "t38", "t39"]] = np.nan
    ds = load_dataset(df, target="kind")
    assert ds.modality == "sequence" and ds.info["padded"] and ds.info["min_length"] == 37
    df.loc[4, "t10"] = np.nan
    with pytest.raises(
        InputError, match=r"row 5, column 't10': missing value in the middle of a series"
    ):
        load_dataset(df, target="kind")


def test_explicit_sequence_modality_with_other_names():
    df = _series_table(length=6)
    df.columns = ["a", "b", "c", "d", "e", "f", "kind"]
    df.insert(0, "note", "x")
    assert load_dataset(df).modality == "tabular"
    ds = load_dataset(df, modality="sequence")
    assert ds.X.shape == (30, 1, 6)  # no numbered run: every column but the constant text "note"
    assert any("ignored 1 column(s) that are not part of the series: note" in n for n in ds.notices)
    df["note"] = ["x", "y"] * 15
    with pytest.raises(InputError, match=r"row 1, column 'note': 'x' is not a number"):
        load_dataset(df, modality="sequence")


def test_numbered_tabular_features_stay_tabular():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(60, 20)), columns=[str(i) for i in range(20)])
    df["target"] = [0, 1] * 30
    assert load_dataset(df).modality == "tabular"
    walks = _series_table()
    walks["color"] = ["red", "blue", "green"] * 10
    assert (
        load_dataset(walks, target="kind").modality == "tabular"
    )  # another feature besides the series


def test_shared_tables_with_numbered_columns_stay_tabular():
    for name in ("spambase", "breast_cancer_wisconsin"):
        ds = load_dataset(shared(name, f"{name}.tsv.gz"))
        assert ds.modality == "tabular" and not any("modality" in n for n in ds.notices)


def test_in_memory_series():
    X = np.cumsum(np.random.default_rng(0).normal(size=(20, 15)), axis=1)
    ds = load_dataset((X, [0, 1] * 10))
    assert ds.modality == "sequence" and ds.X.shape == (20, 1, 15) and ds.X.dtype == np.float32
    ds = load_dataset((X.reshape(20, 3, 5), [0, 1] * 10))
    assert ds.X.shape == (20, 3, 5) and ds.info["channels"] == 3
    assert load_dataset((X, [0, 1] * 10), modality="tabular").modality == "tabular"
    with pytest.raises(InputError, match="cannot tell what a int64 array of shape"):
        load_dataset((np.zeros((20, 4), dtype=np.int64), [0, 1] * 10))


def _labelled(rows, labels):
    return [label + row[row.index("\t"):] for row, label in zip(rows, labels)]


def test_string_labels_are_classes(tmp_path):
    root = _ucr(
        tmp_path / "s",
        _labelled(_rows(6, 5), ["normal", "abnormal"] * 3),
        _labelled(_rows(4, 5), ["abnormal", "normal"] * 2),
    )
    ds = load_dataset(root)
    assert ds.modality == "sequence" and ds.task == "binary"
    assert ds.classes == ["abnormal", "normal"] and [len(p) for p in ds.split] == [6, 4]


def test_rows_with_a_missing_label_are_dropped_with_a_notice(tmp_path):
    train = _labelled(_rows(8, 5), ["1", "2", "nan", "1", "2", "", "1", "2"])
    test = _labelled(_rows(5, 5), ["1", "NaN", "2", "1", "2"])
    ds = load_dataset(_ucr(tmp_path / "m", train, test))
    assert ds.classes == [1, 2] and ds.n_rows == 10 and [len(p) for p in ds.split] == [6, 4]
    assert "dropped 3 of 13 rows whose label is missing (empty or NaN)" in ds.notices
    with pytest.raises(InputError, match=r"Toy_TEST.tsv has no labelled row"):
        load_dataset(_ucr(tmp_path / "none", train, _labelled(_rows(3, 5), ["nan"] * 3)))


def test_files_named_like_ucr_that_are_not_say_why(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    header = "label," + ",".join(str(i) for i in range(5))
    (root / "Toy_TRAIN.csv").write_text(header + "\n" + "\n".join(_rows(12, 5, ",")) + "\n")
    (root / "Toy_TEST.csv").write_text(header + "\n" + "\n".join(_rows(6, 5, ",")) + "\n")
    with pytest.raises(InputError, match=r"named like a UCR file but its first line is a header"):
        load_dataset(root)
    # The file itself is still a table.
    assert load_dataset(root / "Toy_TRAIN.csv", target="label").modality == "tabular"
