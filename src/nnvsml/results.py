"""The run directory and its results.json: written as each model finishes, never half-written.

Layout of a run directory::

    results.json        the contract of DESIGN.md (schema_version 1), rewritten atomically
    leaderboard.csv     one row per candidate, same atomic rule
    models/             the fitted pipelines (raw table in, predictions out), NAME-DIGEST.joblib:
                        named by content, so a later stage never overwrites an entry's file
    predictions/        each model's test-row predictions (for paired tests), NAME-DIGEST.npz
    logs/NAME.log       what each candidate's process printed
    .cache/             the prepared data the candidate processes read

Everything nnvsml creates in it is private to its owner (folders 0700, files 0600): datasets can
hold personal data. An existing folder given as ``--out`` keeps its mode: nnvsml never changes
the permissions of what it did not create, and refuses a folder that holds anything but a run
before it writes there. An existing run directory is untrusted input (see
:mod:`nnvsml.artifacts`): its results.json must match the schema, and a finished model is kept
only when its files are signed by this user.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from nnvsml import __version__
from nnvsml.artifacts import stale_files, untrusted
from nnvsml.errors import InputError, printable
from nnvsml.metrics import GREATER_IS_BETTER, metric_names
from nnvsml.ranking import best_of_family

SCHEMA_VERSION = 1
FINISHED = ("ok", "failed", "timeout", "skipped")
#: What a run directory may hold: anything else means --out names some other folder.
RUN_FILES = frozenset({"results.json", "leaderboard.csv", "report.html", "models", "predictions",
                       "logs", ".cache", "export", "tuning.db", "tuning.db-journal", "tuning.db-wal",
                       "tuning.db-shm"})
SUBDIRS = (".cache", "logs", "models", "predictions")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_out(path: Path | str) -> None:
    """Refuse an ``--out`` that cannot become this run's directory, before anything is read or
    written: a file, a path under a file, a folder holding other things than a run."""
    path = Path(path)
    try:
        if path.is_symlink() and not path.exists():
            raise InputError(f"--out {printable(str(path))} is a broken symbolic link; "
                             "give a directory path")
        if path.exists():
            if not path.is_dir():
                raise InputError(f"--out {printable(str(path))} is a file; give a directory path")
            foreign = sorted(n for n in os.listdir(path)
                             if n not in RUN_FILES and not n.startswith(".results.json."))
            if foreign and not (path / "results.json").is_file():
                raise InputError(
                    f"--out {printable(str(path))} already holds files that are not an nnvsml "
                    f"run ({printable(', '.join(foreign[:3]))}{', ...' if len(foreign) > 3 else ''}"
                    "); give a new or empty directory, or the --out of a run to resume it")
            return
        parent = next((p for p in path.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise InputError(f"--out {printable(str(path))}: {printable(str(parent))} is a file, "
                             "not a directory; give a directory path")
    except OSError as exc:
        raise _unusable(path, exc) from None


def private_dir(path: Path, *, parents: bool = False) -> Path:
    """``path`` as a folder: created private (0700) when absent; when present it must be a real
    folder (not a link to one elsewhere) and its mode is left as it is."""
    try:
        if not os.path.lexists(path):
            path.mkdir(mode=0o700, parents=parents)
        elif stat.S_ISLNK(os.lstat(path).st_mode) and not parents:
            raise InputError(f"{printable(str(path))} is a symbolic link; nnvsml writes only into "
                             "folders of the run directory itself: remove it or choose another "
                             "--out")
        elif not path.is_dir():
            raise InputError(f"{printable(str(path))} is not a directory; remove it or choose "
                             "another --out")
    except OSError as exc:
        raise _unusable(path, exc) from None
    return path


def _unusable(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot use --out {printable(str(path))}: {exc.strerror or exc}; choose a "
                      "directory you can write to")


class RunStore:
    """Owns results.json and leaderboard.csv of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "results.json"
        self.results: dict = {}
        #: One line per finished model that is trained again instead of kept, and why.
        self.notices: list[str] = []

    def open(self, dataset: dict, protocol: dict, identity: dict) -> dict[str, dict]:
        """Start a run, or resume the one already in the directory.

        Returns the finished model entries to keep. A directory holding a run on other data or
        other protocol settings is refused rather than mixed with this one.
        """
        check_out(self.run_dir)
        kept: dict[str, dict] = {}
        created = _now()
        if self.path.exists():  # everything is checked before anything is written
            old = self._read_existing()
            _check_same_run(old, dataset, identity, self.path)
            kept = self._trusted(m for m in old.get("models", []) if m.get("status") in FINISHED)
            created = old.get("created") or created
        private_dir(self.run_dir, parents=True)
        for sub in SUBDIRS:
            private_dir(self.run_dir / sub)
        self.results = {
            "schema_version": SCHEMA_VERSION,
            "nnvsml_version": __version__,
            "created": created,
            "updated": _now(),
            "status": "running",
            "dataset": dataset,
            "protocol": protocol,
            "models": list(kept.values()),
            "verdict": None,
        }
        self.save()
        return kept

    def _trusted(self, entries) -> dict[str, dict]:
        """The finished entries to keep: failures as recorded, models only with trusted files."""
        kept = {}
        for m in entries:
            reason = untrusted(self.run_dir, m.get("artifacts") or {}) if m["status"] == "ok" \
                else None
            if reason is None:
                kept[m["name"]] = m
            else:
                self.notices.append(f"{m['name']} is trained again: {reason}")
        return kept

    @contextmanager
    def running(self):
        """While the run goes on: a run stopped by Ctrl-C or a signal is marked ``interrupted``
        (and one stopped by an error ``failed``), never left ``running``."""
        try:
            yield self
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) \
                else "failed"
            try:
                self.update(status=status)
            except OSError:
                pass  # the error being raised says more than a failed write would
            raise

    def record(self, entry: dict) -> None:
        # In place: the models keep the order they first finished in, whatever ran again.
        models = self.results["models"]
        at = next((i for i, m in enumerate(models) if m["name"] == entry["name"]), None)
        if at is None:
            models.append(entry)
        else:
            models[at] = entry
        self.save()
        # The model's process has ended: files of its earlier stages are no entry's any more.
        for path in stale_files(self.run_dir, entry["name"], entry.get("artifacts") or {}):
            path.unlink(missing_ok=True)

    def update(self, **blocks) -> None:
        self.results.update(blocks)
        self.save()

    def save(self) -> None:
        self.results["updated"] = _now()
        atomic_write_text(self.path, json.dumps(self.results, indent=2, default=_json_default) + "\n")
        atomic_write_text(self.run_dir / "leaderboard.csv", leaderboard(self.results).to_csv(index=False))

    def _read_existing(self) -> dict:
        from nnvsml.schema import checked_results

        return checked_results(self.path, "choose another --out to start a new run")


def _check_same_run(old: dict, dataset: dict, identity: dict, path: Path) -> None:
    old_fp = old.get("dataset", {}).get("fingerprint")
    if old_fp != dataset["fingerprint"]:
        raise InputError(
            f"{path.parent} holds a run on different data; choose another --out to start a new run"
        )
    old_protocol = old.get("protocol", {})
    for key, value in identity.items():
        if old_protocol.get(key) != value:
            raise InputError(
                f"{path.parent} holds a run with {key}={old_protocol.get(key)!r}, not {value!r}; "
                "use the same options to resume, or another --out"
            )


def leaderboard(results: dict) -> pd.DataFrame:
    """One row per candidate, grouped by family, best first within each family."""
    task = results["dataset"]["task"]
    primary = results["protocol"]["primary_metric"]
    names = metric_names(task)
    rows = []
    for m in results.get("models", []):
        cv, test, cost = m.get("cv") or {}, m.get("test") or {}, m.get("cost") or {}
        row = {"model": m["name"], "family": m["family"], "status": m["status"]}
        row[f"cv_{primary}_mean"] = (cv.get(primary) or {}).get("mean")
        row[f"cv_{primary}_std"] = (cv.get(primary) or {}).get("std")
        row.update({f"test_{k}": test.get(k) for k in names})
        ci = (m.get("test_ci") or {}).get(primary) or {}
        row[f"test_{primary}_low"], row[f"test_{primary}_high"] = ci.get("low"), ci.get("high")
        tuning = m.get("tuning") or {}
        row["trials"], row["tuning_seconds"] = tuning.get("trials"), tuning.get("seconds")
        for k in ("fit_seconds", "cpu_seconds", "predict_ms_per_1k", "peak_memory_mb", "model_size_kb"):
            row[k] = cost.get(k)
        row["reason"] = m.get("reason")
        rows.append(row)
    columns = ["model", "family", "status", f"cv_{primary}_mean", f"cv_{primary}_std",
               *[f"test_{k}" for k in names], f"test_{primary}_low", f"test_{primary}_high",
               "trials", "tuning_seconds", "fit_seconds", "cpu_seconds", "predict_ms_per_1k",
               "peak_memory_mb", "model_size_kb", "reason"]
    df = pd.DataFrame(rows, columns=columns)
    if df.empty:
        df["best_in_family"] = pd.Series(dtype=bool)
        return df
    key = f"cv_{primary}_mean"
    sign = -1.0 if GREATER_IS_BETTER[primary] else 1.0
    df["_family"] = df["family"].map({"traditional": 0, "neural": 1})
    df["_ok"] = (df["status"] != "ok").astype(int)
    df["_score"] = pd.to_numeric(df[key], errors="coerce") * sign
    df = df.sort_values(["_family", "_ok", "_score", "model"], na_position="last", kind="stable")
    # The verdict's own pick of each family's best (on the same rows when coverage differs).
    best = {(m or {}).get("name") for m in (best_of_family(results.get("models", []), f, primary)
                                            for f in ("traditional", "neural"))}
    df["best_in_family"] = df["model"].isin(best - {None})
    return df.drop(columns=["_family", "_ok", "_score"]).reset_index(drop=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
