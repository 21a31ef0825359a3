"""Do networks overfit, and does regularisation help? The train-versus-validation gap of every
model (from the comparison's own folds), and the best network refitted with each of its
regularisers switched off in turn: dropout, weight decay, early stopping, data augmentation.
"""

from __future__ import annotations

import time

import numpy as np

from nnvsml.data.dataset import take
from nnvsml.evidence.context import AnalysisContext
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.models.steps import final_step, is_network

#: Scoring rows of the training part, for the "train" side of the gap.
TRAIN_SCORE_ROWS = 2000


def gaps(results: dict) -> list[dict]:
    """Every finished model's mean train and validation score over the CV folds, and their gap
    (positive = better on the rows it learned from). Read from results: nothing is refitted."""
    metric = results["protocol"]["primary_metric"]
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    out = []
    for m in results.get("models", []):
        train = ((m.get("cv_train") or {}).get(metric) or {}).get("mean")
        valid = ((m.get("cv") or {}).get(metric) or {}).get("mean")
        if m.get("status") != "ok" or train is None or valid is None:
            continue
        out.append({"name": m["name"], "family": m["family"], "train": train,
                    "validation": valid, "gap": sign * (train - valid)})
    return out


def _switches(ctx: AnalysisContext) -> tuple[dict, dict]:
    """name -> how to switch it off, and name -> why it cannot be."""
    cand = ctx.subjects["neural"].candidate
    on, skipped = {}, {}
    for name in ("dropout", "weight_decay"):
        if name in cand.space:
            on[name] = {name: 0.0}
        else:
            skipped[name] = f"{cand.name} has no {name.replace('_', ' ')} to switch off"
    probe = final_step(ctx.build("neural", 100))
    if getattr(probe, "augment", None):
        on["augmentation"] = {"augment": None}
    else:
        skipped["augmentation"] = ("augmentation is part of the image networks; "
                                   f"{cand.name} trains on its inputs as they are")
    # Last: without early stopping a network trains until its clock or epoch cap, the
    # costliest refit of all.
    on["early_stopping"] = {"early_stopping": False}
    return on, skipped


def run(ctx: AnalysisContext) -> dict:
    started = time.monotonic()
    block = {"status": "running", "reason": None, "metric": ctx.metric,
             "regularizers": {"model": None, "baseline": None, "ablations": [],
                              "not_applicable": {}}}
    if "neural" not in ctx.subjects:
        block.update(status="ok", seconds=0.0)
        block["regularizers"]["not_applicable"]["all"] = "no network finished in this run"
        return block
    if not is_network(final_step(ctx.build("neural", 100))):
        block.update(status="ok", seconds=round(time.monotonic() - started, 3))
        block["regularizers"]["not_applicable"]["all"] = (
            f"{ctx.subjects['neural'].name} trains its network in rounds inside another "
            "estimator (self-training): its regularizers are its twin's")
        return block
    switches, skipped = _switches(ctx)
    reg = block["regularizers"]
    reg.update(model=ctx.subjects["neural"].name, not_applicable=skipped)
    n_fits = 1 + len(switches)
    rows = ctx.sample(ctx.affordable_rows({"neural": n_fits}))
    seen = rows if len(rows) <= TRAIN_SCORE_ROWS else np.sort(
        np.random.default_rng(ctx.seed).choice(rows, TRAIN_SCORE_ROWS, replace=False))
    X_eval, y_eval = ctx.eval_set()

    def measure(label: str, model_params: dict, space_params: dict, fits_left: int) -> dict:
        ctx.progress(f"{reg['model']}: {label}")
        est = ctx.build("neural", len(rows), overrides=space_params, fits_left=fits_left)
        final_step(est).set_params(**model_params)
        est.fit(take(ctx.X, rows), ctx.y[rows])
        train = ctx.score(est, take(ctx.X, seen), ctx.y[seen])
        valid = ctx.score(est, X_eval, y_eval)
        return {"train": train, "validation": valid,
                "gap": ctx.worse_by(train, valid) if train is not None else None,
                "epochs": getattr(final_step(est), "n_epochs_", None)}

    reg["baseline"] = measure("every regulariser on", {}, {}, n_fits)
    for i, (name, change) in enumerate(switches.items()):
        if ctx.out_of_time():
            reg["not_applicable"][name] = "the analysis ran out of time before it"
            continue
        space = {k: v for k, v in change.items() if k in ("dropout", "weight_decay")}
        model = {k: v for k, v in change.items() if k not in space}
        off = measure(f"{name.replace('_', ' ')} off", model, space, n_fits - 1 - i)
        effect = ctx.worse_by(reg["baseline"]["validation"], off["validation"])
        reg["ablations"].append({"name": name, "off": off, "effect": effect})
        ctx.partial({**block, "status": "timeout", "reason": f"ran out of time after {name}",
                     "seconds": round(time.monotonic() - started, 3)})
    block.update(status="ok", seconds=round(time.monotonic() - started, 3), rows=len(rows))
    return block
