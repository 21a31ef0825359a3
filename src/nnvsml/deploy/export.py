"""``nnvsml export``: a model's safe files, its input schema and its model card, in one folder
that ``nnvsml predict`` and ``nnvsml serve`` load and that can be handed to someone else."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from nnvsml.deploy.model import CARD, entry_of, input_schema, model_card, safe_files
from nnvsml.deploy.safe import SUFFIXES
from nnvsml.errors import InputError

#: Where an export goes by default, inside the run directory.
EXPORTS = "export"
#: Every file an export folder may hold.
EXPORT_FILES = frozenset({CARD, "schema.json", "README.md"} |
                         {"model" + suffix for suffix in SUFFIXES.values()})


def export(run_dir: Path | str, model: str | None = None, out: Path | str | None = None) -> Path:
    """Write the model (the verdict's by default) to ``out`` (default ``RUN_DIR/export/NAME``);
    returns the folder. Written to a temporary folder first: an export is whole or absent."""
    from nnvsml.schema import checked_results

    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise InputError(f"{run_dir} is not a run directory (no results.json); pass the --out "
                         "of nnvsml compare")
    results = checked_results(run_dir / "results.json", "pass a run directory of nnvsml compare")
    entry = entry_of(results, model)
    files = safe_files(run_dir, entry.get("artifacts") or {})  # digests checked here
    out = Path(out) if out is not None else run_dir / EXPORTS / entry["name"]
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    old_umask = os.umask(0o077)  # a model can hold training rows (k-NN): private, like the run
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        listing = {}
        for role, path in files.items():
            name = "model" + SUFFIXES[role]
            shutil.copyfile(path, staging / name)
            listing[f"safe_{role}"] = name
            listing[f"safe_{role}_sha256"] = entry["artifacts"][f"safe_{role}_sha256"]
        card = {**model_card(results, entry), "files": listing}
        (staging / CARD).write_text(json.dumps(card, indent=2, default=str) + "\n")
        (staging / "schema.json").write_text(json.dumps(input_schema(results), indent=2) + "\n")
        (staging / "README.md").write_text(card_text(card))
        if out.exists():
            shutil.rmtree(out)  # an earlier export, holding only an export's files (checked)
        os.replace(staging, out)
        staging = None
    except OSError as exc:
        raise InputError(f"cannot write the export to {out}: {exc.strerror or exc}; choose "
                         "another --out") from None
    finally:
        os.umask(old_umask)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _check_target(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(f"--out {out} is a file or a link; choose a new folder")
    if out.is_dir():
        names = {p.name for p in out.iterdir()}
        # Only an earlier export is replaced: every file one of its own, none a link.
        if names and (CARD not in names or names - EXPORT_FILES
                      or any(p.is_symlink() or not p.is_file() for p in out.iterdir())):
            raise InputError(f"--out {out} holds files that are not an nnvsml export; choose a "
                             "new folder")


def card_text(card: dict) -> str:
    """The model card in words."""
    ds, test, ci = card["dataset"], card.get("test") or {}, card.get("test_ci") or {}
    lines = [f"# {card['model']} ({card['family']})", "",
             f"{card.get('description') or ''}", "",
             f"Trained {card.get('trained')} by nnvsml {card.get('nnvsml_version')} on "
             f"{ds.get('name')} ({ds.get('modality')}, {ds.get('task')}, {ds.get('n_rows')} rows, "
             f"target {ds.get('target')!r}).", "",
             "| test metric | value | 95% interval |", "|---|---|---|"]
    for metric, value in test.items():
        band = ci.get(metric) or {}
        interval = (f"{band['low']:.4f} to {band['high']:.4f}"
                    if band.get("low") is not None else "")
        shown = f"{value:.4f}" if isinstance(value, (int, float)) else "n/a"
        lines.append(f"| {metric} | {shown} | {interval} |")
    verdict = card.get("verdict") or {}
    lines += ["", f"Verdict of the run: {verdict.get('family')} ({verdict.get('model')})"
              + (", this model." if verdict.get("chosen") else "."), "",
              "Load with `nnvsml predict THIS_FOLDER DATA` or `nnvsml serve THIS_FOLDER`: the "
              "files are skops and safetensors, loaded without unpickling.", ""]
    return "\n".join(lines)
