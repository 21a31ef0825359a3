"""Tables larger than memory: read in batches with pyarrow, never whole.

A Parquet file, a folder of Parquet files or a CSV file is *large* when its estimated size as a
pandas table is over :data:`MEMORY_SHARE` of the memory available at start, or when it has more
rows than :data:`MAX_IN_MEMORY_ROWS` (or the user's ``--in-memory-rows``). Such a table is read
like this:

1. the first pass: the row count (Parquet's metadata; a CSV is counted in one streamed pass),
   the size of a row in pandas (measured on the first batch), and the target column alone (one
   column of every row fits where the table does not); rows whose target is missing are dropped
   and the task is resolved on the whole target;
2. the split, drawn from the whole target: stratified test rows (``--test-fraction`` of the rows,
   at most :data:`TEST_SHARE` of the rows held in memory); every other labelled row is a
   training row;
3. the rows held in memory: the test rows and a stratified sample of the training rows, read in
   one streamed pass. They are the Dataset every model works on (column kinds are inferred from
   them); the sample is stated in the results;
4. models that learn from batches (LightGBM from a streamed binned dataset, the tabular networks
   one epoch per batch) are refitted on every training row by :meth:`TableScan.frames`.

Peak memory of the data is bounded by the rule of :func:`in_memory_rows`: the rows held in
memory take at most :data:`MEMORY_SHARE` of the memory available at start, plus one batch of
:data:`BATCH_ROWS` rows being read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
from sklearn.model_selection import train_test_split

from nnvsml.data.readers import (
    GZIP_MAGIC,
    MISSING_MARKERS,
    PARQUET_MAGIC,
    PARQUET_SUFFIXES,
    SNIFF_BYTES,
    TSV_SUFFIXES,
    parquet_files,
    sniff_delimiter,
)
from nnvsml.errors import InputError

#: Rows per batch read from the file: a batch of 50 columns is tens of MB in pandas.
BATCH_ROWS = 65_536
#: The rows held in memory take at most this share of the memory available at start: the run
#: and each candidate's process hold them, and models copy and encode them (several times over).
#: A table whose estimated pandas size is over it is read in batches.
MEMORY_SHARE = 1 / 16
#: Fewer rows in memory than this say too little for any model; a smaller --in-memory-rows is
#: refused.
MIN_IN_MEMORY_ROWS = 1_000
#: Nor more than this by default, whatever the memory: every candidate's process loads the rows
#: at each of its stages and scores every test row (at 1,000,000 rows of 50 columns a load
#: took 10-20 s and the cheap models' first stages 20-50 s each, so that LightGBM was left 6 s
#: of a 1,800 s budget), and the models that need all rows in memory (kNN, SVMs, forests)
#: cannot use more within such a budget on a few cores. --in-memory-rows raises it.
MAX_IN_MEMORY_ROWS = 200_000
#: Test rows are at most this share of the rows held in memory: the rest is the training sample.
TEST_SHARE = 0.25
#: Below this size on disk a file is read whole without estimating (the usual, fast path).
SMALL_FILE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class LargeOptions:
    """What the large-table route needs from the run's options."""

    in_memory_rows: int | None = None
    seed: int = 0
    test_fraction: float = 0.2


#: Parquet read through a 1 MiB buffered stream, not a whole row group pre-buffered at once.
_PARQUET = pads.ParquetFileFormat(default_fragment_scan_options=pads.ParquetFragmentScanOptions(
    pre_buffer=False, use_buffered_stream=True, buffer_size=1 << 20))


class TableScan:
    """A Parquet file, a folder of Parquet files, or a CSV file, read batch by batch in the
    file's row order (a folder's files by name)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        files = parquet_files(self.path)
        if files is not None:
            self.format = "parquet"
            self._dataset = pads.dataset([str(f) for f in files], format=_PARQUET)
        else:
            self.format = "csv"
            self._dataset = pads.dataset(str(self.path), format=_csv_format(self.path))
        self.names = [str(n) for n in self._dataset.schema.names]
        self._rows: int | None = None

    @property
    def n_rows(self) -> int:
        if self._rows is None:
            self._rows = int(self._dataset.count_rows()) if self.format == "parquet" else sum(
                b.num_rows for b in self.batches(columns=self.names[:1]))
        return self._rows

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows in order, at most :data:`BATCH_ROWS` at a time."""
        # One batch and one file read ahead: pyarrow's defaults (16 batches, 4 files) hold
        # hundreds of MB of a wide table. The system allocator gives freed batches back, where
        # pyarrow's default (mimalloc) keeps them cached per thread: 110-390 MB of resident
        # memory for the same reads.
        scanner = self._dataset.scanner(columns=columns, batch_size=BATCH_ROWS,
                                        batch_readahead=1, fragment_readahead=1,
                                        memory_pool=pa.system_memory_pool())
        try:
            for batch in scanner.to_batches():
                if batch.num_rows:
                    yield batch
        except pa.ArrowInvalid as e:  # a CSV whose later rows do not match the first block
            raise InputError(
                f"could not read {self.path} in batches ({str(e).splitlines()[0][:200]}); "
                "convert it to Parquet, whose column types are stated"
            ) from None

    def column(self, name: str) -> pd.Series:
        """One whole column as pandas."""
        chunks = [b.column(0) for b in self.batches(columns=[name])]
        return pa.chunked_array(chunks).to_pandas().rename(name).reset_index(drop=True)

    def bytes_per_row(self) -> float:
        """The pandas size of a row, measured on the first batch."""
        first = next(self.batches(), None)
        if first is None:
            return 0.0
        frame = first.to_pandas()
        return float(frame.memory_usage(deep=True, index=False).sum()) / max(1, len(frame))

    def rows(self, positions: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows at ``positions`` (sorted file positions), read in one pass: peak memory is
        one batch plus the rows kept."""
        kept = [part for part, _ in self._taken(positions, columns)]
        table = pa.Table.from_batches(kept) if kept else self._dataset.schema.empty_table()
        return table.to_pandas().reset_index(drop=True)

    def frames(self, positions: np.ndarray, columns: list[str] | None = None
               ) -> Iterator[tuple[pd.DataFrame, slice]]:
        """The rows at ``positions`` as DataFrames of at most one batch each, with the slice of
        ``positions`` each holds (to pair them with labels kept beside the positions)."""
        for part, where in self._taken(positions, columns):
            yield part.to_pandas(), where

    def _taken(self, positions: np.ndarray, columns: list[str] | None
               ) -> Iterator[tuple[pa.RecordBatch, slice]]:
        positions = np.asarray(positions, dtype=np.int64)
        start = 0
        for batch in self.batches(columns):
            end = start + batch.num_rows
            lo, hi = np.searchsorted(positions, [start, end])
            if hi > lo:
                yield batch.take(pa.array(positions[lo:hi] - start)), slice(int(lo), int(hi))
            start = end
            if hi >= len(positions):
                break


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except OSError:
        return b""


def _csv_format(path: Path) -> pads.CsvFileFormat:
    """The delimiter sniffed and the missing markers as for a table read whole. Column types
    come from the first block; a later batch that does not fit them is a one-line error."""
    head = _head(path)
    if head.startswith(GZIP_MAGIC):
        import gzip

        with gzip.open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    text = head.decode("utf-8", errors="replace")
    suffixes = [s.lower() for s in path.suffixes]
    delimiter = "\t" if set(suffixes) & TSV_SUFFIXES else sniff_delimiter(
        text, truncated=len(head) >= SNIFF_BYTES)
    return pads.CsvFileFormat(
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(null_values=MISSING_MARKERS,
                                             strings_can_be_null=True),
        read_options=pacsv.ReadOptions(block_size=1 << 22),
    )


def in_memory_rows(bytes_per_row: float, available_bytes: float | None = None) -> int:
    """The rule: rows held in memory take at most :data:`MEMORY_SHARE` of the memory available,
    and are at most :data:`MAX_IN_MEMORY_ROWS` (at least :data:`MIN_IN_MEMORY_ROWS`)."""
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    by_memory = int(MEMORY_SHARE * available / max(bytes_per_row, 1.0))
    return max(MIN_IN_MEMORY_ROWS, min(MAX_IN_MEMORY_ROWS, by_memory))


def plan_rows(path: str | os.PathLike, requested: int | None) -> tuple[TableScan, int, str] | None:
    """``(scan, rows to hold in memory, why)`` when ``path`` is a table to read in batches;
    ``None`` when it is read whole as usual."""
    path = Path(path)
    if not (path.is_dir() and parquet_files(path)) and not path.is_file():
        return None
    if requested is None and path.is_file() and path.stat().st_size < SMALL_FILE_BYTES:
        return None
    try:
        scan = TableScan(path)
    except (pa.ArrowInvalid, OSError, ValueError):
        return None  # the usual reader names what is wrong with the file
    if requested is not None:
        if requested < MIN_IN_MEMORY_ROWS:
            raise InputError(f"--in-memory-rows must be at least {MIN_IN_MEMORY_ROWS:,}, got "
                             f"{requested:,}")
        if scan.n_rows <= requested:
            return None
        return scan, requested, f"--in-memory-rows {requested:,}"
    per_row = scan.bytes_per_row()
    available = psutil.virtual_memory().available
    # The cap on rows holds whether or not the size rule fires: a million rows that fit the
    # reader's share are still loaded by every candidate's process at each of its stages (one
    # such table, read whole, took 19 GB over the processes and left four models no first fit).
    if scan.n_rows * per_row <= MEMORY_SHARE * available and scan.n_rows <= MAX_IN_MEMORY_ROWS:
        return None
    rows = in_memory_rows(per_row, available)
    return scan, rows, (
        f"{scan.n_rows:,} rows of about {per_row:,.0f} bytes in pandas; the rows held in memory "
        f"take at most 1/{round(1 / MEMORY_SHARE)} of the {available / 2**30:.1f} GiB available "
        f"and are at most {MAX_IN_MEMORY_ROWS:,}")


def draw_rows(y: np.ndarray, classify: bool, n_memory: int, options: LargeOptions
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(training rows, test rows, training sample)`` as sorted positions into ``y``: the test
    rows stratified, at most :data:`TEST_SHARE` of ``n_memory``; the sample stratified, so that
    sample and test rows are ``n_memory`` rows."""
    n = len(y)
    n_test = min(int(round(n * options.test_fraction)), int(n_memory * TEST_SHARE))
    stratify = y if classify else None
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=options.seed,
                                   stratify=stratify)
    train, test = np.sort(train), np.sort(test)
    n_sample = min(len(train), n_memory - n_test)
    if n_sample < len(train):
        sample, _ = train_test_split(train, train_size=n_sample, random_state=options.seed,
                                     stratify=y[train] if classify else None)
        sample = np.sort(sample)
    else:
        sample = train
    return train, test, sample
