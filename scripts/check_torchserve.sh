#!/usr/bin/env bash
# Opt-in check (issue 18, TorchServe): export a bundle of the digits MLP (random init, seeded),
# build the .mar with torch-model-archiver (the command in the bundle's README), start
# torchserve on 127.0.0.1 with the bundle's config.properties, send real test images and
# compare the answers with the eager model, then stop torchserve. Needs Java (11+) and
# `pip install torchserve torch-model-archiver` in the Python given as PYTHON; not part of the
# test command (tests/test_export.py tests the handler in process with a stub context).
#
#   PYTHON=.venv/bin/python scripts/check_torchserve.sh [WORK_DIR]
#
# Last line: one JSON object {"ok": bool, ...}. Exit code 0 when the answers match.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
BIN="$(cd "$(dirname "$PY")" && pwd)"
PY="$BIN/$(basename "$PY")"  # absolute: the script changes folder
export PATH="$BIN:$PATH"
WORK="${1:-$(mktemp -d -t workbench-torchserve.XXXXXX)}"
mkdir -p "$WORK"
for tool in java torch-model-archiver torchserve; do
  command -v "$tool" >/dev/null || { echo "[check_torchserve] $tool is not installed" >&2; exit 2; }
done

"$PY" - "$WORK" <<'PYEOF'
import json, sys
from pathlib import Path
import torch
from workbench.data.datasets import load_dataset
from workbench.export import export_bundle
from workbench.models import build_model

work = Path(sys.argv[1])
splits = load_dataset("digits")
torch.manual_seed(0)
model = build_model("mlp", splits.task).eval()
m = export_bundle(model, splits.task, work / "bundle", formats=("torch_export", "torchserve"), model_name="mlp")
assert not m["formats_failed"], m["formats_failed"]
inputs = [splits.test[i]["input"].tolist() for i in range(16)]
with torch.no_grad():
    probs = model(splits.task.collator()([splits.test[i] for i in range(16)])["inputs"]).double().softmax(1)
(work / "inputs.json").write_text(json.dumps(inputs))
(work / "expected.json").write_text(json.dumps(probs.tolist()))
(work / "archiver.txt").write_text(m["formats_written"]["torchserve"]["archiver"])
PYEOF

cd "$WORK/bundle"
echo "[check_torchserve] $(cat "$WORK/archiver.txt")"
mkdir -p model_store
eval "$(cat "$WORK/archiver.txt")"
stop() { torchserve --stop >/dev/null 2>&1 || true; }
trap stop EXIT
torchserve --start --ncs --model-store model_store --models workbench=workbench.mar \
  --ts-config config.properties --disable-token-auth > "$WORK/torchserve.out" 2>&1
"$PY" - "$WORK" <<'PYEOF'
import json, sys, time, urllib.request
from pathlib import Path
work = Path(sys.argv[1])
deadline = time.monotonic() + 180
while True:  # the model is registered when its predictions endpoint answers
    try:
        with urllib.request.urlopen("http://127.0.0.1:8081/models/workbench", timeout=2) as r:
            if any(w.get("status") == "READY" for w in json.loads(r.read())[0].get("workers", [])):
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("[check_torchserve] the model did not become ready in 180 s; see " + str(work / "bundle/logs"))
    time.sleep(1)
inputs = json.loads((work / "inputs.json").read_text())
expected = json.loads((work / "expected.json").read_text())
diffs, agree = [], 0
t0 = time.perf_counter()
for x, e in zip(inputs, expected):
    req = urllib.request.Request("http://127.0.0.1:8080/predictions/workbench", data=json.dumps(x).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        ans = json.loads(r.read())
    ans = ans[0] if isinstance(ans, list) else ans
    p = [ans["probabilities"][str(k)] for k in range(len(e))]
    diffs.append(max(abs(a - b) for a, b in zip(p, e)))
    agree += ans["index"] == max(range(len(e)), key=e.__getitem__)
wall = time.perf_counter() - t0
ok = max(diffs) < 1e-5 and agree == len(inputs)
print(json.dumps({"ok": ok, "requests": len(inputs), "max_abs_prob_diff": max(diffs),
                  "argmax_agreement": agree / len(inputs), "mean_request_ms": 1000 * wall / len(inputs)}))
sys.exit(0 if ok else 1)
PYEOF
