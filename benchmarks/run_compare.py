"""Benchmark: `nnvsml compare` on the datasets of ../shared/data (tables, MNIST, SMS spam, UCR
series) and on spoken words made with espeak-ng (see scripts/make_spoken_words.py).

For each dataset it runs the real command line as a subprocess, samples the memory of the whole
process tree (the run and its candidate processes) every 0.2 s, and writes
``benchmarks/results/<dataset>.json`` plus a Markdown table on stdout for BENCHMARKS.md.

    python benchmarks/run_compare.py                     # every dataset, default budgets
    python benchmarks/run_compare.py adult --budget 600  # one, with its budget
    python benchmarks/run_compare.py --group unstructured
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

PREPARED = RESULTS / "runs" / "data"


def _table(name: str, *extra: str) -> tuple[Path, list[str]]:
    return DATA / name / f"{name}.tsv.gz", ["--target", "target", *extra]


def _sms() -> tuple[Path, list[str]]:
    """The SMS Spam Collection as the CSV the issue names: columns ``label`` and ``message``."""
    import csv

    import pandas as pd

    path = PREPARED / "sms_spam.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        df = pd.read_csv(DATA / "sms-spam" / "SMSSpamCollection.gz", sep="\t", header=None,
                         names=["label", "message"], quoting=csv.QUOTE_NONE)
        df.to_csv(path, index=False)
    return path, ["--target", "label"]


def _mnist_subset(n_train: int = 8000, n_test: int = 2000) -> tuple[Path, list[str]]:
    """The first 8,000 training and 2,000 test images of MNIST: a 10,000-row subset, same
    IDX format and official split."""
    import gzip
    import struct

    path = PREPARED / "mnist10k"
    if not path.exists():
        path.mkdir(parents=True)
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            for kind, ndim in (("images", 3), ("labels", 1)):
                name = f"{prefix}-{kind}-idx{ndim}-ubyte.gz"
                data = gzip.decompress((DATA / "mnist" / name).read_bytes())
                dims = list(struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim]))
                row = 1
                for d in dims[1:]:
                    row *= d
                dims[0] = n
                body = data[4 + 4 * ndim:4 + 4 * ndim + n * row]
                (path / name).write_bytes(gzip.compress(
                    data[:4] + struct.pack(f">{ndim}I", *dims) + body))
    return path, []


def _spoken() -> tuple[Path, list[str]]:
    path = PREPARED / "spoken_words"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_spoken_words.py"), str(path)],
                       check=True)
    return path, []


#: dataset -> (group, budget in seconds, how to get its path and extra arguments). The budgets of
#: adult (600 s) and MNIST (1,200 s, "within 20 minutes for the whole run") are the issues' targets.
DATASETS = {
    "adult": ("tabular", 600, lambda: _table("adult")),
    "spambase": ("tabular", 180, lambda: _table("spambase")),
    "satimage": ("tabular", 180, lambda: _table("satimage")),
    "breast_cancer_wisconsin": ("tabular", 60, lambda: _table("breast_cancer_wisconsin")),
    # Its target holds 56 distinct integers over 8,192 rows, which task inference reads as class
    # codes; PMLB lists it as regression.
    "197_cpu_act": ("tabular", 180, lambda: _table("197_cpu_act", "--task", "regression")),
    "574_house_16H": ("tabular", 300, lambda: _table("574_house_16H")),
    "mnist": ("unstructured", 1200, lambda: (DATA / "mnist", [])),
    "mnist10k": ("unstructured", 300, _mnist_subset),
    "sms_spam": ("unstructured", 300, _sms),
    "ucr_ecg200": ("unstructured", 180, lambda: (DATA / "ucr-ecg200", [])),
    "ucr_gunpoint": ("unstructured", 180, lambda: (DATA / "ucr-gunpoint", [])),
    "ucr_italypowerdemand": ("unstructured", 180, lambda: (DATA / "ucr-italypowerdemand", [])),
    "spoken_words": ("unstructured", 300, _spoken),
}


def run(name: str, budget: float, seed: int = 0, options: list[str] | None = None,
        tag: str | None = None) -> dict:
    """One run of the command line on ``name``; ``options`` are extra command-line options and
    ``tag`` names its results (default: the dataset's name)."""
    path, extra = DATASETS[name][2]()
    summary = run_measured(tag or name, path, budget, [*extra, *(options or [])], seed)
    summary["dataset"] = name
    (RESULTS / f"{tag or name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


@contextmanager
def hogging(loaded: bool):
    """With ``loaded``, a CPU hog (``while True: pass``) on one core for the block's time: the
    machine is never idle (a user's browser, a CI neighbour)."""
    if not loaded:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(2.0)
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def run_measured(tag: str, path: Path, budget: float, options: list[str], seed: int = 0
                 ) -> dict:
    """``nnvsml compare PATH OPTIONS`` as a subprocess, its whole process tree's memory sampled
    every 0.2 s: the run's summary (results, wall time, peak memory, the command)."""
    out = RESULTS / "runs" / tag
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [sys.executable, "-m", "nnvsml", "compare", str(path),
           "--budget", str(budget), "--seed", str(seed), "--out", str(out), "--quiet",
           *options]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_tree, peak_single = 0.0, 0.0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = [p.memory_info().rss for p in [root, *root.children(recursive=True)]]
            peak_tree = max(peak_tree, sum(rss) / 2**20)
            peak_single = max(peak_single, max(rss) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.monotonic() - start
    log = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"{tag}: nnvsml exited {proc.returncode}\n{log}")
    results = json.loads((out / "results.json").read_text())
    summary = {
        "dataset": tag, "budget_seconds": budget, "wall_seconds": round(wall, 1),
        "peak_memory_tree_mb": round(peak_tree), "peak_memory_single_process_mb": round(peak_single),
        "task": results["dataset"]["task"], "n_rows": results["dataset"]["n_rows"],
        "modality": results["dataset"]["modality"],
        "protocol": {k: results["protocol"].get(k) for k in
                     ("n_train", "n_test", "split", "validation", "cv_folds")},
        "primary_metric": results["protocol"]["primary_metric"],
        "budget_spent": results["protocol"].get("budget_spent"),
        "budget": results["protocol"].get("budget"),
        "search": results["protocol"].get("search"),
        "verdict": {k: results["verdict"].get(k)
                    for k in ("family", "model", "reasons", "comparison")},
        "tuning_effort": results.get("tuning_effort"),
        "comparison_seconds": results["protocol"].get("wall_seconds"),
        "evidence": _evidence_summary(results.get("evidence")),
        "report": results.get("report"),
        "models": [{
            "name": m["name"], "family": m["family"], "status": m["status"], "reason": m["reason"],
            "cv": {k: (v or {}).get("mean") for k, v in m["cv"].items()},
            "test": m["test"], "cost": m["cost"],
            "features": (m.get("params") or {}).get("preprocessing"),
            "notes": {k: v for k, v in (m.get("params") or {}).items()
                      if k in ("subsample", "svm", "n_members", "stopped_by_time")},
            "training": m.get("training"),
            "tuning": {k: (m.get("tuning") or {}).get(k) for k in
                       ("strategy", "trials", "seconds", "best_params", "default_score",
                        "best_score", "pruned", "reason")},
            "test_ci": m.get("test_ci"),
        } for m in results["models"]],
        "machine": f"{platform.node()} {psutil.cpu_count()} cores, "
                   f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["nnvsml", *cmd[3:]]).replace(str(ROOT.parent), ".."),
    }
    return summary


def _evidence_summary(evidence: dict | None) -> dict | None:
    """Per analysis its status, reason and seconds (the blocks themselves stay in the run)."""
    if not evidence:
        return None
    return {"models": evidence.get("models"), "seconds": evidence.get("seconds"),
            "budget_seconds": evidence.get("budget_seconds"),
            "analyses": {a: {k: (evidence.get(a) or {}).get(k)
                             for k in ("status", "reason", "seconds")}
                         for a in evidence.get("analyses", [])}}


def markdown(summary: dict) -> str:
    metric = "accuracy" if summary["task"] != "regression" else "rmse"
    lines = [f"#### {summary['dataset']} ({summary['n_rows']:,} rows, "
             f"{summary.get('modality', 'tabular')}, {summary['task']}, "
             f"`--budget {summary['budget_seconds']:g}`): wall {summary['wall_seconds']:.0f} s, "
             f"peak memory {summary['peak_memory_tree_mb']:,} MB (all processes), "
             f"verdict **{summary['verdict']['family']}** ({summary['verdict']['model']})",
             "",
             f"| model | family | status | cv {metric} | test {metric} | "
             f"test {'roc_auc' if metric == 'accuracy' else 'r2'} | fit s | ms/1k pred | peak MB | size KB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in summary["models"]:
        other = "roc_auc" if metric == "accuracy" else "r2"
        c = m["cost"]
        lines.append(
            f"| {m['name']} | {m['family']} | {m['status']} | {_f(m['cv'].get(metric))} | "
            f"{_f(m['test'].get(metric))} | {_f(m['test'].get(other))} | {_f(c.get('fit_seconds'), 1)} | "
            f"{_f(c.get('predict_ms_per_1k'), 1)} | {_f(c.get('peak_memory_mb'), 0)} | "
            f"{_f(c.get('model_size_kb'), 0)} |")
    return "\n".join(lines)


def _f(v, d=4):
    return "" if v is None else f"{v:.{d}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help=f"any of: {', '.join(DATASETS)}")
    parser.add_argument("--group", choices=["tabular", "unstructured"])
    parser.add_argument("--budget", type=float, help="override every dataset's budget")
    args = parser.parse_args()
    unknown = sorted(set(args.datasets) - set(DATASETS))
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    names = args.datasets or [n for n, (g, _, _) in DATASETS.items() if args.group in (None, g)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        summary = run(name, args.budget or DATASETS[name][1])
        print(markdown(summary), "\n", flush=True)


if __name__ == "__main__":
    main()
