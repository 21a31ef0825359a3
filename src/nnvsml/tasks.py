"""Tasks as declared specs: what a task is scored on, and how it is judged and reported.

A :class:`TaskSpec` says everything the comparison needs to know about a task that is not a
model: its metrics (in order, each with its direction), how the default primary metric is
chosen, how one model's predictions are scored, whether probabilities are read, which paired
test compares two models on the test rows, which report sections apply, and whether its rows
are split and sampled by class. The metrics, the uncertainty, the verdict, the key differences,
the evidence and the report ask the spec instead of testing the task's name, so a new task is
one :func:`register_task` call (and its candidates), not an edit of every ``if``.

Example
-------
>>> spec = get_task("regression")
>>> spec.metric_names
('rmse', 'mae', 'r2')
>>> spec.greater_is_better["rmse"], spec.paired_test.name
(False, 'paired bootstrap of the test rows')
>>> get_task("binary").default_primary_metric([0.95, 0.05])[0]
'balanced_accuracy'
>>> sorted(TASKS)
['anomaly', 'binary', 'clustering', 'multiclass', 'regression']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from nnvsml import metrics, uncertainty
from nnvsml.errors import InputError

__all__ = ["KINDS", "TARGETS", "TASKS", "Metric", "PairedTest", "TaskSpec", "directions",
           "find_metric", "get_task", "register_task"]

#: What a task learns from: labelled rows, unlabelled rows, or an environment.
KINDS = ("supervised", "unsupervised", "control")
#: What a task's models predict: classes (scored against labels), continuous values, or nothing
#: a metric compares with a label (clustering, anomalies).
TARGETS = ("classes", "continuous", "none")

#: (y_true, y_pred, proba, classes) -> metric -> value (None where undefined).
Scorer = Callable[..., dict]
#: class shares (or None) -> (primary metric, why it was chosen).
PrimaryChooser = Callable[[Sequence[float] | None], tuple[str, str]]
#: (y_true, models [(y_pred, proba)], classes, weights (resamples x rows)) -> metric -> array
#: (n_models, n_resamples): every metric over many bootstrap resamples at once.
Resampler = Callable[..., dict]


@dataclass(frozen=True)
class Metric:
    """One metric of a task.

    ``share``: on a 0-1 scale, so a gap between two scores reads best as points (x100).
    ``needs_proba``: computed from the model's second output: predicted probabilities
    (``None`` for a model without them) or, for an unsupervised task, its
    :class:`~nnvsml.unsupervised.scores.Outputs` (the rows in the common space, anomaly scores).
    ``needs_truth``: read from the evaluation column of an unsupervised task (never shown to the
    models): undefined without one, and never used to tune.
    """

    name: str
    greater_is_better: bool
    share: bool = False
    needs_proba: bool = False
    needs_truth: bool = False


@dataclass(frozen=True)
class PairedTest:
    """The test that compares two models on the same test rows.

    ``run(y_true, a, b, diffs)`` gets the true values, each model's ``(y_pred, proba)`` and the
    paired bootstrap's differences of the metric (first minus second), and returns at least
    ``{"p_value": float}`` (plus whatever the test counts, e.g. discordant rows).
    """

    name: str
    run: Callable[..., dict]


@dataclass(frozen=True)
class TaskSpec:
    """A task, declared.

    ``kind``: one of :data:`KINDS`. ``metrics``: every metric the task is scored on, in the
    order they are reported. ``scorer``: scores one model's predictions (see :meth:`score`).
    ``primary``: chooses the default primary metric from the training classes' shares (None for
    a task without classes). ``resampled``: the metrics over bootstrap resamples, for
    intervals. ``paired_test``: compares two models on the test rows (the verdict reports it).
    ``report_sections``: the ids of the report's sections that apply, in page order.
    ``target``: one of :data:`TARGETS`. ``stratified``: whether splits and subsamples keep the
    classes' shares. Whether scoring reads predicted probabilities follows from the metrics
    (:attr:`needs_proba`).
    """

    name: str
    kind: str
    description: str
    metrics: tuple[Metric, ...]
    scorer: Scorer
    primary: PrimaryChooser
    resampled: Resampler
    paired_test: PairedTest
    report_sections: tuple[str, ...]
    target: str
    stratified: bool
    #: The analyses (``--analyses``) that apply; None: every one.
    analyses: tuple[str, ...] | None = None
    #: What tuning trials are scored on: "" for the primary metric; a metric's name; None for
    #: no tuning, with ``tuning_note`` saying why.
    tuning_metric: str | None = ""
    tuning_note: str = ""

    def __post_init__(self) -> None:
        names = [m.name for m in self.metrics]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"task {self.name!r}: metrics must be a non-empty list of distinct "
                             f"names, got {names}")
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.target not in TARGETS:
            raise ValueError(f"task {self.name!r}: target must be one of {TARGETS}, got "
                             f"{self.target!r}")
        if self.stratified and self.target != "classes":
            raise ValueError(f"task {self.name!r}: only a task with classes can be stratified")

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def greater_is_better(self) -> dict[str, bool]:
        """metric -> whether a greater value is better."""
        return {m.name: m.greater_is_better for m in self.metrics}

    @property
    def needs_proba(self) -> bool:
        """Whether scoring reads predicted probabilities (asked of the models that have them)."""
        return any(m.needs_proba for m in self.metrics)

    @property
    def has_classes(self) -> bool:
        """Whether the models predict classes (labels with shares, a confusion matrix)."""
        return self.target == "classes"

    def score(self, y_true, y_pred, proba=None, classes=None) -> dict[str, float | None]:
        """Every metric of the task for one model's predictions; ``None`` where undefined.
        ``proba`` (columns in the order of ``classes``) is read only when :attr:`needs_proba`."""
        if not self.needs_proba:
            proba = None
        return self.scorer(y_true, y_pred, proba, classes)

    @property
    def supervised(self) -> bool:
        """Whether models learn from a target (``fit(X, y)``) rather than from the rows alone."""
        return self.kind == "supervised"

    def tuned_on(self, primary: str) -> str | None:
        """The metric tuning trials are scored on under ``primary``; None: no tuning."""
        return primary if self.tuning_metric == "" else self.tuning_metric

    def default_primary_metric(self, class_shares: Sequence[float] | None = None
                               ) -> tuple[str, str]:
        """The metric the comparison is decided on unless the user picks one, and why."""
        return self.primary(class_shares)


#: Every known task by name. Add one with :func:`register_task`.
TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Add ``spec`` to :data:`TASKS` (``replace`` to redeclare a name); return it.

    A metric several tasks share must be declared alike in all of them (direction, scale),
    since results, the verdict and the leaderboard look it up by name.
    """
    if spec.name in TASKS and not replace:
        raise ValueError(f"task {spec.name!r} is already registered (pass replace=True)")
    for other in TASKS.values():
        if other.name == spec.name:
            continue
        for metric in spec.metrics:
            mine = next((m for m in other.metrics if m.name == metric.name), None)
            if mine is not None and (mine.greater_is_better, mine.share) != (
                    metric.greater_is_better, metric.share):
                raise ValueError(f"metric {metric.name!r} of task {spec.name!r} is declared "
                                 f"differently by task {other.name!r}")
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name``; :class:`InputError` with a close match for an unknown one."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        pass
    known = sorted(TASKS)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise InputError(f"unknown task '{name}'; {hint}choose from: {', '.join(known)}")


def find_metric(name: str) -> Metric | None:
    """The declaration of metric ``name`` in any registered task, or None."""
    for spec in TASKS.values():
        for metric in spec.metrics:
            if metric.name == name:
                return metric
    return None


# ---- the built-in tasks ------------------------------------------------------------------------

#: Report sections every supervised task shows, before and after its own diagnostics.
_SECTIONS_BEFORE = ("key-differences", "leaderboard", "pareto", "learning-curve", "data-quality",
                    "overfitting")
_SECTIONS_AFTER = ("explanations", "gradients", "energy", "deployability", "tuning")

_CLASSIFICATION_METRICS = (
    Metric("accuracy", True, share=True),
    Metric("balanced_accuracy", True, share=True),
    Metric("precision_macro", True, share=True),
    Metric("recall_macro", True, share=True),
    Metric("f1_macro", True, share=True),
    Metric("roc_auc", True, share=True, needs_proba=True),
    Metric("log_loss", False, needs_proba=True),
)
_REGRESSION_METRICS = (
    Metric("rmse", False),
    Metric("mae", False),
    Metric("r2", True, share=True),
)
#: A class under this share of the rows makes balanced accuracy the default primary metric.
IMBALANCED_SHARE = 0.10

MCNEMAR = PairedTest("McNemar's exact test on the test rows", uncertainty.mcnemar)
PAIRED_BOOTSTRAP = PairedTest("paired bootstrap of the test rows", uncertainty.bootstrap_p_value)


def _classification_primary(class_shares: Sequence[float] | None) -> tuple[str, str]:
    if class_shares and min(class_shares) < IMBALANCED_SHARE:
        return (
            "balanced_accuracy",
            f"the smallest class holds {min(class_shares):.1%} of rows, so plain accuracy would "
            "reward ignoring it",
        )
    return "accuracy", "classes are not strongly imbalanced"


def _regression_primary(class_shares: Sequence[float] | None) -> tuple[str, str]:
    return "rmse", "regression: root mean squared error"


def _classification(name: str, description: str) -> TaskSpec:
    return TaskSpec(
        name=name, kind="supervised", description=description,
        metrics=_CLASSIFICATION_METRICS, scorer=metrics.classification_scores,
        primary=_classification_primary, resampled=uncertainty.resampled_classification,
        paired_test=MCNEMAR,
        report_sections=(*_SECTIONS_BEFORE, "confusion-roc", *_SECTIONS_AFTER),
        target="classes", stratified=True)


register_task(_classification("binary", "two classes"))
register_task(_classification("multiclass", "three or more classes"))
register_task(TaskSpec(
    name="regression", kind="supervised", description="a continuous value",
    metrics=_REGRESSION_METRICS, scorer=metrics.regression_scores,
    primary=_regression_primary, resampled=uncertainty.resampled_regression,
    paired_test=PAIRED_BOOTSTRAP,
    report_sections=(*_SECTIONS_BEFORE, "residuals", *_SECTIONS_AFTER),
    target="continuous", stratified=False))


# ---- unsupervised tasks: no target; an evaluation column (never shown to models) may score them --

def _unsupervised():
    # Imported when first scored: the scores pull in SciPy's assignment solver and distances,
    # which a supervised run never needs.
    from nnvsml.unsupervised import scores

    return scores


_CLUSTERING_METRICS = (
    Metric("silhouette", True, needs_proba=True),
    Metric("davies_bouldin", False, needs_proba=True),
    Metric("calinski_harabasz", True, needs_proba=True),
    Metric("stability_ari", True, share=True, needs_proba=True),
    Metric("ari", True, share=True, needs_truth=True),
    Metric("nmi", True, share=True, needs_truth=True),
    Metric("cluster_accuracy", True, share=True, needs_truth=True),
)
_ANOMALY_METRICS = (
    Metric("roc_auc", True, share=True, needs_proba=True, needs_truth=True),
    Metric("average_precision", True, share=True, needs_proba=True, needs_truth=True),
    Metric("precision_at_n", True, share=True, needs_proba=True, needs_truth=True),
    Metric("stability_rho", True, needs_proba=True),
    # The share of rows flagged at --contamination: a fact about the threshold, not a quality;
    # "lower" only so that it has a direction (it is never the primary metric).
    Metric("flagged_share", False, share=True),
)
#: Analyses that apply without a target: the costs' energy and, per family, the learning curve
#: and the damaged-data sweeps (scored against the evaluation column, or by the silhouette in
#: the common space of the clean rows).
_UNSUPERVISED_ANALYSES = ("energy", "learning_curve", "data_quality")


def _clustering_primary(class_shares: Sequence[float] | None) -> tuple[str, str]:
    if class_shares:
        return "ari", ("an evaluation column gives the true classes: the adjusted Rand index "
                       "against them (chance 0, perfect 1)")
    return "silhouette", ("no evaluation column: the silhouette of the clusters in the common "
                          "space, weaker evidence than agreement with known classes")


def _anomaly_primary(class_shares: Sequence[float] | None) -> tuple[str, str]:
    if class_shares:
        return "average_precision", ("an evaluation column marks the true anomalies: average "
                                     "precision of the anomaly scores (it weighs the rare "
                                     "anomalies found at the top, unlike ROC-AUC)")
    return "stability_rho", ("no evaluation column: how stably the model ranks the rows across "
                             "refits (Spearman), weak evidence: a stable ranking need not find "
                             "anomalies")


def _resampled_clustering(y_true, models, classes, w):
    return _unsupervised().resampled_clustering(y_true, models, classes, w)


def _resampled_anomaly(y_true, models, classes, w):
    return _unsupervised().resampled_anomaly(y_true, models, classes, w)


def _clustering_scores(y_true, y_pred, proba=None, classes=None):
    return _unsupervised().clustering_scores(y_true, y_pred, proba, classes)


def _anomaly_scores(y_true, y_pred, proba=None, classes=None):
    return _unsupervised().anomaly_scores(y_true, y_pred, proba, classes)


register_task(TaskSpec(
    name="clustering", kind="unsupervised", description="groups of similar rows",
    metrics=_CLUSTERING_METRICS, scorer=_clustering_scores, primary=_clustering_primary,
    resampled=_resampled_clustering, paired_test=PAIRED_BOOTSTRAP,
    report_sections=("key-differences", "leaderboard", "pareto", "clusters", "learning-curve",
                     "data-quality", "energy", "tuning"),
    target="none", stratified=False, analyses=_UNSUPERVISED_ANALYSES,
    tuning_metric="silhouette"))
register_task(TaskSpec(
    name="anomaly", kind="unsupervised", description="rows unlike the others",
    metrics=_ANOMALY_METRICS, scorer=_anomaly_scores, primary=_anomaly_primary,
    resampled=_resampled_anomaly, paired_test=PAIRED_BOOTSTRAP,
    report_sections=("key-differences", "leaderboard", "pareto", "anomalies", "learning-curve",
                     "data-quality", "energy"),
    target="none", stratified=False, analyses=_UNSUPERVISED_ANALYSES,
    tuning_metric=None,
    tuning_note="no label-free score judges an anomaly detector's hyperparameters (the "
                "evaluation column is never used to choose them): every detector runs with its "
                "declared defaults, both families alike"))


def directions(specs: Mapping[str, TaskSpec] | None = None) -> dict[str, bool]:
    """metric -> whether greater is better, over ``specs`` (default: every registered task)."""
    return {m.name: m.greater_is_better
            for spec in (TASKS if specs is None else specs).values() for m in spec.metrics}
