"""Benchmark: a whole comparison on a table of millions of rows, its wall time and peak memory.

Runs ``nnvsml compare TABLE --budget B`` (a table from ``make_big_table.py``) as a command and
samples the resident memory of its whole process tree (the run and every candidate's process)
every half second; the peak of that sum is the run's peak memory. Reports, per model, its
status, the rows it trained on (all training rows when streamed), its test accuracy and fit
seconds.

    python benchmarks/make_big_table.py --rows 10000000 --out /tmp/big10m.parquet
    python benchmarks/big_table.py /tmp/big10m.parquet --budget 1800

Results: ``benchmarks/results/big_table-<rows>-<executor>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--budget", type=float, default=1800)
    parser.add_argument("--executor", default="local")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more options for nnvsml compare")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="nnvsml-big-")) / "run"
    cmd = [sys.executable, "-m", "nnvsml", "compare", args.table, "--target", "target",
           "--budget", str(args.budget), "--executor", args.executor, "--quiet",
           "--no-report", "--out", str(out), *args.extra]
    peak, stop = [0], threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(proc.pid)

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(watched))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"nnvsml compare failed ({proc.returncode}):\n{output[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    sampling = results["dataset"].get("sampling")
    models = []
    for m in results["models"]:
        evaluation = m.get("evaluation") or {}
        models.append({"name": m["name"], "family": m["family"], "status": m["status"],
                       "reason": m.get("reason"), "trained_rows": evaluation.get("trained_rows"),
                       "streamed": evaluation.get("streamed"),
                       "accuracy": (m.get("test") or {}).get("accuracy"),
                       "roc_auc": (m.get("test") or {}).get("roc_auc"),
                       "fit_seconds": (m.get("cost") or {}).get("fit_seconds"),
                       "peak_memory_mb": (m.get("cost") or {}).get("peak_memory_mb")})
    record = {"command": " ".join(cmd[1:]), "rows": results["dataset"]["n_rows"],
              "wall_seconds": round(wall, 1), "peak_memory_gb": round(peak[0] / 2**30, 2),
              "budget": args.budget, "executor": args.executor, "sampling": sampling,
              "verdict": {k: results["verdict"].get(k) for k in ("family", "model")},
              "models": models, "machine": f"{platform.node()} {psutil.cpu_count()} CPUs "
              f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
              "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"big_table-{record['rows']}-{args.executor}.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")
    print(f"{record['rows']:,} rows, {args.executor}: {wall:.0f} s wall (budget "
          f"{args.budget:.0f}), peak memory {record['peak_memory_gb']} GB; verdict "
          f"{record['verdict']}")
    if sampling:
        print(f"in memory {sampling['in_memory_rows']:,} rows (sample {sampling['sample_rows']:,}"
              f", test {sampling['test_rows']:,}) of {sampling['rows']:,}: {sampling['rule']}")
    print("| model | family | status | trained rows | test accuracy | ROC-AUC | fit s | MB |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for m in models:
        acc = f"{m['accuracy']:.4f}" if m["accuracy"] is not None else "-"
        auc = f"{m['roc_auc']:.4f}" if m["roc_auc"] is not None else "-"
        rows = f"{m['trained_rows']:,}" if m["trained_rows"] else "-"
        print(f"| {m['name']} | {m['family']} | {m['status']} | {rows}"
              f"{' (streamed)' if m['streamed'] else ''} | {acc} | {auc} | "
              f"{m['fit_seconds'] or '-'} | {m['peak_memory_mb'] or '-'} |")


if __name__ == "__main__":
    main()
