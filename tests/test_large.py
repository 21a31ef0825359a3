"""Tables larger than memory (nnvsml.data.large): read in batches without holding the file,
split and sampled from a first pass, LightGBM and the networks trained on every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from makedata import shared

from nnvsml.cli import app, main
from nnvsml.data import load_dataset
from nnvsml.data.large import BATCH_ROWS, LargeOptions, TableScan
from nnvsml.models import BuildContext, get



@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    df = pd.read_csv(shared("adult", "adult.tsv.gz"), sep="\t")
    df.insert(0, "row_id", np.arange(len(df)))  # to find each row held in memory in the file
    return df


@pytest.fixture(scope="module")
def adult_folder(tmp_path_factory, adult) -> Path:
    """Adult written as one table in three Parquet files of 4,096-row groups."""
    folder = tmp_path_factory.mktemp("adult_parquet")
    for i, part in enumerate(np.array_split(np.arange(len(adult)), 3)):
        pq.write_table(pa.Table.from_pandas(adult.iloc[part], preserve_index=False),
                       folder / f"part-{i}.parquet", row_group_size=4096)
    return folder


#: Measured in a fresh process, so that its peak resident memory is the reader's alone.
_READER = """
import json, resource, sys, numpy as np, psutil, pyarrow as pa
from nnvsml.data.large import TableScan
scan = TableScan(sys.argv[1])
positions = np.array(json.loads(sys.argv[2]), dtype=np.int64)
base = psutil.Process().memory_info().rss / 2**20
total, rows = 0.0, 0
for batch in scan.batches():
    total += float(np.sum(batch.column(0).to_numpy()))
    rows += batch.num_rows
kept = scan.rows(positions)
print(json.dumps({"total": total, "rows": rows, "n": scan.n_rows, "kept": kept["x3"].tolist(),
                  "grew_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base,
                  "arrow_peak_mb": pa.system_memory_pool().max_memory() / 2**20}))
"""


def _write_wide(path: Path, parts: int, positions: np.ndarray) -> tuple[float, list]:
    """``parts`` x 200,000 rows of 16 numbers, written part by part (the test never holds the
    table either); the first column's sum and column x3 at ``positions``."""
    rng = np.random.default_rng(0)
    total, kept = 0.0, []
    with pq.ParquetWriter(path, pa.schema([(f"x{j}", pa.float64()) for j in range(16)])) as out:
        for i in range(parts):
            part = rng.normal(size=(200_000, 16))
            total += part[:, 0].sum()
            inside = positions[(positions >= i * 200_000) & (positions < (i + 1) * 200_000)]
            kept.extend(part[inside - i * 200_000, 3])
            out.write_table(pa.table({f"x{j}": part[:, j] for j in range(16)}),
                            row_group_size=50_000)
    return total, kept


def test_the_reader_holds_one_batch_not_the_file(tmp_path):
    seen = {}
    for parts in (3, 12):
        positions = np.sort(np.random.default_rng(parts).choice(parts * 200_000, 3000,
                                                                replace=False))
        path = tmp_path / f"wide{parts}.parquet"
        total, kept = _write_wide(path, parts, positions)
        out = subprocess.run([sys.executable, "-c", _READER, str(path),
                              json.dumps(positions.tolist())],
                             capture_output=True, text=True, check=True, timeout=300)
        seen[parts] = json.loads(out.stdout)
        assert seen[parts]["rows"] == seen[parts]["n"] == parts * 200_000
        assert seen[parts]["total"] == pytest.approx(total, rel=1e-9)
        assert seen[parts]["kept"] == kept
    whole_mb = 12 * 200_000 * 16 * 8 / 2**20  # 293 MB as numbers in memory
    peaks = {parts: (round(s["arrow_peak_mb"]), round(s["grew_mb"])) for parts, s in seen.items()}
    # What the reader allocates is a batch of 65,536 rows (8 MB) and what is read ahead, about
    # 40 MB here, the same for a table four times as large...
    assert seen[12]["arrow_peak_mb"] < 0.2 * whole_mb, peaks
    assert seen[12]["arrow_peak_mb"] < seen[3]["arrow_peak_mb"] + 16, peaks
    # ...and its process (pyarrow's threads and buffers, pandas) grows by as much for either
    # size, where a reader holding the table would grow four times as much for the larger. (By
    # 75-210 MB on the development machine, and by 927 MB for both sizes on a fresh CI
    # clone: a cost that does not depend on the table.)
    assert seen[12]["grew_mb"] < seen[3]["grew_mb"] + 60, peaks


def test_frames_pair_each_row_with_its_position(adult_folder, adult):
    scan = TableScan(adult_folder)
    positions = np.sort(np.random.default_rng(1).choice(len(adult), 20_000, replace=False))
    seen = []
    for frame, where in scan.frames(positions, ["row_id"]):
        assert len(frame) <= BATCH_ROWS
        assert frame["row_id"].tolist() == positions[where].tolist()
        seen.extend(frame["row_id"])
    assert seen == positions.tolist()


def test_a_large_table_is_split_from_the_whole_target_and_sampled(adult_folder, adult):
    dataset = load_dataset(adult_folder, target="target",
                           large=LargeOptions(in_memory_rows=4000, seed=3, test_fraction=0.2))
    sampling, stream = dataset.summary()["sampling"], dataset.stream
    assert sampling["rows"] == len(adult) and sampling["in_memory_rows"] == len(dataset.X) == 4000
    assert sampling["test_rows"] == 1000 and sampling["sample_rows"] == 3000  # test: a quarter
    assert sampling["train_rows"] == len(adult) - 1000
    # Every row held in memory is the file's row, with its own target.
    ids = dataset.X["row_id"].to_numpy()
    assert (adult["target"].to_numpy()[ids] == dataset.y.to_numpy()).all()
    train_part, test_part = dataset.split
    test_ids = ids[test_part]
    # Training rows are every labelled row but the test rows; the sample is among them.
    assert np.intersect1d(stream["train_positions"], test_ids).size == 0
    assert len(stream["train_positions"]) + len(test_ids) == len(adult)
    assert np.isin(ids[train_part], stream["train_positions"]).all()
    labels = np.asarray(dataset.classes)[stream["y_train"]]
    assert (labels == adult["target"].to_numpy()[stream["train_positions"]]).all()
    # Stratified: the test rows keep the table's class shares.
    share = (adult["target"] == dataset.classes[1]).mean()
    assert abs((dataset.y.to_numpy()[test_part] == dataset.classes[1]).mean() - share) < 0.01
    # A table that fits is read whole, as before.
    whole = load_dataset(adult_folder, target="target")
    assert whole.stream is None and len(whole.X) == len(adult)


def test_lightgbm_streamed_equals_lightgbm_fitted_in_memory(adult):
    rows = adult.iloc[:6000]
    X, y = rows.drop(columns=["target"]), rows["target"].to_numpy()
    kinds = {c: "numeric" for c in X.columns} | {"workclass": "categorical"}
    ctx = BuildContext(task="binary", kinds=kinds, n_train=len(X), seed=0, max_time=None,
                       params={})
    in_memory = get("lightgbm").build(ctx).fit(X, y)
    streamed = get("lightgbm").build(ctx).fit(X.iloc[:500], y[:500])
    head, model = streamed[:-1], streamed.steps[-1][1]

    def chunks():
        for start in range(0, len(X), 1700):
            yield head.transform(X.iloc[start:start + 1700]), y[start:start + 1700]

    # Binned as the in-memory fit bins them (its reference is the same rows): the same trees.
    model.stream_fit(chunks, y, reference=(head.transform(X), y), batch_size=1700)
    assert model.n_members_ == in_memory.steps[-1][1].n_members_
    np.testing.assert_allclose(streamed.predict_proba(X), in_memory.predict_proba(X), atol=1e-9)


def test_compare_on_a_table_read_in_batches(adult_folder, tmp_path):
    from typer.testing import CliRunner

    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "compare", str(adult_folder), "--target", "target", "--in-memory-rows", "5000",
        "--models", "logistic_regression,lightgbm,mlp", "--trials", "1", "--validation",
        "holdout", "--analyses", "none", "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    sampling = results["dataset"]["sampling"]
    assert results["dataset"]["n_rows"] == sampling["rows"] == 48_842
    models = {m["name"]: m for m in results["models"]}
    assert all(m["status"] == "ok" for m in models.values()), models
    n_validation = results["protocol"]["n_validation"]
    for name in ("lightgbm", "mlp"):  # they learn from batches: every training row...
        evaluation = models[name]["evaluation"]
        assert evaluation["streamed"] and not evaluation["sampled"]
        # ...but the validation rows, which then score the streamed model.
        assert sampling["train_rows"] == 48_842 - 1250
        assert evaluation["trained_rows"] == sampling["train_rows"] - n_validation
    sampled = models["logistic_regression"]["evaluation"]
    assert sampled["sampled"] and not sampled["streamed"]
    assert sampled["trained_rows"] < sampling["sample_rows"] == 3750  # its holdout fit
    # One set of test rows for every model, each scored once.
    assert all(m["cost"]["predict_ms_per_1k"] > 0 for m in models.values())
    assert sampling["test_rows"] == 1250
    for m in models.values():
        files = m["artifacts"]
        with np.load(out / files["predictions"]) as predictions:
            assert len(predictions["y_pred"]) == 1250
    comparison = results["test_comparison"]
    assert comparison["only_first_right"] + comparison["only_second_right"] <= 1250
    # Real learning: adult's majority class is 76% of rows.
    assert models["lightgbm"]["test"]["accuracy"] > 0.84
    assert models["mlp"]["test"]["accuracy"] > 0.80


def test_too_few_rows_in_memory_is_one_line(adult_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(adult_folder), "--in-memory-rows", "10", "--out", str(tmp_path / "no")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert "--in-memory-rows must be a whole number of at least 1000, got 10" in err
    assert not (tmp_path / "no").exists()


def test_the_models_that_learn_from_batches_declare_it():
    from nnvsml.models import REGISTRY
    from nnvsml.models.steps import final_step

    for cand in REGISTRY.values():
        if "tabular" not in cand.modalities or "binary" not in cand.tasks:
            continue
        ctx = BuildContext(task="binary", kinds={"x": "numeric"}, n_train=100, seed=0,
                           params={})
        assert cand.streams == hasattr(final_step(cand.build(ctx)), "stream_fit"), cand.name
    assert {c.name for c in REGISTRY.values() if c.streams} >= {"lightgbm", "mlp"}


def test_a_short_budget_streams_instead_of_tuning():
    from nnvsml import timing

    mode, tune, why = timing.second_stage(
        limit=60, first_fit=40, first_rows=100_000, all_rows=100_000, n_fits=2, growth=1.0,
        time_aware=True, stopped_by_time=True, sampled=False, holdout=True, trains_on=True,
        streams=True)
    assert (mode, tune) == ("stream", False) and "every training row" in why
    # Where tuning and the fits do fit, improve comes first: it streams after them.
    mode, _, _ = timing.second_stage(
        limit=3000, first_fit=10, first_rows=100_000, all_rows=100_000, n_fits=2, growth=1.0,
        time_aware=True, stopped_by_time=False, sampled=False, holdout=True, streams=True)
    assert mode == "improve"
