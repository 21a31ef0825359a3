"""The one owner of time: deadline budgets, the plans made from measured seconds, and deadlines
that never interrupt an import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from nnvsml import timing
from nnvsml.timing import TimeBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_budget_shares_splits_and_caps_what_is_left():
    clock = Clock()
    budget = TimeBudget(60, clock=clock)
    clock.now += 20
    assert budget.remaining() == pytest.approx(40)
    assert budget.share(0.25).remaining() == pytest.approx(10)
    assert budget.share(0.01, floor=5).remaining() == pytest.approx(5)
    assert budget.share(0.01, floor=500).remaining() == pytest.approx(40)  # never more than left
    parts = budget.split({"a": 1, "b": 3})
    assert parts["a"].remaining() == pytest.approx(10) and parts["b"].remaining() == pytest.approx(30)
    assert budget.until(5).remaining() == pytest.approx(5)
    assert budget.less(15).remaining() == pytest.approx(25)
    clock.now += 50
    assert budget.expired() and budget.remaining() == 0.0
    assert not TimeBudget(None).bounded and TimeBudget(None).remaining() == float("inf")


def test_a_process_is_stopped_after_its_limit_or_its_measured_end_never_after_the_most():
    assert timing.stop_after(10, 30, None) == 10 + timing.GRACE_SECONDS
    assert timing.stop_after(10, 30, 20) == 20 + timing.GRACE_SECONDS
    assert timing.stop_after(10, 30, 5) == 10 + timing.GRACE_SECONDS
    assert timing.stop_after(10, 12, 20) == 12


def test_first_fit_limits_share_the_securing_time_and_keep_the_rests_parts():
    limit, most = timing.first_fit_limits(secure_left=20, family_left=50, candidates_left=4)
    assert limit == pytest.approx(5)
    assert most == pytest.approx(50 - 3 * 5)  # the three still to secure keep their parts
    # Parts under the floor: the floor is kept.
    _, most = timing.first_fit_limits(secure_left=2, family_left=50, candidates_left=4)
    assert most == pytest.approx(50 - 3 * timing.SECURE_FLOOR)
    assert timing.first_fit_limits(0, 10, 1) == (0.0, 10)


def test_a_first_fit_that_runs_long_leaves_the_next_ones_their_parts():
    from nnvsml.protocol.budget import Budget

    budget = Budget(1000, ["traditional", "neural"], clock=lambda: 0.0)
    first, _ = budget.first_fit_limits("traditional", 4)
    budget.record("traditional", 5 * first, securing=True, part=first)  # ran five times its part
    second, most = budget.first_fit_limits("traditional", 3)
    assert second == pytest.approx(first)
    assert most == pytest.approx(budget.family_left("traditional") - 2 * second)


def test_the_second_stage_follows_what_the_first_fit_measured():
    common = dict(first_rows=400, all_rows=500, n_fits=6, growth=1.0)
    # A cheap model: the folds fit easily.
    mode, tune, _ = timing.second_stage(limit=60, first_fit=0.5, time_aware=False,
                                        stopped_by_time=False, sampled=False, **common)
    assert mode == "improve" and tune
    # Folds fit, but five trials beside them do not: cross-validated untuned.
    mode, tune, _ = timing.second_stage(limit=6, first_fit=0.5, time_aware=False,
                                        stopped_by_time=False, sampled=False, **common)
    assert mode == "improve" and not tune
    # A network its first fit's clock stopped: six fits of a fraction of that would train less.
    mode, _, why = timing.second_stage(limit=20, first_fit=8, time_aware=True,
                                       stopped_by_time=True, sampled=False, **common)
    assert mode == "again" and "longer fit" in why
    mode, _, why = timing.second_stage(limit=20, first_fit=8, time_aware=True,
                                       stopped_by_time=True, sampled=False, trains_on=True,
                                       **common)
    assert mode == "again" and "trains on" in why
    # Nothing fits: the first result stands, and the reason says why.
    mode, _, why = timing.second_stage(limit=3, first_fit=8, time_aware=False,
                                       stopped_by_time=False, sampled=False, **common)
    assert mode is None and "folds need" in why
    # Under holdout there are no folds: what did not fit is tuning, and the reason says so.
    mode, _, why = timing.second_stage(limit=20, first_fit=8, time_aware=True,
                                       stopped_by_time=False, sampled=False, holdout=True,
                                       **common)
    assert mode is None and "tuning" in why and "folds" not in why
    # Across folds, a fold's fit too short to match the first fit's training.
    mode, _, why = timing.second_stage(limit=20, first_fit=8, time_aware=True,
                                       stopped_by_time=False, sampled=False, **common)
    per, need = (float(w.split(" s")[0]) for w in why.split("each fit ")[1].split("the ")[:2])
    assert mode is None and per < need
    # A sampled model whose folds cannot fit grows its sample instead.
    mode, _, _ = timing.second_stage(limit=10, first_fit=2, first_rows=500, all_rows=50_000,
                                  n_fits=6, growth=1.0, time_aware=False,
                                  stopped_by_time=False, sampled=True)
    assert mode == "again"
    # Under holdout a network its clock stopped trains on from its first fit, even for little.
    mode, _, why = timing.second_stage(limit=8, first_fit=10, first_rows=400, all_rows=400,
                                       n_fits=1, growth=1.0, time_aware=True,
                                       stopped_by_time=True, sampled=False, holdout=True,
                                       trains_on=True)
    assert mode == "again" and "trains on" in why
    # ... and a model that converged there has nothing to add without tuning.
    mode, _, why = timing.second_stage(limit=8, first_fit=4, first_rows=400, all_rows=400,
                                       n_fits=1, growth=1.0, time_aware=False,
                                       stopped_by_time=False, sampled=False, holdout=True)
    assert mode is None and "holdout" in why
    assert timing.second_stage(limit=float("inf"), first_fit=100, time_aware=False,
                               stopped_by_time=False, sampled=False, **common)[0] == "improve"


def test_growth_is_measured_from_two_fits_once_they_are_long_enough():
    assert timing.growth_exponent([(1000, 1.0)], default=1.0) == 1.0
    assert timing.growth_exponent([(1000, 1.0), (2000, 4.0)], default=1.0) == pytest.approx(2.0)
    assert timing.growth_exponent([(1000, 0.01), (2000, 0.04)], default=1.0) == 1.0  # too short


class Deadline(Exception):
    pass


def test_a_deadline_during_an_import_waits_for_the_import_to_end(tmp_path, monkeypatch):
    (tmp_path / "slow_module_for_deadline.py").write_text(textwrap.dedent("""
        import time
        time.sleep(0.6)
        DONE = True
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    started = time.monotonic()
    with pytest.raises(Deadline):
        with timing.alarm(0.1, Deadline):
            import slow_module_for_deadline  # noqa: F401
            while True:  # the deadline is due: it fires as soon as the import is done
                time.sleep(0.01)
    assert sys.modules["slow_module_for_deadline"].DONE
    assert time.monotonic() - started >= 0.6


def test_a_deadline_outside_an_import_fires_on_time():
    started = time.monotonic()
    with pytest.raises(Deadline):
        with timing.alarm(0.1, Deadline):
            time.sleep(5)
    assert time.monotonic() - started < 1.0


@pytest.mark.slow
def test_a_deadline_during_torchs_first_optimiser_imports_then_a_network_trains():
    """The defect of an earlier run: a deadline fired inside ``import torch._dynamo`` (which
    torch's first optimiser triggers), left sympy half-imported, and every later network in the
    process failed. In a fresh interpreter, the deadline now falls in that import and the
    network trains afterwards."""
    script = textwrap.dedent("""
        import sys, time
        import torch
        assert "torch._dynamo" not in sys.modules, "the test needs the import still to do"
        from nnvsml import timing

        class Deadline(Exception):
            pass

        try:
            with timing.alarm(0.05, Deadline):
                import torch._dynamo  # about a second of imports; the deadline falls inside
                time.sleep(10)
            raise SystemExit("the deadline never fired")
        except Deadline:
            pass
        import sympy
        assert hasattr(sympy, "printing"), "sympy was left half-imported"

        from sklearn.datasets import load_breast_cancer
        from nnvsml.models import BuildContext, get
        df = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
        X, y = df.drop(columns="target"), df["target"].to_numpy()
        kinds = {c: "numeric" for c in X.columns}
        # The network whose training failed then (ft_transformer) fits and predicts; the MLP
        # shows that training still learns.
        for name, epochs in (("ft_transformer", 2), ("mlp", 30)):
            est = get(name).build(BuildContext(task="binary", kinds=kinds, n_train=400))
            est[-1].set_params(max_epochs=epochs)
            est.fit(X[:400], y[:400])
            accuracy = (est.predict(X[400:]) == y[400:]).mean()
            assert name != "mlp" or accuracy > 0.85, (name, accuracy)
        print("trained")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained" in done.stdout
