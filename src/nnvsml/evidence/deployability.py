"""Are networks harder to deploy? Each family's best model as a server would hold it: the size of
each file format, the cold start of a fresh process loading it and answering its first row,
single-row latency (p50, p99), batch throughput and the serving process's peak memory, for the
model's own ``predict`` (loaded from its safe files) and for its ONNX copy through ONNX Runtime.

Every timing runs in a fresh process (:mod:`nnvsml.deploy.probe`) limited to the same number of
threads (:data:`THREADS`, stated in the block), so neither route inherits warmed caches or more
cores than the other. The ONNX copy is checked for parity with the native model on the
validation rows it is timed on (the test rows stay unread) and is timed only when it passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nnvsml import artifacts
from nnvsml.data.dataset import take
from nnvsml.deploy import model as served
from nnvsml.deploy import safe

#: Threads each route may use: one, as a server answering one request per worker would.
THREADS = 1
#: Rows timed as a batch (and checked for parity).
BATCH_ROWS = 1000
#: The most one probe process may take; less when the analysis's time is shorter, but never
#: less than a fresh process needs to import a model's libraries and answer.
PROBE_SECONDS, MIN_PROBE_SECONDS = 120.0, 15.0
#: ONNX Runtime first: it starts faster, and a short analysis should time the faster route.
ROUTES = ("onnx", "native")


def run(ctx) -> dict:
    from nnvsml.deploy import onnx_format

    X, _ = ctx.eval_set()
    X = take(X, np.arange(min(BATCH_ROWS, len(X))))
    missing = onnx_format.missing()
    block = {"status": "ok", "reason": None, "threads": THREADS, "rows": int(len(X)),
             "onnx_runtime": _version("onnxruntime"), "models": {}}
    run_dir = Path(ctx.run_dir)
    with tempfile.TemporaryDirectory(prefix=".deployability.", dir=run_dir) as tmp:
        rows_file, layout = _write_rows(X, Path(tmp))
        for family, subject in ctx.subjects.items():
            ctx.progress(f"{subject.name}: formats")
            block["models"][family] = _formats(ctx, subject, run_dir, X, missing)
            ctx.partial(block)
        # Route by route, both families each time: when the time runs short, both families
        # have been served the same way rather than one of them every way.
        for route in ROUTES:
            for family, subject in ctx.subjects.items():
                record = block["models"][family]
                fmt = record["formats"].get(_format_of(route), {})
                if fmt.get("status") != "ok":
                    record["routes"][route] = {"status": "skipped", "reason": fmt.get("reason")}
                    continue
                ctx.progress(f"{subject.name}: {route} cold start and latency")
                record["routes"][route] = _probe(ctx, route, subject, record, run_dir,
                                                 rows_file, layout, Path(tmp))
                ctx.partial(block)
    return block


def record_formats(results: dict, block: dict) -> None:
    """Each studied model's entry in ``results`` says it now has an ONNX copy (or why not),
    where it said the copy was not written yet."""
    by_name = {m["name"]: m for m in results.get("models", [])}
    for record in (block.get("models") or {}).values():
        onnx = (record.get("formats") or {}).get("onnx")
        entry = by_name.get(record.get("model"))
        if onnx and entry is not None:
            entry.setdefault("formats", {})["onnx"] = {"parity": None, **onnx}


def best_route(record: dict) -> tuple[str, dict] | None:
    """The measured route with the lowest single-row p50: how this model is best served."""
    measured = [(r, m) for r, m in (record.get("routes") or {}).items()
                if m.get("status") == "ok" and m.get("p50_ms") is not None]
    return min(measured, key=lambda rm: rm[1]["p50_ms"]) if measured else None


def _format_of(route: str) -> str:
    return "safe" if route == "native" else "onnx"


def _formats(ctx, subject, run_dir: Path, X, missing: str | None) -> dict:
    """Each format's size and status; writes the ONNX copy (checked for parity)."""
    from nnvsml.deploy import onnx_format
    from nnvsml.protocol.worker import _outputs

    entry = subject.entry
    listing = entry.get("artifacts") or {}
    formats = {"joblib": _sizes(run_dir, [listing.get("model")])}
    safe_record = dict((entry.get("formats") or {}).get("safe") or {})
    roles = [listing.get(f"safe_{role}") for role in safe.SUFFIXES]
    formats["safe"] = {**safe_record, **(_sizes(run_dir, roles) if listing.get("safe_pipeline")
                                        else {})}
    record = {"model": entry["name"], "formats": formats, "routes": {}}
    if safe_record.get("status") != "ok":
        formats["onnx"] = {"status": "skipped",
                           "reason": "the model has no safe file to convert from"}
        return record
    if missing is not None:
        formats["onnx"] = {"status": "skipped", "reason": missing}
        return record
    est = served.load(run_dir, entry["name"]).estimator
    y_pred, proba = _outputs(est, ctx.task, X)
    stem = Path(listing["model"]).stem
    path, onnx_record = onnx_format.save_checked(est, run_dir / "models" / f"{stem}.onnx",
                                                 ctx.task, X, y_pred, proba)
    formats["onnx"] = dict(onnx_record)
    if path is not None:
        formats["onnx"].update(_sizes(run_dir, [str(path.relative_to(run_dir))]),
                               sha256=artifacts.digest(path))
    return record


def _sizes(run_dir: Path, relatives: list) -> dict:
    files = [artifacts.confined(run_dir, r) for r in relatives if r]
    files = [f for f in files if f is not None and f.is_file()]
    if not files:
        return {"size_kb": None}
    return {"files": [str(f.relative_to(run_dir.resolve())) for f in files],
            "size_kb": round(sum(f.stat().st_size for f in files) / 1024.0, 1)}


def _probe(ctx, route, subject, record, run_dir, rows_file, layout, tmp: Path) -> dict:
    onnx = record["formats"].get("onnx") or {}
    spec = {"route": route, "source": str(run_dir), "model": subject.name, "rows": str(rows_file),
            "layout": layout, "threads": THREADS,
            "onnx": str(run_dir / onnx["files"][0]) if route == "onnx" else None,
            # A network's ONNX copy holds the network only: the steps before it run natively.
            "needs_native": route == "onnx" and onnx.get("scope") == "network"}
    limit = min(PROBE_SECONDS, max(MIN_PROBE_SECONDS, ctx.left() - 5.0))
    spec["seconds"] = limit - 1.0  # the probe fits its calls in this and answers in time
    spec_file = tmp / f"{route}-{subject.family}.json"
    spec_file.write_text(json.dumps(spec))
    env = {**os.environ, **{v: str(THREADS) for v in
                            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    spawned = time.time()
    try:
        done = subprocess.run([sys.executable, "-m", "nnvsml.deploy.probe", str(spec_file)],
                              capture_output=True, text=True, timeout=limit, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"no answer within {limit:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"status": "failed", "reason": last[:300]}
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    # Cold start: from spawning the process to its first answer, the interpreter's start and
    # every import included (what a scaled-out server pays for each new worker).
    answered = measured.pop("first_answer_at")
    return {"status": "ok", "reason": None, "cold_start_s": round(answered - spawned, 3),
            **measured}


def _write_rows(X, folder: Path) -> tuple[Path, str]:
    """The rows in a format the probe loads without unpickling."""
    if hasattr(X, "to_parquet"):
        path = folder / "rows.parquet"
        X.to_parquet(path)
        return path, "table"
    X = np.asarray(X)
    if X.dtype == object:
        path = folder / "rows.json"
        path.write_text(json.dumps([str(x) for x in X]))
        return path, "text"
    path = folder / "rows.npy"
    np.save(path, X, allow_pickle=False)
    return path, "array"


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
