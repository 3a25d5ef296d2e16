"""Tests of talkzoo.landmarks: the FaceMesh landmarker (bundled model, LiteRT) and the iBUG-68 table.

The model tests run on scikit-image's ``astronaut()`` portrait (a real photograph, offline) cut
around the face and resized to 256 x 256, like a frame of the prepared-video layout. They are
skipped, with the reason, when the LiteRT runtime (``pip install ai-edge-litert``) is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.landmarks import (
    IBUG68_FROM_FACEMESH,
    IBUG68_GROUPS,
    MOUTH,
    FaceDetector,
    FaceMeshLandmarker,
    Landmarker,
    check_frames,
    default_model_path,
    face_mask,
    facemesh_to_ibug68,
)

HAVE_LITERT = importlib.util.find_spec("ai_edge_litert") is not None
needs_litert = pytest.mark.skipif(
    not HAVE_LITERT, reason="ai_edge_litert (LiteRT runtime) not installed: pip install ai-edge-litert"
)

# The crop of astronaut() (512 x 512) used as a "prepared" frame: a square of SIDE pixels centred
# on (CX, CY) -- the face is ~92 px wide there, so it fills ~45% of the crop, as in the demo corpus.
CX, CY, SIDE, SIZE = 225, 130, 212, 256
# Face region in astronaut() pixels, measured by hand on the photograph: forehead hairline to chin,
# ear to ear (a little wider than the face so that the jaw-line points lie inside).
FACE_BOX = (172.0, 60.0, 280.0, 186.0)


def _to_frame(xy_orig: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """astronaut() pixel coordinates (pixel centres) -> 256-frame pixels of the crop at (x0, y0)."""
    return (np.asarray(xy_orig, dtype=np.float64) + 0.5 - [x0, y0]) * (SIZE / SIDE) - 0.5


def _prepared_frame(dx: int = 0, dy: int = 0) -> tuple[np.ndarray, int, int]:
    """(256, 256, 3) uint8 crop of astronaut() around the face, window moved by (dx, dy) source px."""
    from skimage import data, transform

    img = data.astronaut()
    x0, y0 = CX - SIDE // 2 + dx, CY - SIDE // 2 + dy
    assert x0 >= 0 and y0 >= 0 and x0 + SIDE <= 512 and y0 + SIDE <= 512
    crop = img[y0 : y0 + SIDE, x0 : x0 + SIDE]
    frame = transform.resize(crop, (SIZE, SIZE), order=1, anti_aliasing=True, preserve_range=True)
    return np.round(frame).astype(np.uint8), x0, y0


@pytest.fixture(scope="module")
def landmarker() -> FaceMeshLandmarker:
    return FaceMeshLandmarker(num_threads=1)


@pytest.fixture(scope="module")
def astronaut_result(landmarker):
    frame, x0, y0 = _prepared_frame()
    landmarker.detect(frame[None])  # warm-up
    t = time.perf_counter()
    result = landmarker.detect(frame[None])
    per_frame_ms = 1e3 * (time.perf_counter() - t)
    print(f"\nFaceMeshLandmarker: {per_frame_ms:.1f} ms per 256x256 frame (1 thread, incl. refinement)")
    return frame, x0, y0, result


# ---------------------------------------------------------------- table and helpers (no runtime)
def test_ibug68_table_is_68_distinct_facemesh_vertices_with_contiguous_groups():
    table = np.array(IBUG68_FROM_FACEMESH)
    assert table.shape == (68,)
    assert table.min() >= 0 and table.max() < 468
    assert len(set(table.tolist())) == 68
    covered = np.concatenate([np.arange(68)[s] for s in IBUG68_GROUPS.values()])
    np.testing.assert_array_equal(np.sort(covered), np.arange(68))
    assert (MOUTH.start, MOUTH.stop) == (48, 68)
    # anchor points fixed by anatomy (see ibug68.py): eye corners, mouth corners, chin, nose tip
    assert [table[i] for i in (36, 39, 42, 45, 48, 54, 60, 64, 8, 30)] == [33, 133, 362, 263, 61, 291, 78, 308, 152, 4]


def test_facemesh_to_ibug68_selects_rows_and_checks_shape():
    mesh = np.arange(2 * 468 * 3, dtype=np.float32).reshape(2, 468, 3)
    out = facemesh_to_ibug68(mesh)
    assert out.shape == (2, 68, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1, 5], mesh[1, IBUG68_FROM_FACEMESH[5]])
    with pytest.raises(DataError, match="468"):
        facemesh_to_ibug68(np.zeros((2, 478, 3)))


def test_check_frames_and_face_mask():
    with pytest.raises(DataError, match="uint8"):
        check_frames(np.zeros((1, 8, 8, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"\(N, H, W, 3\)"):
        check_frames(np.zeros((8, 8, 3), dtype=np.uint8))
    lm = np.zeros((3, 68, 2), dtype=np.float32)
    lm[1, 7, 0] = np.nan
    np.testing.assert_array_equal(face_mask(lm), [True, False, True])


def test_missing_runtime_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ConfigError, match="ai-edge-litert"):
        FaceMeshLandmarker()


@pytest.mark.parametrize(
    "name, sha256",
    [
        ("face_landmark.tflite", "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
        ("face_detection_short_range.tflite", "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    ],
)
def test_bundled_models_are_the_documented_files(name, sha256):
    import hashlib

    path = default_model_path().parent / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == sha256
    assert digest in (path.parent / "PROVENANCE.md").read_text()


# ---------------------------------------------------------------- the model
@needs_litert
def test_missing_model_file_raises_missing_weights(tmp_path):
    with pytest.raises(MissingWeightsError, match="face_landmark.tflite"):
        FaceMeshLandmarker(tmp_path / "nope.tflite")


@needs_litert
def test_landmarker_satisfies_protocol_and_rejects_bad_frames(landmarker):
    assert isinstance(landmarker, Landmarker)
    with pytest.raises(DataError):
        landmarker(np.zeros((1, 64, 64, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="boxes"):
        landmarker(np.zeros((2, 64, 64, 3), dtype=np.uint8), boxes=np.zeros((1, 4)))


@needs_litert
def test_astronaut_landmarks_lie_on_the_face_in_ibug_order(astronaut_result):
    frame, x0, y0, result = astronaut_result
    assert result.present.tolist() == [True] and result.score[0] > 0.9
    assert result.mesh.shape == (1, 468, 3) and result.mesh.dtype == np.float32
    lm = result.ibug68()[0]
    assert lm.shape == (68, 2) and lm.dtype == np.float32 and np.isfinite(lm).all()

    (bx0, by0), (bx1, by1) = _to_frame([FACE_BOX[:2], FACE_BOX[2:]], x0, y0)
    assert (lm[:, 0] > bx0).all() and (lm[:, 0] < bx1).all()
    assert (lm[:, 1] > by0).all() and (lm[:, 1] < by1).all()

    mouth, nose_tip = lm[MOUTH], lm[30]
    assert (mouth[:, 1] > nose_tip[1]).all()  # the mouth is below the nose tip
    assert (mouth[:, 0] > lm[36, 0]).all() and (mouth[:, 0] < lm[45, 0]).all()  # between the outer eye corners
    # subject's right (iBUG 0-8, 17-21, 36-41, 48) is on the image's left
    assert lm[0, 0] < lm[8, 0] < lm[16, 0]
    assert lm[17:22, 0].max() < lm[22:27, 0].min()
    assert lm[36:42, 0].max() < lm[42:48, 0].min()
    assert lm[48, 0] < lm[51, 0] < lm[54, 0] and lm[60, 0] < lm[62, 0] < lm[64, 0]
    # vertical order: brows above eyes above nose tip above the lips above the chin
    assert lm[17:27, 1].max() < lm[36:48, 1].min()
    assert lm[36:48, 1].max() < lm[30, 1] < lm[51, 1] < lm[62, 1] <= lm[66, 1] < lm[57, 1] < lm[8, 1]
    assert lm[8, 1] == lm[:17, 1].max()  # the chin is the lowest jaw point
    # the mouth is closed in this photograph: inner-lip gap small against mouth width
    assert abs(lm[66, 1] - lm[62, 1]) < 0.25 * (lm[54, 0] - lm[48, 0])


@needs_litert
def test_astronaut_mesh_matches_the_mediapipe_pipeline(astronaut_result):
    """Against the 468 points the full mediapipe 0.10.21 pipeline gave on the same photograph."""
    ref_path = Path(__file__).resolve().parents[1] / "src/talkzoo/assets/portrait/landmarks.npy"
    if not ref_path.is_file():
        pytest.skip(f"reference FaceMesh landmarks not present: {ref_path}")
    frame, x0, y0, result = astronaut_result
    ref = np.load(ref_path)[:, :2].astype(np.float64) - 0.5  # stored with the edge convention
    err = np.linalg.norm(result.mesh[0, :, :2] - _to_frame(ref, x0, y0), axis=1) * (SIDE / SIZE)
    # different model variant (mediapipe ran the attention model) -> ~1 px, not 0
    assert err.mean() < 1.6 and err.max() < 5.0, (err.mean(), err.max())


@needs_litert
@pytest.mark.parametrize("dx, dy", [(9, -6), (-14, 11)])
def test_translating_the_crop_translates_the_landmarks(landmarker, astronaut_result, dx, dy):
    _, _, _, base = astronaut_result
    frame, _, _ = _prepared_frame(dx, dy)
    moved = landmarker(frame[None])[0]
    shift = (moved - base.ibug68()[0]).astype(np.float64)
    expected = -np.array([dx, dy]) * (SIZE / SIDE)  # the face moves against the window
    assert np.abs(shift.mean(axis=0) - expected).max() < 0.5, (shift.mean(axis=0), expected)
    assert np.linalg.norm(shift - expected, axis=1).max() < 1.5  # every point, not just on average


@needs_litert
@pytest.mark.parametrize("k", [5, -8])
def test_rolling_the_frame_shifts_the_landmarks_by_k_pixels(landmarker, astronaut_result, k):
    frame, _, _, base = astronaut_result
    moved = landmarker(np.roll(frame, k, axis=1)[None])[0]
    shift = (moved - base.ibug68()[0]).astype(np.float64)
    assert np.linalg.norm(shift - [k, 0.0], axis=1).max() < 1.5


@needs_litert
def test_box_mode_on_the_full_photograph_agrees_with_the_crop(landmarker, astronaut_result):
    from skimage import data

    _, x0, y0, base = astronaut_result
    img = data.astronaut()
    frames = np.stack([img, img])
    boxes = np.array([[180.0, 75.0, 270.0, 178.0], [np.nan] * 4])
    lm = landmarker(frames, boxes=boxes)
    assert lm.shape == (2, 68, 2)
    assert np.isnan(lm[1]).all()  # a NaN box is a frame without a face
    expected = (base.ibug68()[0] + 0.5) * (SIDE / SIZE) - 0.5 + [x0, y0]  # crop -> photograph pixels
    assert np.linalg.norm(lm[0] - expected, axis=1).mean() < 1.5


@needs_litert
def test_blank_grey_frame_is_no_face(landmarker):
    grey = np.full((2, SIZE, SIZE, 3), 128, dtype=np.uint8)
    result = landmarker.detect(grey)
    assert (result.score < 0.1).all() and not result.present.any()
    lm = landmarker(grey)
    assert lm.shape == (2, 68, 2) and np.isnan(lm).all()
    assert not face_mask(lm).any()


# ---------------------------------------------------------------- the detector
@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(num_threads=1)


@needs_litert
def test_detector_finds_the_astronaut_face_and_its_keypoints(detector):
    from skimage import data

    img = data.astronaut()
    grey = np.full_like(img, 128)
    det = detector(np.stack([img, grey]))
    assert det.boxes.shape == (2, 4) and det.keypoints.shape == (2, 6, 2) and det.scores.shape == (2,)
    assert det.scores[0] > 0.8 and det.scores[1] == 0.0 and np.isnan(det.boxes[1]).all()
    x0, y0, x1, y1 = det.boxes[0]
    # the box overlaps the hand-measured face region by IoU > 0.6
    fx0, fy0, fx1, fy1 = FACE_BOX
    inter = max(0.0, min(x1, fx1) - max(x0, fx0)) * max(0.0, min(y1, fy1) - max(y0, fy0))
    union = (x1 - x0) * (y1 - y0) + (fx1 - fx0) * (fy1 - fy0) - inter
    assert inter / union > 0.6, (det.boxes[0], inter / union)
    right_eye, left_eye, nose, mouth = det.keypoints[0, :4]
    assert right_eye[0] < nose[0] < left_eye[0] and max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]


@needs_litert
def test_detector_box_follows_a_translation(detector, astronaut_result):
    """Moving the crop window by (9, -6) source px moves the face box by -(9, -6) * 256/212 px.

    (Only translation: BlazeFace's box size itself depends a little on the face's scale.)
    """
    frame, _, _, _ = astronaut_result
    moved, _, _ = _prepared_frame(9, -6)
    boxes = detector(np.stack([frame, moved])).boxes.astype(np.float64)
    expected = -np.array([9, -6, 9, -6]) * (SIZE / SIDE)
    assert np.abs(boxes[1] - boxes[0] - expected).max() < 1.5, (boxes[1] - boxes[0], expected)


@needs_litert
def test_landmarker_with_detector_on_the_uncropped_photograph(astronaut_result):
    from skimage import data

    _, x0, y0, base = astronaut_result
    lm = FaceMeshLandmarker(num_threads=1, detect_faces=True)
    img = data.astronaut()
    out = lm(np.stack([img, np.full_like(img, 128)]))
    expected = (base.ibug68()[0] + 0.5) * (SIDE / SIZE) - 0.5 + [x0, y0]
    assert np.linalg.norm(out[0] - expected, axis=1).mean() < 1.5
    assert np.isnan(out[1]).all()


@needs_litert
def test_tracking_a_sequence_matches_per_frame_fits_and_recovers_after_a_lost_face():
    frames = [_prepared_frame(dx, dx // 2)[0] for dx in range(0, 12, 3)]
    frames.insert(2, np.full_like(frames[0], 128))  # the face disappears for one frame
    frames = np.stack(frames)
    tracked = FaceMeshLandmarker(num_threads=1, track=True)(frames)
    single = FaceMeshLandmarker(num_threads=1, track=False)(frames)
    np.testing.assert_array_equal(face_mask(tracked), [True, True, False, True, True])
    np.testing.assert_array_equal(face_mask(single), face_mask(tracked))
    ok = face_mask(tracked)
    assert np.linalg.norm(tracked[ok] - single[ok], axis=2).max() < 1.5


def test_inner_lip_opening_by_hand():
    """Mean of the three facing inner-lip distances (61-67, 62-66, 63-65), NaN passes through."""
    from talkzoo.landmarks import inner_lip_opening

    lm = np.zeros((2, 68, 2))
    for (upper, lower), gap in zip(((61, 67), (62, 66), (63, 65)), (2.0, 4.0, 6.0)):
        lm[0, upper] = (10.0, 50.0)
        lm[0, lower] = (10.0, 50.0 + gap)
    lm[1] = np.nan
    out = inner_lip_opening(lm)
    assert out.shape == (2,)
    assert out[0] == pytest.approx(4.0) and np.isnan(out[1])
    with pytest.raises(ValueError, match="68, 2"):
        inner_lip_opening(np.zeros((5, 20, 2)))
