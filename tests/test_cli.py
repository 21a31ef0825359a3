"""Bad input and bad options: exit code 2, one line on stderr naming the problem and the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nnvsml.cli import main


def run_cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, fragment):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nnvsml: error: ")
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err


@pytest.fixture()
def files(tmp_path, cancer_df):
    rng = np.random.default_rng(0)
    f = {}
    f["empty"] = tmp_path / "empty.csv"
    f["empty"].write_text("")
    f["header"] = tmp_path / "header.csv"
    f["header"].write_text("a,b,target\n")
    f["xlsx"] = tmp_path / "data.xlsx"
    f["xlsx"].write_bytes(b"PK\x03\x04" + rng.bytes(200))
    f["garbage"] = tmp_path / "garbage.csv"
    f["garbage"].write_bytes(rng.bytes(4096))
    f["good"] = tmp_path / "good.csv"
    cancer_df.to_csv(f["good"], index=False)
    nan_target = cancer_df.copy()
    nan_target["diagnosis"] = np.nan
    f["nan_target"] = tmp_path / "nan_target.csv"
    nan_target.to_csv(f["nan_target"], index=False)
    one_class = cancer_df.copy()
    one_class["diagnosis"] = "benign"
    f["one_class"] = tmp_path / "one_class.csv"
    one_class.to_csv(f["one_class"], index=False)
    f["few"] = tmp_path / "few.csv"
    cancer_df.head(5).to_csv(f["few"], index=False)
    f["dir"] = tmp_path / "adir"
    f["dir"].mkdir()
    return f


@pytest.mark.parametrize("case, extra, fragment", [
    ("missing", [], "not found"),
    ("dir", [], "nothing loadable"),
    ("empty", [], "empty"),
    ("header", [], "no data rows"),
    ("xlsx", [], "format"),
    ("garbage", [], "does not look like"),
    ("good", ["--target", "diagnosys"], "did you mean 'diagnosis'"),
    ("nan_target", ["--target", "diagnosis"], "missing"),
    ("one_class", ["--target", "diagnosis"], "single class"),
    ("few", ["--target", "diagnosis"], "too few rows"),
    ("good", ["--target", "diagnosis", "--budget", "0"], "--budget must be a positive"),
    ("good", ["--target", "diagnosis", "--budget", "-5"], "--budget must be a positive"),
    ("good", ["--target", "diagnosis", "--models", "lightgmb"], "did you mean 'lightgbm'"),
    ("good", ["--target", "diagnosis", "--families", "deep"], "unknown family"),
    ("good", ["--target", "diagnosis", "--metric", "rmse"], "does not apply"),
    ("good", ["--target", "diagnosis", "--task", "clusters"], "unknown task 'clusters'"),
    ("good", ["--target", "diagnosis", "--task", "clustering"],
     "--target names a column to predict and a clustering run predicts none"),
    ("good", ["--task", "anomaly", "--evaluate-with", "mean radius"], "marks anomalies 1"),
    ("good", ["--target", "diagnosis", "--evaluate-with", "radius"], "--evaluate-with scores "
     "clustering and anomaly runs"),
    ("good", ["--task", "clustering", "--evaluate-with", "nope"], "--evaluate-with column "
     "'nope' not found"),
    ("good", ["--task", "anomaly", "--contamination", "0.9"], "--contamination must be"),
    ("good", ["--task", "clustering", "--clusters", "1"], "--clusters must be"),
    ("good", ["--task", "clustering", "--metric", "ari"], "is scored against an evaluation "
     "column"),
    ("good", ["--target", "diagnosis", "--max-memory-mb", "0"], "--max-memory-mb"),
    ("good", ["--budgt", "10"], "no such option"),
    ("good", ["--budget", "soon"], "invalid value for '--budget'"),
    ("good", ["--target", "diagnosis", "--priority", "sped"], "did you mean 'speed'"),
    ("good", ["--target", "diagnosis", "--analyses", "learning"], "unknown analysis 'learning'"),
    ("good", ["--target", "diagnosis", "--max-latency-ms", "-1"], "--max-latency-ms"),
    ("good", ["--target", "diagnosis", "--analysis-budget", "0"], "--analysis-budget"),
])
def test_bad_input_exits_2_with_one_line(capsys, files, tmp_path, case, extra, fragment):
    path = tmp_path / "does-not-exist.csv" if case == "missing" else files[case]
    code, _, err = run_cli(capsys, "compare", path, *extra, "--out", tmp_path / "run")
    assert_one_line_error(code, err, fragment)
    if case != "good" or "--budgt" in extra:
        assert not (tmp_path / "run" / "results.json").exists()


def test_out_holding_another_run_is_refused(capsys, files, tmp_path, cancer_df):
    out = tmp_path / "run"
    args = ["--target", "diagnosis", "--models", "naive_bayes", "--budget", "20", "-q", "--out", out,
            "--analyses", "none", "--no-report"]
    code, _, _ = run_cli(capsys, "compare", files["good"], *args)
    assert code == 0
    other = tmp_path / "other.csv"
    cancer_df.sample(frac=1.0, random_state=1).head(300).to_csv(other, index=False)
    code, _, err = run_cli(capsys, "compare", other, *args)
    assert_one_line_error(code, err, "holds a run on different data")


def test_unreadable_file(capsys, files, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file, so permissions cannot make one unreadable")
    files["good"].chmod(0)
    code, _, err = run_cli(capsys, "compare", files["good"])
    assert_one_line_error(code, err, "permission")


def test_console_script_reports_errors_without_traceback(tmp_path):
    """The real process, not just the function: what a user's shell sees."""
    proc = subprocess.run([sys.executable, "-m", "nnvsml", "compare", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_command_lists_both_families(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    for name in ("logistic_regression", "lightgbm", "svm", "mlp", "ft_transformer"):
        assert name in out


def test_rows_with_missing_target_are_dropped_with_a_notice(capsys, tmp_path, cancer_df):
    df = cancer_df.copy()
    df.loc[df.index[:7], "diagnosis"] = np.nan
    path = tmp_path / "gaps.csv"
    df.to_csv(path, index=False)
    code, out, err = run_cli(capsys, "compare", path, "--target", "diagnosis", "--models",
                             "naive_bayes", "--budget", "20", "--out", tmp_path / "run",
                             "--analyses", "none", "--no-report")
    assert code == 0
    assert "7" in err and "missing" in err.lower()
    results = pd.read_csv(tmp_path / "run" / "leaderboard.csv")
    assert results.loc[0, "status"] == "ok"


def test_no_model_finished_exits_3_with_results_written(capsys, tmp_path, cancer_df):
    """Scripts can tell "no model finished" from a verdict (exit 0) and from bad input (2)."""
    data = tmp_path / "c.csv"
    cancer_df.to_csv(data, index=False)
    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "compare", str(data), "--target", "diagnosis",
                                "--budget", "0.001", "--models", "svm", "--analyses", "none",
                                "--out", str(out), "--quiet", "--no-report")
    assert code == 3, err
    assert err.strip().splitlines()[-1].startswith("nnvsml: no model finished")
    results = __import__("json").loads((out / "results.json").read_text())
    assert results["status"] == "complete"
    assert [m["status"] for m in results["models"]] == ["skipped"]


def test_names_from_the_data_cannot_drive_the_terminal(capsys, tmp_path):
    """A column name holding an OSC title-set or a colour sequence is shown escaped, in the
    console and in errors."""
    rng = np.random.default_rng(0)
    evil = "\x1b]0;pwned\x07col"
    df = pd.DataFrame({evil: rng.normal(size=60), "[bold]x[/]": rng.normal(size=60),
                       "\x1b[31my": rng.integers(0, 2, 60)})
    data = tmp_path / "evil.csv"
    df.to_csv(data, index=False)
    code, stdout, err = run_cli(capsys, "compare", str(data), "--target", "\x1b[31my",
                                "--dry-run")
    assert code == 0, err
    assert "\x1b" not in stdout + err and "\x07" not in stdout + err
    assert "\\x1b]0;pwned\\x07col" in stdout + err and "[bold]x[/]" in stdout + err
    code, stdout, err = run_cli(capsys, "compare", str(data), "--target", "\x1b[32mnope")
    assert code == 2 and "\x1b" not in err and "\\x1b[32mnope" in err


def test_dry_run_checks_everything_and_writes_nothing(capsys, tmp_path, cancer_df):
    data = tmp_path / "c.csv"
    cancer_df.to_csv(data, index=False)
    before = sorted(os.listdir(tmp_path))
    code, stdout, err = run_cli(capsys, "compare", str(data), "--target", "diagnosis",
                                "--dry-run", "--out", str(tmp_path / "run"), "-m", "mlp,lightgbm")
    assert code == 0, err
    assert "traditional: lightgbm" in stdout and "neural: mlp" in stdout
    assert "dry run: nothing trained or written" in stdout
    assert sorted(os.listdir(tmp_path)) == before
    code, _, err = run_cli(capsys, "compare", str(data), "--target", "diagnosis", "--dry-run",
                           "-m", "")
    assert_one_line_error(code, err, "--models is empty")
