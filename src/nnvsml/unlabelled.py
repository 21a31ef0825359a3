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
               "valid": _score(model, metric, "cv"), "twin_valid": _score(twin, metric, "cv"),
               "test": _score(model, metric, "test"), "twin_test": _score(twin, metric, "test")}
        row["valid_gain"] = _gain(row["valid"], row["twin_valid"], sign)
        row["test_gain"] = _gain(row["test"], row["twin_test"], sign)
        if twin is None or twin.get("status") != "ok":
            row["note"] = "its twin did not run or did not finish: no gain to measure"
        rows.append(row)
    return {"unlabelled_rows": results["dataset"].get("n_unlabelled"), "pairs": rows}


def _score(entry: dict | None, metric: str, where: str) -> float | None:
    """A finished model's validation mean (``cv``) or test score (``test``)."""
    if not entry or entry.get("status") != "ok":
        return None
    value = (entry.get(where) or {}).get(metric)
    return value.get("mean") if where == "cv" and value else value


def _gain(value: float | None, twin: float | None, sign: float) -> float | None:
    return None if value is None or twin is None else round(sign * (value - twin), 6)
