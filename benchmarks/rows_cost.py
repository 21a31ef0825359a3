"""Benchmark: how the training cost of each family grows with the rows, up to ten million.

For each size (the first N rows of a table from ``make_big_table.py``) and each family's
model that learns from batches (LightGBM for the traditional family, the MLP for the neural
one), a fresh process fits the model's encoder on up to 100,000 rows in memory, fits the model
there, and then trains it on all N rows streamed from the file as ``nnvsml compare`` does for a
table larger than memory (LightGBM: 100 boosting rounds; the MLP: one pass, one epoch per batch
of 65,536 rows). It reports wall and CPU seconds of the streamed fit and the process's peak
memory, then fits cost = k * N^e per model across the sizes.

    python benchmarks/make_big_table.py --rows 10000000 --out /tmp/big10m.parquet
    python benchmarks/rows_cost.py /tmp/big10m.parquet --sizes 10000 100000 1000000 10000000

Results: ``benchmarks/results/rows_cost.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
IN_MEMORY = 100_000
ROUNDS = 100


def one(table: str, model: str, n: int) -> dict:
    """Runs in its own process: the streamed fit of ``model`` on the first ``n`` rows."""
    import resource

    import psutil

    from nnvsml.data.columns import infer_columns
    from nnvsml.data.large import BATCH_ROWS, TableScan
    from nnvsml.models import BuildContext, get
    from nnvsml.models.steps import final_step

    scan = TableScan(table)
    positions = np.arange(n)
    first = scan.rows(positions[:IN_MEMORY])
    X, y = first.drop(columns=["target"]), first["target"].to_numpy()
    kinds = {c.name: c.kind for c in infer_columns(X)}
    ctx = BuildContext(task="binary", kinds=kinds, n_train=n, seed=0, max_time=None, params={})
    est = get(model).build(ctx)
    if model == "lightgbm":
        final_step(est).estimator.set_params(n_estimators=ROUNDS)
    est.fit(X, y)
    head = est[:-1]
    columns = list(X.columns)
    y_all = scan.column("target").to_numpy()[:n]
    base_mb = psutil.Process().memory_info().rss / 2**20

    def chunks():
        for frame, where in scan.frames(positions, columns):
            yield head.transform(frame), y_all[where]

    t0, c0 = time.perf_counter(), time.process_time()
    options = {"passes": 1} if model == "mlp" else {}
    final_step(est).stream_fit(chunks, y_all, reference=(head.transform(X), y),
                               batch_size=BATCH_ROWS, **options)
    return {"model": model, "rows": n, "seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(time.process_time() - c0, 2),
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "grew_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                             - base_mb, 1)}


def exponent(points: list[dict], key: str) -> float | None:
    rows = [p for p in points if p[key] and p[key] > 0]
    if len(rows) < 2:
        return None
    slope = np.polyfit(np.log([p["rows"] for p in rows]), np.log([p[key] for p in rows]), 1)[0]
    return round(float(slope), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[10_000, 100_000, 1_000_000, 10_000_000])
    parser.add_argument("--models", nargs="+", default=["lightgbm", "mlp"])
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.table, args.one[0], int(args.one[1]))))
        return
    points = []
    for model in args.models:
        for n in args.sizes:
            out = subprocess.run([sys.executable, __file__, args.table, "--one", model, str(n)],
                                 capture_output=True, text=True, check=True)
            point = json.loads(out.stdout.strip().splitlines()[-1])
            print(point, flush=True)
            points.append(point)
    laws = {m: {"seconds": exponent([p for p in points if p["model"] == m], "seconds"),
                "peak_memory_mb": exponent([p for p in points if p["model"] == m],
                                           "peak_memory_mb")} for m in args.models}
    record = {"table": args.table, "points": points, "exponents": laws,
              "machine": f"{platform.node()} {__import__('os').cpu_count()} CPUs",
              "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rows_cost.json").write_text(json.dumps(record, indent=2) + "\n")
    print("| model | rows | streamed fit s | CPU s | peak memory MB |")
    print("|---|---:|---:|---:|---:|")
    for p in points:
        print(f"| {p['model']} | {p['rows']:,} | {p['seconds']} | {p['cpu_seconds']} | "
              f"{p['peak_memory_mb']} |")
    for m, law in laws.items():
        print(f"{m}: seconds ~ rows^{law['seconds']}, peak memory ~ rows^{law['peak_memory_mb']}")


if __name__ == "__main__":
    main()
