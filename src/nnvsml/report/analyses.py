"""The evidence sections: one per claimed difference between the families (GUIDE.md), each
drawn from ``results["evidence"]`` (contract in :mod:`nnvsml.evidence`) or, for tuning, from
the models' trial histories. An analysis that failed shows its status and reason instead."""

from __future__ import annotations

from nnvsml.report import plots
from nnvsml.report.blocks import (Bullets, Cell, Note, Pre, Section, Table, Text, Tiles, missing,
                                  num, score, section, share, signed)
from nnvsml.report.blocks import text as as_text
from nnvsml.report.load import Run

FAMILIES = ("traditional", "neural")


def _model_of(run: Run, family: str) -> str:
    chosen = ((run.evidence or {}).get("models") or {}).get(family)
    return chosen or (run.best.get(family) or {}).get("name") or "—"


def _scored_on(out: Section, run: Run) -> None:
    where = (run.evidence or {}).get("scored_on")
    if where:
        out.blocks.append(Note(f"Scored on {where}."))


# ---------------------------------------------------------------- learning curves


@section("learning-curve", "Learning curves",
         "Claim tested: neural networks need far more data. Score against training-set size "
         "per family (mean ± std over repeats), with the fitted power law dashed and "
         "extrapolated to the size at which one family would overtake the other.",
         analysis="learning_curve")
def learning_curve(out: Section, run: Run, block: dict) -> None:
    crossing = block.get("crossing") or {}
    if crossing.get("sentence"):
        out.blocks.append(Text(crossing["sentence"]))
    metric = block.get("metric") or run.metric
    out.plot(plots.learning_curve(block.get("families") or {}, metric, crossing,
                                  block.get("n_train")),
             f"Learning curves of {metric} against training rows (log scale) per family, "
             f"with fitted power laws")
    fits = Table(["family", "model", "fitted law", "a", "b", "c", "R²"], [], compact=True)
    for family, fam in (block.get("families") or {}).items():
        fit = fam.get("fit") or {}
        fits.rows.append([Cell(family, f"fam fam-{family}"), Cell(as_text(fam.get("model"))),
                          Cell(as_text(fit.get("form")) if fit else "no fit"),
                          *[Cell(num(fit.get(k)), "num") for k in ("a", "b", "c", "r2")]])
    if fits.rows:
        out.blocks.append(fits)
    out.blocks.append(Note(f"{block.get('repeats') or '?'} repeats per size; the models were "
                           f"compared on {num(block.get('n_train'))} training rows."))
    _scored_on(out, run)
    _cost_growth(out, block)


def _cost_growth(out: Section, block: dict) -> None:
    """Claim tested: networks are less scalable. How each family's fit time and memory grew
    over the curve's sizes, and what the fitted exponent projects for ten times the rows."""
    families = block.get("families") or {}
    out.plot(plots.cost_growth(families),
             "Fit seconds and memory added against training rows (log-log), per family, with "
             "the fitted k·n^e")
    table = Table(["family", "model", "time exponent", "fit s at 10x rows", "memory exponent",
                   "MB at 10x rows"], [], compact=True,
                  title="How cost grows with rows (cost = k · n^e over the measured sizes)")
    for family, fam in families.items():
        growth = fam.get("growth") or {}
        time_law, memory_law = growth.get("time") or {}, growth.get("memory") or {}
        table.rows.append([Cell(family, f"fam fam-{family}"), Cell(as_text(fam.get("model"))),
                           Cell(num(time_law.get("exponent")), "num"),
                           Cell(num(time_law.get("at_10x")), "num"),
                           Cell(num(memory_law.get("exponent")), "num"),
                           Cell(num(memory_law.get("at_10x")), "num")])
    if any(fam.get("growth") for fam in families.values()):
        out.blocks.append(table)
        rows = next((f["growth"]["rows_projected"] for f in families.values()
                     if f.get("growth")), None)
        out.blocks.append(Note(
            f"Projected to {num(rows)} rows. A network's fits here are time-bounded (its epochs "
            "may be cut short at the larger sizes), so its time exponent is a lower bound; "
            "memory is the resident memory a fit added, sampled every 10 ms, and is left "
            "blank where fits added under 1 MB."))


# ---------------------------------------------------------------- data quality


@section("data-quality", "Data quality",
         "Claim tested: neural networks are more sensitive to noisy, incomplete or biased "
         "data. Score as each kind of damage to the training rows grows, one panel per kind.",
         analysis="data_quality")
def data_quality(out: Section, run: Run, block: dict) -> None:
    perturbations = block.get("perturbations") or {}
    metric = block.get("metric") or run.metric
    out.plot(plots.data_quality(perturbations, metric),
             f"{metric} against perturbation level, one panel per kind of damage "
             f"({', '.join(k.replace('_', ' ') for k in perturbations)})")
    table = Table(["damage", "level", f"traditional: {_model_of(run, 'traditional')}",
                   f"neural: {_model_of(run, 'neural')}"], [], compact=True,
                  title="Score lost from level 0 to the highest level (positive = worse)")
    for kind, p in perturbations.items():
        drop = p.get("drop") or {}
        t, n = drop.get("traditional"), drop.get("neural")
        better = None if missing(t) or missing(n) or t == n else ("traditional" if t < n
                                                                  else "neural")
        table.rows.append([Cell(kind.replace("_", " "), "label"),
                           Cell(as_text(p.get("level_label"))),
                           Cell(signed(t), "num" + (" better" if better == "traditional" else "")),
                           Cell(signed(n), "num" + (" better" if better == "neural" else ""))])
    if table.rows:
        out.blocks.append(table)
    skipped = block.get("not_applicable") or {}
    if skipped:
        out.blocks.append(Bullets([f"{k.replace('_', ' ')}: {v}" for k, v in skipped.items()],
                                  title="Not applied"))
    _scored_on(out, run)


# ---------------------------------------------------------------- overfitting


@section("overfitting", "Overfitting and regularization",
         "Claim tested: neural networks overfit small data and regularization helps. The gap "
         "between training and validation score per model, and the best network's gap with "
         "each regularizer switched off in turn.")
def overfitting(out: Section, run: Run) -> None:
    block, problem = run.analysis("overfitting")
    rows = (block or {}).get("models")
    if rows is None:
        rows = _gaps_from_cv_train(run)
        if not rows:
            out.fail(**(problem or {"status": "not available", "reason": "no train scores"}))
            return
        why = f" (the overfitting analysis: {problem['status']}, {problem['reason']})" \
            if problem else ""
        out.blocks.append(Note(f"From the train-fold scores of the comparison itself{why}."))
    out.plot(plots.overfitting_gaps(rows),
             "Bars of the train minus validation gap per model, coloured by family")
    reg = (block or {}).get("regularizers") or {}
    if reg.get("model") and reg.get("ablations"):
        out.plot(plots.regularizers(reg.get("baseline") or {}, reg["ablations"], reg["model"]),
                 f"Gap and validation score of {reg['model']} with all regularizers on and "
                 f"with each one off")
        base = reg.get("baseline") or {}
        table = Table(["switched off", "validation (all on → off)", "gap (all on → off)",
                       "epochs", "effect of keeping it"], [], compact=True,
                      title=f"Regularizer ablations of {reg['model']}")
        for a in reg["ablations"]:
            off = a.get("off") or {}
            effect = a.get("effect")
            table.rows.append([
                Cell(a["name"].replace("_", " "), "label"),
                Cell(f"{score(base.get('validation'))} → {score(off.get('validation'))}", "num"),
                Cell(f"{score(base.get('gap'))} → {score(off.get('gap'))}", "num"),
                Cell(f"{as_text(base.get('epochs'))} → {as_text(off.get('epochs'))}", "num"),
                Cell(signed(effect), "num" + (" better" if not missing(effect) and effect > 0
                                              else ""))])
        out.blocks.append(table)
    elif block is not None:
        out.blocks.append(Note("No network in this run: no regularizer ablations."))
    skipped = reg.get("not_applicable") or {}
    if skipped:
        out.blocks.append(Bullets([f"{k.replace('_', ' ')}: {v}" for k, v in skipped.items()],
                                  title="Not applied"))


def _gaps_from_cv_train(run: Run) -> list[dict]:
    sign = 1.0 if run.higher else -1.0
    rows = []
    for m in run.models:
        train = ((m.get("cv_train") or {}).get(run.metric) or {}).get("mean")
        valid = ((m.get("cv") or {}).get(run.metric) or {}).get("mean")
        if m.get("status") == "ok" and train is not None and valid is not None:
            rows.append({"name": m["name"], "family": m["family"], "train": train,
                         "validation": valid, "gap": sign * (train - valid)})
    return rows


# ---------------------------------------------------------------- explanations


@section("explanations", "Explanations: SHAP, intrinsic, surrogate rules, LIME",
         "Claim tested: traditional models are interpretable and networks are black boxes that "
         "SHAP and LIME open up. What each family's best model relies on, and how far the two "
         "agree.",
         analysis="explanations")
def explanations(out: Section, run: Run, block: dict) -> None:
    models = block.get("models") or {}
    fams = [f for f in FAMILIES if models.get(f)]
    shap_panels = [{"family": f, "model": models[f].get("model"),
                    "title": f"{plots.short(models[f].get('model'))} ({f})",
                    "values": (models[f].get("shap") or {}).get("importance") or {}}
                   for f in fams]
    maps = [(models[f].get("shap") or {}) for f in fams]
    drawable = bool(maps) and all(m.get("map") and m.get("shape") for m in maps)
    if drawable and len(maps[0]["shape"]) == 1:
        # Series: SHAP per time segment reads as a line along time.
        out.plot(plots.along_time(
            [{"label": f"{models[f].get('model')} ({f})", "values": m["map"], "family": f}
             for f, m in zip(fams, maps)], "mean |SHAP| along time (each model's peak = 1)",
            "relative |SHAP|"),
            "Lines of mean absolute SHAP value per time step, one per family's best model")
    elif drawable:
        # Images and spectrograms: SHAP per pixel reads as a picture, not a list of names.
        layout = maps[0].get("layout", "image")
        out.plot(plots.saliency([m["map"] for m in maps], maps[0]["shape"],
                                [f"{models[f].get('model')} ({f})" for f in fams], "",
                                title="mean |SHAP| per " + ("pixel" if layout == "image"
                                                            else "spectrogram patch"),
                                layout=layout),
                 "Mean absolute SHAP value per position, one picture per family's best model")
    else:
        out.plot(plots.importance_bars(shap_panels, "mean |SHAP value|"),
                 "Horizontal bars of mean absolute SHAP value per feature, top 15, for each "
                 "family's best model")
    how = [f"{models[f].get('model')}: {s['explainer']}"
           f"{' (exact)' if s.get('exact') else ' (approximate)'} on {num(s.get('rows'))} rows"
           for f in fams if (s := models[f].get("shap"))]
    if how:
        out.blocks.append(Note("SHAP: " + "; ".join(how) + "."))
    agreement = block.get("agreement")
    if agreement:
        rho = agreement.get("spearman")
        out.blocks.append(Text(
            f"Agreement between the families' SHAP rankings: Spearman ρ = "
            f"{'—' if missing(rho) else f'{rho:.2f}'}; of the top {agreement.get('top_k')} "
            f"features, {share(agreement.get('top_k_overlap'))} are named by both."))
    intrinsic = [{"family": f, "values": i.get("values") or {},
                  "title": f"{plots.short(models[f].get('model'))}: {i.get('kind')}"}
                 for f in fams if (i := models[f].get("intrinsic"))]
    if intrinsic:
        out.plot(plots.importance_bars(intrinsic, "value (the model's own)"),
                 "Horizontal bars of the intrinsic importances or coefficients, top 15")
    rules = [Pre(r["text"], title=f"{models[f].get('model')} ({f}): a depth-{r.get('depth')} "
                                  f"surrogate tree, agreeing with the model on "
                                  f"{share(r.get('fidelity'))} of rows")
             for f in fams if (r := models[f].get("rules")) and r.get("text")]
    if rules:
        out.blocks.append(Tiles(rules))
    lime = []
    for f in fams:
        for row in models[f].get("lime") or []:
            weights = sorted((row.get("weights") or {}).items(),
                             key=lambda kv: -abs(kv[1] or 0.0))[:8]
            lime.append(Table(
                ["feature", "LIME weight"],
                [[Cell(str(k)), Cell(signed(w), "num")] for k, w in weights], compact=True,
                title=f"LIME, {models[f].get('model')} ({f}), row {row.get('row')}: predicted "
                      f"{as_text(row.get('prediction'))}"))
    if lime:
        out.blocks.append(Tiles(lime))
    for f in fams:
        sal = models[f].get("saliency")
        if not (sal and sal.get("maps")):
            continue
        if sal.get("note"):
            out.blocks.append(Note(f"Saliency of {models[f].get('model')}: {sal['note']}."))
            continue
        if len(sal["shape"]) == 1:
            classes = sal.get("classes") or []
            out.plot(plots.along_time(
                [{"label": f"class {c}", "values": m} for c, m in zip(classes, sal["maps"])],
                f"{plots.short(models[f].get('model'))}: where along the series the "
                f"prediction is most sensitive", sal.get("method", "")),
                f"Saliency ({sal.get('method')}) of {models[f].get('model')} along time, one "
                f"line per class")
        else:
            out.plot(plots.saliency(sal["maps"], sal["shape"], sal.get("classes") or [],
                                    models[f].get("model"), layout=sal.get("layout", "image")),
                     f"Saliency maps ({sal.get('method')}) of {models[f].get('model')}, one "
                     f"image per class")


# ---------------------------------------------------------------- gradients


@section("gradients", "Gradient norms",
         "Claim tested: deep networks suffer vanishing or exploding gradients and clipping "
         "helps. Per-layer gradient norms of the best network per epoch, unclipped and clipped "
         "side by side, with the loss curves underneath.",
         analysis="gradients")
def gradients(out: Section, run: Run, block: dict) -> None:
    runs, thresholds = block.get("runs") or {}, block.get("thresholds") or {}
    out.plot(plots.gradients(runs, thresholds, block.get("model") or ""),
             f"Per-layer gradient norms per epoch (log scale) of {block.get('model')}, "
             f"unclipped and clipped, with thresholds and loss curves")
    items = []
    for name, r in runs.items():
        flags = r.get("flags") or {}
        bad = [f"{kind}: {', '.join(flags[kind])}" for kind in ("vanishing", "exploding")
               if flags.get(kind)]
        items.append(f"{name}: {'; '.join(bad) if bad else 'no layer flagged'}; validation "
                     f"{score(r.get('validation'))}")
    if items:
        out.blocks.append(Bullets(items))
    if thresholds.get("text"):
        out.blocks.append(Note(thresholds["text"]))


# ---------------------------------------------------------------- energy


@section("energy", "Energy",
         "Claim tested: neural networks cost more energy. Estimated energy and CO₂ of fitting "
         "and of predicting 1,000 rows, from the measured CPU/GPU seconds and a stated power "
         "model.",
         analysis="energy")
def energy(out: Section, run: Run, block: dict) -> None:
    table = Table(["model", "family", "fit Wh", "fit g CO₂", "predict Wh / 1k",
                   "predict g CO₂ / 1k", "CPU s", "GPU s"], [])
    for m in block.get("models") or []:
        table.rows.append([Cell(as_text(m.get("name")), "model"),
                           Cell(as_text(m.get("family")), f"fam fam-{m.get('family')}"),
                           *[Cell(num(m.get(k)), "num") for k in (
                               "fit_wh", "fit_g_co2", "predict_wh_per_1k",
                               "predict_g_co2_per_1k", "cpu_seconds", "gpu_seconds")]])
    out.blocks.append(table)
    power = (block.get("power_model") or {}).get("text")
    if power:
        out.blocks.append(Note(f"Power model: {power}"))


# ---------------------------------------------------------------- deployability


@section("deployability", "Deployability",
         "Claim tested: traditional models are easier to deploy, networks need optimized "
         "inference frameworks. Each family's best model served from its files in a fresh "
         "process: size per format, cold start, single-row latency and batch throughput, "
         "natively and through ONNX Runtime.",
         analysis="deployability")
def deployability(out: Section, run: Run, block: dict) -> None:
    table = Table(["family", "model", "route", "file", "size", "cold start s", "p50 ms",
                   "p99 ms", "rows/s", "peak MB"], [])
    notes = []
    for family, record in (block.get("models") or {}).items():
        formats = record.get("formats") or {}
        for route, r in (record.get("routes") or {}).items():
            fmt = formats.get("safe" if route == "native" else "onnx") or {}
            head = [Cell(family, f"fam fam-{family}"), Cell(as_text(record.get("model")), "model"),
                    Cell("ONNX Runtime" if route == "onnx" else "native"),
                    Cell(_format_text(route, fmt))]
            if r.get("status") != "ok":
                table.rows.append(head + [Cell(as_text(f"{r.get('status')}: {r.get('reason')}"))]
                                  + [Cell("")] * 5)
                continue
            table.rows.append(head + [Cell(_kb(fmt.get("size_kb")), "num")] + [
                Cell(num(r.get(k)), "num") for k in ("cold_start_s", "p50_ms", "p99_ms",
                                                     "rows_per_s", "peak_memory_mb")])
        onnx = formats.get("onnx") or {}
        if onnx.get("status") != "ok" and onnx.get("reason"):
            notes.append(f"{record.get('model')}: no ONNX copy ({onnx['reason']})")
        elif (onnx.get("parity") or {}).get("max_abs_diff") is not None:
            notes.append(f"{record.get('model')}: the ONNX copy agrees with the model on "
                         f"{onnx['parity'].get('rows')} rows (largest probability difference "
                         f"{onnx['parity']['max_abs_diff']:.1e})")
    out.blocks.append(table)
    if notes:
        out.blocks.append(Bullets(notes))
    out.blocks.append(Note(
        f"Each route ran on {block.get('threads', 1)} thread(s), ONNX Runtime "
        f"{block.get('onnx_runtime') or 'not installed'}; latency over single-row calls, "
        f"throughput over {num(block.get('rows'))} rows in one call; peak MB is the serving "
        "process's resident memory, libraries included."))


def _format_text(route: str, fmt: dict) -> str:
    if route == "native":
        return "skops + safetensors" if len(fmt.get("files") or []) > 1 else "skops"
    return "ONNX (whole pipeline)" if fmt.get("scope") == "pipeline" else "ONNX (network only)"


def _kb(kb) -> str:
    if kb is None:
        return "—"
    return f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} KB"


# ---------------------------------------------------------------- tuning


@section("tuning", "Tuning histories",
         "Claim tested: neural networks need heavier hyperparameter tuning. The best score "
         "reached so far against tuning seconds, one line per model.")
def tuning(out: Section, run: Run) -> None:
    series = [{"name": m["name"], "family": m["family"],
               "history": (m.get("tuning") or {}).get("history")}
              for m in run.models if m.get("status") == "ok"]
    src = plots.tuning(series, run.metric, run.higher)
    if src is None:
        out.fail("not tuned", "no model has a trial history (a run with --search none, or "
                              "one made before tuning existed)")
        return
    out.plot(src, f"Best {run.metric} so far against tuning seconds per model, coloured by "
                  f"family")
    effort = run.results.get("tuning_effort") or {}
    table = Table(["family", "models", "trials", "seconds", "mean gain over defaults",
                   "best gain"], [], compact=True)
    for family, f in (effort.get("families") or {}).items():
        table.rows.append([Cell(family, f"fam fam-{family}"), Cell(num(f.get("models")), "num"),
                           Cell(num(f.get("trials")), "num"), Cell(num(f.get("seconds")), "num"),
                           Cell(signed(f.get("mean_gain")), "num"),
                           Cell(signed(f.get("max_gain")), "num")])
    if table.rows:
        out.blocks.append(table)
        where = effort.get("measured_on") or "the tuning rows"
        out.blocks.append(Note(f"Gains are measured on {where}; positive = better."))
