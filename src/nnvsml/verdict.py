"""The verdict: a pure function of the results. Nothing here trains or reads files.

The families are compared through their best model (by cross-validated primary metric). The
decision rests on the cross-validation evidence alone: the paired per-fold differences between
the two models, tested with the corrected resampled t-test of Nadeau and Bengio (2003), which
widens the naive t-test for the overlap between training folds. The test rows, scored once, then
confirm or contradict it. A difference that is not significant at ``alpha`` is a tie, decided on
cost: the cheaper model is recommended, and the verdict says so.

Under ``holdout`` validation (large data) the "folds" are disjoint blocks of the one validation
part, all scored by the same fitted model; their differences are independent, so the plain
paired t-test applies, without the correction for overlapping training folds.

The test rows' own paired test (McNemar's exact test for classification, a paired bootstrap for
regression; computed by :mod:`nnvsml.uncertainty` into ``results["test_comparison"]``) is
reported beside it: it confirms or contradicts the decision, never makes it.

At a tie the recommendation goes to the model that is cheaper to train and serve; when their
costs are within 25% of each other, to the one a person can read (coefficients, rules, tree
importances) over one that needs post-hoc explanation. The reasons say which decided.
"""

from __future__ import annotations

import math

from scipy import stats

from nnvsml.metrics import GREATER_IS_BETTER

ALPHA = 0.05
#: Explanations a model carries in itself, as opposed to post-hoc ones (gradients, attention).
INTRINSIC = frozenset({"coefficients", "rules", "importances", "tree_shap", "class_means"})
#: Cost ratios inside this band are treated as equal (one timing's noise).
COST_BAND = 1.25
TEST_NAME = "corrected resampled t-test (Nadeau & Bengio 2003) over the CV folds"
HOLDOUT_TEST_NAME = "paired t-test over disjoint blocks of the validation part"


def decide(results: dict, alpha: float = ALPHA) -> dict:
    metric = results["protocol"]["primary_metric"]
    models = results.get("models", [])
    best = {fam: best_of_family(models, fam, metric) for fam in ("traditional", "neural")}
    holdout = results["protocol"].get("validation") == "holdout"
    validated = "validation" if holdout else "cross-validated"
    trad, neur = best["traditional"], best["neural"]

    if trad is None and neur is None:
        return {"family": "tie", "model": None, "decided": False, "comparison": None,
                "reasons": ["No model finished, so there is nothing to compare: "
                            + _failures(models)]}
    if trad is None or neur is None:
        winner, loser_family = (trad, "neural") if neur is None else (neur, "traditional")
        ran = results["protocol"].get("families") or [m["family"] for m in models]
        why = (f"the {loser_family} family was not part of this run (--families / --models)"
               if loser_family not in ran else f"no {loser_family} model finished: "
               + _failures([m for m in models if m["family"] == loser_family]))
        return {
            "family": winner["family"], "model": winner["name"], "decided": True, "comparison": None,
            "reasons": [
                f"Only the {winner['family']} family has a finished model: {winner['name']} with "
                f"{validated} {metric} {_fmt_cv(winner, metric)}; {why}. This is no "
                "comparison between the families.",
            ],
        }

    cmp = compare_pair(trad, neur, metric, results["protocol"].get("n_train"), alpha,
                       holdout=holdout)
    higher = GREATER_IS_BETTER[metric]
    reasons = [
        f"{validated.capitalize()} {metric}: {trad['name']} (traditional) {_fmt_cv(trad, metric)} vs "
        f"{neur['name']} (neural) {_fmt_cv(neur, metric)}; difference {cmp['difference']:+.4f} "
        f"(95% CI {cmp['ci_low']:+.4f} to {cmp['ci_high']:+.4f}), p = {cmp['p_value']:.3g}."
    ]
    trad_better = (cmp["difference"] > 0) == higher
    significant = cmp["p_value"] < alpha and cmp["difference"] != 0
    if significant:
        winner, loser = (trad, neur) if trad_better else (neur, trad)
        family = winner["family"]
        reasons.append(
            f"The difference is significant at the {alpha:.0%} level: {winner['name']} "
            f"({family}) is more accurate by this measure."
        )
    else:
        winner, loser, why = tie_break(trad, neur)
        family = "tie"
        reasons.append(
            f"The difference is inside the noise (p = {cmp['p_value']:.2g} >= {alpha}): the "
            f"families tie on {metric}, so {winner['name']} ({winner['family']}) is recommended "
            f"for {why}."
        )
    cost = _cost_sentence(winner, loser)
    if cost:
        reasons.append(cost)
    test = _test_sentence(trad, neur, metric, cmp, significant, trad_better,
                          results.get("test_comparison"))
    if test:
        reasons.append(test)
    tuning = _tuning_sentence(results)
    if tuning:
        reasons.append(tuning)
    return {"family": family, "model": winner["name"], "decided": True,
            "comparison": cmp, "reasons": reasons}


def compare_pair(a: dict, b: dict, metric: str, n_train: int | None, alpha: float = ALPHA,
                 holdout: bool = False) -> dict:
    """Paired comparison of model ``a`` minus model ``b`` over the shared CV folds (or, with
    ``holdout``, over the blocks of the shared validation part)."""
    fa = (a["cv"].get(metric) or {}).get("folds") or []
    fb = (b["cv"].get(metric) or {}).get("folds") or []
    diffs = [x - y for x, y in zip(fa, fb) if x is not None and y is not None]
    k = len(diffs)
    mean = sum(diffs) / k if k else float("nan")
    if k >= 2:
        var = sum((d - mean) ** 2 for d in diffs) / (k - 1)
        # Nadeau-Bengio: the variance of the mean grows by n_test/n_train = 1/(k-1) in k-fold CV.
        # Holdout blocks share no training rows between the scores: no correction.
        se = math.sqrt((1.0 / k + (0.0 if holdout else 1.0 / (k - 1))) * var)
        if se > 0:
            t = mean / se
            p = float(2 * stats.t.sf(abs(t), df=k - 1))
        else:
            p = 0.0 if mean != 0 else 1.0
        half = float(stats.t.ppf(1 - alpha / 2, df=k - 1)) * se
    else:
        p, half = 1.0, float("inf")
    return {
        "metric": metric,
        "traditional_model": a["name"] if a["family"] == "traditional" else b["name"],
        "neural_model": b["name"] if b["family"] == "neural" else a["name"],
        "traditional": _cv_mean(a, metric),
        "neural": _cv_mean(b, metric),
        "difference": mean,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "p_value": p,
        "alpha": alpha,
        "folds": k,
        "test": HOLDOUT_TEST_NAME if holdout else TEST_NAME,
        "test_rows": {
            "traditional": (a.get("test") or {}).get(metric),
            "neural": (b.get("test") or {}).get(metric),
        },
    }


def best_of_family(models: list[dict], family: str, metric: str) -> dict | None:
    ok = [m for m in models if m["family"] == family and m["status"] == "ok"
          and _cv_mean(m, metric) is not None]
    if not ok:
        return None
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    return max(ok, key=lambda m: (sign * _cv_mean(m, metric), m["name"]))


def _cv_mean(model: dict, metric: str) -> float | None:
    return ((model.get("cv") or {}).get(metric) or {}).get("mean")


def _fmt_cv(model: dict, metric: str) -> str:
    block = model["cv"][metric]
    std = block.get("std")
    return f"{block['mean']:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def tie_break(a: dict, b: dict) -> tuple[dict, dict, str]:
    """At a tie: (recommended, other, why). The clearly cheaper model to train and serve; at
    costs within ``COST_BAND`` of each other, the intrinsically interpretable one; else the
    cheaper."""
    def cost(m):
        c = m.get("cost") or {}
        return (c.get("fit_seconds") or 0.0) + (c.get("predict_ms_per_1k") or 0.0) / 1000.0

    cheap, dear = (a, b) if cost(a) <= cost(b) else (b, a)
    readable = [m for m in (a, b) if INTRINSIC & set(m.get("explanations") or ())]
    close = cost(dear) <= COST_BAND * cost(cheap) or cost(cheap) == 0
    if close and len(readable) == 1:
        kinds = ", ".join(sorted(INTRINSIC & set(readable[0]["explanations"])))
        other = b if readable[0] is a else a
        return readable[0], other, (f"interpretability: their costs are alike, and it explains "
                                    f"itself ({kinds})")
    why = "its lower cost of training and serving"
    if INTRINSIC & set(cheap.get("explanations") or ()) and not INTRINSIC & set(
            dear.get("explanations") or ()):
        why += ", and it is also the more interpretable"
    return cheap, dear, why


def _ratio_phrase(what: str, mine: float | None, theirs: float | None, unit: str) -> str | None:
    if not mine or not theirs or mine <= 0 or theirs <= 0:
        return None
    r = theirs / mine
    if 0.8 <= r <= 1.25:
        return None  # within the noise of a single timing: not worth a sentence
    word = {"fit_seconds": ("fits", "faster", "slower"),
            "predict_ms_per_1k": ("predicts", "faster", "slower"),
            "model_size_kb": ("is", "smaller", "larger")}[what]
    factor, adj = (r, word[1]) if r > 1 else (1 / r, word[2])
    return f"{word[0]} {factor:.1f}x {adj} ({_num(mine)} vs {_num(theirs)} {unit})"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _cost_sentence(winner: dict, loser: dict) -> str | None:
    cw, cl = winner.get("cost") or {}, loser.get("cost") or {}
    parts = [p for p in (
        _ratio_phrase("fit_seconds", cw.get("fit_seconds"), cl.get("fit_seconds"), "s"),
        _ratio_phrase("predict_ms_per_1k", cw.get("predict_ms_per_1k"), cl.get("predict_ms_per_1k"),
                      "ms per 1,000 rows"),
        _ratio_phrase("model_size_kb", cw.get("model_size_kb"), cl.get("model_size_kb"), "KB"),
    ) if p]
    if not parts:
        return None
    return f"Cost: {winner['name']} " + ", ".join(parts) + f" than {loser['name']}."


def _test_sentence(trad, neur, metric, cmp, significant, trad_better,
                   pair: dict | None) -> str | None:
    t, n = cmp["test_rows"]["traditional"], cmp["test_rows"]["neural"]
    if t is None or n is None:
        return None
    rows = cmp["test_rows"]
    head = (f"On the held-out test rows (scored once): {trad['name']} {t:.4f} vs "
            f"{neur['name']} {n:.4f}")
    test_significant = None
    if pair and pair.get("traditional_model") == trad["name"] \
            and pair.get("neural_model") == neur["name"]:
        rows.update(difference=t - n, ci_low=pair["ci_low"], ci_high=pair["ci_high"],
                    p_value=pair["p_value"], test=pair["test"])
        test_significant = pair["p_value"] < cmp["alpha"]
        head += (f", difference {t - n:+.4f} (95% bootstrap CI {pair['ci_low']:+.4f} to "
                 f"{pair['ci_high']:+.4f}; {pair['test']}: p = {pair['p_value']:.3g})")
    test_trad_better = (t > n) if GREATER_IS_BETTER[metric] else (t < n)
    if not significant:
        rows["agrees"] = not test_significant if test_significant is not None else None
        if test_significant:
            return head + ("; the test rows see a significant difference the cross-validation "
                           "did not, so the tie stands but deserves a second look.")
        return head + "; the test rows agree: no significant difference."
    agrees = test_trad_better == trad_better
    rows["agrees"] = agrees
    if agrees:
        return head + ("; this confirms the cross-validation." if test_significant is not False
                       else "; the same direction as the cross-validation, though not "
                            "significant on the test rows alone.")
    return head + "; this contradicts the cross-validation, so treat the win with caution."


def _tuning_sentence(results: dict) -> str | None:
    effort = results.get("tuning_effort")
    if not effort:
        return None
    fam = effort["families"]
    parts = [f"{name} models {fam[name]['mean_gain']:+.4f} on average (best "
             f"{fam[name]['max_gain']:+.4f}; {_count(fam[name]['trials'], 'trial')}, "
             f"{fam[name]['seconds']:.0f} s)" for name in ("traditional", "neural") if name in fam]
    return (f"Tuning ({results['protocol'].get('search')}) raised {effort['metric']} on the "
            f"tuning rows over the defaults: " + "; ".join(parts) + ".")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _failures(models: list[dict]) -> str:
    bad = [f"{m['name']} {m['status']} ({m.get('reason') or 'no reason recorded'})"
           for m in models if m["status"] != "ok"]
    return "; ".join(bad) if bad else "none was run"
