"""Leaderboard of the audio → 3D mesh family: every model on one split, one metric implementation.

Run (the nox session ``leaderboard`` does this on the demo corpus)::

    python benchmarks/leaderboard.py --grid benchmarks/grids/demo.yaml [--train-missing] [--out DIR]

The **grid file** (YAML) names one dataset split and the checkpoints to evaluate::

    name: demo                       # the results go to <out>/<name>/results.{json,md}
    data:                            # one datamodule for every row (same split, same region files)
      class_path: talkzoo.data.mesh.MeshSequenceDataModule
      init_args: {root: data/demo, preset: demo, demo_protocol: sentences, batch_size: 4}
    split: test                      # test | val
    baselines: true                  # add the static-template and mean-training-motion rows
    models:
      - name: DualTalker             # row label
        checkpoint: runs/dualtalker_demo      # a .ckpt or a run folder (its best checkpoint)
        recipe: recipes/dualtalker_demo.yaml  # trains the checkpoint with --train-missing

Every row is scored by this script's own metric collection (:func:`build_metrics`), never by
the model's ``configure_metrics``, so a plugin cannot change how it is measured: LVE (CodeTalker's
squared-L2 lip maximum, metres²), MVE (mm), FDD (upper-face dynamics deviation, metres²) and
OT-Talk's LipMax / LipMean / FaceMean / HeadMean (Euclidean, mm). Predictions come from the
family's inference entry ``predict_for_metrics`` (autoregressive or one pass, as the model
generates at test time). Speakers are matched by name between the checkpoint and the dataset;
a speaker the model was not trained on is passed as ``-1`` (the model's ``unseen_speaker`` policy).

The output records the grid, the region files (path, vertex count, SHA-256), the metric
definitions and units, the machine, and for each row the checkpoint (path, SHA-256), the
metric values, and the numbers its paper reports (``ModelInfo.reported``) verbatim. Registered
audio → mesh models without a row are listed as not evaluated.

Raises (as a one-line ``leaderboard: error:`` with exit status 2): a missing grid file or key,
a missing checkpoint (without ``--train-missing``), a checkpoint whose vertex count or fps differs
from the dataset's.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

#: metric abbreviation -> (definition, unit shown in the table, factor applied to the value for the table)
METRIC_DEFINITIONS: dict[str, tuple[str, str, float]] = {
    "LVE": (
        "lip vertex error: per frame, max over lip vertices of the squared L2 error; mean over all "
        "frames of the split (CodeTalker's convention)", "×1e-5 m²", 1e5),
    "MVE": ("mean vertex error: mean Euclidean error over all vertices and frames", "mm", 1e3),
    "FDD": (
        "upper-face dynamics deviation: per sequence, mean over upper-face vertices of the temporal "
        "std of the squared displacement norm, ground truth minus prediction, averaged over sequences",
        "×1e-7 m²", 1e7),
    "LipMax": ("OT-Talk LVE_max: per frame, max Euclidean lip error; mean over frames", "mm", 1.0),
    "LipMean": ("OT-Talk LVE_mean: mean Euclidean error over lip vertices and frames", "mm", 1.0),
    "FaceMean": ("OT-Talk face error: mean Euclidean error over face-region vertices and frames", "mm", 1.0),
    "HeadMean": ("OT-Talk head error: mean Euclidean error over all vertices and frames", "mm", 1.0),
}


class LeaderboardError(Exception):
    """A grid or checkpoint problem, reported as one line."""


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_grid(path: str | Path) -> dict[str, Any]:
    """Read and check a grid file.

    Returns:
        The grid dict with defaults filled in (``split: test``, ``baselines: true``, ``models: []``).

    Raises:
        LeaderboardError: missing file, bad YAML, a missing ``data.class_path``, an unknown split or
            a model entry without ``checkpoint``.
    """
    file = Path(path)
    if not file.is_file():
        raise LeaderboardError(f"grid file '{file}' does not exist")
    try:
        grid = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise LeaderboardError(f"grid file '{file}' is not valid YAML: {exc}") from None
    if not isinstance(grid, dict) or not isinstance(grid.get("data"), dict) or "class_path" not in grid["data"]:
        raise LeaderboardError(f"grid file '{file}': expected a mapping with 'data: {{class_path: ..., init_args: ...}}'")
    grid.setdefault("name", file.stem)
    grid.setdefault("split", "test")
    grid.setdefault("baselines", True)
    grid.setdefault("models", [])
    if grid["split"] not in ("test", "val"):
        raise LeaderboardError(f"grid file '{file}': split must be 'test' or 'val', got {grid['split']!r}")
    for i, row in enumerate(grid["models"]):
        if not isinstance(row, dict) or "checkpoint" not in row:
            raise LeaderboardError(f"grid file '{file}': models[{i}] needs a 'checkpoint' (a .ckpt or a run folder)")
        row.setdefault("name", Path(str(row["checkpoint"])).stem)
    return grid


def build_datamodule(grid: dict[str, Any]):
    """Instantiate ``grid['data']`` (``class_path`` + ``init_args``) and set it up for the split."""
    module_name, _, class_name = grid["data"]["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    datamodule = cls(**(grid["data"].get("init_args") or {}))
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.setup("test")
    return datamodule


def build_metrics(spec) -> "Any":
    """The leaderboard's one metric collection for a :class:`~talkzoo.data.spec.MeshDataSpec`:
    every mesh metric (:data:`talkzoo.metrics.mesh.ALL_MESH_METRICS`) from the family's builder.

    LVE and OT-Talk's lip errors need ``spec.lip_region``; FDD needs ``spec.upper_face_region``;
    FaceMean needs ``spec.face_region`` (each metric is left out when its region is absent).
    """
    from talkzoo.metrics.mesh import ALL_MESH_METRICS, build_mesh_metrics

    return build_mesh_metrics(spec, ALL_MESH_METRICS)


def _remap_speakers(batch, model_speakers: list[str], data_speakers: list[str]):
    """Map the dataset's speaker ids onto the checkpoint's by name (``-1`` when unknown)."""
    import torch

    table = torch.tensor([model_speakers.index(s) if s in model_speakers else -1 for s in data_speakers] or [-1])
    speaker = torch.where(batch.speaker >= 0, table[batch.speaker.clamp(min=0)], torch.full_like(batch.speaker, -1))
    from dataclasses import replace

    return replace(batch, speaker=speaker)


def evaluate(model, datamodule, split: str = "test", progress: bool = True) -> dict[str, float]:
    """Score one model on the split with :func:`build_metrics`; returns ``{log_name: value}``.

    Raises:
        LeaderboardError: vertex count or fps of the model's spec differs from the dataset's.
    """
    import torch
    from tqdm import tqdm

    from talkzoo.metrics.mesh import update_mesh_metrics

    spec = datamodule.spec
    model_spec = getattr(model, "spec", None)
    if model_spec is not None:
        if model_spec.num_vertices != spec.num_vertices:
            raise LeaderboardError(
                f"{type(model).__name__}: trained on {model_spec.num_vertices} vertices, the dataset has {spec.num_vertices}"
            )
        if abs(float(model_spec.fps) - float(spec.fps)) > 1e-6:
            raise LeaderboardError(f"{type(model).__name__}: trained at {model_spec.fps} fps, the dataset is at {spec.fps} fps")
    model_speakers = list(model_spec.speakers) if model_spec is not None else list(spec.speakers)
    metrics = build_metrics(spec)
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    model.eval()
    with torch.no_grad():
        for batch in tqdm(loader, desc=type(model).__name__, disable=not progress, leave=False):
            batch = _remap_speakers(batch, model_speakers, list(spec.speakers))
            update_mesh_metrics(metrics, model.predict_for_metrics(batch).float(), batch)
    return {name: float(value) for name, value in metrics.compute().items()}


def _baselines(datamodule) -> list[tuple[str, Any]]:
    from talkzoo.baselines import MeanTrainingMotion, StaticTemplate

    mean = MeanTrainingMotion(spec=datamodule.spec)
    mean.fit_mean(datamodule.train_dataloader())
    return [("static template (baseline)", StaticTemplate(spec=datamodule.spec)), ("mean training motion (baseline)", mean)]


def _train(recipe: str, checkpoint: str) -> None:
    print(f"leaderboard: no checkpoint at '{checkpoint}'; training it: talkzoo fit --config {recipe}", flush=True)
    subprocess.run([sys.executable, "-m", "talkzoo.cli", "fit", "--config", recipe], check=True, cwd=os.getcwd())


def _machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _abbrev(log_name: str) -> str:
    return log_name.split("@", 1)[0]


def run(grid_path: str | Path, out_dir: str | Path, train_missing: bool = False, progress: bool = True) -> dict[str, Any]:
    """Evaluate a grid and write ``<out_dir>/<name>/results.json`` and ``results.md``.

    Returns:
        The results dict written to ``results.json``.

    Raises:
        LeaderboardError: see the module docstring.
    """
    import torch

    from talkzoo.checkpoints import load_model, resolve_checkpoint
    from talkzoo.errors import TalkzooError
    from talkzoo.plugins import list_models

    torch.manual_seed(0)
    grid = load_grid(grid_path)
    datamodule = build_datamodule(grid)
    spec = datamodule.spec
    registered = {m.class_path: m for _, m in list_models(family="audio-to-mesh")}

    rows: list[dict[str, Any]] = []
    if grid["baselines"]:
        for name, model in _baselines(datamodule):
            rows.append({"name": name, "kind": "baseline", "class_path": f"{type(model).__module__}.{type(model).__name__}",
                         "metrics": evaluate(model, datamodule, grid["split"], progress)})
    for entry in grid["models"]:
        checkpoint = str(entry["checkpoint"])
        try:
            file = resolve_checkpoint(checkpoint, prefer="best")
        except TalkzooError as exc:
            if not (train_missing and entry.get("recipe")):
                hint = f"; run with --train-missing to train it from {entry['recipe']}" if entry.get("recipe") else ""
                raise LeaderboardError(f"{entry['name']}: {exc}{hint}") from None
            _train(str(entry["recipe"]), checkpoint)
            file = resolve_checkpoint(checkpoint, prefer="best")
        model = load_model(file)
        class_path = f"{type(model).__module__}.{type(model).__name__}"
        info = registered.get(class_path)
        reported = [r for r in (info.reported if info else ()) if r.dataset == spec.dataset]
        rows.append({
            "name": entry["name"], "kind": "model", "class_path": class_path,
            "model_id": info.name if info else None,
            "checkpoint": {"path": str(file), "sha256": _sha256(file)},
            "recipe": entry.get("recipe"),
            "metrics": evaluate(model, datamodule, grid["split"], progress),
            "paper": [r.__dict__ for r in reported],
        })
    evaluated = {row["class_path"] for row in rows}
    regions = {}
    for key in ("lip_region", "upper_face_region", "face_region"):
        path = getattr(spec, key, None)
        if path:
            from talkzoo.metrics import load_vertex_indices

            shown = os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
            regions[key] = {"path": shown, "vertices": int(len(load_vertex_indices(path))), "sha256": _sha256(str(path).split("#")[0])}
    order = list(METRIC_DEFINITIONS)
    metric_names = sorted(rows[0]["metrics"], key=lambda n: order.index(_abbrev(n))) if rows else []
    results = {
        "grid": {"file": str(grid_path), **{k: grid[k] for k in ("name", "data", "split", "baselines")}},
        "dataset": {"name": spec.dataset, "split": grid["split"], "fps": spec.fps, "num_vertices": spec.num_vertices,
                    "speakers": list(spec.speakers), "sequences": len(datamodule.test_dataloader().dataset) if grid["split"] == "test" else None},
        "regions": regions,
        "metrics": {name: {"definition": METRIC_DEFINITIONS[_abbrev(name)][0], "unit": _unit(name)} for name in metric_names},
        "rows": rows,
        "not_evaluated": sorted(m.name for cp, m in registered.items() if cp not in evaluated),
        "machine": _machine(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    target = Path(out_dir) / str(grid["name"])
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / "results.json", json.dumps(results, indent=2) + "\n")
    _atomic_write(target / "results.md", to_markdown(results))
    print(f"leaderboard: wrote {target / 'results.json'} and {target / 'results.md'}")
    return results


def _unit(log_name: str) -> str:
    """Unit of the raw value stored in results.json (the table rescales LVE and FDD)."""
    return {"LVE": "m²", "FDD": "m²", "MVE": "m"}.get(_abbrev(log_name), "mm")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def to_markdown(results: dict[str, Any]) -> str:
    """Render the results dict as a Markdown page (tables of ours, the baselines and the papers' numbers)."""
    names = list(results["metrics"])
    lines = [f"# Leaderboard: {results['dataset']['name']} ({results['dataset']['split']} split)", ""]
    lines.append(f"Grid `{results['grid']['file']}`, {results['dataset']['sequences'] or '?'} sequences, "
                 f"{results['dataset']['num_vertices']} vertices at {results['dataset']['fps']} fps; "
                 f"evaluated {results['date']} on {results['machine']['processor']} ({results['machine']['platform']}).")
    lines.append("")
    header = ["model", *[f"{n} ({METRIC_DEFINITIONS[_abbrev(n)][1]})" for n in names]]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in results["rows"]:
        cells = [row["name"]]
        for n in names:
            value = row["metrics"].get(n)
            cells.append("–" if value is None else f"{value * METRIC_DEFINITIONS[_abbrev(n)][2]:.4g}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Lower is better for every column except FDD, where closer to 0 is better (it is signed).")
    lines.append("")
    lines.append("## Papers' own numbers on this dataset")
    lines.append("")
    paper_rows = [(row, p) for row in results["rows"] for p in row.get("paper", [])]
    if paper_rows:
        lines.append("Verbatim from each paper, in its printed unit; ours is the same metric from the table above, in our unit. "
                     "Protocol details (region files, frame rates, splits) may differ; see the plugin READMEs.")
        lines.append("")
        lines.append("| model | split | metric | paper (as printed) | source | ours | note |")
        lines.append("|---|---|---|---|---|---|---|")
        for row, p in paper_rows:
            ours = [f"{v * METRIC_DEFINITIONS[_abbrev(k)][2]:.4g} {METRIC_DEFINITIONS[_abbrev(k)][1]}"
                    for k, v in row["metrics"].items() if _abbrev(k) == p["metric"]]
            lines.append(f"| {row['name']} | {p['split']} | {p['metric']} | {p['value']} {p['unit']} | {p['source']} | "
                         f"{', '.join(ours) or '–'} | {p['note'] or ''} |")
    else:
        lines.append(f"No paper reports numbers on `{results['dataset']['name']}`; the papers' tables are on VOCASET, BIWI "
                     "and Multiface (see `ModelInfo.reported` of each plugin).")
    lines.append("")
    lines.append("## Metric definitions")
    lines.append("")
    for n, meta in results["metrics"].items():
        lines.append(f"- **{n}** ({meta['unit']} in results.json): {meta['definition']}.")
    lines.append("")
    lines.append("## Region files")
    lines.append("")
    for key, region in results["regions"].items():
        lines.append(f"- {key}: `{region['path']}`, {region['vertices']} vertices, sha256 `{region['sha256'][:16]}…`")
    if results["not_evaluated"]:
        lines.append("")
        lines.append("Registered audio → mesh models not in this grid: " + ", ".join(results["not_evaluated"]) + ".")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python benchmarks/leaderboard.py --grid FILE [--out DIR] [--train-missing]``."""
    parser = argparse.ArgumentParser(prog="leaderboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", required=True, help="grid YAML file (see the module docstring)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "leaderboard"),
                        help="output folder; results go to OUT/<grid name>/ (default: benchmarks/results/leaderboard)")
    parser.add_argument("--train-missing", action="store_true", help="train rows whose checkpoint is missing from their recipe")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from talkzoo.errors import TalkzooError

    try:
        run(args.grid, args.out, train_missing=args.train_missing, progress=not args.no_progress)
    except (LeaderboardError, TalkzooError) as exc:
        print(f"leaderboard: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
