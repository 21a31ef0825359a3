"""``nnvsml predict``: batch predictions of a saved model for a new table, written whole or not
at all."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from nnvsml.deploy import model as served
from nnvsml.errors import InputError

WRITERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def predict(source: Path | str, data: Path | str, out: Path | str | None = None,
            model: str | None = None) -> pd.DataFrame:
    """Predictions of the model in ``source`` (a run directory or an export folder) for the
    table ``data``; written to ``out`` (CSV or Parquet, by its suffix) when given."""
    from nnvsml.data.readers import read_table

    if out is not None and Path(out).suffix.lower() not in WRITERS:
        raise InputError(f"--out {out}: write predictions to a .csv or .parquet file")
    loaded = served.load(source, model)
    if loaded.schema.get("modality") != "tabular":
        raise InputError(f"this model reads {loaded.schema.get('modality')} data; nnvsml "
                         "predict reads tables only so far")
    table = read_table(data)
    target = loaded.schema.get("target")
    if target in table.columns:
        table = table.drop(columns=target)
    predictions = loaded.predict_table(table)
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
