"""The analyses after the comparison: which models they study, how the time is shared, and
each one run in its own process so that a crash, a hang or an out-of-memory in one is recorded
with its reason while the others go on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nnvsml import timing
from nnvsml.errors import InputError
from nnvsml.evidence import ANALYSES, energy, overfitting
from nnvsml.evidence.worker import AnalysisJob, main
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.models import Candidate
from nnvsml.protocol.runner import run_isolated
from nnvsml.ranking import best_of_family
from nnvsml.tasks import get_task

#: Shares of the analysis time, by what each costs (in refits of the two models; deployability
#: pays for four fresh processes, each importing the model's libraries).
WEIGHTS = {"learning_curve": 0.35, "data_quality": 0.25, "overfitting": 0.15, "gradients": 0.1,
           "explanations": 0.15, "energy": 0.0, "deployability": 0.3}
#: Analyses computed from results.json alone, in this process.
PURE = {"energy"}
NEEDS_NETWORK = {"gradients"}


def check_analyses(value) -> list[str]:
    """``all`` (default), ``none`` or a comma-separated list, validated; in run order."""
    if value is None:
        return list(ANALYSES)
    items = [v.strip() for part in ([value] if isinstance(value, str) else value)
             for v in str(part).split(",") if v.strip()]
    if items in (["all"], []):
        return list(ANALYSES)
    if items == ["none"]:
        return []
    import difflib

    for item in items:
        if item not in ANALYSES:
            close = difflib.get_close_matches(item, ANALYSES, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(f"unknown analysis '{item}' in --analyses; {hint}choose all, none "
                             f"or from: {', '.join(ANALYSES)}")
    return [a for a in ANALYSES if a in items]


def run_evidence(
    results: dict,
    candidates: list[Candidate],
    *,
    run_dir: Path,
    data_path: Path,
    analyses: list[str],
    seconds: float | None,
    seed: int,
    memory_limit_mb: float,
    save: Callable[[dict], None],
    on_start: Callable[[str, float], None] = lambda name, limit: None,
    on_progress: Callable[[str | None], None] | None = None,
    on_end: Callable[[str, dict], None] = lambda name, block: None,
    timed: bool = True,
) -> dict:
    """Run ``analyses`` on the best model of each family; ``save(evidence)`` is called after
    each one so a killed run keeps what finished. Analyses already done for the same models (a
    resumed run) are kept."""
    metric = results["protocol"]["primary_metric"]
    by_name = {c.name: c for c in candidates}
    subjects = {}
    for family in ("traditional", "neural"):
        best = best_of_family(results.get("models", []), family, metric)
        if best is not None and best["name"] in by_name:
            subjects[family] = (by_name[best["name"]], best)
    old = results.get("evidence") or {}
    models = {f: e["name"] for f, (_, e) in subjects.items()}
    evidence = {
        "analyses": analyses, "models": models, "metric": metric,
        "higher_is_better": GREATER_IS_BETTER[metric],
        "scored_on": "the validation rows of the first fold; the test rows are not used",
        "budget_seconds": seconds, "seconds": 0.0,
    }
    if old.get("models") == models:
        evidence.update({a: old[a] for a in analyses
                         if (old.get(a) or {}).get("status") == "ok"})
    started = time.monotonic()
    clock = timing.TimeBudget(seconds, start=started)
    todo = [a for a in analyses if a not in evidence]
    spec = get_task(results["dataset"]["task"])
    applies = set(ANALYSES if spec.analyses is None else spec.analyses)
    weights_left = sum(WEIGHTS[a] for a in todo if a in applies)
    for name in todo:
        if name not in applies:
            evidence[name] = _skipped(f"does not apply to {spec.name} runs yet (it reads a "
                                      "target the models learn from)")
            continue
        if not subjects:
            block = _skipped("no model finished, so there is nothing to analyse")
        elif name in PURE:
            block = energy.estimate(results)
        elif name in NEEDS_NETWORK and "neural" not in subjects:
            block = _skipped("no network finished in this run")
        else:
            # Each analysis sizes its work to its time; none is starved below the floor while
            # the time lasts, and what one leaves unused goes to those after it.
            part = clock.share(WEIGHTS[name] / weights_left if weights_left else 1.0,
                               floor=timing.MIN_ANALYSIS_SECONDS)
            limit = part.seconds if clock.bounded else float("inf")
            if limit < timing.MIN_ANALYSIS_SECONDS:
                block = _skipped(f"the analysis time is spent ({clock.remaining():.0f} s left); "
                                 "raise --analysis-budget")
            else:
                on_start(name, limit)
                block = _run_one(name, subjects, run_dir, data_path, limit, seed,
                                 memory_limit_mb, on_progress, timed)
        weights_left -= WEIGHTS[name]
        if name == "overfitting":
            block["models"] = overfitting.gaps(results)
        if name == "deployability":
            from nnvsml.evidence.deployability import record_formats

            record_formats(results, block)
        evidence[name] = block
        evidence["seconds"] = round(time.monotonic() - started, 3)
        save(evidence)
        on_end(name, block)
    return evidence


def _run_one(name, subjects, run_dir, data_path, limit, seed, memory_limit_mb, on_progress,
             timed) -> dict:
    job = AnalysisJob(name, str(run_dir), str(data_path), subjects, limit, seed, timed)
    outcome = run_isolated(job, memory_limit_mb=memory_limit_mb, on_progress=on_progress,
                           target=main, keep_partial=True)
    block = dict(outcome.result or {})
    if outcome.status == "ok":
        block.setdefault("seconds", round(outcome.wall_seconds, 3))
        return block
    if outcome.status == "timeout" and outcome.result:
        # Anytime: what it measured before its time ran out is its result, said to be partial.
        block.update(status="ok", complete=False, seconds=round(outcome.wall_seconds, 3),
                     stopped=f"its time ran out ({outcome.reason}); what it finished is kept")
        return block
    # What the analysis had finished before it failed is kept, marked with why it stopped.
    block.update(status=outcome.status, reason=outcome.reason,
                 seconds=round(outcome.wall_seconds, 3))
    return block


def _skipped(reason: str) -> dict:
    return {"status": "skipped", "reason": reason, "seconds": 0.0}

