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

from nnvsml.artifacts import confined, load_arrays, plain, save_arrays, sign
from nnvsml.config import RunConfig
from nnvsml.data import Dataset
from nnvsml.evidence.runner import run_evidence
from nnvsml import timing, uncertainty, unlabelled
from nnvsml.models import FAMILIES, Candidate, select
from nnvsml.protocol import Budget, EqualPerFamily, EqualTrials, Protocol, make_protocol
from nnvsml.protocol.executor import get_executor
from nnvsml.protocol.schedule import Schedule
from nnvsml.protocol.worker import Job
from nnvsml.records import Cost, ModelEntry
from nnvsml.results import FINISHED, RunStore
from nnvsml.tuning.effort import tuning_effort
from nnvsml.tuning.storage import default_url, open_storage, redact
from nnvsml.tuning.strategies import get_strategy
from nnvsml.tuning.tuner import TuningPlan
from nnvsml.ranking import best_of_family
from nnvsml.tasks import get_task
from nnvsml.unsupervised.scores import Outputs
from nnvsml.unsupervised.space import common_space
from nnvsml.verdict import decide


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

    def notice(self, message: str) -> None: ...


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
    config: RunConfig,
    *,
    reporter: Reporter | None = None,
    started: float | None = None,
    protocol: Protocol | None = None,
    candidates: list[Candidate] | None = None,
) -> tuple[dict, Path]:
    """Run every candidate under the protocol, then the analyses (``config.analyses``) on each
    family's best, then the verdict and the report. ``config`` holds every option, checked, with
    its data defaults filled in (:meth:`RunConfig.with_data_defaults`). ``started`` (a
    ``time.monotonic()`` reading) is when the budget's clock began, by default now.
    ``config.budget`` may be None only with ``config.trials`` (a run bounded by trial counts, not
    seconds); the analyses get ``config.analysis_budget`` seconds on top (default half the
    budget). ``protocol`` and ``candidates``, when given, are the ones :func:`nnvsml.api.plan`
    made from the same ``dataset`` and ``config``."""
    # Every file of the run is private to its owner, whichever process writes it: datasets can
    # hold personal data.
    previous = os.umask(0o077)
    try:
        return _run(dataset, config, reporter or Reporter(), started, protocol, candidates)
    finally:
        os.umask(previous)


def _run(dataset: Dataset, config: RunConfig, reporter: Reporter, started: float | None,
         protocol: Protocol | None, candidates: list[Candidate] | None) -> tuple[dict, Path]:
    strategy = get_strategy(config.search)
    memory_limit = config.max_memory_mb or 0.8 * psutil.virtual_memory().available / 2**20
    if protocol is None:
        protocol = make_protocol(dataset, seed=config.seed, test_fraction=config.test_fraction,
                                 cv_folds=config.cv_folds, budget_seconds=config.budget,
                                 primary_metric=config.metric, validation=config.validation)
    rule = EqualTrials() if config.trials is not None else EqualPerFamily()
    protocol.search, protocol.trials, protocol.budget_rule = (strategy.name, config.trials,
                                                              rule.name)
    if candidates is None:
        candidates = select(dataset.task, dataset.modality, config.models, config.families,
                            unlabelled=dataset.n_unlabelled > 0)
    dataset.notices.extend(protocol.notices)

    run_dir = Path(config.out) if config.out is not None else default_run_dir(dataset.name)
    store = RunStore(run_dir)
    summary = dataset.summary()
    kept = store.open(summary, protocol.to_dict(), protocol.identity())
    dataset.notices.extend(store.notices)  # finished models whose files are not trusted
    with store.running():
        plan = TuningPlan(strategy=strategy.name, trials=config.trials,
                          storage=config.storage or default_url(run_dir),
                          study_prefix=_study_prefix(dataset.name, summary, protocol))
        if strategy.name != "none" and config.storage is None:
            open_storage(plan.storage)  # the tables exist before the candidates' processes use it
        store.update(protocol={**store.results["protocol"],
                               "search_description": strategy.description,
                               "tuning_storage": _storage_label(config.storage)})
        if config.retry_failed:
            kept = {k: v for k, v in kept.items() if v["status"] == "ok"}
        space = _common_space(dataset, protocol, store)
        data_path = _write_data_cache(run_dir, dataset, protocol, space)
        _write_truth(run_dir, dataset, protocol, space)

        executor = get_executor(config.executor, ray_address=config.ray_address)
        # Processes and imports are paid for here, before any candidate's clock starts.
        executor.start()
        store.update(protocol={**store.results["protocol"], "executor": executor.describe()})
        present = [f for f in FAMILIES if any(c.family == f for c in candidates)]
        spent_before = {f: sum((m.get("cost") or {}).get("wall_seconds") or 0.0
                               for m in kept.values() if m["family"] == f) for f in present}
        budget = Budget(protocol.budget_seconds, present, rule=rule, spent_before=spent_before,
                        started=started, lanes=executor.lanes())
        reporter.start(dataset, protocol, candidates, kept, budget, run_dir)
        holdout = protocol.validation == "holdout"

        def make_job(cand, stage, limit, most, prior, tune=True):
            prior = prior or {}
            return Job(cand, str(run_dir), str(data_path), limit, config.seed, plan,
                       stage=stage, hard_limit=most,
                       start_rows=(prior.get("evaluation") or {}).get("trained_rows"),
                       prior_sha256=(prior.get("artifacts") or {}).get("model_sha256"),
                       prior_fit_seconds=float((prior.get("cost") or {}).get("fit_seconds")
                                               or 0.0),
                       tune=tune)

        schedule = Schedule(
            candidates=candidates, budget=budget, executor=executor, make_job=make_job,
            make_entry=_entry, record=store.record, reporter=reporter,
            memory_limit_mb=memory_limit, metric=protocol.primary_metric,
            n_fits=len(protocol.folds) + (0 if holdout else 1), n_train=len(protocol.train_idx),
            holdout=holdout, streamed=dataset.stream is not None)
        try:
            schedule.run(kept)
        finally:
            executor.close()
        _close_comparison(store, budget, present, dataset, protocol, run_dir, config.seed)
        if config.analyses:
            run_evidence(
                store.results, candidates, run_dir=run_dir, data_path=data_path,
                analyses=list(config.analyses),
                seconds=timing.analysis_seconds(config.budget, config.analysis_budget),
                seed=config.seed, memory_limit_mb=memory_limit,
                save=lambda evidence: store.update(evidence=evidence),
                on_start=reporter.analysis_start, on_progress=reporter.model_progress,
                # Under --trials the analyses run without a clock too (and repeat), unless
                # they are given seconds of their own.
                on_end=reporter.analysis_end,
                timed=config.trials is None or config.analysis_budget is not None)

        preferences = {"priority": config.priority, "constraints": config.constraints}
        store.update(preferences=preferences,
                     verdict=decide(store.results, priority=config.priority,
                                    constraints=config.constraints),
                     status="complete")
        if config.report:
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
    if dataset.X_unlabelled is not None:
        store.update(semi_supervised=unlabelled.gains(store.results))


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
    cost = Cost.from_dict(result.get("cost"))
    cost.wall_seconds = round(wall, 3)
    if peak:
        cost.peak_memory_mb = round(max(peak, cost.peak_memory_mb or 0.0), 1)
    return ModelEntry(
        name=cand.name,
        family=cand.family,
        status=status,
        reason=reason,
        description=cand.description,
        explanations=list(cand.explanations),
        time_limit_seconds=round(limit, 3) if limit != float("inf") else None,
        test=result.get("test") or {},
        test_ci=result.get("test_ci") or {},
        cv=result.get("cv") or {},
        cv_train=result.get("cv_train") or {},
        cost=cost,
        params=result.get("params") or {},
        training=result.get("training"),
        tuning=result.get("tuning"),
        artifacts=_signed(result.get("artifacts") or {}),
        evaluation=result.get("evaluation"),
        validation_blocks=result.get("validation_blocks"),
        formats=result.get("formats"),
        semi_supervised=({"twin": cand.twin, "unlabelled_rows": result.get("unlabelled_rows")}
                         if cand.unlabelled else None),
    ).to_dict()


def _signed(files: dict) -> dict:
    """The artifacts a candidate's process reported, signed by this user: the proof, on a
    later resume, that this user's nnvsml wrote them (see :mod:`nnvsml.artifacts`)."""
    return {**files, "signature": sign(files)} if files.get("model") else files


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
    if any((m.get("test") or {}).get(metric) is None for m in (trad, neur)):
        return None  # undefined on the test rows (e.g. a stability without its refit)
    preds = []
    for model in (trad, neur):
        files = model.get("artifacts") or {}
        arrays = load_arrays(confined(run_dir, files.get("predictions")),
                             files.get("predictions_sha256") or "")
        if arrays is None or "y_pred" not in arrays:
            return None
        proba = arrays.get("proba")
        second = proba if proba is not None and proba.size else None
        if not get_task(dataset.task).supervised:
            truth = load_arrays(run_dir / "predictions" / "_truth.npz")
            if truth is None or "space" not in truth:
                return None
            refit = arrays.get("refit")
            second = Outputs(truth["space"], second, refit if refit is not None and refit.size
                             else None)
        preds.append((arrays["y_pred"], second))
    y_test = plain(np.asarray(dataset.y)[protocol.test_idx])
    classes = None if dataset.classes is None else plain(dataset.classes).tolist()
    out = uncertainty.paired_test(dataset.task, metric, y_test, preds[0], preds[1], classes,
                                  seed=seed)
    return {"traditional_model": trad["name"], "neural_model": neur["name"],
            "traditional": (trad.get("test") or {}).get(metric),
            "neural": (neur.get("test") or {}).get(metric), **out}


def _common_space(dataset: Dataset, protocol: Protocol, store: RunStore) -> np.ndarray | None:
    """An unsupervised task's rows in the space every model is judged in (None otherwise)."""
    if get_task(dataset.task).supervised:
        return None
    space, what, names = common_space(dataset, protocol.train_idx, protocol.seed)
    store.update(protocol={**store.results["protocol"], "metric_space": what,
                           **({"metric_space_columns": names} if names else {})})
    return space


#: The raw test rows of an unsupervised image, series or audio run are kept for the report up
#: to this size (MNIST's 10,000 test images take 7.8 MB).
TRUTH_ROWS_MAX_BYTES = 32 * 2**20


def _write_truth(run_dir: Path, dataset: Dataset, protocol: Protocol,
                 space: np.ndarray | None = None) -> None:
    """The test rows' true labels beside the models' predictions, for the report's confusion
    matrices, ROC curves and residuals (it never reads the data again); for an unsupervised
    task, the evaluation column (or missing values) and the test rows in the common space."""
    extra = {}
    if space is not None:
        extra["space"] = space[protocol.test_idx]
        # The report draws the top anomalies as what they are: images, series, spectrograms.
        if dataset.modality in ("image", "sequence", "audio") and isinstance(dataset.X,
                                                                             np.ndarray):
            rows = dataset.X[protocol.test_idx]
            if rows.nbytes <= TRUTH_ROWS_MAX_BYTES:
                extra["rows"] = rows
    save_arrays(run_dir / "predictions" / "_truth.npz",
                y_true=np.asarray(dataset.y)[protocol.test_idx],
                classes=np.asarray(dataset.classes if dataset.classes is not None else []),
                **extra)


def _write_data_cache(run_dir: Path, dataset: Dataset, protocol: Protocol,
                      space: np.ndarray | None = None) -> Path:
    """The prepared rows and the split, written once for the candidate processes to read."""
    cache = run_dir / ".cache"  # made private by RunStore.open, like every sub-folder
    path = cache / "data.joblib"
    tmp = cache / f".data.{os.getpid()}.tmp"
    joblib.dump({
        "X": dataset.X, "y": np.asarray(dataset.y), "task": dataset.task,
        "classes": dataset.classes, "kinds": dataset.kinds(),
        "modality": dataset.modality, "info": dataset.info,
        "train_idx": protocol.train_idx, "test_idx": protocol.test_idx, "folds": protocol.folds,
        "validation": protocol.validation,
        "tuning_split": protocol.tuning_split, "metric": protocol.primary_metric,
        "stream": dataset.stream, "space": space, "X_unlabelled": dataset.X_unlabelled,
    }, tmp)
    os.replace(tmp, path)
    return path


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "data"
