"""The Python entry point: ``nnvsml.compare``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nnvsml.config import DEFAULT_BUDGET, DEFAULT_DEMO_BUDGET, RunConfig  # noqa: F401 (re-exported)
from nnvsml.data import load_dataset
from nnvsml.errors import InputError
from nnvsml.results import leaderboard


@dataclass
class CompareResult:
    """What a comparison returns: the leaderboard, the verdict, and where everything was written."""

    leaderboard: pd.DataFrame
    verdict: dict
    run_dir: Path
    results: dict

    def __repr__(self) -> str:
        v = self.verdict or {}
        return (f"CompareResult(verdict={v.get('family')!r}, model={v.get('model')!r}, "
                f"models={len(self.leaderboard)}, run_dir='{self.run_dir}')")


def compare(
    data=None,
    target: str | None = None,
    budget: float | None = None,
    seed: int = RunConfig.seed,
    *,
    config: RunConfig | None = None,
    progress: bool = False,
    live: bool = True,
    **options,
) -> CompareResult:
    """Train both families on ``data`` under one protocol and say which to use, with evidence.

    Every option but ``data``, ``progress`` and ``live`` is a field of
    :class:`nnvsml.RunConfig`, which states its default and its rule; pass them as keywords or
    all together as ``config``.

    Parameters
    ----------
    data : path, pandas.DataFrame, (X, y) or None
        A CSV / TSV (optionally gzipped) or Parquet file, or a DataFrame holding the target
        column; a folder of images, texts or WAV files with one sub-folder per class; a folder of
        MNIST-style IDX files or of UCR ``NAME_TRAIN``/``NAME_TEST`` series; an NPZ file; or an
        ``(X, y)`` pair of arrays. ``None`` runs on the bundled demo data (a sample of the UCI
        Adult census table).
    target : str, optional
        The column to predict; by default a column named target/label/class/y, else the last.
    modality : {"tabular", "image", "text", "sequence", "audio"}, optional
        Overrides the modality detected from the data.
    validation : {"auto", "cv", "holdout"}
        ``cv``: ``cv_folds``-fold cross-validation, then a refit on all training rows;
        ``holdout``: one validation part, the model fitted on the rest is the one tested;
        ``auto`` (default): holdout from 30,000 training rows on, else cv.
    budget : float, optional
        Wall-clock seconds for the whole run, shared equally between the two families
        (default 300; 120 for the bundled demo). With ``trials`` it only caps the run, and
        by default there is no cap.
    search : {"bayesian", "random", "grid", "hyperband", "none"}
        How every candidate is tuned (Optuna): TPE (default), random draws, each candidate's
        small grid, random draws pruned by Hyperband, or no tuning (the declared defaults).
    trials : int, optional
        Trials per candidate instead of a share of seconds: fits run without a clock, so the
        same data, seed and ``trials`` give the same results.
    storage : str, optional
        Optuna storage URL for the studies (e.g. ``postgresql+psycopg://user@host/db``, shared
        by several machines); by default an SQLite file in the run directory.
    analyses : "all", "none" or list of str
        The evidence gathered on each family's best model after the comparison:
        ``learning_curve``, ``data_quality``, ``overfitting``, ``gradients``,
        ``explanations``, ``energy`` (see ``results["evidence"]``).
    analysis_budget : float, optional
        Seconds the analyses may take on top of ``budget`` (default: half of it).
    priority : {"accuracy", "interpretability", "speed", "cost"}
        What the verdict optimises once the models that break a constraint are set aside.
    in_memory_rows : int, optional
        The most rows of a table held in memory. A table with more, or one whose pandas size
        is over 1/16 of the available memory, is read in batches with pyarrow: every model
        is tested on the same stratified test rows, LightGBM and the tabular networks are
        refitted on every training row streamed in batches, the others train on a stated
        stratified sample (``results["dataset"]["sampling"]``).
    max_latency_ms, max_train_seconds, max_model_mb : float, optional
        Constraints: a model slower to answer one row, slower to train, or larger on disk is
        not recommended.
    require_explanations : bool
        Recommend only models that explain themselves (coefficients, rules, importances).
    report : bool
        Write ``report.html`` into the run directory (default); ``nnvsml report`` can write it
        later.
    seed : int
        Seeds the split, the folds and every model.
    task : {"binary", "multiclass", "regression", "classification"}, optional
        Overrides the task inferred from the target.
    out : path, optional
        The run directory. Running again with the same ``out`` resumes: finished models are kept
        as they are and only the rest run.
    models, families : list of str, optional
        Restrict the candidates (see ``nnvsml models``).
    config : nnvsml.RunConfig, optional
        All the options at once, instead of keywords (giving both is a ``TypeError``).
    name : str, optional
        Names the data in the results and the default run directory.
    mlflow : str, optional
        An MLflow tracking URI (``http://host:5000`` or ``sqlite:///mlflow.db``): the finished
        run is logged there, one parent run and one nested run per candidate (needs the
        ``mlflow`` extra). An unreachable one is an error before anything trains.
    progress : bool
        Print what happens with Rich: notices, one line per finished model, the leaderboard and
        the verdict (the command line turns it on). ``live`` adds the animated progress bar.

    Returns
    -------
    CompareResult
        ``.leaderboard`` (DataFrame), ``.verdict`` (dict), ``.run_dir`` (Path), ``.results``
        (the content of results.json).

    Raises
    ------
    nnvsml.InputError
        For bad data or options, with a one-line message saying how to fix it.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> df = load_breast_cancer(as_frame=True).frame
    >>> result = nnvsml.compare(df, target="target", budget=60)   # doctest: +SKIP
    >>> result.verdict["family"]                                   # doctest: +SKIP
    'tie'
    """
    import time

    from nnvsml.comparison import run_comparison

    started = time.monotonic()  # the budget covers reading the data too
    checked = plan(data, target, budget, seed, config=config, **options)
    config, dataset = checked.config, checked.dataset
    reporter = None
    if progress:
        from nnvsml.display import RichReporter

        reporter = RichReporter(live=live)
    results, run_dir = run_comparison(dataset, config, reporter=reporter, started=started,
                                      protocol=checked.protocol, candidates=checked.candidates)
    if config.mlflow is not None:
        _track(config.mlflow, results, run_dir, reporter)
    return CompareResult(leaderboard(results), results["verdict"], run_dir, results)


def _track(uri: str, results: dict, run_dir, reporter) -> None:
    """Log the finished run to MLflow; a tracker that fails now costs the log, not the run."""
    import warnings

    from nnvsml.tracking import log_comparison

    try:
        run_id = log_comparison(uri, results, run_dir)
    except Exception as exc:  # the tracker's own errors (HTTP, database) are many kinds
        message = (f"the run is complete in {run_dir}, but logging it to MLflow at {uri} failed "
                   f"({type(exc).__name__}: {str(exc)[:200]}); run the same command again to "
                   "log it (finished models are kept)")
        if reporter is not None:
            reporter.notice(message)
        else:
            warnings.warn(message, stacklevel=3)
        return
    if reporter is not None:
        reporter.notice(f"logged to MLflow at {uri} (run {run_id})")


@dataclass
class Plan:
    """What :func:`compare` would do with the same arguments, checked, before anything trains."""

    config: RunConfig
    dataset: Any  # nnvsml.data.Dataset
    protocol: Any  # nnvsml.protocol.Protocol
    candidates: list

    def __repr__(self) -> str:
        return (f"Plan(data={self.dataset.name!r}, task={self.dataset.task!r}, "
                f"modality={self.dataset.modality!r}, rows={self.dataset.n_rows}, "
                f"candidates={[c.name for c in self.candidates]})")


def plan(data=None, target: str | None = None, budget: float | None = None,
         seed: int = RunConfig.seed, *, config: RunConfig | None = None, **options) -> Plan:
    """Check ``data`` and the options exactly as :func:`compare` does (same arguments), and say
    what it would run: the dataset as read, the protocol (split, folds, metric) and the
    candidates. Nothing is trained and nothing is written. Raises
    :class:`nnvsml.InputError` where :func:`compare` would."""
    from nnvsml.data.large import LargeOptions
    from nnvsml.unsupervised.data import UnsupervisedOptions
    from nnvsml.models import select
    from nnvsml.protocol import make_protocol
    from nnvsml.results import check_out

    # Options first: a typo should not cost the time it takes to read a large file.
    if config is None:
        config = RunConfig.build(target=target, budget=budget, seed=seed, **options)
    elif not isinstance(config, RunConfig):
        raise TypeError(f"config must be an nnvsml.RunConfig, got {type(config).__name__}")
    elif options or target is not None or budget is not None or seed != RunConfig.seed:
        raise TypeError("pass the options either as keywords or in config, not both; "
                        "dataclasses.replace(config, ...) changes some of them")
    if config.out is not None:
        check_out(config.out)
    config.check_storage()
    config.check_tracking()
    config.check_executor()
    dataset = load_dataset(data, target=config.target, task=config.task, name=config.name,
                           modality=config.modality,
                           large=LargeOptions(config.in_memory_rows, config.seed,
                                              config.test_fraction),
                           unsupervised=UnsupervisedOptions(config.evaluate_with,
                                                            config.contamination,
                                                            config.clusters),
                           unlabeled=config.unlabeled)
    config = config.with_data_defaults(data)
    protocol = make_protocol(dataset, seed=config.seed, test_fraction=config.test_fraction,
                             cv_folds=config.cv_folds, budget_seconds=config.budget,
                             primary_metric=config.metric, validation=config.validation)
    candidates = select(dataset.task, dataset.modality, config.models, config.families,
                        unlabelled=dataset.n_unlabelled > 0)
    if config.clusters is not None and config.clusters >= len(protocol.folds[0][0]):
        raise InputError(f"--clusters {config.clusters} is more than the "
                         f"{len(protocol.folds[0][0])} rows a model is fitted on; ask for fewer "
                         "clusters")
    return Plan(config, dataset, protocol, candidates)
