"""Neural-network candidates for tables: the architectures live in :mod:`nnvsml.models.neural`."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.traditional import ALL_TASKS


def _net(ctx: BuildContext, **hyperparameters) -> Pipeline:
    # Imported here so that runs without networks never pay for importing torch.
    from nnvsml.models.neural import TabularNetClassifier, TabularNetRegressor

    cls = TabularNetRegressor if ctx.task == "regression" else TabularNetClassifier
    net = cls(max_time=ctx.max_time, random_state=ctx.seed, **hyperparameters)
    pre = encoder("neural", ctx.kinds, task=ctx.task, seed=ctx.seed)
    return Pipeline(pre.steps + [("model", net)])


def build_mlp(ctx: BuildContext):
    return _net(ctx, arch="mlp")


#: Smaller than the paper's default (d_token 192, 3 blocks): every row becomes one token per
#: feature, so the cost grows with rows x features x d_token^2. At d_token 64 and 3 blocks one
#: batch of 256 rows of the Adult table took 135 ms on 2 CPU cores; this size takes 53 ms.
FT_TRANSFORMER_SIZE = {"d_token": 32, "n_layers": 2, "n_heads": 4}


def build_ft_transformer(ctx: BuildContext):
    # The FT-Transformer paper trains with AdamW at lr 1e-4..1e-3 and small weight decay.
    return _net(ctx, arch="ft_transformer", arch_params=dict(FT_TRANSFORMER_SIZE), lr=3e-4,
                weight_decay=1e-5)


register(Candidate(
    "mlp", "neural", ALL_TASKS, build_mlp,
    "feedforward network: categorical embeddings, 2x256 units, batch norm, dropout, AdamW "
    "weight decay, early stopping, gradient clipping, LR schedule",
    preprocessing="neural", time_aware=True, explanations=("gradients",)))
register(Candidate(
    "ft_transformer", "neural", ALL_TASKS, build_ft_transformer,
    "FT-Transformer (Gorishniy et al. 2021): feature tokenizer, categorical embeddings, "
    "2 self-attention blocks of width 32",
    preprocessing="neural", time_aware=True, explanations=("attention", "gradients")))
