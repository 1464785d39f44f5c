#!/usr/bin/env bash
# Opt-in check (issue 18, standalone inference): export bundles of the digits CNN and the SUBJ
# Kim CNN (random init, seeded), create a FRESH virtual environment holding only the bundle's
# requirements.txt (numpy, onnxruntime, fastapi, uvicorn: no torch, no workbench), run the
# bundle's inference.py there on real test-split inputs (SUBJ sentences, digit images), and
# compare its probabilities and labels with Trainer.predict. Needs the registry (pip install);
# about a minute. Not part of the test command (tests/test_export.py runs inference.py in an
# isolated interpreter instead).
#
#   PYTHON=.venv/bin/python scripts/check_export_venv.sh [WORK_DIR]
#
# Last line: one JSON object {"ok": bool, "checks": {...}}. Exit code 0 when every check holds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
BASE="${BASE_PYTHON:-python3}"
WORK="${1:-$(mktemp -d -t workbench-export-venv.XXXXXX)}"
mkdir -p "$WORK"
N=100
echo "[check_export_venv] work dir: $WORK"

"$PY" - "$WORK" "$N" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np, torch
from workbench.config import TrainingConfig
from workbench.data.datasets import load_dataset
from workbench.export import export_bundle
from workbench.models import build_model
from workbench.train import Trainer

work, n = Path(sys.argv[1]), int(sys.argv[2])
for dataset, name in (("subj", "kim_cnn"), ("digits", "cnn")):
    splits = load_dataset(dataset)
    torch.manual_seed(0)
    model = build_model(name, splits.task)
    out = work / dataset
    manifest = export_bundle(model, splits.task, out, formats=("onnx",), vocab=splits.vocab,
                             model_name=name)
    assert not manifest["formats_failed"], manifest["formats_failed"]
    sub = splits.test.subset(list(range(min(n, len(splits.test)))))
    cfg = TrainingConfig(epochs=1, progress_bar=False, metrics_dir=str(work / "metrics"))
    _, logits = Trainer(model, cfg, splits.train, task=splits.task).predict(sub)
    probs = logits.double().softmax(dim=1).numpy()
    names = list(splits.task.class_names)
    (work / f"{dataset}_expected.json").write_text(json.dumps(
        {"names": names, "probs": probs.tolist(), "labels": [names[k] for k in probs.argmax(1)]}))
    if dataset == "subj":
        (work / "subj_inputs.json").write_text(json.dumps(list(sub.texts)))
    else:
        np.save(work / "digits_inputs.npy", np.stack([sub[i]["input"].numpy() for i in range(len(sub))]))
print("[check_export_venv] bundles and Trainer.predict outputs written")
EOF

echo "[check_export_venv] fresh venv with only the bundle's requirements.txt ($("$BASE" --version))"
rm -rf "$WORK/venv"
"$BASE" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$WORK/subj/requirements.txt"
"$WORK/venv/bin/python" -m pip freeze > "$WORK/venv_freeze.txt"
# (from $WORK: run from the repository, "-c" would find ./workbench through the working folder)
if (cd "$WORK" && "$WORK/venv/bin/python" -c "import torch" 2>/dev/null) ||
   (cd "$WORK" && "$WORK/venv/bin/python" -c "import workbench" 2>/dev/null); then
  echo "[check_export_venv] the fresh venv can import torch or workbench" >&2
  exit 1
fi
(cd "$WORK" && "$WORK/venv/bin/python" subj/inference.py --json "$(cat subj_inputs.json)" > subj_got.jsonl)
(cd "$WORK" && "$WORK/venv/bin/python" digits/inference.py --array digits_inputs.npy > digits_got.jsonl)

"$PY" - "$WORK" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
work = Path(sys.argv[1])
checks, ok = {}, True
for d in ("subj", "digits"):
    exp = json.loads((work / f"{d}_expected.json").read_text())
    got = [json.loads(line) for line in (work / f"{d}_got.jsonl").read_text().splitlines()]
    p = np.array([[g["probabilities"][c] for c in exp["names"]] for g in got])
    diff = float(np.abs(p - np.array(exp["probs"])).max())
    agree = float(np.mean([g["label"] == e for g, e in zip(got, exp["labels"])]))
    passed = len(got) == len(exp["labels"]) and diff < 1e-4 and agree == 1.0
    ok &= passed
    checks[d] = {"examples": len(got), "max_abs_prob_diff": diff, "label_agreement": agree,
                 "passed": passed}
freeze = (work / "venv_freeze.txt").read_text().split()
print(json.dumps({"ok": ok, "venv_packages": freeze, "checks": checks}))
sys.exit(0 if ok else 1)
EOF
