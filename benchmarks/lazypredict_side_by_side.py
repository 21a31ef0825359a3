"""Benchmark only: LazyPredict on the *same* train/test split that nnvsml used.

LazyPredict is not a dependency of nnvsml; install it for this script with
``pip install -e ".[bench]"``. Run `run_compare.py` first: the split is read from nnvsml's run
directory (``benchmarks/results/runs/<name>/.cache/data.joblib``), so both tools see exactly
the same training and test rows.

    python benchmarks/lazypredict_side_by_side.py spambase
    python benchmarks/lazypredict_side_by_side.py adult --exclude LabelPropagation LabelSpreading

On the full adult training part (39,073 rows) LazyPredict's default list crashed the process
with a segmentation fault in OpenBLAS: LabelPropagation and LabelSpreading build a dense
n x n kernel matrix (39,073^2 doubles, about 12 GB). ``--exclude`` leaves such models out.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import joblib
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def run(name: str, exclude: list[str]) -> dict:
    from lazypredict.Supervised import CLASSIFIERS, LazyClassifier

    cache = joblib.load(RESULTS / "runs" / name / ".cache" / "data.joblib")
    X, y = cache["X"], pd.Series(cache["y"])
    tr, te = cache["train_idx"], cache["test_idx"]
    start = time.monotonic()
    chosen = [cls for cls_name, cls in CLASSIFIERS if cls_name not in exclude]
    clf = LazyClassifier(verbose=0, ignore_warnings=True, random_state=0,
                         classifiers=chosen if exclude else "all")
    board, _ = clf.fit(X.iloc[tr], X.iloc[te], y.iloc[tr], y.iloc[te])
    wall = time.monotonic() - start
    board = board.sort_values("Accuracy", ascending=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "dataset": name, "wall_seconds": round(wall, 1), "peak_memory_mb": round(peak),
        "best_model": board.index[0], "best_test_accuracy": float(board["Accuracy"].iloc[0]),
        "n_models": int(len(board)), "excluded": exclude,
        "top5": board.head(5)[["Accuracy", "Balanced Accuracy", "Time Taken"]].round(4).to_dict("index"),
    }
    (RESULTS / f"lazypredict_{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--exclude", nargs="*", default=[], help="LazyPredict model names to leave out")
    args = parser.parse_args()
    for name in args.datasets:
        s = run(name, args.exclude)
        print(f"{name}: LazyPredict best {s['best_model']} test accuracy {s['best_test_accuracy']:.4f}, "
              f"{s['n_models']} models, wall {s['wall_seconds']:.0f} s, peak {s['peak_memory_mb']} MB",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
