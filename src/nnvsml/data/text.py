"""Text datasets: a table whose input is free text, or class folders of .txt files.

Documents end up as a 1-D object array of ``str``, one per example, so every text model sees
one layout. Nothing is cleaned or tokenized here: that belongs to each model's own features.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.detect import check_classes, labelled_dataset, labelled_files
from nnvsml.data.readers import is_binary
from nnvsml.data.target import shorten_names
from nnvsml.errors import InputError

#: Joins several text columns of a row into one document; the newline keeps fields apart for
#: tokenizers, the spaces keep words from gluing for character n-grams.
COLUMN_SEPARATOR = " \n "


def text_info(docs: np.ndarray, column: str | list[str] | None) -> dict:
    """The ``info`` of a text Dataset: where the text came from and how long documents are."""
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    info = {"text_column": column} if column is not None else {}
    info.update({"median_chars": int(np.median(lengths)), "max_chars": int(lengths.max(initial=0))})
    return info


def as_documents(values, notices: list[str]) -> np.ndarray:
    """Any 1-D sequence of texts as an object array of ``str``; missing ones become ``""``."""
    series = pd.Series(values, dtype=object)
    missing = series.isna()
    if missing.any():
        notices.append(f"{int(missing.sum())} missing text(s) became empty documents")
    docs = np.empty(len(series), dtype=object)
    docs[:] = [("" if gone else str(v)) for v, gone in zip(series.to_numpy(), missing.to_numpy())]
    return docs


# --- tables ------------------------------------------------------------------------------------


def text_from_table(
    X: pd.DataFrame,
    y: pd.Series,
    columns: list[ColumnInfo],
    *,
    name: str,
    source: str,
    task: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """A text Dataset from a table's free-text column(s) ``X`` and target ``y``.

    The text columns are those :func:`~nnvsml.data.columns.infer_columns` marks ``text``; when
    none is (the user asked for text), the string columns are used instead. Several text columns
    are joined per row with :data:`COLUMN_SEPARATOR`; every other column is ignored (notice).
    """
    notices = notices if notices is not None else []
    docs, column = documents_from_table(X, columns, notices)
    return labelled_dataset(
        docs,
        y.to_numpy(),
        modality="text",
        name=name,
        source=source,
        task=task,
        notices=notices,
        info=text_info(docs, column),
        target=str(y.name),
        from_column=True,
    )


def documents_from_table(X: pd.DataFrame, columns: list[ColumnInfo], notices: list[str]
                         ) -> tuple[np.ndarray, str | list[str]]:
    """One document per row from the table's text column(s) (see :func:`text_from_table`),
    and the column(s) it came from."""
    names = text_columns(X, columns, notices)
    others = [c for c in X.columns if c not in names]
    if others:
        notices.append(
            f"ignored {len(others)} non-text column(s) for the text models: {shorten_names(others)}"
        )
    if len(names) == 1:
        return as_documents(X[names[0]], notices), names[0]
    notices.append(
        f"joined the {len(names)} text columns {shorten_names(names)} into one document per row"
    )
    return _joined(X[names], notices), names


def text_columns(X: pd.DataFrame, columns: list[ColumnInfo], notices: list[str]) -> list[str]:
    """Names of the free-text columns, else of the string columns (with a notice), else an error."""
    names = [c.name for c in columns if c.kind == "text"]
    if names:
        return names
    strings = [
        c.name
        for c in columns
        if c.kind not in ("empty", "constant")
        and not pd.api.types.is_numeric_dtype(X[c.name].dtype)
        and not pd.api.types.is_bool_dtype(X[c.name].dtype)
    ]
    if not strings:
        raise InputError(
            "the table has no text column to read as text; drop --modality text or add a column of texts"
        )
    notices.append(
        f"no column looks like free text; using the string column(s) {shorten_names(strings)} as text"
    )
    return strings


def _joined(frame: pd.DataFrame, notices: list[str]) -> np.ndarray:
    missing = int(frame.isna().to_numpy().sum())
    if missing:
        notices.append(f"{missing} missing text(s) became empty (skipped when joining)")
    rows = frame.to_numpy(dtype=object)
    docs = np.empty(len(rows), dtype=object)
    # Missing parts are skipped, so an empty field does not leave a dangling separator.
    docs[:] = [
        COLUMN_SEPARATOR.join(str(v) for v in row if not pd.isna(v) and str(v) != "")
        for row in rows
    ]
    return docs


# --- folders -----------------------------------------------------------------------------------


def load_text_folder(
    folder: str | os.PathLike,
    task: str | None = None,
    name: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """A text Dataset from ``folder/<class>/*.txt`` (optionally under train/ and test/).

    Files are read as UTF-8 (a BOM is dropped); those that are not valid UTF-8 are read as
    Windows-1252, or Latin-1 where even that fails, with one notice for all of them. Binary
    files (judged as tables are, see :func:`~nnvsml.data.readers.is_binary`) are skipped with a
    notice; a folder without any text file is an :class:`InputError`.
    """
    folder = Path(folder)
    notices = notices if notices is not None else []
    files = labelled_files(folder, "text", notices)
    texts = [read_text_file(path) for path in files.paths]
    binary = [path for path, text in zip(files.paths, texts) if text is None]
    if binary:
        if len(binary) == len(texts):
            raise InputError(
                f"none of the {len(texts)} .txt file(s) in {folder} is text: they hold binary "
                "data (NUL bytes or control characters); pass a folder of text files (UTF-8)"
            )
        notices.append(
            f"skipped {len(binary)} of {len(texts)} .txt file(s) that hold binary data, not text "
            f"(first: {binary[0]}); UTF-16 text counts as binary: re-save it as UTF-8"
        )
        keep = [text is not None for text in texts]
        files = files.subset(keep)
        texts = [text for text in texts if text is not None]
        check_classes(files.labels, files.paths, folder, "text")
        if files.split is not None and not len(files.split[1]):
            raise InputError(f"the test part of {folder} holds no text file; add text files")
    docs = np.empty(len(texts), dtype=object)
    docs[:] = [text for text, _ in texts]
    fallbacks = [path for path, (_, utf8) in zip(files.paths, texts) if not utf8]
    if fallbacks:
        notices.append(
            f"{len(fallbacks)} file(s) are not UTF-8 and were read as Windows-1252/Latin-1 "
            f"(first: {fallbacks[0]})"
        )
    empty = sum(1 for d in docs if not d.strip())
    if empty:
        notices.append(f"{empty} of {len(docs)} text file(s) are empty")
    return labelled_dataset(
        docs,
        files.labels,
        modality="text",
        name=name or folder.resolve().name,
        source=str(folder),
        task=task,
        notices=notices,
        info=text_info(docs, None),
        split=files.split,
    )


def documents_from_columns(frame: pd.DataFrame, names: list[str], notices: list[str]) -> np.ndarray:
    """The documents of the text columns ``names`` of a table, made as
    :func:`text_from_table` makes them: one column as it is, several joined per row."""
    if len(names) == 1:
        return as_documents(frame[names[0]], notices)
    return _joined(frame[names], notices)


def read_text_files(paths: list[Path], notices: list[str]) -> tuple[list[Path], np.ndarray]:
    """``(paths kept, documents)``, read as :func:`load_text_folder` reads a class folder:
    files holding binary data are skipped (notice), and none left is an :class:`InputError`."""
    texts = [read_text_file(path) for path in paths]
    kept = [path for path, text in zip(paths, texts) if text is not None]
    if not kept:
        raise InputError(f"none of the {len(paths)} .txt file(s) is text: they hold binary data "
                         f"(first: {paths[0]}); pass text files (UTF-8)")
    if len(kept) < len(paths):
        skipped = next(path for path, text in zip(paths, texts) if text is None)
        notices.append(f"skipped {len(paths) - len(kept)} of {len(paths)} .txt file(s) that hold "
                       f"binary data, not text (first: {skipped})")
    fallbacks = [path for path, text in zip(paths, texts) if text is not None and not text[1]]
    if fallbacks:
        notices.append(f"{len(fallbacks)} file(s) are not UTF-8 and were read as "
                       f"Windows-1252/Latin-1 (first: {fallbacks[0]})")
    docs = np.empty(len(kept), dtype=object)
    docs[:] = [text[0] for text in texts if text is not None]
    return kept, docs


def read_text_file(path: Path) -> tuple[str, bool] | None:
    """``(text, was UTF-8)``: UTF-8 without BOM, else Windows-1252, else Latin-1; ``None`` when
    the file holds binary data."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path} ({e.strerror or e}); check the file") from None
    if is_binary(data):
        return None
    try:
        return data.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), False
    except UnicodeDecodeError:  # 5 bytes are undefined in cp1252; Latin-1 maps every byte
        return data.decode("latin-1"), False
