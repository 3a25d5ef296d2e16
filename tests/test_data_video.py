"""TalkingVideoDataModule / ReenactmentVideoDataModule on tiny fixtures in each published layout."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("decord")

from talkzoo.data.batch import ReenactmentBatch, VideoBatch  # noqa: E402
from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec  # noqa: E402
from talkzoo.data.video import ReenactmentVideoDataModule, TalkingVideoDataModule, read_split_file  # noqa: E402
from talkzoo.errors import ConfigError, DataError  # noqa: E402
from talkzoo.testing.video_fixtures import (  # noqa: E402
    decode_frame_index,
    synthetic_frames,
    write_prepared_video_layout,
    write_vfr_video,
    write_video_fixture,
)
from talkzoo.video import convert_frame_indices, read_audio_track, write_video  # noqa: E402

AUDIO_PRESETS = ("prepared", "hdtf", "ravdess", "lrw", "custom")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("layouts")
    names = ("prepared", "hdtf", "ravdess", "lrw", "grid", "voxceleb1", "celebv", "custom")
    return {p: write_video_fixture(base / p, p, size=32, frames=30) for p in names}


def _copy(roots, preset, tmp_path):
    dst = tmp_path / preset
    shutil.copytree(roots[preset], dst)
    return dst


@pytest.mark.parametrize("preset", AUDIO_PRESETS)
def test_audio_to_video_presets_serve_batches(roots, preset):
    dm = TalkingVideoDataModule(str(roots[preset]), preset=preset, image_size=32, clip_frames=10, batch_size=2)
    spec = dm.spec
    assert isinstance(spec, VideoDataSpec) and spec.fps == 25.0 and spec.sample_rate == 16000 and spec.image_size == 32
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert isinstance(b, VideoBatch)
    assert b.frames.shape == (2, 10, 3, 32, 32) and b.frames.dtype == torch.float32
    assert b.audio.shape == (2, 6400) and bool(b.frame_mask.all())
    # RAVDESS (29.97 fps) audio may end inside the last 25 fps frame: a random window at the clip's end
    # then has up to one frame (640 samples) of masked audio
    assert bool(b.audio_mask.all()) or (preset == "ravdess" and int(b.audio_mask.sum(1).min()) > 6400 - 640)
    assert b.source.shape == (2, 3, 32, 32) and float(b.frames.max()) <= 1.0
    v = next(iter(dm.val_dataloader()))
    assert v.frames.shape[1] == int(v.frame_mask.sum(1).max())
    # whole-clip evaluation: the audio covers the real frames (640 samples per frame); RAVDESS at
    # 29.97 fps ends inside its last 25 fps frame, so its audio may stop up to a frame early
    real_audio, real_frames = v.audio_mask.sum(1), v.frame_mask.sum(1)
    if preset == "ravdess":
        assert bool(((real_audio <= real_frames * 640) & (real_audio > (real_frames - 1) * 640)).all())
    else:
        assert torch.equal(real_audio, real_frames * 640)
    assert all(decode_frame_index(s) == 0 for s in (v.source * 255).round().byte())


def test_preset_splits_and_speakers(roots):
    rav = TalkingVideoDataModule(str(roots["ravdess"]), preset="ravdess", image_size=32)
    assert rav.spec.speakers == ("Actor_01", "Actor_02")
    assert {r.speaker for r in rav.listing("test")} == {"Actor_23", "Actor_24"}
    assert all(r.clip_id.startswith("01-") for r in rav.listing("train"))  # video-only 02-* skipped
    lrw = TalkingVideoDataModule(str(roots["lrw"]), preset="lrw", image_size=32)
    assert lrw.spec.speakers == () and [r.clip_id for r in lrw.listing("val")][:1] == ["ABOUT/val/ABOUT_00001"]
    lrw_inner = TalkingVideoDataModule(str(roots["lrw"] / "lipread_mp4"), preset="lrw", image_size=32)
    assert len(lrw_inner.listing("test")) == 4
    hdtf = TalkingVideoDataModule(str(roots["hdtf"]), preset="hdtf", image_size=32)
    assert hdtf.spec.speakers == ("WDA_BarackObama", "WRA_MarcoRubio")
    assert TalkingVideoDataModule(str(roots["lrw"]), preset="lrw").spec.image_size == 256
    assert TalkingVideoDataModule(str(roots["hdtf"]), preset="hdtf").spec.image_size == 512


def test_training_window_audio_and_source_are_exact(roots):
    root = roots["prepared"]
    dm = TalkingVideoDataModule(str(root), preset="prepared", clip_frames=10, batch_size=1)
    dm.setup("fit")
    ds = dm.datasets["train"]
    torch.manual_seed(3)
    for i in range(len(ds)):
        s = ds[i]
        start = decode_frame_index(s["frames"][0])
        assert [decode_frame_index(f) for f in s["frames"]] == list(range(start, start + 10))
        full = read_audio_track(root / "videos" / f"{s['name']}.mp4", 16000)
        assert torch.equal(s["audio"], full[start * 640 : (start + 10) * 640])
        src = decode_frame_index(s["source"])
        assert not start <= src < start + 10  # a frame of the same video outside the window
        lms = np.load(root / "landmarks" / f"{s['name']}.npy")
        np.testing.assert_array_equal(s["landmarks"].numpy(), lms[start : start + 10])
        np.testing.assert_array_equal(s["source_landmarks"].numpy(), lms[src])


def test_eval_windows_and_landmarks_batch(roots):
    dm = TalkingVideoDataModule(str(roots["prepared"]), preset="prepared", clip_frames=10, eval_mode="windows", batch_size=3)
    dm.setup("test")
    b = next(iter(dm.test_dataloader()))
    assert b.names == ["spkC_001@0", "spkC_001@10", "spkC_001@20"]
    assert [decode_frame_index(f) for f in (b.frames[:, 0] * 255).round().byte()] == [0, 10, 20]
    assert b.landmarks.shape == (3, 10, 68, 2) and b.source_landmarks.shape == (3, 68, 2)


def test_frame_rate_conversion_on_reading(roots):
    dm = TalkingVideoDataModule(str(roots["ravdess"]), preset="ravdess", image_size=32, batch_size=1)
    dm.setup("test")
    rec = dm.datasets["test"].items[0].clip
    assert rec.src_frames == 36 and rec.src_fps == pytest.approx(29.97, abs=0.01) and rec.num_frames == 31
    b = next(iter(dm.test_dataloader()))
    got = [decode_frame_index(f) for f in (b.frames[0] * 255).round().byte()]
    assert got == convert_frame_indices(36, 30000 / 1001, 25).tolist()
    assert int(b.audio_mask.sum()) == 31 * 640 - (31 * 640 - round(36 * 1001 / 30000 * 16000))  # 48 kHz -> 16 kHz


def test_reenactment_presets_and_pairs(roots):
    vox = ReenactmentVideoDataModule(str(roots["voxceleb1"]), preset="voxceleb1", image_size=32, batch_size=2)
    assert isinstance(vox.spec, ReenactmentDataSpec) and vox.spec.speakers == ("id10001", "id10002")
    vox.setup("fit")
    b = next(iter(vox.train_dataloader()))
    assert isinstance(b, ReenactmentBatch) and b.driving.shape == (2, 1, 3, 32, 32)
    vox.setup("test")
    t = next(iter(vox.test_dataloader()))  # DaGAN vox_evaluation.csv: frame pairs under a foreign prefix
    frames = (t.driving[:, 0] * 255).round().byte()
    assert [decode_frame_index(f) for f in frames] == [20, 2]
    assert [decode_frame_index(s) for s in (t.source * 255).round().byte()] == [13, 5]
    assert t.subjects == ["id10280", "id10292"]
    cel = ReenactmentVideoDataModule(str(roots["celebv"]), preset="celebv", image_size=32, batch_size=2)
    assert cel.spec.speakers == ()
    cel.setup("test")
    c = next(iter(cel.test_dataloader()))
    assert [decode_frame_index(s) for s in (c.source * 255).round().byte()] == [3, 0]
    assert [decode_frame_index(f) for f in (c.driving[:, 0] * 255).round().byte()] == [7, 9]
    with pytest.raises(DataError, match="celebv' has no train split"):
        cel.setup("fit")
    grid = ReenactmentVideoDataModule(str(roots["grid"]), preset="grid", image_size=32, batch_size=4)
    grid.setup("test")
    g = next(iter(grid.test_dataloader()))
    assert g.driving.shape == (4, 30, 3, 32, 32) and g.names[0] == "s1_bbaf2n"
    prep = ReenactmentVideoDataModule(str(roots["prepared"]), preset="prepared", batch_size=8)
    prep.setup("test")
    p = next(iter(prep.test_dataloader()))
    assert p.names[-1] == "spkC_001__spkC_000" and p.driving_landmarks.shape[-2:] == (68, 2)


def test_grid_mpg_with_audio(roots):
    dm = TalkingVideoDataModule(str(roots["grid"]), preset="grid", image_size=32, batch_size=4)
    dm.setup("test")
    b = next(iter(dm.test_dataloader()))
    assert b.frames.shape == (4, 30, 3, 32, 32) and int(b.audio_mask[0].sum()) > 18000


def test_workers(roots):
    dm = TalkingVideoDataModule(str(roots["prepared"]), preset="prepared", clip_frames=5, batch_size=2, num_workers=2)
    names = [n for b in dm.train_dataloader() for n in b.names]
    assert sorted(names) == ["spkA_000", "spkA_001", "spkB_000", "spkB_001"]


# ------------------------------------------------------------------------------- bad input
def test_missing_root_names_path_layout_and_source(tmp_path):
    with pytest.raises(DataError) as err:
        TalkingVideoDataModule(str(tmp_path / "HDTF"), preset="hdtf").spec
    msg = str(err.value)
    assert str(tmp_path / "HDTF") in msg and "{RD,WDA,WRA}_<Name>_<NNN>.mp4" in msg and "github.com/MRzzm/HDTF" in msg
    with pytest.raises(DataError, match=r"lipread_mp4.*robots\.ox\.ac\.uk"):
        TalkingVideoDataModule(str(tmp_path), preset="lrw").spec
    with pytest.raises(DataError, match=r"meta\.json.*talkzoo data demo --family video"):
        TalkingVideoDataModule(str(tmp_path), preset="demo").spec


@pytest.mark.parametrize("cls", [TalkingVideoDataModule, ReenactmentVideoDataModule])
def test_datamodule_docstring_documents_every_argument(cls):
    # LightningCLI's --help takes argument descriptions from the class docstring
    import inspect

    doc = inspect.getdoc(cls)
    assert doc is not None and "Raises:" in doc
    for name in inspect.signature(cls.__init__).parameters:
        if name != "self":
            assert f"{name}:" in doc or f" {name}," in doc, name


def test_bad_configuration():
    with pytest.raises(ConfigError, match="preset 'nope' is unknown"):
        TalkingVideoDataModule("x", preset="nope")
    with pytest.raises(ConfigError, match="no audio.*ReenactmentVideoDataModule"):
        TalkingVideoDataModule("x", preset="voxceleb1")
    with pytest.raises(ConfigError, match="custom' needs image_size"):
        TalkingVideoDataModule("x", preset="custom")
    with pytest.raises(ConfigError, match="short_clips"):
        TalkingVideoDataModule("x", short_clips="drop")


def test_hdtf_without_split_lists(roots, tmp_path):
    root = _copy(roots, "hdtf", tmp_path)
    shutil.rmtree(root / "splits")
    dm = TalkingVideoDataModule(str(root), preset="hdtf", image_size=32)
    assert dm.spec.speakers == ()
    with pytest.raises(DataError, match=r"splits/train\.txt: not found.*FLOAT"):
        dm.setup("fit")


def test_video_without_audio_error_or_logged_skip(roots, tmp_path, caplog):
    root = _copy(roots, "prepared", tmp_path)
    write_video(root / "videos" / "spkA_001.mp4", synthetic_frames(30, 32), 25)  # audio track gone
    with pytest.raises(DataError, match=r"spkA_001\.mp4: has no audio track"):
        TalkingVideoDataModule(str(root), clip_frames=10).setup("fit")
    dm = TalkingVideoDataModule(str(root), clip_frames=10, skip_bad_files=True)
    with caplog.at_level(logging.WARNING, logger="talkzoo.data.video"):
        dm.setup("fit")
    assert "spkA_001.mp4" in caplog.text and "no audio track" in caplog.text
    assert [i.clip.clip_id for i in dm.datasets["train"].items] == ["spkA_000", "spkB_000", "spkB_001"]
    # the reenactment module does not need audio
    ReenactmentVideoDataModule(str(root)).setup("fit")


def test_variable_frame_rate_is_refused(roots, tmp_path):
    root = _copy(roots, "prepared", tmp_path)
    write_vfr_video(root / "videos" / "spkB_000.mp4", frames=30, size=32)
    with pytest.raises(DataError, match=r"spkB_000\.mp4: variable frame rate"):
        TalkingVideoDataModule(str(root), clip_frames=10).setup("fit")


def test_short_clip_skip_pad_error(tmp_path, caplog):
    root = write_prepared_video_layout(tmp_path / "p", frames=[30, 6, 30, 30, 30, 30])  # spkA_001 is short
    dm = TalkingVideoDataModule(str(root), clip_frames=10, batch_size=4)
    with caplog.at_level(logging.WARNING, logger="talkzoo.data.video"):
        dm.setup("fit")
    assert "spkA_001.mp4: 6 frames" in caplog.text and "skipped" in caplog.text
    assert len(dm.datasets["train"]) == 3
    pad = TalkingVideoDataModule(str(root), clip_frames=10, batch_size=4, short_clips="pad")
    b = next(iter(pad.train_dataloader()))
    assert b.frames.shape[1] == 10 and sorted(b.frame_mask.sum(1).tolist()) == [6, 10, 10, 10]
    assert sorted(b.audio_mask.sum(1).tolist()) == [3840, 6400, 6400, 6400]
    with pytest.raises(DataError, match=r"spkA_001\.mp4: 6 frames.*short_clips='error'"):
        TalkingVideoDataModule(str(root), clip_frames=10, short_clips="error").setup("fit")


def test_wrong_frame_size(roots, tmp_path):
    root = _copy(roots, "prepared", tmp_path)
    write_video(root / "videos" / "spkA_000.mp4", synthetic_frames(30, 48), 25,
                audio=np.zeros(19200, np.float32), sample_rate=16000)
    with pytest.raises(DataError, match=r"spkA_000\.mp4: frames are 48x48 .*configured for 32x32.*talkzoo data prepare"):
        TalkingVideoDataModule(str(root), clip_frames=10).setup("fit")
    # checked when read too, when setup trusts meta.json
    dm = TalkingVideoDataModule(str(root), clip_frames=10, check_files=False, batch_size=4)
    dm.setup("fit")
    with pytest.raises(DataError, match="frames are 48x48"):
        next(iter(dm.train_dataloader()))


def test_split_list_errors_and_comments(roots, tmp_path):
    root = _copy(roots, "prepared", tmp_path)
    (root / "splits" / "val.txt").write_text("# held out\nspkC_000  # first\nghost_clip\n")
    assert read_split_file(root / "splits" / "val.txt") == ["spkC_000", "ghost_clip"]
    assert read_split_file_from_text(tmp_path, "id10001#7w0IBEWc9Qw#000993#001143\n") == ["id10001#7w0IBEWc9Qw#000993#001143"]
    with pytest.raises(DataError, match=r"val\.txt: lists 1 clip\(s\) not found.*ghost_clip"):
        TalkingVideoDataModule(str(root)).setup("validate")
    meta = json.loads((root / "meta.json").read_text())
    meta["format"] = "other"
    (root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="talkzoo-video/1"):
        TalkingVideoDataModule(str(root)).spec


def read_split_file_from_text(tmp_path, text):
    path = tmp_path / "s.txt"
    path.write_text(text)
    return read_split_file(path)


def test_bad_pair_entry(roots, tmp_path):
    root = _copy(roots, "voxceleb1", tmp_path)
    with (root / "vox_evaluation.csv").open("a") as fh:
        fh.write("/x/test/id99999#nope#0#1.mp4/0000001.png,/x/test/id99999#nope#0#1.mp4/0000002.png\n")
    dm = ReenactmentVideoDataModule(str(root), preset="voxceleb1", image_size=32)
    with pytest.raises(DataError, match=r"vox_evaluation\.csv:4: .*id99999#nope"):
        dm.setup("test")
