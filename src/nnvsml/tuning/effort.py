"""Evidence for the claim that networks need heavier tuning: per family, how much the tuning
score rose over the defaults as tuning seconds were spent, read from the trial histories.

A pure function of results.json: nothing here trains.
"""

from __future__ import annotations

from nnvsml.metrics import GREATER_IS_BETTER

#: Points of the effort curve per family, evenly spaced up to its longest tuning.
CURVE_POINTS = 11


def tuning_effort(results: dict) -> dict | None:
    """``{"metric", "families": {family: {...}}}``, or None when nothing was tuned.

    Per family: the models tuned, their trials and seconds, the mean gain of the best trial over
    the defaults on the tuning rows (positive = better, whatever the metric's direction), and
    ``curve``: ``[[seconds, mean gain of the best trial so far], ...]``, where a model that had
    not finished a trial by then counts as its defaults.
    """
    from nnvsml.tasks import get_task

    # The metric the trials were scored on: the primary one, or the task's label-free one.
    metric = get_task(results["dataset"]["task"]).tuned_on(results["protocol"]["primary_metric"])
    if metric is None:
        return None
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    families = {}
    for family in ("traditional", "neural"):
        tuned = [m for m in results.get("models", [])
                 if m["family"] == family and m["status"] == "ok" and _tuned(m)]
        if not tuned:
            continue
        curves = [_gains(m["tuning"], sign) for m in tuned]
        horizon = max(m["tuning"]["seconds"] for m in tuned)
        grid = [horizon * i / (CURVE_POINTS - 1) for i in range(CURVE_POINTS)]
        curve = [[round(t, 3), round(sum(_at(c, t) for c in curves) / len(curves), 6)]
                 for t in grid]
        finals = [c[-1][1] if c else 0.0 for c in curves]
        families[family] = {
            "models": len(tuned),
            "trials": sum(m["tuning"]["trials"] for m in tuned),
            "seconds": round(sum(m["tuning"]["seconds"] for m in tuned), 3),
            "mean_gain": round(sum(finals) / len(finals), 6),
            "max_gain": round(max(finals), 6),
            "gain_by_model": {m["name"]: round(g, 6) for m, g in zip(tuned, finals)},
            "curve": curve,
        }
    if not families:
        return None
    return {"metric": metric, "measured_on": "the tuning rows (not the test rows)",
            "families": families}


def _tuned(model: dict) -> bool:
    t = model.get("tuning") or {}
    return t.get("strategy", "none") != "none" and t.get("default_score") is not None \
        and bool(t.get("history"))


def _gains(tuning: dict, sign: float) -> list[tuple[float, float]]:
    """(seconds, best-so-far gain over the defaults) after each completed trial."""
    default = tuning["default_score"]
    best, out = None, []
    for seconds, score in tuning["history"]:
        gain = sign * (score - default)
        best = gain if best is None else max(best, gain)
        out.append((seconds, best))
    return out


def _at(curve: list[tuple[float, float]], t: float) -> float:
    value = 0.0  # the defaults, until a trial has finished
    for seconds, gain in curve:
        if seconds <= t + 1e-9:
            value = max(value, gain)
    return value
