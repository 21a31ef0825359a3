"""``nnvsml serve``: a model behind HTTP (FastAPI on uvicorn), every prediction behind a token.

``POST /v1/predict`` takes one example, ``POST /v1/predict/batch`` up to :data:`MAX_ROWS`, in
the body of the model's modality (:mod:`.requests`: a table row, an image, a text, a series, a
WAV clip; a table may also be uploaded as a CSV or Parquet file); both answer
``{"predictions": [{"prediction": ..., "probabilities": {class: p}}]}`` in input order.
``GET /v1/model`` gives the schema (its ``request`` says what to send) and the model card,
``GET /health`` says it is up (no token), ``/docs`` the OpenAPI. Input the model cannot take is
a 422 naming the field; a body over :data:`MAX_BODY_BYTES` a 413. Tokens are compared in
constant time.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from nnvsml import __version__
from nnvsml.artifacts import create_private
from nnvsml.deploy.model import ANOMALY_SCORE, ColumnError, ServedModel, check_table, load
from nnvsml.deploy.requests import MAX_ROWS  # noqa: F401  (documented here, kept there)
from nnvsml.deploy.requests import BODIES, Row, Rows, Value, examples, read_upload
from nnvsml.errors import InputError

MAX_BODY_BYTES = 5 * 2**20
#: Where a generated token is kept (mode 0600), beside the signing key.
TOKEN_FILE = "serve.token"
#: How ``nnvsml serve`` hands the model to each of several worker processes.
ENV = {"source": "NNVSML_SERVE_SOURCE", "model": "NNVSML_SERVE_MODEL",
       "token": "NNVSML_SERVE_TOKEN", "runtime": "NNVSML_SERVE_RUNTIME"}
#: The batch endpoint of a table model reads its body itself (JSON rows or a file), so its
#: OpenAPI says what it takes.
TABLE_BATCH_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": Rows.model_json_schema()},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "a CSV or Parquet table"}}}}}}}


class Prediction(BaseModel):
    prediction: Value
    probabilities: dict[str, float | None] | None = None
    #: An anomaly detector's score of the row (higher: more anomalous); its prediction is 1
    #: for a flagged row.
    anomaly_score: float | None = None


class Predictions(BaseModel):
    predictions: list[Prediction]


def refused(message: str, where: tuple) -> HTTPException:
    """A 422 in FastAPI's own shape, locating the value at fault in the body."""
    return HTTPException(422, [{"loc": ["body", *where], "msg": message, "type": "value_error"}])


def create_app(model: ServedModel, token: str) -> FastAPI:
    if not token:
        raise ValueError("a token is required")
    app = FastAPI(title=f"nnvsml: {model.name}", version=__version__,
                  description=f"Predictions of {model.name} ({model.family}); "
                  f"GET /v1/model says what to send.")
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode()

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = {"response_model": Predictions, "dependencies": [Depends(authorised)]}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, which fails to render when it holds NaN or
        # Infinity (Python's JSON reads them): where and what only.
        return JSONResponse({"detail": [{k: e[k] for k in ("type", "loc", "msg") if k in e}
                                        for e in exc.errors()]}, status_code=422)

    app.add_middleware(BodyLimit)

    def answer_table(X: pd.DataFrame | dict, field: str) -> Response:
        try:
            if isinstance(X, dict):
                return _answer(*model.outputs_row(X))
            check_table(model.schema, X)
            return _answer(*model.outputs(X))
        except InputError as exc:
            raise refused(str(exc), (field, exc.column) if isinstance(exc, ColumnError)
                          else (field,)) from None

    def answer(body: BaseModel, many: bool) -> Response:
        try:
            X = examples(model.schema, body, many)
        except InputError as exc:
            raise refused(str(exc), getattr(exc, "loc", ())) from None
        return _answer(*model.outputs(X))

    if model.schema.get("modality", "tabular") == "tabular":
        @app.post("/v1/predict", **guarded)
        def predict_row(body: Row) -> Response:
            return answer_table(body.row, "row")

        @app.post("/v1/predict/batch", **guarded, openapi_extra=TABLE_BATCH_OPENAPI)
        async def predict_rows(request: Request) -> Response:
            X, field = await _table_batch(request, model.schema.get("target"))
            return await run_in_threadpool(answer_table, X, field)
    else:
        one, several = BODIES[model.schema["modality"]]

        def predict_one(body) -> Response:
            return answer(body, many=False)

        def predict_batch(body) -> Response:
            return answer(body, many=True)

        # The body's model depends on the modality, so it is given here, not in the source.
        predict_one.__annotations__["body"] = one
        predict_batch.__annotations__["body"] = several
        app.post("/v1/predict", **guarded)(predict_one)
        app.post("/v1/predict/batch", **guarded)(predict_batch)

    @app.get("/v1/model", dependencies=guarded["dependencies"])
    def describe() -> dict[str, Any]:
        return {"model": model.name, "family": model.family, "runtime": model.runtime,
                "schema": model.schema, "card": model.card}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model.name, "runtime": model.runtime}

    return app


class BodyLimit:
    """A POST must say its length, at most :data:`MAX_BODY_BYTES`: 411 or 413 before the body
    is read. Plain ASGI: Starlette's ``BaseHTTPMiddleware`` cost a fifth of a served row."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            length = dict(scope["headers"]).get(b"content-length")
            refusal = None
            if length is None or not length.isdigit():
                refusal = JSONResponse({"detail": "send a Content-Length"}, status_code=411)
            elif int(length) > MAX_BODY_BYTES:
                refusal = JSONResponse({"detail": f"the body is over {MAX_BODY_BYTES} bytes; "
                                        "send fewer rows per request"}, status_code=413)
            if refusal is not None:
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


async def _table_batch(request: Request, target: str | None) -> tuple[pd.DataFrame, str]:
    """The rows of a table model's batch request: a CSV or Parquet file in the multipart field
    ``file``, or JSON ``{"rows": [...]}``."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise refused("send the table as a file in the multipart field 'file'", ("file",))
            data = await upload.read()
        try:
            table = await run_in_threadpool(read_upload, data)
        except InputError as exc:
            raise refused(str(exc), getattr(exc, "loc", ("file",))) from None
        return (table.drop(columns=target) if target in table.columns else table), "file"
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise HTTPException(422, [{"loc": ["body", getattr(exc, "pos", 0)],
                                   "msg": "JSON decode error", "type": "json_invalid"}]) from None
    try:
        rows = Rows.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                                  for e in exc.errors()]) from None
    return pd.DataFrame.from_records(rows.rows), "rows"


def _answer(labels: np.ndarray, proba: np.ndarray | None, classes: list) -> Response:
    """The body of :class:`Predictions`, written straight from the arrays: validating the
    answer through its pydantic model cost more than the model's prediction."""
    names = [str(c) for c in classes]
    predictions = []
    if names == [ANOMALY_SCORE]:
        return Response(json.dumps({"predictions": [
            {"prediction": _finite(label), ANOMALY_SCORE: _finite(float(score))}
            for label, score in zip(labels.tolist(), proba[:, 0].tolist())]}, allow_nan=False),
            media_type="application/json")
    for i, label in enumerate(labels.tolist()):
        # A NaN probability (a network fed values far outside its training range) is null:
        # JSON has no NaN, and a 500 would hide the other rows' answers.
        probabilities = (None if proba is None else
                         {n: _finite(p) for n, p in zip(names, proba[i].tolist())})
        predictions.append({"prediction": _finite(label), "probabilities": probabilities})
    return Response(json.dumps({"predictions": predictions}, allow_nan=False),
                    media_type="application/json")


def _finite(value):
    if isinstance(value, np.generic):  # an object array's labels stay numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def app_from_env() -> FastAPI:
    """The app of each uvicorn worker process, from what ``nnvsml serve`` put in the
    environment."""
    return create_app(load(os.environ[ENV["source"]], os.environ.get(ENV["model"]) or None,
                           os.environ.get(ENV["runtime"]) or "native"),
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
