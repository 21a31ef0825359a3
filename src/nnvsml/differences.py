"""The two families side by side: one row per dimension on which they are said to differ.

Each row compares the families' best models (by cross-validated primary metric, whatever the
user's constraints: the table describes the families, not the filtered choice) on one measured
quantity, and says which family is better on it. Costs within ``COST_BAND`` of each other, and
scores within ``SCORE_BAND`` of the scale of the scores, count as the same: one timing's noise
is not a difference. A quantity that was not measured is ``None``, shown as "not measured" with
the analysis that would measure it. A pure function of the results, like the verdict.
"""

from __future__ import annotations

from nnvsml.metrics import GREATER_IS_BETTER

#: Explanations a model carries in itself, as opposed to post-hoc ones (gradients, attention).
INTRINSIC = frozenset({"coefficients", "rules", "importances", "tree_shap", "class_means"})
#: Cost ratios inside this band are treated as equal (one timing's noise).
COST_BAND = 1.25
#: Score differences within this share of the scores' magnitude are treated as equal.
SCORE_BAND = 0.01
FAMILIES = ("traditional", "neural")
NOT_MEASURED = "not measured"

#: (key, label), in the order of the claims in GUIDE.md.
DIMENSIONS = (
    ("accuracy", "Accuracy"),
    ("data_needed", "Data needed"),
    ("noise_sensitivity", "Sensitivity to noisy data"),
    ("training_time", "Training time"),
    ("inference_latency", "Inference latency"),
    ("memory", "Peak memory"),
    ("model_size", "Model size"),
    ("energy", "Energy"),
    ("deployability", "Deployability"),
    ("tuning_effort", "Tuning effort"),
    ("interpretability", "Interpretability"),
    ("feature_engineering", "Feature engineering"),
)


def key_differences(results: dict, best: dict, comparison: dict | None = None) -> list[dict]:
    """One row per dimension of :data:`DIMENSIONS`, comparing ``best["traditional"]`` with
    ``best["neural"]`` (either may be None). ``comparison`` is the verdict's paired test between
    those two models; without it the accuracy row cannot say which is better.

    Row: ``{"dimension", "label", "traditional", "neural", "traditional_value", "neural_value",
    "better": "traditional" | "neural" | "same" | None, "note"}``.
    """
    evidence = results.get("evidence") or {}
    metric = results["protocol"]["primary_metric"]
    rows = []
    for key, label in DIMENSIONS:
        row = _ROWS[key](results, best, evidence, metric, comparison)
        rows.append({"dimension": key, "label": label, **row})
    return rows


# -- one function per dimension ----------------------------------------------------------------
def _accuracy(results, best, evidence, metric, comparison):
    values = {f: _cv(best[f], metric) for f in FAMILIES}
    texts = {}
    for f in FAMILIES:
        m = best[f]
        if values[f] is None:
            texts[f] = NOT_MEASURED
            continue
        std = m["cv"][metric].get("std")
        test = (m.get("test") or {}).get(metric)
        texts[f] = (f"{m['name']}: CV {values[f]:.3f}"
                    + (f" ± {std:.3f}" if std is not None else "")
                    + (f", test {test:.3f}" if test is not None else ""))
    better, note = None, _missing_model_note(best) or ""
    if comparison is not None and None not in values.values():
        p, alpha = comparison["p_value"], comparison["alpha"]
        if p < alpha and comparison["difference"] != 0:
            better = _direction(values["traditional"], values["neural"], GREATER_IS_BETTER[metric])
            note = f"{metric}; the difference is significant (p = {p:.2g} < {alpha})"
        else:
            better = "same"
            note = f"{metric}; the difference is inside the noise (p = {p:.2g} >= {alpha})"
    return _cells(texts, values, better, note)


def _data_needed(results, best, evidence, metric, comparison):
    block = _ok(evidence, "learning_curve")
    if block is None:
        return _unmeasured("learning_curve", evidence)
    fams = block.get("families") or {}
    values, texts, stds = {}, {}, {}
    for f in FAMILIES:
        points = (fams.get(f) or {}).get("points") or []
        if not points or points[0].get("mean") is None:
            values[f], texts[f] = None, NOT_MEASURED
            continue
        first = points[0]
        values[f], stds[f] = first["mean"], first.get("std") or 0.0
        fit = (fams[f].get("fit") or {})
        texts[f] = (f"{first['mean']:.3f} with {first['size']:,} rows"
                    + (f" (learning-curve exponent b = {fit['b']:.2f})" if fit.get("b") is not None
                       else ""))
    better = None
    if None not in (values.get("traditional"), values.get("neural")):
        # Equal within the repeats' spread at that size: the curves cannot tell them apart.
        tol = max(stds.values())
        higher = evidence.get("higher_is_better", GREATER_IS_BETTER[metric])
        better = _direction(values["traditional"], values["neural"], higher, tol)
    crossing = (block.get("crossing") or {}).get("sentence")
    note = f"{block.get('metric', metric)} at the smallest training size (higher b = learns faster)"
    return _cells(texts, values, better, note + (f"; {crossing}" if crossing else ""))


def _noise_sensitivity(results, best, evidence, metric, comparison):
    block = _ok(evidence, "data_quality")
    if block is None:
        return _unmeasured("data_quality", evidence)
    drops = {f: {} for f in FAMILIES}
    for kind, p in (block.get("perturbations") or {}).items():
        for f in FAMILIES:
            d = (p.get("drop") or {}).get(f)
            if d is not None:
                drops[f][kind] = d
    values = {f: (sum(drops[f].values()) / len(drops[f]) if drops[f] else None) for f in FAMILIES}
    texts = {f: (f"mean drop {values[f]:+.3f}" if values[f] is not None else NOT_MEASURED)
             for f in FAMILIES}
    # A drop is a score difference: the same counts as a score (a share of the scores' scale).
    better = _direction(values["traditional"], values["neural"], False,
                        SCORE_BAND * _scale(best, metric))
    kinds = sorted(set(drops["traditional"]) | set(drops["neural"]))
    per_kind = "; ".join(
        f"{k} " + " vs ".join(_signed(drops[f].get(k)) for f in FAMILIES) for k in kinds)
    note = ("score lost at the strongest perturbation (positive = worse), traditional vs "
            "neural" + (f": {per_kind}" if per_kind else ""))
    return _cells(texts, values, better, note)


def _training_time(results, best, evidence, metric, comparison):
    values = {f: _cost(best[f], "fit_seconds") for f in FAMILIES}
    return _cost_cells(values, lambda v: f"{_num(v)} s to fit", "fit seconds of the final model",
                       best)


def _inference_latency(results, best, evidence, metric, comparison):
    latency = {f: _cost(best[f], "latency_ms") for f in FAMILIES}
    if None not in latency.values():
        return _cost_cells(latency, lambda v: f"{_num(v)} ms per row",
                           "single-row prediction latency", best)
    # Batch and single-row timings differ by the per-call overhead: never mix the two.
    batch = {f: _cost(best[f], "predict_ms_per_1k") for f in FAMILIES}
    return _cost_cells(batch, lambda v: f"{_num(v)} ms per 1,000 rows",
                       "batch prediction time (single-row latency not measured)", best)


def _memory(results, best, evidence, metric, comparison):
    values = {f: _cost(best[f], "peak_memory_mb") for f in FAMILIES}
    return _cost_cells(values, lambda v: f"{_num(v)} MB peak", "peak memory of the training "
                       "process", best)


def _model_size(results, best, evidence, metric, comparison):
    values = {f: _cost(best[f], "model_size_kb") for f in FAMILIES}
    return _cost_cells(values, _size, "size of the saved model (compressed)", best)


def _energy(results, best, evidence, metric, comparison):
    block = _ok(evidence, "energy")
    if block is None:
        return _unmeasured("energy", evidence)
    by_name = {e.get("name"): e for e in block.get("models") or []}
    values, texts = {}, {}
    for f in FAMILIES:
        e = by_name.get((best[f] or {}).get("name"))
        if e is None or e.get("fit_wh") is None:
            values[f], texts[f] = None, NOT_MEASURED
            continue
        per_1k = e.get("predict_wh_per_1k") or 0.0
        values[f] = e["fit_wh"] + per_1k
        texts[f] = f"{_num(e['fit_wh'])} Wh to fit + {_num(per_1k)} Wh per 1,000 predictions"
    note = "estimated energy to fit and serve 1,000 predictions"
    text = (block.get("power_model") or {}).get("text")
    return _cells(texts, values, _lower_cost(values["traditional"], values["neural"]),
                  note + (f" ({text})" if text else ""))


def _deployability(results, best, evidence, metric, comparison):
    block = _ok(evidence, "deployability")
    if block is None:
        return _unmeasured("deployability", evidence)
    records = {r.get("model"): r for r in (block.get("models") or {}).values()}
    values, texts = {}, {}
    for f in FAMILIES:
        record = records.get((best[f] or {}).get("name")) or {}
        routes = [(name, r) for name, r in (record.get("routes") or {}).items()
                  if r.get("status") == "ok" and r.get("p50_ms") is not None]
        if not routes:
            values[f], texts[f] = None, NOT_MEASURED
            continue
        route, r = min(routes, key=lambda nr: nr[1]["p50_ms"])
        size = ((record.get("formats") or {}).get("safe" if route == "native" else "onnx")
                or {}).get("size_kb")
        values[f] = r["p50_ms"]
        texts[f] = (f"{_ROUTE[route]}: {_num(r['p50_ms'])} ms p50 ({_num(r['p99_ms'])} p99), "
                    f"{_num(r['rows_per_s'])} rows/s, cold start {_num(r['cold_start_s'])} s"
                    + (f", {_size(size)}" if size is not None else ""))
    note = (f"served from its files in a fresh process on {block.get('threads', 1)} thread(s): "
            "the faster of the model's own predict and ONNX Runtime (when the ONNX copy predicts "
            "what the model does); cold start = process start to first answer")
    return _cells(texts, values, _lower_cost(values["traditional"], values["neural"]), note)


_ROUTE = {"native": "native", "onnx": "ONNX Runtime"}


def _tuning_effort(results, best, evidence, metric, comparison):
    effort = results.get("tuning_effort") or {}
    fams = effort.get("families") or {}
    if not fams:
        return _cells({f: NOT_MEASURED for f in FAMILIES}, {f: None for f in FAMILIES}, None,
                      "no model was tuned: run with --search bayesian (or random, grid, hyperband)")
    values = {f: (fams.get(f) or {}).get("mean_gain") for f in FAMILIES}
    texts = {f: (f"{values[f]:+.4f} over the defaults ({fams[f]['trials']} trials, "
                 f"{fams[f]['seconds']:.0f} s)" if values[f] is not None else NOT_MEASURED)
             for f in FAMILIES}
    better = _direction(values["traditional"], values["neural"], False,
                        SCORE_BAND * _scale(best, metric))
    note = ("mean gain of tuning over the defaults on the tuning rows; read as effort: a larger "
            "gain means the defaults were further from good, so the smaller gain is better")
    return _cells(texts, values, better, note)


def _interpretability(results, best, evidence, metric, comparison):
    texts, readable = {}, {}
    for f in FAMILIES:
        m = best[f]
        if m is None:
            texts[f], readable[f] = NOT_MEASURED, None
            continue
        kinds = set(m.get("explanations") or ())
        own = sorted(INTRINSIC & kinds)
        readable[f] = bool(own)
        texts[f] = (f"intrinsic: {', '.join(own)}" if own else
                    "post-hoc only" + (f" ({', '.join(sorted(kinds))})" if kinds else ""))
    better = None
    if None not in readable.values():
        better = ("same" if readable["traditional"] == readable["neural"]
                  else "traditional" if readable["traditional"] else "neural")
    note = ("an intrinsic explanation is read off the model; post-hoc ones (SHAP, LIME) "
            "approximate it")
    block = _ok(evidence, "explanations")
    agreement = (block or {}).get("agreement")
    if agreement and agreement.get("spearman") is not None:
        note += (f"; SHAP importances of the two models agree with Spearman rho "
                 f"{agreement['spearman']:.2f}, top-{agreement.get('top_k', 5)} overlap "
                 f"{agreement.get('top_k_overlap', 0):.0%}")
    elif block is None:
        note += "; SHAP agreement not measured (run with --analyses explanations)"
    return _cells(texts, {f: None for f in FAMILIES}, better, note)


def _feature_engineering(results, best, evidence, metric, comparison):
    from nnvsml.models.preprocessing import STYLE_TEXT

    texts = {f: (((best[f] or {}).get("params") or {}).get("preprocessing") or NOT_MEASURED)
             for f in FAMILIES}
    texts = {f: STYLE_TEXT.get(t, t) for f, t in texts.items()}
    note = "what each model is given as input: engineered features or raw input"
    return _cells(texts, {f: None for f in FAMILIES}, None, note)


_ROWS = {
    "accuracy": _accuracy, "data_needed": _data_needed, "noise_sensitivity": _noise_sensitivity,
    "training_time": _training_time, "inference_latency": _inference_latency,
    "memory": _memory, "model_size": _model_size, "energy": _energy,
    "deployability": _deployability,
    "tuning_effort": _tuning_effort, "interpretability": _interpretability,
    "feature_engineering": _feature_engineering,
}


# -- helpers -----------------------------------------------------------------------------------
def _cells(texts: dict, values: dict, better: str | None, note: str) -> dict:
    return {"traditional": texts["traditional"], "neural": texts["neural"],
            "traditional_value": values["traditional"], "neural_value": values["neural"],
            "better": better, "note": note}


def _cost_cells(values: dict, fmt, note: str, best: dict) -> dict:
    texts = {f: fmt(v) if v is not None else NOT_MEASURED for f, v in values.items()}
    missing = _missing_model_note(best)
    return _cells(texts, values, _lower_cost(values["traditional"], values["neural"]),
                  note + (f"; {missing}" if missing else ""))


def _unmeasured(analysis: str, evidence: dict) -> dict:
    block = evidence.get(analysis)
    if block and block.get("status") != "ok":
        why = f"the {analysis} analysis {block.get('status')}"
        why += f" ({block['reason']})" if block.get("reason") else ""
        note = f"{why}; run it again with --analyses {analysis}"
    else:
        note = f"not measured: run with --analyses {analysis}"
    return _cells({f: NOT_MEASURED for f in FAMILIES}, {f: None for f in FAMILIES}, None, note)


def _ok(evidence: dict, analysis: str) -> dict | None:
    block = evidence.get(analysis)
    return block if block and block.get("status") == "ok" else None


def _missing_model_note(best: dict) -> str | None:
    gone = [f for f in FAMILIES if best.get(f) is None]
    return f"no finished {gone[0]} model" if len(gone) == 1 else (
        "no finished model" if gone else None)


def _lower_cost(t: float | None, n: float | None) -> str | None:
    if t is None or n is None:
        return None
    lo, hi = min(t, n), max(t, n)
    if hi <= 0 or (lo > 0 and hi <= COST_BAND * lo):
        return "same"
    return "traditional" if t < n else "neural"


def _direction(t: float | None, n: float | None, higher: bool, tol: float = 0.0) -> str | None:
    if t is None or n is None:
        return None
    if abs(t - n) <= tol:
        return "same"
    return "traditional" if (t > n) == higher else "neural"


def _scale(best: dict, metric: str) -> float:
    """The magnitude of the families' scores, to size a "same" band for score differences."""
    means = [abs(v) for v in (_cv(best[f], metric) for f in FAMILIES) if v is not None]
    return max(means) if means else 0.0


def _cv(model: dict | None, metric: str) -> float | None:
    return (((model or {}).get("cv") or {}).get(metric) or {}).get("mean")


def _cost(model: dict | None, key: str) -> float | None:
    return ((model or {}).get("cost") or {}).get(key)


def _size(kb: float) -> str:
    return f"{_num(kb / 1024)} MB" if kb >= 1024 else f"{_num(kb)} KB"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
