"""Neural networks for tabular data: the architectures and their scikit-learn estimators.

``MLP`` and ``FTTransformer`` are plain ``torch.nn.Module``s sharing one constructor convention,
``(n_num, cat_cardinalities, n_out, **hyperparameters)``, and ``forward(x_num, x_cat)``.
``TabularNetClassifier`` and ``TabularNetRegressor`` train either of them under one protocol.
"""

from .estimator import ARCHITECTURES, TabularNetClassifier, TabularNetRegressor
from .ft_transformer import FTTransformer
from .mlp import MLP

__all__ = ["ARCHITECTURES", "MLP", "FTTransformer", "TabularNetClassifier", "TabularNetRegressor"]
