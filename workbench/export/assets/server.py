"""HTTP server for a workbench export bundle: FastAPI + onnxruntime.

Run from the bundle folder::

    uvicorn server:app --host 127.0.0.1 --port 8000

Endpoints:

- ``GET /health`` -> ``{"status": "ok", "modality": ..., "classes": [...]}``;
- ``POST /predict`` with ``{"inputs": [...]}`` (a batch: strings for text, images
  ``[C, H, W]`` / ``[H, W]`` with values in [0, 1], or feature rows ``[F]``) ->
  ``{"predictions": [{"label", "index", "probabilities"}, ...]}``.

Bad requests get a 4xx answer with ``{"detail": "..."}`` naming the problem, never a 500:
413 for a body over ``WORKBENCH_MAX_BODY_BYTES`` (default 1,000,000 bytes) or a batch over
``WORKBENCH_MAX_BATCH`` inputs (default 256); 415 for a body that is not declared JSON;
400 for a body that is not valid JSON; 422 for valid JSON of the wrong form (no ``inputs``
list, an empty batch, empty text, a wrong image shape, non-numbers, NaN).

Why FastAPI + onnxruntime and not TorchServe: TorchServe has been in limited maintenance
since March 2025 (pytorch/serve#3396; KServe is deprecating it); FastAPI, uvicorn and
onnxruntime are maintained, small, and need no PyTorch at serving time. The TorchServe
handler (``handler.py``) is kept for those who run TorchServe already.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from inference import InputError, Predictor  # noqa: E402  (the bundle's own module)

MAX_BODY_BYTES = int(os.environ.get("WORKBENCH_MAX_BODY_BYTES", "1000000"))
MAX_BATCH = int(os.environ.get("WORKBENCH_MAX_BATCH", "256"))
BUNDLE = Path(os.environ.get("WORKBENCH_BUNDLE", str(HERE)))

predictor = Predictor(BUNDLE, threads=int(os.environ.get("WORKBENCH_THREADS", "0")))
app = FastAPI(title="workbench model server", version="1")


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


@app.get("/health")
def health() -> dict[str, Any]:
    """Liveness and what the model expects."""
    return {"status": "ok", "modality": predictor.preprocess.modality,
            "classes": predictor.class_names, "max_batch": MAX_BATCH,
            "max_body_bytes": MAX_BODY_BYTES}


async def _read_body(request: Request) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            return _error(400, f"invalid Content-Length header {declared!r}")
        if size > MAX_BODY_BYTES:
            return _error(413, f"request body of {size} bytes is over the limit of "
                               f"{MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():  # also bounds chunked bodies without a length
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"request body is over the limit of {MAX_BODY_BYTES} bytes")
    return bytes(body)


@app.post("/predict")
async def predict(request: Request) -> Any:
    """A batch of raw inputs -> predictions (see the module docstring for the errors)."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        return _error(415, f"Content-Type must be application/json; got {ctype or 'none'!r}")
    body = await _read_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return _error(400, f"the body is not valid JSON: {str(exc)[:200]}")
    if not isinstance(payload, dict) or "inputs" not in payload:
        return _error(422, 'the body must be a JSON object {"inputs": [...]}')
    inputs = payload["inputs"]
    if not isinstance(inputs, list):
        return _error(422, f'"inputs" must be a list; got {type(inputs).__name__}')
    if not inputs:
        return _error(422, '"inputs" is empty; send at least one input')
    if len(inputs) > MAX_BATCH:
        return _error(413, f"{len(inputs)} inputs is over the batch limit of {MAX_BATCH}")
    try:
        predictions = await run_in_threadpool(predictor.predict, inputs)
    except InputError as exc:
        return _error(422, str(exc))
    return {"predictions": predictions}
