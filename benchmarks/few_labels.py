"""Benchmark: each semi-supervised candidate against its supervised twin with few labels.

scikit-learn's digits (1,797 images of 8x8 pixels as a 64-column table): 400 test rows; of the
rest, ``--per-class`` labelled rows per class and every other row unlabelled. Each model is
built as the comparison builds it (its declared defaults) and fitted outside the protocol:
the twin on the labelled rows, the semi-supervised model on those and the unlabelled rows.
Prints one line per seed: test accuracy and fit seconds of each model.

    python benchmarks/few_labels.py
    python benchmarks/few_labels.py --per-class 25 --seeds 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nnvsml.models import REGISTRY, BuildContext

#: Seconds for a time-bounded model: its twin's, and four times that for the self-training
#: rounds (three rounds and the last fit, each as long as the twin's one fit).
TWIN_SECONDS = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    digits = load_digits(as_frame=True)
    X, y = digits.frame.drop(columns=["target"]), digits.target.astype(str).to_numpy()
    kinds = {c: "numeric" for c in X.columns}
    pairs = [(c.twin, c.name) for c in REGISTRY.values() if c.unlabelled]
    for seed in range(args.seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=400, stratify=y,
                                                  random_state=seed)
        rng = np.random.default_rng(seed)
        labelled = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), args.per_class,
                                              replace=False) for c in np.unique(y_tr)])
        unlabelled = np.setdiff1d(np.arange(len(y_tr)), labelled)
        line = []
        for twin, semi in pairs:
            for name in (twin, semi):
                cand = REGISTRY[name]
                seconds = TWIN_SECONDS * (4 if cand.unlabelled else 1)
                ctx = BuildContext(task="multiclass", kinds=kinds, n_train=len(labelled),
                                   seed=seed, max_time=seconds if cand.time_aware else None)
                est = cand.build(ctx)
                start = time.perf_counter()
                if cand.unlabelled:
                    est.fit(pd.concat([X_tr.iloc[labelled], X_tr.iloc[unlabelled]],
                                      ignore_index=True),
                            np.concatenate([y_tr[labelled].astype(object),
                                            np.full(len(unlabelled), None, dtype=object)]))
                else:
                    est.fit(X_tr.iloc[labelled], y_tr[labelled])
                accuracy = float(np.mean(est.predict(X_te) == y_te))
                line.append(f"{name} {accuracy:.3f} ({time.perf_counter() - start:.1f} s)")
        print(f"seed {seed}: " + " | ".join(line), flush=True)


if __name__ == "__main__":
    main()
