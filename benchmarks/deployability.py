"""Benchmark: what serving each family's best model costs, on a table, images, texts and series.

For each dataset it runs ``nnvsml compare`` with the deployability analysis only (the command
line, as a user would), then reads ``evidence.deployability`` from results.json: per family's
best model, the size of each format (joblib, skops + safetensors, ONNX), the cold start of a
fresh process loading it and answering its first row, single-row p50 / p99, batch rows/s and the
serving process's peak memory, for the model's own ``predict`` ("native": scikit-learn's own
``predict_proba`` on the fitted pipeline, or the network's) and for ONNX Runtime, both on one
thread. Each dataset runs quiet and then loaded (a CPU hog keeping one core busy).

    python benchmarks/deployability.py                       # adult, mnist10k, sms_spam, ucr_gunpoint
    python benchmarks/deployability.py adult --modes quiet

Results: ``benchmarks/results/deployability-<mode>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_compare import DATASETS, RESULTS  # noqa: E402
from serving import load_of  # noqa: E402  (quiet, or a CPU hog on one core)

#: Budgets that give each family a tuned best model, and the deployability analysis its time.
BUDGETS = {"adult": 120, "mnist10k": 150, "sms_spam": 90, "ucr_gunpoint": 60}


def measure(name: str, mode: str) -> dict:
    path, extra = DATASETS[name][2]()
    out = RESULTS / "runs" / f"deploy-{name}-{mode}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(path), *extra, "--budget",
           str(BUDGETS[name]), "--analyses", "deployability", "--analysis-budget", "300",
           "--seed", "0", "--out", str(out), "--quiet"]
    t0 = time.monotonic()
    with load_of(mode):
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: nnvsml exited {done.returncode}\n{done.stderr[-2000:]}")
    results = json.loads((out / "results.json").read_text())
    block = results["evidence"]["deployability"]
    return {"dataset": name, "mode": mode, "wall_seconds": round(time.monotonic() - t0, 1),
            "modality": results["dataset"]["modality"], "n_rows": results["dataset"]["n_rows"],
            "verdict": (results.get("verdict") or {}).get("model"), "block": block}


def table(rows: list[dict]) -> str:
    lines = ["| dataset | mode | family | model | route | format | size KB | cold start s | "
             "p50 ms | p99 ms | rows/s | peak MB |", "|" + "---|" * 12]
    for r in rows:
        for family, record in r["block"].get("models", {}).items():
            formats = record.get("formats") or {}
            for route, m in (record.get("routes") or {}).items():
                fmt = formats.get("safe" if route == "native" else "onnx") or {}
                if route == "onnx" and fmt.get("status") != "ok":
                    continue  # the "not written" row below says why
                what = ("skops" if route == "native" else
                        f"ONNX ({fmt.get('scope')})")
                if m.get("status") != "ok":
                    lines.append(f"| {r['dataset']} | {r['mode']} | {family} | "
                                 f"{record['model']} | {route} | {what} | "
                                 f"{m.get('status')}: {(m.get('reason') or '')[:80]} |||||||")
                    continue
                lines.append(
                    f"| {r['dataset']} | {r['mode']} | {family} | {record['model']} | {route} | "
                    f"{what} | {fmt.get('size_kb')} | {m['cold_start_s']:.2f} | "
                    f"{m['p50_ms']:.3f} | {m['p99_ms']:.3f} | {m['rows_per_s']:,.0f} | "
                    f"{m['peak_memory_mb']:.0f} |")
            onnx = formats.get("onnx") or {}
            if onnx.get("status") != "ok":
                lines.append(f"| {r['dataset']} | {r['mode']} | {family} | {record['model']} | "
                             f"onnx | not written: {(onnx.get('reason') or '')[:120]} |||||||")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(BUDGETS))
    parser.add_argument("--modes", default="quiet,loaded")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        rows = [measure(name, mode) for name in args.datasets]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"deployability-{mode}.json").write_text(json.dumps({
            "machine": f"{platform.machine()}, {platform.processor() or '?'}, "
                       f"Python {platform.python_version()}",
            "date": time.strftime("%Y-%m-%d"), "runs": rows}, indent=2))
        print(table(rows))
        print()


if __name__ == "__main__":
    main()
