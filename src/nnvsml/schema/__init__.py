"""The JSON Schema of results.json (draft 2020-12), and a check of a results dict against it.

``results.schema.json`` describes the whole file: the contract of DESIGN.md, every model
entry, the verdict and every evidence block. The test suite validates each results.json it
writes against it, and :func:`checked_results` validates every results.json nnvsml reads (a
resumed run, ``nnvsml report``): a run directory is untrusted input, and a file that does not
match is refused with one line rather than half-used.

Example
-------
>>> from nnvsml.schema import ResultsSchemaError, validate
>>> try:
...     validate({"schema_version": 1, "status": "done"})
... except ResultsSchemaError as exc:
...     print(exc.errors[0])
('$', "'created' is a required property")
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent / "results.schema.json"
#: Violations listed in the error's message; the rest are counted.
SHOWN = 5

#: A results.json larger than this is not one nnvsml wrote (a large run's is a few MB).
MAX_BYTES = 256 * 2**20

__all__ = ["SCHEMA_PATH", "ResultsSchemaError", "checked_results", "load_schema", "validate"]


class ResultsSchemaError(ValueError):
    """A results dict that does not match the schema; ``errors`` lists ``(path, message)``."""

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


def load_schema() -> dict:
    """The schema as a dict (a fresh copy each call)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def checked_results(path: Path, hint: str, *, partial: bool = False) -> dict:
    """The results dict in ``path``, or an :class:`~nnvsml.errors.InputError` (one line, ending
    with ``hint``) when it cannot be read, is not JSON, or does not match the schema. With
    ``partial``, parts may be missing (a report draws what a stopped or older run has) but
    every part present must have the schema's types and values."""
    from nnvsml.errors import InputError

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path} is {size / 2**20:.0f} MB, too large for a results file "
                             f"nnvsml wrote; {hint}")
        results = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(results, dict):
            raise InputError(f"{path} is not an nnvsml results file (it holds a JSON "
                             f"{type(results).__name__}, not an object); {hint}")
        validate(results, allow_missing=partial)
    except InputError:
        raise
    except ResultsSchemaError as exc:
        where, what = exc.errors[0]
        more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
        raise InputError(f"{path} is not a valid nnvsml results file: {where}: {what}{more}; "
                         f"{hint}") from None
    except RecursionError:
        raise InputError(f"{path} is nested too deeply to be an nnvsml results file; "
                         f"{hint}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} as an nnvsml results file ({exc}); "
                         f"{hint}") from None
    return results


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(results: dict, *, allow_missing: bool = False) -> None:
    """Raise :class:`ResultsSchemaError` when ``results`` does not match the schema, naming the
    first few violations by their JSON path (``$.models[2].status``); return None when it does.
    ``allow_missing`` lets required keys be absent (only what is there is checked).
    """
    errors = sorted(_validator().iter_errors(results),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    leaves = [leaf for error in errors for leaf in _leaves(error)
              if not (allow_missing and leaf.validator == "required")]
    if not leaves:
        return
    found = []
    for leaf in leaves:
        item = (_path(leaf.absolute_path), _short(leaf.message))
        if item not in found:  # one fault can break two rules that refer to the same block
            found.append(item)
    lines = [f"  {path}: {message}" for path, message in found[:SHOWN]]
    if len(found) > SHOWN:
        lines.append(f"  ... and {len(found) - SHOWN} more")
    count = f"{len(found)} violation{'s' if len(found) != 1 else ''}"
    raise ResultsSchemaError(
        f"results.json does not match its schema ({count}):\n" + "\n".join(lines), found)


def _path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaves(error):
    """The causes of an ``anyOf`` error (a block that may be null, or else must match its
    schema), so that the message names the keys at fault rather than the whole block: the
    errors of the branch the value was meant for (the one it has the type of)."""
    if not error.context:
        yield error
        return
    branches: dict = {}
    for e in error.context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    meant = [es for es in branches.values()
             if not any(e.validator == "type" and len(e.absolute_path) == len(error.absolute_path)
                        for e in es)]
    if len(meant) != 1:
        yield error
        return
    for e in meant[0]:
        yield from _leaves(e)


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit] + "..."
