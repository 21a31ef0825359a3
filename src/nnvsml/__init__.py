"""nnvsml: neural network or traditional machine learning? Measured on your data.

>>> import nnvsml
>>> result = nnvsml.compare(budget=60)             # doctest: +SKIP
>>> result.leaderboard.head()                      # doctest: +SKIP
>>> result.verdict["family"], result.run_dir       # doctest: +SKIP
"""

__version__ = "0.1.0"

from nnvsml.api import CompareResult, compare  # noqa: E402
from nnvsml.config import RunConfig  # noqa: E402
from nnvsml.errors import InputError  # noqa: E402

__all__ = ["CompareResult", "InputError", "RunConfig", "compare", "__version__"]
