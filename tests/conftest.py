from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def cancer_df() -> pd.DataFrame:
    """569 real rows, 30 numeric features, binary target named 'diagnosis'."""
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns={"target": "diagnosis"})
    df["diagnosis"] = df["diagnosis"].map({0: "malignant", 1: "benign"})
    return df


@pytest.fixture(scope="session")
def cancer_csv(tmp_path_factory, cancer_df) -> Path:
    path = tmp_path_factory.mktemp("data") / "cancer.csv"
    cancer_df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def results_follow_their_schema():
    """Every results.json the suite writes (in this process) is checked against
    nnvsml/schema/results.schema.json right after it is written: a violation fails the test
    that wrote it, naming the keys at fault."""
    from nnvsml.results import RunStore
    from nnvsml.schema import validate

    save = RunStore.save

    def save_and_validate(self, *args, **kwargs):
        out = save(self, *args, **kwargs)
        validate(json.loads(self.path.read_text(encoding="utf-8")))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RunStore, "save", save_and_validate)
        yield


@pytest.fixture(scope="session", autouse=True)
def private_signing_key(tmp_path_factory):
    """The suite signs run directories with a key of its own, not the user's (and the commands
    it starts as subprocesses inherit it)."""
    import os

    from nnvsml import artifacts

    home = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home))
        artifacts._key.cache_clear()
        yield home
    artifacts._key.cache_clear()
    assert os.environ.get("XDG_CONFIG_HOME") != str(home)
