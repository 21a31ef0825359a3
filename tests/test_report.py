"""The HTML report, built from synthetic run directories (tests/samples.py): nothing is trained.

What a reader relies on: one self-contained file, the verdict first, every section present with
its plots, failures shown with their reason, the user's strings escaped, and (where a headless
Chromium is installed) a page that actually renders with the verdict in view.
"""

from __future__ import annotations

import base64
import doctest
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from samples import make_run_dir, sample_results, without_evidence

import nnvsml.report
from nnvsml.cli import main
from nnvsml.errors import InputError
from nnvsml.report import build_report

CLASSIFICATION_IDS = ["verdict", "key-differences", "leaderboard", "pareto", "learning-curve",
                      "data-quality", "overfitting", "confusion-roc", "explanations", "gradients",
                      "energy", "deployability", "tuning"]
REGRESSION_IDS = [s if s != "confusion-roc" else "residuals" for s in CLASSIFICATION_IDS]
#: plots per section when every analysis succeeded
PLOTS = {"pareto": 1, "learning-curve": 2, "data-quality": 1, "overfitting": 2,
         "confusion-roc": 2, "residuals": 1, "explanations": 2, "gradients": 1, "tuning": 1}
VERDICT_BG = (0xE7, 0xF4, 0xEA)  # the verdict box's background in the template's CSS
FAMILY_RGB = {"traditional": (0x1F, 0x77, 0xB4), "neural": (0xFF, 0x7F, 0x0E)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


@cache
def _built(root: Path, task: str, failed: str | None) -> str:
    """The report of a sample run, built once per module (drawing it takes seconds)."""
    run = make_run_dir(root, sample_results(task, failed_analysis=failed), name=task)
    path = build_report(run)
    assert path == run / "report.html"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(out_dir):
    return lambda task="binary": _built(out_dir, task, None)


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"', html)


def sections(html: str) -> dict[str, str]:
    """Section id -> its HTML."""
    parts = re.split(r'(?=<section id=")', html)
    return {re.match(r'<section id="([a-z-]+)"', p).group(1): p for p in parts
            if p.startswith("<section id=")}


def images(html: str) -> list[tuple[str, str]]:
    """(src, alt) of every <img>, whatever its attributes."""
    out = []
    for tag in re.findall(r"<img\b[^>]*>", html):
        assert 'class="plot"' in tag, tag[:200]
        src = re.search(r'src="([^"]*)"', tag).group(1)
        alt = re.search(r'alt="([^"]*)"', tag).group(1)
        out.append((src, alt))
    return out


# ---------------------------------------------------------------- the file


def test_report_is_one_self_contained_file(report):
    html = report()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html, re.IGNORECASE)
    assert "<link" not in html.lower()
    imgs = images(html)
    assert imgs
    for src, alt in imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(alt) > 20  # says what the plot shows
    assert "not drawn" not in html


def test_verdict_first_then_key_differences_then_leaderboard(report):
    html = report()
    assert section_ids(html) == CLASSIFICATION_IDS
    verdict = sections(html)["verdict"]
    assert "Use traditional machine learning" in verdict
    assert "Recommended model: lightgbm" in verdict
    assert "What would change it" in verdict
    assert "With about 6x more rows the mlp is projected to pass lightgbm" in verdict
    assert "Under 30% label noise the network loses 0.058" in verdict  # a fact
    assert "ft_transformer" in verdict and "max_latency_ms" in verdict  # excluded
    assert "Priority: accuracy." in verdict


def test_key_differences_highlight_the_better_family(report):
    table = sections(report())["key-differences"]
    row = re.search(r"<tr>.*?cross-validated accuracy.*?</tr>", table, re.S).group(0)
    cells = re.findall(r'<td class="([^"]*)">', row)
    assert cells[1] == "better" and cells[2] == ""  # traditional wins, neural does not
    assert table.count('class="better"') == 10  # every sample row has a better family


def test_renders_what_the_verdict_module_decides(tmp_path):
    from nnvsml.verdict import decide

    results = without_evidence(sample_results("binary"))
    results["verdict"] = decide(results, constraints={"max_latency_ms": 10.0})
    html = build_report(make_run_dir(tmp_path, results)).read_text(encoding="utf-8")
    verdict, table = sections(html)["verdict"], sections(html)["key-differences"]
    assert "Recommended model: lightgbm" in verdict
    assert "ft_transformer" in verdict  # excluded by the latency constraint
    assert "<td" in table and "read from the leaderboard" not in table
    assert "not drawn" not in html


def test_leaderboard_lists_every_model_with_its_reason(report):
    board = sections(report())["leaderboard"]
    for name in ("lightgbm", "logistic_regression", "svm", "mlp", "ft_transformer"):
        assert f">{name}" in board
    assert "status-failed" in board and "did not converge" in board
    assert "excluded: latency 14.2 ms" in board
    assert "0.9" in board and "[" in board  # test score with its interval


@pytest.mark.parametrize("task, ids, expected", [
    ("binary", CLASSIFICATION_IDS, 12),
    ("multiclass", CLASSIFICATION_IDS, 13),  # + the network's saliency maps
    ("regression", REGRESSION_IDS, 11),
])
def test_every_plot_is_drawn(report, task, ids, expected):
    html = report(task)
    assert section_ids(html) == ids
    assert len(images(html)) == expected
    parts = sections(html)
    for sid in ids:
        want = PLOTS.get(sid, 0) + (1 if task == "multiclass" and sid == "explanations" else 0)
        assert len(images(parts[sid])) == want, sid
    assert 'class="problem' not in html  # every analysis succeeded: no status boxes


def test_the_learning_curve_says_how_each_familys_cost_grows(report):
    html = sections(report())["learning-curve"]
    assert "How cost grows with rows" in html
    # the exponents and the projection to ten times the rows, per family
    assert "1.2" in html and "4,550" in html


def test_multiclass_roc_is_macro_one_vs_rest(report):
    parts = sections(report("multiclass"))
    assert "ROC curves on the test rows of lightgbm and mlp" in parts["confusion-roc"]
    assert "Saliency maps" in parts["explanations"]


def test_regression_shows_residuals_not_confusion(report):
    html = report("regression")
    assert 'id="residuals"' in html and 'id="confusion-roc"' not in html
    assert "rmse (lower is better)" in html


def test_failed_analysis_shows_status_and_reason(tmp_path):
    results = sample_results("binary", failed_analysis="data_quality")
    evidence = results["evidence"]
    # Only the failed block and one that worked: drawing the rest would only cost time.
    results["evidence"] = {k: v for k, v in evidence.items() if k not in (
        "learning_curve", "overfitting", "gradients", "explanations")}
    html = build_report(make_run_dir(tmp_path, results)).read_text(encoding="utf-8")
    part = sections(html)["data-quality"]
    assert "problem-bad" in part and "<strong>failed</strong>" in part
    assert "2,048 MB over the 1,024 MB limit (--max-memory-mb)" in part
    assert images(part) == []
    assert "this analysis was not part of the run" in sections(html)["gradients"]
    assert "problem" not in sections(html)["energy"]


# ---------------------------------------------------------------- older and partial runs


def test_run_without_evidence(tmp_path):
    run = make_run_dir(tmp_path, without_evidence(sample_results("binary")))
    html = build_report(run).read_text(encoding="utf-8")
    parts = sections(html)
    assert section_ids(html) == CLASSIFICATION_IDS
    for sid in ("learning-curve", "data-quality", "explanations", "gradients", "energy"):
        assert "this run has no evidence analyses" in parts[sid], sid
        assert images(parts[sid]) == []
    assert "read from the leaderboard by the report" in parts["key-differences"]
    assert "train-fold scores" in parts["overfitting"] and len(images(parts["overfitting"])) == 1
    assert len(images(html)) == 5  # pareto, overfitting, confusion, ROC, tuning
    assert "not drawn" not in html


def test_partial_run_without_verdict_or_truth(tmp_path):
    results = without_evidence(sample_results("binary"))
    results.update(status="interrupted", verdict=None, tuning_effort=None)
    results["models"] = results["models"][:2]  # only the traditional models had finished
    run = make_run_dir(tmp_path, results)
    (run / "predictions" / "_truth.npz").unlink()
    html = build_report(run).read_text(encoding="utf-8")
    assert "This run is interrupted" in html
    assert "No verdict yet" in sections(html)["verdict"]
    assert "_truth.npz is missing" in sections(html)["confusion-roc"]
    assert "a comparison needs a finished model in each family" in sections(html)[
        "key-differences"]
    assert "not drawn" not in html


def test_one_family_only(tmp_path):
    results = without_evidence(sample_results("regression"))
    results["models"] = [m for m in results["models"] if m["family"] == "neural"]
    results["verdict"] = {"family": "neural", "model": "mlp", "reasons": ["Only neural ran."]}
    html = build_report(make_run_dir(tmp_path, results)).read_text(encoding="utf-8")
    assert "Use a neural network" in html
    assert len(images(sections(html)["residuals"])) == 1
    assert "not drawn" not in html


def test_docstring_example_runs():
    outcome = doctest.testmod(nnvsml.report)
    assert outcome.attempted > 0 and outcome.failed == 0


# ---------------------------------------------------------------- escaping


def test_user_strings_are_escaped(tmp_path):
    evil_model = '<script>alert("model")</script>'
    evil_feature = "<img src=x onerror=alert(1)> $a$ price"
    results = sample_results("binary")
    model = next(m for m in results["models"] if m["name"] == "logistic_regression")
    model["name"] = evil_model
    failed = next(m for m in results["models"] if m["status"] == "failed")
    failed["reason"] = "<b>bold</b> & broken"
    for fam in results["evidence"]["explanations"]["models"].values():
        fam["shap"]["importance"][evil_feature] = 9.0  # the top feature: drawn and listed
        for row in fam["lime"]:
            row["weights"][evil_feature] = 0.9
    results["evidence"]["explanations"]["features"].append(evil_feature)
    html = build_report(make_run_dir(tmp_path, results)).read_text(encoding="utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; $a$ price" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; broken" in html
    assert "not drawn" not in html  # a "$" in a label is text, not a broken formula


# ---------------------------------------------------------------- command line


def test_cli_missing_run_dir_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nnvsml", "report", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnvsml: error: ")
    assert "does not exist" in lines[0] and "--out" in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_rebuilds_the_report(tmp_path, capsys):
    run = make_run_dir(tmp_path, without_evidence(sample_results("regression")))
    main(["report", str(run)])
    assert capsys.readouterr().out.strip() == str(run / "report.html")
    assert (run / "report.html").stat().st_size > 10_000


@pytest.mark.parametrize("content, fragment", [
    (None, "has no results.json"),
    ("{not json", "cannot read"),
    (json.dumps({"models": []}), "not an nnvsml results file"),
])
def test_unreadable_run_dir_is_an_input_error(tmp_path, content, fragment):
    if content is not None:
        (tmp_path / "results.json").write_text(content)
    with pytest.raises(InputError, match=fragment) as info:
        build_report(tmp_path)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- rendered in a browser


def test_screenshot_shows_the_verdict_and_the_plots(report, out_dir, tmp_path):
    browser = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if browser is None:
        pytest.skip("headless Chromium not installed (Debian package chromium); .ci/run "
                    "installs it")
    from PIL import Image

    report()  # built into out_dir
    page = out_dir / "binary" / "report.html"
    shot = tmp_path / "page.png"
    proc = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,4000", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=60)
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)

    # Not blank: a page of text and plots has many colours and contrast.
    assert pixels.std() > 20
    assert len(np.unique(pixels[::4, ::4].reshape(-1, 3), axis=0)) > 200

    # The verdict is visible: its box's pale colour fills a large area near the top of the
    # page, and dark text pixels lie inside that box.
    top = pixels[:1500]
    box = np.all(np.abs(top - VERDICT_BG) <= 2, axis=-1)
    assert box.sum() > 100_000, "verdict box not found in the first 1,500 pixels"
    ys, xs = np.nonzero(box)
    inside = top[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert (inside.max(axis=-1) < 90).sum() > 2000, "no dark text inside the verdict box"

    # The plots rendered (a broken image shows no family colour: the CSS uses none of them).
    for family, rgb in FAMILY_RGB.items():
        hits = np.all(np.abs(pixels - rgb) <= 3, axis=-1).sum()
        assert hits > 500, f"the {family} colour of the plots is missing ({hits} pixels)"
