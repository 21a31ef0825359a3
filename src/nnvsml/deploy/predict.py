"""``nnvsml predict``: batch predictions of a saved model for new data of its modality (a
table, a folder of images, .txt or WAV files, a file of series), written whole or not at all."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from nnvsml.deploy import model as served
from nnvsml.deploy.inputs import read_inputs
from nnvsml.errors import InputError

WRITERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def predict(source: Path | str, data: Path | str, out: Path | str | None = None,
            model: str | None = None, notices: list[str] | None = None,
            runtime: str = "native") -> pd.DataFrame:
    """Predictions of the model in ``source`` (a run directory or an export folder) for the
    examples at ``data`` (see :mod:`nnvsml.deploy.inputs`); written to ``out`` (CSV or Parquet,
    by its suffix) when given. Files read from a folder are named in a first column ``file``.
    What was done to the data on the user's behalf is appended to ``notices``. ``runtime``:
    the model's own ``predict`` or its checked ONNX copy (:data:`~nnvsml.deploy.model.RUNTIMES`)."""
    notices = notices if notices is not None else []
    if out is not None and Path(out).suffix.lower() not in WRITERS:
        raise InputError(f"--out {out}: write predictions to a .csv or .parquet file")
    loaded = served.load(source, model, runtime)
    inputs = read_inputs(loaded.schema, data, notices)
    if isinstance(inputs.X, pd.DataFrame):
        predictions = loaded.predict_table(inputs.X)
    else:
        predictions = loaded.predict(inputs.X)
    if inputs.files is not None:
        predictions.insert(0, "file", inputs.files)
    if out is not None:
        write(predictions, Path(out))
    return predictions


def write(predictions: pd.DataFrame, out: Path) -> None:
    """CSV or Parquet, through a temporary file beside ``out``: never half-written."""
    kind = WRITERS[out.suffix.lower()]
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; name a .csv or .parquet file")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.close(fd)
        if kind == "csv":
            predictions.to_csv(tmp, index=False)
        else:
            predictions.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"cannot write --out {out}: {exc.strerror or exc}; choose another "
                         "file") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def to_stdout(predictions: pd.DataFrame) -> None:
    predictions.to_csv(sys.stdout, index=False)
