"""Where the Optuna studies live: an SQLite file in the run directory by default, so that a
killed run resumes its studies with its models, or any database URL Optuna accepts
(``--storage postgresql+psycopg://user@host/db``), so that several machines share them.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import optuna

from nnvsml.errors import InputError

STUDIES_FILE = "tuning.db"
#: An unreachable database server is reported after this many seconds, not after the driver's
#: own default (which can be minutes).
CONNECT_TIMEOUT = 10
#: Tries at opening a storage whose tables another process may be creating at the same moment.
CREATE_ATTEMPTS = 3
#: A running trial beats every HEARTBEAT seconds; one silent for GRACE seconds belongs to a
#: process that died (a killed run, a lost machine) and is marked failed by the next process
#: that opens the study. Another machine's live trial keeps beating and is left alone.
HEARTBEAT, GRACE = 20, 60


def default_url(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / STUDIES_FILE).resolve()}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An Optuna storage for ``url``; an unusable URL is the user's error, said in one line."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats are marked experimental in Optuna but have been stable since 2.9.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    engine_kwargs = {}
    if url.startswith(("postgresql", "mysql")):
        engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT},
                         "pool_pre_ping": True}
    elif url.startswith("sqlite"):
        # Several processes of one run may open the file: wait for a lock instead of failing.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    attempt = 0
    while True:
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                              heartbeat_interval=HEARTBEAT, grace_period=GRACE)
        except Exception as exc:  # sqlalchemy and driver errors have no common base worth naming
            attempt += 1
            # Workers opening a new database at once race to create Optuna's tables; the
            # loser's CREATE fails on a name the winner just took, and its next try finds them.
            if attempt < CREATE_ATTEMPTS and _created_beside(exc):
                time.sleep(0.2 * attempt)
                continue
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(
                f"cannot open the tuning storage {redact(url)}: {first[:200]}; check the URL, "
                "that the database server is running and reachable, and the credentials"
            ) from None


def _created_beside(exc: Exception) -> bool:
    """Whether creating the tables failed because another process was creating them."""
    text = str(exc)
    return any(sign in text for sign in ("UniqueViolation", "already exists",
                                         "duplicate key value"))


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the given URL"


def load_study(storage, name: str, direction: str, sampler, pruner) -> optuna.Study:
    """Create the study, or resume it; trials whose process died are marked failed, so they
    neither block the study nor count as done."""
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    optuna.storages.fail_stale_trials(study)
    return study
