"""Command line: run the main job or any notebook headless.

    python -m workbench main [--smoke] [--runs-dir runs]
    python -m workbench notebook NAME_OR_PATH [--smoke] [-p key value ...]
    python -m workbench export --checkpoint PATH --dataset NAME --out DIR [--model NAME]

``export`` writes the export bundle (:func:`workbench.export.export_bundle`) of a trained
model: a Trainer checkpoint (or a ``weights/model.pt`` state dict) of ``--model`` (default:
the data set's baseline recipe model) on ``--dataset``, with the parity figures measured on
the first ``--parity-examples`` examples of the real test split.

``main`` runs ``notebooks/integration.ipynb`` through papermill into
``runs/<timestamp>/``, together with an HTML export in which every plot renders offline
and the results table (``results.csv``, ``results.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _notebook_path(name: str) -> Path:
    p = Path(name)
    if p.suffix != ".ipynb":
        p = NOTEBOOKS / f"{name}.ipynb"
    if not p.is_file():
        known = sorted(x.stem for x in NOTEBOOKS.glob("*.ipynb"))
        raise SystemExit(f"no notebook {name!r}; notebooks: {known}")
    return p


def run(name: str, smoke: bool, runs_dir: str, params: dict[str, object]) -> Path:
    """Execute a notebook into a new run folder; returns the folder."""
    from workbench.report import export_html, new_run_dir, run_notebook

    nb = _notebook_path(name)
    out = new_run_dir(runs_dir)
    parameters = {"SMOKE": smoke, "OUTPUT_DIR": str(out.resolve())} | params
    print(f"[workbench] running {nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb} "
          f"({'smoke' if smoke else 'full'} mode) -> {out}", flush=True)
    executed = run_notebook(nb, out / nb.name, parameters=parameters, cwd=str(nb.parent), progress=True)
    html = export_html(executed, out / (nb.stem + ".html"))
    print(f"[workbench] executed notebook: {executed}")
    print(f"[workbench] HTML report (plots render offline): {html}")
    for f in ("results.csv", "results.json"):
        if (out / f).exists():
            print(f"[workbench] results table: {out / f}")
    if (out / "results.json").exists():
        summary = json.loads((out / "results.json").read_text()).get("summary", [])
        _print_table(summary)
    return out


def _print_table(summary: list[dict]) -> None:
    if not summary:
        return
    cols = ["dataset", "variant", "reached", "time_to_target_s_mean", "time_to_target_ratio",
            "examples_to_target_ratio", "test_accuracy_mean"]
    print("\n" + " | ".join(cols))
    for row in summary:
        print(" | ".join(_fmt(row.get(c)) for c in cols))


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def export(checkpoint: str, dataset: str, out: str, model_name: str | None = None,
           formats: list[str] | None = None, parity_examples: int = 200, seed: int = 0) -> dict:
    """Export a checkpoint's model as a bundle; returns the manifest.

    Raises:
        SystemExit: the checkpoint cannot be read or does not fit the model.
    """
    import torch

    from workbench.export import FORMATS, export_bundle
    from workbench.models import build_model
    from workbench.recipes import baseline_recipe, load_splits
    from workbench.train.checkpoint import CheckpointError, load_checkpoint_file

    splits = load_splits(dataset, seed=seed)
    name = model_name or baseline_recipe(dataset, splits=splits).model
    model = build_model(name, splits.task)
    try:
        state = load_checkpoint_file(checkpoint)["model"]
    except CheckpointError as exc:
        try:  # a plain state dict (a bundle's weights/model.pt)
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception:
            raise SystemExit(f"cannot read {checkpoint}: {exc}") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise SystemExit(f"{checkpoint} does not fit model {name!r} on {dataset!r}: {exc}") from None
    n = min(parity_examples, len(splits.test))
    manifest = export_bundle(model, splits.task, out, formats=formats or FORMATS, vocab=splits.vocab,
                             lowercase=bool(splits.info.get("lowercase", True)),
                             parity_data=splits.test.subset(list(range(n))) if n > 0 else None,
                             model_name=name)
    print(f"[workbench] bundle: {out}")
    print(f"[workbench] formats written: {sorted(manifest['formats_written'])}; "
          f"failed: {manifest['formats_failed'] or 'none'}")
    for backend in ("onnx", "torch_export"):
        p = (manifest["parity"] or {}).get(backend)
        if p and "error" not in p:
            print(f"[workbench] parity {backend}: {p['examples']} test examples, max abs diff "
                  f"{p['max_abs_diff']:.2e}, argmax agreement {p['argmax_agreement']:.4f}, "
                  f"passed {p['passed']}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("main", help="run the integration notebook headless into runs/<timestamp>/")
    n = sub.add_parser("notebook", help="run one notebook headless into runs/<timestamp>/")
    n.add_argument("name", help="notebook name (e.g. quickstart) or path")
    for p in (m, n):
        p.add_argument("--smoke", action="store_true",
                       default=os.environ.get("WORKBENCH_SMOKE", "") not in ("", "0"),
                       help="small, fast run (default from WORKBENCH_SMOKE)")
        p.add_argument("--runs-dir", default=str(ROOT / "runs"))
        p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                       help="notebook parameter (value parsed as JSON when possible)")
    e = sub.add_parser("export", help="write the export bundle of a trained model (ONNX, torch.export, "
                                      "safetensors, server, ...)")
    e.add_argument("--checkpoint", required=True, help="Trainer checkpoint (step-*.pt) or a state dict .pt")
    e.add_argument("--dataset", required=True, help="built-in data set the model was trained on")
    e.add_argument("--out", required=True, help="bundle folder to write")
    e.add_argument("--model", default=None, help="model name (default: the data set's recipe model)")
    e.add_argument("--formats", nargs="+", default=None, help="subset of the formats (default: all)")
    e.add_argument("--parity-examples", type=int, default=200,
                   help="test-split examples for the parity figures (0: none)")
    e.add_argument("--seed", type=int, default=0, help="split seed of the data set")
    args = parser.parse_args(argv)
    if args.cmd == "export":
        manifest = export(args.checkpoint, args.dataset, args.out, args.model, args.formats,
                          args.parity_examples, args.seed)
        return 1 if manifest["formats_failed"] else 0
    params = {}
    for k, v in args.param:
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    name = "integration" if args.cmd == "main" else args.name
    run(name, args.smoke, args.runs_dir, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
