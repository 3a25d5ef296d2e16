"""The papers' landmark and identity protocol offline (the ``dlib`` extra): dlib's 68-point
landmarker and ResNet identity network behind the core interface, in LMD / AKD / CSIM / AED, with
the network named in each metric's name. Skipped, with the extra named, when it is not installed."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from talkzoo.landmarks.dlib import dlib_available

pytestmark = pytest.mark.skipif(not dlib_available(), reason="needs the dlib extra: pip install 'talkzoo[dlib]'")

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _astronaut() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut())


def _hopper() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(HOPPER).convert("RGB"))


def _face_crop(img: np.ndarray, size: int = 160) -> np.ndarray:
    """The dlib face box of ``img`` grown to a square, resized to ``size`` (a 2D-family face crop)."""
    from PIL import Image

    from talkzoo.landmarks import make_landmarker

    lm = make_landmarker("dlib68")(img[None])[0]
    (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
    c, side = ((x0 + x1) / 2, (y0 + y1) / 2), 1.8 * max(x1 - x0, y1 - y0)
    box = (c[0] - side / 2, c[1] - side / 2, c[0] + side / 2, c[1] + side / 2)
    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.LANCZOS, box=box))


def _video(*frames: np.ndarray) -> torch.Tensor:
    """``(1, T, 3, H, W)`` float [0, 1] from uint8 frames."""
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div(255)[None]


def test_landmarker_interface_and_names():
    from talkzoo.landmarks import IdentityEmbedder, Landmarker, default_landmarker_name, make_identity_embedder, make_landmarker

    lm, emb = make_landmarker("dlib"), make_identity_embedder("dlib-resnet")
    assert isinstance(lm, Landmarker) and lm.name == "dlib68" and default_landmarker_name() == "dlib68"
    assert isinstance(emb, IdentityEmbedder) and emb.name == "dlib-resnet" and emb.dim == 128
    points = lm(np.stack([_astronaut(), np.zeros((512, 512, 3), np.uint8)]))
    assert points.shape == (2, 68, 2) and np.isfinite(points[0]).all() and np.isnan(points[1]).all()
    # the mouth (48..67) lies below the eyes (36..47) and inside the face box of the jaw line
    assert points[0, 48:68, 1].mean() > points[0, 36:48, 1].mean()
    # with a box, the predictor runs on that box; a NaN box is "no face"
    boxed = lm(np.stack([_astronaut()] * 2), np.array([[150.0, 60.0, 290.0, 220.0], [np.nan] * 4]))
    assert np.isfinite(boxed[0]).all() and np.isnan(boxed[1]).all()


def test_lmd_of_ground_truth_against_itself_is_zero_and_moves_with_the_mouth():
    from talkzoo.metrics.video import VideoMetricInputs, update_video_metrics, video_metrics

    crop = _face_crop(_astronaut())
    moved = crop.copy()
    moved[100:140] = np.roll(crop[100:140], 6, axis=1)  # shift the lower face (mouth) sideways and back
    moved[100:140] = np.roll(moved[100:140], 3, axis=0)
    metrics = video_metrics("audio-to-video", 160, landmarks=True, landmarker="dlib68", identity=None)
    assert "LMD@dlib68" in metrics
    real = _video(crop, crop)
    update_video_metrics(metrics, VideoMetricInputs(real, torch.ones(1, 2, dtype=torch.bool), real=real, source=real[:, 0]))
    assert float(metrics["LMD@dlib68"].compute()) == 0.0
    metrics.reset()
    update_video_metrics(metrics, VideoMetricInputs(_video(moved, crop), torch.ones(1, 2, dtype=torch.bool), real=real,
                                                    source=real[:, 0]))
    assert float(metrics["LMD@dlib68"].compute()) > 0.0


def test_csim_same_identity_beats_astronaut_vs_hopper_and_names_the_network():
    from talkzoo.metrics.video import CSIM, AverageEuclideanDistance
    from talkzoo.landmarks import make_identity_embedder

    astro, hopper = _face_crop(_astronaut()), _face_crop(_hopper())
    mirror = np.ascontiguousarray(astro[:, ::-1])
    emb = make_identity_embedder("dlib-resnet")
    same, other = CSIM(emb), CSIM(emb)
    assert same.log_name == "CSIM@dlib-resnet"
    same.update(_video(mirror), _video(astro)[:, 0])
    other.update(_video(hopper), _video(astro)[:, 0])
    assert float(same.compute()) > float(other.compute()) + 0.02
    aed = AverageEuclideanDistance(emb)
    assert aed.log_name == "AED@dlib-resnet"
    aed.update(_video(mirror, hopper), _video(astro, astro))
    # dlib's own scale: same person < 0.6 < different people (0.20 and 0.68 measured here)
    d = aed.total.item() / aed.count.item()
    assert 0.0 < d and aed.count.item() == 2


def test_static_source_baseline_has_lmd_above_zero_on_moving_frames():
    from talkzoo.baselines import StaticSourceVideo
    from talkzoo.data.spec import VideoDataSpec
    from talkzoo.metrics.video import VideoMetricInputs, update_video_metrics, video_metrics

    crop = _face_crop(_astronaut())
    open_mouth = crop.copy()
    open_mouth[112:136] = crop[104:128]  # stretch the mouth region downwards: a jaw opening
    real = _video(crop, open_mouth, open_mouth)
    model = StaticSourceVideo(spec=VideoDataSpec(image_size=160), identity=None, landmarker="dlib68")
    model.setup("test")
    pred = model.generate(torch.zeros(1, 3 * 640), real[:, 0], num_frames=3)
    metrics = model.test_metrics
    assert "test/LMD@dlib68" in metrics.keys(keep_base=False) or any("LMD@dlib68" in k for k in metrics.keys())
    update_video_metrics(metrics, VideoMetricInputs(pred, torch.ones(1, 3, dtype=torch.bool), real=real, source=real[:, 0]))
    values = {k.split("/")[-1]: float(v) for k, v in metrics.compute().items()}
    assert values["LMD@dlib68"] > 0.0
