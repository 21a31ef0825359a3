"""The verdict: a pure function of the results and the user's preferences. Nothing here trains
or reads files.

The families are compared through their best model (by cross-validated primary metric). The
decision rests on the cross-validation evidence alone: the paired per-fold differences between
the two models, tested with the corrected resampled t-test of Nadeau and Bengio (2003), which
widens the naive t-test for the overlap between training folds. The test rows, scored once, then
confirm or contradict it. A difference that is not significant at ``alpha`` is a tie, decided on
cost: the cheaper model is recommended, and the verdict says so.

Under ``holdout`` validation (large data) the "folds" are disjoint blocks of the one validation
part, all scored by the same fitted model; their differences are independent, so the plain
paired t-test applies, without the correction for overlapping training folds.

The test rows' own paired test (the one the task's spec declares, :mod:`nnvsml.tasks`: McNemar's
exact test for classification, a paired bootstrap for regression; computed by
:mod:`nnvsml.uncertainty` into ``results["test_comparison"]``) is reported beside it: it
confirms or contradicts the decision, never makes it.

At a tie the recommendation goes to the model that is cheaper to train and serve; when their
costs are within 25% of each other, to the one a person can read (coefficients, rules, tree
importances) over one that needs post-hoc explanation. The reasons say which decided.

The user's preferences. ``constraints`` (latency, training seconds, model size, intrinsic
explanations) are hard limits, applied first: a model over one is out, listed in ``excluded``;
a model whose quantity was not measured stays in, and the reasons say it could not be checked.
``priority`` then chooses among the rest. ``accuracy`` is the paired test above. ``speed`` and
``cost`` never trade accuracy away silently: they choose only among models not significantly
less accurate than the most accurate eligible one. ``interpretability`` does trade it, for a
model that explains itself, and says how much it gives up. Whatever the priority, the families'
comparison is reported, with the measured ``facts`` that decided it, what ``would_change`` it,
and the families side by side on every dimension (``key_differences``, see
:mod:`nnvsml.differences`).
"""

from __future__ import annotations

import difflib
import math
import numbers
from dataclasses import dataclass

from scipy import stats

from nnvsml.differences import COST_BAND, INTRINSIC, key_differences
from nnvsml.errors import InputError
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.records import Verdict
from nnvsml.ranking import best_of_family
from nnvsml.ranking import cv_mean as _cv_mean
from nnvsml.tasks import find_metric

ALPHA = 0.05
TEST_NAME = "corrected resampled t-test (Nadeau & Bengio 2003) over the CV folds"
HOLDOUT_TEST_NAME = "paired t-test over disjoint blocks of the validation part"
FAMILIES = ("traditional", "neural")
PRIORITIES = ("accuracy", "interpretability", "speed", "cost")
#: Numeric limits: key -> (command-line flag, what is limited, unit).
LIMITS = {
    "max_latency_ms": ("--max-latency-ms", "latency", "ms per row"),
    "max_train_seconds": ("--max-train-seconds", "training time", "s"),
    "max_model_mb": ("--max-model-mb", "model size", "MB"),
}
CONSTRAINTS = (*LIMITS, "require_explanations")


def check_preferences(priority: str = "accuracy", constraints: dict | None = None) -> None:
    """Raise :class:`InputError` for a priority or constraint the verdict cannot apply; cheap,
    so the command line calls it before anything trains."""
    if priority not in PRIORITIES:
        raise InputError(_unknown("priority", priority, PRIORITIES) + " (pass --priority NAME)")
    for key, value in (constraints or {}).items():
        if key not in CONSTRAINTS:
            raise InputError(_unknown("constraint", key, CONSTRAINTS))
        if value is None:
            continue
        if key == "require_explanations":
            if not isinstance(value, bool):
                raise InputError(f"require_explanations must be true or false, got {value!r} "
                                 "(pass --require-explanations or leave it out)")
            continue
        flag, what, unit = LIMITS[key]
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
            and math.isfinite(value) and value > 0
        if not ok:
            raise InputError(f"{flag} must be a positive number ({what} in {unit}), got "
                             f"{value!r}; leave it out for no limit")


def decide(results: dict, priority: str = "accuracy", constraints: dict | None = None,
           alpha: float = ALPHA, *, explore: bool = True) -> dict:
    """The verdict on ``results`` for the user's ``priority`` and ``constraints``.

    Returns ``family`` ("traditional" | "neural" | "tie"), ``model`` (or None), ``decided``,
    ``priority``, ``constraints`` (those applied), ``comparison`` (the families' paired test, or
    None), ``reasons``, ``facts``, ``excluded``, ``would_change`` and ``key_differences``.
    ``explore=False`` skips ``would_change``, which calls ``decide`` again with other preferences.
    """
    check_preferences(priority, constraints)
    constraints = {k: v for k, v in (constraints or {}).items() if v is not None}
    run = _Run.of(results, alpha)
    models = results.get("models", [])
    finished = [m for m in models if m["status"] == "ok" and run.mean(m) is not None]
    excluded = exclusions(finished, constraints, run.evidence)
    out = {e["model"] for e in excluded}
    eligible = [m for m in finished if m["name"] not in out]

    if finished and not eligible:
        v = _nothing_eligible(finished, excluded)
    else:
        v = _by_accuracy(results, eligible, excluded, run)
        if v["decided"] and priority != "accuracy":
            pick, reasons, facts = _by_priority(priority, eligible, run)
            if pick is not None:
                v.update(family=pick["family"], model=pick["name"])
            v["reasons"] += reasons
            v["facts"] += facts
    unchecked = _unchecked(eligible, constraints)
    if unchecked:
        v["reasons"].append(unchecked)
    weaker = _without_labels(results)
    if weaker and v["decided"]:
        v["reasons"].append(weaker)
    if excluded:
        v["facts"].append("ruled out by the constraints: " + excluded_summary(excluded))

    # The table describes the families, so it compares their best models whatever the filter.
    best = {f: best_of_family(models, f, run.metric) for f in FAMILIES}
    both = None not in best.values()
    table = key_differences(results, best, run.pair(best["traditional"], best["neural"])
                            if both else None)
    changes = v.pop("would_change", [])
    if explore and v["decided"]:
        changes += would_change(results, v, eligible, excluded, priority, constraints, run)
    return Verdict(family=v["family"], model=v["model"], decided=v["decided"],
                   priority=priority, constraints=constraints, comparison=v["comparison"],
                   reasons=v["reasons"], facts=v["facts"], excluded=excluded,
                   would_change=changes, key_differences=table).to_dict()


def _without_labels(results: dict) -> str | None:
    """What an unsupervised verdict without an evaluation column rests on, said plainly."""
    from nnvsml.tasks import get_task

    dataset = results.get("dataset") or {}
    try:
        spec = get_task(dataset.get("task"))
    except Exception:  # noqa: BLE001  (an unknown task: nothing to add)
        return None
    if spec.supervised or dataset.get("evaluate_with"):
        return None
    metric = (results.get("protocol") or {}).get("primary_metric")
    return (f"No evaluation column: decided on {metric}, which needs no labels. That is weaker "
            "evidence than agreement with known " + ("classes" if spec.name == "clustering"
                                                     else "anomalies")
            + "; pass --evaluate-with COLUMN (a column no model sees) to score against them.")


@dataclass(frozen=True)
class _Run:
    """What every comparison in one verdict shares."""
    metric: str
    n_train: int | None
    holdout: bool
    alpha: float
    evidence: dict

    @classmethod
    def of(cls, results: dict, alpha: float) -> "_Run":
        protocol = results["protocol"]
        return cls(protocol["primary_metric"], protocol.get("n_train"),
                   protocol.get("validation") == "holdout", alpha, results.get("evidence") or {})

    @property
    def cv(self) -> str:
        return "validation" if self.holdout else "CV"

    def mean(self, model: dict) -> float | None:
        return _cv_mean(model, self.metric)

    def pair(self, a: dict, b: dict) -> dict:
        return compare_pair(a, b, self.metric, self.n_train, self.alpha, holdout=self.holdout)

    def most_accurate(self, models: list[dict]) -> dict:
        sign = 1.0 if GREATER_IS_BETTER[self.metric] else -1.0
        return max(models, key=lambda m: (sign * self.mean(m), m["name"]))


# -- the families compared on accuracy ---------------------------------------------------------
def _by_accuracy(results: dict, eligible: list[dict], excluded: list[dict], run: _Run) -> dict:
    metric, alpha = run.metric, run.alpha
    models = results.get("models", [])
    best = {fam: best_of_family(eligible, fam, metric) for fam in FAMILIES}
    validated = "validation" if run.holdout else "cross-validated"
    trad, neur = best["traditional"], best["neural"]

    if trad is None and neur is None:
        unscored = [m["name"] for m in models if m["status"] == "ok"
                    and m["name"] not in {e["model"] for e in excluded}]
        if unscored:
            return {"family": "tie", "model": None, "decided": False, "comparison": None,
                    "facts": [], "reasons": [_unscored(results, unscored, metric)]}
        return {"family": "tie", "model": None, "decided": False, "comparison": None, "facts": [],
                "reasons": ["No model finished, so there is nothing to compare: "
                            + _failures(models)]}
    if trad is None or neur is None:
        winner, loser_family = (trad, "neural") if neur is None else (neur, "traditional")
        ran = results["protocol"].get("families") or [m["family"] for m in models]
        ruled_out = [e for e in excluded if e["family"] == loser_family]
        if ruled_out:
            why = (f"every finished {loser_family} model is ruled out by the constraints ("
                   + excluded_summary(ruled_out) + ")")
        elif loser_family not in ran:
            why = f"the {loser_family} family was not part of this run (--families / --models)"
        else:
            why = f"no {loser_family} model finished: " + _failures(
                [m for m in models if m["family"] == loser_family])
        return {
            "family": winner["family"], "model": winner["name"], "decided": True,
            "comparison": None,
            "facts": [f"{winner['name']}'s {run.cv} {metric} {_fmt3(winner, metric)}"],
            "reasons": [
                f"Only the {winner['family']} family has {'an eligible' if ruled_out else 'a'} "
                f"finished model: {winner['name']} with {validated} {metric} "
                f"{_fmt_cv(winner, metric)}; {why}. This is no comparison between the families.",
            ],
        }

    cmp = run.pair(trad, neur)
    higher = GREATER_IS_BETTER[metric]
    if cmp.get("paired_over", "").startswith("blocks of the first fold"):
        validated = "validation"  # at least one of the two got its first fit only
    reasons = [
        f"{validated.capitalize()} {metric}: {trad['name']} (traditional) {_fmt_cv(trad, metric)} vs "
        f"{neur['name']} (neural) {_fmt_cv(neur, metric)}; difference {cmp['difference']:+.4f} "
        f"(95% CI {cmp['ci_low']:+.4f} to {cmp['ci_high']:+.4f}), p = {cmp['p_value']:.3g}."
    ]
    coverage = _coverage_sentence(trad, neur)
    if coverage:
        reasons.append(coverage)
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
    facts = [f"{winner['name']}'s {run.cv} {metric} {_fmt3(winner, metric)} vs {loser['name']} "
             f"{_fmt3(loser, metric)} (p = {cmp['p_value']:.2g})"]
    cost = _cost_sentence(winner, loser)
    if cost:
        reasons.append(cost)
        if not significant:
            facts.append(cost.removeprefix("Cost: ").removesuffix("."))
    test = _test_sentence(trad, neur, metric, cmp, significant, trad_better,
                          results.get("test_comparison"))
    if test:
        reasons.append(test)
        rows = cmp["test_rows"]
        facts.append(f"test rows: {trad['name']} {rows['traditional']:.3f} vs {neur['name']} "
                     f"{rows['neural']:.3f}")
    tuning = _tuning_sentence(results)
    if tuning:
        reasons.append(tuning)
    return {"family": family, "model": winner["name"], "decided": True,
            "comparison": cmp, "reasons": reasons, "facts": facts}


def _coverage_sentence(trad: dict, neur: dict) -> str | None:
    """How much of the protocol each of the two got, when not both got all of it."""
    levels = {m["name"]: (m.get("evaluation") or {}) for m in (trad, neur)}
    if all(e.get("level", "cross_validated") == "cross_validated" for e in levels.values()):
        return None
    parts = []
    for name, e in levels.items():
        what = {"validation_only": "validated on the first fold only",
                "holdout": "validated on the held-out part",
                "cross_validated": f"cross-validated over {e.get('folds')} folds"}.get(
                    e.get("level"), "validated")
        if e.get("sampled"):
            what += f", trained on a sample of {e.get('trained_rows'):,} rows"
        parts.append(f"{name} was {what}{' and tuned' if e.get('tuned') else ''}")
    return ("Protocol coverage differs under this budget: " + "; ".join(parts) + ". Both are "
            "compared on the blocks of the first fold's validation rows, which both were "
            "scored on.") if len({e.get("level") for e in levels.values()}) > 1 else (
        "Protocol coverage under this budget: " + "; ".join(parts) + ".")


# -- priorities --------------------------------------------------------------------------------
def _by_priority(priority: str, eligible: list[dict], run: _Run):
    """(chosen model or None to keep the accuracy verdict, reasons, facts)."""
    top = run.most_accurate(eligible)
    if priority == "interpretability":
        return _most_readable(eligible, top, run)
    return _cheapest(priority, eligible, top, run)


def _most_readable(eligible: list[dict], top: dict, run: _Run):
    readable = [m for m in eligible if _intrinsic(m)]
    if not readable:
        return None, [
            "Priority interpretability: no eligible model explains itself (intrinsic "
            f"explanations: {', '.join(sorted(INTRINSIC))}), so the verdict falls back to "
            "accuracy."], []
    pick = run.most_accurate(readable)
    kinds = ", ".join(_intrinsic(pick))
    reason = (f"Priority interpretability: {pick['name']} ({pick['family']}) explains itself "
              f"({kinds})")
    if pick is top:
        reason += (" and is the most accurate eligible model: interpretability costs no "
                   "accuracy here.")
        fact = (f"{pick['name']} explains itself ({kinds}) and has the best {run.cv} "
                f"{run.metric}, {_fmt3(pick, run.metric)}")
        return pick, [reason], [fact]
    cmp = run.pair(pick, top)
    p = cmp["p_value"]
    significance = "significant" if p < run.alpha else "not significant"
    reason += (f". It gives up {_gap(abs(cmp['difference']), run.metric)} of {run.cv} "
               f"{run.metric} against {top['name']}, the most accurate eligible model "
               f"({run.mean(pick):.4f} vs {run.mean(top):.4f}; p = {p:.3g}, {significance} at "
               f"the {run.alpha:.0%} level).")
    fact = (f"{pick['name']} explains itself ({kinds}); {run.cv} {run.metric} "
            f"{_fmt3(pick, run.metric)} vs {top['name']} {_fmt3(top, run.metric)} (p = {p:.2g})")
    return pick, [reason], [fact]


def _cheapest(priority: str, eligible: list[dict], top: dict, run: _Run):
    """Speed or cost, among the models not significantly less accurate than ``top``."""
    pvalue = {m["name"]: (1.0 if m is top else run.pair(m, top)["p_value"]) for m in eligible}
    pool = [m for m in eligible if pvalue[m["name"]] >= run.alpha]
    refused = [m for m in eligible if pvalue[m["name"]] < run.alpha]
    what, unit, value = (_speed(pool) if priority == "speed"
                         else _running_cost(pool, run.evidence))
    timed = [m for m in pool if value(m) is not None]
    if not timed:
        return None, [f"Priority {priority}: the {what} of the eligible models was not measured, "
                      "so the verdict falls back to accuracy."], []
    fastest = min(value(m) for m in timed)
    # Timings within the band are one timing's noise: among those, the more accurate wins.
    close = [m for m in timed if value(m) <= COST_BAND * fastest]
    pick = run.most_accurate(close)

    head = f"Priority {priority}: "
    if len(eligible) == 1:
        text = (head + f"{top['name']} is the only eligible model: {what} "
                f"{_num(value(pick))} {unit}.")
    elif len(pool) == 1:
        text = (head + f"every other eligible model is significantly less accurate than "
                f"{top['name']} ({top['family']}), so it stays: {what} {_num(value(pick))} "
                f"{unit}.")
    else:
        verb = "predicts fastest" if priority == "speed" else "is the cheapest to train and serve"
        text = (head + f"among the {len(pool)} eligible models not significantly less accurate "
                f"than {top['name']} (p >= {run.alpha}), {pick['name']} ({pick['family']}) "
                f"{verb}: {what} {_num(value(pick))} {unit}")
        if pick is not top and value(top) is not None:
            text += f" vs {_num(value(top))} for {top['name']}"
        text += "."
    fact = f"{pick['name']}'s {what} {_num(value(pick))} {unit}"
    if pick is not top:
        fact += (f" vs {_num(value(top))} for {top['name']}" if value(top) is not None else "")
        fact += f"; {run.cv} {run.metric} {run.mean(pick):.3f} vs {run.mean(top):.3f}"
        text += (f" Its {run.cv} {run.metric} is {run.mean(pick):.4f} vs {run.mean(top):.4f} "
                 f"(p = {pvalue[pick['name']]:.3g}).")
    if len(close) > 1:
        others = ", ".join(m["name"] for m in close if m is not pick)
        text += (f" Also within {COST_BAND - 1:.0%} of the best {what}, which is one timing's "
                 f"noise: {others}; {pick['name']} is the most accurate of them.")
    better = [m for m in refused if value(m) is not None and value(m) < value(pick)]
    if better:
        text += (f" {'Faster' if priority == 'speed' else 'Cheaper'} but significantly less "
                 "accurate, so not chosen: " + "; ".join(
                     f"{m['name']} ({_num(value(m))} {unit}; {run.mean(m):.4f}, "
                     f"p = {pvalue[m['name']]:.2g})" for m in better) + ".")
    untimed = [m["name"] for m in pool if value(m) is None]
    if untimed:
        text += f" Not measured, so not ranked: {', '.join(untimed)}."
    return pick, [text], [fact]


def _speed(models: list[dict]):
    """(what, unit, value of a model): single-row latency where every model has one; else the
    batch time per row, since the two differ by the per-call overhead and must not be mixed."""
    if all(_cost(m, "latency_ms") is not None for m in models):
        return "latency", "ms per row", lambda m: _cost(m, "latency_ms")
    return ("batch prediction time", "ms per row",
            lambda m: _per_row(_cost(m, "predict_ms_per_1k")))


def _running_cost(models: list[dict], evidence: dict):
    """(what, unit, value of a model): the estimated energy to fit and serve 1,000 predictions
    where the energy analysis covered every model; else the seconds to do the same."""
    block = evidence.get("energy") or {}
    energy = {e.get("name"): e for e in block.get("models") or [] if e.get("fit_wh") is not None}
    if block.get("status") == "ok" and all(m["name"] in energy for m in models):
        return ("energy to fit and serve 1,000 predictions", "Wh",
                lambda m: energy[m["name"]]["fit_wh"]
                + (energy[m["name"]].get("predict_wh_per_1k") or 0.0))

    def seconds(m):
        fit, per_1k = _cost(m, "fit_seconds"), _cost(m, "predict_ms_per_1k")
        return None if fit is None else fit + (per_1k or 0.0) / 1000.0
    return "time to fit and serve 1,000 predictions", "s", seconds


# -- constraints -------------------------------------------------------------------------------
def measure(model: dict, key: str, evidence: dict | None = None) -> float | None:
    """The model's value of a numeric constraint ``key``, in the constraint's unit. Latency is
    the served one where the deployability analysis measured it (the fastest route that
    predicts what the model does), else the comparison's in-process single-row latency."""
    if key == "max_latency_ms":
        served = served_latency(evidence or {}).get(model["name"])
        if served is not None:
            return served
        latency = _cost(model, "latency_ms")
        return latency if latency is not None else _per_row(_cost(model, "predict_ms_per_1k"))
    if key == "max_train_seconds":
        return _cost(model, "fit_seconds")
    kb = _cost(model, "model_size_kb")
    return None if kb is None else kb / 1024.0


def served_latency(evidence: dict) -> dict[str, float]:
    """Model name -> single-row p50 in ms of its fastest measured serving route."""
    block = evidence.get("deployability") or {}
    if block.get("status") != "ok":
        return {}
    out = {}
    for record in (block.get("models") or {}).values():
        p50s = [r["p50_ms"] for r in (record.get("routes") or {}).values()
                if r.get("status") == "ok" and r.get("p50_ms") is not None]
        if p50s:
            out[record["model"]] = min(p50s)
    return out


def exclusions(models: list[dict], constraints: dict, evidence: dict | None = None) -> list[dict]:
    """One entry per model and constraint it breaks: ``{"model", "family", "constraint",
    "value", "limit", "reason"}``. An unmeasured value breaks nothing: it cannot be checked."""
    out = []
    for m in models:
        for key, limit in constraints.items():
            if key == "require_explanations":
                if limit and not _intrinsic(m):
                    kinds = ", ".join(m.get("explanations") or ()) or "none"
                    out.append(_entry(m, key, kinds, True,
                                      f"{m['name']} has no intrinsic explanation (post-hoc "
                                      f"only: {kinds})"))
                continue
            value = measure(m, key, evidence)
            if value is not None and value > limit:
                flag, what, unit = LIMITS[key]
                out.append(_entry(m, key, value, limit,
                                  f"{m['name']}'s {what} {_num(value)} {unit} is over the "
                                  f"{flag} limit of {_num(limit)}"))
    return out


def _entry(model: dict, key: str, value, limit, reason: str) -> dict:
    return {"model": model["name"], "family": model["family"], "constraint": key,
            "value": value, "limit": limit, "reason": reason}


def _unchecked(eligible: list[dict], constraints: dict) -> str | None:
    parts = []
    for key in LIMITS:
        if key in constraints:
            names = [m["name"] for m in eligible if measure(m, key) is None]
            if names:
                parts.append(f"the {LIMITS[key][1]} of {', '.join(names)} was not measured, so "
                             f"{LIMITS[key][0]} could not be checked")
    return ("Kept unchecked: " + "; ".join(parts) + ".") if parts else None


def _nothing_eligible(finished: list[dict], excluded: list[dict]) -> dict:
    family = {m["name"]: m["family"] for m in finished}
    blocked = _blocked(excluded)
    # One hint per set of constraints, from the models that need the fewest of them relaxed.
    hints, seen = [], set()
    for name, entries in blocked:
        keys = frozenset(e["constraint"] for e in entries)
        if len(entries) == len(blocked[0][1]) and keys not in seen:
            seen.add(keys)
            hints.append((name, entries))
    ruled_out = (f"all {len(finished)} finished models are" if len(finished) > 1
                 else "the only finished model is")
    reasons = [f"No model meets the constraints: {ruled_out} ruled out "
               f"({excluded_summary(excluded)}).",
               "To get a verdict, relax a constraint: " + "; or ".join(
                   f"{_relax_text(entries)} (admits {name})" for name, entries in hints) + "."]
    return {"family": "tie", "model": None, "decided": False, "comparison": None,
            "reasons": reasons, "facts": [],
            "would_change": [f"{_relax_text(entries, gerund=True)} would admit {name} "
                             f"({family[name]})" for name, entries in hints]}


def _blocked(excluded: list[dict]) -> list[tuple[str, list[dict]]]:
    """Each excluded model with the entries that rule it out, the easiest to admit first: the
    fewest constraints to relax, then the least over its limits."""
    by_model: dict[str, list[dict]] = {}
    for e in excluded:
        by_model.setdefault(e["model"], []).append(e)

    def over(entries):
        return sum(e["value"] / e["limit"] for e in entries if e["constraint"] in LIMITS)
    return sorted(by_model.items(), key=lambda kv: (len(kv[1]), over(kv[1]), kv[0]))


def _relaxed(constraints: dict, entries: list[dict]) -> dict:
    """``constraints`` loosened just enough to admit the model the ``entries`` rule out."""
    out = dict(constraints)
    for e in entries:
        if e["constraint"] == "require_explanations":
            out.pop("require_explanations", None)
        else:
            out[e["constraint"]] = _ceil3(e["value"])
    return out


def _relax_text(entries: list[dict], gerund: bool = False) -> str:
    raise_, drop = ("raising", "dropping") if gerund else ("raise", "drop")
    parts = []
    for e in entries:
        if e["constraint"] == "require_explanations":
            parts.append(f"{drop} --require-explanations")
        else:
            flag, _, unit = LIMITS[e["constraint"]]
            parts.append(f"{raise_} {flag} to {_num(_ceil3(e['value']))} {unit}")
    return " and ".join(parts)


def excluded_summary(excluded: list[dict]) -> str:
    def short(e):
        if e["constraint"] == "require_explanations":
            return "no intrinsic explanation"
        _, what, unit = LIMITS[e["constraint"]]
        return f"{what} {_num(e['value'])} {unit} > {_num(e['limit'])}"
    return "; ".join(f"{e['model']}: {short(e)}" for e in excluded)


# -- what would change the decision ------------------------------------------------------------
def would_change(results: dict, v: dict, eligible: list[dict], excluded: list[dict],
                 priority: str, constraints: dict, run: _Run) -> list[str]:
    """What would change the decision ``v``: more rows (the learning curve's crossing), another
    priority, a tighter or a looser constraint, a smaller accuracy gap."""
    chosen = next(m for m in eligible if m["name"] == v["model"])
    family_of = {m["name"]: m["family"] for m in results.get("models", [])}

    def pick(priority: str, constraints: dict) -> str | None:
        return decide(results, priority, constraints, run.alpha, explore=False)["model"]

    def named(model: str) -> str:
        return f"{model} ({family_of[model]})"

    out = [_crossing(run.evidence, chosen["family"])]
    for other in PRIORITIES:
        alt = pick(other, constraints) if other != priority else None
        if alt and alt != chosen["name"]:
            out.append(f"with --priority {other}: {named(alt)}")
    for key, (flag, what, unit) in LIMITS.items():
        mine = measure(chosen, key, run.evidence)
        below = [x for x in (measure(m, key, run.evidence) for m in eligible)
                 if x is not None and mine is not None and x < mine]
        # The loosest limit that rules the choice out keeps every model below it in play.
        alt = pick(priority, {**constraints, key: max(below)}) if below else None
        if alt:
            out.append(f"a {what} limit under {_num(mine)} {unit} ({flag}) would rule out "
                       f"{chosen['name']} and pick {named(alt)}")
    seen = {chosen["name"]}
    for _, entries in _blocked(excluded):
        alt = pick(priority, _relaxed(constraints, entries))
        if alt and alt not in seen:
            seen.add(alt)
            out.append(f"{_relax_text(entries, gerund=True)} would pick {named(alt)}")
    out.append(_gap_to_tie(v.get("comparison"), run))
    return [line for line in out if line]


def _crossing(evidence: dict, family: str) -> str | None:
    block = evidence.get("learning_curve") or {}
    crossing = block.get("crossing") or {}
    if block.get("status") != "ok" or crossing.get("status") not in ("measured", "extrapolated"):
        return None
    then = crossing.get("leader_then")
    return crossing.get("sentence") if then and then != family else None


def _gap_to_tie(cmp: dict | None, run: _Run) -> str | None:
    """For a significant win: how much the loser lacks, and how much of it would make a tie."""
    if not cmp or cmp["p_value"] >= run.alpha or cmp["difference"] == 0:
        return None
    trad_better = (cmp["difference"] > 0) == GREATER_IS_BETTER[run.metric]
    winner, loser = ((cmp["traditional_model"], cmp["neural_model"]) if trad_better
                     else (cmp["neural_model"], cmp["traditional_model"]))
    gap = abs(cmp["difference"])
    # Shifting the loser's fold scores moves the mean difference, not its spread: the tie
    # starts where the difference enters its confidence half-width.
    need = max(0.0, gap - (cmp["ci_high"] - cmp["ci_low"]) / 2)
    return (f"{loser} trails {winner} by {_gap(gap, run.metric)} of {run.cv} {run.metric}; "
            f"closing {_gap(need, run.metric)} of that would make it a tie at the "
            f"{run.alpha:.0%} level")


# -- small helpers -----------------------------------------------------------------------------
def _intrinsic(model: dict) -> list[str]:
    return sorted(INTRINSIC & set(model.get("explanations") or ()))


def _cost(model: dict, key: str) -> float | None:
    return (model.get("cost") or {}).get(key)


def _per_row(ms_per_1k: float | None) -> float | None:
    return None if ms_per_1k is None else ms_per_1k / 1000.0


def _fmt3(model: dict, metric: str) -> str:
    block = model["cv"][metric]
    std = block.get("std")
    return f"{block['mean']:.3f}" + (f" ± {std:.3f}" if std is not None else "")


def _gap(x: float, metric: str) -> str:
    """A difference in points of a share (two significant digits below one point, so that a
    borderline gap does not read as "0.0 points"), else as it is."""
    declared = find_metric(metric)
    if declared is None or not declared.share:  # not on a 0-1 scale (the task's spec says)
        return f"{x:.4g}"
    return f"{100 * x:.1f} points" if abs(x) >= 0.01 or x == 0 else f"{100 * x:.2g} points"


def _ceil3(x: float) -> float:
    """``x`` rounded up to three significant digits: a quoted limit must still admit ``x``."""
    if x <= 0:
        return x
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    return math.ceil(x / step) * step


def _unknown(what: str, name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}'; {hint}choose from: {', '.join(known)}"


# -- the paired test and the sentences of the accuracy comparison ------------------------------
def compare_pair(a: dict, b: dict, metric: str, n_train: int | None, alpha: float = ALPHA,
                 holdout: bool = False) -> dict:
    """Paired comparison of model ``a`` minus model ``b`` over the shared CV folds (or, with
    ``holdout``, over the blocks of the shared validation part). When either model was not
    cross-validated (the anytime protocol gave it its first fit only), both are paired over the
    blocks of the first fold's validation rows, which every model is scored on."""
    folds_of_both = all((m.get("evaluation") or {}).get("level", "cross_validated")
                        == "cross_validated" for m in (a, b))
    if holdout or folds_of_both:
        fa = (a["cv"].get(metric) or {}).get("folds") or []
        fb = (b["cv"].get(metric) or {}).get("folds") or []
    else:
        holdout = True
        fa = (a.get("validation_blocks") or {}).get(metric) or []
        fb = (b.get("validation_blocks") or {}).get(metric) or []
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
        "paired_over": ("the CV folds" if not holdout else "blocks of the validation part"
                        if folds_of_both else "blocks of the first fold's validation rows: "
                        "at least one of the two was not cross-validated"),
        "test_rows": {
            "traditional": (a.get("test") or {}).get(metric),
            "neural": (b.get("test") or {}).get(metric),
        },
    }


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


def _unscored(results: dict, names: list[str], metric: str) -> str:
    """Why models that finished cannot be compared: none has a validation score of the run's
    metric (a stability needs a second fit: another fold's, or a refit that found no time)."""
    said = (f"{_count(len(names), 'model')} finished ({', '.join(names)}), but none has a "
            f"validation score of {metric}, so nothing decides between the families")
    if metric in ("stability_rho", "stability_ari"):
        said += (f": {metric} compares each model with a second fit on other rows (the next "
                 "fold's, or a refit on a bootstrap resample), and none was made in time. "
                 "Raise --budget, or pass --evaluate-with COLUMN (a column no model sees)")
    return said + "."


def _failures(models: list[dict]) -> str:
    bad = [f"{m['name']} {m['status']} ({m.get('reason') or 'no reason recorded'})"
           for m in models if m["status"] != "ok"]
    return "; ".join(bad) if bad else "none was run"
