"""nnvsml: neural network or traditional machine learning? Measured on your data.

>>> import nnvsml
>>> result = nnvsml.compare(budget=60)             # doctest: +SKIP
>>> result.leaderboard.head()                      # doctest: +SKIP
>>> result.verdict["family"], result.run_dir       # doctest: +SKIP
"""

__version__ = "0.1.0"

__all__ = ["CompareResult", "InputError", "RunConfig", "compare", "__version__"]

# Imported when first used (PEP 562): the command line imports a submodule of this package before
# it can answer Ctrl-C, so the package itself must cost nothing to import.
_LAZY = {"CompareResult": "nnvsml.api", "compare": "nnvsml.api", "RunConfig": "nnvsml.config",
         "InputError": "nnvsml.errors"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nnvsml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
