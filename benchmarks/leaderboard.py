"""Leaderboard of every family: every model on one split, one metric collection per family.

Run (the nox session ``leaderboard`` does this on the demo corpus)::

    python benchmarks/leaderboard.py --grid benchmarks/grids/demo.yaml [--train-missing] [--out DIR]

The **grid file** (YAML) names one dataset split and the checkpoints to evaluate::

    name: demo                       # the results go to <out>/<name>/results.{json,md}
    data:                            # one datamodule for every row (same split, same region files)
      class_path: talkzoo.data.mesh.MeshSequenceDataModule
      init_args: {root: data/demo, preset: demo, demo_protocol: sentences, batch_size: 4}
    split: test                      # test | val
    metric_options: {identity: null} # 2D only, optional: video_metrics options (landmarks, landmarker, identity)
    baselines: true                  # add the static-template and mean-training-motion rows
    models:
      - name: DualTalker             # row label
        checkpoint: runs/dualtalker_demo      # a .ckpt or a run folder (its best checkpoint)
        recipe: recipes/dualtalker_demo.yaml  # trains the checkpoint with --train-missing

**Several families in one page**: a grid may instead hold ``sections:``, a list of such grids
(each with its own ``data``, ``split``, ``baselines``, ``models`` and a ``title``); results.md
then has one table per section (e.g. the demo grid: audio → mesh, audio → video, reenactment).
A 2D model row may name a checkpoint that does not exist and no recipe: it is listed as "not
evaluated" instead of failing.

2D sections are scored with :func:`talkzoo.metrics.video.video_metrics` for their family (PSNR,
SSIM, CPBD, LMD or AKD with the landmarker named in the column, CSIM/AED with the identity network
named in the column: dlib's when the ``dlib`` extra is installed), whatever the model's own
``configure_metrics``; their baselines are the static source frame repeated
(:class:`talkzoo.baselines.StaticSourceVideo`, :class:`~talkzoo.baselines.StaticSourceReenactment`).

Every 3D row is scored by this script's own metric collection (:func:`build_metrics`), never by
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
    # 2D families (talkzoo.metrics.video); the part after '@' in a column names the landmarker / identity network
    "L1": ("mean absolute error of [0, 1] pixels per real frame, mean over frames (FOMM / DaGAN protocol)", "", 1.0),
    "PSNR": ("peak signal-to-noise ratio per real frame, mean over frames (higher is better)", "dB", 1.0),
    "SSIM": ("structural similarity per real frame (Gaussian 11x11), mean over frames (higher is better)", "", 1.0),
    "CPBD": ("cumulative probability of blur detection of the generated frames, no reference (higher is sharper)", "", 1.0),
    "LMD": ("mouth landmark distance: mean Euclidean distance of the 20 mouth points (iBUG 48-67), each mouth "
            "centred, generated vs real frames detected with the same landmarker (Chen et al. 2018)", "px", 1.0),
    "AKD": ("average keypoint distance of the 68 landmarks, generated vs driving frames (FOMM protocol)", "px", 1.0),
    "CSIM": ("cosine similarity of identity embeddings, generated frames vs source portrait (higher is better)", "", 1.0),
    "AED": ("average Euclidean distance of identity embeddings, generated vs driving frames (FOMM protocol)", "", 1.0),
}

#: units of the raw 2D values stored in results.json
_UNITS_2D = {"L1": "1", "PSNR": "dB", "SSIM": "1", "CPBD": "1", "LMD": "px", "AKD": "px", "CSIM": "1", "AED": "1"}


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
    return _check_grid(grid, file)


def _check_grid(grid: Any, file: Path) -> dict[str, Any]:
    if isinstance(grid, dict) and isinstance(grid.get("sections"), list):
        grid.setdefault("name", file.stem)
        grid["sections"] = [_check_grid({"name": grid["name"], **sec}, file) for sec in grid["sections"]]
        return grid
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


def build_video_metrics(spec, options: dict[str, Any] | None = None) -> Any:
    """The leaderboard's one metric collection for a 2D spec (:func:`talkzoo.metrics.video.video_metrics`;
    landmark metrics on, the default landmarker and identity network, unless the section's
    ``metric_options`` (``landmarks``, ``landmarker``, ``identity``, ``metric_weights``) say otherwise)."""
    from talkzoo.metrics.video import video_metrics

    opts = {"landmarks": True, **(options or {})}
    weights = opts.pop("metric_weights", None)
    return video_metrics(spec.family, int(spec.image_size), weights, **opts)


def evaluate_video(model, datamodule, split: str = "test", progress: bool = True, metrics: Any = None) -> dict[str, float]:
    """Score one 2D model on the split with :func:`build_video_metrics`; returns ``{log_name: value}``.

    Raises:
        LeaderboardError: the model's image size or family differs from the dataset's.
    """
    import torch
    from tqdm import tqdm

    from talkzoo.metrics.video import update_video_metrics
    from talkzoo.tasks.video import metric_inputs

    spec = datamodule.spec
    model_spec = getattr(model, "spec", None)
    if model_spec is not None and int(model_spec.image_size) != int(spec.image_size):
        raise LeaderboardError(f"{type(model).__name__}: trained at {model_spec.image_size} px, the dataset is {spec.image_size} px")
    metrics = metrics if metrics is not None else build_video_metrics(spec)
    metrics.reset()
    loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
    model.eval()
    with torch.no_grad():
        for batch in tqdm(loader, desc=type(model).__name__, disable=not progress, leave=False):
            pred = model.predict_for_metrics(batch).float()
            update_video_metrics(metrics, metric_inputs(pred, batch))  # the task bases' own mapping
    return {name: float(value) for name, value in metrics.compute().items()}


def _baselines(datamodule) -> list[tuple[str, Any]]:
    from talkzoo.baselines import MeanTrainingMotion, StaticSourceReenactment, StaticSourceVideo, StaticTemplate

    family = getattr(datamodule.spec, "family", "")
    if family == "audio-to-video":
        return [("static source frame (baseline)", StaticSourceVideo(spec=datamodule.spec))]
    if family == "video-to-video":
        return [("static source frame (baseline)", StaticSourceReenactment(spec=datamodule.spec))]

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

    grid = load_grid(grid_path)
    if "sections" in grid:
        sections = [_run_section(sec, grid_path, train_missing, progress) for sec in grid["sections"]]
        results = {"grid": {"file": str(grid_path), "name": grid["name"]}, "sections": sections,
                   "machine": _machine(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    else:
        results = _run_section(grid, grid_path, train_missing, progress)
    target = Path(out_dir) / str(grid["name"])
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / "results.json", json.dumps(results, indent=2) + "\n")
    _atomic_write(target / "results.md", to_markdown(results))
    print(f"leaderboard: wrote {target / 'results.json'} and {target / 'results.md'}")
    return results


def _run_section(grid: dict[str, Any], grid_path: str | Path, train_missing: bool, progress: bool) -> dict[str, Any]:
    """Evaluate one grid (or one section of a grid); returns its results dict."""
    import torch

    from talkzoo.checkpoints import load_model, resolve_checkpoint
    from talkzoo.errors import TalkzooError
    from talkzoo.plugins import list_models

    torch.manual_seed(0)
    datamodule = build_datamodule(grid)
    spec = datamodule.spec
    family = getattr(spec, "family", "audio-to-mesh")
    video = family != "audio-to-mesh"
    registered = {m.class_path: m for _, m in list_models(family=family)}
    shared = build_video_metrics(spec, grid.get("metric_options")) if video else None

    def score(model) -> dict[str, float]:
        if video:
            return evaluate_video(model, datamodule, grid["split"], progress, shared)
        return evaluate(model, datamodule, grid["split"], progress)

    rows: list[dict[str, Any]] = []
    not_evaluated_rows: list[str] = []
    if grid["baselines"]:
        for name, model in _baselines(datamodule):
            rows.append({"name": name, "kind": "baseline", "class_path": f"{type(model).__module__}.{type(model).__name__}",
                         "metrics": score(model)})
    for entry in grid["models"]:
        checkpoint = str(entry["checkpoint"])
        try:
            file = resolve_checkpoint(checkpoint, prefer="best")
        except TalkzooError as exc:
            if video and not entry.get("recipe"):
                not_evaluated_rows.append(entry["name"])
                continue
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
            "metrics": score(model),
            "paper": [r.__dict__ for r in reported],
        })
    if video:
        return _video_results(grid, grid_path, datamodule, rows, not_evaluated_rows, registered)
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
    return results


def _video_results(grid, grid_path, datamodule, rows, not_evaluated_rows, registered) -> dict[str, Any]:
    """The results dict of a 2D section."""
    spec = datamodule.spec
    evaluated = {row["class_path"] for row in rows}
    names = list(rows[0]["metrics"]) if rows else []
    order = [k for k in METRIC_DEFINITIONS]
    names.sort(key=lambda n: order.index(_abbrev(n)) if _abbrev(n) in order else len(order))
    loader = datamodule.test_dataloader() if grid["split"] == "test" else datamodule.val_dataloader()
    return {
        "family": spec.family,
        "title": grid.get("title") or {"audio-to-video": "audio → video", "video-to-video": "reenactment"}[spec.family],
        "grid": {"file": str(grid_path), **{k: grid[k] for k in ("name", "data", "split", "baselines")}},
        "dataset": {"name": spec.dataset, "split": grid["split"], "fps": spec.fps, "image_size": int(spec.image_size),
                    "sequences": len(loader.dataset)},
        "metrics": {n: {"definition": METRIC_DEFINITIONS.get(_abbrev(n), ("(plugin metric)", "", 1.0))[0],
                        "unit": _UNITS_2D.get(_abbrev(n), "")} for n in names},
        "rows": rows,
        "not_evaluated": sorted(set(not_evaluated_rows) | {m.name for cp, m in registered.items() if cp not in evaluated}),
        "machine": _machine(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _video_markdown(results: dict[str, Any]) -> str:
    """One 2D section as Markdown: the table, the networks used, the papers' numbers verbatim."""
    names = list(results["metrics"])
    ds = results["dataset"]
    lines = [f"## {results['title']}: {ds['name']} ({ds['split']} split)", "",
             f"{ds['sequences']} clips at {ds['image_size']} px, {ds['fps']} fps; evaluated {results['date']} on "
             f"{results['machine']['processor']}.", ""]
    nets = sorted({n.split("@", 1)[1] for n in names if "@" in n})
    lines.append("Landmarker / identity network: " + (", ".join(f"`{x}`" for x in nets) or "none (no landmark or identity metric)")
                 + " (the part after `@` in a column name).")
    lines.append("")
    header = ["model", *[f"{n} ({_UNITS_2D.get(_abbrev(n), '')})" if _UNITS_2D.get(_abbrev(n), "1") != "1" else n for n in names]]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in results["rows"]:
        cells = [row["name"]] + ["–" if row["metrics"].get(n) is None else f"{row['metrics'][n]:.4g}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    for name in results["not_evaluated"]:
        lines.append("| " + " | ".join([name] + ["not evaluated"] * len(names)) + " |")
    lines += ["", "Higher is better for PSNR, SSIM, CPBD and CSIM; lower for L1, LMD, AKD and AED. "
              "\"not evaluated\": no checkpoint of that model exists for this grid.", ""]
    paper_rows = [(row, p) for row in results["rows"] for p in row.get("paper", [])]
    if paper_rows:
        lines += ["Papers' own numbers, verbatim:", "", "| model | split | metric | paper (as printed) | source | note |",
                  "|---|---|---|---|---|---|"]
        for row, p in paper_rows:
            lines.append(f"| {row['name']} | {p['split']} | {p['metric']} | {p['value']} {p['unit']} | {p['source']} | {p['note'] or ''} |")
    else:
        lines.append(f"No paper reports numbers on `{ds['name']}` (the papers' tables are on HDTF, VoxCeleb, LRW, GRID; "
                     "see `ModelInfo.reported` of each plugin).")
    lines += ["", "Metric definitions:", ""]
    for n, meta in results["metrics"].items():
        lines.append(f"- **{n}** ({meta['unit']}): {meta['definition']}.")
    lines.append("")
    return "\n".join(lines)


def _unit(log_name: str) -> str:
    """Unit of the raw value stored in results.json (the table rescales LVE and FDD)."""
    return {"LVE": "m²", "FDD": "m²", "MVE": "m"}.get(_abbrev(log_name), "mm")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def to_markdown(results: dict[str, Any]) -> str:
    """Render the results dict as a Markdown page (tables of ours, the baselines and the papers' numbers);
    a grid with sections gets one table per section (family)."""
    if "sections" in results:
        parts = [f"# Leaderboard: {results['grid']['name']}", "",
                 f"Grid `{results['grid']['file']}`: one table per family; evaluated {results['date']}.", ""]
        for sec in results["sections"]:
            parts.append(_video_markdown(sec) if "family" in sec else to_markdown(sec).replace("# Leaderboard:", "## audio → mesh:", 1))
        return "\n".join(parts)
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
