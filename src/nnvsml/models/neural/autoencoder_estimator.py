"""The networks' unsupervised estimator: an autoencoder, then what its task does with it.

``fit(X)`` trains the modality's autoencoder (dense for table rows, convolutional for images
and spectrograms, 1D-convolutional for series) to rebuild its input, for at most ``max_time``
seconds, keeping the weights of its best epoch on a tenth of the rows held out (early stopping).
``layers`` replaces the modality's network by a dense one with those hidden widths on the
flattened input (N2D's 500-500-2000 for its clustering: on MNIST its codes cluster far better
than the small convolutional network's, BENCHMARKS.md). Then, by ``task``:

* ``anomaly``: a row's anomaly score is how badly it is rebuilt (mean squared error); rows above
  the training rows' ``1 - contamination`` quantile are flagged.
* ``clustering``: k-means on the codes (k by silhouette over 2-10 unless given), and with
  ``refine="dec"`` a deep embedded clustering refinement (IDEC: Guo et al., 2017, "Improved Deep
  Embedded Clustering with Local Structure Preservation", after Xie et al., 2016, DEC): the
  encoder and the cluster centres are trained together to sharpen the soft assignments
  (Student's t kernel) towards their own squared target distribution, while the reconstruction
  loss keeps the codes faithful to the rows. With ``refine="manifold"``, N2D's clustering of
  the codes instead (McConville et al., 2019, "N2D: (Not Too) Deep Clustering via Clustering
  the Local Manifold of an Autoencoded Embedding"): their UMAP embedding, then a Gaussian
  mixture (:class:`nnvsml.models.graph_clustering.UMAPMixture`, the traditional ``umap``
  candidate's clustering, there on the rows' features); new rows take the label of their
  nearest training codes.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from torch import nn

from nnvsml.models.graph_clustering import UMAPMixture, choose_k
from nnvsml.resources import free_cores

#: Share of the time a deep clustering gives its refinement (the rest trains the autoencoder).
REFINE_SHARE = 0.4
#: IDEC's weight of the clustering loss beside the reconstruction's, and how often (in
#: batches) the target distribution is recomputed.
IDEC_GAMMA = 0.1
IDEC_UPDATE_EVERY = 20
#: Stop refining when fewer than this share of rows change cluster between two updates.
IDEC_TOLERANCE = 0.001
PATIENCE = 10


class Autoencoder(BaseEstimator):
    """An autoencoder for ``task`` (``clustering`` or ``anomaly``); see the module docstring.

    ``X`` is numbers in the modality's layout: ``[n, features]`` for table rows (already
    encoded), ``[n, H, W, C]`` images, ``[n, C, L]`` series, ``[n, mels, frames]`` audio.
    """

    def __init__(self, task: str = "anomaly", modality: str = "tabular", code_size: int = 8,
                 lr: float = 1e-3, weight_decay: float = 1e-5, dropout: float = 0.1,
                 max_epochs: int = 200, batch_size: int = 128, max_time: float | None = None,
                 n_clusters: int | None = None, refine: str = "none",
                 contamination: float = 0.05, layers: tuple[int, ...] | None = None,
                 seed: int = 0, device: str = "auto"):
        self.task, self.modality, self.code_size = task, modality, code_size
        self.layers = layers
        self.lr, self.weight_decay, self.dropout = lr, weight_decay, dropout
        self.max_epochs, self.batch_size, self.max_time = max_epochs, batch_size, max_time
        self.n_clusters, self.refine, self.contamination = n_clusters, refine, contamination
        self.seed, self.device = seed, device

    # ---- the contract -------------------------------------------------------------------------
    def fit(self, X, y=None):
        start = time.monotonic()
        torch.manual_seed(self.seed)
        torch.set_num_threads(free_cores())
        self.device_ = ("cuda" if torch.cuda.is_available() else "cpu") \
            if self.device == "auto" else self.device
        x = self._tensor(X, fit=True)
        self.input_shape_ = tuple(int(n) for n in x.shape[1:])
        self.module_ = self._module(self.input_shape_).to(self.device_)
        self.n_parameters_ = sum(p.numel() for p in self.module_.parameters())
        self.history_ = []
        return self._train(x, start, self.max_time)

    def continue_fit(self, X, y=None, max_time: float | None = None):
        """Train the fitted autoencoder further, from its weights, for up to ``max_time``
        seconds, then do its task's step again on the new codes (the anytime protocol's longer
        fit: the first fit's time is not thrown away). ``X`` is what ``fit`` was given."""
        start = time.monotonic()
        torch.set_num_threads(free_cores())
        self.module_.to(self.device_)
        self.continued_ = getattr(self, "continued_", 0) + 1
        return self._train(self._tensor(X), start, max_time)

    def _train(self, x: torch.Tensor, start: float, max_time: float | None):
        budget = max_time
        if self.task == "clustering" and self.refine == "dec" and budget is not None:
            budget *= 1.0 - REFINE_SHARE
        elif self.task == "clustering" and self.refine == "manifold" and budget is not None:
            # The clustering of the codes runs after the training, within the same time.
            budget -= min(0.5 * budget, UMAPMixture.expected_seconds(len(x)))
        self._pretrain(x, budget)
        if self.task == "anomaly":
            self.threshold_ = float(np.quantile(self._errors(x), 1.0 - self.contamination))
            return self
        codes = self._codes(x)
        self.centers_ = self.kmeans_ = self.manifold_ = None
        if self.refine == "manifold":
            self.manifold_ = UMAPMixture(self.n_clusters, seed=self.seed).fit(codes)
            self.selection_ = self.manifold_.selection_
            self.n_clusters_ = int(len(np.unique(self.manifold_.labels_)))
            return self
        if self.n_clusters is None:
            k, self.selection_ = choose_k(codes, self._kmeans_labels, seed=self.seed)
        else:
            k, self.selection_ = int(self.n_clusters), {"criterion": "given", "scores": {}}
        self.kmeans_ = KMeans(k, n_init=10, random_state=self.seed).fit(codes)
        if self.refine == "dec":
            left = None if max_time is None else max_time - (time.monotonic() - start)
            self._idec(x, left)
        self.n_clusters_ = k
        return self

    def predict(self, X) -> np.ndarray:
        x = self._tensor(X)
        if self.task == "anomaly":
            return (self._errors(x) > self.threshold_).astype(int)
        codes = self._codes(x)
        if self.manifold_ is not None:
            return self.manifold_.predict(codes)
        if self.centers_ is not None:
            return self._soft(torch.as_tensor(codes, dtype=torch.float32),
                              torch.as_tensor(self.centers_)).argmax(1).numpy()
        return self.kmeans_.predict(codes).astype(int)

    def anomaly_score(self, X) -> np.ndarray:
        return self._errors(self._tensor(X))

    def transform(self, X) -> np.ndarray:
        """The rows' codes."""
        return self._codes(self._tensor(X))

    # ---- the safe model files (nnvsml.deploy.safe): weights apart from the rest -------------
    def detach_network(self):
        """A copy without its torch module, the module, and what rebuilding it checks."""
        bare = copy.copy(self)
        del bare.module_
        cls = type(self.module_)
        return bare, self.module_, {"module": f"{cls.__module__}.{cls.__qualname__}",
                                    "input_shape": list(self.input_shape_),
                                    "n_parameters": int(self.n_parameters_)}

    def attach_network(self, state: dict, description: dict) -> None:
        """Rebuild the module from the fitted shapes and load ``state`` (its weights)."""
        module = self._module(self.input_shape_)
        cls = type(module)
        if description.get("module") != f"{cls.__module__}.{cls.__qualname__}" or \
                list(description.get("input_shape") or []) != list(self.input_shape_):
            raise ValueError("the network's description does not match its pipeline")
        module.load_state_dict(state)
        self.module_, self.device_ = module.eval(), "cpu"

    # ---- data and module ----------------------------------------------------------------------
    def _tensor(self, X, fit: bool = False) -> torch.Tensor:
        x = np.nan_to_num(np.asarray(X, dtype=np.float32))
        if self.modality == "image":
            x = x.transpose(0, 3, 1, 2)  # [n, H, W, C] -> [n, C, H, W]
        elif self.modality == "audio":
            x = x[:, None]  # one channel of mel bins x frames
        if self.modality != "tabular":
            # One scale for all values (images: pixels; series: the series' values): it keeps
            # the shapes, which a per-column standardisation would distort.
            if fit:
                self.mean_, self.scale_ = float(x.mean()), float(x.std()) or 1.0
            x = (x - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(x))

    def _module(self, shape) -> nn.Module:
        from nnvsml.models.neural.dense_autoencoder import DenseAutoencoder

        width = int(np.prod(shape))
        # A code as wide as half the row is no bottleneck: it would learn to copy.
        code = max(2, min(self.code_size, width // 2))
        if self.layers is not None:
            return DenseAutoencoder(width, code=code, hidden=tuple(self.layers),
                                    dropout=self.dropout)
        if self.modality == "tabular":
            return DenseAutoencoder(width, code=code, dropout=self.dropout)
        if self.modality in ("image", "audio"):
            from nnvsml.models.neural.conv_autoencoder import ConvAutoencoder

            return ConvAutoencoder(*shape, code=self.code_size)
        from nnvsml.models.neural.series_autoencoder import SeriesAutoencoder

        return SeriesAutoencoder(*shape, code=self.code_size)

    # ---- training -----------------------------------------------------------------------------
    def _pretrain(self, x: torch.Tensor, budget: float | None) -> None:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(x))
        n_valid = max(1, len(x) // 10) if len(x) >= 20 else 0
        valid, train = order[:n_valid], order[n_valid:]
        opt = torch.optim.Adam(self.module_.parameters(), lr=self.lr,
                               weight_decay=self.weight_decay)
        start, best, best_state, since = time.monotonic(), np.inf, None, 0
        self.stopped_by_ = "max_epochs"
        before = len(self.history_)
        for epoch in range(before, before + self.max_epochs):
            self.module_.train()
            for batch in np.array_split(rng.permutation(train),
                                        max(1, len(train) // self.batch_size)):
                xb = x[batch].to(self.device_)
                loss = ((self.module_(xb) - xb) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            score = float(self._errors(x[valid]).mean()) if n_valid else float(loss)
            self.history_.append({"epoch": epoch + 1, "valid_loss": score})
            if score < best - 1e-6:
                best, best_state, since = score, copy.deepcopy(self.module_.state_dict()), 0
                self.best_epoch_ = epoch + 1
            else:
                since += 1
            if since >= PATIENCE:
                self.stopped_by_ = "early_stopping"
                break
            if budget is not None and time.monotonic() - start > budget:
                self.stopped_by_ = "time_limit"
                break
        self.n_epochs_ = len(self.history_)
        if best_state is not None:
            self.module_.load_state_dict(best_state)

    def _idec(self, x: torch.Tensor, budget: float | None) -> None:
        """Improved deep embedded clustering: KL(P || Q) on the codes plus the reconstruction
        loss, the centres learned with the encoder."""
        rng = np.random.default_rng(self.seed)
        centers = nn.Parameter(torch.as_tensor(self.kmeans_.cluster_centers_,
                                               dtype=torch.float32, device=self.device_))
        opt = torch.optim.Adam([*self.module_.parameters(), centers], lr=self.lr)
        start = time.monotonic()
        previous = None
        self.refine_steps_ = 0
        for _ in range(self.max_epochs):
            q_all = self._soft(torch.as_tensor(self._codes(x), dtype=torch.float32),
                               centers.detach().cpu())
            labels = q_all.argmax(1).numpy()
            if previous is not None and np.mean(labels != previous) < IDEC_TOLERANCE:
                break
            previous = labels
            p_all = (q_all ** 2) / q_all.sum(0)
            p_all = (p_all.T / p_all.sum(1)).T
            self.module_.train()
            batches = np.array_split(rng.permutation(len(x)), max(1, len(x) // self.batch_size))
            for batch in batches[:IDEC_UPDATE_EVERY]:
                xb = x[batch].to(self.device_)
                z = self.module_.encode(xb)
                q = self._soft(z, centers)
                kl = nn.functional.kl_div(q.log(), p_all[batch].to(self.device_),
                                          reduction="batchmean")
                loss = ((self.module_(xb) - xb) ** 2).mean() + IDEC_GAMMA * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
                self.refine_steps_ += 1
            if budget is not None and time.monotonic() - start > budget:
                break
        self.centers_ = centers.detach().cpu().numpy()

    @staticmethod
    def _soft(z: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        """Student's t soft assignment of codes to centres (one degree of freedom, as DEC)."""
        q = 1.0 / (1.0 + torch.cdist(z, centers) ** 2)
        return q / q.sum(1, keepdim=True)

    def _kmeans_labels(self, codes, k):
        return KMeans(k, n_init=3, random_state=self.seed).fit_predict(codes)

    @torch.no_grad()
    def _codes(self, x: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        return np.concatenate([self.module_.encode(x[i:i + 1024].to(self.device_)).cpu().numpy()
                               for i in range(0, len(x), 1024)]).astype(np.float64)

    @torch.no_grad()
    def _errors(self, x: torch.Tensor) -> np.ndarray:
        self.module_.eval()
        out = []
        for i in range(0, len(x), 1024):
            xb = x[i:i + 1024].to(self.device_)
            out.append(((self.module_(xb) - xb) ** 2).flatten(1).mean(1).cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
