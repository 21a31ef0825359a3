"""Benchmark: what the Ray executor costs over the local one, on the same work.

Runs ``nnvsml compare`` on a table (default adult) twice with the same ``--trials`` (so both
runs do the same fits): ``--executor local`` and ``--executor ray`` (a local Ray cluster of
this machine, started by the run, or ``--ray-address``). Reports the wall seconds of each
whole command, of the comparison alone (``protocol.wall_seconds``), and the overhead.

    python benchmarks/ray_overhead.py --trials 3
    python benchmarks/ray_overhead.py --modes quiet loaded

Results: ``benchmarks/results/ray_overhead-<mode>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def run(data: Path, target: str, trials: int, models: str, executor: str, address: str | None,
        out: Path) -> dict:
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(data), "--target", target,
           "--trials", str(trials), "--search", "random", "--models", models,
           "--analyses", "none", "--no-report", "--quiet", "--out", str(out),
           "--executor", executor]
    if address:
        cmd += ["--ray-address", address]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    results = json.loads((out / "results.json").read_text())
    return {"executor": executor, "command_seconds": round(wall, 2),
            "comparison_seconds": results["protocol"]["wall_seconds"],
            "lanes": (results["protocol"].get("budget") or {}).get("lanes"),
            "models": {m["name"]: round(m["test"].get("accuracy") or 0.0, 4)
                       for m in results["models"] if m["status"] == "ok"},
            # Where the seconds went: each candidate's wall (its process, start to result) and
            # its fits alone.
            "model_seconds": {m["name"]: {"wall": (m.get("cost") or {}).get("wall_seconds"),
                                          "fit": (m.get("cost") or {}).get("fit_seconds")}
                              for m in results["models"]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA / "adult" / "adult.tsv.gz")
    parser.add_argument("--target", default="target")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--models", default="logistic_regression,lightgbm,mlp")
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--modes", nargs="+", default=["quiet"])
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    print("| mode | executor | command s | comparison s | overhead of the comparison |")
    print("|---|---|---:|---:|---:|")
    for mode in args.modes:
        hog = None
        if mode == "loaded":
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(2)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                local = run(args.data, args.target, args.trials, args.models, "local", None,
                            Path(tmp) / "local")
                ray = run(args.data, args.target, args.trials, args.models, "ray",
                          args.ray_address, Path(tmp) / "ray")
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        overhead = ray["comparison_seconds"] / local["comparison_seconds"] - 1.0
        out = {"mode": mode, "machine": f"{platform.node()} ({os.cpu_count()} cores)",
               "date": time.strftime("%Y-%m-%d"), "trials": args.trials,
               "models": args.models, "local": local, "ray": ray,
               "overhead": round(overhead, 4)}
        (RESULTS / f"ray_overhead-{mode}.json").write_text(json.dumps(out, indent=2))
        for r in (local, ray):
            print(f"| {mode} | {r['executor']} | {r['command_seconds']} | "
                  f"{r['comparison_seconds']} | "
                  f"{'' if r is local else f'{100 * overhead:+.1f}%'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
