"""``python -m workbench train``: one process on your own JSON-lines file, and two single-process
"nodes" started by torchrun on 127.0.0.1 with ``--nnodes 2`` and c10d rendezvous, which train
one model together on a user CSV file (both end with the same weights)."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.train.launch import find_free_port

ROOT = Path(__file__).resolve().parents[1]
POS = ["great fun film", "i loved it", "wonderful acting and story", "a joy to watch", "brilliant and moving"]
NEG = ["boring and slow", "i hated it", "terrible plot", "a waste of time", "dull awful mess"]


def _rows(n: int = 60) -> list[dict[str, str]]:
    rng = random.Random(0)
    out = []
    for _ in range(n):
        out.append({"text": f"{rng.choice(POS)} {rng.choice(POS)}", "label": "pos"})
        out.append({"text": f"{rng.choice(NEG)} {rng.choice(NEG)}", "label": "neg"})
    return out


def test_train_command_on_a_user_jsonl_file_in_one_process(tmp_path, capsys):
    data = tmp_path / "reviews.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--max-steps", "6", "--batch-size", "8", "--no-progress",
                 "--out", str(out), "--checkpoint-every-steps", "3"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["effective_step"] == 6 and result["model"] == "kim_cnn" and result["world_size"] == 1
    assert result["dataset"] == "reviews" and 0.0 <= result["test_accuracy"] <= 1.0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert (out / "metrics.csv").is_file() and len(list((out / "checkpoints").glob("step-*.pt"))) == 2
    # --resume continues from the newest checkpoint (step 6) to a larger budget
    assert main(["train", "--data", str(data), "--max-steps", "8", "--batch-size", "8", "--no-progress",
                 "--out", str(out), "--checkpoint-every-steps", "3", "--resume"]) == 0
    assert json.loads((out / "result.json").read_text())["effective_step"] == 8
    with pytest.raises(SystemExit, match="batch_size must be"):
        main(["train", "--data", str(data), "--batch-size", "0"])


def test_two_torchrun_nodes_with_c10d_rendezvous_train_together(tmp_path):
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["text", "label"])
        w.writeheader()
        w.writerows(_rows())
    port = find_free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = []
    for node in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
               "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "wb-test",
               "--local_addr", "127.0.0.1", "--max_restarts", "0",
               "-m", "workbench", "train", "--data", str(data), "--strategy", "ddp", "--max-steps", "4",
               "--batch-size", "8", "--no-progress", "--out", str(tmp_path / f"node{node}")]
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=240))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    lines = [line for _, err in outs for line in err.splitlines() if "parameter sha256" in line]
    assert sorted(line.split(":")[0] for line in lines) == ["[workbench] rank 0/2", "[workbench] rank 1/2"]
    digests = {line.rsplit(" ", 1)[1] for line in lines}
    assert len(digests) == 1  # one model, trained by both nodes
    results = [json.loads((tmp_path / f"node{n}" / "result.json").read_text())
               for n in range(2) if (tmp_path / f"node{n}" / "result.json").is_file()]
    assert len(results) == 1 and results[0]["world_size"] == 2 and results[0]["effective_step"] == 4
    assert results[0]["parameter_sha256"] in digests
