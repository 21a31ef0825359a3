"""The command line: ``nnvsml compare``, ``nnvsml models``, ``nnvsml report`` (rebuilds a run
directory's report.html from its results.json, without retraining), and ``nnvsml export``,
``predict`` and ``serve`` (the chosen model handed over, loaded from safe files only).

Bad input or options end with one line on stderr and exit code 2, never a traceback: Typer's
own usage errors are caught and flattened the same way as :class:`~nnvsml.errors.InputError`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.exceptions import TyperException

from nnvsml.config import DEFAULT_BUDGET, DEFAULT_DEMO_BUDGET, RunConfig
from nnvsml.errors import InputError, printable

#: Exit codes, documented in the README.
EXIT_OK, EXIT_INPUT, EXIT_NO_MODEL = 0, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM
RESUME_HINT = "finished models are saved: run the same command with the same --out to resume"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main process is, so that the run stops as it does on Ctrl-C:
    the candidate's process is killed and results.json says ``interrupted``."""


app = typer.Typer(
    name="nnvsml",
    help="Neural network or traditional machine learning? A fair, measured head-to-head on your data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def compare(
    data: Annotated[Optional[str], typer.Argument(
        help="CSV/TSV (optionally .gz) or Parquet file; a folder of images, .txt or .wav files "
        "with one sub-folder per class; a folder of MNIST IDX files or UCR NAME_TRAIN/NAME_TEST "
        "series; an .npz file. Omit to run on the bundled demo data.",
        show_default=False)] = None,
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Column to predict.")] = None,
    budget: Annotated[Optional[float], typer.Option(
        "--budget", "-b", help="Wall-clock seconds for the whole run, shared equally by the two "
        f"families. Default {DEFAULT_BUDGET:g} ({DEFAULT_DEMO_BUDGET:g} for the bundled demo); "
        "with --trials, no cap unless given.",
        show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Run directory; the same --out again resumes the run. "
        "Default ./nnvsml-runs/<data>-<time>.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        help="Seeds the split, the folds and every model.")] = RunConfig.seed,
    task: Annotated[Optional[str], typer.Option(
        help="Force the task: binary, multiclass, regression or classification; or ask for an "
        "unsupervised one: clustering or anomaly (no target).")] = None,
    evaluate_with: Annotated[Optional[str], typer.Option(
        "--evaluate-with", help="Clustering / anomaly: a column that scores the models "
        "afterwards and that no model sees (true classes; 1 = anomaly). Folders and arrays: "
        "any name scores against their own labels.", show_default=False)] = None,
    contamination: Annotated[float, typer.Option(
        help="Anomaly: the share of rows each detector flags.")] = RunConfig.contamination,
    clusters: Annotated[Optional[int], typer.Option(
        help="Clustering: the number of clusters (default: each model chooses it over 2-10).",
        show_default=False)] = None,
    unlabeled: Annotated[str, typer.Option(
        help="Rows whose target is empty: drop them, or use them (semi-supervised candidates "
        "learn from them too, each beside its supervised twin; tables, classification).")
    ] = RunConfig.unlabeled,
    modality: Annotated[Optional[str], typer.Option(
        help="Force the modality: tabular, image, text, sequence or audio (default: detected).",
        show_default=False)] = None,
    models: Annotated[Optional[list[str]], typer.Option(
        "--models", "-m", help="Only these candidates (comma-separated or repeated); "
        "see 'nnvsml models'.")] = None,
    families: Annotated[Optional[list[str]], typer.Option(
        "--families", help="Only these families: traditional, neural.")] = None,
    cv_folds: Annotated[int, typer.Option(
        "--cv-folds", help="Folds of cross-validation.")] = RunConfig.cv_folds,
    validation: Annotated[str, typer.Option(
        help="cv (k folds, then a refit), holdout (one validation part) or auto: holdout from "
        "30,000 training rows on.")] = RunConfig.validation,
    test_fraction: Annotated[float, typer.Option(
        "--test-fraction",
        help="Share of rows held out as test rows, scored once.")] = RunConfig.test_fraction,
    metric: Annotated[Optional[str], typer.Option(
        help="Primary metric the verdict is decided on (default: accuracy, balanced_accuracy "
        "when a class is under 10% of rows, rmse for regression).")] = None,
    max_memory_mb: Annotated[Optional[float], typer.Option(
        "--max-memory-mb", help="A candidate using more memory is stopped and recorded as "
        "failed. Default: 80% of the memory available at start.", show_default=False)] = None,
    in_memory_rows: Annotated[Optional[int], typer.Option(
        "--in-memory-rows", help="The most rows of a table held in memory. A larger table (or "
        "one too large for memory) is read in batches: every model is tested on the same test "
        "rows, LightGBM and the tabular networks train on every row, the others on a stratified "
        "sample. Default: rows taking at most 1/16 of the available memory, at most 200,000.",
        show_default=False)] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed",
        help="When resuming, run failed and timed-out models again.")] = RunConfig.retry_failed,
    search: Annotated[str, typer.Option(
        help="How every candidate is tuned: bayesian (TPE), random, grid, hyperband (random "
        "draws pruned per epoch / boosting round) or none (defaults).")] = RunConfig.search,
    executor: Annotated[str, typer.Option(
        help="Where the candidates run: local (isolated processes on this machine) or ray "
        "(a Ray cluster; the run directory must be on a filesystem its nodes share).")
    ] = RunConfig.executor,
    ray_address: Annotated[Optional[str], typer.Option(
        "--ray-address", help="The Ray cluster of --executor ray: auto or HOST:PORT. Default: "
        "RAY_ADDRESS, else a new local one.", show_default=False)] = None,
    trials: Annotated[Optional[int], typer.Option(
        help="Tuning trials per candidate instead of a share of the seconds; training then runs "
        "without a clock, so the same seed and --trials repeat the same results. --budget only "
        "caps such a run.", show_default=False)] = None,
    storage: Annotated[Optional[str], typer.Option(
        help="Optuna storage URL for the tuning studies, e.g. "
        "postgresql+psycopg://user@host/db to share them between machines. Default: "
        "tuning.db (SQLite) in the run directory.", show_default=False)] = None,
    mlflow: Annotated[Optional[str], typer.Option(
        help="Log the finished run to MLflow: a tracking server URL (http://127.0.0.1:5000) or "
        "sqlite:///mlflow.db; one parent run, one nested run per candidate, the verdict, the "
        "report and the chosen model's safe files. Needs the mlflow extra.",
        show_default=False)] = None,
    analyses: Annotated[Optional[list[str]], typer.Option(
        help="Evidence gathered on each family's best model: all, none, or a list of "
        "learning_curve, data_quality, overfitting, gradients, explanations, energy, "
        "deployability.")] = None,
    analysis_budget: Annotated[Optional[float], typer.Option(
        "--analysis-budget", help="Seconds the analyses may take on top of --budget "
        "(default: half of --budget).", show_default=False)] = None,
    priority: Annotated[str, typer.Option(
        help="What the verdict optimises: accuracy, interpretability, speed (latency) or cost "
        "(training and serving energy).")] = RunConfig.priority,
    max_latency_ms: Annotated[Optional[float], typer.Option(
        "--max-latency-ms", help="Recommend no model slower than this to answer one row.",
        show_default=False)] = None,
    max_train_seconds: Annotated[Optional[float], typer.Option(
        "--max-train-seconds", help="Recommend no model that took longer to train.",
        show_default=False)] = None,
    max_model_mb: Annotated[Optional[float], typer.Option(
        "--max-model-mb", help="Recommend no model larger on disk.", show_default=False)] = None,
    require_explanations: Annotated[bool, typer.Option(
        "--require-explanations", help="Recommend only models that explain themselves "
        "(coefficients, rules, importances).")] = RunConfig.require_explanations,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write report.html into the run directory "
        "('nnvsml report RUN_DIR' can write it later).")] = RunConfig.report,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress bar (for logs).")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check DATA and the options, show the columns, the protocol and the "
        "candidates, and stop: nothing is trained or written.")] = False,
) -> None:
    """Train traditional models and neural networks on DATA under one protocol and say which to use."""
    from nnvsml.api import compare as run, plan

    config = RunConfig.build(
        target=target, budget=budget, seed=seed, task=task, modality=modality, out=out,
        models=models, families=families, cv_folds=cv_folds, validation=validation,
        test_fraction=test_fraction, metric=metric, max_memory_mb=max_memory_mb,
        in_memory_rows=in_memory_rows,
        retry_failed=retry_failed, search=search, trials=trials, storage=storage,
        executor=executor, ray_address=ray_address, mlflow=mlflow, analyses=analyses or RunConfig.analyses, analysis_budget=analysis_budget,
        priority=priority, max_latency_ms=max_latency_ms, max_train_seconds=max_train_seconds,
        max_model_mb=max_model_mb, require_explanations=require_explanations, report=report,
        evaluate_with=evaluate_with, contamination=contamination, clusters=clusters,
        unlabeled=unlabeled)
    if dry_run:
        from nnvsml.display import show_plan, wide_console

        show_plan(plan(data, config=config), wide_console())
        return
    result = run(data, config=config, progress=True, live=not quiet)
    if not any(m.get("status") == "ok" for m in result.results.get("models", [])):
        # results.json is written; scripts still need to tell this apart from a verdict.
        print(f"nnvsml: no model finished (all failed or ran out of time): see the reasons "
              f"above and in {result.run_dir / 'results.json'}", file=sys.stderr)
        raise typer.Exit(EXIT_NO_MODEL)


@app.command("models")
def list_models(
    task: Annotated[Optional[str], typer.Option(
        help="Only candidates for this task: binary, multiclass or regression.")] = None,
    modality: Annotated[Optional[str], typer.Option(
        help="Only candidates for this modality: tabular, image, text, sequence or audio.")] = None,
) -> None:
    """List the candidate models, by family."""
    from rich.table import Table

    from nnvsml.data.dataset import MODALITIES
    from nnvsml.display import wide_console
    from nnvsml.models import REGISTRY

    if task is not None and task not in ("binary", "multiclass", "regression"):
        raise InputError(f"unknown task '{task}'; choose from: binary, multiclass, regression")
    if modality is not None and modality not in MODALITIES:
        raise InputError(f"unknown modality '{modality}'; choose from: {', '.join(MODALITIES)}")
    table = Table(title="candidate models", title_justify="left")
    for head in ("name", "family", "modality", "tasks", "features", "tuned", "description"):
        # Names are what a user types into --models: never broken over lines.
        table.add_column(head, no_wrap=head in ("name", "family"))
    for c in REGISTRY.values():
        if (task is None or task in c.tasks) and (modality is None or modality in c.modalities):
            table.add_row(c.name, c.family, ", ".join(sorted(c.modalities)),
                          ", ".join(sorted(c.tasks)), c.preprocessing,
                          ", ".join(c.space) or "(tunes itself)", c.description)
    wide_console().print(table)


@app.command("report")
def report(
    run_dir: Annotated[Path, typer.Argument(
        help="A run directory written by 'nnvsml compare' (its --out); it holds results.json.",
        metavar="RUN_DIR", show_default=False)],
) -> None:
    """Rebuild RUN_DIR/report.html from its results (nothing is retrained); print its path."""
    from nnvsml.report import build_report

    print(build_report(run_dir))


SOURCE_HELP = ("A run directory written by 'nnvsml compare' (its --out), or a folder written "
               "by 'nnvsml export'.")
MODEL_HELP = "Which model: the verdict's by default."
RUNTIME_HELP = ("native: the model's own predict, from its safe files; onnx: its ONNX copy "
                "through ONNX Runtime (made by the deployability analysis; an export needs "
                "--format onnx).")


@app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(
        help="A run directory written by 'nnvsml compare' (its --out).", metavar="RUN_DIR",
        show_default=False)],
    model: Annotated[Optional[str], typer.Option("--model", help=MODEL_HELP)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Folder to write (default RUN_DIR/export/NAME).",
        show_default=False)] = None,
    format: Annotated[str, typer.Option(
        "--format", help="safe: skops (+ safetensors for a network) files; onnx: those and the "
        "ONNX copy the deployability analysis checked against the model.")] = "safe",
) -> None:
    """Write a model's safe files, input schema and model card to one folder; print its path."""
    from nnvsml.deploy.export import export

    print(export(run_dir, model, out, format))


@app.command("predict")
def predict_command(
    source: Annotated[Path, typer.Argument(help=SOURCE_HELP, metavar="RUN_DIR",
                                           show_default=False)],
    data: Annotated[Path, typer.Argument(
        help="New data of the model's kind. Tables: CSV/TSV/Parquet with the training table's "
        "columns. Images: a folder of image files (any sub-folders) or one IDX file. Text: a "
        "table with the training text column(s), or a folder of .txt files. Series: a file of "
        "UCR lines (a label first is ignored) or a table of one series per row. Audio: a "
        "folder of .wav files. The target column, if present, is ignored.",
        show_default=False)],
    model: Annotated[Optional[str], typer.Option("--model", help=MODEL_HELP)] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="A .csv or .parquet file (default: CSV on standard output).",
        show_default=False)] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "native",
) -> None:
    """Predict new data: a 'prediction' column, 'proba_<class>' columns for a classifier, and
    first a 'file' column for files read from a folder."""
    from nnvsml.deploy.predict import predict, to_stdout

    notices: list[str] = []
    predictions = predict(source, data, out, model, notices, runtime)
    for notice in dict.fromkeys(notices):
        print(f"nnvsml: notice: {printable(notice)}", file=sys.stderr)
    if out is None:
        to_stdout(predictions)
    else:
        print(f"{len(predictions):,} predictions written to {out}", file=sys.stderr)


@app.command("serve")
def serve_command(
    source: Annotated[Path, typer.Argument(help=SOURCE_HELP, metavar="RUN_DIR",
                                           show_default=False)],
    model: Annotated[Optional[str], typer.Option("--model", help=MODEL_HELP)] = None,
    host: Annotated[str, typer.Option(
        help="Address to listen on; loopback unless you mean to open it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[Optional[str], typer.Option(
        help="The token clients send as 'Authorization: Bearer TOKEN' (default: a new random "
        "one, printed and kept in a private file).", show_default=False)] = None,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "native",
) -> None:
    """Serve a model over HTTP with a token: /v1/predict, /v1/predict/batch, /v1/model, /docs.

    Send a table row, an image, a text, a series or a WAV clip, as GET /v1/model's
    schema.request says."""
    import os

    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise InputError("nnvsml serve needs FastAPI and uvicorn: pip install 'nnvsml[serve]'") \
            from None

    from nnvsml.artifacts import config_dir
    from nnvsml.deploy.model import load
    from nnvsml.deploy.service import ENV, new_token

    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a port; choose one from 1 to 65535")
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if token is not None and len(token) < 16:
        raise InputError("--token must be at least 16 characters; omit it to get a random one")
    _check_port(host, port)
    served = load(source, model, runtime)  # bad input fails here, before the server starts
    if token is None:
        token, kept = new_token(config_dir())
        where = f" (also in {kept})" if kept else ""
        print(f"nnvsml: token for this server{where}: {token}", file=sys.stderr)
    os.environ.update({ENV["source"]: str(Path(source).resolve()), ENV["model"]: served.name,
                       ENV["token"]: token, ENV["runtime"]: runtime})
    print(f"nnvsml: serving {served.name} ({runtime}) on http://{host}:{port} (docs at /docs)",
          file=sys.stderr)
    uvicorn.run("nnvsml.deploy.service:app_from_env", factory=True, host=host, port=port,
                # Clients that keep a connection open between bursts should not race its close.
                workers=workers, log_level="warning", timeout_keep_alive=30)


def _check_port(host: str, port: int) -> None:
    """One line and exit 2 when the address cannot be listened on (taken, not this machine's),
    rather than the server's own error after it has started."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind(infos[0][4])
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose "
                         "another --port or --host") from None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every user error into one line and exit 2."""
    command = typer.main.get_command(app)
    terminated = []

    def on_sigterm(signum, frame):
        terminated.append(signum)
        raise Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        code = command.main(args=argv, prog_name="nnvsml", standalone_mode=False)
    except InputError as exc:
        _fail(str(exc))
    except TyperException as exc:  # usage errors: unknown option, a value of the wrong type...
        if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None):
            text = exc.ctx.get_help()  # Typer's rich help prints itself and returns ""
            if text:
                print(text, file=sys.stderr)
            sys.exit(EXIT_INPUT)
        _fail(exc.format_message() if hasattr(exc, "format_message") else str(exc))
    except (KeyboardInterrupt, typer.Abort):
        code = EXIT_INTERRUPTED
    except typer.Exit as exc:
        code = exc.exit_code
    if code == EXIT_INTERRUPTED:  # Typer turns KeyboardInterrupt into exit code 130
        # Ignored from here on: a second Ctrl-C must not print a traceback while we exit.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        what = "terminated" if terminated else "interrupted"
        print(f"nnvsml: {what}; {RESUME_HINT}", file=sys.stderr)
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    if isinstance(code, int) and code != EXIT_OK:
        sys.exit(code)


def _fail(message: str) -> None:
    print("nnvsml: error: " + printable(" ".join(message.split())), file=sys.stderr)
    sys.exit(EXIT_INPUT)


if __name__ == "__main__":
    main()
