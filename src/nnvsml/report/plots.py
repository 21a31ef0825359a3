"""The report's figures: each function takes plain numbers and returns a PNG data URI.

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas, never through
pyplot: pyplot keeps global state and would switch the backend of a notebook that imports the
report. Every label that may come from the user (model, feature, class names) goes through
:func:`short`, which escapes ``$``: a dollar sign in a column name is text, not mathtext.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FAMILY_COLORS = {"traditional": "#1f77b4", "neural": "#ff7f0e"}
FAMILY_CMAPS = {"traditional": "Blues", "neural": "Oranges"}
FAMILIES = ("traditional", "neural")
MUTED = "#9e9e9e"
DPI = 100
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


def styled(draw: Callable[..., Figure | None]) -> Callable[..., str | None]:
    """Run a figure builder under the report's style and return its figure as a data URI."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> str | None:
        with rc_context(STYLE):
            fig = draw(*args, **kwargs)
            return None if fig is None else to_data_uri(fig)

    return wrapper


def to_data_uri(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def short(text: object, width: int = 28) -> str:
    """A user-supplied label made safe to draw: long names would squeeze the axes to nothing,
    so they are cut with an ellipsis; ``$`` would start mathtext, so it is escaped."""
    text = str(text)
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")


def _color(family: str) -> str:
    return FAMILY_COLORS.get(family, MUTED)


# ---------------------------------------------------------------- accuracy against cost


@styled
def pareto(points: Sequence[dict], metric: str, higher: bool) -> Figure | None:
    """Scatter of ``points`` ({name, family, seconds, score}), log x; the Pareto front as steps."""
    points = [p for p in points if p["seconds"] and p["seconds"] > 0 and p["score"] is not None]
    if not points:
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    for family in FAMILIES:
        mine = [p for p in points if p["family"] == family]
        if mine:
            ax.scatter([p["seconds"] for p in mine], [p["score"] for p in mine], s=60,
                       color=_color(family), label=family, zorder=3, edgecolors="white",
                       linewidths=0.8)
    for p in points:
        ax.annotate(short(p["name"], 24), (p["seconds"], p["score"]), xytext=(6, 4),
                    textcoords="offset points", fontsize=8, color="#333")
    front = pareto_front(points, higher)
    ax.step([p["seconds"] for p in front], [p["score"] for p in front], where="post",
            color="#444", linewidth=1.2, linestyle="--", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("fit time (seconds, log scale)")
    ax.set_ylabel(f"cross-validated {metric} ({'higher' if higher else 'lower'} is better)")
    ax.legend(loc="best")
    return fig


def pareto_front(points: Sequence[dict], higher: bool) -> list[dict]:
    """The points no other point beats on both fit time and score, fastest first."""
    sign = 1.0 if higher else -1.0
    front, best = [], -math.inf
    for p in sorted(points, key=lambda p: (p["seconds"], -sign * p["score"])):
        if sign * p["score"] > best:
            front.append(p)
            best = sign * p["score"]
    return front


# ---------------------------------------------------------------- learning curves


@styled
def learning_curve(families: dict, metric: str, crossing: dict | None,
                   n_train: int | None) -> Figure | None:
    """Mean ± std per family against training rows (log x); the fitted power law dashed,
    extended to the projected crossing."""
    drawn = {f: b for f, b in families.items() if b.get("points")}
    if not drawn:
        return None
    fig = Figure(figsize=(6.6, 4.2))
    ax = fig.add_subplot()
    sizes = [p["size"] for b in drawn.values() for p in b["points"]]
    x_max = max(sizes)
    cross_at = (crossing or {}).get("size")
    if cross_at and crossing.get("status") in ("measured", "extrapolated"):
        # Far-off projections would flatten the measured part into a corner.
        x_max = max(x_max, min(max(cross_at, crossing.get("high") or 0) * 1.2, 1000 * x_max))
    for family, block in drawn.items():
        pts = block["points"]
        x = np.array([p["size"] for p in pts], dtype=float)
        mean = np.array([p["mean"] for p in pts], dtype=float)
        std = np.array([p.get("std") or 0.0 for p in pts], dtype=float)
        color = _color(family)
        ax.plot(x, mean, marker="o", color=color, label=f"{family} ({short(block.get('model'))})")
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
        fit = block.get("fit")
        if fit and all(fit.get(k) is not None for k in ("a", "b", "c")):
            grid = np.logspace(np.log10(min(x)), np.log10(x_max), 100)
            ax.plot(grid, fit["c"] - fit["a"] * grid ** (-fit["b"]), linestyle="--",
                    color=color, linewidth=1.2,
                    label=f"{family} power law (R² {fit.get('r2', float('nan')):.2f})")
    if cross_at and crossing.get("status") in ("measured", "extrapolated"):
        if crossing.get("low") and crossing.get("high"):
            ax.axvspan(crossing["low"], crossing["high"], color="#888", alpha=0.12, linewidth=0,
                       label="crossing, 90% band")
        ax.axvline(cross_at, color="#444", linestyle=":", linewidth=1.2,
                   label=f"crossing ≈ {cross_at:,.0f} rows ({crossing['status']})")
    if n_train:
        ax.axvline(n_train, color="#bbb", linestyle="-", linewidth=1,
                   label=f"rows compared on ({n_train:,})")
    ax.set_xscale("log")
    ax.set_xlabel("training rows (log scale)")
    ax.set_ylabel(metric)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: the curves fill the axes
    return fig


@styled
def cost_growth(families: dict) -> Figure | None:
    """Fit seconds and added memory against training rows (log-log), per family, with the
    fitted ``k * n^e`` line: the slope is the exponent."""
    drawn = {f: b for f, b in families.items()
             if any(p.get("fit_seconds") is not None for p in b.get("points") or [])}
    if not drawn:
        return None
    fig = Figure(figsize=(8.4, 3.4))
    axes = fig.subplots(1, 2)
    for ax, key, law, label in ((axes[0], "fit_seconds", "time", "fit seconds"),
                                (axes[1], "fit_peak_mb", "memory", "memory added (MB)")):
        for family, block in drawn.items():
            pts = [p for p in block["points"] if (p.get(key) or 0) > 0]
            if not pts:
                continue
            x = np.array([p["size"] for p in pts], dtype=float)
            y = np.array([p[key] for p in pts], dtype=float)
            color = _color(family)
            ax.plot(x, y, marker="o", linestyle="none", color=color,
                    label=f"{family} ({short(block.get('model'))})")
            fit = (block.get("growth") or {}).get(law)
            if fit:
                grid = np.geomspace(x.min(), x.max(), 50)
                ax.plot(grid, fit["k"] * grid ** fit["exponent"], color=color, linewidth=1.2,
                        linestyle="--", label=f"{family}: n^{fit['exponent']:.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training rows (log scale)")
        ax.set_ylabel(label)
        ax.legend(fontsize="small")
    return fig


# ---------------------------------------------------------------- data quality


@styled
def data_quality(perturbations: dict, metric: str) -> Figure | None:
    """One small panel per perturbation kind: score against level, one line per family."""
    kinds = [k for k, v in perturbations.items() if v.get("levels") and v.get("families")]
    if not kinds:
        return None
    ncols = 2 if len(kinds) == 4 else min(3, len(kinds))
    nrows = math.ceil(len(kinds) / ncols)
    fig = Figure(figsize=(3.3 * ncols, 2.7 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, kind in zip(axes.flat, kinds):
        block = perturbations[kind]
        for family in FAMILIES:
            fam = block["families"].get(family)
            if fam and fam.get("scores"):
                ax.plot(block["levels"][: len(fam["scores"])], fam["scores"], marker="o",
                        markersize=4, color=_color(family), label=family)
        ax.set_title(kind.replace("_", " "))
        ax.set_xlabel(short(block.get("level_label") or "level", 40), fontsize=8)
        ax.set_ylabel(metric)
    for ax in list(axes.flat)[len(kinds):]:
        ax.set_visible(False)
    fig.tight_layout()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:  # above the panels, after the layout, so it covers no title
        fig.legend(handles, labels, loc="lower center", ncols=2, bbox_to_anchor=(0.5, 1.0))
    return fig


# ---------------------------------------------------------------- overfitting


@styled
def overfitting_gaps(models: Sequence[dict]) -> Figure | None:
    """Horizontal bars of the train - validation gap per model (positive = overfit)."""
    models = [m for m in models if m.get("gap") is not None]
    if not models:
        return None
    models = sorted(models, key=lambda m: m["gap"])
    fig = Figure(figsize=(8, 0.42 * len(models) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(models))
    ax.barh(y, [m["gap"] for m in models], color=[_color(m["family"]) for m in models])
    ax.set_yticks(y, [short(m["name"]) for m in models])
    for yi, m in zip(y, models):
        if m.get("train") is not None and m.get("validation") is not None:
            ax.annotate(f"train {m['train']:.3g} / validation {m['validation']:.3g}",
                        (max(m["gap"], 0), yi), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7.5, color="#333")
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_xlabel("train - validation gap (positive = overfits)")
    ax.margins(x=0.35)
    _family_legend(ax, {m["family"] for m in models}, outside=True)
    return fig


@styled
def regularizers(baseline: dict, ablations: Sequence[dict], model: str) -> Figure | None:
    """The network's gap and validation score with each regularizer on (all on) and off."""
    ablations = [a for a in ablations if a.get("off")]
    if not ablations or not baseline:
        return None
    names = [a["name"].replace("_", " ") for a in ablations]
    x = np.arange(len(ablations))
    fig = Figure(figsize=(8, 3.2))
    axes = fig.subplots(1, 2)
    for ax, key, title in ((axes[0], "gap", "train - validation gap"),
                           (axes[1], "validation", "validation score")):
        on = [baseline.get(key) for _ in ablations]
        off = [a["off"].get(key) for a in ablations]
        ax.bar(x - 0.2, _nan(on), width=0.4, color=FAMILY_COLORS["neural"], label="all on")
        ax.bar(x + 0.2, _nan(off), width=0.4, color=MUTED, label="this one off")
        ax.set_xticks(x, names)
        ax.set_title(f"{short(model)}: {title}")
        if key == "validation":
            low = np.nanmin(_nan(on + off))
            high = np.nanmax(_nan(on + off))
            pad = max((high - low) * 0.5, 0.01)
            ax.set_ylim(low - pad, high + pad)
    axes[0].legend(loc="best")
    fig.tight_layout()
    return fig


def _nan(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


# ---------------------------------------------------------------- test-row diagnostics


@styled
def confusion(panels: Sequence[dict]) -> Figure | None:
    """One confusion matrix per panel ({family, model, matrix, classes}); colour = row share."""
    if not panels:
        return None
    k = max(len(p["classes"]) for p in panels)
    side = min(3.2 + 0.25 * k, 6.0)
    fig = Figure(figsize=(side * len(panels), side))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, p in zip(axes, panels):
        counts = np.asarray(p["matrix"], dtype=float)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap=FAMILY_CMAPS.get(p["family"], "Greys"), vmin=0, vmax=1)
        ax.grid(False)
        labels = [short(c, 12) for c in p["classes"]]
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 4 else 0, ha="right"
                      if len(labels) > 4 else "center")
        ax.set_yticks(ticks, labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{short(p['model'])} ({p['family']})")
        if len(labels) <= 12:
            for i in range(len(labels)):
                for j in range(len(labels)):
                    ax.text(j, i, f"{counts[i, j]:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.6 else "#222")
    fig.tight_layout()
    return fig


@styled
def roc(curves: Sequence[dict]) -> Figure | None:
    """ROC curves ({family, model, fpr, tpr, auc, macro}) on one axes, AUC in the legend."""
    if not curves:
        return None
    fig = Figure(figsize=(5.0, 4.2))
    ax = fig.add_subplot()
    for c in curves:
        kind = " macro one-vs-rest" if c.get("macro") else ""
        ax.plot(c["fpr"], c["tpr"], color=_color(c["family"]), linewidth=2,
                label=f"{short(c['model'])} ({c['family']}){kind}: AUC {c['auc']:.3f}")
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return fig


@styled
def residuals(panels: Sequence[dict], target: str) -> Figure | None:
    """Residual (true - predicted) against predicted, one panel per family ({family, model,
    predicted, residual})."""
    if not panels:
        return None
    fig = Figure(figsize=(4.4 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, p in zip(axes, panels):
        ax.scatter(p["predicted"], p["residual"], s=10, alpha=0.55, color=_color(p["family"]),
                   linewidths=0)
        ax.axhline(0, color="#444", linewidth=1)
        ax.set_title(f"{short(p['model'])} ({p['family']})")
        ax.set_xlabel(f"predicted {short(target, 20)}")
    axes[0].set_ylabel("residual (true - predicted)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- explanations


@styled
def importance_bars(panels: Sequence[dict], xlabel: str, top: int = 15) -> Figure | None:
    """Horizontal bars of the ``top`` features by |value|, one panel per family ({family,
    model, values, title})."""
    panels = [p for p in panels if p.get("values")]
    if not panels:
        return None
    n = min(top, max(len(p["values"]) for p in panels))
    fig = Figure(figsize=(4.6 * len(panels), 0.28 * n + 1.3))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, p in zip(axes, panels):
        items = sorted(p["values"].items(), key=lambda kv: abs(kv[1] or 0.0), reverse=True)[:top]
        items = items[::-1]  # largest at the top
        y = np.arange(len(items))
        ax.barh(y, [v or 0.0 for _, v in items], color=_color(p["family"]))
        ax.set_yticks(y, [short(f, 24) for f, _ in items], fontsize=8)
        ax.axvline(0, color="#444", linewidth=0.8)
        ax.set_title(p["title"])
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


@styled
def saliency(maps: Sequence[Sequence[float]], shape: Sequence[int], classes: Sequence,
             model: str, limit: int = 10, title: str | None = None,
             layout: str = "image") -> Figure | None:
    """Saliency maps (flattened h*w lists) as images, one per class (or per label given in
    ``classes`` with a ``title``), at most ``limit``. A spectrogram (``layout="grid"``) is
    drawn with its low bands at the bottom and stretched to the panel."""
    h, w = int(shape[0]), int(shape[1])
    maps = [m for m in maps if len(m) == h * w][:limit]
    if not maps:
        return None
    spectrogram = layout == "grid"
    ncols = min(5 if not spectrogram else 3, len(maps))
    nrows = math.ceil(len(maps) / ncols)
    fig = Figure(figsize=((1.9 if not spectrogram else 3.0) * ncols, 2.0 * nrows + 0.3))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(maps):
            ax.set_visible(False)
            continue
        ax.imshow(np.asarray(maps[i], dtype=float).reshape(h, w), cmap="inferno",
                  **({"origin": "lower", "aspect": "auto"} if spectrogram else {}))
        if spectrogram and i % ncols == 0:
            ax.set_ylabel("mel band ↑", fontsize=7)
        label = classes[i] if i < len(classes) else i
        ax.set_title(f"class {short(label, 14)}" if title is None else short(label, 28),
                     fontsize=8)
    fig.suptitle(title or f"{short(model)}: where the prediction is most sensitive", fontsize=9)
    fig.tight_layout()
    return fig


@styled
def along_time(curves: Sequence[dict], title: str, ylabel: str, limit: int = 10
               ) -> Figure | None:
    """Attributions along a series' time steps: one line per curve ({label, values, family
    (optional, for its colour)}), at most ``limit``."""
    curves = [c for c in curves if c.get("values")][:limit]
    if not curves:
        return None
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.subplots()
    for c in curves:
        values = np.asarray(c["values"], dtype=float)
        ax.plot(np.arange(len(values)), values, lw=1.4, label=short(c["label"], 36),
                **({"color": _color(c["family"])} if c.get("family") else {}))
    ax.set_xlabel("time step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False, ncol=2 if len(curves) > 4 else 1)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- training diagnostics


@styled
def gradients(runs: dict, thresholds: dict, model: str) -> Figure | None:
    """Per-layer gradient norms per epoch (log y) for each run side by side, the thresholds
    dashed; the loss curves underneath."""
    order = [k for k in ("unclipped", "clipped") if runs.get(k)] + \
        [k for k in runs if k not in ("unclipped", "clipped") and runs[k]]
    if not order:
        return None
    fig = Figure(figsize=(4.4 * len(order), 6.4))
    axes = fig.subplots(2, len(order), squeeze=False, sharey="row")
    for col, name in enumerate(order):
        run = runs[name]
        ax = axes[0][col]
        layers = run.get("layers") or []
        norms = run.get("norms") or []
        palette = _layer_colors(len(norms))
        for i, series in enumerate(norms):
            values = np.maximum(np.asarray(_nan(series)), 1e-12)  # log axis: no zeros
            label = short(layers[i] if i < len(layers) else f"layer {i}", 18)
            ax.plot(np.arange(1, len(values) + 1), values, color=palette[i], linewidth=1.4,
                    label=label)
        for key, color in (("exploding", "#c62828"), ("vanishing", "#6a1b9a")):
            if thresholds.get(key):
                ax.axhline(thresholds[key], color=color, linestyle="--", linewidth=1,
                           label=f"{key} threshold")
        ax.set_yscale("log")
        clip = run.get("clip")
        ax.set_title(f"{name}" + (f" (clip at {clip:g})" if clip else ""))
        ax.set_xlabel("epoch")
        if col == 0:
            ax.set_ylabel("mean gradient norm (log)")
        ax.legend(loc="best", fontsize=7)
        lax = axes[1][col]
        for key, style in (("train_loss", "-"), ("valid_loss", "--")):
            series = run.get(key) or []
            if series:
                lax.plot(np.arange(1, len(series) + 1), _nan(series), linestyle=style,
                         color=FAMILY_COLORS["neural"], label=key.replace("_", " "))
        lax.set_xlabel("epoch")
        lax.set_title(f"{name}: loss")
        if col == 0:
            lax.set_ylabel("loss")
        lax.legend(loc="best", fontsize=7)
    fig.suptitle(short(model), fontsize=9)
    fig.tight_layout()
    return fig


def _layer_colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.1 + 0.8 * i / max(1, n - 1)) for i in range(n)]


# ---------------------------------------------------------------- tuning


@styled
def tuning(series: Sequence[dict], metric: str, higher: bool) -> Figure | None:
    """Best-so-far score against tuning seconds, one step line per model ({name, family,
    history})."""
    series = [s for s in series if s.get("history")]
    if not series:
        return None
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    pick = max if higher else min
    for s in series:
        xs, ys, best = [], [], None
        for seconds, score in s["history"]:
            if score is None:
                continue
            best = score if best is None else pick(best, score)
            xs.append(seconds)
            ys.append(best)
        if not xs:
            continue
        ax.step(xs, ys, where="post", color=_color(s["family"]), marker="o", markersize=3,
                linewidth=1.5)
        ax.annotate(short(s["name"], 22), (xs[-1], ys[-1]), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color="#333")
    ax.set_xlabel("tuning seconds")
    ax.set_ylabel(f"best {metric} so far (tuning rows)")
    ax.margins(x=0.15)
    _family_legend(ax, {s["family"] for s in series})
    return fig


def _family_legend(ax, present: set[str], outside: bool = False) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=FAMILY_COLORS[f], label=f) for f in FAMILIES if f in present]
    if handles and outside:  # where the bars' labels cannot run under it
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif handles:
        ax.legend(handles=handles, loc="best")
