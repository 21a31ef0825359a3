"""read_table: every supported format round-trips, every bad file is a one-line InputError."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import pytest

from nnvsml.data import read_table
from nnvsml.data.readers import sniff_delimiter
from nnvsml.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": [1.5, 2.0, np.nan, 4.25],
            "code": [1, 2, 3, 4],
            "city": ["Paris", "Lyon", None, "Nice"],
        }
    )


def _same(read: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(read.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(read, expected, check_dtype=False)


@pytest.mark.parametrize(
    "name, sep, compress",
    [
        ("t.csv", ",", False),
        ("t.tsv", "\t", False),
        ("t.csv.gz", ",", True),
        ("t.tsv.gz", "\t", True),
        ("semicolon.csv", ";", False),
        ("pipes.txt", "|", False),
        ("no_suffix", "\t", False),
        ("gzipped_no_suffix.gz", ",", True),
    ],
)
def test_text_round_trips(tmp_path, frame, name, sep, compress):
    text = frame.to_csv(index=False, sep=sep).encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if compress else text)
    _same(read_table(path), frame)


@pytest.mark.parametrize("name", ["t.parquet", "t.pq", "parquet_without_suffix"])
def test_parquet_round_trips(tmp_path, frame, name):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    _same(read_table(path), frame)


def test_header_names_are_stripped_and_missing_markers_read_as_missing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(" a , b ,c\n1,NA,x\n2,N/A,?\n3,null,None\n4,,NaN\n5,7,y\n")
    df = read_table(path)
    assert list(df.columns) == ["a", "b", "c"]
    assert df["b"].isna().sum() == 4
    assert df["c"].isna().sum() == 3


def test_quoted_delimiters_do_not_confuse_the_sniffer(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('name;amount\n"Smith, John";1,5\n"Doe, Jane";2,5\n')
    assert list(read_table(path).columns) == ["name", "amount"]


def test_sniff_delimiter_prefers_consistent_splits():
    assert sniff_delimiter("a;b;c\n1;2,5;3\n4;5,5;6\n") == ";"
    assert sniff_delimiter("a,b\n1,2\n") == ","
    assert sniff_delimiter("single\n1\n2\n") == ","


def test_latin1_is_read_with_a_notice(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("ville,n\nMontréal,1\nQuébec,2\n".encode("latin-1"))
    notices: list[str] = []
    df = read_table(path, notices)
    assert df["ville"].tolist() == ["Montréal", "Québec"]
    assert len(notices) == 1 and "Latin-1" in notices[0]


def test_utf8_with_bom_reads_clean_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode("utf-8"))
    assert list(read_table(path).columns) == ["a", "b"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", r"empty \(0 bytes\)"),
        ("blank.csv", b"  \n\n\t \n", r"empty \(only whitespace\)"),
        ("header.csv", b"a,b,c\n", "header row but no data rows"),
        ("book.xlsx", b"PK\x03\x04whatever", r"unsupported format '\.xlsx'.*supported: CSV"),
        ("data.json", b'{"a": 1}', r"unsupported format '\.json'.*Parquet"),
        ("noise.csv", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
         "does not look like CSV/TSV/Parquet"),
        ("workbook.csv", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "looks like an Excel workbook"),
        ("broken.parquet", b"PAR1 this is not really parquet PAR1", "could not read .* as Parquet"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
        ("ragged.csv", b"a,b\n1,2\n3,4\n5,6,7\n8,9\n", "line 4 has 3 fields but the header has 2"),
        ("ragged_first.csv", b"a,b\n1,2,3\n4,5\n", "more fields than the header"),
        ("utf16.csv", "a,b\n1,2\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_bad_files_raise_one_line_input_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_parquet_without_rows(tmp_path, frame):
    path = tmp_path / "t.parquet"
    frame.head(0).to_parquet(path)
    with pytest.raises(InputError, match="header row but no data rows"):
        read_table(path)


def test_truncated_parquet_is_reported_as_corrupt(tmp_path, frame):
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="corrupt or truncated"):
        read_table(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="file not found: .*nope.csv; check the path"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        read_table(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a,b\n1,2\n")
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            read_table(path)
    finally:
        path.chmod(0o600)
