"""Files copied verbatim into every export bundle (not imported by :mod:`workbench`).

- ``inference.py``: standalone inference on the ONNX model (NumPy + onnxruntime only);
- ``server.py``: the FastAPI + onnxruntime HTTP server;
- ``handler.py``: the TorchServe handler (runs ``model.pt2``).
"""
