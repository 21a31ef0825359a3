"""The run, in one direction: dataset -> protocol -> candidates -> results -> verdict.

:func:`run_comparison` owns the order of events; what each step does lives in its own module.
Progress is reported through a :class:`Reporter`, so the same run drives the Rich display of the
command line, a silent Python call, or a test.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import joblib
import numpy as np
import psutil

from nnvsml.data import Dataset
from nnvsml.evidence import ANALYSES
from nnvsml.evidence.runner import analysis_seconds, run_evidence
from nnvsml import uncertainty
from nnvsml.models import FAMILIES, Candidate, select
from nnvsml.protocol import Budget, EqualPerFamily, EqualTrials, Protocol, make_protocol
from nnvsml.protocol.runner import run_isolated, warm_up
from nnvsml.protocol.worker import Job
from nnvsml.results import FINISHED, RunStore, make_private_dir
from nnvsml.tuning.effort import tuning_effort
from nnvsml.tuning.storage import default_url, open_storage, redact
from nnvsml.tuning.strategies import DEFAULT_STRATEGY, get_strategy
from nnvsml.tuning.tuner import TuningPlan
from nnvsml.verdict import best_of_family, decide

#: A candidate offered less time than this is skipped rather than started only to be killed.
MIN_CANDIDATE_SECONDS = 2.0


class Reporter:
    """Receives the events of a run; every method is optional."""

    def start(self, dataset: Dataset, protocol: Protocol, candidates: list[Candidate],
              kept: dict[str, dict], budget: Budget, run_dir: Path) -> None: ...

    def model_start(self, candidate: Candidate, time_limit: float) -> None: ...

    def model_progress(self, message: str | None) -> None: ...

    def model_end(self, entry: dict) -> None: ...

    def analysis_start(self, name: str, time_limit: float) -> None: ...

    def analysis_end(self, name: str, block: dict) -> None: ...

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
    budget_seconds: float | None,
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
    search: str = DEFAULT_STRATEGY,
    trials: int | None = None,
    storage: str | None = None,
    analyses: list[str] | None = None,
    analysis_budget: float | None = None,
    priority: str = "accuracy",
    constraints: dict | None = None,
    report: bool = True,
) -> tuple[dict, Path]:
    """Run every candidate under the protocol, then the analyses (``analyses``, default all)
    on each family's best, then the verdict and the report. ``started`` (a
    ``time.monotonic()`` reading) is when the budget's clock began, by default now.
    ``budget_seconds`` may be None only with ``trials`` (a run bounded by trial counts, not
    seconds); the analyses get ``analysis_budget`` seconds on top (default half the budget)."""
    reporter = reporter or Reporter()
    strategy = get_strategy(search)
    memory_limit = max_memory_mb or 0.8 * psutil.virtual_memory().available / 2**20
    protocol = make_protocol(dataset, seed=seed, test_fraction=test_fraction, cv_folds=cv_folds,
                             budget_seconds=budget_seconds, primary_metric=metric,
                             validation=validation)
    rule = EqualTrials() if trials is not None else EqualPerFamily()
    protocol.search, protocol.trials, protocol.budget_rule = strategy.name, trials, rule.name
    candidates = select(dataset.task, dataset.modality, models, families)
    dataset.notices.extend(protocol.notices)

    run_dir = Path(out) if out is not None else default_run_dir(dataset.name)
    store = RunStore(run_dir)
    summary = dataset.summary()
    kept = store.open(summary, protocol.to_dict(), protocol.identity())
    plan = TuningPlan(strategy=strategy.name, trials=trials,
                      storage=storage or default_url(run_dir),
                      study_prefix=_study_prefix(dataset.name, summary, protocol))
    if strategy.name != "none" and storage is None:
        open_storage(plan.storage)  # the tables exist before the candidates' processes open it
    store.update(protocol={**store.results["protocol"],
                           "search_description": strategy.description,
                           "tuning_storage": _storage_label(storage)})
    if retry_failed:
        kept = {k: v for k, v in kept.items() if v["status"] == "ok"}
    data_path = _write_data_cache(run_dir, dataset, protocol)
    _write_truth(run_dir, dataset, protocol)

    warm_up()
    present = [f for f in FAMILIES if any(c.family == f for c in candidates)]
    spent_before = {f: sum((m.get("cost") or {}).get("wall_seconds") or 0.0
                           for m in kept.values() if m["family"] == f) for f in present}
    budget = Budget(protocol.budget_seconds, present, rule=rule, spent_before=spent_before,
                    started=started)
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
                        Job(cand, str(run_dir), str(data_path), limit, seed, plan),
                        memory_limit_mb=memory_limit,
                        on_progress=reporter.model_progress,
                    )
                    budget.record(family, outcome.wall_seconds)
                    entry = _entry(cand, outcome.status, outcome.reason, limit, outcome.result,
                                   outcome.wall_seconds, outcome.peak_memory_mb)
                store.record(entry)
                reporter.model_end(entry)
        _close_comparison(store, budget, present, dataset, protocol, run_dir, seed)
        if analyses is None:
            analyses = list(ANALYSES)
        if analyses:
            run_evidence(
                store.results, candidates, run_dir=run_dir, data_path=data_path,
                analyses=analyses, seconds=analysis_seconds(budget_seconds, analysis_budget),
                seed=seed, memory_limit_mb=memory_limit,
                save=lambda evidence: store.update(evidence=evidence),
                on_start=reporter.analysis_start, on_progress=reporter.model_progress,
                # Under --trials the analyses run without a clock too (and repeat), unless
                # they are given seconds of their own.
                on_end=reporter.analysis_end, timed=trials is None or analysis_budget is not None)
    except KeyboardInterrupt:
        store.update(status="interrupted")
        raise

    preferences = {"priority": priority, "constraints": constraints or {}}
    store.update(preferences=preferences,
                 verdict=decide(store.results, priority=priority, constraints=constraints),
                 status="complete")
    if report:
        _write_report(store, run_dir)
    reporter.finish(store.results, run_dir)
    return store.results, run_dir


def _close_comparison(store: RunStore, budget: Budget, present: list[str], dataset: Dataset,
                      protocol: Protocol, run_dir: Path, seed: int) -> None:
    """Once every candidate has finished: where the time went, the test-row comparison of the
    families' best and the tuning effort."""
    budget_block = budget.to_dict()
    budget_block["by_family"] = _spending(store.results["models"], budget_block)
    protocol_block = {**store.results["protocol"], "families": present, "budget": budget_block,
                      "budget_spent": budget_block["spent"],
                      "wall_seconds": round(budget.elapsed(), 3)}
    store.update(protocol=protocol_block)
    store.update(test_comparison=_test_comparison(store.results, dataset, protocol, run_dir, seed),
                 tuning_effort=tuning_effort(store.results))


def _write_report(store: RunStore, run_dir: Path) -> None:
    """report.html beside results.json. A report that cannot be drawn is recorded, and the run
    (already saved) stands: ``nnvsml report RUN_DIR`` can try again."""
    from nnvsml.report import build_report

    start = time.monotonic()
    try:
        path = build_report(run_dir)
        store.update(report={"status": "ok", "path": path.name,
                             "seconds": round(time.monotonic() - start, 3)})
    except Exception as exc:  # noqa: BLE001  (any failure of drawing: the results are safe)
        store.update(report={"status": "failed", "reason": f"{type(exc).__name__}: {exc}"})


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
        "explanations": list(cand.explanations),
        "time_limit_seconds": round(limit, 3) if limit != float("inf") else None,
        "test": result.get("test") or {},
        "test_ci": result.get("test_ci") or {},
        "cv": result.get("cv") or {},
        "cv_train": result.get("cv_train") or {},
        "cost": cost,
        "params": result.get("params") or {},
        "training": result.get("training"),
        "tuning": result.get("tuning"),
        "artifacts": result.get("artifacts") or {},
    }


def _study_prefix(name: str, summary: dict, protocol: Protocol) -> str:
    """Names a run's studies: the same data and protocol give the same names, so machines that
    share a --storage database share the studies; anything else gives new ones."""
    key = json.dumps([summary.get("fingerprint"), protocol.identity()], sort_keys=True,
                     default=str)
    return f"{_safe(name)}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _storage_label(storage: str | None) -> str:
    if storage is None:
        return "sqlite file tuning.db in the run directory"
    return redact(storage)


def _spending(models: list[dict], budget_block: dict) -> dict:
    """How each family's seconds went: planned, spent, and spent tuning vs evaluating."""
    out = {}
    for family, spent in budget_block["spent"].items():
        tuning = sum(((m.get("tuning") or {}).get("seconds") or 0.0)
                     for m in models if m["family"] == family)
        out[family] = {"planned": budget_block["planned"].get(family), "spent": spent,
                       "tuning": round(tuning, 3), "other": round(max(0.0, spent - tuning), 3),
                       "models": sum(m["family"] == family for m in models)}
    return out


def _test_comparison(results: dict, dataset: Dataset, protocol: Protocol, run_dir: Path,
                     seed: int) -> dict | None:
    """The two families' best models (by validation score, as the verdict picks them) compared
    on the test rows: a paired bootstrap interval of the difference and McNemar's test (or the
    bootstrap's p-value for regression)."""
    metric = protocol.primary_metric
    trad = best_of_family(results["models"], "traditional", metric)
    neur = best_of_family(results["models"], "neural", metric)
    if trad is None or neur is None:
        return None
    preds = []
    for model in (trad, neur):
        path = run_dir / (model.get("artifacts") or {}).get("predictions", "")
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=True) as f:
            proba = f["proba"] if f["proba"].size else None
            preds.append((f["y_pred"], proba))
    y_test = np.asarray(dataset.y)[protocol.test_idx]
    out = uncertainty.paired_test(dataset.task, metric, y_test, preds[0], preds[1],
                                  dataset.classes, seed=seed)
    return {"traditional_model": trad["name"], "neural_model": neur["name"],
            "traditional": (trad.get("test") or {}).get(metric),
            "neural": (neur.get("test") or {}).get(metric), **out}


def _write_truth(run_dir: Path, dataset: Dataset, protocol: Protocol) -> None:
    """The test rows' true labels beside the models' predictions, for the report's confusion
    matrices, ROC curves and residuals (it never reads the data again)."""
    path = run_dir / "predictions" / "_truth.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, y_true=np.asarray(dataset.y)[protocol.test_idx],
                        classes=np.asarray(dataset.classes if dataset.classes is not None else []))


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
        "tuning_split": protocol.tuning_split, "metric": protocol.primary_metric,
    }, tmp)
    os.replace(tmp, path)
    return path


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "data"
