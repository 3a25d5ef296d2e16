"""The ``talkzoo`` command.

Verbs:

* ``talkzoo fit | validate | test | predict --config RECIPE.yaml [--trainer.devices 2 ...]`` —
  LightningCLI (:mod:`talkzoo.lightning_cli`), model and data in subclass mode, so any installed
  plugin's class (or any importable class) is used by its ``class_path``. Multi-GPU, multi-node
  and mixed precision come from Lightning's Trainer flags (``--trainer.devices``,
  ``--trainer.strategy ddp``, ``--trainer.precision bf16-mixed``).
* ``talkzoo list`` and ``talkzoo info MODEL`` — plugin metadata; import no torch.
* ``talkzoo data demo|prepare ...`` — build the demo corpus, convert official dataset releases.
* ``talkzoo animate --ckpt ... --audio ... --out ...`` — checkpoint + speech → vertices + mp4.

A user mistake (:class:`talkzoo.errors.TalkzooError`) prints one ``talkzoo: error: ...`` line and
exits with status 2; no traceback. ``TALKZOO_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
from pathlib import Path

from talkzoo import __version__
from talkzoo.errors import ConfigError, TalkzooError

LIGHTNING_VERBS = ("fit", "validate", "test", "predict")

USAGE = f"""talkzoo {__version__} — a model zoo for talking-face generation

usage: talkzoo VERB [options]

training and evaluation (LightningCLI; `talkzoo fit --help` lists every option):
  fit       --config RECIPE.yaml    train a model
  validate  --config RECIPE.yaml    run the validation split
  test      --config RECIPE.yaml [--ckpt_path CKPT]   evaluate on the test split
  predict   --config RECIPE.yaml [--ckpt_path CKPT]   generate outputs

models and data:
  list                  installed plugins and their models
  info MODEL            a model's paper, licence, recipes, weights and arguments
  data demo --out DIR [--family mesh|video]   build a demo corpus (VOCASET / prepared-video layout)
  data prepare DATASET --src DIR --out DIR   convert a raw release (vocaset, hdtf, ravdess, grid, voxceleb1, video;
                        `talkzoo data prepare --help` lists them) [--landmarker dlib --landmarker-weights FILE]
  animate --ckpt CKPT --audio WAV --out DIR [--subject S | --template MESH]

Checkpoints load weights-only (a file cannot run code); for a file you trust that needs more:
  --trust-checkpoint (animate, fit, validate, test, predict) or TALKZOO_TRUST_CHECKPOINTS=1
`fit --ckpt_path RUN_FOLDER` resumes from the run's last.ckpt in the same folder, exactly.

Multi-GPU and mixed precision: --trainer.devices N --trainer.strategy ddp --trainer.precision bf16-mixed
"""


def _err(message: str) -> int:
    if "Original Traceback" in message:  # re-raised from a DataLoader worker: keep the original line
        last = message.strip().splitlines()[-1]
        message = last.split("Error: ", 1)[1] if "Error: " in last else last
    print(f"talkzoo: error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------- list / info
def cmd_list(argv: list[str]) -> int:
    """``talkzoo list [--verbose]``: a table of plugins, their models and load status."""
    from talkzoo.plugins import DISABLE_ENV, autoload_disabled, discover_plugins

    parser = argparse.ArgumentParser(prog="talkzoo list", description="List installed talkzoo plugins.")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks of broken plugins")
    args = parser.parse_args(argv)
    if autoload_disabled():
        print(f"plugin discovery is off ({DISABLE_ENV} is set)")
        return 0
    records = discover_plugins()
    if not records:
        print("no talkzoo plugin is installed (pip install -e plugins/dualtalker, for example)")
        return 0
    rows = [("PLUGIN", "VERSION", "STATUS", "MODEL", "FAMILY", "PAPER", "RECIPES")]
    for rec in records:
        if rec.info is None:
            rows.append((rec.name, rec.version, "BROKEN", "-", "-", rec.error or "", "-"))
            continue
        for model in rec.info.models or ():
            paper = model.paper if len(model.paper) <= 48 else model.paper[:45] + "..."
            if model.arxiv:
                paper += f" (arXiv {model.arxiv})"
            rows.append((rec.name, rec.version, "ok", model.name, model.family, paper, ", ".join(model.recipes) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if args.verbose:
        for rec in records:
            if rec.detail:
                print(f"\n--- {rec.name} ({rec.value}) failed to load:\n{rec.detail}")
    return 0


def _constructor_arguments(class_path: str) -> list[str]:
    """Read a class's ``__init__`` arguments from its source with :mod:`ast` (imports no torch)."""
    module_name, _, class_name = class_path.rpartition(".")
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return [f"(source of {class_path} not found)"]
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args
                    positional = args.posonlyargs + args.args
                    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
                    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
                    out = []
                    for arg, default in pairs:
                        if arg.arg == "self":
                            continue
                        text = arg.arg
                        if arg.annotation is not None:
                            text += f": {ast.unparse(arg.annotation)}"
                        if default is not None:
                            text += f" = {ast.unparse(default)}"
                        out.append(text)
                    return out
            return ["(inherits its constructor)"]
    return [f"(class {class_name} not found in {spec.origin})"]


def cmd_info(argv: list[str]) -> int:
    """``talkzoo info MODEL``: paper, licence, recipes, weights, parameter counts, arguments."""
    from talkzoo.plugins import get_model

    parser = argparse.ArgumentParser(prog="talkzoo info", description="Describe one model.")
    parser.add_argument("model", help="model id (see `talkzoo list`) or class path")
    args = parser.parse_args(argv)
    record, model = get_model(args.model)
    print(f"model:      {model.name}  ({model.family})")
    print(f"plugin:     {record.name} {record.version} ({record.distribution})")
    print(f"class_path: {model.class_path}")
    if model.paper:
        print(f"paper:      {model.paper}" + (f"  arXiv:{model.arxiv}" if model.arxiv else ""))
    if model.licence:
        print(f"licence:    {model.licence}")
    if model.description:
        print(f"about:      {model.description}")
    if model.recipes:
        print("recipes:    " + ", ".join(f"recipes/{r}.yaml" for r in model.recipes))
    if model.parameters:
        print("parameters:")
        for config, count in model.parameters.items():
            print(f"  {config:<32} {count:>14,d}  ({count / 1e6:.2f} M)")
    if model.weights:
        print("weights needed:")
        for w in model.weights:
            print(f"  {w.name}: {w.description}" + (f" [{w.licence}]" if w.licence else ""))
            if w.source:
                print(f"      from: {w.source}")
    print("constructor arguments:")
    for line in _constructor_arguments(model.class_path):
        print(f"  {line}")
    return 0


# ---------------------------------------------------------------------------- data
def cmd_data(argv: list[str]) -> int:
    """``talkzoo data demo|prepare``: build the demo corpus or convert an official release."""
    parser = argparse.ArgumentParser(prog="talkzoo data", description="Build or convert datasets.")
    sub = parser.add_subparsers(dest="action", required=True)
    demo = sub.add_parser("demo", help="build the embedded demo corpus")
    demo.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    demo.add_argument("--family", default="mesh", choices=["mesh", "video"],
                      help="mesh: VOCASET layout (3D); video: prepared-video layout (2D talking portrait)")
    demo.add_argument("--speakers", type=int, default=None, help="number of voices (default: mesh 6, video 4)")
    demo.add_argument("--sentences", type=int, default=None, help="sentences per speaker (default: mesh 40, video 12)")
    demo.add_argument("--size", type=int, default=256, help="video family: frame side in pixels (256 or 512)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--overwrite", action="store_true", help="replace an existing corpus at --out")
    from talkzoo.data.presets import prepare_help, prepare_presets, run_prepare

    prep = sub.add_parser("prepare", help="convert an official dataset release / raw videos into talkzoo's layout")
    prep.add_argument("dataset", choices=sorted(prepare_presets()), help=prepare_help())
    prep.add_argument("--src", required=True, help="folder with the official release files / the raw videos")
    prep.add_argument("--out", required=True, help="output folder")
    prep.add_argument("--overwrite", action="store_true")
    vid = prep.add_argument_group("video datasets (face crop, 25 fps, 16 kHz audio, 68-point landmarks)")
    vid.add_argument("--landmarker", default="facemesh",
                     help="68-point landmarker: 'facemesh' (shipped MediaPipe FaceMesh, default), "
                          "'dlib' (needs --landmarker-weights) or 'module:Class'")
    vid.add_argument("--landmarker-weights", default=None,
                     help="local weights file of the landmarker (dlib: shape_predictor_68_face_landmarks.dat)")
    vid.add_argument("--detector", default="auto", choices=["auto", "opencv", "skimage"], help="face detector")
    vid.add_argument("--size", type=int, default=256, help="output frame side in pixels")
    vid.add_argument("--increase-area", type=float, default=0.1, help="crop margin (FOMM crop-video --increase)")
    vid.add_argument("--detect-every", type=int, default=5, help="detect the face on every n-th frame (25 fps)")
    vid.add_argument("--protocol", default=None, choices=["clip", "speaker", "voxceleb1"],
                     help="hash split rule instead of the dataset's own split (default: the dataset's split; "
                          "voxceleb1 -> official test ids; raw folders -> clip)")
    args = parser.parse_args(argv)
    if args.action == "demo":
        done = Path(args.out)
        if args.family == "video":
            from talkzoo.data.demo2d import build_video_demo_corpus

            if not args.overwrite and (done / "meta.json").is_file() and (done / "splits" / "test.txt").is_file():
                print(f"2D demo corpus already present in {done} (pass --overwrite to rebuild it)")
                return 0
            if args.size not in (256, 512):
                raise ConfigError(f"--size must be 256 or 512 for the video demo corpus, got {args.size}")
            out = build_video_demo_corpus(
                args.out,
                num_speakers=4 if args.speakers is None else args.speakers,
                sentences_per_speaker=12 if args.sentences is None else args.sentences,
                size=args.size,
                seed=args.seed,
                overwrite=args.overwrite,
            )
            print(f"2D demo corpus written to {out}")
            return 0
        from talkzoo.data.demo3d import build_demo_corpus

        if not args.overwrite and (done / "split.json").is_file() and (done / "templates.pkl").is_file():
            print(f"demo corpus already present in {done} (pass --overwrite to rebuild it)")
            return 0

        out = build_demo_corpus(
            args.out,
            num_speakers=6 if args.speakers is None else args.speakers,
            sentences_per_speaker=40 if args.sentences is None else args.sentences,
            seed=args.seed,
            overwrite=args.overwrite,
        )
        print(f"demo corpus written to {out}")
        return 0
    print(run_prepare(args))
    return 0


def cmd_animate(argv: list[str]) -> int:
    """``talkzoo animate``: checkpoint + speech → vertex sequence (.npy) + rendered mp4; with
    ``--image``/``--source``/``--driving``, the 2D families (:mod:`talkzoo.animate_video`)."""
    from talkzoo.animate_video import wants_2d

    if wants_2d(argv):
        from talkzoo.animate_video import main as animate_video_main

        return animate_video_main(argv)
    from talkzoo.animate import main as animate_main

    return animate_main(argv)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``talkzoo`` console script. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] in ("--version", "version"):
        print(f"talkzoo {__version__}")
        return 0
    verb, rest = argv[0], argv[1:]
    commands = {"list": cmd_list, "info": cmd_info, "data": cmd_data, "animate": cmd_animate}
    try:
        if verb in commands:
            return commands[verb](rest)
        if verb in LIGHTNING_VERBS:
            from talkzoo.lightning_cli import run_lightning

            return run_lightning(argv)
        import difflib

        close = difflib.get_close_matches(verb, [*commands, *LIGHTNING_VERBS], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown command '{verb}'.{hint} Run `talkzoo --help` for the list.")
    except TalkzooError as exc:
        if os.environ.get("TALKZOO_DEBUG"):
            raise
        return _err(str(exc))
    except KeyboardInterrupt:
        return _err("interrupted")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
