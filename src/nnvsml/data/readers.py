"""Reading a user's table from disk: CSV, TSV (optionally gzipped) and Parquet.

Every failure becomes a one-line :class:`~nnvsml.errors.InputError` that names the problem and
the fix. Decisions taken on the user's behalf (such as reading a file as Latin-1) are appended to
the optional ``notices`` list as one-line messages.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import os
import re
import shutil
import stat
import sys
import tempfile
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from nnvsml.errors import InputError

SUPPORTED = "CSV or TSV (optionally gzipped, .gz) and Parquet (.parquet, .pq)"

#: Cell values read as missing, on top of pandas' defaults ("", "NA", "N/A", "NaN", "null"...).
MISSING_MARKERS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "?", "None"]

PARQUET_SUFFIXES = {".parquet", ".pq"}
TSV_SUFFIXES = {".tsv", ".tab"}
#: Formats we recognise but do not read: rejected up front with a hint instead of sniffed.
OTHER_FORMATS = {
    ".xlsx": "Excel", ".xlsm": "Excel", ".xls": "Excel", ".ods": "OpenDocument spreadsheet",
    ".json": "JSON", ".jsonl": "JSON lines", ".ndjson": "JSON lines", ".xml": "XML",
    ".html": "HTML", ".htm": "HTML", ".feather": "Feather", ".arrow": "Arrow IPC",
    ".h5": "HDF5", ".hdf5": "HDF5", ".pkl": "pickle", ".pickle": "pickle", ".npy": "NumPy",
    ".npz": "NumPy", ".zip": "ZIP", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".7z": "7-Zip",
    ".tar": "tar", ".sav": "SPSS", ".dta": "Stata", ".sas7bdat": "SAS", ".db": "database",
    ".sqlite": "SQLite",
}

#: The DATA argument that means standard input.
STDIN = "-"
DELIMITERS = (",", "\t", ";", "|")  # also the tie-break preference when sniffing
SNIFF_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# C0 control characters other than tab, newline and carriage return never occur in real text,
# in UTF-8 or any 8-bit encoding (where each is one byte).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Share of such bytes above which content is binary, not text.
MAX_CONTROL_SHARE = 0.01
_PANDAS_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_RAGGED_FIX = (
    "make every row have as many fields as the header (quote values that contain the delimiter)"
)


def read_table(path: str | os.PathLike, notices: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into a DataFrame with stripped header names.

    The format comes from the suffix (``.csv``, ``.tsv``, ``.parquet``, ``.pq``, each text format
    optionally ``.gz``); other suffixes are sniffed from the content. Text files get their
    delimiter sniffed among ``, ; TAB |`` (``.tsv`` is always tab-separated) and common missing
    markers (``NA``, ``N/A``, ``null``, ``?``, ``None``...) become missing values. Notices, such as
    a Latin-1 fallback, are appended to ``notices`` when given. ``-`` reads standard input; it,
    pipes, FIFOs and character devices are copied once to a private temporary file, read like
    any file, and the copy is removed.
    """
    notices = notices if notices is not None else []
    if is_stream(path):
        shown = "stdin" if str(path) == STDIN else str(path)
        with spooled(path) as copy:
            try:
                return read_table(copy, notices)
            except InputError as e:  # name the stream, not the temporary copy
                raise InputError(str(e).replace(str(copy), shown)) from None
    path = Path(path)
    if path.is_dir() and parquet_files(path):
        return _clean_header(_read_parquet(path), path)
    _check_file(path)
    head = _read_head(path)
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    inner = suffixes[-2] if last == ".gz" and len(suffixes) > 1 else last

    # Parquet's magic bytes win over a text suffix: a mislabelled Parquet file is still Parquet.
    if inner in PARQUET_SUFFIXES or head.startswith(PARQUET_MAGIC):
        df = _read_parquet(path)
    elif inner in OTHER_FORMATS:
        raise InputError(
            f"unsupported format '{inner}' ({OTHER_FORMATS[inner]}) for {path}; "
            f"supported: {SUPPORTED}; export the data to one of those"
        )
    elif inner in TSV_SUFFIXES:
        df = _read_text(path, head, notices, delimiter="\t")
    else:  # .csv and unknown suffixes: the delimiter (and gzip) is sniffed from the content
        df = _read_text(path, head, notices, delimiter=None)
    if df.shape[1] == 0:
        raise _empty(path, "no columns")
    if len(df) == 0:
        raise InputError(
            f"{path} has a header row but no data rows; add data rows below the header"
        )
    return _clean_header(df, path)


def parquet_files(path: Path) -> list[Path] | None:
    """The Parquet files of ``path``: itself when it is one (by suffix or content), or, for a
    folder whose visible files are all Parquet (a partitioned or chunked table), those files
    sorted by name; ``None`` otherwise."""
    if path.is_dir():
        files = []
        for f in path.rglob("*"):  # stops at the first other file: image folders are large
            if f.is_file() and not f.name.startswith((".", "_")):
                if f.suffix.lower() not in PARQUET_SUFFIXES:
                    return None
                files.append(f)
        return sorted(files) or None
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return [path]
    try:
        with open(path, "rb") as f:
            return [path] if f.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC else None
    except OSError:
        return None


def is_stream(path: str | os.PathLike) -> bool:
    """``-``, a pipe or FIFO, or a character device: bytes read once, of no known size."""
    if str(path) == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def stream_name(path: str | os.PathLike) -> str:
    """What a stream is called: ``stdin`` for ``-``, else its file name."""
    return "stdin" if str(path) == STDIN else Path(path).name


@contextmanager
def spooled(path: str | os.PathLike) -> Iterator[Path]:
    """A private copy (mode 0600, in a 0700 folder) of the stream ``path``, removed on exit.

    Reading sniffs the start, then parses from the beginning, and checks the header again: a
    pipe can be read only once, so it is copied. The copy keeps the stream's name, so a FIFO's
    suffix (``.tsv``, ``.parquet``) counts as a file's would. A stream that starts with binary
    data other than gzip or Parquet is refused before copying the rest (``/dev/urandom`` never
    ends).
    """
    shown = "stdin" if str(path) == STDIN else str(path)
    folder = Path(tempfile.mkdtemp(prefix="nnvsml-stdin-"))
    copy = folder / stream_name(path)
    try:
        try:
            with _open_stream(path) as source, open(
                os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
            ) as out:
                head = source.read(SNIFF_BYTES)
                if not head.startswith((GZIP_MAGIC, PARQUET_MAGIC)) and is_binary(head):
                    raise _not_a_table(shown)
                out.write(head)
                shutil.copyfileobj(source, out, 1 << 20)
        except PermissionError:
            raise _permission_denied(shown) from None
        except OSError as e:
            raise InputError(f"cannot read {shown}: {e.strerror or e}; check the input") from None
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _open_stream(path: str | os.PathLike):
    """The stream's bytes: standard input for ``-`` (left open), else the opened path."""
    if str(path) != STDIN:
        with open(path, "rb") as source:
            yield source
        return
    source = getattr(sys.stdin, "buffer", None)
    if source is None:
        raise InputError("standard input cannot be read here; pass the file's path")
    if sys.stdin.isatty():
        raise InputError(
            "standard input is a terminal, not a table; pipe one in (cat data.csv | nnvsml "
            "compare -) or pass the file's path"
        )
    yield source


def _check_file(path: Path) -> None:
    """Fail early, with a precise message, on paths that cannot be a readable data file."""
    if not path.exists():
        raise InputError(f"file not found: {path}; check the path")
    if path.is_dir():
        raise InputError(
            f"{path} is a directory, not a file; pass the path of a data file ({SUPPORTED})"
        )
    if not os.access(path, os.R_OK):
        raise _permission_denied(path)
    if path.stat().st_size == 0:
        raise _empty(path, "0 bytes")


def _read_head(path: Path) -> bytes:
    """The first bytes of the file as stored (still compressed if it is gzip)."""
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except PermissionError:
        raise _permission_denied(path) from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}; check the file") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        # Parquet allows duplicate names, which pandas cannot address: check the schema first.
        files = parquet_files(path) or [path]
        _check_unique(pq.read_schema(files[0]).names, path)
        return pd.read_parquet(path)  # a folder is read as one dataset, file by file
    except InputError:
        raise
    except Exception as e:  # pyarrow raises several types (ArrowInvalid, OSError...) for bad files
        reason = _first_line(e)
        raise InputError(
            f"could not read {path} as Parquet ({reason}); the file may be corrupt or truncated, "
            "re-export it or save it as CSV"
        ) from None


def _read_text(path: Path, head: bytes, notices: list[str], delimiter: str | None) -> pd.DataFrame:
    """Read a delimited text file, gzipped or not, sniffing what was not given."""
    compression = "gzip" if head.startswith(GZIP_MAGIC) else None
    sample = _gunzip_head(path) if compression else head
    _reject_binary(path, sample)
    encoding, text = _decode_sample(sample)
    if not text.strip():
        raise _empty(path, "only whitespace")
    if delimiter is None:
        delimiter = sniff_delimiter(text, truncated=len(sample) >= SNIFF_BYTES)
    try:
        df = _pandas_read(path, delimiter, encoding, compression)
    except UnicodeDecodeError:
        # The sample was valid UTF-8 but a later part of the file is not.
        encoding = "latin-1"
        df = _pandas_read(path, delimiter, encoding, compression)
    _check_unique(_raw_header(path, delimiter, encoding, compression), path)
    if encoding == "latin-1":
        notices.append(
            f"{path.name} is not valid UTF-8; read it as Latin-1 (ISO-8859-1): "
            "re-save it as UTF-8 if accented characters look wrong"
        )
    return df


def _gunzip_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(
            f"{path} is not a valid gzip file ({_first_line(e)}); re-compress or re-export it"
        ) from None


def _reject_binary(path: Path, sample: bytes) -> None:
    if sample.startswith(ZIP_MAGIC):
        raise InputError(
            f"{path} looks like an Excel workbook or ZIP archive, not CSV/TSV/Parquet; "
            f"save it as one of: {SUPPORTED}"
        )
    if sample.startswith(UTF16_BOMS):
        raise InputError(f"{path} is UTF-16 encoded; re-save it as UTF-8 CSV or TSV")
    if is_binary(sample):
        raise _not_a_table(path)


def is_binary(data: bytes) -> bool:
    """Whether ``data`` (or its first 64 KiB) is binary, not text: it holds a NUL byte, or more
    than 1% control characters other than tab and line breaks. Latin-1 decodes any bytes, so
    decoding cannot tell. Tables and text files are judged alike."""
    sample = data[:SNIFF_BYTES]
    return b"\x00" in sample or len(_CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample)


def _decode_sample(sample: bytes) -> tuple[str, str]:
    """Pick the encoding (UTF-8, else Latin-1) from the sample and return it with the text."""
    try:
        # Incremental decoding tolerates a multi-byte character cut at the end of the sample.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        text, encoding = sample.decode("latin-1"), "latin-1"
    return encoding, text


def _empty(path: Path, detail: str) -> InputError:
    return InputError(f"{path} is empty ({detail}); pass a file with a header row and data rows")


def _permission_denied(path: Path | str) -> InputError:
    return InputError(f"cannot read {path}: permission denied; check the file permissions")


def _not_a_table(path: Path | str) -> InputError:
    return InputError(
        f"{path} does not look like CSV/TSV/Parquet (it contains binary data); "
        f"export the data as one of: {SUPPORTED}"
    )


def sniff_delimiter(text: str, truncated: bool = False) -> str:
    """The delimiter among ``, TAB ; |`` that splits the first lines most consistently.

    Each candidate is scored by how many of the first (up to 50) lines have the same number of
    fields as the header, quotes respected; a candidate must split the header into at least two
    fields. Ties go to the earlier delimiter in :data:`DELIMITERS`. Single-column text gets ``,``.
    """
    lines = text.splitlines()
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last line of a truncated sample may be cut in the middle
    lines = [line for line in lines if line.strip()][:50]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        score = (Counter(counts)[counts[0]], counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _pandas_read(
    path: Path, delimiter: str, encoding: str, compression: str | None
) -> pd.DataFrame:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(
                path,
                sep=delimiter,
                encoding=encoding,
                compression=compression,
                na_values=MISSING_MARKERS,
                keep_default_na=True,
                skipinitialspace=True,
                # Without this pandas silently turns the first column into the index when the
                # first data row has one field more than the header.
                index_col=False,
                low_memory=False,
            )
        except pd.errors.EmptyDataError:
            raise _empty(path, "no header row") from None
        except pd.errors.ParserError as e:
            raise _parse_error(path, e) from None
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(
                f"could not read {path} ({_first_line(e)}); check or re-export the file"
            ) from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise InputError(
            f"could not parse {path}: some rows have more fields than the header; {_RAGGED_FIX}"
        )
    return df


def _raw_header(
    path: Path, delimiter: str, encoding: str, compression: str | None
) -> list[str]:
    """The header's names as written: pandas renames a repeated ``x`` to ``x.1`` when it reads
    the header as one, so the first line is read again as plain data."""
    first = pd.read_csv(
        path, sep=delimiter, encoding=encoding, compression=compression, header=None, nrows=1,
        dtype=str, keep_default_na=False, skipinitialspace=True, index_col=False,
    )
    return first.iloc[0].tolist() if len(first) else []


def _parse_error(path: Path, error: Exception) -> InputError:
    match = _PANDAS_RAGGED.search(str(error))
    if match:
        expected, line, saw = match.groups()
        detail = f"line {line} has {saw} fields but the header has {expected}"
    else:
        detail = _first_line(error)
    return InputError(f"could not parse {path}: {detail}; {_RAGGED_FIX}")


def _clean_header(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = [str(c).strip() for c in df.columns]
    _check_unique(names, path)
    df.columns = names
    return df


def _check_unique(names: list, path: Path) -> None:
    """Duplicate names (spaces around them ignored) are an error naming them.

    Empty names are left out: pandas names each of them ``Unnamed: <position>``.
    """
    counts = Counter(str(n).strip() for n in names)
    duplicates = sorted(n for n, count in counts.items() if count > 1 and n)
    if duplicates:
        raise InputError(
            f"{path} has duplicate column names: {', '.join(map(repr, duplicates))}; "
            "rename them so each column name is unique"
        )


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
