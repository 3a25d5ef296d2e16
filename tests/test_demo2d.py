"""The 2D demo corpus (``talkzoo data demo --family video``): determinism, layout, decodable
mp4s with matching frame counts and audio durations, landmarks that follow the speech, and
the pieces (portrait asset, piecewise-affine warp, FaceMesh -> iBUG-68 table)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("skimage")

from talkzoo.cli import main as cli_main  # noqa: E402
from talkzoo.data.demo2d import (  # noqa: E402
    IBUG68_FROM_MEDIAPIPE,
    build_video_demo_corpus,
    clip_id,
    load_portrait,
    piecewise_affine_warp,
    video_demo_split,
)
from talkzoo.data.demo3d import load_face_asset  # noqa: E402
from talkzoo.errors import ConfigError, DataError  # noqa: E402
from talkzoo.render.video import read_video_info  # noqa: E402


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo2d") / "corpus"
    build_video_demo_corpus(root, num_speakers=2, sentences_per_speaker=2, size=64, hopper_speakers=1, progress=False)
    return root


def test_build_is_byte_identical(corpus, tmp_path):
    again = build_video_demo_corpus(tmp_path / "again", num_speakers=2, sentences_per_speaker=2, size=64,
                                    hopper_speakers=1, workers=1, progress=False)
    a, b = _digest(corpus), _digest(again)
    # 6 mp4 + 6 npy (2 astronaut voices + 1 Hopper voice, 2 sentences), 3 splits, 2 pair lists, meta,
    # README, and the held-out-identity view's meta, 3 splits and pairs (its videos/landmarks are links)
    own = {k: v for k, v in a.items() if not k.startswith(("heldout_identity/videos", "heldout_identity/landmarks"))}
    assert len(own) == 6 * 2 + 3 + 2 + 1 + 1 + 5, sorted(own)
    assert any("hopper" in k for k in own)
    assert a == b
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no build folder left behind


def test_layout_decodes_with_matching_frames_and_audio(corpus):
    meta = json.loads((corpus / "meta.json").read_text())
    assert meta["format"] == "talkzoo-video/1" and meta["fps"] == 25 and meta["sample_rate"] == 16000
    assert meta["size"] == 64 and meta["landmarks"] == "ibug68"
    assert meta["speakers"] == ["DemoSpeaker_en_m1", "DemoSpeaker_en_f2", "DemoSpeaker_hopper_enus_m3"]
    assert meta["identities"]["DemoSpeaker_hopper_enus_m3"] == "hopper"
    assert sorted(meta["clips"]) == sorted(clip_id(s, k) for s in meta["speakers"] for k in (1, 2))
    for cid, clip in meta["clips"].items():
        info = read_video_info(corpus / "videos" / f"{cid}.mp4")
        t = clip["frames"]
        assert 25 < t < 150  # a Harvard sentence lasts 1-6 s
        assert info["num_frames"] == t and info["fps"] == pytest.approx(25.0)
        assert (info["width"], info["height"]) == (64, 64)
        assert info["audio_sample_rate"] == 16000
        assert info["audio_duration_s"] == pytest.approx(t / 25, abs=1024 / 16000)
        lm = np.load(corpus / "landmarks" / f"{cid}.npy")
        assert lm.shape == (t, 68, 2) and lm.dtype == np.float32
        assert np.all((lm > 0) & (lm < 63))
    splits = {s: [ln for ln in (corpus / "splits" / f"{s}.txt").read_text().splitlines() if not ln.startswith("#")]
              for s in ("train", "val", "test")}
    assert splits == {"train": ["demo_en_m1_s01", "demo_en_f2_s01"], "val": [],
                      "test": ["demo_en_m1_s02", "demo_en_f2_s02"]}
    assert (corpus / "pairs" / "test_pairs.csv").read_text().splitlines() == [
        "source,driving", "demo_en_f2_s02,demo_en_m1_s02", "demo_en_m1_s02,demo_en_f2_s02"]


def test_mouth_follows_the_speech(corpus):
    """The inner-lip gap (iBUG 62-66) is near zero in the leading silence and opens while speaking;
    the decoded mouth region changes with it."""
    import av

    lm = np.load(corpus / "landmarks" / "demo_en_m1_s01.npy")
    gap = lm[:, 66, 1] - lm[:, 62, 1]  # pixels at 64 px (the face is ~30 px wide)
    assert gap.min() < 0.1  # lips closed on the /b/ of "birch"
    assert gap[-1] < 0.3  # closing again in the trailing silence
    assert gap.max() > 1.0  # open vowels open the mouth by ~1 cm (~2 px at 64 px)
    assert np.corrcoef(gap, lm[:, 8, 1] - lm[:, 27, 1])[0, 1] > 0.5  # the chin drops as the jaw opens
    with av.open(str(corpus / "videos" / "demo_en_m1_s01.mp4")) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(float)
    x0, y0 = np.floor(lm[:, 48:68].min((0, 1))).astype(int)
    x1, y1 = np.ceil(lm[:, 48:68].max((0, 1))).astype(int)
    mouth = frames[:, y0:y1 + 1, x0:x1 + 1].mean((1, 2, 3))
    assert abs(np.corrcoef(gap, mouth)[0, 1]) > 0.3


def test_split_sizes_and_pairs():
    s = video_demo_split(4, 12)
    assert (len(s["train"]), len(s["val"]), len(s["test"]), len(s["pairs"])) == (36, 4, 8, 8)
    assert all(c.endswith(("_s11", "_s12")) for c in s["test"]) and all(c.endswith("_s10") for c in s["val"])
    meta_spk = {c: c.rsplit("_s", 1)[0] for c in s["test"]}
    assert all(meta_spk[src] != meta_spk[drv] for src, drv in s["pairs"])
    assert clip_id("DemoSpeaker_enus_f4", 7) == "demo_enus_f4_s07"
    with pytest.raises(ConfigError):
        video_demo_split(9, 12)
    with pytest.raises(ConfigError, match="size"):
        build_video_demo_corpus("/nonexistent/x", size=100 + 1)


def test_portrait_asset_matches_the_3d_face():
    """The template -> image mapping puts every vertex the 3D asset did not edit on its FaceMesh point."""
    portrait = load_portrait()
    asset = load_face_asset()
    err = np.linalg.norm(portrait.project(asset.template) - portrait.landmarks, axis=1)
    assert np.sum(err < 0.01) >= 360  # 370 untouched vertices; the lip closing moved 98
    assert err.max() < 8.0
    back = portrait.unproject(portrait.project(asset.template[:5]), 0.0)
    assert np.allclose(portrait.project(back), portrait.project(asset.template[:5]), atol=1e-6)


def test_ibug_table_is_mirror_symmetric():
    t = load_face_asset().template
    idx = np.array(IBUG68_FROM_MEDIAPIPE)
    assert len(idx) == 68 and len(set(idx.tolist())) == 68 and idx.max() < 468
    mirror = list(zip(range(0, 8), range(16, 8, -1))) + list(zip(range(17, 22), range(26, 21, -1)))
    mirror += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    mirror += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    for a, b in mirror:
        pa, pb = t[idx[a]], t[idx[b]]
        assert pa[0] < 0 < pb[0], (a, b)  # iBUG's low indices are on the subject's right (image left)
        assert abs(pa[0] + pb[0]) < 0.006 and abs(pa[1] - pb[1]) < 0.006, (a, b)
    # vertical order: brows above eyes above nose tip above mouth above chin
    y = t[idx, 1]
    assert y[19] > y[37] > y[30] > y[51] > y[57] > y[8]


def test_piecewise_affine_warp_translation_is_exact():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (40, 50, 3)).astype(np.float32)
    gx, gy = np.meshgrid(np.linspace(-5, 55, 7), np.linspace(-5, 45, 6))
    src = np.stack([gx.ravel(), gy.ravel()], 1)
    tris = []
    for r in range(5):
        for c in range(6):
            i = r * 7 + c
            tris += [(i, i + 1, i + 8), (i, i + 8, i + 7)]
    out = piecewise_affine_warp(img, src, src + [3.0, 2.0], np.array(tris), (40, 50))
    assert np.allclose(out[2:, 3:], img[:-2, :-3], atol=1e-3)
    # a pure scale about the origin by 2 samples the source at half the coordinates (bilinear)
    out = piecewise_affine_warp(img, src, src * 2.0, np.array(tris), (40, 50))
    assert np.allclose(out[10, 20], img[5, 10], atol=1e-3)
    assert np.allclose(out[11, 20], 0.5 * (img[5, 10] + img[6, 10]), atol=1e-3)


def test_cli_video_demo(tmp_path, capsys):
    assert cli_main(["data", "demo", "--family", "video", "--out", str(tmp_path / "c"), "--size", "300"]) == 2
    assert "--size must be 256 or 512" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        build_video_demo_corpus(tmp_path / "full", num_speakers=1, sentences_per_speaker=1, size=64, progress=False)
    assert cli_main(["data", "demo", "--family", "video", "--out", str(tmp_path / "c"), "--speakers", "1",
                     "--sentences", "1"]) == 0
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    # one astronaut voice and, by default, two further voices on Grace Hopper (the held-out identity)
    assert meta["size"] == 256 and list(meta["clips"]) == ["demo_en_m1_s01", "demo_hopper_en_f2_s01", "demo_hopper_enus_m3_s01"]
    assert read_video_info(tmp_path / "c" / "videos" / "demo_en_m1_s01.mp4")["width"] == 256
    assert cli_main(["data", "demo", "--family", "video", "--out", str(tmp_path / "c")]) == 0
    assert "already present" in capsys.readouterr().out


def test_held_out_identity_split_and_cross_identity_pairs_load(corpus):
    from talkzoo.data.video import ReenactmentVideoDataModule, TalkingVideoDataModule

    # the main split holds only the astronaut (same identity); Hopper is never trained on
    for part in ("train", "test"):
        listed = [line for line in (corpus / "splits" / f"{part}.txt").read_text().splitlines() if not line.startswith("#")]
        assert listed and not any("hopper" in c for c in listed)
    view = corpus / "heldout_identity"
    dm = TalkingVideoDataModule(root=str(view), preset="demo", batch_size=2)
    dm.setup("test")
    test_ids = [r.clip_id for r in dm.listing("test")]
    assert test_ids == ["demo_hopper_enus_m3_s01", "demo_hopper_enus_m3_s02"]
    assert all("hopper" not in r.clip_id for r in dm.listing("train"))
    batch = next(iter(dm.test_dataloader()))
    assert batch.frames.shape[-3:] == (3, 64, 64)
    # cross-identity reenactment: source of one identity, driving video of the other
    pairs = ReenactmentVideoDataModule(root=str(corpus), preset="demo",
                                       pairs_file=str(corpus / "pairs" / "cross_identity_pairs.csv")).pairs()
    assert pairs and all(("hopper" in p.source.clip_id) != ("hopper" in p.driving.clip_id) for p in pairs)
    same = ReenactmentVideoDataModule(root=str(corpus), preset="demo").pairs()
    assert same and not any("hopper" in p.source.clip_id or "hopper" in p.driving.clip_id for p in same)
    split = video_demo_split(4, 12, hopper_speakers=2)
    assert len(split["test_identity"]) == 24 and len(split["pairs_cross"]) == 2 * (4 + 2)
    with pytest.raises(ConfigError, match="at most 8"):
        video_demo_split(7, 12, hopper_speakers=2)


def test_hopper_portrait_asset_fits_the_3d_face():
    """Grace Hopper's asset: the template maps onto her FaceMesh landmarks within a few pixels."""
    portrait = load_portrait("hopper")
    asset = load_face_asset()
    assert portrait.image.shape == (600, 512, 3)
    err = np.linalg.norm(portrait.project(asset.template) - portrait.landmarks, axis=1)
    assert np.median(err) < 5.0  # a similarity fit of another face: not exact (the astronaut's is)
