"""Are traditional models interpretable and networks black boxes? Each family's chosen model
(the one the comparison saved, not a refit) explained the same ways, and the explanations
compared.

* intrinsic: what the model carries in itself (coefficients, tree importances), summed back
  onto the raw input columns of a table, or named by the features the model computes (words,
  a series' summary statistics, a clip's MFCC statistics);
* SHAP for every model: the exact explainers where they exist (TreeExplainer for tree
  ensembles, LinearExplainer for linear models), otherwise Kernel SHAP on the raw input (over
  the raw columns of a table, the words of a text, blocks of pixels of an image, time segments
  of a series, patches of a spectrogram); networks on images get SHAP's GradientExplainer;
* LIME for a few individual rows (over the same columns, words, blocks, segments, patches);
* a shallow tree's rules that mimic the model, with how often it agrees (over the raw columns
  of a table, the summary or MFCC statistics of a series or clip);
* saliency maps (gradient times input for networks, occlusion for the others) per class: over
  the pixels of an image, along the time of a series, over a spectrogram;
* agreement: how far the two models rank the inputs alike (Spearman's rho on mean |SHAP|).

Importances are reported as shares of their total, so models with outputs on different scales
(log-odds, probabilities) can be read side by side.
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from nnvsml import artifacts, timing
from nnvsml.data.dataset import take
from nnvsml.evidence.context import AnalysisContext
from nnvsml.evidence.parts import (
    LIME_SAMPLES,
    Parts,
    kernel_over_parts,
    kernel_samples,
    lime_over_parts,
)
from nnvsml.models.steps import final_step

SHAP_ROWS = 100
#: Kernel SHAP's background rows. Model-agnostic SHAP is Kernel SHAP here: shap's permutation
#: and partition explainers compile numba code in every process (18 s on 2 cores, uncached),
#: more than an analysis's whole share of a short budget.
KERNEL_BACKGROUND = 20
#: Texts explained at most.
TEXT_ROWS = 20
#: Words of a text that SHAP attributes to (the rest stay as they are): SMS-length texts.
MAX_WORDS = 40
BACKGROUND_ROWS = 50
LIME_ROWS = 3
TOP_K = 5
SHORT_OF_TIME = "left out: the analysis was short of time"
#: Features kept per model in results.json (a 784-pixel image would bloat it).
KEEP_FEATURES = 30


def run(ctx: AnalysisContext) -> dict:
    started = time.monotonic()
    explain = {"tabular": _tabular, "image": _image, "text": _text, "sequence": _signal,
               "audio": _signal}.get(ctx.modality)
    block = {"status": "running", "reason": None, "features": [], "models": {},
             "agreement": None}
    if explain is None:
        block.update(status="skipped", seconds=0.0,
                     reason=f"explanations of {ctx.modality} models are not implemented")
        return block
    full: dict[str, dict] = {}
    for i, (family, subject) in enumerate(ctx.subjects.items()):
        ctx.progress(f"explaining {subject.name}")
        # The comparison's own saved model: inside this run's directory, and only while the file
        # has the digest the main process checked (signed by this user).
        est = artifacts.load_model(ctx.run_dir, subject.entry.get("artifacts") or {})
        seconds = timing.equal_part(ctx.left(), len(ctx.subjects) - i)
        out, importance = explain(ctx, est, seconds)
        block["models"][family] = {"model": subject.name, **out}
        full[family] = importance
        ctx.partial({**block, "status": "timeout", "reason": f"ran out of time after {family}",
                     "seconds": round(time.monotonic() - started, 3)})
    block["features"] = _feature_list(full)
    block["agreement"] = agreement(full)
    block.update(status="ok", seconds=round(time.monotonic() - started, 3))
    return block


# ---- shared ---------------------------------------------------------------------------------

def shares(values: dict[str, float], keep: int | None = KEEP_FEATURES) -> dict[str, float]:
    """Non-negative importances as shares of their total, largest first, the top ``keep``."""
    total = sum(abs(v) for v in values.values()) or 1.0
    ranked = sorted(values.items(), key=lambda kv: -abs(kv[1]))
    return {k: abs(v) / total for k, v in ranked[:keep]}


def agreement(importances: dict[str, dict[str, float]]) -> dict | None:
    """Spearman's rho between the families' importances over the features both rank, and the
    share of the top ``TOP_K`` features they have in common."""
    if not {"traditional", "neural"} <= set(importances):
        return None
    a, b = importances["traditional"], importances["neural"]
    common = [f for f in a if f in b]
    if len(common) < 3:
        return None
    rho = stats.spearmanr([a[f] for f in common], [b[f] for f in common]).statistic
    top = lambda d: {k for k, _ in sorted(d.items(), key=lambda kv: -kv[1])[:TOP_K]}  # noqa: E731
    overlap = len(top(a) & top(b)) / TOP_K
    return {"spearman": None if np.isnan(rho) else float(rho), "top_k": TOP_K,
            "top_k_overlap": overlap, "features_compared": len(common),
            "pairs": [{"a": "traditional", "b": "neural",
                       "spearman": None if np.isnan(rho) else float(rho)}]}


def _feature_list(full: dict[str, dict]) -> list[str]:
    names = []
    for importance in full.values():
        names.extend(k for k in importance if k not in names)
    return names[:200]


def _inner(est):
    """The fitted model at the end of a pipeline, unwrapped from the time limit."""
    from nnvsml.models.time_bounded import TimeBounded

    final = final_step(est)
    # Only the time limit's wrapper: an ensemble's own estimator_ is its unfitted template.
    return final.estimator_ if isinstance(final, TimeBounded) else final


def _encoded(est, X):
    """What the pipeline's last step sees for X (everything before it applied)."""
    return est[:-1].transform(X) if hasattr(est, "steps") and len(est.steps) > 1 else X


def _exact_shap(est, X_rows, X_background):
    """(explainer name, values over the model's own inputs, their names) for models with an
    exact explainer, else None."""
    import shap

    inner = _inner(est)
    kind = type(inner).__name__
    if not ("LGBM" in kind or "Forest" in kind or "Tree" in kind or hasattr(inner, "coef_")):
        return None
    Z = _encoded(est, X_rows)
    names = list(getattr(Z, "columns", [f"x{i}" for i in range(np.shape(Z)[1])]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(inner, "coef_"):
            background = _encoded(est, X_background)
            explainer = shap.LinearExplainer(inner, background)
            values = explainer.shap_values(np.asarray(Z, dtype=float))
            return "LinearExplainer", _abs_mean(values), names
        explainer = shap.TreeExplainer(inner)
        values = explainer.shap_values(Z, check_additivity=False)
        return "TreeExplainer", _abs_mean(values), names


def _abs_mean(values) -> np.ndarray:
    """Mean |SHAP| per feature, summed over the outputs (classes) of a multi-output model."""
    # Older explainers give one (rows, features) array per output; newer ones one array
    # (rows, features, outputs).
    v = np.abs(np.asarray(values if not isinstance(values, list) else np.stack(values, -1),
                          dtype=float))
    if v.ndim == 3:
        v = v.sum(axis=2)
    return v.mean(axis=0)


def _intrinsic(est) -> tuple[str, np.ndarray] | None:
    """What the model carries in itself over its own inputs: mean |coefficient| over the
    classes, or the trees' importances."""
    inner = _inner(est)
    if hasattr(inner, "coef_"):
        return "coefficients", np.abs(np.atleast_2d(np.asarray(inner.coef_, dtype=float))).mean(0)
    if hasattr(inner, "feature_importances_"):
        return "importances", np.asarray(inner.feature_importances_, dtype=float)
    return None


def _named_intrinsic(est) -> dict | None:
    """Intrinsic importances named by the features the pipeline's last step sees (the words
    of a vectoriser, a series' summary statistics, a clip's MFCC statistics)."""
    intrinsic = _intrinsic(est)
    if intrinsic is None:
        return None
    kind, values = intrinsic
    try:
        names = list(est[:-1].get_feature_names_out())
    except Exception:  # noqa: BLE001  (features without names: nothing to name)
        return None
    return ({"kind": kind, "values": shares(dict(zip(names, values)))}
            if len(names) == len(values) else None)


# ---- tables ---------------------------------------------------------------------------------

class RawCoder:
    """The raw table as numbers and back: categories become codes (their own code for
    missing), numbers stay numbers. Model-agnostic explainers perturb the codes; the model
    always sees the raw table it was trained on."""

    def __init__(self, X: pd.DataFrame, columns: list[str], kinds: dict | None = None) -> None:
        self.columns = columns
        self.categories = {}
        for c in columns:
            # Integer-coded categories (as many public tables ship them) are categories too.
            if (kinds or {}).get(c) in ("categorical", "high_cardinality", "boolean") \
                    or not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]):
                self.categories[c] = pd.Index(sorted(pd.unique(X[c].dropna()).tolist(), key=str))
        self.template = X[columns].iloc[:1]

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)), dtype=float)
        for j, c in enumerate(self.columns):
            if c in self.categories:
                codes = self.categories[c].get_indexer(X[c])
                out[:, j] = np.where(codes < 0, len(self.categories[c]), codes)
            else:
                out[:, j] = pd.to_numeric(X[c], errors="coerce")
        return out

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, c in enumerate(self.columns):
            if c in self.categories:
                cats = self.categories[c]
                codes = np.clip(np.round(Z[:, j]).astype(int), 0, len(cats))
                values = np.array(list(cats) + [None], dtype=object)[codes]
                data[c] = values
                if pd.api.types.is_numeric_dtype(self.template[c]):  # integer-coded: numbers back
                    data[c] = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
            else:
                data[c] = Z[:, j]
        df = pd.DataFrame(data)
        for c in self.columns:  # the dtypes the model was trained on
            if c not in self.categories:
                try:
                    df[c] = df[c].astype(self.template[c].dtype)
                except (TypeError, ValueError):
                    pass
        return df


def origin(name: str, columns: list[str]) -> str | None:
    """The raw column an encoded feature came from ("cat__workclass_Private" -> "workclass")."""
    stripped = name.split("__", 1)[1] if "__" in name else name
    best = None
    for c in columns:
        if stripped == c or stripped.startswith(c + "_") or stripped.endswith("_" + c) \
                or stripped.startswith(c + "__"):
            if best is None or len(c) > len(best):
                best = c
    return best


def _to_raw(values: np.ndarray, names: list[str], columns: list[str]) -> dict[str, float]:
    out = {c: 0.0 for c in columns}
    for v, n in zip(values, names):
        c = origin(str(n), columns)
        if c is not None:
            out[c] += float(v)
    return out


def _tabular(ctx: AnalysisContext, est, seconds: float) -> tuple[dict, dict]:
    import shap

    columns = [c for c in ctx.kinds if c in ctx.X.columns]
    X_train = take(ctx.X, ctx.sample(min(len(ctx.train_rows), 2000), seed=11))
    X_rows = take(ctx.X, ctx.eval_rows[:SHAP_ROWS])
    coder = RawCoder(X_train, columns, ctx.kinds)
    Z_train, Z_rows = coder.encode(X_train), coder.encode(X_rows)
    predict = _predictor(ctx, est, coder)
    per_prediction = _prediction_seconds(predict, Z_train)
    out: dict = {"intrinsic": None, "shap": None, "lime": None, "rules": None,
                 "saliency": None}

    intrinsic = _intrinsic(est)
    if intrinsic is not None:
        kind, values = intrinsic
        names = list(_encoded(est, X_rows.iloc[:2]).columns)
        if len(names) == len(values):
            out["intrinsic"] = {"kind": kind, "values": shares(_to_raw(values, names, columns))}

    background = X_train.iloc[:BACKGROUND_ROWS]
    exact = None
    try:
        exact = _exact_shap(est, X_rows, background)
    except Exception as exc:  # noqa: BLE001  (an explainer's refusal: fall back, say why)
        out["shap_fallback_reason"] = f"exact explainer failed ({type(exc).__name__}: {exc})"
    if exact is not None:
        name, values, enc_names = exact
        importance = _to_raw(values, enc_names, columns)
        out["shap"] = {"explainer": name, "exact": True, "rows": len(X_rows)}
    else:
        samples = kernel_samples(len(columns))
        background = shap.sample(Z_train, KERNEL_BACKGROUND, random_state=ctx.seed)
        cost = per_prediction * samples * KERNEL_BACKGROUND
        n = _rows_for(ctx, timing.KERNEL_SHAP_SHARE, seconds, cost, 10, SHAP_ROWS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = shap.KernelExplainer(predict, background, seed=ctx.seed).shap_values(
                Z_rows[:n], nsamples=samples, silent=True)
        importance = dict(zip(columns, _abs_mean(values)))
        out["shap"] = {"explainer": "KernelExplainer", "exact": False, "rows": n}
    out["shap"]["importance"] = shares(importance)

    out["rules"] = _rules(ctx, est, coder, X_train, Z_train)
    # LIME costs 1,000 predictions a row: the first thing left out when time is short.
    if _time_for(ctx, LIME_ROWS * 1000 * per_prediction + timing.TABULAR_LIME_SETUP_SECONDS,
                 seconds, reserve=timing.TABULAR_LIME_RESERVE):
        out["lime"] = _lime_tabular(ctx, predict, coder, Z_train, Z_rows)
    else:
        out["lime_skipped"] = SHORT_OF_TIME
    return out, shares(importance, keep=None)


def _time_for(ctx: AnalysisContext, cost: float, seconds: float,
              reserve: float = timing.LIME_RESERVE) -> bool:
    """Whether a step predicted to take ``cost`` seconds still leaves ``reserve`` of the
    model's ``seconds`` (always, without a clock). LIME is the step left out first."""
    return ctx.deadline is None or timing.time_for(cost, ctx.left(), reserve, seconds)


def _prediction_seconds(predict, Z) -> float:
    """Seconds per row of a batch prediction (the explainers predict in batches)."""
    probe = Z[:min(len(Z), 500)]
    predict(probe[:2])  # the first call pays for warming up (threads, caches)
    t0 = time.perf_counter()
    predict(probe)
    return max(1e-7, (time.perf_counter() - t0) / max(1, len(probe)))


def _predictor(ctx, est, coder: RawCoder):
    if not ctx.spec.has_classes:
        return lambda Z: np.asarray(est.predict(coder.decode(np.asarray(Z))), dtype=float)
    return lambda Z: np.asarray(est.predict_proba(coder.decode(np.asarray(Z))), dtype=float)


def _lime_tabular(ctx, predict, coder: RawCoder, Z_train, Z_rows) -> list[dict]:
    from lime.lime_tabular import LimeTabularExplainer

    cat_idx = [j for j, c in enumerate(coder.columns) if c in coder.categories]
    medians = np.nanmedian(Z_train, axis=0)
    filled = np.where(np.isnan(Z_train), medians, Z_train)
    explainer = LimeTabularExplainer(
        filled, mode="classification" if ctx.spec.has_classes else "regression",
        feature_names=coder.columns, categorical_features=cat_idx,
        categorical_names={j: [str(v) for v in coder.categories[coder.columns[j]]] + ["missing"]
                           for j in cat_idx},
        class_names=[str(c) for c in ctx.classes] if ctx.classes else None,
        discretize_continuous=True, random_state=ctx.seed)
    out = []
    for i in range(min(LIME_ROWS, len(Z_rows))):
        row = np.where(np.isnan(Z_rows[i]), medians, Z_rows[i])
        probs = predict(row[None, :])[0]
        label = int(np.argmax(probs)) if ctx.spec.has_classes else None
        kwargs = {"labels": (label,)} if label is not None else {}
        exp = explainer.explain_instance(row, predict, num_features=min(8, len(coder.columns)),
                                         num_samples=1000, **kwargs)
        weights = exp.as_list(label=label) if label is not None else exp.as_list()
        prediction = (str(ctx.classes[label]) if label is not None and ctx.classes
                      else f"{float(probs):.4g}")
        out.append({"row": int(ctx.eval_rows[i]), "prediction": prediction,
                    "weights": {cond: float(w) for cond, w in weights}})
    return out


def _rules(ctx, est, coder: RawCoder, X_train, Z_train) -> dict:
    rules = _surrogate(ctx, est.predict(X_train), Z_train, coder.columns)
    rules["category_codes"] = {c: {i: str(v) for i, v in enumerate(coder.categories[c][:12])}
                               for c in coder.categories if c in rules["text"]}
    return rules


def _surrogate(ctx, target, Z, names: list[str]) -> dict:
    """A depth-3 tree that mimics the model's answers ``target`` from the features ``Z``: its
    rules, and how often it agrees with the model (R^2 for regression)."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text

    classes = ctx.spec.has_classes
    cls = DecisionTreeClassifier if classes else DecisionTreeRegressor
    tree = cls(max_depth=3, random_state=ctx.seed).fit(Z, target)
    mimic = tree.predict(Z)
    fidelity = (float(np.mean(mimic == target)) if classes
                else float(1 - np.var(target - mimic) / (np.var(target) or 1.0)))
    return {"depth": 3, "fidelity": fidelity, "text": export_text(
        tree, feature_names=[str(n) for n in names], decimals=3),
        "fidelity_measure": "share of rows" if classes else "R^2"}


# ---- images ---------------------------------------------------------------------------------

def _image(ctx: AnalysisContext, est, seconds: float) -> tuple[dict, dict]:
    X_rows = take(ctx.X, ctx.eval_rows[:SHAP_ROWS])
    y_rows = ctx.y[ctx.eval_rows[:SHAP_ROWS]]
    h, w = X_rows.shape[1], X_rows.shape[2]
    pixel_names = [f"pixel_{r}_{c}" for r in range(h) for c in range(w)]
    out: dict = {"intrinsic": None, "shap": None, "lime": None, "rules": None, "saliency": None}
    final = final_step(est)
    is_net = hasattr(final, "net_")

    intrinsic = _intrinsic(est)
    if intrinsic is not None:
        kind, values = intrinsic
        if len(values) == h * w * X_rows.shape[3]:
            per_pixel = values.reshape(h, w, -1).sum(axis=2).ravel()
            out["intrinsic"] = {"kind": kind,
                                "values": shares(dict(zip(pixel_names, per_pixel)))}

    if is_net:
        maps = _gradient_saliency(final, X_rows, y_rows, ctx.classes)
        out["saliency"] = {"method": "gradient_x_input", "layout": "image", "shape": [h, w], "classes": [
            str(c) for c in ctx.classes], "maps": [m.ravel().tolist() for m in maps]}
        shap_map, name = _gradient_shap(final, X_rows[:20], take(ctx.X, ctx.train_rows[:50]))
        out["shap"] = {"explainer": name, "exact": False, "rows": 20}
    else:
        maps = _occlusion_saliency(est, X_rows[:50], y_rows[:50], ctx.classes)
        out["saliency"] = {"method": "occlusion", "layout": "image", "shape": [h, w], "classes": [
            str(c) for c in ctx.classes], "maps": [m.ravel().tolist() for m in maps]}
        shap_map, name, exact = _image_shap(est, X_rows[:20], ctx)
        out["shap"] = {"explainer": name, "exact": exact, "rows": 20}
    importance = dict(zip(pixel_names, shap_map.ravel()))
    out["shap"]["importance"] = shares(importance)
    out["shap"]["map"] = (shap_map / (shap_map.max() or 1.0)).ravel().tolist()
    out["shap"]["shape"] = [h, w]
    out["shap"]["layout"] = "image"
    predict = lambda A: est.predict_proba(A)  # noqa: E731
    if _time_for(ctx, LIME_ROWS * LIME_SAMPLES * _prediction_seconds(predict, X_rows[:50]),
                 seconds):
        out["lime"] = _lime_parts(ctx, est, X_rows, _pixel_blocks(X_rows.shape[1:]), 0)
    else:
        out["lime_skipped"] = SHORT_OF_TIME
    return out, shares(importance, keep=None)


def _gradient_saliency(net, X, y, classes) -> list[np.ndarray]:
    """|pixel x d logit of the true class / d pixel| (gradient times input, from a black
    baseline), averaged over each class's images. Plain gradients also light up pixels that
    are black in every image; times the input, only what the image holds can matter."""
    x, grad, codes = _input_gradients(net, X, y, classes)
    return _class_means(np.abs(grad * x).mean(axis=1), codes, len(classes))  # channels first


def _input_gradients(net, X, y, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's input tensor for ``X``, the gradient of each row's true-class logit with
    respect to it (both as arrays in the network's layout), and the rows' class codes."""
    import torch

    module = net.net_.module_
    module.eval()
    device = next(module.parameters()).device  # the GPU, when the network trained on one
    x = net._tensors(net._validate(X, reset=False)).float().to(device).requires_grad_(True)
    codes = np.searchsorted(np.asarray(classes), y)
    # cuDNN's recurrent layers only run backward in training mode; the plain kernels do in both.
    with torch.backends.cudnn.flags(enabled=False):
        logits = module(x)
        logits.gather(1, torch.as_tensor(codes)[:, None].to(device)).sum().backward()
    return x.detach().cpu().numpy(), x.grad.cpu().numpy(), codes


def _class_means(values: np.ndarray, codes: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """The mean of ``values`` over each class's rows (zeros for a class with none)."""
    return [values[codes == k].mean(axis=0) if np.any(codes == k) else np.zeros(values.shape[1:])
            for k in range(n_classes)]


def _gradient_shap(net, X, background) -> tuple[np.ndarray, str]:
    import shap

    module = net.net_.module_
    module.eval()
    device = next(module.parameters()).device
    to = lambda A: net._tensors(net._validate(A, reset=False)).float().to(device)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.GradientExplainer(module, to(background))
        values = explainer.shap_values(to(X), nsamples=50)
    # (rows, channels, h, w, classes) -> (h, w)
    v = np.abs(np.asarray(values if not isinstance(values, list) else np.stack(values, -1)))
    v = v.mean(axis=0)
    if v.ndim == 4:
        v = v.sum(axis=-1)
    return v.sum(axis=0), "GradientExplainer"


def _pixel_blocks(shape: tuple[int, ...]) -> Parts:
    """About 7 x 7 blocks of at least 2 x 2 pixels."""
    block = max(2, int(np.ceil(max(shape[:2]) / 7)))
    return Parts.grid(shape, -(-shape[0] // block), -(-shape[1] // block), "rows", "columns")


def _image_shap(est, X, ctx) -> tuple[np.ndarray, str, bool]:
    """Exact SHAP on the pixels for tree ensembles and linear models on raw pixels; Kernel SHAP
    over blocks of pixels (a removed block is black) for the rest."""
    h, w, c = X.shape[1:]
    try:
        exact = _exact_shap(est, X, take(ctx.X, ctx.train_rows[:BACKGROUND_ROWS]))
    except Exception:  # noqa: BLE001
        exact = None
    if exact is not None and len(exact[1]) == h * w * c:
        return exact[1].reshape(h, w, c).sum(axis=2), exact[0], True
    parts = _pixel_blocks(X.shape[1:])
    per_block = _mean_abs_kernel(est.predict_proba, X[:10], parts, 0, ctx.seed)
    return parts.spread(per_block).sum(axis=-1), "KernelExplainer (pixel blocks)", False


def _mean_abs_kernel(predict, X, parts: Parts, reference, seed: int) -> np.ndarray:
    """Mean |Kernel SHAP| per part over the inputs ``X`` (summed over the outputs)."""
    total = np.zeros(len(parts))
    for x in X:
        values = np.abs(kernel_over_parts(lambda c, x=x: predict(parts.apply(x, c, reference)),
                                          len(parts), seed))
        total += (values.sum(axis=-1) if values.ndim == 2 else values) / len(X)
    return total


def _lime_parts(ctx, est, X_rows, parts: Parts, reference, rows=None) -> list[dict]:
    """LIME for the first rows (whose row numbers are ``rows``, by default the evaluation
    rows), over the parts of each input."""
    rows = ctx.eval_rows if rows is None else rows
    out = []
    for i, x in enumerate(X_rows[:LIME_ROWS]):
        def predict_masked(coalitions, x=x):
            return est.predict_proba(parts.apply(x, coalitions, reference))

        label = int(np.argmax(est.predict_proba(x[None])[0]))
        weights, fit = lime_over_parts(predict_masked, len(parts), label, ctx.seed)
        out.append({"row": int(rows[i]), "prediction": str(ctx.classes[label]),
                    "weights": {parts.names[j]: w for j, w in weights.items()},
                    "local_r2": fit})
    return out


def _occlusion_saliency(est, X, y, classes, patch: int = 4) -> list[np.ndarray]:
    """How much the true class's probability falls when a patch is blacked out, per class."""
    n, h, w = X.shape[:3]
    codes = np.searchsorted(np.asarray(classes), y)
    base = est.predict_proba(X)[np.arange(n), codes]
    maps = np.zeros((n, h, w))
    for r in range(0, h, patch):
        for c in range(0, w, patch):
            blanked = X.copy()
            blanked[:, r:r + patch, c:c + patch] = 0
            drop = base - est.predict_proba(blanked)[np.arange(n), codes]
            maps[:, r:r + patch, c:c + patch] = drop[:, None, None]
    return _class_means(maps, codes, len(classes))


# ---- texts ----------------------------------------------------------------------------------

def _text(ctx: AnalysisContext, est, seconds: float) -> tuple[dict, dict]:
    from lime.lime_text import LimeTextExplainer

    rows = ctx.eval_rows[:SALIENCY_ROWS]
    if ctx.classes is not None:  # however few documents time allows, each class is explained
        rows = _classes_in_turn(rows, ctx.y)
    rows = rows[:TEXT_ROWS]
    docs = [str(d) for d in take(ctx.X, rows)]
    predict = lambda texts: np.asarray(est.predict_proba(np.asarray(list(texts), dtype=object)))  # noqa: E731
    per_doc = _prediction_seconds(predict, np.asarray(docs * 5, dtype=object))
    if ctx.deadline is not None:  # the explainers' predictions in at most their share of it
        cost = per_doc * kernel_samples(MAX_WORDS)
        docs = docs[:_rows_for(ctx, timing.KERNEL_SHAP_SHARE, seconds, cost, 3, TEXT_ROWS)]
    out: dict = {"intrinsic": None, "shap": None, "lime": None, "rules": None, "saliency": None}
    out["intrinsic"] = _named_intrinsic(est)
    totals: dict[str, float] = {}
    for doc in docs:
        words, rest = doc.split()[:MAX_WORDS], doc.split()[MAX_WORDS:]
        if not words:
            continue

        def predict_masked(coalitions, words=words, rest=rest):
            return predict([" ".join([w for w, keep in zip(words, kept) if keep] + rest)
                            for kept in np.asarray(coalitions)])

        values = np.abs(kernel_over_parts(predict_masked, len(words), ctx.seed))
        per_word = values.sum(axis=-1) if values.ndim == 2 else values
        for token, value in zip(words, per_word):
            word = re.sub(r"\W+", "", token).lower()
            if word:
                totals[word] = totals.get(word, 0.0) + float(value) / len(docs)
    out["shap"] = {"explainer": "KernelExplainer (words)", "exact": False, "rows": len(docs),
                   "importance": shares(totals)}
    if not _time_for(ctx, LIME_ROWS * 500 * per_doc, seconds):
        out["lime_skipped"] = SHORT_OF_TIME
        return out, shares(totals, keep=None)
    lime = LimeTextExplainer(class_names=[str(c) for c in ctx.classes], random_state=ctx.seed)
    out["lime"] = []
    for i, doc in enumerate(docs[:LIME_ROWS]):
        probs = predict([doc])[0]
        label = int(np.argmax(probs))
        exp = lime.explain_instance(doc, predict, labels=(label,), num_features=8,
                                    num_samples=500)
        out["lime"].append({"row": int(rows[i]), "prediction": str(ctx.classes[label]),
                            "weights": {w: float(v) for w, v in exp.as_list(label=label)}})
    return out, shares(totals, keep=None)


# ---- series and spectrograms ------------------------------------------------------------------

#: Series or spectrograms Kernel SHAP explains at most (fewer when predictions are slow).
SIGNAL_SHAP_ROWS = 10
#: Rows whose saliency is averaged per class.
SALIENCY_ROWS = 50
#: Training rows that make the reference (the average input).
REFERENCE_ROWS = 500
#: Training rows whose answers the surrogate tree learns.
SURROGATE_ROWS = 300


def _signal(ctx: AnalysisContext, est, seconds: float) -> tuple[dict, dict]:
    """Series and spectrograms, whose raw inputs have no named columns: SHAP and LIME over time
    segments or spectrogram patches (see :mod:`.parts`), saliency along time or over the
    spectrogram (gradient x (input - average input) for networks, occlusion of each part
    otherwise), the traditional model's importances over the features it computes (summary
    statistics, MFCC statistics), and a shallow tree's rules over those features."""
    # Classes take turns, so that however few rows time allows, each class is explained.
    rows = _classes_in_turn(ctx.eval_rows[:SALIENCY_ROWS], ctx.y)
    X_rows, y_rows = np.asarray(take(ctx.X, rows)), ctx.y[rows]
    series = ctx.modality == "sequence"
    parts = (Parts.time_segments if series else Parts.spectrogram)(X_rows.shape[1:])
    reference = parts.reference(take(ctx.X, ctx.train_rows[:REFERENCE_ROWS]))
    predict = lambda A: np.asarray(est.predict_proba(A), dtype=float)  # noqa: E731
    # A few rows only: a 1-NN under DTW compares each one with every training series.
    per_row = _prediction_seconds(predict, X_rows[:6])
    dims = list(parts.spread(np.zeros(len(parts))).shape)  # [length] or [bands, frames]
    out: dict = {"intrinsic": _named_intrinsic(est), "shap": None, "lime": None, "rules": None,
                 "saliency": None}

    final = final_step(est)
    if hasattr(final, "net_"):
        maps, method = _gradient_delta(final, X_rows, y_rows, ctx.classes, reference,
                                       parts.layout), "gradient_x_delta"
    else:
        n = _rows_for(ctx, timing.SALIENCY_SHARE, seconds, per_row * len(parts), 5,
                      SALIENCY_ROWS)
        maps = _occlusion_parts(est, X_rows[:n], y_rows[:n], ctx.classes, parts, reference)
        method = "occlusion"
    out["saliency"] = {"method": method, "layout": parts.layout, "shape": dims,
                       "classes": [str(c) for c in ctx.classes],
                       "maps": [m.ravel().tolist() for m in maps]}
    if method == "occlusion" and not any(np.any(m) for m in maps):
        out["saliency"]["note"] = ("no single part changes the model's probabilities by "
                                   "itself (hard, one-hot probabilities, as a 1-NN's): SHAP, "
                                   "which removes parts together, shows what it relies on")

    n = _rows_for(ctx, timing.SIGNAL_SHAP_SHARE, seconds, per_row * kernel_samples(len(parts)),
                  len(ctx.classes), SIGNAL_SHAP_ROWS)
    per_part = _mean_abs_kernel(predict, X_rows[:n], parts, reference, ctx.seed)
    importance = dict(zip(parts.names, per_part))
    shap_map = parts.spread(per_part)
    out["shap"] = {"explainer": "KernelExplainer (" + ("time segments" if series
                                                       else "spectrogram patches") + ")",
                   "exact": False, "rows": n, "importance": shares(importance),
                   "layout": parts.layout, "shape": dims,
                   "map": (shap_map / (shap_map.max() or 1.0)).ravel().tolist()}

    n = _rows_for(ctx, timing.SURROGATE_SHARE, seconds, per_row, 30, SURROGATE_ROWS)
    X_train = np.asarray(take(ctx.X, ctx.train_rows[:n]))
    features = _engineered(series).fit(X_train)
    out["rules"] = _surrogate(ctx, est.predict(X_train), features.transform(X_train),
                              list(features.get_feature_names_out()))
    out["rules"]["features"] = ("per-channel summary statistics" if series
                                else "MFCC statistics")

    if _time_for(ctx, LIME_ROWS * LIME_SAMPLES * per_row, seconds):
        out["lime"] = _lime_parts(ctx, est, X_rows, parts, reference, rows)
    else:
        out["lime_skipped"] = SHORT_OF_TIME
    return out, shares(importance, keep=None)


def _classes_in_turn(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``rows`` reordered so that the classes take turns (a row of each, then again)."""
    labels = y[rows]
    rank = np.zeros(len(rows), dtype=int)
    for c in np.unique(labels):
        rank[labels == c] = np.arange(np.sum(labels == c))
    return np.asarray(rows)[np.lexsort((np.arange(len(rows)), rank))]


def _rows_for(ctx: AnalysisContext, share: float, seconds: float, cost_per_row: float,
              least: int, most: int) -> int:
    """How many rows a step that costs ``cost_per_row`` seconds each can take in ``share`` of
    the model's ``seconds`` (all of them when the analysis runs without a clock)."""
    if ctx.deadline is None:
        return most
    return timing.rows_for(seconds, cost_per_row, least, most, share=share)


def _engineered(series: bool):
    """The features the surrogate tree reads: what the traditional candidates compute."""
    if series:
        from nnvsml.models.features.series import SummaryFeatures

        return SummaryFeatures()
    from nnvsml.models.features.audio import MFCCStats

    return MFCCStats()


def _gradient_delta(net, X, y, classes, reference, layout: str) -> list[np.ndarray]:
    """|(input - average input) x d logit of the true class / d input|, averaged over each
    class's rows; summed over a series' channels."""
    x, grad, codes = _input_gradients(net, X, y, classes)
    attr = np.nan_to_num(np.abs(grad * (x - reference[None])))  # padding: no attribution
    return _class_means(attr.sum(axis=1) if layout == "series" else attr, codes, len(classes))


def _occlusion_parts(est, X, y, classes, parts: Parts, reference) -> list[np.ndarray]:
    """How much the true class's probability falls when one part takes the average input,
    averaged over each class's rows, spread over the part's positions."""
    codes = np.searchsorted(np.asarray(classes), y)
    rows = np.arange(len(X))
    base = est.predict_proba(X)[rows, codes]
    drops = np.zeros((len(X), len(parts)))
    for j in range(len(parts)):
        keep = np.ones((1, len(parts)))
        keep[0, j] = 0
        blanked = np.concatenate([parts.apply(x, keep, reference) for x in X])
        drops[:, j] = base - est.predict_proba(blanked)[rows, codes]
    return [parts.spread(m) for m in _class_means(drops, codes, len(classes))]
