"""What the server that forks every candidate's process imports once, before any clock starts.

Importing it in the parent process is not needed (and would cost it seconds): it is listed only
in the forkserver's preload. torch's first optimiser imports ``torch._dynamo`` (and sympy), a few
seconds of imports that would otherwise fall inside a candidate's time, where a deadline could
interrupt them and leave a module half-imported.
"""

import lightgbm  # noqa: F401
import skops.io  # noqa: F401  (every finished model is also written as skops)
import sklearn  # noqa: F401

try:
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
    import safetensors.torch  # noqa: F401
except ImportError:  # a machine without torch trains no networks
    pass
