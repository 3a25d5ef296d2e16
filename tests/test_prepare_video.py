"""Face preprocessing (``talkzoo data prepare video``): crop maths, 25 fps resampling, audio
alignment, skipping videos without a face, atomic output, the pluggable detector/landmarker."""

from __future__ import annotations

import json
import logging
import sys
import types

import numpy as np
import pytest

from talkzoo.data.prepare_video import (
    Dlib68Landmarker,
    BoxLandmarker,
    make_detector,
    make_landmarker,
    prepare_videos,
    stabilised_box,
)
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.render.video import read_video_info, write_video

skimage = pytest.importorskip("skimage")


class StubLandmarker:
    """68 points spread over the given face box (a test double with a known answer); follows
    talkzoo's one landmarker interface: ``(frames (N, H, W, 3), boxes (N, 4)) -> (N, 68, 2)``."""

    name = "stub68"

    def __init__(self) -> None:
        self.boxes: list[np.ndarray] = []

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        assert frames.dtype == np.uint8 and frames.ndim == 4 and boxes is not None
        u = np.linspace(0.0, 1.0, 68)
        out = []
        for box in np.asarray(boxes, dtype=np.float64):
            self.boxes.append(box)
            out.append(np.stack([box[0] + u * (box[2] - box[0]), box[1] + u * (box[3] - box[1])], 1))
        return np.stack(out).astype(np.float32)


def _face_video(path, *, fps=30.0, seconds=1.0, size=256, audio_rate=44100, face=True, audio=True):
    """A raw video: the astronaut portrait (a real face) drifting right by 1 px per frame."""
    from PIL import Image

    img = skimage.data.astronaut() if face else np.full((512, 512, 3), 90, np.uint8)
    base = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
    n = int(round(fps * seconds))
    frames = np.stack([np.roll(base, i, axis=1) for i in range(n)])
    wave = None
    if audio:
        t = np.arange(int(audio_rate * seconds)) / audio_rate
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_video(path, frames, fps, audio=wave, sample_rate=audio_rate if audio else None)
    return n


def test_stabilised_box_follows_fomm_recipe():
    # union (10, 20)-(50, 100): w 40, h 80; width grows by max(.1, (1.2*80-40)/80)=0.7 -> 28 px a side,
    # height by max(.1, (1.2*40-80)/160) = 0.1 -> 8 px a side: box (-18, 12)-(78, 108): 96 x 96, centre (30, 60)
    boxes = np.array([[10, 20, 40, 90], [20, 30, 50, 100]], dtype=float)
    x0, y0, side = stabilised_box(boxes, (480, 640), 0.1)
    assert side == pytest.approx(96.0)
    assert (x0, y0) == pytest.approx((0.0, 12.0))  # shifted right inside the frame (was -18)
    # larger than the frame: shrunk to the shorter side and placed inside
    x0, y0, side = stabilised_box(np.array([[0, 0, 300, 300]]), (200, 400), 0.1)
    assert side == 200 and 0 <= y0 and y0 + side <= 200 and 0 <= x0 <= 200
    with pytest.raises(DataError):
        stabilised_box(np.zeros((0, 4)), (10, 10))


@pytest.mark.parametrize("name", ["skimage", "opencv"])
def test_detectors_find_the_astronaut(name):
    if name == "opencv":
        cv2 = pytest.importorskip("cv2")
        if not hasattr(cv2, "CascadeClassifier"):
            pytest.skip("OpenCV 5 has no Haar cascades")
    det = make_detector(name)
    boxes = det(skimage.data.astronaut())
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) >= 1
    # FaceMesh puts the face at x 179-271, y 71-177 (talkzoo/assets/portrait/pose.json)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    assert np.any((np.abs(cx - 225) < 25) & (np.abs(cy - 124) < 30))
    assert len(det(np.full((200, 200, 3), 128, np.uint8))) == 0


def test_prepare_resamples_crops_and_writes_layout(tmp_path):
    src = tmp_path / "raw"
    n_src = _face_video(src / "WDA_Someone_000.mp4", fps=30.0, seconds=1.2)
    stub = StubLandmarker()
    assert isinstance(stub, BoxLandmarker)
    out = prepare_videos(src, tmp_path / "out", landmarker=stub, detector="skimage", size=64,
                         detect_every=3, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "talkzoo-video/1" and meta["fps"] == 25 and meta["size"] == 64
    assert meta["sample_rate"] == 16000 and meta["landmarks"] == "ibug68"
    clip = meta["clips"]["WDA_Someone_000"]
    assert clip["speaker"] == "WDA_Someone" and meta["speakers"] == ["WDA_Someone"]
    t = clip["frames"]
    assert t == int(n_src / 30.0 * 25)  # 36 source frames at 30 fps = 1.2 s -> 30 frames at 25 fps
    info = read_video_info(out / "videos" / "WDA_Someone_000.mp4")
    assert info["num_frames"] == t and (info["width"], info["height"]) == (64, 64)
    assert info["fps"] == pytest.approx(25.0) and info["audio_sample_rate"] == 16000
    assert abs(info["audio_duration_s"] - t / 25) <= 1024 / 16000
    lm = np.load(out / "landmarks" / "WDA_Someone_000.npy")
    assert lm.shape == (t, 68, 2) and lm.dtype == np.float32
    assert len(stub.boxes) == t
    # the face box handed to the landmarker lies inside the crop and covers a good part of it
    b = np.stack(stub.boxes)
    assert np.all(b[:, :2] > -8) and np.all(b[:, 2:] < 72) and np.all(b[:, 2] - b[:, 0] > 20)
    ids = {s: [ln for ln in (out / "splits" / f"{s}.txt").read_text().splitlines() if not ln.startswith("#")]
           for s in ("train", "val", "test")}
    assert sorted(sum(ids.values(), [])) == ["WDA_Someone_000"]
    assert (out / "pairs" / "test_pairs.csv").read_text().splitlines()[0] == "source,driving"
    assert not [p for p in out.rglob(".*")]  # no temporary or staging file left


class RecordingLandmarker:
    """Wraps a real landmarker and records the face box handed to it and whether it found the face."""

    def __init__(self, inner) -> None:
        self.inner, self.boxes, self.found = inner, [], []

    name = "recording"

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        self.boxes.extend(np.asarray(boxes, dtype=np.float64))
        points = self.inner(frames, boxes)
        self.found.extend(np.isfinite(points).all(axis=(1, 2)).tolist())
        return points


def test_prepare_with_the_default_facemesh_landmarker_on_a_real_face(tmp_path):
    # the command's defaults: --landmarker facemesh (shipped weights), --detector auto
    pytest.importorskip("ai_edge_litert")
    from talkzoo.landmarks import MOUTH, FaceMeshLandmarker
    from talkzoo.video import read_frames

    src = tmp_path / "raw"
    _face_video(src / "WDA_Astronaut_000.mp4", fps=25.0, seconds=0.4)
    rec = RecordingLandmarker(make_landmarker("facemesh"))
    size = 128
    out = prepare_videos(src, tmp_path / "out", landmarker=rec, size=size, progress=False)
    t = json.loads((out / "meta.json").read_text())["clips"]["WDA_Astronaut_000"]["frames"]
    lm = np.load(out / "landmarks" / "WDA_Astronaut_000.npy")
    assert t == 10 and lm.shape == (t, 68, 2) and lm.dtype == np.float32
    assert np.isfinite(lm).all() and all(rec.found) and len(rec.found) == t  # found on every frame
    assert np.all((lm > -0.5) & (lm < size - 0.5))
    # the mouth lies inside the detector's face box (output pixels) on every frame ...
    box = np.stack(rec.boxes)[:, None, :]
    mouth = lm[:, MOUTH]
    assert np.all((mouth[..., 0] > box[..., 0]) & (mouth[..., 0] < box[..., 2]))
    assert np.all((mouth[..., 1] > box[..., 1]) & (mouth[..., 1] < box[..., 3]))
    # ... below the eyes, horizontally between the eye centres, and wider than it is tall
    right_eye, left_eye = lm[:, 36:42].mean(1), lm[:, 42:48].mean(1)
    centre = mouth.mean(1)
    assert np.all(centre[:, 1] > np.maximum(right_eye[:, 1], left_eye[:, 1]) + 0.1 * size)
    assert np.all((centre[:, 0] > right_eye[:, 0]) & (centre[:, 0] < left_eye[:, 0]))
    assert np.all(lm[:, 54, 0] - lm[:, 48, 0] > lm[:, 57, 1] - lm[:, 51, 1])
    # the landmarks belong to the frames written: FaceMesh on the decoded output video agrees
    frames = read_frames(out / "videos" / "WDA_Astronaut_000.mp4").numpy()
    assert frames.shape == (t, size, size, 3)
    again = FaceMeshLandmarker(track=False)(frames, np.stack(rec.boxes))
    assert np.abs(again - lm).mean() < 1.5


def test_no_face_is_a_logged_skip_and_nothing_written(tmp_path, caplog):
    src = tmp_path / "raw"
    _face_video(src / "spk1" / "good.mp4", seconds=0.6, fps=25.0)
    _face_video(src / "spk2" / "blank.mp4", seconds=0.6, fps=25.0, face=False)
    with caplog.at_level(logging.WARNING, logger="talkzoo.data.prepare_video"):
        out = prepare_videos(src, tmp_path / "out", landmarker=StubLandmarker(), detector="skimage", size=64,
                             progress=False)
    assert "blank.mp4" in caplog.text and "no face" in caplog.text
    meta = json.loads((out / "meta.json").read_text())
    assert list(meta["clips"]) == ["spk1_good"] and meta["clips"]["spk1_good"]["speaker"] == "spk1"
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["spk1_good.mp4"]
    assert sorted(p.name for p in (out / "landmarks").iterdir()) == ["spk1_good.npy"]


def test_nothing_prepared_is_an_error_and_leaves_no_output(tmp_path):
    src = tmp_path / "raw"
    _face_video(src / "blank.mp4", seconds=0.4, fps=25.0, face=False)
    _face_video(src / "mute.mp4", seconds=0.4, fps=25.0, audio=False)
    import soundfile

    soundfile.write(src / "voice.mp4", np.zeros(1600, np.float32), 16000, format="WAV")  # audio only
    with pytest.raises(DataError, match=r"no video could be prepared.*blank\.mp4: no face.*"
                                        r"mute\.mp4: has no audio.*voice\.mp4: has no video stream"):
        prepare_videos(src, tmp_path / "out", landmarker=StubLandmarker(), detector="skimage", size=64,
                       progress=False)
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="found no video"):
        prepare_videos(empty, tmp_path / "o2", landmarker=StubLandmarker(), progress=False)


def test_dlib_landmarker_names_missing_weights(tmp_path, monkeypatch, capsys):
    pytest.importorskip("dlib", reason="needs the dlib extra: pip install 'talkzoo[dlib]'")
    import talkzoo.landmarks.dlib as dlib_mod

    with pytest.raises(MissingWeightsError, match="shape_predictor_68_face_landmarks.dat"):
        Dlib68Landmarker(tmp_path / "nope.dat")
    monkeypatch.setattr(dlib_mod, "_models_dir", lambda: None)  # the extra's model files absent
    with pytest.raises(MissingWeightsError, match="talkzoo\\[dlib\\]"):
        make_landmarker("dlib", None)
    from talkzoo.cli import main as cli_main

    assert cli_main(["data", "prepare", "video", "--src", str(tmp_path), "--out", str(tmp_path / "o"),
                     "--landmarker", "dlib"]) == 2
    assert "shape_predictor_68_face_landmarks.dat" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(ConfigError, match="unknown landmarker"):
        make_landmarker("mediapipe")
    with pytest.raises(ConfigError, match="unknown face detector"):
        make_detector("mtcnn")

    # the adapter's glue against a stand-in dlib module: box -> rectangle, parts -> (68, 2)
    weights = tmp_path / "shape_predictor_68_face_landmarks.dat"
    weights.write_bytes(b"x")
    calls = {}

    class Rect:
        def __init__(self, *a):
            calls["rect"] = a

    class Shape:
        num_parts = 68

        def part(self, i):
            return types.SimpleNamespace(x=i, y=2 * i)

    def shape_predictor(path):
        calls["path"] = path
        return lambda img, rect: Shape()

    monkeypatch.setitem(sys.modules, "dlib", types.SimpleNamespace(
        shape_predictor=shape_predictor, rectangle=Rect, get_frontal_face_detector=lambda: None))
    lm = Dlib68Landmarker(weights)(np.zeros((1, 64, 64, 3), np.uint8), np.array([[1.4, 2.6, 40.2, 50.0]]))
    assert calls["path"] == str(weights) and calls["rect"] == (1, 3, 40, 50)
    assert lm.shape == (1, 68, 2) and lm[0, 67].tolist() == [67.0, 134.0]


def test_cli_prepare_with_a_plugged_landmarker(tmp_path, monkeypatch, capsys):
    (tmp_path / "stubmod.py").write_text(
        "import numpy as np\n"
        "class Stub:\n"
        "    name = 'stub'\n"
        "    def __call__(self, frames, boxes=None):\n"
        "        return np.tile(np.asarray(boxes[:, None, :2], dtype=np.float32), (1, 68, 1))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _face_video(tmp_path / "raw" / "id10270" / "yt1" / "00001.mp4", seconds=0.48, fps=25.0)
    from talkzoo.cli import main as cli_main

    assert cli_main(["data", "prepare", "voxceleb", "--src", str(tmp_path / "raw"), "--out", str(tmp_path / "o"),
                     "--landmarker", "stubmod:Stub", "--detector", "skimage", "--size", "64"]) == 0
    assert "1 clips prepared" in capsys.readouterr().out
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["clips"]["id10270_yt1_00001"]["frames"] == 12 and meta["speakers"] == ["id10270"]
    test = (tmp_path / "o" / "splits" / "test.txt").read_text().splitlines()
    assert "id10270_yt1_00001" in test  # an official VoxCeleb1 test identity
    assert (tmp_path / "o" / "pairs" / "test_pairs.csv").read_text().splitlines()[1] == \
        "id10270_yt1_00001,id10270_yt1_00001"
