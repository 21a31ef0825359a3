"""A comparison logged to MLflow (``--mlflow URI``): where teams already look at their runs.

One parent run per comparison (its options as parameters, the verdict as tags and metrics,
``results.json`` and ``report.html`` as artifacts, the chosen model's safe files under
``model/``) and one nested run per candidate (status, best parameters, test metrics with their
intervals, cross-validated scores, costs, and the tuning history as a metric over trials).

It is written from results.json once the comparison has ended, so a tracking server that fails
mid-run costs the log, never the comparison. Running again on the same run directory (a
resume) logs into the same parent run and replaces its candidates' runs, so the tracker shows
the run directory's state, not one copy per attempt.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from pathlib import Path

from nnvsml.errors import InputError

#: Beside results.json: which MLflow run this run directory was logged to.
RECORD = "mlflow.json"
EXPERIMENT = "nnvsml"
#: MLflow refuses parameter values longer than this (characters).
MAX_PARAM = 6000
SCHEMES = ("http://", "https://", "sqlite:///")


def missing() -> str | None:
    """Why MLflow cannot be used here, or None."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return "--mlflow needs MLflow: pip install 'nnvsml[mlflow]'"
    return None


def check_scheme(uri) -> str:
    """``uri`` if it names a kind of tracking store nnvsml logs to (nothing is reached)."""
    if not isinstance(uri, str) or not uri.startswith(SCHEMES):
        raise InputError(f"--mlflow must be a tracking server URL (http://host:5000) or an SQLite "
                         f"file (sqlite:///mlflow.db), got '{uri}'")
    return uri


def check_uri(uri: str) -> None:
    """An :class:`InputError` (one line) unless ``uri`` is a tracking store MLflow can write to
    now: an http(s) tracking server that answers, or an SQLite file in a writable folder."""
    check_scheme(uri)
    reason = missing()
    if reason is not None:
        raise InputError(reason)
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).expanduser().resolve().parent
        if not folder.is_dir():
            raise InputError(f"--mlflow {uri}: the folder {folder} does not exist; create it or "
                             "name a file in an existing folder")
        probe = folder / f".nnvsml-write-test-{time.monotonic_ns()}"
        try:
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise InputError(f"--mlflow {uri}: cannot write in {folder} ({exc.strerror}); "
                             "name a file in a folder you can write to") from None
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as answer:
            ok = answer.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"cannot reach the MLflow tracking server at {uri} ({reason}); start it "
                         "(mlflow server --host 127.0.0.1 --port 5000) or log to a file with "
                         "--mlflow sqlite:///mlflow.db") from None
    if not ok:
        raise InputError(f"{uri} answered /health with an error: is it an MLflow tracking "
                         "server?")


def log_comparison(uri: str, results: dict, run_dir: Path, experiment: str = EXPERIMENT) -> str:
    """Log the finished comparison of ``run_dir`` to ``uri``; return the parent run's id."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = _experiment(client, uri, experiment)
    parent = _parent_run(client, uri, run_dir, experiment_id, results)
    children = {r.data.tags.get("nnvsml.model"): r.info.run_id for r in client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'")}
    for entry in results.get("models", []):
        old = children.get(entry["name"])
        if old is not None:
            client.delete_run(old)
        child = client.create_run(experiment_id, run_name=entry["name"], tags={
            "mlflow.parentRunId": parent, "nnvsml.model": entry["name"],
            "nnvsml.family": entry["family"], "nnvsml.status": entry["status"],
            **({"nnvsml.reason": str(entry["reason"])[:5000]} if entry.get("reason") else {})})
        run_id = child.info.run_id
        _log(client, run_id, params=_candidate_params(entry), metrics=_candidate_metrics(entry))
        for step, (seconds, score) in enumerate((entry.get("tuning") or {}).get("history") or []):
            if _finite(score):
                client.log_metric(run_id, "tuning_score", float(score), step=step)
                client.log_metric(run_id, "tuning_seconds", float(seconds), step=step)
        client.set_terminated(run_id, "FINISHED" if entry["status"] == "ok" else "FAILED")
    _log_parent(client, parent, results, run_dir)
    client.set_terminated(parent, "FINISHED" if results.get("status") == "complete" else "KILLED")
    return parent


def _experiment(client, uri: str, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # Beside the database, not in ./mlruns of whatever folder the user happens to be in.
        db = Path(uri.removeprefix("sqlite:///")).expanduser().resolve()
        location = (db.parent / f"{db.stem}-artifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def _parent_run(client, uri: str, run_dir: Path, experiment_id: str, results: dict) -> str:
    """The run this run directory was logged to before (same URI, run still there), or a new
    one."""
    record = run_dir / RECORD
    try:
        known = json.loads(record.read_text())
        if known.get("uri") == uri and isinstance(known.get("run_id"), str):
            run = client.get_run(known["run_id"])
            if run.info.lifecycle_stage == "active" and run.info.experiment_id == experiment_id:
                return run.info.run_id
    except Exception:  # no record, an unreadable one, or a run deleted since: start afresh
        pass
    dataset = results.get("dataset") or {}
    run = client.create_run(experiment_id, run_name=f"{dataset.get('name', 'data')} comparison",
                            tags={"nnvsml.run_dir": str(run_dir.resolve())})
    # Private, and never through a link: the URI may carry a password (https://user:pw@host).
    from nnvsml.artifacts import create_private

    record.unlink(missing_ok=True)
    create_private(record, json.dumps({"uri": uri, "run_id": run.info.run_id}).encode())
    return run.info.run_id


def _log_parent(client, run_id: str, results: dict, run_dir: Path) -> None:
    dataset, protocol = results.get("dataset") or {}, results.get("protocol") or {}
    params = {f"dataset.{k}": dataset.get(k) for k in
              ("name", "modality", "task", "n_rows", "n_features", "target", "fingerprint")}
    params |= {f"protocol.{k}": protocol.get(k) for k in
               ("seed", "test_fraction", "cv_folds", "validation", "split", "primary_metric",
                "budget_seconds", "search", "trials", "n_train", "n_test")}
    params["nnvsml_version"] = results.get("nnvsml_version")
    verdict = results.get("verdict") or {}
    comparison = verdict.get("comparison") or {}
    metrics = {f"verdict.{k}": comparison.get(k)
               for k in ("traditional", "neural", "difference", "ci_low", "ci_high", "p_value")}
    metrics["wall_seconds"] = protocol.get("wall_seconds")
    existing = client.get_run(run_id).data.params
    # A parameter is written once in MLflow: a resume keeps what the first attempt logged.
    _log(client, run_id, params={k: v for k, v in params.items() if k not in existing},
         metrics=metrics)
    tags = {"nnvsml.verdict.family": verdict.get("family"),
            "nnvsml.verdict.model": verdict.get("model"),
            "nnvsml.verdict.priority": verdict.get("priority"),
            "nnvsml.status": results.get("status")}
    for i, reason in enumerate(verdict.get("reasons") or []):
        tags[f"nnvsml.verdict.reason.{i}"] = str(reason)[:5000]
    for key, value in tags.items():
        if value is not None:
            client.set_tag(run_id, key, str(value))
    for name in ("results.json", "report.html", "leaderboard.csv"):
        if (run_dir / name).is_file():
            client.log_artifact(run_id, str(run_dir / name))
    model = verdict.get("model")
    if model is not None:
        _log_model(client, run_id, run_dir, model)


def _log_model(client, run_id: str, run_dir: Path, model: str) -> None:
    """The chosen model's safe files (no pickle), as ``nnvsml export`` writes them."""
    import tempfile

    from nnvsml.deploy.export import export

    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = export(run_dir, model=model, out=Path(tmp) / "model")
        except InputError as exc:  # the model has no safe copy: say so in the run
            client.set_tag(run_id, "nnvsml.model_artifact", f"not logged: {exc}"[:5000])
            return
        client.log_artifacts(run_id, str(folder), artifact_path="model")
        client.set_tag(run_id, "nnvsml.model_artifact", "model/ (nnvsml export: safe files)")


def _candidate_params(entry: dict) -> dict:
    params = {"model": entry["name"], "family": entry["family"],
              "description": entry.get("description")}
    tuning = entry.get("tuning") or {}
    for key in ("strategy", "trials", "completed", "pruned", "failed", "selection"):
        params[f"tuning.{key}"] = tuning.get(key)
    for key, value in (tuning.get("best_params") or {}).items():
        params[f"best.{key}"] = value
    for key, value in (entry.get("params") or {}).items():
        params.setdefault(key, value)
    return params


def _candidate_metrics(entry: dict) -> dict:
    metrics = {}
    for name, value in (entry.get("test") or {}).items():
        metrics[f"test_{name}"] = value
    for name, interval in (entry.get("test_ci") or {}).items():
        if isinstance(interval, dict):
            metrics[f"test_{name}_ci_low"] = interval.get("low")
            metrics[f"test_{name}_ci_high"] = interval.get("high")
    for name, block in (entry.get("cv") or {}).items():
        if isinstance(block, dict):
            metrics[f"cv_{name}_mean"] = block.get("mean")
            metrics[f"cv_{name}_std"] = block.get("std")
    for name, value in (entry.get("cost") or {}).items():
        metrics[f"cost_{name}"] = value
    tuning = entry.get("tuning") or {}
    metrics["tuning_best_score"] = tuning.get("best_score")
    metrics["tuning_default_score"] = tuning.get("default_score")
    return metrics


def _log(client, run_id: str, params: dict, metrics: dict) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    params_ = [Param(_key(k), _text(v)) for k, v in params.items() if v is not None]
    metrics_ = [Metric(_key(k), float(v), now, 0) for k, v in metrics.items() if _finite(v)]
    # MLflow takes at most 100 parameters and 1,000 metrics per batch.
    for i in range(0, len(params_), 100):
        client.log_batch(run_id, params=params_[i:i + 100])
    for i in range(0, len(metrics_), 1000):
        client.log_batch(run_id, metrics=metrics_[i:i + 1000])


def _key(name: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / :`` and spaces only."""
    return "".join(c if c.isalnum() or c in "_-./: " else "_" for c in str(name))[:250]


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_PARAM else text[:MAX_PARAM - 3] + "..."


def _finite(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
