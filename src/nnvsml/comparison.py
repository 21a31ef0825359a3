"""The run, in one direction: dataset -> protocol -> candidates -> results -> verdict.

:func:`run_comparison` owns the order of events; what each step does lives in its own module.
Progress is reported through a :class:`Reporter`, so the same run drives the Rich display of the
command line, a silent Python call, or a test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import joblib
import numpy as np
import psutil

from nnvsml.data import Dataset
from nnvsml.models import FAMILIES, Candidate, select
from nnvsml.protocol import Budget, Protocol, make_protocol
from nnvsml.protocol.runner import run_isolated, warm_up
from nnvsml.protocol.worker import Job
from nnvsml.results import FINISHED, RunStore, make_private_dir
from nnvsml.verdict import decide

#: A candidate offered less time than this is skipped rather than started only to be killed.
MIN_CANDIDATE_SECONDS = 2.0


class Reporter:
    """Receives the events of a run; every method is optional."""

    def start(self, dataset: Dataset, protocol: Protocol, candidates: list[Candidate],
              kept: dict[str, dict], budget: Budget, run_dir: Path) -> None: ...

    def model_start(self, candidate: Candidate, time_limit: float) -> None: ...

    def model_progress(self, message: str | None) -> None: ...

    def model_end(self, entry: dict) -> None: ...

    def finish(self, results: dict, run_dir: Path) -> None: ...


def default_run_dir(name: str, root: Path = Path("nnvsml-runs")) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{_safe(name)}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{_safe(name)}-{stamp}-{n}"
    return path


def run_comparison(
    dataset: Dataset,
    *,
    budget_seconds: float,
    seed: int = 0,
    out: str | Path | None = None,
    models=None,
    families=None,
    cv_folds: int = 5,
    test_fraction: float = 0.2,
    metric: str | None = None,
    max_memory_mb: float | None = None,
    retry_failed: bool = False,
    reporter: Reporter | None = None,
    started: float | None = None,
    validation: str = "auto",
) -> tuple[dict, Path]:
    """Run every candidate under the protocol; ``started`` (a ``time.monotonic()`` reading) is
    when the budget's clock began, by default now."""
    reporter = reporter or Reporter()
    memory_limit = max_memory_mb or 0.8 * psutil.virtual_memory().available / 2**20
    protocol = make_protocol(dataset, seed=seed, test_fraction=test_fraction, cv_folds=cv_folds,
                             budget_seconds=budget_seconds, primary_metric=metric,
                             validation=validation)
    candidates = select(dataset.task, dataset.modality, models, families)
    dataset.notices.extend(protocol.notices)

    run_dir = Path(out) if out is not None else default_run_dir(dataset.name)
    store = RunStore(run_dir)
    kept = store.open(dataset.summary(), protocol.to_dict(), protocol.identity())
    if retry_failed:
        kept = {k: v for k, v in kept.items() if v["status"] == "ok"}
    data_path = _write_data_cache(run_dir, dataset, protocol)

    warm_up()
    present = [f for f in FAMILIES if any(c.family == f for c in candidates)]
    spent_before = {f: sum((m.get("cost") or {}).get("wall_seconds") or 0.0
                           for m in kept.values() if m["family"] == f) for f in present}
    budget = Budget(protocol.budget_seconds, present, spent_before=spent_before, started=started)
    reporter.start(dataset, protocol, candidates, kept, budget, run_dir)

    try:
        for family in present:
            todo = [c for c in candidates if c.family == family and c.name not in kept]
            for i, cand in enumerate(todo):
                limit = budget.limit_for(family, len(todo) - i)
                if limit < MIN_CANDIDATE_SECONDS:
                    entry = _entry(cand, "skipped", f"budget exhausted ({limit:.1f} s left for it); "
                                   "raise --budget", limit, None, 0.0, 0.0)
                else:
                    reporter.model_start(cand, limit)
                    outcome = run_isolated(
                        Job(cand, str(run_dir), str(data_path), limit, seed),
                        memory_limit_mb=memory_limit,
                        on_progress=reporter.model_progress,
                    )
                    budget.record(family, outcome.wall_seconds)
                    entry = _entry(cand, outcome.status, outcome.reason, limit, outcome.result,
                                   outcome.wall_seconds, outcome.peak_memory_mb)
                store.record(entry)
                reporter.model_end(entry)
    except KeyboardInterrupt:
        store.update(status="interrupted")
        raise

    budget_block = budget.to_dict()
    protocol_block = {**store.results["protocol"], "families": present, "budget": budget_block,
                      "budget_spent": budget_block["spent"],
                      "wall_seconds": round(budget.elapsed(), 3)}
    store.update(protocol=protocol_block)
    store.update(verdict=decide(store.results), status="complete")
    reporter.finish(store.results, run_dir)
    return store.results, run_dir


def _entry(cand: Candidate, status: str, reason: str | None, limit: float, result: dict | None,
           wall: float, peak: float) -> dict:
    assert status in FINISHED
    result = result or {}
    cost = {"fit_seconds": None, "cpu_seconds": None, "predict_ms_per_1k": None,
            "peak_memory_mb": None, "model_size_kb": None, **(result.get("cost") or {})}
    cost["wall_seconds"] = round(wall, 3)
    if peak:
        cost["peak_memory_mb"] = round(max(peak, cost["peak_memory_mb"] or 0.0), 1)
    return {
        "name": cand.name,
        "family": cand.family,
        "status": status,
        "reason": reason,
        "description": cand.description,
        "time_limit_seconds": round(limit, 3),
        "test": result.get("test") or {},
        "cv": result.get("cv") or {},
        "cost": cost,
        "params": result.get("params") or {},
        "training": result.get("training"),
        "artifacts": result.get("artifacts") or {},
    }


def _write_data_cache(run_dir: Path, dataset: Dataset, protocol: Protocol) -> Path:
    """The prepared rows and the split, written once for the candidate processes to read."""
    cache = make_private_dir(run_dir / ".cache")
    path = cache / "data.joblib"
    tmp = cache / f".data.{os.getpid()}.tmp"
    joblib.dump({
        "X": dataset.X, "y": np.asarray(dataset.y), "task": dataset.task,
        "classes": dataset.classes, "kinds": dataset.kinds(),
        "modality": dataset.modality, "info": dataset.info,
        "train_idx": protocol.train_idx, "test_idx": protocol.test_idx, "folds": protocol.folds,
        "validation": protocol.validation,
    }, tmp)
    os.replace(tmp, path)
    return path


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "data"
