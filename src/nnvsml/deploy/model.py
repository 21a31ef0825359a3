"""A served model: loaded from the safe files of a run directory or of an export folder, never
from a pickle, with the input schema new data must match.

Both folders are untrusted: every path read from them is confined to the folder, every file
must still have the digest recorded beside it, and the model file may name only types nnvsml
builds (:mod:`.safe`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml import artifacts
from nnvsml.deploy import safe
from nnvsml.errors import InputError

#: What an export folder's card is called; its presence tells an export folder from a run.
CARD = "card.json"
ROLES = tuple(safe.SUFFIXES)
#: How a served model computes: its own ``predict`` (from the safe files), or its ONNX copy
#: through ONNX Runtime (the copy the deployability analysis checked; the safe files still
#: give the schema and, for a network whose graph is the network alone, its feature steps).
RUNTIMES = ("native", "onnx")


@dataclass
class ServedModel:
    """A model ready to predict, and what it expects."""

    name: str
    family: str
    estimator: object
    schema: dict
    card: dict
    #: An :class:`~nnvsml.deploy.onnx_format.OnnxModel` when served through ONNX Runtime.
    runner: object | None = None

    @property
    def runtime(self) -> str:
        return "native" if self.runner is None else "onnx"

    @property
    def classes(self) -> list | None:
        return self.schema.get("classes")

    def __post_init__(self) -> None:
        if "request" not in self.schema:  # an export written before requests were described
            self.schema["request"] = request_spec(self.schema)

    def predict_table(self, X: pd.DataFrame) -> pd.DataFrame:
        """``prediction`` and, for a classifier, one ``proba_<class>`` column per class."""
        check_table(self.schema, X)
        return self.predict(X)

    def predict(self, X) -> pd.DataFrame:
        """As :meth:`predict_table`, for input already in the model's layout and checked: a
        table, or the array of images, texts, series or spectrograms of
        :mod:`nnvsml.deploy.inputs` and :mod:`nnvsml.deploy.requests`."""
        labels, proba, classes = self.outputs(X)
        out = pd.DataFrame(index=X.index if isinstance(X, pd.DataFrame) else range(len(X)))
        out["prediction"] = labels
        if classes == [ANOMALY_SCORE]:
            out[ANOMALY_SCORE] = proba[:, 0]
            return out
        for i, label in enumerate(classes):
            out[f"proba_{label}"] = proba[:, i]
        return out

    def outputs_row(self, row: dict) -> tuple[np.ndarray, np.ndarray | None, list]:
        """:meth:`outputs` of one table row given as column -> value (a service's request),
        checked as :func:`check_table` checks a table; through ONNX Runtime without building
        the one-row table where the values are plain numbers and words."""
        check_columns(self.schema, row)
        if self.runner is not None and not self._has_dates:
            answer = self.runner.predict_row(row)
            if answer is not None:
                return self._runner_outputs(*answer)
        X = pd.DataFrame.from_records([row])
        check_table(self.schema, X)
        return self.outputs(X)

    @cached_property
    def _has_dates(self) -> bool:
        # A date column is checked by parsing it (check_table), which needs the table.
        return any(c["kind"] == "datetime" for c in self.schema.get("columns", []))

    def _runner_outputs(self, labels, proba) -> tuple[np.ndarray, np.ndarray | None, list]:
        return np.asarray(labels), proba, [] if proba is None else list(self.runner.classes)

    def outputs(self, X) -> tuple[np.ndarray, np.ndarray | None, list]:
        """The predictions, the probabilities (None for regression) and their classes, as
        arrays: what :meth:`predict` lays out as a table (a service answering one row at a
        time skips the table)."""
        if self.runner is not None:
            return self._runner_outputs(*self.runner.predict(X))
        est = self.estimator
        task = self.schema.get("task")
        if task in ("clustering", "anomaly"):
            from nnvsml.unsupervised.outputs import outputs

            # Cluster ids; or 1 for a flagged row, with its anomaly score (higher: stranger).
            labels, scores = outputs(est, task, X)
            return (labels, None, []) if scores is None else (labels, scores[:, None],
                                                               [ANOMALY_SCORE])
        if self.classes is not None and hasattr(est, "predict_proba"):
            proba = np.asarray(est.predict_proba(X))
            labels = np.asarray(est.classes_)
            return labels[np.argmax(proba, axis=1)], proba, list(labels)
        return np.asarray(est.predict(X)), None, []


class ColumnError(InputError):
    """Data that does not match the schema, and the first column at fault."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


def check_columns(schema: dict, columns) -> None:
    """An :class:`InputError` naming the columns the model needs that ``columns`` lacks."""
    have = {str(c) for c in columns}
    missing = [c["name"] for c in schema.get("columns", []) if c["name"] not in have]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ColumnError(f"the data lacks {len(missing)} column(s) the model needs: {shown}; "
                          "pass data with the columns the model was trained on", missing[0])


def check_table(schema: dict, X: pd.DataFrame) -> None:
    """The columns are there, and a numeric or datetime column holds numbers or dates (or
    nothing): an :class:`InputError` naming the first column at fault otherwise."""
    check_columns(schema, X.columns)
    if not all(isinstance(c, str) for c in X.columns):
        X = X.rename(columns=str)
    # Kinds from the dtypes, once: per column pandas access cost 2.7 ms a request for 30 columns.
    kinds = dict(zip(X.columns, (d.kind for d in X.dtypes)))
    for column in schema.get("columns", []):
        if column["kind"] not in ("numeric", "datetime") or kinds[column["name"]] in "biuf":
            continue  # numbers already (parsing each request's numbers cost 20 ms a row)
        values = X[column["name"]]
        if column["kind"] == "numeric":
            parsed = pd.to_numeric(values, errors="coerce")
        elif column["kind"] == "datetime":
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        else:
            continue
        bad = values[parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")]
        if len(bad):
            raise ColumnError(f"column {column['name']!r} must hold {column['kind']} values; "
                              f"row {bad.index[0]} holds {str(bad.iloc[0])[:40]!r}",
                              column["name"])


#: The column (and answer field) of an anomaly detector's score for each row.
ANOMALY_SCORE = "anomaly_score"


def input_schema(results: dict) -> dict:
    """What new data must look like, from a run's dataset block."""
    ds = results["dataset"]
    columns = [{"name": c["name"], "kind": c["kind"], "dtype": c.get("dtype")}
               for c in ds.get("columns") or [] if c.get("used")]
    # An unsupervised run's evaluation column, when a table to predict still has it, is
    # dropped like a target: no model saw it.
    schema = {"modality": ds["modality"], "task": ds["task"],
              "target": ds.get("target") or ds.get("evaluate_with"),
              "classes": ds.get("classes"), "columns": columns, "input": ds.get("input") or {}}
    return {**schema, "request": request_spec(schema)}


def request_spec(schema: dict) -> dict:
    """What a client of ``nnvsml serve`` sends: the body's key for one example (``key``, to
    ``/v1/predict``) and for a list of them (``batch_key``, to ``/v1/predict/batch``), and
    what each example is."""
    info = schema.get("input") or {}
    modality = schema.get("modality")
    if modality == "image":
        h, w, c = (int(info.get(k) or 1) for k in ("height", "width", "channels"))
        return {"key": "image", "batch_key": "images", "shape": [h, w] if c == 1 else [h, w, c],
                "values": "pixel values from 0 to 255 (rounded to whole numbers), rows first"}
    if modality == "text":
        return {"key": "text", "batch_key": "texts", "values": "a string"}
    if modality == "sequence":
        length, channels = int(info.get("length") or 0), int(info.get("channels") or 1)
        return {"key": "series", "batch_key": "series",
                "shape": [length] if channels == 1 else [channels, length],
                "values": f"numbers; a series shorter than {length} is padded at the end, "
                          "null marks a missing value at the end"}
    if modality == "audio":
        return {"key": "audio_base64", "batch_key": "audio_base64",
                "values": "a WAV file, base64-encoded; resampled to "
                          f"{info.get('sample_rate')} Hz, longer clips cut to "
                          f"{info.get('frames')} frames", "sample_rate": info.get("sample_rate")}
    return {"key": "row", "batch_key": "rows", "values": "column -> value, as in the training "
            "table", "upload": "POST /v1/predict/batch as multipart/form-data with the field "
            "'file': a CSV or Parquet table"}


def model_card(results: dict, entry: dict) -> dict:
    """Dataset, metrics with their intervals, the verdict and the date: what a user of the
    model needs to know about where it came from."""
    verdict = results.get("verdict") or {}
    return {
        "model": entry["name"], "family": entry["family"],
        "description": entry.get("description"),
        "trained": results.get("updated"), "nnvsml_version": results.get("nnvsml_version"),
        "dataset": {k: results["dataset"].get(k)
                    for k in ("name", "modality", "task", "n_rows", "n_features", "target",
                              "fingerprint")},
        "protocol": {k: results["protocol"].get(k)
                     for k in ("seed", "test_fraction", "cv_folds", "primary_metric")},
        "test": entry.get("test"), "test_ci": entry.get("test_ci"),
        "verdict": {"family": verdict.get("family"), "model": verdict.get("model"),
                    "chosen": verdict.get("model") == entry["name"]},
        "formats": entry.get("formats"),
        "params": entry.get("params"),
    }


def entry_of(results: dict, model: str | None) -> dict:
    """The entry of ``model``, by default the verdict's; an error when it did not finish."""
    names = [m["name"] for m in results.get("models", [])]
    if model is None:
        model = (results.get("verdict") or {}).get("model")
        if model is None:
            raise InputError("this run has no verdict yet; pass --model NAME (one of: "
                             f"{', '.join(names) or 'none'})")
    entry = next((m for m in results.get("models", []) if m["name"] == model), None)
    if entry is None:
        raise InputError(f"no model {model!r} in this run; choose one of: {', '.join(names)}")
    if entry["status"] != "ok":
        raise InputError(f"model {model!r} did not finish ({entry['status']}); choose another "
                         "with --model")
    return entry


def safe_files(folder: Path, listing: dict) -> dict[str, Path]:
    """The safe files ``listing`` names (``safe_<role>`` paths and ``safe_<role>_sha256``),
    confined to ``folder`` and checked against their digests."""
    files = {}
    for role in ROLES:
        relative = listing.get(f"safe_{role}")
        if relative is None:
            continue
        path = artifacts.confined(folder, relative)
        if path is None or not path.is_file():
            raise InputError(f"the model's {role} file {relative!r} is missing or outside "
                             f"{folder}; export the model again")
        if artifacts.digest(path) != listing.get(f"safe_{role}_sha256"):
            raise InputError(f"{relative} changed since it was written; export the model again")
        files[role] = path
    if "pipeline" not in files:
        raise InputError("this model has no safe file (see 'formats' in results.json); "
                         "run nnvsml compare again to write one")
    return files


def load(folder: Path | str, model: str | None = None, runtime: str = "native") -> ServedModel:
    """The model of a run directory (the verdict's, or ``model``) or of an export folder,
    computing natively or (``runtime="onnx"``) through its checked ONNX copy."""
    from nnvsml.schema import checked_results

    if runtime not in RUNTIMES:
        raise InputError(f"unknown --runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")
    folder = Path(folder)
    if (folder / CARD).is_file():
        served = _load_export(folder, model)
        if runtime == "onnx":
            served.runner = _onnx_runner(served, *_export_onnx(folder, served.card))
        return served
    if not (folder / "results.json").is_file():
        raise InputError(f"{folder} is neither a run directory (no results.json) nor an "
                         f"exported model (no {CARD}); pass the --out of nnvsml compare")
    results = checked_results(folder / "results.json", "pass a run directory of nnvsml compare")
    entry = entry_of(results, model)
    estimator = _built(safe_files(folder, entry.get("artifacts") or {}))
    served = ServedModel(entry["name"], entry["family"], estimator, input_schema(results),
                         model_card(results, entry))
    if runtime == "onnx":
        from nnvsml.deploy.export import checked_onnx

        path, record = checked_onnx(folder, results, entry["name"])
        served.runner = _onnx_runner(served, path, record.get("scope"))
    return served


def _export_onnx(folder: Path, card: dict) -> tuple[Path, str | None]:
    listing = card.get("files") or {}
    path = artifacts.confined(folder, listing.get("onnx") or "")
    if not listing.get("onnx") or path is None or not path.is_file():
        raise InputError(f"{folder} holds no ONNX copy; export it with --format onnx, or "
                         "serve it with --runtime native")
    if artifacts.digest(path) != listing.get("onnx_sha256"):
        raise InputError(f"{path.name} is not the file that was exported (its SHA-256 "
                         "differs); export the model again")
    return path, (card.get("onnx") or {}).get("scope")


def _onnx_runner(served: ServedModel, path: Path, scope: str | None):
    from nnvsml.deploy.onnx_format import OnnxModel, missing

    reason = missing()
    if reason is not None:
        raise InputError(reason)
    try:
        # threads=0: ONNX Runtime's default, every core for a batch.
        return OnnxModel(path, est=served.estimator if scope == "network" else None,
                         threads=0)
    except Exception as exc:  # onnxruntime raises its own kinds for a broken file
        raise InputError(f"{path.name} does not load in ONNX Runtime "
                         f"({type(exc).__name__}: {str(exc)[:160]}); export the model again") \
            from None


def _load_export(folder: Path, model: str | None) -> ServedModel:
    try:
        card = json.loads((folder / CARD).read_text())
        schema = json.loads((folder / "schema.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder} holds an unreadable {CARD} or schema.json ({exc}); "
                         "export the model again") from None
    if not isinstance(card, dict) or not isinstance(schema, dict):
        raise InputError(f"{folder / CARD} is not a model card; export the model again")
    if model is not None and model != card.get("model"):
        raise InputError(f"{folder} holds model {card.get('model')!r}, not {model!r}")
    estimator = _built(safe_files(folder, card.get("files") or {}))
    return ServedModel(str(card.get("model")), str(card.get("family")), estimator, schema, card)


def _built(files: dict[str, Path]):
    try:
        return safe.load(files)
    except safe.UnsafeModelFile as exc:
        raise InputError(f"{exc}; not loaded") from None
