"""The report's sections for clustering and anomaly runs, from the saved predictions and the
test rows in the common space (``predictions/_truth.npz``): maps of the clusters, their sizes,
and the anomaly scores with, when an evaluation column came, how well they find the anomalies.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from nnvsml.report.blocks import Cell, Note, Section, Table, section
from nnvsml.report.diagnostics import best_with_predictions
from nnvsml.report.load import Run
from nnvsml.report.plots import MUTED, _color, short, styled
from nnvsml.unsupervised.scores import has_truth

#: t-SNE is drawn beside PCA up to this many test rows (its cost grows quickly with them).
TSNE_MAX_ROWS = 1_000
MAX_POINTS = 3_000
TOP_ANOMALIES = 10
#: Top anomalies drawn as images or series, per detector.
GALLERY = 8
#: Encoded columns named for what sets a cluster or an anomaly apart, and clusters described.
TOP_COLUMNS = 3
MAX_CLUSTERS_DESCRIBED = 12
#: The surrogate classifier of the cluster labels: its trees, and the fewest labelled test rows
#: it is taught from (half of them; the other half measures its agreement).
SURROGATE_TREES = 50
SURROGATE_MIN_ROWS = 20
NO_SPACE = ("predictions/_truth.npz holds no common space: the run was stopped before its "
            "models were scored, or was made by another version")


@section("clusters", "Clusters on a map of the test rows",
         "Claim tested: both families find the groups in unlabelled data. Each family's best "
         "clustering of the test rows, drawn on the first two principal components of the common "
         "space every model is judged in (and on a t-SNE map when the rows are few); with an "
         "evaluation column, the true classes beside them. Sizes show whether a model lumps "
         "most rows into one cluster.")
def clusters(out: Section, run: Run) -> None:
    truth = run.truth
    if truth is None or truth.space is None:
        out.fail("not available", NO_SPACE)
        return
    best = [(f, m, p) for f, m, p in best_with_predictions(run) if p is not None]
    if not best:
        out.fail("not available", "no family has a finished model with readable predictions")
        return
    keep = _sample(len(truth.space))
    maps = {"PCA": _pca(truth.space[keep])}
    if len(keep) <= TSNE_MAX_ROWS and len(keep) >= 10:
        maps["t-SNE"] = _tsne(truth.space[keep])
    panels = [{"title": f"{short(m['name'])} ({f})", "labels": np.asarray(p.y_pred)[keep]}
              for f, m, p in best]
    if has_truth(truth.y_true):
        panels.append({"title": f"true classes ({run.results['dataset'].get('evaluate_with')})",
                       "labels": np.asarray(truth.y_true)[keep]})
    for name, coords in maps.items():
        out.plot(cluster_maps(coords, panels, name), f"{name} map of the test rows coloured by "
                 "cluster, one panel per model" + (" and one by true class"
                                                    if has_truth(truth.y_true) else ""))
    rows = []
    for family, model, pred in best:
        labels, counts = np.unique(np.asarray(pred.y_pred), return_counts=True)
        sizes = ", ".join(f"{'noise' if lab == -1 else lab}: {n}" for lab, n in
                          sorted(zip(labels.tolist(), counts.tolist()), key=lambda t: -t[1]))
        rows.append([Cell(model["name"]), Cell(family), Cell(str(int((labels >= 0).sum()))),
                     Cell(sizes)])
    out.blocks.append(Table(["model", "family", "clusters", "test rows per cluster"], rows,
                            title="Cluster sizes on the test rows"))
    if truth.rows is not None and len(truth.rows) == len(truth.space):
        modality = run.results["dataset"].get("modality")
        picture = _as_image(truth.rows, modality)
        out.plot(cluster_portraits(best, np.asarray(truth.rows), picture),
                 "Each cluster's mean test row, per family's best model: "
                 + ("the mean image, and under it how it differs from the mean of all test "
                    "rows (red: higher values, blue: lower): the pixels that set the cluster apart"
                    if picture else "the mean series (coloured) over the band holding 90% of "
                    "all test rows' values at each step (grey)"))
    names = _column_names(run, truth)
    if names is not None:
        z = _standardised(truth.space)
        rows = []
        for family, model, pred in best:
            labels = np.asarray(pred.y_pred)
            for lab in [v for v in np.unique(labels) if v != -1][:MAX_CLUSTERS_DESCRIBED]:
                centre = z[labels == lab].mean(axis=0)
                top = np.argsort(-np.abs(centre))[:TOP_COLUMNS]
                rows.append([Cell(model["name"]), Cell(str(lab)),
                             Cell(str(int((labels == lab).sum()))),
                             Cell("; ".join(f"{short(names[j], 32)} {centre[j]:+.1f} sd"
                                            for j in top))])
        out.blocks.append(Table(["model", "cluster", "rows", "what sets it apart (mean, in "
                                 "standard deviations of the test rows)"], rows,
                                title="What separates the clusters", compact=True))
        surrogate_rows = []
        for family, model, pred in best:
            surrogate_rows += _surrogate_rows(model["name"], np.asarray(truth.space),
                                              np.asarray(pred.y_pred), names)
        if surrogate_rows:
            out.blocks.append(Table(
                ["model", "cluster", "surrogate's agreement on held-out test rows",
                 "columns it relies on most (mean |SHAP| for that cluster)"], surrogate_rows,
                title="What a classifier of the cluster labels relies on (SHAP on a surrogate)",
                compact=True))
    space = run.results.get("protocol", {}).get("metric_space")
    if space:
        out.blocks.append(Note(f"Common space: {space}."))


@section("anomalies", "Anomaly scores",
         "Claim tested: both families find the rows unlike the others. The distribution of "
         "each family's best detector's scores on the test rows (higher: more anomalous; the "
         "dashed line is its threshold at --contamination); with an evaluation column, the "
         "true anomalies in red, the ROC and precision-recall curves of the scores, and the "
         "test rows each detector ranks most anomalous.")
def anomalies(out: Section, run: Run) -> None:
    truth = run.truth
    best = [(f, m, p) for f, m, p in best_with_predictions(run) if p is not None and p.proba is not None]
    if truth is None or not best:
        out.fail("not available", "no family has a finished detector with readable scores")
        return
    labelled = has_truth(truth.y_true)
    y = np.asarray(truth.y_true).astype(float).astype(int) if labelled else None
    panels = [{"family": f, "model": m["name"], "scores": np.asarray(p.proba, dtype=float),
               "flags": np.asarray(p.y_pred)} for f, m, p in best]
    out.plot(score_histograms(panels, y), "Histograms of the test rows' anomaly scores, one "
             "panel per family's best detector")
    if labelled:
        out.plot(roc_pr(panels, y), "ROC and precision-recall curves of the anomaly scores "
                 "against the evaluation column")
    if truth.rows is not None and len(truth.rows) == len(panels[0]["scores"]):
        modality = run.results["dataset"].get("modality")
        out.plot(anomaly_gallery(panels, np.asarray(truth.rows), y, modality),
                 f"The {GALLERY} test rows each detector finds most anomalous, as "
                 + ("images; under each, where it differs most from the mean test image"
                    if _as_image(truth.rows, modality) else
                    "series (black) over the band holding 90% of the test rows' values at "
                    "each step (grey): where the line leaves the band is what was unusual"))
    names = _column_names(run, truth)
    z = _standardised(truth.space) if names is not None else None
    rows = []
    for p in panels:
        top = np.argsort(-p["scores"], kind="mergesort")[:TOP_ANOMALIES]
        for rank, i in enumerate(top, 1):
            unusual = ("; ".join(f"{short(names[j], 32)} {z[i, j]:+.1f} sd"
                                 for j in np.argsort(-np.abs(z[i]))[:TOP_COLUMNS])
                       if z is not None else "")
            rows.append([Cell(p["model"]), Cell(str(rank)), Cell(str(int(i))),
                         Cell(f"{p['scores'][i]:.4g}"),
                         Cell("yes" if labelled and y[i] == 1 else ("no" if labelled else "?")),
                         Cell(unusual)])
    out.blocks.append(Table(["model", "rank", "test row", "score", "a true anomaly",
                             "its most unusual values (standard deviations from the test rows' "
                             "mean)"], rows,
                            title=f"The {TOP_ANOMALIES} test rows each detector finds most "
                                  "anomalous (row = position among the test rows)",
                            compact=True))


def _surrogate_rows(model: str, space: np.ndarray, labels: np.ndarray,
                    names: list[str]) -> list[list[Cell]]:
    """SHAP on a surrogate: a small LightGBM taught the model's cluster labels from the common
    space; mean |SHAP| per column for each cluster names what the surrogate needs to tell that
    cluster from the rest. How far to trust it is its agreement with the labels on the half of
    the test rows it did not learn from."""
    import warnings

    import lightgbm as lgb
    import shap

    kept = labels != -1
    X, y = space[kept], labels[kept]
    classes = np.unique(y)
    if len(classes) < 2 or len(y) < SURROGATE_MIN_ROWS:
        return []
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    half = len(y) // 2
    learn, held = order[:half], order[half:]
    where = ""
    if len(np.unique(y[learn])) < len(classes):
        learn, held = order, order  # too few rows of some cluster to hold any out
        where = " (on the rows it learnt from)"
    surrogate = lgb.LGBMClassifier(n_estimators=SURROGATE_TREES, num_leaves=15,
                                   min_child_samples=5, random_state=0, n_jobs=1, verbose=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        surrogate.fit(X[learn], y[learn])
        agreement = float((surrogate.predict(X[held]) == y[held]).mean())
        values = shap.TreeExplainer(surrogate).shap_values(X[learn])
    # One array per cluster, [rows, columns] (a two-cluster model has one: the second's).
    if isinstance(values, list):
        per_class = values
    elif values.ndim == 3:
        per_class = [values[:, :, c] for c in range(values.shape[2])]
    else:
        per_class = [-values, values]
    rows = []
    for c, lab in enumerate(surrogate.classes_[:MAX_CLUSTERS_DESCRIBED]):
        weight = np.abs(per_class[c]).mean(axis=0)
        top = np.argsort(-weight)[:TOP_COLUMNS]
        rows.append([Cell(model), Cell(str(lab)),
                     Cell(f"{agreement:.0%}{where}"),
                     Cell("; ".join(f"{short(names[j], 32)} {weight[j]:.2f}" for j in top))])
    return rows


def _as_image(rows: np.ndarray, modality: str | None) -> bool:
    """Images ([n, H, W, C]) and spectrograms ([n, mels, frames]) are drawn as pictures;
    series ([n, channels, steps]) and waveforms as lines."""
    return modality == "image" or (modality == "audio" and np.asarray(rows).ndim == 3)


def _drawable(rows: np.ndarray, picture: bool) -> np.ndarray:
    """Rows as they are drawn: images [n, H, W] (or [n, H, W, 3]), or one line per row (a
    series' first channel, a waveform)."""
    values = rows.astype(float)
    if picture:
        return values[..., 0] if values.ndim == 4 and values.shape[-1] == 1 else values
    return values.reshape(len(values), -1) if values.ndim == 2 else values[:, 0]


def _picture(ax, image: np.ndarray) -> None:
    """A grey image (ink dark), or a colour one stretched to [0, 1]."""
    if image.ndim == 3:
        ax.imshow((image - image.min()) / (np.ptp(image) or 1.0))
    else:
        ax.imshow(image, cmap="gray_r")


def _line_over_band(ax, line: np.ndarray, band: tuple, color: str, width: float) -> None:
    low, high = band
    ax.fill_between(np.arange(len(line)), low, high, color=MUTED, alpha=0.4, linewidth=0)
    ax.plot(line, color=color, linewidth=width)


@styled
def cluster_portraits(best: list, rows: np.ndarray, picture: bool) -> Figure | None:
    values = _drawable(rows, picture)
    overall = values.mean(axis=0)
    clusters = [[lab for lab in np.unique(np.asarray(p.y_pred)) if lab != -1]
                [:MAX_CLUSTERS_DESCRIBED] for _, _, p in best]
    n = max((len(c) for c in clusters), default=0)
    if not n:
        return None
    lines = len(best) * (2 if picture else 1)
    fig = Figure(figsize=(1.4 * n, 1.6 * lines))
    axes = fig.subplots(lines, n, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    band = None if picture else np.percentile(values, [5, 95], axis=0)
    for k, ((family, model, pred), labels) in enumerate(zip(best, clusters)):
        assigned = np.asarray(pred.y_pred)
        for j, lab in enumerate(labels):
            members = values[assigned == lab]
            mean = members.mean(axis=0)
            ax = axes[k * (2 if picture else 1), j]
            ax.set_axis_on(), ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{short(model['name'], 14) if j == 0 else ''} {lab} "
                         f"({len(members)})", fontsize=7)
            if picture:
                _picture(ax, mean)
                gap = mean - overall
                gap = gap.mean(axis=-1) if gap.ndim == 3 else gap
                edge = float(np.abs(gap).max()) or 1.0
                below = axes[k * 2 + 1, j]
                below.set_axis_on(), below.set_xticks([]), below.set_yticks([])
                below.imshow(gap, cmap="RdBu_r", vmin=-edge, vmax=edge)
            else:
                _line_over_band(ax, mean, band, f"C{j % 10}", 1.0)
    fig.tight_layout()
    return fig


@styled
def anomaly_gallery(panels: list[dict], rows: np.ndarray, y: np.ndarray | None,
                    modality: str | None) -> Figure | None:
    picture = _as_image(rows, modality)
    values = _drawable(rows, picture)
    n = min(GALLERY, len(values))
    lines = len(panels) * (2 if picture else 1)
    fig = Figure(figsize=(1.5 * n, 1.7 * lines))
    axes = fig.subplots(lines, n, squeeze=False)
    mean = values.mean(axis=0)
    band = None if picture else np.percentile(values, [5, 95], axis=0)
    for k, p in enumerate(panels):
        top = np.argsort(-p["scores"], kind="mergesort")[:n]
        for j, i in enumerate(top):
            ax = axes[k * (2 if picture else 1), j]
            truth = "" if y is None else (" anomaly" if y[i] == 1 else " normal")
            ax.set_title(f"{short(p['model'], 14) if j == 0 else ''} #{j + 1}{truth}",
                         fontsize=7, color="#d62728" if y is not None and y[i] == 1 else "k")
            if picture:
                _picture(ax, values[i])
                below = axes[k * 2 + 1, j]
                gap = np.abs(values[i] - mean)
                below.imshow(gap.mean(axis=-1) if gap.ndim == 3 else gap, cmap="inferno")
                below.set_xticks([]), below.set_yticks([])
            else:
                _line_over_band(ax, values[i], band, "k", 0.8)
            ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def _column_names(run: Run, truth) -> list[str] | None:
    """The encoded column of each dimension of the common space, when it has them (a table
    not reduced by PCA) and they match the saved rows."""
    names = (run.results.get("protocol") or {}).get("metric_space_columns")
    if not names or truth.space is None or truth.space.shape[1] != len(names):
        return None
    return [str(n) for n in names]


def _standardised(space: np.ndarray) -> np.ndarray:
    space = np.asarray(space, dtype=float)
    return (space - space.mean(axis=0)) / np.where(space.std(axis=0) > 0, space.std(axis=0), 1.0)


def _sample(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))


def _pca(space: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA

    if space.shape[1] < 2:
        return np.column_stack([space[:, 0], np.zeros(len(space))])
    return PCA(2, random_state=0).fit_transform(space)


def _tsne(space: np.ndarray) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=min(30.0, (len(space) - 1) / 3), init="pca",
                random_state=0).fit_transform(space)


@styled
def cluster_maps(coords: np.ndarray, panels: list[dict], name: str) -> Figure | None:
    if not panels:
        return None
    fig = Figure(figsize=(3.8 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True, sharey=True)[0]
    for ax, p in zip(axes, panels):
        labels = np.asarray(p["labels"]).astype(str)
        for i, lab in enumerate(np.unique(labels)):
            at = labels == lab
            noise = lab == "-1"
            ax.scatter(coords[at, 0], coords[at, 1], s=9, alpha=0.7, linewidths=0,
                       color=MUTED if noise else f"C{i % 10}",
                       label="noise" if noise else short(lab, 12))
        ax.set_title(p["title"])
        ax.set_xlabel(f"{name} 1")
        if len(np.unique(labels)) <= 10:
            ax.legend(fontsize=7, markerscale=1.5, loc="best")
    axes[0].set_ylabel(f"{name} 2")
    fig.tight_layout()
    return fig


@styled
def score_histograms(panels: list[dict], y: np.ndarray | None) -> Figure | None:
    fig = Figure(figsize=(4.4 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, p in zip(axes, panels):
        scores = p["scores"]
        bins = np.histogram_bin_edges(scores, bins=30)
        if y is None:
            ax.hist(scores, bins=bins, color=_color(p["family"]), alpha=0.8)
        else:
            ax.hist(scores[y == 0], bins=bins, color=_color(p["family"]), alpha=0.7,
                    label="normal")
            ax.hist(scores[y == 1], bins=bins, color="#d62728", alpha=0.8, label="anomaly")
            ax.legend(fontsize=8)
        flagged = scores[p["flags"] == 1]
        if len(flagged):
            ax.axvline(flagged.min(), color="#444", linestyle="--", linewidth=1)
        ax.set_title(f"{short(p['model'])} ({p['family']})")
        ax.set_xlabel("anomaly score")
    axes[0].set_ylabel("test rows")
    fig.tight_layout()
    return fig


@styled
def roc_pr(panels: list[dict], y: np.ndarray) -> Figure | None:
    from sklearn import metrics

    if y.sum() == 0 or y.sum() == len(y):
        return None
    fig = Figure(figsize=(9.0, 3.8))
    roc_ax, pr_ax = fig.subplots(1, 2)
    for p in panels:
        fpr, tpr, _ = metrics.roc_curve(y, p["scores"])
        precision, recall, _ = metrics.precision_recall_curve(y, p["scores"])
        label = f"{short(p['model'])} ({p['family']})"
        roc_ax.plot(fpr, tpr, color=_color(p["family"]), linewidth=2,
                    label=f"{label}: AUC {metrics.auc(fpr, tpr):.3f}")
        pr_ax.step(recall, precision, where="post", color=_color(p["family"]), linewidth=2,
                   label=f"{label}: AP {metrics.average_precision_score(y, p['scores']):.3f}")
    roc_ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1)
    pr_ax.axhline(y.mean(), color=MUTED, linestyle="--", linewidth=1, label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
    roc_ax.legend(fontsize=8, loc="lower right")
    pr_ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
