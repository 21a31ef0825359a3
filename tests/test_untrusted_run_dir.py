"""A run directory is untrusted input (issue: hostile input). Resuming or reporting a run
directory that someone else wrote or edited never runs code from it: paths are confined to the
directory, arrays are read without pickle, and a model file is loaded only when this user's
signature of its digest verifies. nnvsml never changes the mode of a folder it did not create,
and creates everything private."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

import nnvsml
from nnvsml import artifacts
from nnvsml.errors import InputError
from nnvsml.report import build_report

MODELS = ["logistic_regression", "mlp"]


class Payload:
    """Unpickling this creates a marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def compare(df, out: Path, **options):
    options = {"models": MODELS, "search": "none", "analyses": "none", **options}
    return nnvsml.compare(df, target="diagnosis", budget=40, out=out, report=False, **options)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cancer_df):
    """A finished run of both families, copied by each test before it is tampered with."""
    out = tmp_path_factory.mktemp("runs") / "run"
    result = compare(cancer_df, out)
    assert {m["status"] for m in result.results["models"]} == {"ok"}
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    return out


def edit_results(out: Path, edit) -> None:
    path = out / "results.json"
    results = json.loads(path.read_text())
    edit(results)
    path.write_text(json.dumps(results))


def entry(results: dict, name: str) -> dict:
    return next(m for m in results["models"] if m["name"] == name)


def test_finished_entries_are_signed_and_their_predictions_need_no_pickle(finished):
    results = json.loads((finished / "results.json").read_text())
    for m in results["models"]:
        assert artifacts.untrusted(finished, m["artifacts"]) is None
        # String class labels are stored as text, readable with allow_pickle=False.
        with np.load(finished / m["artifacts"]["predictions"], allow_pickle=False) as f:
            assert f["y_pred"].dtype.kind == "U"
    assert results["test_comparison"] is not None  # the paired test read both files


def test_resume_never_loads_a_pickle_that_results_json_points_outside_the_run(
        finished, tmp_path, cancer_df):
    out = copy_of(finished, tmp_path)
    marker, evil = tmp_path / "pwned", tmp_path / "x.pkl"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    evil_npz = tmp_path / "x.npz"
    np.savez(evil_npz, y_pred=np.array([Payload(marker)], dtype=object), proba=np.empty(0))

    def point_outside(results):
        for m in results["models"]:
            m["artifacts"]["predictions"] = "../x.npz"
            m["artifacts"]["model"] = "../x.pkl"

    edit_results(out, point_outside)
    result = compare(cancer_df, out)
    assert not marker.exists()
    # Both models were trained again (their files were not trusted), and the run completed.
    assert result.results["status"] == "complete"
    for m in result.results["models"]:
        assert m["status"] == "ok" and m["artifacts"]["model"] == artifacts.file_name(
            "model", m["name"], m["artifacts"]["model_sha256"])
    build_report(out)
    assert not marker.exists()


def test_a_model_file_replaced_with_its_digest_updated_is_trained_again(
        finished, tmp_path, cancer_df):
    """Anyone can compute a SHA-256: the signature, keyed with this user's secret, is what makes
    a model file trusted."""
    out = copy_of(finished, tmp_path)
    marker = tmp_path / "pwned"
    model = out / entry(json.loads((out / "results.json").read_text()), "mlp")["artifacts"]["model"]
    model.write_bytes(pickle.dumps(Payload(marker)))
    edit_results(out, lambda r: entry(r, "mlp")["artifacts"].update(
        model_sha256=artifacts.digest(model)))
    result = compare(cancer_df, out, analyses=["explanations"], analysis_budget=30)
    assert not marker.exists()
    assert entry(result.results, "mlp")["status"] == "ok"
    assert artifacts.untrusted(out, entry(result.results, "mlp")["artifacts"]) is None
    assert result.results["evidence"]["explanations"]["status"] in ("ok", "timeout")


def test_signed_entries_are_kept_on_resume(finished, tmp_path, cancer_df):
    out = copy_of(finished, tmp_path)
    before = json.loads((out / "results.json").read_text())
    result = compare(cancer_df, out)
    for name in MODELS:
        assert entry(result.results, name)["artifacts"] == entry(before, name)["artifacts"]


def test_a_signature_made_with_another_key_is_not_trusted(finished, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other-user"))
    artifacts._key.cache_clear()
    try:
        results = json.loads((finished / "results.json").read_text())
        reason = artifacts.untrusted(finished, entry(results, "mlp")["artifacts"])
        assert reason is not None and "not signed by this user" in reason
    finally:
        monkeypatch.undo()
        artifacts._key.cache_clear()


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "", ".", "models/../../x", None, 3])
def test_paths_from_results_json_are_confined(tmp_path, path):
    (tmp_path / "run").mkdir()
    assert artifacts.confined(tmp_path / "run", path) is None


def test_a_symlink_leaving_the_run_is_not_followed(tmp_path):
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    (tmp_path / "secret.npz").write_bytes(b"x")
    (run / "predictions" / "m.npz").symlink_to(tmp_path / "secret.npz")
    assert artifacts.confined(run, "predictions/m.npz") is None


def test_the_signing_key_is_private(private_signing_key):
    artifacts.sign({})
    key = private_signing_key / "nnvsml" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


def test_a_key_others_can_write_is_not_used(tmp_path, monkeypatch):
    key = tmp_path / "nnvsml" / "signing.key"
    key.parent.mkdir()
    key.write_bytes(b"k" * artifacts.KEY_BYTES)
    key.chmod(0o666)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    artifacts._key.cache_clear()
    try:
        assert artifacts._key() != b"k" * artifacts.KEY_BYTES  # a key of this process instead
    finally:
        monkeypatch.undo()
        artifacts._key.cache_clear()


# ---- folders and modes ----------------------------------------------------------------------

def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in root.rglob("*")}


def test_an_existing_shared_folder_keeps_its_mode_and_everything_inside_is_private(
        tmp_path, cancer_df):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    compare(cancer_df, shared, models=["logistic_regression"], search="random", trials=2)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    modes = _modes(shared)
    assert "tuning.db" in modes and "logs" in modes
    assert any(name.startswith("models/logistic_regression-") for name in modes)
    for name, mode in modes.items():
        is_dir = (shared / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), name


def test_a_folder_holding_other_files_is_refused_before_anything_is_touched(tmp_path, cancer_df):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    (home / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an nnvsml run"):
        compare(cancer_df, home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    assert sorted(os.listdir(home)) == ["notes.txt"]


def test_a_run_directory_whose_sub_folder_is_a_symlink_is_refused(finished, tmp_path, cancer_df):
    out = copy_of(finished, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    shutil.rmtree(out / "models")
    (out / "models").symlink_to(elsewhere)
    with pytest.raises(InputError, match="symbolic link"):
        compare(cancer_df, out)
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755 and not any(elsewhere.iterdir())


@pytest.mark.parametrize("content, message", [
    ("[1, 2, 3]", "holds a JSON list"),
    ("{" * 100_000, "nested too deeply|cannot read"),
    ('{"schema_version": "one"}', "not a valid nnvsml results file"),
])
def test_a_bad_results_json_is_refused_in_one_line(tmp_path, cancer_df, content, message):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text(content)
    with pytest.raises(InputError, match=message) as err:
        compare(cancer_df, out)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=message):
        build_report(out)


@pytest.mark.parametrize("edit, where", [
    (lambda r: r["protocol"].update(primary_metric="nope"), "primary_metric"),
    (lambda r: r["models"][0].update(status=7), "status"),
    (lambda r: r["models"][0]["cost"].update(fit_seconds="fast"), "fit_seconds"),
    (lambda r: r.update(models={"a": 1}), "models"),
])
def test_report_on_a_results_file_of_the_wrong_shape_is_one_line(finished, tmp_path, edit, where):
    out = copy_of(finished, tmp_path)
    edit_results(out, edit)
    with pytest.raises(InputError, match=where) as err:
        build_report(out)
    assert "\n" not in str(err.value)
    assert not (out / "report.html").exists()


def test_a_later_stage_never_overwrites_the_file_an_entry_points_to(finished, tmp_path):
    """Files are named by their content, so a stage killed after writing its model leaves the
    entry's own file as it was signed; what no entry points to is the model's stale files, and
    only that model's."""
    out = copy_of(finished, tmp_path)
    results = json.loads((out / "results.json").read_text())
    files = {str(p.relative_to(out)) for p in (out / "models").iterdir()}
    files |= {str(p.relative_to(out)) for p in (out / "predictions").iterdir()
              if p.name != "_truth.npz"}
    pointed = {path for m in results["models"] for key, path in m["artifacts"].items()
               if not key.endswith(("sha256", "signature"))}
    assert any(p.endswith(".skops") for p in pointed)  # the safe copies, beside each pickle
    assert files == pointed  # earlier stages' files were removed as each model was recorded
    lr = entry(results, "logistic_regression")["artifacts"]
    stage_two = out / artifacts.file_name("model", "logistic_regression", "b" * 64)
    other = out / artifacts.file_name("model", "logistic_regression_pixels", "c" * 64)
    for path in (stage_two, other):
        path.write_bytes(b"x")
    assert lr["model"] != str(stage_two.relative_to(out))
    assert artifacts.stale_files(out, "logistic_regression", lr) == [stage_two]
