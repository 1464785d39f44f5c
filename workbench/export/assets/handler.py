"""TorchServe handler for a workbench export bundle (runs ``model.pt2``, the torch.export
program, so TorchServe needs no model class).

TorchServe calls the module-level :func:`handle` (``data``: a list of requests, each a dict
whose ``"data"`` or ``"body"`` holds JSON bytes or a decoded object; ``context``: its
``Context``, of which ``system_properties["model_dir"]`` is used). One request carries one
input (a string, an image ``[C, H, W]`` / ``[H, W]`` in [0, 1], or a feature row) or
``{"inputs": [...]}`` with several; the answer per request is the list of
``{"label", "index", "probabilities"}`` dicts for its inputs.

Build and serve (the bundle's README has the same commands)::

    torch-model-archiver --model-name workbench --version 1.0 --serialized-file model.pt2 \
        --handler handler.py --extra-files inference.py,preprocess.json --export-path model_store
    torchserve --start --ncs --model-store model_store --models workbench=workbench.mar \
        --ts-config config.properties --disable-token-auth

Note: TorchServe has been in limited maintenance since March 2025 (pytorch/serve#3396);
``server.py`` (FastAPI + onnxruntime) is the maintained serving path.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch


class WorkbenchHandler:
    """initialize / preprocess / inference / postprocess, as TorchServe's BaseHandler."""

    def __init__(self) -> None:
        self.initialized = False
        self.model: Any = None
        self.preprocessor: Any = None
        self._counts: list[int] = []

    def initialize(self, context: Any) -> None:
        """Load ``model.pt2`` (``torch.export.load``) and ``preprocess.json`` from the model dir."""
        model_dir = Path(context.system_properties.get("model_dir", "."))
        if str(model_dir) not in sys.path:
            sys.path.insert(0, str(model_dir))
        from inference import Preprocessor, load_spec  # the bundle's standalone module

        self.preprocessor = Preprocessor(load_spec(model_dir))
        self.model = torch.export.load(str(model_dir / "model.pt2")).module()
        self.initialized = True

    @staticmethod
    def _decode(row: Any) -> Any:
        value = row.get("data", row.get("body")) if isinstance(row, dict) else row
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8")
            with contextlib.suppress(ValueError):  # else plain text
                value = json.loads(value)
        return value

    def preprocess(self, data: list[Any]) -> torch.Tensor:
        """Requests -> one model input tensor (all requests' inputs in one batch)."""
        inputs: list[Any] = []
        self._counts = []
        for row in data:
            value = self._decode(row)
            items = value["inputs"] if isinstance(value, dict) and "inputs" in value else [value]
            self._counts.append(len(items))
            inputs.extend(items)
        return torch.from_numpy(self.preprocessor(inputs))

    def inference(self, x: torch.Tensor) -> torch.Tensor:
        """Model input -> float32 logits ``[B, num_classes]``."""
        with torch.no_grad():
            return self.model(x)

    def postprocess(self, logits: torch.Tensor) -> list[list[dict[str, Any]]]:
        """Logits -> per request, the list of ``{"label", "index", "probabilities"}``."""
        z = logits.double().numpy()
        z = z - z.max(axis=1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        names = self.preprocessor.class_names
        preds = [{"label": names[int(p.argmax())], "index": int(p.argmax()),
                  "probabilities": {n: float(v) for n, v in zip(names, p)}} for p in probs]
        out, start = [], 0
        for n in self._counts:
            out.append(preds[start:start + n])
            start += n
        return out

    def handle(self, data: list[Any], context: Any) -> list[list[dict[str, Any]]]:
        return self.postprocess(self.inference(self.preprocess(data)))


_service = WorkbenchHandler()


def handle(data: list[Any] | None, context: Any) -> list[Any] | None:
    """TorchServe's entry point."""
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
