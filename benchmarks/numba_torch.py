"""Benchmark: does a parallel numba kernel slow down torch in the same process?

Times a five-epoch FT-Transformer fit on breast cancer in a fresh process, once alone and once
after one DTW 1-nearest-neighbour call (a parallel numba kernel), quiet and then with a CPU hog
keeping one core busy. Before numba was moved to its workqueue layer the fit after DTW took
4-9x as long (numba's OpenMP threads and torch's spinning against each other).

    python benchmarks/numba_torch.py               # as nnvsml runs numba now
    python benchmarks/numba_torch.py --layer omp   # numba's default layer, as before the fix
"""

from __future__ import annotations

import statistics
import subprocess
import sys

CHILD = r"""
import sys, time, numpy as np
from sklearn.datasets import load_breast_cancer
if sys.argv[1] == "after_dtw":
    import numba
    from nnvsml.models.features.series import DTWNeighbors
    if len(sys.argv) > 2:
        numba.config.THREADING_LAYER = sys.argv[2]
    rng = np.random.default_rng(1)
    train = rng.normal(size=(25, 1, 30)).cumsum(axis=2)
    DTWNeighbors(window=0.1, n_jobs=-1).fit(train, np.arange(25) % 3).kneighbor(train[:8])
from nnvsml.models.neural import TabularNetClassifier
X, y = load_breast_cancer(return_X_y=True)
t = time.perf_counter()
TabularNetClassifier(arch="ft_transformer", batch_size=128, max_epochs=5, patience=8).fit(X, y)
print(time.perf_counter() - t)
"""


def fit_seconds(case: str, layer: str | None) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, case, *([layer] if layer else [])],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    layer = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--layer" else None
    print("| numba layer | mode | case | fit s (median of 3) |")
    print("|---|---|---|---:|")
    for mode in ("quiet", "loaded"):
        hog = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
               if mode == "loaded" else None)
        try:
            for case in ("alone", "after_dtw"):
                seconds = statistics.median(fit_seconds(case, layer) for _ in range(3))
                print(f"| {layer or 'workqueue'} | {mode} | {case} | {seconds:.2f} |", flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
