"""A fresh process that loads a model the way a server would and answers: cold start, single-row
latency, batch throughput and peak memory, measured where nothing was imported or warmed before.

Run as ``python -m nnvsml.deploy.probe SPEC.json``; prints one JSON line. The spec names the
route (``native``: the safe files through the estimator's own ``predict``; ``onnx``: the ONNX
copy through ONNX Runtime), the model's folder, and a file of rows in a format that loads
without unpickling (Parquet for tables, ``.npy`` for arrays, JSON for texts). The parent takes
the cold start from the spawn to the wall-clock time of the first answer this process reports.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

#: Single-row calls timed (fewer when the time runs short) and the most spent on them.
SINGLE_CALLS, SINGLE_SECONDS, MIN_SINGLE_CALLS = 200, 10.0, 10
#: Passes over the batch, best taken (the first pays for lazy allocations).
BATCH_PASSES, BATCH_SECONDS = 3, 10.0


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    spec = json.loads(Path(argv[0]).read_text())
    rows = _rows(Path(spec["rows"]), spec["layout"])
    predict = _loaded(spec)
    predict(_take(rows, [0]))
    first = time.perf_counter() - started
    answered_at = time.time()  # the parent's clock starts at the spawn: the same wall clock
    # The parent stops this process at spec["seconds"]: what is left after the first answer
    # is shared between the single-row calls and the batch passes, so a short analysis budget
    # gives fewer calls, not no answer.
    left = max(0.0, float(spec.get("seconds", 60.0)) - first - 1.0)
    single_seconds = min(SINGLE_SECONDS, 0.5 * left)
    batch_seconds = min(BATCH_SECONDS, 0.3 * left)
    single = []
    deadline = time.perf_counter() + single_seconds
    for i in range(SINGLE_CALLS):
        row = _take(rows, [i % _len(rows)])
        t0 = time.perf_counter()
        predict(row)
        single.append(1000.0 * (time.perf_counter() - t0))
        if time.perf_counter() > deadline and len(single) >= MIN_SINGLE_CALLS:
            break
    passes = []
    deadline = time.perf_counter() + batch_seconds
    for _ in range(BATCH_PASSES):
        t0 = time.perf_counter()
        predict(rows)
        passes.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    import numpy as np

    single_ms = np.asarray(single)
    print(json.dumps({
        "load_and_first_s": round(first, 4),
        "first_answer_at": answered_at,
        "p50_ms": round(float(np.percentile(single_ms, 50)), 4),
        "p99_ms": round(float(np.percentile(single_ms, 99)), 4),
        "single_calls": len(single),
        "rows_per_s": round(_len(rows) / min(passes), 1),
        "batch_rows": _len(rows),
        "peak_memory_mb": _peak_memory_mb(),
    }))
    return 0


def _peak_memory_mb() -> float:
    """This process's peak resident memory, libraries and model included. VmHWM belongs to
    the process's own address space; ru_maxrss (the fallback off Linux) survives exec, so on
    Linux it would report the larger parent's peak instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    import resource

    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def _loaded(spec: dict):
    """``predict(X)``: labels and probabilities, as the service computes them."""
    threads = int(spec.get("threads", 1))
    if spec["route"] == "onnx":
        from nnvsml.deploy.onnx_format import OnnxModel

        est = _native(spec).estimator if spec.get("needs_native") else None
        model = OnnxModel(Path(spec["onnx"]), est=est, threads=threads)
        return model.predict
    served = _native(spec)
    est, task = served.estimator, served.schema.get("task")

    def predict(X):
        if task != "regression" and hasattr(est, "predict_proba"):
            return None, est.predict_proba(X)
        return est.predict(X), None

    return predict


def _native(spec: dict):
    from nnvsml.deploy import model

    return model.load(spec["source"], spec.get("model"))


def _rows(path: Path, layout: str):
    if layout == "table":
        import pandas as pd

        return pd.read_parquet(path)
    if layout == "text":
        import numpy as np

        return np.asarray(json.loads(path.read_text()), dtype=object)
    import numpy as np

    return np.load(path, allow_pickle=False)


def _take(rows, positions):
    return rows.iloc[positions] if hasattr(rows, "iloc") else rows[positions]


def _len(rows) -> int:
    return len(rows)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
