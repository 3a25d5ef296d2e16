"""benchmarks/leaderboard.py: one metric implementation over baselines and checkpoints, JSON + Markdown."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch import Trainer

from talkzoo.baselines import MeanTrainingMotion
from talkzoo.data.mesh import MeshSequenceDataModule
from talkzoo.testing.fixtures import write_mesh_layout

ROOT = Path(__file__).resolve().parent.parent


def _load_leaderboard():
    spec = importlib.util.spec_from_file_location("talkzoo_leaderboard", ROOT / "benchmarks" / "leaderboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


leaderboard = _load_leaderboard()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = write_mesh_layout(tmp_path_factory.mktemp("lb") / "demo", preset="demo", num_vertices=24, seconds=0.5)
    return root


def _grid(tmp_path: Path, root: Path, models: list[dict]) -> Path:
    grid = {
        "name": "fixture",
        "data": {"class_path": "talkzoo.data.mesh.MeshSequenceDataModule",
                 "init_args": {"root": str(root), "preset": "demo", "batch_size": 2}},
        "split": "test",
        "models": models,
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def _static_lve_by_hand(root: Path) -> float:
    """LVE of the static template on the test split, from the arrays alone (numpy, float64)."""
    dm = MeshSequenceDataModule(str(root), preset="demo", batch_size=1)
    dm.setup("test")
    lips = np.loadtxt(root / "regions" / "lip.txt", dtype=int, comments="#")
    per_frame = []
    for batch in dm.test_dataloader():
        n = int(batch.frame_mask[0].sum())
        diff = batch.vertices[0, :n].double().numpy() - batch.template[0].double().numpy()[None]
        per_frame.extend((diff[:, lips] ** 2).sum(-1).max(-1))
    return float(np.mean(per_frame))


def test_leaderboard_rows_metrics_and_files(tmp_path, corpus):
    # a "trained model" row: the mean-motion baseline saved as a real Lightning checkpoint
    dm = MeshSequenceDataModule(str(corpus), preset="demo", batch_size=2)
    dm.setup("fit")
    model = MeanTrainingMotion(spec=dm.spec)
    model.fit_mean(dm.train_dataloader())
    trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False)
    trainer.validate(model, datamodule=dm, verbose=False)
    ckpt = tmp_path / "mean.ckpt"
    trainer.save_checkpoint(ckpt)

    grid = _grid(tmp_path, corpus, [{"name": "mean as a checkpoint", "checkpoint": str(ckpt)}])
    results = leaderboard.run(grid, tmp_path / "out", progress=False)

    rows = {row["name"]: row for row in results["rows"]}
    assert list(rows) == ["static template (baseline)", "mean training motion (baseline)", "mean as a checkpoint"]
    static = rows["static template (baseline)"]["metrics"]
    assert static["LVE@lip-demo"] == pytest.approx(_static_lve_by_hand(corpus), rel=1e-5)
    # the checkpoint row went through load_model + speaker mapping + the same metrics: identical numbers
    for name, value in rows["mean training motion (baseline)"]["metrics"].items():
        assert rows["mean as a checkpoint"]["metrics"][name] == pytest.approx(value, rel=1e-6), name
    # the mean motion is closer to the data than the static template (the synthetic motion has an offset)
    assert rows["mean training motion (baseline)"]["metrics"]["MVE@all"] < static["MVE@all"]
    assert set(static) >= {"LVE@lip-demo", "MVE@all", "FDD@upper_face-demo", "LipMax@lip-demo", "HeadMean@all"}
    assert rows["mean as a checkpoint"]["checkpoint"]["sha256"]

    out = tmp_path / "out" / "fixture"
    written = json.loads((out / "results.json").read_text())
    assert written["rows"] == json.loads(json.dumps(results["rows"]))
    assert written["regions"]["lip_region"]["vertices"] > 0
    assert "definition" in written["metrics"]["LVE@lip-demo"]
    # registered audio-to-mesh models with no row are named, not silently dropped
    assert {"dualtalker", "ottalk"} <= set(written["not_evaluated"])
    md = (out / "results.md").read_text()
    assert "| static template (baseline) |" in md and "×1e-5 m²" in md
    lve_cell = f"{static['LVE@lip-demo'] * 1e5:.4g}"
    assert lve_cell in md


def test_missing_checkpoint_and_bad_grid(tmp_path, corpus, capsys):
    grid = _grid(tmp_path, corpus, [{"name": "x", "checkpoint": str(tmp_path / "runs" / "nope"), "recipe": "r.yaml"}])
    assert leaderboard.main(["--grid", str(grid), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--train-missing" in err
    assert not (tmp_path / "o").exists()  # nothing written half-way

    bad = tmp_path / "bad.yaml"
    bad.write_text("models: []\n")
    with pytest.raises(leaderboard.LeaderboardError, match="data"):
        leaderboard.load_grid(bad)
    with pytest.raises(leaderboard.LeaderboardError, match="does not exist"):
        leaderboard.load_grid(tmp_path / "absent.yaml")


def test_vertex_count_mismatch_is_refused(tmp_path, corpus):
    other = write_mesh_layout(tmp_path / "other", preset="demo", num_vertices=30, seconds=0.5)
    dm = MeshSequenceDataModule(str(other), preset="demo", batch_size=2)
    dm.setup("fit")
    dm.setup("test")
    model = MeanTrainingMotion(spec=MeshSequenceDataModule(str(corpus), preset="demo").spec)
    model.fitted.fill_(True)
    with pytest.raises(leaderboard.LeaderboardError, match="24 vertices"):
        leaderboard.evaluate(model, dm, progress=False)


def test_one_leaderboard_for_both_families(tmp_path, corpus):
    """A grid with sections: a 3D table and the two 2D tables in one results.md, each scored by one
    metric collection per family, with the static-source baselines, a tiny model from a checkpoint
    and a "not evaluated" row for a model without a checkpoint."""
    from talkzoo.data.video import TalkingVideoDataModule
    from talkzoo.testing.models import TinyAudioToVideo
    from talkzoo.testing.video_fixtures import write_prepared_video_layout

    video_root = write_prepared_video_layout(tmp_path / "v", size=32, frames=20)
    dm = TalkingVideoDataModule(str(video_root), preset="prepared", batch_size=2, clip_frames=10)
    model = TinyAudioToVideo(spec=dm.spec)
    trainer = Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "tiny.ckpt")
    video_data = {"init_args": {"root": str(video_root), "preset": "prepared", "batch_size": 2, "source_frame": "first"}}
    fast = {"landmarks": False, "identity": None}  # 32 px synthetic clips: no face for dlib to find
    grid = {
        "name": "both",
        "sections": [
            {"data": {"class_path": "talkzoo.data.mesh.MeshSequenceDataModule",
                      "init_args": {"root": str(corpus), "preset": "demo", "batch_size": 2}}, "models": []},
            {"data": {"class_path": "talkzoo.data.video.TalkingVideoDataModule", **video_data}, "metric_options": fast,
             "models": [{"name": "tiny", "checkpoint": str(tmp_path / "tiny.ckpt")},
                        {"name": "FLOAT (no checkpoint)", "checkpoint": str(tmp_path / "runs" / "none")}]},
            {"data": {"class_path": "talkzoo.data.video.ReenactmentVideoDataModule", **video_data}, "models": [],
             "metric_options": fast},
        ],
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    results = leaderboard.run(path, tmp_path / "out", progress=False)
    mesh, a2v, reen = results["sections"]
    assert "LVE@lip-demo" in mesh["rows"][0]["metrics"] or any(k.startswith("LVE") for k in mesh["rows"][0]["metrics"])
    assert a2v["family"] == "audio-to-video" and reen["family"] == "video-to-video"
    assert [r["name"] for r in a2v["rows"]] == ["static source frame (baseline)", "tiny"]
    assert "FLOAT (no checkpoint)" in a2v["not_evaluated"]
    assert [r["name"] for r in reen["rows"]] == ["static source frame (baseline)"]
    # one collection per family: the same metric names on every row of a section
    assert {tuple(r["metrics"]) for r in a2v["rows"]} == {tuple(a2v["rows"][0]["metrics"])}
    base, tiny = (r["metrics"] for r in a2v["rows"])
    assert set(base) >= {"PSNR", "SSIM"} and not np.isnan(base["PSNR"])
    # the tiny model starts at the source frame (zero-initialised residual): one step keeps it close
    assert tiny["PSNR"] > 10.0 and base["SSIM"] > 0.5
    md = (tmp_path / "out" / "both" / "results.md").read_text()
    assert md.count("\n| model |") == 3  # one table per family
    assert "## audio → mesh" in md and "## audio → video" in md and "## reenactment" in md
    assert "not evaluated" in md and "PSNR (dB)" in md
