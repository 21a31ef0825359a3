"""Reading a run directory for the report: results.json and the test-row predictions.

A run directory is untrusted input: results.json must match the schema, a path it names is
followed only inside the run directory, and nothing is unpickled (predictions are read with
``allow_pickle=False``, so a file holding Python objects is treated as unreadable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from nnvsml.artifacts import confined, load_arrays
from nnvsml.errors import InputError
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.ranking import best_of_family
from nnvsml.schema import checked_results
from nnvsml.tasks import TaskSpec, get_task

TRUTH = Path("predictions") / "_truth.npz"
HINT = "pass the --out directory of an 'nnvsml compare' run"


@dataclass
class Predictions:
    y_pred: np.ndarray
    proba: np.ndarray | None  # rows x classes, in the order of the truth file's classes


@dataclass
class Truth:
    y_true: np.ndarray
    classes: list
    #: Unsupervised runs: the test rows in the common space their metrics were computed in.
    space: np.ndarray | None = None
    #: Unsupervised image, series and audio runs: the test rows as they were read.
    rows: np.ndarray | None = None


class Run:
    """One run directory as the report sees it: results.json plus lazily read predictions."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        self.results = read_results(self.dir)

    @property
    def task(self) -> str:
        return self.results["dataset"]["task"]

    @property
    def spec(self) -> TaskSpec:
        """The task's spec (its report sections); InputError for a task this version does not
        know."""
        return get_task(self.task)

    @property
    def metric(self) -> str:
        return self.results["protocol"]["primary_metric"]

    @property
    def higher(self) -> bool:
        return GREATER_IS_BETTER.get(self.metric, True)

    @property
    def models(self) -> list[dict]:
        return self.results.get("models") or []

    @property
    def verdict(self) -> dict | None:
        return self.results.get("verdict") or None

    @property
    def evidence(self) -> dict | None:
        return self.results.get("evidence") or None

    @cached_property
    def best(self) -> dict[str, dict]:
        """Each family's best finished model by CV primary metric (the verdict's choice)."""
        out = {}
        for family in ("traditional", "neural"):
            model = best_of_family(self.models, family, self.metric)
            if model is not None:
                out[family] = model
        return out

    def model(self, name: str | None) -> dict | None:
        return next((m for m in self.models if m.get("name") == name), None)

    @cached_property
    def truth(self) -> Truth | None:
        return read_truth(self.dir)

    def predictions(self, model: dict) -> Predictions | None:
        return read_predictions(self.dir, model)

    def analysis(self, key: str) -> tuple[dict | None, dict | None]:
        """(block, None) for a finished analysis, else (None, {"status", "reason"})."""
        if self.evidence is None:
            return None, {"status": "not run",
                          "reason": "this run has no evidence analyses (runs made before "
                                    "they existed, or stopped before they started)"}
        block = self.evidence.get(key)
        if not isinstance(block, dict):
            return None, {"status": "not run", "reason": "this analysis was not part of the run"}
        if block.get("status") != "ok":
            return None, {"status": block.get("status") or "unknown",
                          "reason": block.get("reason") or "no reason recorded"}
        return block, None


def read_results(run_dir: Path) -> dict:
    """results.json of ``run_dir``, or an InputError that says what to pass instead."""
    if not run_dir.is_dir():
        what = "is a file, not a run directory" if run_dir.exists() else "does not exist"
        raise InputError(f"{run_dir} {what}; {HINT}")
    path = run_dir / "results.json"
    if not path.is_file():
        raise InputError(f"{run_dir} has no results.json; {HINT}")
    # Parts may be missing (a stopped run, an older version): the report says so where they
    # would be drawn. Whatever is there must have the schema's shape.
    results = checked_results(path, HINT, partial=True)
    try:
        results["dataset"]["task"], results["protocol"]["primary_metric"]
    except KeyError:
        raise InputError(f"{path} is not an nnvsml results file (no dataset.task or "
                         f"protocol.primary_metric); {HINT}") from None
    results.setdefault("models", [])
    return results


def read_truth(run_dir: Path) -> Truth | None:
    """The test rows' true labels, or None when the run did not write them."""
    arrays = load_arrays(confined(run_dir, str(TRUTH)))
    if arrays is None or "y_true" not in arrays:
        return None
    classes = arrays.get("classes")
    return Truth(arrays["y_true"], [] if classes is None else classes.tolist(),
                 arrays.get("space"), arrays.get("rows"))


def read_predictions(run_dir: Path, model: dict) -> Predictions | None:
    """A model's test-row predictions, or None when absent, unreadable or outside the run."""
    arrays = load_arrays(confined(run_dir, (model.get("artifacts") or {}).get("predictions")))
    if arrays is None or "y_pred" not in arrays:
        return None
    proba = arrays.get("proba")
    return Predictions(arrays["y_pred"], proba if proba is not None and proba.size else None)
