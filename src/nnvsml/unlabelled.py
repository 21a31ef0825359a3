"""What the unlabelled rows bought (``--unlabeled use``): each semi-supervised model against its
supervised twin, the same model trained on the labelled rows alone, under the same protocol
(same folds, same test rows, same budget rule).

The ``semi_supervised`` block of results.json: the unlabelled rows, the primary metric, and per
pair the validation means and the test scores of both, and the gains (semi-supervised minus
twin; for a metric where lower is better, twin minus semi-supervised, so that a gain is always
good news).
"""

from __future__ import annotations

from nnvsml.tasks import get_task


def gains(results: dict) -> dict | None:
    """The ``semi_supervised`` block, or None when no model learnt from unlabelled rows."""
    models = {m["name"]: m for m in results.get("models", [])}
    pairs = [m for m in models.values() if m.get("semi_supervised")]
    if not pairs:
        return None
    metric = results["protocol"]["primary_metric"]
    greater = get_task(results["dataset"]["task"]).greater_is_better.get(metric, True)
    sign = 1.0 if greater else -1.0
    rows = []
    for model in pairs:
        twin = models.get(model["semi_supervised"]["twin"])
        row = {"model": model["name"], "family": model["family"],
               "twin": model["semi_supervised"]["twin"], "metric": metric,
               "valid": _valid(model, metric), "twin_valid": _valid(twin, metric),
               "test": _test(model, metric), "twin_test": _test(twin, metric)}
        row["valid_gain"] = _gain(row["valid"], row["twin_valid"], sign)
        row["test_gain"] = _gain(row["test"], row["twin_test"], sign)
        if twin is None or twin.get("status") != "ok":
            row["note"] = "its twin did not run or did not finish: no gain to measure"
        rows.append(row)
    return {"unlabelled_rows": results["dataset"].get("n_unlabelled"), "pairs": rows}


def _valid(entry: dict | None, metric: str) -> float | None:
    if not entry or entry.get("status") != "ok":
        return None
    return (entry.get("cv") or {}).get(metric, {}).get("mean")


def _test(entry: dict | None, metric: str) -> float | None:
    if not entry or entry.get("status") != "ok":
        return None
    return (entry.get("test") or {}).get(metric)


def _gain(value: float | None, twin: float | None, sign: float) -> float | None:
    return None if value is None or twin is None else round(sign * (value - twin), 6)
