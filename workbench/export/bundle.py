"""The export bundle: one call writes a folder a user can ship, and checks every artefact.

:func:`export_bundle` writes, into ``out_dir``::

    weights/model.safetensors   state_dict (safetensors; reloaded and compared bit for bit)
    weights/model.pt            state_dict (torch.save; reloaded with weights_only=True)
    model.pt2                   torch.export program (reloaded with torch.export.load, run)
    model.onnx                  ONNX (torch.onnx.export(dynamo=True), dynamic batch and, for
                                text, sequence length; checked with onnx.checker, run with
                                onnxruntime)
    preprocess.json             what turns raw input into the model's input
    manifest.json               formats written / failed (with the error), checks, parity
                                figures, the versions used
    inference.py, server.py     standalone inference (NumPy + onnxruntime) and the FastAPI server
    handler.py, config.properties   TorchServe handler and configuration
    README.md, requirements.txt, Dockerfile, .dockerignore

A format whose exporter or check fails is recorded under ``manifest["formats_failed"]``
with its error; the other files are still written.

Sources: ``torch.export`` (https://pytorch.org/docs/stable/export.html), the dynamo ONNX
exporter (``torch.onnx.export(..., dynamo=True)``), safetensors
(https://huggingface.co/docs/safetensors), onnxruntime, FastAPI; TorchServe's custom
handler contract (``initialize / preprocess / inference / postprocess``).
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import logging
import platform
import shutil
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.config import TaskSpec
from workbench.data.text import TOKEN_PATTERN, Vocabulary
from workbench.train.inference import eval_mode

__all__ = ["FORMATS", "ExportError", "export_bundle", "export_trainer", "parity"]

#: Formats :func:`export_bundle` can write (the serving files are always written).
FORMATS = ("safetensors", "state_dict", "torch_export", "onnx", "torchserve")

#: The files each format writes (removed before an export, and after a failed one).
ARTEFACTS = {"safetensors": ("weights/model.safetensors",), "state_dict": ("weights/model.pt",),
             "torch_export": ("model.pt2",), "onnx": ("model.onnx", "model.onnx.data"),
             "torchserve": ("handler.py", "config.properties")}

#: Parity tolerances (issue 18): ONNX and torch.export outputs against eager.
RTOL, ATOL = 1e-3, 1e-5

#: Largest batch and sequence length the exported programs accept (the dynamic-shape bounds).
MAX_BATCH, MAX_TEXT_LENGTH = 4096, 8192

ASSETS = Path(__file__).resolve().parent / "assets"

# Packages pinned in the bundle's requirements.txt (server + standalone inference); the
# versions are those of the exporting environment, or these floors where one is missing.
_SERVING_PACKAGES = {"numpy": "1.24", "onnxruntime": "1.17", "fastapi": "0.110",
                     "uvicorn": "0.29"}
_VERSION_PACKAGES = ("torch", "onnx", "onnxruntime", "onnxscript", "safetensors", "numpy",
                     "fastapi", "uvicorn", "workbench")


class ExportError(RuntimeError):
    """An exporter's artefact failed its check (reload, run or comparison)."""


# ---------------------------------------------------------------------------- helpers
def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    out.update({n: _version(n) for n in _VERSION_PACKAGES})
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _min_length(model: nn.Module, task: TaskSpec) -> int:
    return max(int(task.min_length), int(getattr(model, "min_length", 1)))


def default_example_inputs(model: nn.Module, task: TaskSpec, seed: int = 0) -> torch.Tensor:
    """An example batch for tracing: 3 examples (not 0 or 1, which the exporters would
    specialise), text sequences of ``min_length + 4`` tokens (at least the widest filter),
    drawn from ``torch.Generator().manual_seed(seed)`` (the global RNG is not used).

    Returns:
        text: long ``[3, L]`` ids in ``[1, vocab_size)`` with the last two positions of the
        first row padded; vision / tabular: float32 ``[3, *input_shape]`` from ``N(0, 1)``.
    """
    g = torch.Generator().manual_seed(seed)
    if task.modality == "text":
        length = _min_length(model, task) + 4
        x = torch.randint(1, int(task.vocab_size), (3, length), generator=g)
        x[0, -2:] = task.pad_id
        return x
    return torch.randn((3, *task.input_shape), generator=g)


def _dynamic_shapes(model: nn.Module, task: TaskSpec) -> tuple[dict[int, Any]]:
    from torch.export import Dim

    dims: dict[int, Any] = {0: Dim("batch", min=1, max=MAX_BATCH)}
    if task.modality == "text":
        top = int(task.max_length) if task.max_length else MAX_TEXT_LENGTH
        low = _min_length(model, task)
        dims[1] = Dim("length", min=low, max=max(top, low + 1))
    return (dims,)


def _compare(ref: torch.Tensor, out: torch.Tensor, rtol: float = RTOL,
             atol: float = ATOL) -> dict[str, Any]:
    ref, out = ref.detach().double().cpu(), torch.as_tensor(out).detach().double().cpu()
    if ref.shape != out.shape:
        raise ExportError(f"output shape {tuple(out.shape)} differs from eager {tuple(ref.shape)}")
    diff = (ref - out).abs()
    rel = diff / ref.abs().clamp_min(1e-12)
    agree = (ref.argmax(dim=1) == out.argmax(dim=1)).double().mean().item() if ref.dim() == 2 \
        else float("nan")
    return {"examples": int(ref.shape[0]), "max_abs_diff": float(diff.max()),
            "max_rel_diff": float(rel.max()),
            "allclose": bool(torch.allclose(out, ref, rtol=rtol, atol=atol)),
            "argmax_agreement": agree}


# ---------------------------------------------------------------------------- exporters
def _export_safetensors(model: nn.Module, out: Path) -> dict[str, Any]:
    from safetensors.torch import load_file, save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path = out / "weights" / "model.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt", "producer": "workbench.export"})
    loaded = load_file(str(path))
    bad = sorted(k for k in state if k not in loaded or loaded[k].dtype != state[k].dtype
                 or not torch.equal(loaded[k], state[k]))
    if bad or set(loaded) != set(state):
        raise ExportError(f"safetensors round trip is not bit-exact for {bad[:5]}")
    return {"file": "weights/model.safetensors", "tensors": len(state), "bit_exact": True}


def _export_state_dict(model: nn.Module, out: Path) -> dict[str, Any]:
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    path = out / "weights" / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    bad = sorted(k for k in state if k not in loaded or not torch.equal(loaded[k], state[k]))
    if bad or set(loaded) != set(state):
        raise ExportError(f"state_dict round trip (weights_only=True) differs for {bad[:5]}")
    return {"file": "weights/model.pt", "tensors": len(state), "bit_exact": True,
            "load": "torch.load(path, weights_only=True)"}


def _export_torch_export(model: nn.Module, task: TaskSpec, example: torch.Tensor,
                         out: Path) -> dict[str, Any]:
    path = out / "model.pt2"
    ep = torch.export.export(model, (example,), dynamic_shapes=_dynamic_shapes(model, task))
    torch.export.save(ep, str(path))
    reloaded = torch.export.load(str(path)).module()
    check = _check_variants(model, lambda x: reloaded(x), task, example, f"torch.export program {path.name}")
    return {"file": "model.pt2", "reload": "torch.export.load", "checks": check}


def _export_onnx(model: nn.Module, task: TaskSpec, example: torch.Tensor,
                 out: Path) -> dict[str, Any]:
    import onnx

    path = out / "model.onnx"
    # the exporter logs a warning per torchvision operator it cannot register (not used here)
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["input"],
                          output_names=["logits"], dynamic_shapes=_dynamic_shapes(model, task),
                          external_data=False, verbose=False)
    finally:
        registry_log.setLevel(level)
    onnx.checker.check_model(str(path), full_check=True)
    sess = _ort_session(path)
    check = _check_variants(model, lambda x: torch.from_numpy(sess.run(None, {"input": x.numpy()})[0]),
                            task, example, f"onnxruntime on {path.name}")
    model_proto = onnx.load(str(path), load_external_data=False)
    return {"file": "model.onnx", "opset": int(model_proto.opset_import[0].version),
            "exporter": "torch.onnx.export(dynamo=True)", "check": "onnx.checker.check_model",
            "checks": check}


def _variants(task: TaskSpec, example: torch.Tensor) -> dict[str, torch.Tensor]:
    """The example batch and variants that a specialised (static) shape would fail on:
    batch 1, batch ``B + 2`` and, for text, 3 more padding positions."""
    out = {"example": example, "batch_1": example[:1],
           "batch_plus_2": torch.cat([example, example[:2]])}
    if task.modality == "text":
        out["length_plus_3"] = torch.nn.functional.pad(example, (0, 3), value=task.pad_id)
    return out


def _check_variants(model: nn.Module, run: Any, task: TaskSpec, example: torch.Tensor,
                    what: str) -> dict[str, Any]:
    checks = {}
    with torch.no_grad():
        for name, x in _variants(task, example).items():
            try:
                checks[name] = _compare(model(x), run(x))
            except Exception as exc:
                raise ExportError(f"{what} fails on input {name} of shape {tuple(x.shape)} (a "
                                  f"dimension was not kept dynamic?): {_error_text(exc)}") from exc
            if not checks[name]["allclose"]:
                raise ExportError(f"{what} differs from eager on input {name}: {checks[name]}")
    return checks


def _ort_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _write_torchserve(out: Path) -> dict[str, Any]:
    shutil.copyfile(ASSETS / "handler.py", out / "handler.py")
    (out / "config.properties").write_text(TORCHSERVE_CONFIG)
    return {"files": ["handler.py", "config.properties"], "archiver": TORCH_MODEL_ARCHIVER,
            "serialized_file": "model.pt2"}


# ---------------------------------------------------------------------------- parity
def parity(model: nn.Module, task: TaskSpec, data: Any, out_dir: str | Path,
           backends: Sequence[str] = ("onnx", "torch_export"), batch_size: int = 64,
           rtol: float = RTOL, atol: float = ATOL) -> dict[str, Any]:
    """Outputs of the bundle's exported models against the eager model on ``data``.

    Every example of ``data`` (a data set of items ``{"id", "input", "target"}``, for
    example a real test split) is batched with ``task.collator()`` in data-set order; the
    eager model (eval mode, no autograd), onnxruntime on ``model.onnx`` and the reloaded
    ``model.pt2`` each run on the same batches.

    Args:
        model: the eager model (on CPU).
        task: its :class:`~workbench.config.TaskSpec`.
        data: the data set to compare on (e.g. ``splits.test.subset(range(200))``).
        out_dir: the bundle folder holding ``model.onnx`` / ``model.pt2``.
        backends: which of ``"onnx"``, ``"torch_export"`` to compare.
        batch_size: examples per batch (>= 1).
        rtol, atol: the tolerances of ``torch.allclose(out, eager, rtol, atol)``.

    Returns:
        ``{"examples": N, "rtol", "atol", "data": name, backend: {"examples",
        "max_abs_diff", "max_rel_diff", "allclose", "argmax_agreement" (fraction in [0, 1]),
        "passed" (allclose and argmax agreement 1.0)}}``.

    Raises:
        ValueError: an unknown backend, ``batch_size < 1`` or empty data.
    """
    unknown = sorted(set(backends) - {"onnx", "torch_export"})
    if unknown:
        raise ValueError(f"backends must be among ['onnx', 'torch_export']; got {unknown}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    if len(data) == 0:
        raise ValueError("parity: data is empty (0 examples)")
    out_dir = Path(out_dir)
    runners: dict[str, Any] = {}
    if "onnx" in backends:
        sess = _ort_session(out_dir / "model.onnx")
        runners["onnx"] = lambda x: torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])
    if "torch_export" in backends:
        prog = torch.export.load(str(out_dir / "model.pt2")).module()
        runners["torch_export"] = prog
    collate = task.collator()
    errors: dict[str, str] = {}
    refs: list[torch.Tensor] = []
    outs: dict[str, list[torch.Tensor]] = {b: [] for b in runners}
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = collate([data[i] for i in range(start, min(len(data), start + batch_size))])
            x = batch["inputs"]
            refs.append(model(x))
            for name, run in list(runners.items()):
                try:
                    outs[name].append(run(x))
                except Exception as exc:  # recorded; the other backends still run
                    errors[name] = _error_text(exc)
                    del runners[name]
    ref = torch.cat(refs)
    report: dict[str, Any] = {"data": getattr(data, "name", "") or type(data).__name__,
                              "examples": int(ref.shape[0]), "rtol": rtol, "atol": atol,
                              "batch_size": batch_size}
    for name, err in errors.items():
        report[name] = {"error": err, "passed": False}
    for name, chunks in outs.items():
        if name in errors:
            continue
        figures = _compare(ref, torch.cat(chunks), rtol, atol)
        figures["passed"] = bool(figures["allclose"] and figures["argmax_agreement"] == 1.0)
        report[name] = figures
    return report


# ---------------------------------------------------------------------------- bundle
def _preprocess_spec(model: nn.Module, task: TaskSpec, vocab: Vocabulary | None,
                     lowercase: bool) -> dict[str, Any]:
    names = list(task.class_names) if task.class_names else [str(i) for i in range(task.num_classes)]
    spec: dict[str, Any] = {"modality": task.modality, "class_names": names,
                            "num_classes": task.num_classes, "name": task.name}
    if task.modality == "text":
        spec.update({
            "tokenizer": {"name": "workbench.data.text.tokenize", "pattern": TOKEN_PATTERN,
                          "lowercase": bool(lowercase), "flags": "re (Python), no flags"},
            "vocab": list(vocab.itos), "unk_id": vocab.unk_id, "pad_id": task.pad_id,
            "specials": list(vocab.specials), "max_length": task.max_length,
            "min_length": _min_length(model, task), "input": "int64 [B, L] token ids, right-padded",
        })
    else:
        spec.update({
            "input_shape": list(task.input_shape),
            "mean": None if task.mean is None else list(task.mean),
            "std": None if task.std is None else list(task.std),
            "normalisation": "(x - mean) / std per channel (vision) or feature (tabular), float64",
            "input": ("float32 [B, C, H, W], raw values in [0, 1]" if task.modality == "vision"
                      else "float32 [B, F], raw feature values"),
        })
    return spec


def export_bundle(model: nn.Module, task: TaskSpec, out_dir: str | Path,
                  formats: Sequence[str] = FORMATS, vocab: Vocabulary | None = None,
                  example_inputs: torch.Tensor | None = None, *, lowercase: bool = True,
                  parity_data: Any = None, model_name: str | None = None,
                  rtol: float = RTOL, atol: float = ATOL) -> dict[str, Any]:
    """Write the export bundle of ``model`` into ``out_dir`` and check every artefact.

    The model is deep-copied to the CPU in eval mode (the caller's model is not changed).
    Each format is written and then checked: safetensors and the ``.pt`` state dict are
    reloaded (``weights_only=True``) and compared bit for bit; ``model.pt2`` is reloaded with
    ``torch.export.load`` and ``model.onnx`` is checked with ``onnx.checker`` and run with
    onnxruntime, both against eager on ``example_inputs`` and on its first example alone
    (``torch.allclose`` with ``rtol``, ``atol``). The exporters trace with dynamic batch
    (1..4096) and, for text, dynamic sequence length (``min_length``..``max_length`` or 8192).
    With ``parity_data`` the ONNX and torch.export outputs are compared with eager on every
    example (:func:`parity`) and the figures go into the manifest.

    Args:
        model: a workbench model (``model(x) -> logits [B, num_classes]``).
        task: the data's :class:`~workbench.config.TaskSpec` (modality, shapes, statistics,
            class names).
        out_dir: the bundle folder (created; existing files are overwritten).
        formats: a subset of :data:`FORMATS`.
        vocab: text only: the training :class:`~workbench.data.text.Vocabulary` (required).
        example_inputs: the batch to trace with (default :func:`default_example_inputs`:
            batch 3, text length ``min_length + 4``); batch >= 2 and, for text, length >=
            the widest filter, so neither is specialised.
        lowercase: text only: the tokenizer's setting (``splits.info["lowercase"]``).
        parity_data: optional data set (for example a real test split) for :func:`parity`.
        model_name: the :func:`~workbench.models.build_model` name, recorded in the manifest.
        rtol, atol: the parity tolerances.

    Returns:
        the manifest (also written to ``manifest.json``): ``formats_written`` (name ->
        details), ``formats_failed`` (name -> error text), ``parity``, ``versions``, ``files``.

    Raises:
        ValueError: an unknown format, a text task without ``vocab`` or with a vocabulary of
            another size, or example inputs with batch < 2 or (text) too short.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"formats must be among {list(FORMATS)}; got unknown {unknown}")
    if not isinstance(task, TaskSpec):
        raise ValueError(f"task must be a TaskSpec; got {type(task).__name__}")
    if task.modality == "text":
        if not isinstance(vocab, Vocabulary):
            raise ValueError("vocab must be the training Vocabulary for a text task "
                             "(splits.vocab); got " + type(vocab).__name__)
        if len(vocab) != task.vocab_size:
            raise ValueError(f"vocab has {len(vocab)} tokens but task.vocab_size is {task.vocab_size}")
    model = copy.deepcopy(model).cpu().eval()
    example = default_example_inputs(model, task) if example_inputs is None else example_inputs.cpu()
    if example.dim() < 2 or example.shape[0] < 2:
        raise ValueError(f"example_inputs must be a batch of >= 2 examples (a batch of 1 would be "
                         f"specialised); got shape {tuple(example.shape)}")
    if task.modality == "text" and example.shape[1] < _min_length(model, task) + 1:
        raise ValueError(f"example_inputs must hold at least {_min_length(model, task) + 1} tokens "
                         f"(more than the widest filter); got shape {tuple(example.shape)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for files in ARTEFACTS.values():  # a stale artefact of an earlier export would be shipped
        for f in files:
            (out / f).unlink(missing_ok=True)

    written: dict[str, Any] = {}
    failed: dict[str, str] = {}
    steps = {
        "safetensors": lambda: _export_safetensors(model, out),
        "state_dict": lambda: _export_state_dict(model, out),
        "torch_export": lambda: _export_torch_export(model, task, example, out),
        "onnx": lambda: _export_onnx(model, task, example, out),
        "torchserve": lambda: _write_torchserve(out),
    }
    for name in FORMATS:
        if name not in formats:
            continue
        try:
            with warnings.catch_warnings():  # torch's own deprecation notice in export save / load
                warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
                written[name] = steps[name]()
        except Exception as exc:  # a failed format is recorded; the others are still written
            failed[name] = _error_text(exc)
            for f in ARTEFACTS[name]:  # no half-written or unchecked file is left
                (out / f).unlink(missing_ok=True)
    if "torchserve" in written and "torch_export" not in written:
        failed["torchserve"] = "the handler runs model.pt2, which was not written"
        del written["torchserve"]
        for f in ARTEFACTS["torchserve"]:
            (out / f).unlink(missing_ok=True)

    spec = _preprocess_spec(model, task, vocab, lowercase)
    (out / "preprocess.json").write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    for f in ("inference.py", "server.py"):
        shutil.copyfile(ASSETS / f, out / f)

    report: dict[str, Any] | None = None
    if parity_data is not None:
        backends = [b for b in ("onnx", "torch_export") if b in written]
        if backends:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
                report = parity(model, task, parity_data, out, backends, rtol=rtol, atol=atol)

    versions = _versions()
    (out / "requirements.txt").write_text(_requirements())
    (out / "Dockerfile").write_text(DOCKERFILE)
    (out / ".dockerignore").write_text("weights/\nmodel.pt2\nhandler.py\nconfig.properties\n"
                                       "*.mar\nmodel_store/\n__pycache__/\n")
    manifest: dict[str, Any] = {
        "bundle_format": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"class": type(model).__name__, "name": model_name,
                  "parameters": sum(p.numel() for p in model.parameters()),
                  "num_classes": task.num_classes},
        "task": task.to_dict(),
        "formats_requested": [f for f in FORMATS if f in formats],
        "formats_written": written,
        "formats_failed": failed,
        "example_inputs": {"shape": list(example.shape), "dtype": str(example.dtype)},
        "dynamic_shapes": {"batch": [1, MAX_BATCH]} | (
            {"length": [_min_length(model, task),
                        int(task.max_length) if task.max_length else MAX_TEXT_LENGTH]}
            if task.modality == "text" else {}),
        "parity": report,
        "versions": versions,
    }
    (out / "README.md").write_text(_readme(manifest, spec))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                   if p.is_file() and p.name != "manifest.json" and "__pycache__" not in p.parts)
    manifest["files"] = {f: _sha256(out / f) for f in files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def export_trainer(trainer: Any, out_dir: str | Path, vocab: Vocabulary | None = None,
                   **kwargs: Any) -> dict[str, Any]:
    """:func:`export_bundle` of a :class:`~workbench.train.Trainer`'s model and task.

    Args:
        trainer: a Trainer (``trainer.model``, ``trainer.task`` are used; the Trainer is not
            changed).
        out_dir: the bundle folder.
        vocab: text only: the training vocabulary (``splits.vocab``).
        **kwargs: passed to :func:`export_bundle` (``formats``, ``parity_data``, ...).

    Raises:
        ValueError: the Trainer has no task, or as :func:`export_bundle`.
    """
    if getattr(trainer, "task", None) is None:
        raise ValueError("trainer has no task (a TaskSpec); pass task= to the Trainer")
    return export_bundle(trainer.model, trainer.task, out_dir, vocab=vocab, **kwargs)


# ---------------------------------------------------------------------------- templates
TORCH_MODEL_ARCHIVER = (
    "torch-model-archiver --model-name workbench --version 1.0 --serialized-file model.pt2 "
    "--handler handler.py --extra-files inference.py,preprocess.json --export-path model_store "
    "--force")

TORCHSERVE_CONFIG = """\
# TorchServe configuration (https://pytorch.org/serve/configuration.html); local addresses only.
inference_address=http://127.0.0.1:8080
management_address=http://127.0.0.1:8081
metrics_address=http://127.0.0.1:8082
model_store=model_store
default_workers_per_model=1
max_request_size=1000000
disable_token_authorization=true
enable_envvars_config=false
install_py_dep_per_model=false
"""

DOCKERFILE = """\
# Serves server.py (FastAPI + onnxruntime) on port 8000.
#   docker build -t workbench-model . && docker run --rm -p 127.0.0.1:8000:8000 workbench-model
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \\
    && useradd --no-log-init --create-home --uid 10001 --user-group --shell /usr/sbin/nologin app
COPY --chown=10001:10001 inference.py server.py preprocess.json manifest.json model.onnx ./
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \\
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
CMD ["uvicorn", "server:app", "--host", "0.0.0.0", "--port", "8000"]
"""


def _requirements() -> str:
    lines = ["# Serving: inference.py needs numpy + onnxruntime; server.py adds fastapi + uvicorn.",
             "# Pinned to the versions of the environment that wrote the bundle."]
    for name, floor in _SERVING_PACKAGES.items():
        v = _version(name)
        lines.append(f"{name}=={v}" if v else f"{name}>={floor}")
    return "\n".join(lines) + "\n"


def _readme(manifest: dict[str, Any], spec: dict[str, Any]) -> str:
    m = manifest["model"]
    if spec["modality"] == "text":
        cli = 'python inference.py "a gripping , well-made film ." "the film opens in 1962 ."'
        body = '{"inputs": ["a gripping , well-made film .", "the film opens in 1962 ."]}'
        shape = (f"raw text; tokenised with `workbench.data.text.tokenize` (lowercase="
                 f"{spec['tokenizer']['lowercase']}), {len(spec['vocab'])} vocabulary ids, "
                 f"max length {spec['max_length']}, padded to >= {spec['min_length']} tokens")
    else:
        shp = spec["input_shape"]
        cli = "python inference.py --array input.npy   # or --json '[...]'"
        body = '{"inputs": [<input 1>, <input 2>]}'
        shape = (f"{spec['modality']} inputs of shape {shp}, raw values; normalised with the "
                 f"training statistics in preprocess.json")
    parity = manifest.get("parity")
    rows = ""
    if parity:
        for b in ("onnx", "torch_export"):
            if b in parity:
                p = parity[b]
                rows += (f"| {b} | {p['examples']} | {p['max_abs_diff']:.2e} | {p['max_rel_diff']:.2e} | "
                         f"{p['argmax_agreement']:.4f} | {p['passed']} |\n")
        parity_text = (f"Parity on `{parity['data']}` (rtol {parity['rtol']}, atol {parity['atol']}):\n\n"
                       "| backend | examples | max abs diff | max rel diff | argmax agreement | passed |\n"
                       "|---|---|---|---|---|---|\n" + rows)
    else:
        parity_text = "No parity data was given at export; see manifest.json for the example-batch checks.\n"
    failed = manifest["formats_failed"]
    failed_text = "".join(f"- **{k}** failed: `{v[:300]}`\n" for k, v in failed.items()) or "- none\n"
    return f"""# Model bundle: {m['class']} ({m['name'] or 'workbench model'}), {spec['name'] or 'data'}

Written by `workbench.export.export_bundle`. Input: {shape}. Classes: {', '.join(spec['class_names'])}.

## Files

| file | what |
|---|---|
| `weights/model.safetensors` | `state_dict` (safetensors), bit-exact round trip checked |
| `weights/model.pt` | `state_dict` for `torch.load(path, weights_only=True)` |
| `model.pt2` | `torch.export` program: `torch.export.load("model.pt2").module()(x)` |
| `model.onnx` | ONNX (dynamo exporter), dynamic batch{' and sequence length' if spec['modality'] == 'text' else ''} |
| `preprocess.json` | raw input -> model input ({'tokenizer, vocabulary, max length, padding id' if spec['modality'] == 'text' else 'mean / std, input shape'}) |
| `manifest.json` | formats written and failed, checks, parity figures, versions, file hashes |
| `inference.py` | standalone inference: NumPy + onnxruntime only |
| `server.py` | HTTP server: FastAPI + onnxruntime |
| `handler.py`, `config.properties` | TorchServe handler and configuration |
| `requirements.txt`, `Dockerfile` | serving environment and container |

Formats that failed:
{failed_text}
## Standalone inference

```bash
python -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/{cli}
```

Each input prints a JSON line `{{"label", "index", "probabilities"}}`.

## Server

```bash
uvicorn server:app --host 127.0.0.1 --port 8000
curl -s localhost:8000/health
curl -s -H 'Content-Type: application/json' -d '{body}' localhost:8000/predict
```

`POST /predict` takes a batch; bad requests get a 4xx with a `detail` message (413 body over
`WORKBENCH_MAX_BODY_BYTES` or batch over `WORKBENCH_MAX_BATCH`, 415 not JSON, 400 invalid
JSON, 422 wrong form: empty text, wrong image shape, NaN, ...), never a 500.

Why FastAPI + onnxruntime: TorchServe has been in limited maintenance since March 2025
(pytorch/serve#3396) and KServe is deprecating it; FastAPI, uvicorn and onnxruntime are
maintained, small, and the server needs no PyTorch. The TorchServe handler is still included.

## Docker

```bash
docker build -t workbench-model .
docker run --rm -p 127.0.0.1:8000:8000 workbench-model
```

Slim Python base, pinned requirements, a non-root user, and a HEALTHCHECK on `/health`.

## TorchServe

Needs `torch`, `torchserve`, `torch-model-archiver` and Java:

```bash
{TORCH_MODEL_ARCHIVER}
torchserve --start --ncs --model-store model_store --models workbench=workbench.mar --ts-config config.properties --disable-token-auth
curl -s -X POST localhost:8080/predictions/workbench -H 'Content-Type: application/json' -d '{body}'
torchserve --stop
```

## Parity

{parity_text}
Versions: {', '.join(f'{k} {v}' for k, v in manifest['versions'].items() if v)}.
"""
