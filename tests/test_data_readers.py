"""read_table: every supported format round-trips, every bad file is a one-line InputError."""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import tempfile
import threading

import numpy as np
import pandas as pd
import pytest

from nnvsml.data import read_table, readers
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


# --- duplicate column names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, header, compress",
    [("dup.csv", "x,y,y", False), ("dup.tsv.gz", "x\ty\ty", True), ("dup.txt", "x; y ;y", False)],
)
def test_duplicate_header_names_are_named(tmp_path, name, header, compress):
    # pandas reads x,y,y as x, y, y.1: the check must look at the header as written.
    sep = "\t" if "\t" in header else (";" if ";" in header else ",")
    text = (header + "\n" + "\n".join(sep.join(["1", "2", "3"]) for _ in range(3)) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if compress else text)
    with pytest.raises(InputError, match=r"duplicate column names: 'y'; rename them"):
        read_table(path)


def test_a_column_named_like_a_renamed_duplicate_is_kept(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,x.1,y\n1,2,3\n4,5,6\n")
    assert list(read_table(path).columns) == ["x", "x.1", "y"]


def test_duplicate_parquet_names_are_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    columns = [pa.array([1, 2]), pa.array([3, 4]), pa.array([5, 6])]
    pq.write_table(pa.table(columns, names=["x", "y", "y"]), path)
    with pytest.raises(InputError, match=r"duplicate column names: 'y'; rename them"):
        read_table(path)


# --- pipes and standard input --------------------------------------------------------------------


def _feed(path, data: bytes) -> threading.Thread:
    """Write ``data`` into the FIFO or pipe ``path`` from a thread (opening it blocks)."""

    def write():
        with open(path, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def spool(tmp_path, monkeypatch):
    """Where the private copies of streams go, to check they are private and removed."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    modes = []
    check_file = readers._check_file


    def recording(path):
        modes.append(path.stat().st_mode)
        check_file(path)

    monkeypatch.setattr(readers, "_check_file", recording)
    return folder, modes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name, compress", [("feed", False), ("feed.csv.gz", True)])
def test_fifo_is_read_once_as_a_table(tmp_path, frame, spool, name, compress):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    text = frame.to_csv(index=False).encode()
    writer = _feed(fifo, gzip.compress(text) if compress else text)
    _same(read_table(fifo), frame)
    writer.join(5)
    folder, modes = spool
    assert list(folder.iterdir()) == []  # the copy is gone
    assert [stat.S_IMODE(m) for m in modes] == [0o600]


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd")
def test_pipe_is_read_as_a_table(frame, spool):
    read_end, write_end = os.pipe()
    writer = _feed(write_end, frame.to_parquet(index=False))
    try:
        _same(read_table(f"/dev/fd/{read_end}"), frame)  # Parquet, told by its content
    finally:
        writer.join(5)
        os.close(read_end)


def test_dash_reads_standard_input(frame, spool, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(frame.to_csv(index=False, sep="\t").encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    _same(read_table("-"), frame)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(InputError, match=r"^stdin is empty \(0 bytes\)"):
        read_table("-")
    assert list(spool[0].iterdir()) == []
