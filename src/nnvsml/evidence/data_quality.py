"""Are networks more sensitive to noisy, incomplete or biased data? Each family's best model
refitted on damaged copies of the same training rows, and the drop in score measured.

What is damaged, and where:

* label_noise: a share of the training labels replaced by another class (a shuffled target
  for a task without classes, as regression); the validation rows keep their true labels.
* feature_noise: Gaussian noise of ``level`` standard deviations on every numeric column
  (pixels, series, spectrograms), in training and validation rows alike: the data the model
  sees in use is as noisy as the data it learned from.
* missing: a share of the feature cells blanked (NaN in tables, black pixels in images, dropped
  words in texts), training and validation rows alike.
* irrelevant: as many random columns as there are features added to the table.
* imbalance: every class but the largest kept at a share of its rows (training rows only).

Damage is seeded, and the same damaged rows go to both families.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from nnvsml.data.dataset import take
from nnvsml.evidence.context import AnalysisContext
from nnvsml.tasks import get_task

LEVELS = {
    "label_noise": [0.0, 0.1, 0.2, 0.3],
    "feature_noise": [0.0, 0.5, 1.0],
    "missing": [0.0, 0.1, 0.3],
    "irrelevant": [0.0, 1.0],
    "imbalance": [1.0, 0.3, 0.1],
}
LABELS = {
    "label_noise": ("fraction of training labels corrupted", "training labels"),
    "feature_noise": ("Gaussian noise, in standard deviations of each feature",
                      "training and validation features"),
    "missing": ("fraction of feature values removed", "training and validation features"),
    "irrelevant": ("random columns added, per real feature", "training and validation rows"),
    "imbalance": ("share of rows kept in every class but the largest", "training rows"),
}


def applicable(kind: str, task: str, modality: str, kinds: dict) -> str | None:
    """None when the damage applies, else why it does not."""
    if kind == "label_noise" and not get_task(task).supervised:
        return f"a {task} model learns from no labels (its evaluation column is never shown)"
    if kind == "imbalance" and not get_task(task).has_classes:
        return f"class imbalance needs classes; this is a {task} task"
    if kind == "irrelevant" and modality != "tabular":
        return f"{modality} inputs have a fixed shape: no columns can be added"
    if kind == "feature_noise" and modality == "text":
        return "texts have no numeric features to add noise to (see missing: dropped words)"
    if kind == "feature_noise" and modality == "tabular" and "numeric" not in kinds.values():
        return "the table has no numeric column"
    if kind == "missing" and modality in ("sequence", "audio"):
        return f"{modality} models take complete inputs; a gap would read as padding"
    return None


def run(ctx: AnalysisContext) -> dict:
    started = time.monotonic()
    families = list(ctx.subjects)
    skipped = {k: why for k in LEVELS
               if (why := applicable(k, ctx.task, ctx.modality, ctx.kinds))}
    kinds = [k for k in LEVELS if k not in skipped]
    n_fits = 1 + sum(len(LEVELS[k]) - 1 for k in kinds)
    rows = ctx.sample(ctx.affordable_rows({f: n_fits for f in families}))
    eval_rows = ctx.eval_rows_used()
    X_eval, y_eval = ctx.eval_set()
    X_train, y_train = take(ctx.X, rows), ctx.y[rows]
    block = {"status": "running", "reason": None, "metric": ctx.metric, "rows": len(rows),
             "perturbations": {}, "not_applicable": skipped}

    baseline = {}
    for family in families:
        ctx.progress(f"{family} on clean rows")
        baseline[family] = _fit_score(ctx, family, X_train, y_train, X_eval, y_eval, n_fits,
                                      eval_rows=eval_rows)
    fits_left = n_fits - 1
    for kind in kinds:
        levels = LEVELS[kind]
        entry = {"levels": levels, "level_label": LABELS[kind][0], "applies_to": LABELS[kind][1],
                 "families": {f: {"model": ctx.subjects[f].name, "scores": [baseline[f]]}
                              for f in families}}
        for i, level in enumerate(levels[1:], start=1):
            rng = np.random.default_rng(ctx.seed * 7919 + 31 * i + len(block["perturbations"]))
            data = damage(kind, level, X_train, y_train, X_eval, y_eval, ctx, rng)
            for family in families:
                score = None
                if ctx.out_of_time():
                    entry.setdefault("errors", {})[family] = "the analysis ran out of time"
                else:
                    ctx.progress(f"{family}: {kind.replace('_', ' ')} {level:g}")
                    try:
                        score = _fit_score(ctx, family, *data[:4], fits_left, kinds=data[4],
                                           eval_rows=eval_rows)
                    except Exception as exc:  # noqa: BLE001  (a model that cannot take this
                        # damage, e.g. no missing values: a finding, recorded; the rest goes on)
                        entry.setdefault("errors", {})[family] = \
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                entry["families"][family]["scores"].append(score)
            fits_left -= 1
        entry["drop"] = {f: ctx.worse_by(s["scores"][0], _last(s["scores"]))
                         for f, s in entry["families"].items()}
        block["perturbations"][kind] = entry
        ctx.partial({**block, "status": "timeout", "reason": f"ran out of time after {kind}",
                     "seconds": round(time.monotonic() - started, 3)})
    block.update(status="ok", seconds=round(time.monotonic() - started, 3))
    return block


def _last(scores: list) -> float | None:
    """The score at the strongest damage the model could be measured under."""
    measured = [s for s in scores[1:] if s is not None]
    return measured[-1] if measured else None


def _fit_score(ctx, family, X_train, y_train, X_eval, y_eval, fits_left, kinds=None,
               eval_rows=None):
    """Fit on the (damaged) training rows, score on the validation rows. An unsupervised model
    is fitted without their evaluation column and scored in the common space of the clean rows
    (``eval_rows``): a clustering of noisy rows is judged by the groups it finds in the data."""
    est = ctx.build(family, len(y_train), fits_left=fits_left, kinds=kinds)
    ctx.fit(est, X_train, y_train)
    return ctx.score(est, X_eval, y_eval, eval_rows)


def damage(kind, level, X_train, y_train, X_eval, y_eval, ctx, rng):
    """(X_train, y_train, X_eval, y_eval, kinds or None) with ``kind`` of damage at ``level``."""
    if kind == "label_noise":
        return X_train, _noisy_labels(y_train, level, ctx.task, rng), X_eval, y_eval, None
    if kind == "imbalance":
        keep = _imbalanced(y_train, level, rng)
        return take(X_train, keep), y_train[keep], X_eval, y_eval, None
    if kind == "irrelevant":
        n_new = max(1, int(round(level * len(X_train.columns))))
        return (_add_columns(X_train, n_new, rng), y_train, _add_columns(X_eval, n_new, rng),
                y_eval, {**ctx.kinds, **{f"random_{j}": "numeric" for j in range(n_new)}})
    fn = _feature_noise if kind == "feature_noise" else _missing
    return fn(X_train, level, ctx, rng), y_train, fn(X_eval, level, ctx, rng), y_eval, None


def _noisy_labels(y, level, task, rng):
    y = y.copy()
    pick = rng.choice(len(y), int(round(level * len(y))), replace=False)
    if not get_task(task).has_classes:  # no other class to pick: shuffle the picked values
        y[pick] = rng.permutation(y[pick])
        return y
    classes = np.unique(y)
    for i in pick:  # another class, uniformly: the label is wrong, not merely resampled
        others = classes[classes != y[i]]
        y[i] = others[rng.integers(len(others))]
    return y


def _imbalanced(y, share, rng):
    values, counts = np.unique(y, return_counts=True)
    largest = values[np.argmax(counts)]
    keep = []
    for value in values:
        members = np.flatnonzero(y == value)
        if value != largest:
            # At least a few rows, so that every model can still see the class.
            members = rng.choice(members, max(5, int(round(share * len(members)))),
                                 replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _add_columns(X: pd.DataFrame, n_new: int, rng) -> pd.DataFrame:
    extra = pd.DataFrame(rng.normal(size=(len(X), n_new)), index=X.index,
                         columns=[f"random_{j}" for j in range(n_new)])
    return pd.concat([X, extra], axis=1)


def _feature_noise(X, level, ctx, rng):
    if isinstance(X, pd.DataFrame):
        X = X.copy()
        for col, kind in ctx.kinds.items():
            if kind == "numeric" and col in X:
                values = pd.to_numeric(X[col], errors="coerce").astype(float)
                # Infinities are missing values (as the data loader says); the spread is that
                # of the finite values, scaled down first so that 1e308 does not overflow.
                values = values.where(np.isfinite(values))
                X[col] = values + rng.normal(0.0, level * _spread(values), len(values))
        return X
    arr = np.asarray(X, dtype=np.float32)
    noisy = arr + rng.normal(0.0, level * float(arr.std() or 1.0), arr.shape).astype(np.float32)
    if np.asarray(X).dtype == np.uint8:  # images stay images
        return np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return noisy.astype(np.asarray(X).dtype)


def _spread(values: pd.Series) -> float:
    """Standard deviation of the finite values, without overflow; 1.0 when there is none."""
    finite = values[np.isfinite(values)].to_numpy()
    scale = float(np.max(np.abs(finite))) if len(finite) else 0.0
    if not scale:
        return 1.0
    std = float(np.std(finite / scale)) * scale
    return std if np.isfinite(std) and std > 0 else 1.0


def _missing(X, level, ctx, rng):
    if isinstance(X, pd.DataFrame):
        X = X.copy()
        for col in X.columns:
            if ctx.kinds.get(col) in ("numeric", "categorical", "high_cardinality", "boolean"):
                X.loc[rng.random(len(X)) < level, col] = np.nan
        return X
    if ctx.modality == "text":
        out = np.empty(len(X), dtype=object)
        for i, doc in enumerate(X):
            words = str(doc).split()
            kept = [w for w in words if rng.random() >= level]
            out[i] = " ".join(kept or words[:1])
        return out
    arr = np.array(X, copy=True)
    arr[rng.random(arr.shape) < level] = 0  # black pixels
    return arr
