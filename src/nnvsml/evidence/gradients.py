"""Do deep networks suffer vanishing or exploding gradients, and does clipping help? The best
network refitted twice, with and without gradient-norm clipping, recording every layer's
gradient norm per epoch (before any clipping) and the loss curves."""

from __future__ import annotations

import math
import time

from skorch.callbacks import GradientNormClipping

from nnvsml.data.dataset import take
from nnvsml.evidence.context import AnalysisContext
from nnvsml.models.neural.callbacks import GradientNorms
from nnvsml.models.steps import final_step, is_network

#: A layer's mean gradient norm over an epoch below this is vanishing...
VANISHING = 1e-6
#: ...and so is one this many times smaller than the epoch's largest layer norm.
VANISHING_RATIO = 1e-4
#: Above this (or not finite) it is exploding.
EXPLODING = 1e2
THRESHOLDS_TEXT = (f"a layer's gradient norm (mean over an epoch's batches, before clipping) "
                   f"is flagged vanishing below {VANISHING:g} or below {VANISHING_RATIO:g} x the "
                   f"largest layer's norm in that epoch, and exploding above {EXPLODING:g} or "
                   f"when not finite (largest batch norm of the epoch)")


def flags(layers: list[str], norms: list[list[float]], max_norms: list[list[float]]) -> dict:
    vanishing, exploding = [], []
    n_epochs = max((len(n) for n in norms), default=0)
    for e in range(n_epochs):
        column = [n[e] for n in norms if e < len(n) and math.isfinite(n[e])]
        top = max(column, default=0.0)
        for layer, n, m in zip(layers, norms, max_norms):
            if e >= len(n):
                continue
            if math.isfinite(n[e]) and (n[e] < VANISHING or n[e] < VANISHING_RATIO * top):
                if layer not in vanishing:
                    vanishing.append(layer)
            if not math.isfinite(m[e]) or m[e] > EXPLODING:
                if layer not in exploding:
                    exploding.append(layer)
    return {"vanishing": vanishing, "exploding": exploding}


def run(ctx: AnalysisContext) -> dict:
    started = time.monotonic()
    block = {"status": "running", "reason": None, "model": None,
             "thresholds": {"vanishing": VANISHING, "vanishing_ratio": VANISHING_RATIO,
                            "exploding": EXPLODING, "text": THRESHOLDS_TEXT},
             "runs": {}}
    if "neural" not in ctx.subjects:
        block.update(status="skipped", reason="no network finished in this run", seconds=0.0)
        return block
    block["model"] = ctx.subjects["neural"].name
    probe = final_step(ctx.build("neural", 100))
    if not is_network(probe):
        block.update(status="skipped", seconds=round(time.monotonic() - started, 3),
                     reason=f"{block['model']} trains its network in rounds inside another "
                     "estimator (self-training): there is no one training to record")
        return block
    rows = ctx.sample(ctx.affordable_rows({"neural": 2}))
    X_eval, y_eval = ctx.eval_set()
    clip = probe.grad_clip or 1.0
    for i, (label, value) in enumerate((("clipped", clip), ("unclipped", None))):
        ctx.progress(f"{block['model']}: gradients {label}")
        est = ctx.build("neural", len(rows), fits_left=2 - i)
        recorder = GradientNorms()
        callbacks = [("grad_norms", recorder)]
        if value is not None:  # after the recorder: it sees the norms clipping acts on
            callbacks.append(("clip_norms", GradientNormClipping(gradient_clip_value=value)))
        net = final_step(est)
        net.set_params(grad_clip=None, callbacks=callbacks)
        est.fit(take(ctx.X, rows), ctx.y[rows])
        layers = _short_names(recorder.layers_)
        history = getattr(net, "history_", [])
        block["runs"][label] = {
            "clip": value, "layers": layers,
            "norms": _clean(recorder.norms_), "max_norms": _clean(recorder.max_norms_),
            "train_loss": [h["train_loss"] for h in history],
            "valid_loss": [h["valid_loss"] for h in history],
            "flags": flags(layers, recorder.norms_, recorder.max_norms_),
            "validation": ctx.score(est, X_eval, y_eval),
            "epochs": len(history),
        }
        ctx.partial({**block, "status": "timeout", "reason": f"ran out of time after {label}",
                     "seconds": round(time.monotonic() - started, 3)})
    block.update(status="ok", seconds=round(time.monotonic() - started, 3), rows=len(rows))
    return block


def _short_names(layers: list[str]) -> list[str]:
    """Drop the prefix every layer shares ("module_." and the like)."""
    parts = [name.split(".") for name in layers]
    common = 0
    while parts and all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return [".".join(p[common:]) for p in parts]


def _clean(rows: list[list[float]]) -> list[list[float | None]]:
    """JSON has no NaN: a layer without a gradient in an epoch becomes None."""
    return [[v if math.isfinite(v) else None for v in row] for row in rows]
