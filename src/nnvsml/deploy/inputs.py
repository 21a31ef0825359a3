"""What a path named by the user holds, read as the raw input of a model of its modality
(``nnvsml predict``), with the readers of :mod:`nnvsml.data`, so that new examples are made as
the training examples were.

The schema says what the model takes (:func:`nnvsml.deploy.model.input_schema`): its modality,
and in ``input`` the facts of its training data (image size, series length, sample rate...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml.data.detect import IDX_FILE, unlabelled_files
from nnvsml.deploy.model import ColumnError
from nnvsml.errors import InputError


@dataclass
class Inputs:
    """A model's raw input, and for files read from a folder, each row's file relative to it."""

    X: pd.DataFrame | np.ndarray
    files: list[str] | None = None


def read_inputs(schema: dict, data: Path | str, notices: list[str]) -> Inputs:
    """The examples at ``data`` for the model described by ``schema``."""
    modality = schema.get("modality")
    reader = READERS.get(modality)
    if reader is None:
        raise InputError(f"this model reads {modality} data, which nnvsml predict cannot read")
    return reader(schema, Path(data), notices)


def _table(schema: dict, path: Path, notices: list[str]) -> Inputs:
    from nnvsml.data.readers import read_table

    table = read_table(path, notices)
    target = schema.get("target")
    return Inputs(table.drop(columns=target) if target in table.columns else table)


def _images(schema: dict, path: Path, notices: list[str]) -> Inputs:
    from nnvsml.data.images import idx_images_like, read_images_like

    info = schema.get("input") or {}
    shape = (int(info["height"]), int(info["width"]), int(info["channels"]))
    if path.is_file() and IDX_FILE.search(path.name):
        return Inputs(idx_images_like(path, shape))
    root, files = unlabelled_files(path, "image", notices)
    return Inputs(read_images_like(files, shape, notices), _relative(root, files))


def _texts(schema: dict, path: Path, notices: list[str]) -> Inputs:
    from nnvsml.data.readers import read_table
    from nnvsml.data.text import documents_from_columns, read_text_files

    if path.is_dir():
        root, files = unlabelled_files(path, "text", notices)
        kept, docs = read_text_files(files, notices)
        return Inputs(docs, _relative(root, kept))
    table = read_table(path, notices)
    return Inputs(documents_from_columns(table, text_columns(schema, table), notices))


def text_columns(schema: dict, table: pd.DataFrame) -> list[str]:
    """The columns holding the texts: those the model was trained on; for a model trained on
    .txt files, a column named ``text``, or the table's only column."""
    trained = (schema.get("input") or {}).get("text_column")
    if trained is not None:
        names = [trained] if isinstance(trained, str) else list(trained)
        missing = [n for n in names if n not in table.columns]
        if missing:
            shown = ", ".join(repr(n) for n in missing)
            raise ColumnError(f"the table lacks the text column(s) {shown} the model was trained "
                              "on; pass a table with those columns, or a folder of .txt files",
                              missing[0])
        return names
    if "text" in table.columns:
        return ["text"]
    others = [c for c in table.columns if c != schema.get("target")]
    if len(others) == 1:
        return others
    raise InputError("the model was trained on .txt files: pass a folder of .txt files, or a "
                     "table with a column named 'text'")


def _series(schema: dict, path: Path, notices: list[str]) -> Inputs:
    from nnvsml.data.series import read_series_file

    info = schema.get("input") or {}
    return Inputs(read_series_file(path, int(info["length"]), int(info.get("channels") or 1),
                                   notices, schema.get("target")))


def _audio(schema: dict, path: Path, notices: list[str]) -> Inputs:
    from nnvsml.data.audio import log_mel_like, read_wav

    info = schema.get("input") or {}
    root, files = unlabelled_files(path, "audio", notices)
    clips = [read_wav(f) for f in files]
    X = log_mel_like(clips, [str(f) for f in files], int(info["sample_rate"]),
                     int(info["frames"]), notices)
    return Inputs(X, _relative(root, files))


def _relative(root: Path, files: list[Path]) -> list[str]:
    return [f.relative_to(root).as_posix() for f in files]


READERS = {"tabular": _table, "image": _images, "text": _texts, "sequence": _series,
           "audio": _audio}
