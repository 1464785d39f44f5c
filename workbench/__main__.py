"""Command line: run the main job or any notebook headless.

    python -m workbench main [--smoke] [--runs-dir runs]
    python -m workbench notebook NAME_OR_PATH [--smoke] [-p key value ...]
    python -m workbench export --checkpoint PATH --dataset NAME --out DIR [--model NAME]
    python -m workbench train (--dataset NAME | --data FILE) [--strategy ddp] [--out DIR] ...
    python -m workbench compare --data FILE [--text-column C --label-column L] [--budget-minutes N]
    torchrun --nproc_per_node 2 -m workbench train --dataset subj --strategy ddp --out runs/subj-ddp

``train`` trains the baseline recipe (:func:`workbench.recipes.baseline_recipe`) of a
built-in data set, or the default recipe of your own labelled text file (CSV, TSV or JSON
lines: ``--data FILE --text-column text --label-column label``), then reports the test
metrics. Under ``torchrun`` (one process per GPU or per CPU share, on one machine or many)
it trains data-parallel with ``--strategy ddp`` or ``zero1``; ``--batch-size`` is per
process. Rank 0 writes ``DIR/metrics.csv``, ``DIR/metrics.jsonl``, ``DIR/result.json`` and,
with ``--checkpoint-every-steps``, ``DIR/checkpoints/``; ``--resume`` continues from the
newest checkpoint there. Every rank prints one line with a checksum of its final weights
(they must agree).

``export`` writes the export bundle (:func:`workbench.export.export_bundle`) of a trained
model: a Trainer checkpoint (or a ``weights/model.pt`` state dict) of ``--model`` (default:
the data set's baseline recipe model) on ``--dataset``, with the parity figures measured on
the first ``--parity-examples`` examples of the real test split.

``compare`` runs the default recipe of your labelled file's modality (``.csv`` / ``.tsv`` /
``.jsonl`` text or ``.npz`` arrays) after a short stated learning-rate search, then each
applicable technique within ``--budget-minutes`` (:func:`workbench.compare_cli.compare_file`),
executing ``notebooks/compare.ipynb`` into ``runs/<timestamp>/`` (notebook, HTML,
``results.csv``, ``results.json``); a bad file gets the loader's message and exit status 2.

``main`` runs ``notebooks/integration.ipynb`` (the claims table, :mod:`workbench.claims`)
through papermill into ``runs/<timestamp>/``, together with an HTML export in which every
plot renders offline and the tables (``claims.csv``, ``claims.json``, ``results.csv``,
``results.json``); the run in progress and the time left are echoed to the terminal, and
the claims table is printed at the end.
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
    """Execute a notebook into a new run folder; returns the folder.

    The kernel appends progress lines (``[claims] run 7 of 40: subj / seed 1 / curriculum |
    ... left``) to ``<folder>/progress.log`` (``WORKBENCH_PROGRESS_FILE``, inherited by the
    kernel); they are echoed to this terminal as they come."""
    from workbench.report import export_html, new_run_dir, run_notebook

    nb = _notebook_path(name)
    out = new_run_dir(runs_dir)
    parameters = {"SMOKE": smoke, "OUTPUT_DIR": str(out.resolve())} | params
    print(f"[workbench] running {nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb} "
          f"({'smoke' if smoke else 'full'} mode) -> {out}", flush=True)
    progress_file = out / "progress.log"
    progress_file.touch()
    previous = os.environ.get("WORKBENCH_PROGRESS_FILE")
    os.environ["WORKBENCH_PROGRESS_FILE"] = str(progress_file.resolve())
    tail = _Tail(progress_file)
    tail.start()
    try:
        executed = run_notebook(nb, out / nb.name, parameters=parameters, cwd=str(nb.parent), progress=True)
    finally:
        tail.stop()
        if previous is None:
            os.environ.pop("WORKBENCH_PROGRESS_FILE", None)
        else:
            os.environ["WORKBENCH_PROGRESS_FILE"] = previous
    html = export_html(executed, out / (nb.stem + ".html"))
    print(f"[workbench] executed notebook: {executed}")
    print(f"[workbench] HTML report (plots render offline): {html}")
    for f in ("claims.csv", "claims.json", "results.csv", "results.json"):
        if (out / f).exists():
            print(f"[workbench] results table: {out / f}")
    if (out / "claims.json").exists():
        _print_claims(json.loads((out / "claims.json").read_text()))
    elif (out / "results.json").exists():
        summary = json.loads((out / "results.json").read_text()).get("summary", [])
        _print_table(summary)
    return out


class _Tail:
    """Echoes the lines appended to a file to stderr, from a background thread, until
    :meth:`stop` (which prints what is left)."""

    def __init__(self, path: Path, every_s: float = 0.5) -> None:
        import threading

        self.path, self.every_s = path, every_s
        self._pos = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._drain()

    def _drain(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                f.seek(self._pos)
                text = f.read()
                # only whole lines; a partial last line waits for the next pass
                cut = text.rfind("\n") + 1
                self._pos += len(text[:cut].encode("utf-8"))
        except OSError:
            return
        for line in text[:cut].splitlines():
            print(line, file=sys.stderr, flush=True)


def _print_claims(data: dict) -> None:
    """The claims table (``claims.json`` of :meth:`workbench.claims.ClaimsResult.save`)."""
    rows, stack = data.get("rows", []), data.get("stack", [])
    if not rows:
        return
    print("\n" + str(data.get("caption", "")))
    head = ("claim", "data set", "measured", "seeds", "verdict", "why not measured")

    def why(r: dict) -> str:
        note = "" if r.get("status") == "measured" else str(r.get("note", ""))
        return note if len(note) <= 90 else note[:89] + "…"

    table = [head] + [(r["claim"], r["dataset"], _claim_figure(r), str(r["seeds"]), r["verdict"] or "", why(r))
                      for r in rows]
    if stack:
        table.append(("",) * len(head))
        table += [(r["claim"] or r["variant"], r["dataset"], _claim_figure(r), str(r["seeds"]), r["verdict"] or "",
                   why(r)) for r in stack]
    widths = [max(len(str(t[i])) for t in table) for i in range(len(head))]
    for t in table:
        print(" | ".join(str(c).ljust(w) for c, w in zip(t, widths)).rstrip())
    if stack:
        print(f"(the seed multiplies four claims into {data.get('stack_claim', 17.5):g}x; "
              "the stack row is this run's measurement)")


def _claim_figure(r: dict) -> str:
    if r.get("status") != "measured":
        return str(r.get("status", ""))
    m, s = r.get("measured"), r.get("spread")
    if m is None:
        return "n/a"
    pct = "%" in str(r.get("unit", ""))
    spread = "" if s is None or r.get("seeds", 0) < 2 else (f" ± {s:.1f}" if pct else f" ± {s:.2f}")
    return (f"{m:.1f}%" if pct else f"{m:.2f}x") + spread


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


def train(args: argparse.Namespace) -> dict:
    """The ``train`` command: returns the result dict (the same on every rank)."""
    import torch

    from workbench.data.datasets import load_dataset, load_text_file
    from workbench.models import build_model
    from workbench.recipes import SMOKE, baseline_recipe
    from workbench.train import Trainer, seed_everything
    from workbench.train import checkpoint as ckpt
    from workbench.train import distributed as wdist

    if args.threads:
        torch.set_num_threads(args.threads)
    cap = args.max_examples if args.max_examples else (SMOKE["max_examples"] if args.smoke else None)
    if args.data:
        splits = load_text_file(args.data, text_column=args.text_column, label_column=args.label_column,
                                seed=args.split_seed, max_examples=cap)
        name = Path(args.data).stem
    else:
        splits = load_dataset(args.dataset, seed=args.split_seed, **({"max_examples": cap} if cap else {}))
        name = args.dataset
    out = Path(args.out) if args.out else None
    changes: dict[str, object] = {"strategy": args.strategy, "seed": args.seed, "progress_bar": not args.no_progress,
                                  "device": args.device}
    for key in ("epochs", "max_steps", "batch_size", "lr", "grad_accum_steps", "checkpoint_every_steps"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if out is not None:
        changes["metrics_dir"] = str(out)
        if args.checkpoint_every_steps:
            changes["checkpoint_dir"] = str(out / "checkpoints")
    elif args.checkpoint_every_steps:
        raise SystemExit("--checkpoint-every-steps needs --out DIR (the checkpoints go to DIR/checkpoints)")
    recipe = baseline_recipe(name, smoke=args.smoke, splits=splits, **changes)
    model_name = args.model or recipe.model
    seed_everything(args.seed)
    model = build_model(model_name, splits.task)
    trainer = Trainer(model, recipe.config, splits.train, splits.val, task=splits.task)
    rank, world = (trainer.dist.rank, trainer.dist.world_size) if trainer.dist is not None else (0, 1)
    try:
        if args.resume:
            if out is None or ckpt.latest_checkpoint(out / "checkpoints") is None:
                raise SystemExit(f"--resume: no checkpoint in {out / 'checkpoints' if out else '(no --out)'}")
            trainer.load_checkpoint(out / "checkpoints")
        state = trainer.fit()
        test = trainer.evaluate(splits.test, prefix="test_") if len(splits.test) else {}
        digest = wdist.parameter_digest(trainer.model)
        result = {"dataset": name, "model": model_name, "strategy": args.strategy, "world_size": world,
                  "effective_step": state.effective_step, "epoch": state.epoch, "stop_reason": state.stop_reason,
                  "wall_time_s": round(state.wall_time, 3), "val": dict(state.metrics), **test,
                  "parameter_sha256": digest}
        print(f"[workbench] rank {rank}/{world}: {state.effective_step} optimizer steps, "
              f"parameter sha256 {digest}", file=sys.stderr, flush=True)
        if rank == 0:
            print(json.dumps(result), flush=True)
            if out is not None:
                (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        wdist.teardown(trainer.dist)


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
    t = sub.add_parser("train", help="train a recipe on a built-in data set or your own file (one process, "
                                     "or data-parallel under torchrun)")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="built-in data set: digits, subj, mr, pros_cons")
    src.add_argument("--data", help="your labelled text file: CSV, TSV or JSON lines")
    t.add_argument("--text-column", default="text", help="--data: the text column / field")
    t.add_argument("--label-column", default="label", help="--data: the label column / field")
    t.add_argument("--model", default=None, help="model name (default: the recipe's)")
    t.add_argument("--strategy", default="single", choices=["single", "ddp", "zero1"],
                   help="single process, DistributedDataParallel, or DDP + ZeRO-1 (under torchrun)")
    t.add_argument("--device", default="cpu",
                   help="cpu, or cuda: each process takes GPU LOCAL_RANK and the group uses NCCL")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    t.add_argument("--batch-size", type=int, default=None, help="per process")
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--grad-accum-steps", type=int, default=None)
    t.add_argument("--seed", type=int, default=0, help="training seed")
    t.add_argument("--split-seed", type=int, default=0, help="data split seed")
    t.add_argument("--max-examples", type=int, default=None, help="cap on the examples loaded")
    t.add_argument("--smoke", action="store_true", help="small budget (tests; not a measurement)")
    t.add_argument("--out", default=None, help="folder for metrics, result.json and checkpoints (rank 0)")
    t.add_argument("--checkpoint-every-steps", type=int, default=None)
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
    t.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads per process (default: torch's; torchrun sets OMP_NUM_THREADS=1)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = sub.add_parser("compare", help="every applicable technique on your own labelled file, within a budget, "
                                       "into runs/<timestamp>/")
    c.add_argument("--data", required=True, help="your labelled file: .csv, .tsv, .jsonl / .json (a text and a "
                                                 "label column) or .npz (arrays X, y)")
    c.add_argument("--text-column", default="text", help="text files: the text column / field")
    c.add_argument("--label-column", default="label", help="text files: the label column / field")
    c.add_argument("--x-key", default=None, help=".npz: the inputs array (default X, x, inputs, ...)")
    c.add_argument("--y-key", default=None, help=".npz: the labels array (default y, labels, ...)")
    c.add_argument("--budget-minutes", type=float, default=10.0,
                   help="wall-clock budget for the rate search, the baseline and the techniques (default 10); "
                        "a technique that would not fit is skipped, with the reason")
    c.add_argument("--seeds", type=int, default=None, help="seeds per variant (default 3; 1 with --smoke)")
    c.add_argument("--smoke", action="store_true", default=os.environ.get("WORKBENCH_SMOKE", "") not in ("", "0"),
                   help="small, fast run (tests; not a measurement; default from WORKBENCH_SMOKE)")
    c.add_argument("--runs-dir", default=str(ROOT / "runs"))
    args = parser.parse_args(argv)
    if args.cmd == "compare":
        from workbench.compare_cli import command

        return command(args, run)
    if args.cmd == "train":
        try:
            train(args)
        except ValueError as exc:  # an invalid setting: the message names it and its valid range
            raise SystemExit(f"workbench train: {exc}") from None
        return 0
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
