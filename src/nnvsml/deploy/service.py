"""``nnvsml serve``: a model behind HTTP (FastAPI on uvicorn), every prediction behind a token.

``POST /v1/predict`` takes one row, ``POST /v1/predict/batch`` up to :data:`MAX_ROWS`; both
answer ``{"predictions": [{"prediction": ..., "probabilities": {class: p}}]}`` in input order.
``GET /v1/model`` gives the schema and the model card, ``GET /health`` says it is up (no token),
``/docs`` the OpenAPI. Input that does not match the schema is a 422 naming the field; a body
over :data:`MAX_BODY_BYTES` a 413. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from nnvsml import __version__
from nnvsml.artifacts import create_private
from nnvsml.deploy.model import ColumnError, ServedModel, load
from nnvsml.errors import InputError

MAX_BODY_BYTES = 5 * 2**20
MAX_ROWS = 10_000
#: Where a generated token is kept (mode 0600), beside the signing key.
TOKEN_FILE = "serve.token"
#: How ``nnvsml serve`` hands the model to each of several worker processes.
ENV = {"source": "NNVSML_SERVE_SOURCE", "model": "NNVSML_SERVE_MODEL",
       "token": "NNVSML_SERVE_TOKEN"}

Value = str | float | int | bool | None


class Row(BaseModel):
    row: dict[str, Value] = Field(description="column -> value, as in the training table")


class Rows(BaseModel):
    rows: list[dict[str, Value]] = Field(min_length=1, max_length=MAX_ROWS)


class Prediction(BaseModel):
    prediction: Value
    probabilities: dict[str, float] | None = None


class Predictions(BaseModel):
    predictions: list[Prediction]


def create_app(model: ServedModel, token: str) -> FastAPI:
    if not token:
        raise ValueError("a token is required")
    app = FastAPI(title=f"nnvsml: {model.name}", version=__version__,
                  description=f"Predictions of {model.name} ({model.family}).")
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode()

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return JSONResponse({"detail": "send a Content-Length"}, status_code=411)
            if int(length) > MAX_BODY_BYTES:
                return JSONResponse({"detail": f"the body is over {MAX_BODY_BYTES} bytes; send "
                                     "fewer rows per request"}, status_code=413)
        return await call_next(request)

    def answer(rows: list[dict], field: str) -> Predictions:
        X = pd.DataFrame.from_records(rows)
        try:
            table = model.predict_table(X)
        except InputError as exc:
            where = ["body", field] + ([exc.column] if isinstance(exc, ColumnError) else [])
            raise HTTPException(422, [{"loc": where, "msg": str(exc),
                                       "type": "value_error"}]) from None
        return Predictions(predictions=_predictions(table))

    @app.post("/v1/predict", response_model=Predictions, dependencies=[Depends(authorised)])
    def predict_one(body: Row) -> Predictions:
        return answer([body.row], "row")

    @app.post("/v1/predict/batch", response_model=Predictions,
              dependencies=[Depends(authorised)])
    def predict_batch(body: Rows) -> Predictions:
        return answer(body.rows, "rows")

    @app.get("/v1/model", dependencies=[Depends(authorised)])
    def describe() -> dict[str, Any]:
        return {"model": model.name, "family": model.family, "schema": model.schema,
                "card": model.card}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model.name}

    return app


def _predictions(table: pd.DataFrame) -> list[Prediction]:
    proba = [c for c in table.columns if c.startswith("proba_")]
    out = []
    for record in table.to_dict("records"):
        probabilities = {c[len("proba_"):]: float(record[c]) for c in proba} or None
        out.append(Prediction(prediction=_plain(record["prediction"]),
                              probabilities=probabilities))
    return out


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def app_from_env() -> FastAPI:
    """The app of each uvicorn worker process, from what ``nnvsml serve`` put in the
    environment."""
    return create_app(load(os.environ[ENV["source"]], os.environ.get(ENV["model"]) or None),
                      os.environ[ENV["token"]])


def new_token(config_dir: Path) -> tuple[str, Path | None]:
    """A random token, and the private file it was also written to (None when it could not
    be)."""
    token = secrets.token_urlsafe(32)
    path = config_dir / TOKEN_FILE
    try:
        config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.unlink(missing_ok=True)
        create_private(path, (token + "\n").encode())
    except OSError:
        return token, None
    return token, path
