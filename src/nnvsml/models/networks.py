"""Neural-network candidates for tables: the architectures live in :mod:`nnvsml.models.neural`."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from nnvsml.models import spaces
from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.traditional import ALL_TASKS


MLP_SPACE = spaces.network(lr=1e-3, weight_decay=1e-4, dropout=0.1)
#: The FT-Transformer paper trains with AdamW at lr 1e-4..1e-3 and small weight decay.
FT_TRANSFORMER_SPACE = spaces.network(lr=3e-4, weight_decay=1e-5, dropout=0.1)


def _net(ctx: BuildContext, space: dict, arch: str, arch_params: dict | None = None) -> Pipeline:
    # Imported here so that runs without networks never pay for importing torch.
    from nnvsml.models.neural import TabularNetClassifier, TabularNetRegressor

    hp = ctx.hyper(space)
    arch_params = dict(arch_params or {})
    if arch == "mlp":
        arch_params["dropout"] = hp.pop("dropout")
    else:  # the FT-Transformer's feed-forward dropout, as its paper tunes it
        arch_params["ffn_dropout"] = hp.pop("dropout")
    cls = TabularNetRegressor if ctx.task == "regression" else TabularNetClassifier
    net = cls(max_time=ctx.max_time, random_state=ctx.seed, arch=arch, arch_params=arch_params,
              **hp)
    pre = encoder("neural", ctx.kinds, task=ctx.task, seed=ctx.seed)
    return Pipeline(pre.steps + [("model", net)])


def build_mlp(ctx: BuildContext):
    return _net(ctx, MLP_SPACE, "mlp")


#: Smaller than the paper's default (d_token 192, 3 blocks): every row becomes one token per
#: feature, so the cost grows with rows x features x d_token^2. At d_token 64 and 3 blocks one
#: batch of 256 rows of the Adult table took 135 ms on 2 CPU cores; this size takes 53 ms.
FT_TRANSFORMER_SIZE = {"d_token": 32, "n_layers": 2, "n_heads": 4}


def build_ft_transformer(ctx: BuildContext):
    return _net(ctx, FT_TRANSFORMER_SPACE, "ft_transformer", FT_TRANSFORMER_SIZE)


register(Candidate(
    "mlp", "neural", ALL_TASKS, build_mlp,
    "feedforward network: categorical embeddings, 2x256 units, batch norm, dropout, AdamW "
    "weight decay, early stopping, gradient clipping, LR schedule",
    preprocessing="neural", time_aware=True, explanations=("gradients",), space=MLP_SPACE,
    streams=True))
register(Candidate(
    "ft_transformer", "neural", ALL_TASKS, build_ft_transformer,
    "FT-Transformer (Gorishniy et al. 2021): feature tokenizer, categorical embeddings, "
    "2 self-attention blocks of width 32",
    preprocessing="neural", time_aware=True, explanations=("attention", "gradients"),
    space=FT_TRANSFORMER_SPACE, streams=True))
