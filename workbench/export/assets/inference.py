"""Standalone inference for a workbench export bundle: NumPy + onnxruntime only.

This file imports nothing but the Python standard library, NumPy and (in
:class:`Predictor`) onnxruntime, the packages in the bundle's ``requirements.txt``. The
preprocessing is rebuilt from ``preprocess.json``: for text, the same regular-expression
tokenizer as ``workbench.data.text.tokenize`` (the pattern is stored in the file), the
training vocabulary, truncation to ``max_length`` and right padding with ``pad_id`` to at
least ``min_length`` tokens; for images and feature rows, ``(x - mean) / std`` per channel
or feature in float64 (as ``workbench.data.collate``), returned as float32.

Usage (from the bundle folder)::

    python inference.py "a gripping , well-made film ." "the film opens in 1962 ."
    python inference.py --array digits.npy        # images [N, C, H, W] / [C, H, W] / [H, W]
    python inference.py --json '[[0.1, 2.3, ...]]'  # one feature row (tabular) or image per item

Each input prints one JSON line ``{"label": ..., "index": ..., "probabilities": {name: p}}``.
Probabilities are the softmax of the model's logits (float64).

Exit codes: 0 on success, 2 for bad input (the message names the problem).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


class InputError(ValueError):
    """An input that cannot be turned into a model input (empty text, wrong shape, ...)."""


class Preprocessor:
    """Raw inputs -> the model's input array, from a ``preprocess.json`` dict.

    Args:
        spec: the parsed ``preprocess.json``.

    Raises:
        ValueError: if ``spec["modality"]`` is not ``"text"``, ``"vision"`` or ``"tabular"``.
    """

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.modality = spec["modality"]
        if self.modality not in ("text", "vision", "tabular"):
            raise ValueError(f"preprocess.json: unknown modality {self.modality!r}")
        self.class_names = [str(c) for c in spec["class_names"]]
        if self.modality == "text":
            tok = spec["tokenizer"]
            self._token_re = re.compile(tok["pattern"])
            self.lowercase = bool(tok["lowercase"])
            self.stoi = {t: i for i, t in enumerate(spec["vocab"])}
            self.unk_id = int(spec["unk_id"])
            self.pad_id = int(spec["pad_id"])
            self.max_length = spec["max_length"]
            self.min_length = int(spec["min_length"])
        else:
            self.input_shape = tuple(int(s) for s in spec["input_shape"])
            mean, std = spec.get("mean"), spec.get("std")
            self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
            self.std = None if std is None else np.asarray(std, dtype=np.float64)
            if self.modality == "vision" and self.mean is not None:
                self.mean, self.std = self.mean[:, None, None], self.std[:, None, None]

    # ------------------------------------------------------------------ text
    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text`` (identical to ``workbench.data.text.tokenize``)."""
        if self.lowercase:
            text = text.lower()
        return [m.group(0) for m in self._token_re.finditer(text)]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (unknown tokens -> ``unk_id``), truncated to ``max_length``."""
        ids = [self.stoi.get(t, self.unk_id) for t in self.tokenize(text)]
        return ids if self.max_length is None else ids[: int(self.max_length)]

    def _texts(self, inputs: list[Any]) -> np.ndarray:
        seqs = []
        for i, text in enumerate(inputs):
            if not isinstance(text, str):
                raise InputError(f"input {i}: expected a string of text; got {type(text).__name__}")
            ids = self.encode(text)
            if not ids:
                raise InputError(f"input {i}: the text is empty (no tokens)")
            seqs.append(ids)
        width = max(self.min_length, max(len(s) for s in seqs))
        out = np.full((len(seqs), width), self.pad_id, dtype=np.int64)
        for row, s in enumerate(seqs):
            out[row, : len(s)] = s
        return out

    # ------------------------------------------------------------------ arrays
    def _image(self, x: np.ndarray, i: int) -> np.ndarray:
        c, h, w = self.input_shape
        given = list(x.shape)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[0] not in (1, 3) or x.shape[1:] != (h, w):
            raise InputError(f"input {i}: image has shape {given}; expected [{c}, {h}, {w}] "
                             f"(or [{h}, {w}] for grey-scale)")
        if x.shape[0] != c:
            if c == 3:  # grey -> RGB
                x = np.repeat(x, 3, axis=0)
            else:  # RGB -> luma, ITU-R BT.601 (as PIL's convert("L"))
                x = (x * np.array([0.299, 0.587, 0.114])[:, None, None]).sum(axis=0, keepdims=True)
        return x

    def _arrays(self, inputs: Any) -> np.ndarray:
        rows = []
        for i, item in enumerate(inputs):
            try:
                x = np.asarray(item)
                if x.dtype == np.uint8:
                    x = x.astype(np.float64) / 255.0
                else:
                    x = x.astype(np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise InputError(f"input {i}: not an array of numbers ({exc})") from None
            if not np.isfinite(x).all():
                raise InputError(f"input {i}: holds NaN or infinite values")
            if self.modality == "vision":
                x = self._image(x, i)
            elif x.shape != self.input_shape:
                raise InputError(f"input {i}: feature row has shape {list(x.shape)}; "
                                 f"expected {list(self.input_shape)}")
            rows.append(x)
        x = np.stack(rows)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return np.ascontiguousarray(x, dtype=np.float32)

    def __call__(self, inputs: Any) -> np.ndarray:
        """A batch of raw inputs -> the model input (int64 ``[B, L]`` or float32 ``[B, ...]``).

        Args:
            inputs: a list of strings (text), or a list / array of images ``[C, H, W]`` or
                ``[H, W]`` with values in [0, 1] (``uint8`` is divided by 255), or of
                feature rows ``[F]``.

        Raises:
            InputError: an empty batch, empty text, a wrong shape, a non-number, NaN.
        """
        if isinstance(inputs, (str, bytes)) or len(inputs) == 0:
            raise InputError("inputs must be a non-empty list")
        return self._texts(list(inputs)) if self.modality == "text" else self._arrays(inputs)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64: ``[B, C]`` -> probabilities ``[B, C]`` (rows sum to 1)."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_spec(bundle: str | Path = HERE) -> dict[str, Any]:
    """The bundle's ``preprocess.json`` as a dict."""
    return json.loads((Path(bundle) / "preprocess.json").read_text(encoding="utf-8"))


class Predictor:
    """The ONNX model of a bundle, run with onnxruntime on CPU, with its preprocessing.

    Args:
        bundle: the bundle folder (default: the folder of this file).
        threads: onnxruntime intra-op threads (0: onnxruntime's default).

    Raises:
        FileNotFoundError: if ``model.onnx`` or ``preprocess.json`` is missing.
    """

    def __init__(self, bundle: str | Path = HERE, threads: int = 0):
        import onnxruntime as ort

        bundle = Path(bundle)
        self.preprocess = Preprocessor(load_spec(bundle))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(bundle / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    @property
    def class_names(self) -> list[str]:
        return self.preprocess.class_names

    def logits(self, inputs: Any) -> np.ndarray:
        """Raw inputs -> float32 logits ``[B, num_classes]``.

        Raises:
            InputError: see :meth:`Preprocessor.__call__`.
        """
        return self.session.run(None, {self.input_name: self.preprocess(inputs)})[0]

    def predict(self, inputs: Any) -> list[dict[str, Any]]:
        """Raw inputs -> one ``{"label", "index", "probabilities"}`` dict per input.

        Raises:
            InputError: see :meth:`Preprocessor.__call__`.
        """
        probs = softmax(self.logits(inputs))
        names = self.class_names
        out = []
        for p in probs:
            k = int(p.argmax())
            out.append({"label": names[k], "index": k,
                        "probabilities": {n: float(v) for n, v in zip(names, p)}})
        return out


def _array_batch(x: np.ndarray, pre: Preprocessor) -> Any:
    """One array from a .npy file -> a batch: a single image ([H, W], or [C, H, W] matching
    the model's shape) or feature row ([F]) becomes a batch of one."""
    if pre.modality == "tabular":
        return x[None] if x.ndim == 1 else x
    if x.ndim == 2 or (x.ndim == 3 and x.shape == pre.input_shape):
        return [x]
    return x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Predict with a workbench export bundle "
                                                 "(ONNX model, onnxruntime).")
    parser.add_argument("texts", nargs="*", help="text inputs (text models)")
    parser.add_argument("--array", help=".npy file: images [N, C, H, W] or one [C, H, W] / [H, W]; "
                                        "feature rows [N, F] or one [F]")
    parser.add_argument("--json", help="JSON list of inputs (strings, images or feature rows)")
    parser.add_argument("--bundle", default=str(HERE), help="bundle folder (default: this file's)")
    args = parser.parse_args(argv)
    predictor = Predictor(args.bundle)
    try:
        if args.json is not None:
            inputs = json.loads(args.json)
        elif args.array is not None:
            inputs = _array_batch(np.load(args.array, allow_pickle=False), predictor.preprocess)
        else:
            inputs = args.texts
        results = predictor.predict(inputs)
    except (InputError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
