"""The top of the report: the header, the verdict, the key differences, the leaderboard and
accuracy against training time. These answer "which family, why, and what would change it"."""

from __future__ import annotations

from nnvsml.report import plots
from nnvsml.report.blocks import Cell, Note, Section, Table, Text, missing, num, score, section
from nnvsml.report.blocks import text as as_text
from nnvsml.report.load import Run
from nnvsml.results import leaderboard

FAMILY_WORDS = {"traditional": "traditional machine learning", "neural": "a neural network"}


def header(run: Run) -> dict:
    ds, pr = run.results["dataset"], run.results["protocol"]
    facts = [
        ("data", f"{ds.get('name') or 'unnamed'} ({ds.get('modality') or '?'}, "
                 f"{ds.get('task')})"),
        ("rows × features", f"{num(ds.get('n_rows'))} × {num(ds.get('n_features'))}"),
        ("target", as_text(ds.get("target"))),
        *_sampling(ds.get("sampling")),
        ("primary metric", f"{run.metric} ({'higher' if run.higher else 'lower'} is better)"),
        ("validation", _validation(pr)),
        ("budget", num(pr.get("budget_seconds"), "s")),
        ("tuning", as_text(pr.get("search"))),
        ("run", f"{run.results.get('status') or 'unknown'}, updated "
                f"{run.results.get('updated') or '?'}"),
    ]
    status = run.results.get("status")
    banner = None
    if status not in (None, "complete"):
        banner = (f"This run is {status}: the report shows what had finished by "
                  f"{run.results.get('updated') or 'its last save'}; rebuild it with "
                  f"'nnvsml report' once the run completes.")
    return {"title": f"nnvsml: {ds.get('name') or 'run'}", "facts": facts, "banner": banner,
            "version": run.results.get("nnvsml_version") or "?"}


def _sampling(sampling: dict | None) -> list[tuple[str, str]]:
    """A table larger than memory: which rows each kind of model saw."""
    if not isinstance(sampling, dict):
        return []
    return [("read in batches",
             f"{num(sampling.get('in_memory_rows'))} rows held in memory: "
             f"{num(sampling.get('test_rows'))} test rows and a stratified sample of "
             f"{num(sampling.get('sample_rows'))} of the {num(sampling.get('train_rows'))} "
             "training rows; LightGBM and the networks then train on every training row "
             f"({as_text(sampling.get('rule'))})")]


def _validation(protocol: dict) -> str:
    if protocol.get("validation") == "holdout":
        return f"one validation part ({num(protocol.get('n_validation'))} rows)"
    folds = protocol.get("cv_folds")
    return f"{folds}-fold cross-validation" if folds else "?"


def verdict(run: Run) -> dict:
    """The verdict box: headline, reasons, what would change it, facts, exclusions."""
    v = run.verdict
    if not v:
        return {"present": False, "family": "none", "headline": "No verdict yet",
                "lead": f"The run is {run.results.get('status') or 'unfinished'}: the verdict "
                        "is written once every model has finished.",
                "reasons": [], "would_change": [], "facts": [], "excluded": None, "meta": None}
    family, model = v.get("family"), v.get("model")
    if family == "tie":
        headline = "Tie: either family will do"
        of = (run.model(model) or {}).get("family")
        lead = (f"Recommended model: {model}" + (f" ({of})" if of else "")) if model \
            else "No model is recommended."
    elif family in FAMILY_WORDS:
        headline = f"Use {FAMILY_WORDS[family]}"
        lead = f"Recommended model: {model} ({family})"
    else:
        headline, lead = "No verdict", "No family could be recommended."
    excluded = None
    if v.get("excluded"):
        excluded = Table(
            ["model", "family", "constraint", "value", "limit", "reason"],
            [[Cell(as_text(e.get("model"))), _family_cell(e.get("family")),
              Cell(as_text(e.get("constraint"))), Cell(as_text(e.get("value")), "num"),
              Cell(as_text(e.get("limit")), "num"), Cell(as_text(e.get("reason")))]
             for e in v["excluded"]],
            title="Excluded by your constraints", compact=True)
    return {"present": True, "family": family if family in ("traditional", "neural", "tie")
            else "none", "headline": headline, "lead": lead,
            "reasons": [str(r) for r in v.get("reasons") or []],
            "would_change": [str(r) for r in v.get("would_change") or []],
            "facts": [str(r) for r in v.get("facts") or []],
            "excluded": excluded,
            "meta": _priority_line(v)}


def _priority_line(v: dict) -> str | None:
    parts = []
    if v.get("priority"):
        parts.append(f"Priority: {as_text(v['priority'])}.")
    constraints = _constraints(v.get("constraints"))
    if constraints:
        parts.append(f"Constraints: {'; '.join(constraints)}.")
    return " ".join(parts) or None


def _constraints(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, dict):
        return [f"{k} = {as_text(v)}" for k, v in value.items() if v not in (None, False)]
    if isinstance(value, (list, tuple)):
        return [as_text(v) for v in value]
    return [as_text(value)]


def _family_cell(family) -> Cell:
    family = as_text(family)
    return Cell(family, f"fam fam-{family}" if family in ("traditional", "neural") else "")


# ---------------------------------------------------------------- key differences

COST_ROWS = [  # (cost key, label, unit)
    ("fit_seconds", "fit time", "s"),
    ("latency_ms", "latency (1 row)", "ms"),
    ("predict_ms_per_1k", "prediction time per 1,000 rows", "ms"),
    ("peak_memory_mb", "peak memory", "MB"),
    ("model_size_kb", "model size", "KB"),
]


@section("key-differences", "Key differences",
         "Every dimension on which the two families are said to differ (GUIDE.md's claims), "
         "measured on this data for each family's best model, side by side; the better value "
         "is highlighted.")
def key_differences(out: Section, run: Run) -> None:
    v = run.verdict or {}
    # The table describes each family's best model, whatever the constraints set aside.
    names = {f: (run.best.get(f) or {}).get("name") for f in ("traditional", "neural")}
    rows = v.get("key_differences")
    if rows is None:
        rows = _derived_differences(run)
        if rows:
            out.blocks.append(Note("This run's verdict carries no key-differences table; these "
                                   "rows are read from the leaderboard by the report."))
    if not rows:
        out.fail("not available", "a comparison needs a finished model in each family")
        return
    table = Table([" ", f"traditional: {names['traditional'] or '—'}",
                   f"neural: {names['neural'] or '—'}", "note"], [])
    for r in rows:
        better = r.get("better")
        table.rows.append([
            Cell(as_text(r.get("label") or r.get("dimension")), "label"),
            *[Cell(_cell_text(r, f), _mark(better, f)) for f in ("traditional", "neural")],
            Cell(as_text(r.get("note")) if r.get("note") else "", "muted"),
        ])
    if not any(row[-1].text for row in table.rows):
        table.columns.pop()
        for row in table.rows:
            row.pop()
    out.blocks.insert(0, table)


def _mark(better: str | None, family: str) -> str:
    """The cell's class: "better" for the better family; "same" on both sides of a tie."""
    if better == family:
        return "better"
    return "same" if better == "same" else ""


def _cell_text(row: dict, family: str) -> str:
    shown = row.get(family)
    if shown is None or shown == "":
        return as_text(row.get(f"{family}_value"))
    return as_text(shown)


def _derived_differences(run: Run) -> list[dict]:
    trad, neur = run.best.get("traditional"), run.best.get("neural")
    if trad is None or neur is None:
        return []
    metric = run.metric

    def row(label, tv, nv, lower_better, fmt):
        better = None
        if not missing(tv) and not missing(nv) and tv != nv:
            better = "traditional" if (tv < nv) == lower_better else "neural"
        return {"label": label, "traditional": fmt(tv), "neural": fmt(nv), "better": better}

    cv = lambda m: ((m.get("cv") or {}).get(metric) or {}).get("mean")  # noqa: E731
    test = lambda m: (m.get("test") or {}).get(metric)  # noqa: E731
    rows = [row(f"cross-validated {metric}", cv(trad), cv(neur), not run.higher, score),
            row(f"test {metric}", test(trad), test(neur), not run.higher, score)]
    for key, label, unit in COST_ROWS:
        tv, nv = (trad.get("cost") or {}).get(key), (neur.get("cost") or {}).get(key)
        if not (missing(tv) and missing(nv)):
            rows.append(row(label, tv, nv, True, lambda x, u=unit: num(x, u)))
    return rows


# ---------------------------------------------------------------- leaderboard


@section("leaderboard", "Leaderboard",
         "Claim tested: networks are more accurate on unstructured data, traditional models do "
         "as well or better on tables: every candidate's cross-validated score (mean ± std), "
         "its held-out test score with a 95% interval, and what it cost.")
def leaderboard_section(out: Section, run: Run) -> None:
    df = leaderboard(run.results)
    if df.empty:
        out.fail("empty", "no model has finished yet")
        return
    m = run.metric
    chosen = (run.verdict or {}).get("model")
    excluded = {e.get("model"): e for e in (run.verdict or {}).get("excluded") or []}
    table = Table(["model", "family", "status", f"CV {m}", f"test {m} (95% CI)", "fit s",
                   "latency ms", "predict ms / 1k rows", "peak MB", "size KB", "reason"], [])
    for r in df.to_dict("records"):
        entry = run.model(r["model"]) or {}
        cost = entry.get("cost") or {}
        name = r["model"] + (" ★" if r.get("best_in_family") else "")
        reason = r.get("reason")
        if r["model"] in excluded:
            reason = "excluded: " + as_text(excluded[r["model"]].get("reason")
                                            or excluded[r["model"]].get("constraint"))
        cv = score(r[f"cv_{m}_mean"])
        if not missing(r[f"cv_{m}_std"]):
            cv += f" ± {score(r[f'cv_{m}_std'])}"
        test = score(r[f"test_{m}"])
        if not missing(r[f"test_{m}_low"]):
            test += f" [{score(r[f'test_{m}_low'])}, {score(r[f'test_{m}_high'])}]"
        table.rows.append([
            Cell(name, "model chosen" if r["model"] == chosen else "model"),
            _family_cell(r["family"]),
            Cell(r["status"], f"status status-{r['status']}"),
            Cell(cv, "num"), Cell(test, "num"),
            Cell(num(r["fit_seconds"]), "num"),
            Cell(num(cost.get("latency_ms")), "num"),
            Cell(num(r["predict_ms_per_1k"]), "num"),
            Cell(num(r["peak_memory_mb"]), "num"),
            Cell(num(r["model_size_kb"]), "num"),
            Cell(as_text(reason) if not missing(reason) else "", "reason"),
        ])
    out.blocks.append(table)
    out.blocks.append(Note("★ best of its family by cross-validated score; bold: the verdict's "
                           "model. Test scores are from the held-out rows, touched once."))


# ---------------------------------------------------------------- accuracy against time


@section("pareto", "Accuracy against training time",
         "Claim tested: neural networks cost more compute and time. Each finished model's "
         "cross-validated score against its fit time; a model on the dashed step line (the "
         "Pareto front) is beaten by no other on both at once.")
def pareto(out: Section, run: Run) -> None:
    points = []
    for m in run.models:
        if m.get("status") != "ok":
            continue
        points.append({"name": m["name"], "family": m["family"],
                       "seconds": (m.get("cost") or {}).get("fit_seconds"),
                       "score": ((m.get("cv") or {}).get(run.metric) or {}).get("mean")})
    src = plots.pareto(points, run.metric, run.higher)
    if src is None:
        out.fail("not available", "no finished model has both a fit time and a score")
        return
    front = plots.pareto_front([p for p in points if p["seconds"] and p["score"] is not None],
                               run.higher)
    out.plot(src, f"Scatter of cross-validated {run.metric} against fit time (log scale) for "
                  f"{len(points)} models, with the Pareto front")
    out.blocks.append(Text("On the front, fastest first: " + ", ".join(
        f"{p['name']} ({p['family']}, {num(p['seconds'], 's')}, {score(p['score'])})"
        for p in front) + "."))
