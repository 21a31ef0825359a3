"""Neural networks: the architectures and the scikit-learn estimators that train them.

Tables: ``MLP`` and ``FTTransformer`` (constructor ``(n_num, cat_cardinalities, n_out, ...)``,
``forward(x_num, x_cat)``), trained by ``TabularNetClassifier``/``TabularNetRegressor``.
Images, text, sequences and audio: one module per file (constructor ``(input_shape, n_out, ...)``,
text modules ``(vocab_size, input_shape, n_out, ...)``), trained by ``ArrayNetClassifier``/
``ArrayNetRegressor``. Both estimator pairs share one training protocol (:mod:`.base`).
"""

from .array_estimator import ARRAY_ARCHITECTURES, ArrayNetClassifier, ArrayNetRegressor
from .estimator import ARCHITECTURES, TabularNetClassifier, TabularNetRegressor
from .ft_transformer import FTTransformer
from .mlp import MLP

__all__ = ["ARCHITECTURES", "ARRAY_ARCHITECTURES", "MLP", "ArrayNetClassifier", "ArrayNetRegressor",
           "FTTransformer", "TabularNetClassifier", "TabularNetRegressor"]
