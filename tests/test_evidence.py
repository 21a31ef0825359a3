"""The analyses behind the evidence: their pieces on data made here, then end to end on small
real data (the full tabular run is in test_compare_e2e.py)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

import nnvsml
from nnvsml.errors import InputError
from nnvsml.evidence import ANALYSES, energy
from nnvsml.evidence.data_quality import _imbalanced, _missing, _noisy_labels, damage
from nnvsml.evidence.explanations import RawCoder, agreement, origin, shares
from nnvsml.evidence.gradients import EXPLODING, flags
from nnvsml.evidence.learning_curve import (FitMeter, _law, _smallest, cost_growth,
                                             crossing, fit_power_law)
from nnvsml.evidence.parts import Parts, lime_over_parts
from nnvsml.evidence.runner import check_analyses

import faulty


# ---- learning curves --------------------------------------------------------------------------

def points(a, b, c, sizes, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        scores = list(_law(n, a, b, c) + rng.normal(0, noise, 3))
        out.append({"size": n, "scores": scores, "mean": float(np.mean(scores)),
                    "std": float(np.std(scores))})
    return out


SIZES = [50, 100, 200, 400, 800, 1600]


def test_the_smallest_size_leaves_room_for_a_curve_even_on_a_tiny_set():
    from types import SimpleNamespace

    def smallest(rows, classes):
        return _smallest(SimpleNamespace(classes=list(range(classes)), train_rows=np.arange(rows)))

    assert smallest(40, 2) == 10  # a UCR set of 50 series, fold 1: sizes 10 ... 40
    assert smallest(31_000, 2) == 50 and smallest(8_000, 10) == 200  # a few dozen per class
    assert smallest(30, 3) == 12  # never below 4 rows per class


def test_power_law_is_recovered_from_its_own_points():
    fit = fit_power_law(points(2.0, 0.5, 0.95, SIZES))
    assert fit["b"] == pytest.approx(0.5, rel=0.05) and fit["c"] == pytest.approx(0.95, abs=0.01)
    assert fit["r2"] > 0.999
    assert fit_power_law(points(2.0, 0.5, 0.95, SIZES[:2])) is None


def block(trad, neur):
    fams = {"traditional": {"model": "lightgbm", "points": trad},
            "neural": {"model": "mlp", "points": neur}}
    for f in fams.values():
        f["fit"] = fit_power_law(f["points"])
    return {"families": fams}


def test_cost_growth_recovers_the_exponent_and_projects_ten_times_the_rows():
    sizes = [100, 200, 400, 800, 1600]
    pts = [{"size": n, "fit_seconds": 2e-5 * n ** 1.5, "fit_peak_mb": 0.01 * n}
           for n in sizes]
    growth = cost_growth(pts, available=1600)
    assert growth["time"]["exponent"] == pytest.approx(1.5, abs=1e-3)
    assert growth["time"]["at_10x"] == pytest.approx(2e-5 * 16000 ** 1.5, rel=1e-2)
    # Memory under 1 MB at the small sizes is noise: fitted over the three that reach it.
    assert growth["memory"]["exponent"] == pytest.approx(1.0, abs=1e-3)
    assert cost_growth(pts[:2], available=200) is None
    tiny = [{**p, "fit_peak_mb": 0.0} for p in pts]
    assert cost_growth(tiny, available=1600)["memory"] is None


def test_the_fit_meter_sees_memory_allocated_outside_python():
    with FitMeter() as meter:
        block = np.ones(40 * 2**20 // 8)  # 40 MB
        time.sleep(0.05)
    assert meter.peak_mb >= 35 and meter.seconds >= 0.05
    del block


def test_a_measured_crossing_lies_between_the_sizes_where_the_lead_changed():
    # Traditional flat at 0.90; the network climbs from below to above it.
    trad = [{"size": n, "scores": [0.9] * 3, "mean": 0.9, "std": 0.0} for n in SIZES]
    neur = points(3.0, 0.5, 1.0, SIZES)  # 0.576 at 50 rows ... 0.925 at 1,600
    out = crossing(block(trad, neur), True, 1600, 2000)
    assert out["status"] == "measured" and 400 <= out["low"] < out["size"] < out["high"] <= 1600
    assert out["leader_now"] == "neural"


def test_a_crossing_beyond_the_data_is_extrapolated_with_a_band():
    trad = points(0.5, 0.8, 0.90, SIZES, noise=0.002)
    neur = points(2.0, 0.4, 0.97, SIZES, noise=0.002)  # slower start, higher ceiling
    out = crossing(block(trad, neur), True, 1600, 2000)
    assert out["status"] == "extrapolated" and out["leader_now"] == "traditional"
    assert out["size"] > 1600 and out["ratio"] == pytest.approx(out["size"] / 2000)
    assert out["low"] is not None and out["low"] <= out["size"] <= out["high"]
    assert "projected to pass" in out["sentence"] and "mlp (neural)" in out["sentence"]


def test_parallel_curves_do_not_cross():
    trad = points(1.0, 0.5, 0.95, SIZES)
    neur = points(1.0, 0.5, 0.90, SIZES)
    out = crossing(block(trad, neur), True, 1600, 2000)
    assert out["status"] == "none" and out["leader_now"] == "traditional"


# ---- data quality -----------------------------------------------------------------------------

def test_label_noise_corrupts_exactly_the_share_asked_for():
    y = np.array(["a", "b", "c"] * 100)
    noisy = _noisy_labels(y, 0.2, "binary", np.random.default_rng(0))
    assert np.mean(noisy != y) == pytest.approx(0.2)


def test_imbalance_keeps_the_largest_class_and_a_share_of_the_others():
    y = np.array([0] * 500 + [1] * 300 + [2] * 200)
    keep = _imbalanced(y, 0.1, np.random.default_rng(0))
    counts = np.bincount(y[keep])
    assert counts.tolist() == [500, 30, 20]


def test_missing_values_blank_tables_pixels_and_words():
    class Ctx:
        kinds = {"x": "numeric", "c": "categorical"}
        modality = "tabular"

    df = pd.DataFrame({"x": np.arange(1000.0), "c": ["u", "v"] * 500})
    out = _missing(df, 0.3, Ctx, np.random.default_rng(0))
    assert out["x"].isna().mean() == pytest.approx(0.3, abs=0.05)
    assert df["x"].notna().all()  # the original is untouched
    Ctx.modality = "image"
    images = np.full((50, 8, 8, 1), 200, dtype=np.uint8)
    blanked = _missing(images, 0.1, Ctx, np.random.default_rng(0))
    assert blanked.dtype == np.uint8 and (blanked == 0).mean() == pytest.approx(0.1, abs=0.03)


def test_irrelevant_columns_are_added_to_both_sides_with_their_kinds():
    class Ctx:
        kinds = {"x": "numeric", "y": "numeric"}

    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    Xt, yt, Xe, ye, kinds = damage("irrelevant", 1.0, df, np.array([0, 1]), df, np.array([0, 1]),
                                   Ctx, np.random.default_rng(0))
    assert list(Xt.columns) == ["x", "y", "random_0", "random_1"] == list(Xe.columns)
    assert kinds["random_1"] == "numeric"


# ---- gradients --------------------------------------------------------------------------------

def test_gradient_flags_follow_the_stated_thresholds():
    layers = ["first", "middle", "last"]
    norms = [[1e-3, 1e-8], [0.5, 0.4], [1.0, 2.0]]
    max_norms = [[1e-3, 1e-8], [0.5, 0.4], [1.0, EXPLODING * 2]]
    out = flags(layers, norms, max_norms)
    assert out == {"vanishing": ["first"], "exploding": ["last"]}
    assert flags(layers, [[1.0]] * 3, [[float("nan")]] * 3)["exploding"] == layers


def test_gradient_norms_are_recorded_per_layer_and_epoch():
    from nnvsml.models.neural import TabularNetClassifier
    from nnvsml.models.neural.callbacks import GradientNorms

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    y = (X["a"] + X["b"] > 0).astype(int).to_numpy()
    recorder = GradientNorms()
    net = TabularNetClassifier(max_epochs=4, patience=10, grad_clip=None, early_stopping=False,
                               callbacks=[("norms", recorder)]).fit(X, y)
    assert net.n_epochs_ == 4 and net.stopped_by_ == "max_epochs"
    assert len(recorder.layers_) >= 3 and all(len(n) == 4 for n in recorder.norms_)
    assert all(0 < v < 100 for n in recorder.norms_ for v in n)
    assert all(m >= n for ms, ns in zip(recorder.max_norms_, recorder.norms_)
               for m, n in zip(ms, ns))


# ---- explanations -----------------------------------------------------------------------------

def test_encoded_features_trace_back_to_their_raw_column():
    cols = ["age", "workclass", "hours_per_week", "hours"]
    assert origin("cat__workclass_Private", cols) == "workclass"
    assert origin("num__hours_per_week", cols) == "hours_per_week"
    assert origin("num__missingindicator_age", cols) == "age"
    assert origin("remainder__unknown", cols) is None


def test_raw_coder_round_trips_categories_numbers_and_gaps():
    df = pd.DataFrame({"n": [1.5, np.nan, 3.0], "c": ["x", None, "y"]})
    coder = RawCoder(df, ["n", "c"])
    back = coder.decode(coder.encode(df))
    assert back["c"].iloc[0] == "x" and back["c"].iloc[2] == "y" and pd.isna(back["c"].iloc[1])
    assert back["n"].iloc[0] == 1.5 and math.isnan(back["n"].iloc[1])


def test_agreement_and_shares():
    a = shares({"x": 3.0, "y": 1.0, "z": -0.5, "w": 0.0})
    assert list(a) == ["x", "y", "z", "w"] and sum(a.values()) == pytest.approx(1.0)
    same = agreement({"traditional": a, "neural": dict(a)})
    assert same["spearman"] == pytest.approx(1.0) and same["top_k_overlap"] == pytest.approx(0.8)
    flipped = agreement({"traditional": a, "neural": {k: -v for k, v in a.items()}})
    assert flipped["spearman"] == pytest.approx(-1.0)


# ---- energy and options -----------------------------------------------------------------------

def test_parts_remove_segments_to_the_average_and_keep_padding():
    parts = Parts.time_segments((2, 10), segments=5)
    assert len(parts) == 5 and parts.names[0] == "steps 0-1" and parts.names[-1] == "steps 8-9"
    X_train = np.stack([np.full((2, 10), 1.0), np.full((2, 10), 3.0)])
    X_train[0, :, 8:] = np.nan  # a shorter series: the mean there is the other one's
    reference = parts.reference(X_train)
    assert reference[0, 0] == 2.0 and reference[0, 9] == 3.0
    x = np.arange(20, dtype=np.float32).reshape(2, 10)
    x[:, 9] = np.nan  # padding
    out = parts.apply(x, np.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1]]), reference)
    assert out.shape == (2, 2, 10)
    np.testing.assert_array_equal(out[1], x)
    assert (out[0, :, 2:4] == 2.0).all() and out[0, 0, 8] == 3.0 and np.isnan(out[0, 0, 9])
    np.testing.assert_array_equal(out[0, :, :2], x[:, :2])
    # Per-part values spread onto the time steps keep their total.
    dense = parts.spread(np.array([1.0, 0, 0, 0, 2.0]))
    assert dense.shape == (10,) and dense.sum() == pytest.approx(3.0) and dense[9] == 1.0
    grid = Parts.spectrogram((40, 59))
    assert len(grid) == 32 and grid.names[0] == "mel 0-9, frames 0-6"
    assert grid.masks.sum(axis=0).min() == 1 == grid.masks.sum(axis=0).max()


def test_lime_over_parts_weights_the_part_that_decides():
    # The "model" says class 1 exactly when part 2 is kept.
    predict = lambda c: np.stack([1 - c[:, 2], c[:, 2]], axis=1)  # noqa: E731
    weights, fit = lime_over_parts(predict, 6, label=1, seed=0)
    assert max(weights, key=lambda j: abs(weights[j])) == 2 and weights[2] > 0.5
    assert fit > 0.9


def test_energy_follows_the_stated_power_model():
    results = {"models": [{"name": "m", "family": "traditional", "status": "ok", "cost": {
        "fit_seconds": 10.0, "cpu_seconds": 20.0, "peak_memory_mb": 1024.0,
        "predict_ms_per_1k": 100.0, "predict_cpu_ms_per_1k": 200.0}}]}
    out = energy.estimate(results)
    row = out["models"][0]
    expected = (20.0 * energy.CPU_WATTS_PER_CORE + 1.0 * energy.MEMORY_WATTS_PER_GB * 10.0) / 3600
    assert row["fit_wh"] == pytest.approx(expected)
    assert row["fit_g_co2"] == pytest.approx(expected / 1000 * energy.GRID_G_CO2_PER_KWH)
    assert row["predict_wh_per_1k"] < row["fit_wh"]
    assert "W per busy core" in out["power_model"]["text"]


def test_analyses_option():
    assert check_analyses("all") == list(ANALYSES) and check_analyses("none") == []
    assert check_analyses(["gradients,energy"]) == ["energy", "gradients"]
    with pytest.raises(InputError, match="did you mean 'learning_curve'"):
        check_analyses("learning_curves")


# ---- end to end -------------------------------------------------------------------------------

def test_a_hanging_analysis_is_cut_and_a_failing_fit_recorded(tmp_path, cancer_df):
    result = nnvsml.compare(cancer_df, target="diagnosis", budget=10, out=tmp_path / "run",
                            search="none", cv_folds=3, models=[faulty.SMALL_DATA_HANG],
                            analyses="learning_curve,data_quality,energy", analysis_budget=16)
    ev = result.results["evidence"]
    assert ev["models"] == {"traditional": "small_data_hang"}
    assert ev["learning_curve"]["status"] == "timeout"
    assert "time limit" in ev["learning_curve"]["reason"]
    # The learning curves run last, with what the others left of the 16 s, and are cut there.
    assert ev["learning_curve"]["seconds"] < 16.5
    # One damaged fit that fails is recorded with its reason; the rest of the analysis stands.
    dq = ev["data_quality"]
    assert dq["status"] == "ok" and ev["energy"]["status"] == "ok"
    missing = dq["perturbations"]["missing"]
    assert missing["families"]["traditional"]["scores"][1:] == [None, None]
    assert "NaN" in missing["errors"]["traditional"]
    assert None not in dq["perturbations"]["label_noise"]["families"]["traditional"]["scores"]
    assert "gradients" not in ev
    # The verdict still stands, and says what the missing evidence would take.
    rows = {r["dimension"]: r for r in result.verdict["key_differences"]}
    assert rows["data_needed"]["traditional"] == "not measured"
    assert json.loads((result.run_dir / "results.json").read_text())["status"] == "complete"

