"""Benchmark: how much N2D's clustering (UMAP + Gaussian mixture) varies with UMAP's start.

The convolutional autoencoder is trained once on 6,400 of the 10,000 official MNIST test images
(the rows a holdout fit of ``benchmarks/unsupervised.py mnist-clusters`` trains on), outside the
protocol, for ``--first`` seconds and then ``--more`` seconds trained on (``continue_fit``);
its codes are then clustered by :class:`UMAPMixture` from several seeds, each scored on the 2,000
test images (cluster accuracy) and by the silhouette of its labels in the codes' own space (a
label-free score that could choose a start, if it told them apart). Prints one line per start.

    python benchmarks/umap_starts.py --code 16 --first 100 --starts 6
    python benchmarks/umap_starts.py --code 8 --first 60 --more 90 --starts 3
    python benchmarks/umap_starts.py --n2d --code 16 --first 100 --starts 3   # N2D's network
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unsupervised import _mnist_test  # noqa: E402

from nnvsml.models.graph_clustering import UMAPMixture  # noqa: E402
from nnvsml.models.neural.autoencoder_estimator import Autoencoder  # noqa: E402
from nnvsml.models.unsupervised_networks import N2D  # noqa: E402
from nnvsml.unsupervised.scores import cluster_accuracy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=int, default=16)
    parser.add_argument("--first", type=float, default=100.0, help="seconds of training")
    parser.add_argument("--more", type=float, default=0.0, help="seconds trained on after")
    parser.add_argument("--starts", type=int, default=6)
    parser.add_argument("--n2d", action="store_true",
                        help="the autoencoder_umap candidate's dense network, not the conv one")
    args = parser.parse_args()
    X, y = _mnist_test()
    X = X[..., None]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    X_tr, _, y_tr, _ = train_test_split(X_tr, y_tr, test_size=0.2, stratify=y_tr,
                                        random_state=0)
    network = N2D if args.n2d else {}
    net = Autoencoder("anomaly", "image", code_size=args.code, max_time=args.first,
                      seed=0, **network).fit(X_tr)
    if args.more:
        net.continue_fit(X_tr, None, max_time=args.more)
    codes, test_codes = net.transform(X_tr), net.transform(X_te)
    rows = np.random.default_rng(0).choice(len(codes), 2000, replace=False)
    print(f"code {args.code}: {net.n_epochs_} epochs")
    for seed in range(args.starts):
        model = UMAPMixture(10, seed=seed).fit(codes)
        print(f"start {seed}: cluster accuracy "
              f"{cluster_accuracy(y_te, model.predict(test_codes)):.3f}, silhouette in the "
              f"codes' space {silhouette_score(codes[rows], model.labels_[rows]):.4f}",
              flush=True)


if __name__ == "__main__":
    main()
