"""Property-based fuzzing of the command's loading and validation stage (``--dry-run``: nothing
is trained), so that the hostile inputs fixed once stay fixed.

Generated tables have random column kinds, names with control characters, duplicate and empty
names, infinities, empty cells, huge and tiny values and random targets; the options get random
values, valid and not. Whatever comes in, the command must exit 0 or 2, never with a traceback;
an error is one line on stderr with no control characters in it; and no file is created or
changed anywhere (a dry run writes nothing, ``--out`` included).

Deterministic under CI (``derandomize``): a failure there is reproducible; locally each run
explores new examples.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnvsml import cli

FUZZ = settings(max_examples=int(os.environ.get("NNVSML_FUZZ_EXAMPLES", "120")), deadline=None,
                derandomize=os.environ.get("CI") == "true", database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Names: plain, with terminal escapes and other control characters, empty, quotes and commas.
CONTROL = ["\x1b", "\x1b]0;pwn\x07", "\r", "\t", "\x9b", "\u202e", "\x00"]
NAME_CHARS = st.sampled_from(list("abcxyz_ .,;\"'[]é") + CONTROL)
# Cells: mostly text, now and then a control character (many make the file binary, refused).
CELL_CHARS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyz 0123456789.-") + CONTROL[:3])
NAMES = st.one_of(st.sampled_from(["x", "y", "target", "label", "id", "", " x ", "x.1"]),
                  st.lists(NAME_CHARS, min_size=1, max_size=6).map("".join))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1e308, -1e308, 1e-320, 0.0, 1e298, float("inf")]))
CELLS = {
    "float": FLOATS.map(repr),
    "int": st.integers(-(2**70), 2**70).map(str),
    "small_int": st.integers(0, 3).map(str),
    "text": st.lists(CELL_CHARS, max_size=5).map("".join),
    "bool": st.sampled_from(["true", "false", "yes", "no", ""]),
    "empty": st.sampled_from(["", "NA", "nan", "inf", "-inf"]),
}


@st.composite
def tables(draw) -> list[list[str]]:
    """A header and rows of cells, as a CSV would hold them."""
    n_cols = draw(st.integers(1, 5))
    header = draw(st.lists(NAMES, min_size=n_cols, max_size=n_cols))
    kinds = draw(st.lists(st.sampled_from(sorted(CELLS)), min_size=n_cols, max_size=n_cols))
    n_rows = draw(st.one_of(st.integers(0, 12), st.integers(20, 60), st.integers(20, 60)))
    rows = [[draw(CELLS[k]) for k in kinds] for _ in range(n_rows)]
    return [header, *rows]


def option_values() -> st.SearchStrategy[list[str]]:
    models = st.sampled_from(["logistic_regression", "mlp", "lightgbm", "", "nope", "mlp,,knn",
                              "cnn"])
    choices = {
        "--seed": st.integers(-5, 2**70).map(str),
        "--budget": st.one_of(FLOATS.map(repr), st.sampled_from(["10", "0", "-1", "abc"])),
        "--task": st.sampled_from(["binary", "multiclass", "regression", "classification",
                                   "auto", "", "Binary", "x\x1b"]),
        "--cv-folds": st.integers(-1, 30).map(str),
        "--test-fraction": st.one_of(FLOATS.map(repr), st.sampled_from(["0.2", "0.5"])),
        "--metric": st.sampled_from(["accuracy", "roc_auc", "rmse", "r2", "nope", ""]),
        "--models": models,
        "--families": st.sampled_from(["traditional", "neural", "", "both"]),
        "--validation": st.sampled_from(["cv", "holdout", "auto", "x"]),
        "--search": st.sampled_from(["none", "random", "grid", "hyperband", "bayesian", "x"]),
        "--trials": st.integers(-1, 3).map(str),
        "--modality": st.sampled_from(["tabular", "image", "text", "sequence", "audio", "x"]),
        "--priority": st.sampled_from(["accuracy", "speed", "cost", "x"]),
        "--max-latency-ms": FLOATS.map(repr),
        "--analyses": st.sampled_from(["none", "all", "energy", "x"]),
    }
    pairs = st.lists(st.sampled_from(sorted(choices)), max_size=4, unique=True).flatmap(
        lambda flags: st.tuples(*[st.tuples(st.just(f), choices[f]) for f in flags]))
    return pairs.map(lambda ps: [part for pair in ps for part in pair])


OUTS = st.sampled_from(["new", "data.csv", "data.csv/sub", "existing", "existing/deeper",
                        "/proc/nnvsml-fuzz", None])


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_size)
            for p in root.rglob("*")}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def check(table: list[list[str]], target, options: list[str], out, delimiter: str = ",") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data.csv"
        with open(data, "w", newline="", encoding="utf-8", errors="surrogatepass") as f:
            csv.writer(f, delimiter=delimiter).writerows(table)
        (root / "existing").mkdir()
        argv = ["compare", str(data), "--dry-run", *options]
        if target is not None:
            argv += ["--target", target]
        if out is not None:
            argv += ["--out", out if out.startswith("/") else str(root / out)]
        before = snapshot(root)
        cwd = os.getcwd()
        os.chdir(root)  # the default run directory would go here
        try:
            code, stdout, stderr = run_cli(argv)
        finally:
            os.chdir(cwd)
        assert code in (0, 2), (code, stderr)
        if code == 2:
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("nnvsml: error: "), stderr
            assert not any(ch in lines[0] for ch in "\x1b\x9b\r\x00\x07\u202e"), lines[0]
        else:
            assert "dry run: nothing trained or written" in stdout, (stdout, stderr)
            assert "\x1b]0;" not in stdout + stderr
        assert snapshot(root) == before


@FUZZ
@given(table=tables(), target=st.one_of(st.none(), NAMES), options=option_values(), out=OUTS)
def test_random_tables_and_options_exit_0_or_2_and_write_nothing(table, target, options, out):
    check(table, target, options, out)


@FUZZ
@given(table=tables(), data=st.data())
def test_hostile_tables_with_a_target_from_their_header_exit_0_or_2(table, data):
    """Targets that exist, so that the loader goes past the target lookup more often."""
    target = data.draw(st.sampled_from(table[0]))
    check(table, target, [], None, delimiter=data.draw(st.sampled_from([",", ";", "\t"])))


VALID_TABLE = [["a", "b", "c", "y"]] + [[str(i % 7), str((i * 13) % 11 / 3), "uvw"[i % 3],
                                          str(i % 2)] for i in range(40)]


@FUZZ
@given(options=option_values(), out=OUTS)
def test_random_options_on_a_valid_table_exit_0_or_2(options, out):
    check(VALID_TABLE, "y", options, out)
