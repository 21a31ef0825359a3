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
#: The file of an export's ONNX copy.
ONNX_FILE = "model.onnx"
#: Every file an export folder may hold.
EXPORT_FILES = frozenset({CARD, "schema.json", "README.md", ONNX_FILE} |
                         {"model" + suffix for suffix in SUFFIXES.values()})
#: What ``--format`` takes: the safe files alone, or the checked ONNX copy as well.
FORMATS = ("safe", "onnx")


def export(run_dir: Path | str, model: str | None = None, out: Path | str | None = None,
           format: str = "safe") -> Path:
    """Write the model (the verdict's by default) to ``out`` (default ``RUN_DIR/export/NAME``);
    returns the folder. Written to a temporary folder first: an export is whole or absent.

    ``format="onnx"`` adds the ONNX copy the run's deployability analysis wrote and checked
    for parity (its digest checked again here). The safe files always go with it: the schema
    and ``nnvsml predict`` / ``serve`` use them, and a network's ONNX graph holds the network
    only, its feature steps running from the safe files."""
    from nnvsml.schema import checked_results

    if format not in FORMATS:
        raise InputError(f"unknown --format {format!r}; choose one of: {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise InputError(f"{run_dir} is not a run directory (no results.json); pass the --out "
                         "of nnvsml compare")
    results = checked_results(run_dir / "results.json", "pass a run directory of nnvsml compare")
    entry = entry_of(results, model)
    files = safe_files(run_dir, entry.get("artifacts") or {})  # digests checked here
    onnx = checked_onnx(run_dir, results, entry["name"]) if format == "onnx" else None
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
        if onnx is not None:
            path, record = onnx
            shutil.copyfile(path, staging / ONNX_FILE)
            listing["onnx"], listing["onnx_sha256"] = ONNX_FILE, record["sha256"]
            card["onnx"] = {k: record.get(k) for k in ("scope", "converter", "opset", "parity")}
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


def checked_onnx(run_dir: Path, results: dict, name: str) -> tuple[Path, dict]:
    """The ONNX copy of model ``name`` that the deployability analysis wrote, passed parity
    with and recorded, after checking that the file is still the one it recorded."""
    from nnvsml import artifacts

    block = (results.get("evidence") or {}).get("deployability") or {}
    records = [m.get("formats", {}).get("onnx") or {} for m in (block.get("models") or {}).values()
               if m.get("model") == name]
    record = records[0] if records else None
    if record is None:
        raise InputError(
            f"model {name!r} has no ONNX copy: ONNX copies are made, and checked against the "
            "model, for each family's best by the deployability analysis; run nnvsml compare "
            "again on the same data with the same --out and --analyses deployability (finished "
            "work is kept), or use the safe files (export --format safe, --runtime native)")
    if record.get("status") != "ok" or not (record.get("parity") or {}).get("ok"):
        raise InputError(f"model {name!r} has no usable ONNX copy ({record.get('status')}: "
                         f"{record.get('reason') or 'parity failed'}); export --format safe")
    path = artifacts.confined(run_dir, (record.get("files") or [None])[0] or "")
    if path is None or not path.is_file() or artifacts.digest(path) != record.get("sha256"):
        raise InputError(f"the ONNX copy of {name!r} is missing, outside the run or changed "
                         "since it was checked; run the deployability analysis again")
    return path, record


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
    onnx = card.get("onnx")
    if onnx:
        parity = onnx.get("parity") or {}
        held = ("the whole pipeline: one input per raw column" if onnx.get("scope") == "pipeline"
                else "the network only: its feature steps run from the safe files")
        lines += [f"`{ONNX_FILE}` ({onnx.get('converter')}, opset {onnx.get('opset')}) holds "
                  f"{held}; its inputs, classes and outputs are described in its metadata "
                  f"(key `nnvsml`). Checked against the model on {parity.get('rows')} rows: "
                  f"labels equal, largest difference {_difference(parity)}.", ""]
    return "\n".join(lines)


def _difference(parity: dict) -> str:
    for key in ("max_abs_diff", "max_relative_diff"):
        if parity.get(key) is not None:
            return f"{parity[key]:.2g} ({key.replace('_', ' ')})"
    return "n/a"
