"""Benchmark: clustering and anomaly detection, both families, on ../shared/data (issue 17).

Each case runs the real command line (``nnvsml compare DATA --task ... --evaluate-with ...``)
through :func:`run_compare.run_measured` (wall time, peak memory of the whole process tree) and
writes ``benchmarks/results/unsupervised-<case>.json``; a Markdown table goes to stdout.

* ``mnist-clusters``: the 10,000 official MNIST test images, 10 clusters, scored against the
  digits (published cluster accuracy: k-means about 0.53, DEC 0.84, IDEC 0.88, N2D 0.979).
* ``satimage-2``: ADBench's satimage-2: class 2 (cotton crop) cut to 71 rows among the other
  5,732. (The smallest class, 4, damp grey soil, lies between the two other grey soils: as
  anomalies every detector ranked them at chance, ROC-AUC 0.29-0.54.)
* ``cancer-5pct``: breast cancer (WDBC), the malignant rows cut to 5% of the benign ones.
* ``mnist-one-class``: the test images of digit 0 as the usual rows, 5% of other digits as
  anomalies.

    python benchmarks/unsupervised.py                       # every case
    python benchmarks/unsupervised.py cancer-5pct --loaded  # with a CPU hog on one core
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_compare import DATA, PREPARED, RESULTS, hogging, run_measured  # noqa: E402


def _mnist_test() -> tuple[np.ndarray, np.ndarray]:
    def read(name: str, ndim: int) -> np.ndarray:
        data = gzip.decompress((DATA / "mnist" / name).read_bytes())
        dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
        return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)
    return read("t10k-images-idx3-ubyte.gz", 3), read("t10k-labels-idx1-ubyte.gz", 1)


def mnist_clusters() -> tuple[Path, list[str]]:
    path = PREPARED / "mnist-test.npz"
    if not path.exists():
        X, y = _mnist_test()
        np.savez_compressed(path, X=X[..., None], y=y)
    return path, ["--task", "clustering", "--evaluate-with", "labels", "--clusters", "10"]


def mnist_one_class() -> tuple[Path, list[str]]:
    path = PREPARED / "mnist-one-class.npz"
    if not path.exists():
        X, y = _mnist_test()
        rng = np.random.default_rng(0)
        normal = np.flatnonzero(y == 0)
        odd = rng.choice(np.flatnonzero(y != 0), int(0.05 * len(normal)), replace=False)
        rows = rng.permutation(np.r_[normal, odd])
        np.savez_compressed(path, X=X[rows][..., None], y=(y[rows] != 0).astype(int))
    return path, ["--task", "anomaly", "--evaluate-with", "labels"]


def _anomaly_table(name: str, frame: pd.DataFrame, anomalous: pd.Series, n_odd: int
                   ) -> tuple[Path, list[str]]:
    path = PREPARED / f"{name}.csv"
    if not path.exists():
        rng = np.random.default_rng(0)
        odd = rng.choice(np.flatnonzero(anomalous), n_odd, replace=False)
        rows = rng.permutation(np.r_[np.flatnonzero(~anomalous), odd])
        out = frame.iloc[rows].reset_index(drop=True)
        out["anomaly"] = anomalous.to_numpy()[rows].astype(int)
        out.to_csv(path, index=False)
    return path, ["--task", "anomaly", "--evaluate-with", "anomaly"]


def satimage_2() -> tuple[Path, list[str]]:
    df = pd.read_csv(DATA / "satimage" / "satimage.tsv.gz", sep="\t")
    return _anomaly_table("satimage-2", df.drop(columns="target"), df["target"] == 2, 71)


def cancer_5pct() -> tuple[Path, list[str]]:
    df = pd.read_csv(DATA / "breast_cancer_wisconsin" / "breast_cancer_wisconsin.tsv.gz",
                     sep="\t")
    malignant = df["target"] == 1
    return _anomaly_table("cancer-5pct", df.drop(columns="target"), malignant,
                          int(0.05 * (~malignant).sum()))


CASES = {  # name -> (data, budget)
    "cancer-5pct": (cancer_5pct, 120),
    "satimage-2": (satimage_2, 120),
    "mnist-one-class": (mnist_one_class, 300),
    "mnist-clusters": (mnist_clusters, 900),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--loaded", action="store_true", help="a CPU hog on one core")
    args = parser.parse_args()
    PREPARED.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.cases:
        make, budget = CASES[name]
        path, options = make()
        tag = f"unsupervised-{name}" + ("-loaded" if args.loaded else "")
        with hogging(args.loaded):
            summary = run_measured(tag, path, budget, options)
        (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
        rows.extend(_rows(name, summary))
    print("| case | family | model | status | " + " | ".join(METRICS) + " | fit s |")
    print("|---|---|---|---|" + "---:|" * (len(METRICS) + 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


METRICS = ("cluster_accuracy", "nmi", "ari", "roc_auc", "average_precision", "precision_at_n",
           "silhouette", "stability_ari", "stability_rho")


def _rows(name: str, summary: dict) -> list[list[str]]:
    out = []
    for m in sorted(summary["models"], key=lambda m: (m["family"], m["name"])):
        test = m["test"] or {}
        out.append([name, m["family"], m["name"], m["status"],
                    *(f"{test[k]:.3f}" if test.get(k) is not None else "" for k in METRICS),
                    f"{(m['cost'] or {}).get('fit_seconds') or 0:.1f}"])
    verdict = summary["verdict"]
    out.append([name, "**verdict**", f"**{verdict['family']}** ({verdict['model']})",
                f"wall {summary['wall_seconds']:.0f} s, peak {summary['peak_memory_tree_mb']:,} MB",
                *[""] * (len(METRICS) + 1)])
    return out


if __name__ == "__main__":
    main()
