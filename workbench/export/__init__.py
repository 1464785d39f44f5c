"""Export bundle: a trained model as a folder a user can ship (safetensors and ``.pt``
weights, ``torch.export`` program, ONNX, preprocessing, manifest with parity figures,
standalone inference, FastAPI server, TorchServe handler, Dockerfile).

Layer: above :mod:`workbench.train` (it may import config, data, models, train); nothing
in data, config or train imports it. Method card: ``workbench/export/README.md``.
"""

from workbench.export.bundle import (
    FORMATS,
    ExportError,
    default_example_inputs,
    export_bundle,
    export_trainer,
    parity,
)

__all__ = ["FORMATS", "ExportError", "default_example_inputs", "export_bundle", "export_trainer",
           "parity"]
