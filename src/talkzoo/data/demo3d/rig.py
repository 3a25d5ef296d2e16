"""A viseme rig on the MediaPipe FaceMesh topology: phoneme timings -> vertex motion.

Everything here is written for the demo corpus (no code taken from other projects). Model:

* **Visemes.** Each eSpeak NG phoneme maps to one viseme class (or, for diphthongs, a sequence of
  classes over equal parts of its duration). A class is a target vector of six articulatory
  parameters (:data:`PARAMS`): jaw opening angle (radians), lip rounding, lip spreading,
  bilabial closure, labiodental contact (each 0..1) and stress gain.
* **Coarticulation.** A dominance-function blend in the spirit of Cohen & Massaro (1993): each
  segment exerts a Gaussian dominance around its centre, wider before the centre than after
  (anticipation), with per-parameter strengths (bilabial closure dominates the closure
  parameter; consonants barely pull the jaw, so the jaw follows the vowels; rounding spreads
  across neighbouring consonants). The value at time t is the dominance-weighted mean of the
  targets; a small temporal Gaussian then smooths it (per-speaker width).
* **Geometry.** Jaw opening rotates the lower face about a transverse axis 9.5 cm behind the
  mouth at nose height, weighted by a smooth "below the mouth line" field; rounding, spreading,
  closure and labiodental contact are smooth displacement fields over the lip region (Gaussian
  falloff from an ellipse through the mouth corners). Lip opening reaches ~1 cm on open vowels.
* **Upper face.** Blinks move the upper eyelid contour down to a meeting line (the lower lid up
  a little) with a Gaussian falloff to the skin above; brow raises lift the brows and, fading
  with distance, the forehead and the upper-lid skin.

Units: metres, seconds, radians. Shapes: template (V, 3); tracks (T, P); output (T, V, 3).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from talkzoo.errors import DataError

__all__ = [
    "PARAMS",
    "VISEMES",
    "FaceAsset",
    "FaceRig",
    "SpeakerStyle",
    "load_face_asset",
    "phoneme_viseme_classes",
    "speech_tracks",
    "upper_face_tracks",
    "vary_template",
]

#: Names of the columns of a speech track (T, 6): jaw angle (rad), round, spread, close,
#: labiodental (0..1 each) and a stress gain (multiplies the jaw; 1 = neutral).
PARAMS = ("jaw", "round", "spread", "close", "labio", "gain")

_DEG = math.pi / 180.0
#: Viseme classes: target (jaw rad, round, spread, close, labio). ``sil`` is the neutral face.
VISEMES: dict[str, tuple[float, float, float, float, float]] = {
    "sil": (0.0, 0.0, 0.0, 0.0, 0.0),
    "open": (6.0 * _DEG, 0.0, 0.25, 0.0, 0.0),  # a, A:, V, aa, a#
    "openround": (5.5 * _DEG, 0.55, 0.0, 0.0, 0.0),  # 0, O:, O@
    "mid": (4.5 * _DEG, 0.0, 0.35, 0.0, 0.0),  # E, e, 3:, eI onset
    "schwa": (3.0 * _DEG, 0.0, 0.1, 0.0, 0.0),  # @, @2, 3
    "front": (2.2 * _DEG, 0.0, 0.9, 0.0, 0.0),  # i:, I, j
    "round": (2.2 * _DEG, 1.0, 0.0, 0.0, 0.0),  # u:, U, w
    "bilabial": (1.0 * _DEG, 0.0, 0.0, 1.0, 0.0),  # p b m
    "labiodental": (1.5 * _DEG, 0.0, 0.0, 0.0, 1.0),  # f v
    "dental": (2.5 * _DEG, 0.0, 0.2, 0.0, 0.0),  # T D
    "alveolar": (1.8 * _DEG, 0.0, 0.3, 0.0, 0.0),  # t d n l s z
    "postalveolar": (2.0 * _DEG, 0.7, 0.0, 0.0, 0.0),  # S Z tS dZ
    "velar": (2.8 * _DEG, 0.0, 0.1, 0.0, 0.0),  # k g N h
    "rhotic": (2.4 * _DEG, 0.45, 0.0, 0.0, 0.0),  # r
}
_VOWEL_CLASSES = {"open", "openround", "mid", "schwa", "front", "round"}

# eSpeak NG English phoneme mnemonics (stress marks stripped) -> viseme class sequence
_PHONEME_VISEMES: dict[str, tuple[str, ...]] = {
    **{k: ("open",) for k in ("a", "aa", "a#", "A:", "A", "V", "VR", "A@")},
    **{k: ("openround",) for k in ("0", "O:", "O", "O2", "O@", "o@", "o")},
    **{k: ("mid",) for k in ("E", "e", "3:", "e@", "E2", "E@")},
    **{k: ("schwa",) for k in ("@", "@2", "@5", "3", "@L", "@r", "a2")},
    **{k: ("front",) for k in ("i", "i:", "I", "I#", "I2", "IR", "j", ";", "i@")},
    **{k: ("round",) for k in ("u:", "U", "u", "w", "w#", "U@", "u@")},
    "aI": ("open", "front"), "aI2": ("open", "front"), "aI3": ("open", "front"),
    "aI@": ("open", "front", "schwa"), "aU": ("open", "round"), "eI": ("mid", "front"),
    "oU": ("openround", "round"), "@U": ("schwa", "round"), "OI": ("openround", "front"),
    "i@3": ("front", "schwa"), "e@": ("mid", "schwa"), "U@": ("round", "schwa"),
    **{k: ("bilabial",) for k in ("p", "b", "m")},
    **{k: ("labiodental",) for k in ("f", "v")},
    **{k: ("dental",) for k in ("T", "D")},
    **{k: ("alveolar",) for k in ("t", "d", "n", "l", "s", "z", "t#", "t[", "d#", "n-", "l/", "L", "t2", "d2")},
    **{k: ("postalveolar",) for k in ("S", "Z", "tS", "dZ")},
    **{k: ("velar",) for k in ("k", "g", "N", "h", "x", "?", "n^")},
    **{k: ("rhotic",) for k in ("r", "r-", "*")},
    **{k: ("sil",) for k in ("_", "_:", "_!", "_|", "_^_", "||", "|")},
}


def phoneme_viseme_classes(mnemonic: str) -> tuple[tuple[str, ...], bool]:
    """Map one eSpeak NG phoneme mnemonic to viseme classes.

    Args:
        mnemonic: eSpeak's phoneme name as reported by ``espeakEVENT_PHONEME``, stress marks
            included (``"'a"``, ``",eI"``, ``"tS"``).

    Returns:
        ``(classes, stressed)``: the viseme class names (keys of :data:`VISEMES`; a diphthong
        gives several, spread over equal parts of the phoneme) and whether the phoneme carried
        primary stress (``'``). Unknown mnemonics fall back by their letters (a vowel letter ->
        ``schwa``, otherwise ``alveolar``); anything starting with ``_`` is a pause (``sil``).
    """
    stressed = mnemonic.startswith("'")
    name = mnemonic.lstrip("',%=")
    if name in _PHONEME_VISEMES:
        return _PHONEME_VISEMES[name], stressed
    if not name or name.startswith("_"):
        return ("sil",), False
    base = name.rstrip("0123456789#-[/:;")
    if base in _PHONEME_VISEMES:
        return _PHONEME_VISEMES[base], stressed
    return (("schwa",) if any(c in "aeiouAEIOUV@03" for c in name) else ("alveolar",)), stressed


@dataclass(frozen=True)
class SpeakerStyle:
    """Per-speaker articulation style of the rig (dimensionless unless stated).

    Attributes:
        amplitude: gain on jaw, rounding and spreading (1 = the targets in :data:`VISEMES`).
        smoothing_s: std of the final temporal Gaussian smoothing, seconds.
        anticipation: width multiplier of the dominance before a segment's centre (>1:
            the mouth starts moving earlier).
        asymmetry: -1..1 fraction; lip displacement on the subject's left side is scaled by
            ``1 + asymmetry`` and on the right by ``1 - asymmetry`` (linearly across the mouth).
        blink_interval_s: mean time between blinks, seconds.
        brow_interval_s: mean time between brow raises, seconds.
        brow_height_m: typical brow raise, metres.
    """

    amplitude: float = 1.0
    smoothing_s: float = 0.025
    anticipation: float = 1.4
    asymmetry: float = 0.0
    blink_interval_s: float = 3.5
    brow_interval_s: float = 3.0
    brow_height_m: float = 0.003

    @classmethod
    def sample(cls, rng: np.random.Generator) -> SpeakerStyle:
        """Draw a plausible style from ``rng`` (numpy Generator); deterministic given its state."""
        u = rng.uniform(size=7)
        return cls(
            amplitude=float(0.85 + 0.3 * u[0]),
            smoothing_s=float(0.015 + 0.025 * u[1]),
            anticipation=float(1.2 + 0.5 * u[2]),
            asymmetry=float(-0.15 + 0.3 * u[3]),
            blink_interval_s=float(2.5 + 2.5 * u[4]),
            brow_interval_s=float(2.0 + 2.5 * u[5]),
            brow_height_m=float(0.002 + 0.003 * u[6]),
        )


@dataclass(frozen=True)
class FaceAsset:
    """The committed face asset (``talkzoo/assets/face``; see its PROVENANCE.md).

    Attributes:
        template: (V, 3) float32 neutral face in metres, V = 468 (MediaPipe FaceMesh).
        faces: (F, 3) int64 outward-oriented triangles, F = 852.
        lip: (L,) int64 lip vertex indices (40), from ``lip.txt``.
        upper_face: (U,) int64 upper-face vertex indices (130), from ``upper_face.txt``.
        landmarks: dict of named landmark indices / ordered contours (``rig_landmarks.json``).
        lip_text: the text of ``lip.txt`` (with its provenance header), str.
        upper_face_text: the text of ``upper_face.txt``, str.
    """

    template: np.ndarray
    faces: np.ndarray
    lip: np.ndarray
    upper_face: np.ndarray
    landmarks: dict
    lip_text: str
    upper_face_text: str


def _parse_index_text(text: str, name: str) -> np.ndarray:
    try:
        vals = [int(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    except ValueError as exc:
        raise DataError(f"face asset {name}: every non-comment line must be one integer ({exc})") from exc
    return np.asarray(vals, dtype=np.int64)


def load_face_asset() -> FaceAsset:
    """Load the committed MediaPipe-topology face asset from the installed package.

    Returns:
        a :class:`FaceAsset` (template (468, 3) float32 metres, faces (852, 3) int64, lip and
        upper-face index arrays, named landmarks).

    Raises:
        DataError: an asset file is missing or malformed (a broken installation).
    """
    root = resources.files("talkzoo") / "assets" / "face"
    try:
        with (root / "template.npy").open("rb") as f:
            template = np.load(f).astype(np.float32)
        with (root / "faces.npy").open("rb") as f:
            faces = np.load(f).astype(np.int64)
        lip_text = (root / "lip.txt").read_text()
        upper_text = (root / "upper_face.txt").read_text()
        landmarks = json.loads((root / "rig_landmarks.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"the face asset in talkzoo/assets/face is missing or unreadable: {exc}") from exc
    if template.shape != (468, 3) or faces.ndim != 2 or faces.shape[1] != 3:
        raise DataError(f"face asset has template {template.shape} and faces {faces.shape}; expected (468, 3), (F, 3)")
    return FaceAsset(template, faces, _parse_index_text(lip_text, "lip.txt"),
                     _parse_index_text(upper_text, "upper_face.txt"), landmarks, lip_text, upper_text)


def vary_template(template: np.ndarray, landmarks: dict, rng: np.random.Generator) -> np.ndarray:
    """A subject's neutral face: the asset template with small, smooth shape differences.

    Draws (from ``rng``) an overall scale (0.94-1.06), a jaw width (lower face x scale
    0.93-1.08), a lower-face length (0.95-1.06), a mouth width (0.88-1.0, about the mouth
    centre) and a nose prominence (z scale 0.9-1.1 near the nose tip), each applied through a
    smooth weight so the surface stays smooth.

    Args:
        template: (V, 3) float array, metres.
        landmarks: the asset's named landmarks (``FaceAsset.landmarks``).
        rng: numpy Generator; deterministic given its state.

    Returns:
        (V, 3) float64 array, metres.
    """
    p = np.asarray(template, dtype=np.float64).copy()
    scale, jaw_w, jaw_len, mouth_w, nose_z = rng.uniform(size=5)
    scale = 0.94 + 0.12 * scale
    jaw_w = 0.93 + 0.15 * jaw_w
    jaw_len = 0.95 + 0.11 * jaw_len
    mouth_w = 0.88 + 0.12 * mouth_w
    nose_z = 0.9 + 0.2 * nose_z
    nose = p[landmarks["nose_tip"]].copy()
    mouth = 0.5 * (p[landmarks["lip_inner_upper_mid"]] + p[landmarks["lip_inner_lower_mid"]])
    below_nose = 1.0 / (1.0 + np.exp(-(nose[1] - p[:, 1]) / 0.01))
    p[:, 0] *= 1.0 + (jaw_w - 1.0) * below_nose
    below_mouth = 1.0 / (1.0 + np.exp(-(mouth[1] - p[:, 1]) / 0.008))
    p[:, 1] = np.where(below_mouth > 0, p[:, 1] + (jaw_len - 1.0) * below_mouth * (p[:, 1] - mouth[1]), p[:, 1])
    d_mouth = (p[:, 0] - mouth[0]) ** 2 / 0.03**2 + (p[:, 1] - mouth[1]) ** 2 / 0.015**2
    w_mouth = np.exp(-0.5 * np.maximum(d_mouth - 1.0, 0.0) * 4.0)
    p[:, 0] += (mouth_w - 1.0) * w_mouth * (p[:, 0] - mouth[0])
    w_nose = np.exp(-np.sum((p[:, :2] - nose[:2]) ** 2, 1) / (2 * 0.018**2))
    p[:, 2] += (nose_z - 1.0) * w_nose * (p[:, 2] - p[:, 2].mean())
    centre = p.mean(0)
    return centre + (p - centre) * scale


def _contour_y(points: np.ndarray):
    """y(x) along a contour given as (n, 3) points (linear interpolation over sorted x)."""
    order = np.argsort(points[:, 0])
    xs, ys = points[order, 0], points[order, 1]
    return lambda x: np.interp(x, xs, ys)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gauss_smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding; (T, ...) -> (T, ...)."""
    if sigma_frames <= 1e-3 or x.shape[0] < 2:
        return x
    r = max(1, int(math.ceil(3 * sigma_frames)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)], 0)
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * pad[i : i + x.shape[0]]
    return out


def speech_tracks(
    phonemes: tuple[tuple[str, float], ...] | list[tuple[str, float]],
    duration: float,
    num_frames: int,
    fps: float,
    style: SpeakerStyle,
) -> np.ndarray:
    """Articulatory parameter tracks sampled at the frame instants ``t = f / fps``.

    Args:
        phonemes: ``(mnemonic, start_s)`` in time order (an :class:`~.speech.Utterance`'s
            ``phonemes``); a phoneme lasts until the next one starts, the last until
            ``duration``. Time before the first phoneme is silence.
        duration: audio length in seconds.
        num_frames: T, the number of frames to produce.
        fps: frames per second.
        style: the speaker's :class:`SpeakerStyle`.

    Returns:
        (T, 6) float64 array, columns :data:`PARAMS` (jaw in radians, the stress gain already
        multiplied into the jaw and the gain column kept for inspection).
    """
    # segments: (start, end, class, stressed)
    segs: list[tuple[float, float, str, bool]] = []
    first = phonemes[0][1] if phonemes else duration
    if first > 0:
        segs.append((-0.2, first, "sil", False))
    for i, (name, start) in enumerate(phonemes):
        end = phonemes[i + 1][1] if i + 1 < len(phonemes) else max(duration, start) + 0.2
        classes, stressed = phoneme_viseme_classes(name)
        n = len(classes)
        for j, c in enumerate(classes):
            segs.append((start + (end - start) * j / n, start + (end - start) * (j + 1) / n, c, stressed))
    t = np.arange(num_frames, dtype=np.float64) / fps
    num = np.zeros((num_frames, 5))
    den = np.zeros((num_frames, 5))
    gain_num = np.zeros(num_frames)
    gain_den = np.zeros(num_frames)
    for s, e, c, stressed in segs:
        if e <= s:
            continue
        centre = 0.5 * (s + e)
        half = max(0.35 * (e - s), 0.025)
        width = np.where(t < centre, half * style.anticipation, half)
        dom = np.exp(-0.5 * ((t - centre) / width) ** 2)
        target = np.asarray(VISEMES[c], dtype=np.float64)
        if c == "sil":
            strength = np.full(5, 0.8)
        elif c in _VOWEL_CLASSES:
            strength = np.array([1.0, 1.0 if target[1] > 0 else 0.5, 1.0 if target[2] > 0 else 0.5, 0.3, 0.3])
        else:
            strength = np.array([0.8, 1.0 if target[1] > 0 else 0.25, 0.25, 0.3, 0.3])
            if c == "bilabial":
                strength[3] = 8.0
            if c == "labiodental":
                strength[4] = 8.0
        w = dom[:, None] * strength[None, :]
        num += w * target[None, :]
        den += w
        g = 1.15 if (stressed and c in _VOWEL_CLASSES) else 1.0
        gain_num += dom * g
        gain_den += dom
    vals = num / np.maximum(den, 1e-12)
    gain = gain_num / np.maximum(gain_den, 1e-12)
    out = np.concatenate([vals, gain[:, None]], 1)
    out = _gauss_smooth(out, style.smoothing_s * fps)
    out[:, 0] *= out[:, 5] * style.amplitude
    out[:, 1:3] = np.clip(out[:, 1:3] * style.amplitude, 0.0, 1.0)
    out[:, 3:5] = np.clip(out[:, 3:5], 0.0, 1.0)
    return out


def _event_times(duration: float, mean_interval: float, rng: np.random.Generator, first_min: float) -> list[float]:
    times, t = [], first_min + rng.uniform(0.0, mean_interval)
    while t < duration:
        times.append(t)
        t += mean_interval * (0.5 + rng.uniform())
    return times


def upper_face_tracks(duration: float, num_frames: int, fps: float, style: SpeakerStyle,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Blink and brow-raise tracks at the frame instants ``t = f / fps``.

    Blinks: event times with mean spacing ``style.blink_interval_s`` (at least one per
    utterance, at a random time in it); each closes in ~90 ms, holds ~30 ms and opens in ~150 ms.
    Brow raises: mean spacing ``style.brow_interval_s``, raised-cosine, 0.4-0.9 s long, height
    0.6-1.4 x ``style.brow_height_m``.

    Args:
        duration: seconds; num_frames: T; fps: frames per second; style: the speaker style;
        rng: numpy Generator (deterministic given its state).

    Returns:
        ``(blink, brow)``: (T,) float64 each; blink is the eyelid closure 0..1, brow the brow
        raise in metres.
    """
    t = np.arange(num_frames, dtype=np.float64) / fps
    blink = np.zeros(num_frames)
    times = _event_times(duration, style.blink_interval_s, rng, 0.1)
    if not times:
        times = [float(rng.uniform(0.1, max(duration - 0.2, 0.15)))]
    for t0 in times:
        close, hold, open_ = 0.09, 0.03, 0.15
        x = t - t0
        a = np.where(x < 0, 0.0, np.where(x < close, x / close, np.where(
            x < close + hold, 1.0, np.where(x < close + hold + open_, 1.0 - (x - close - hold) / open_, 0.0))))
        a = 0.5 - 0.5 * np.cos(np.pi * a)
        blink = np.maximum(blink, a)
    brow = np.zeros(num_frames)
    for t0 in _event_times(duration, style.brow_interval_s, rng, 0.0):
        length = rng.uniform(0.4, 0.9)
        height = style.brow_height_m * rng.uniform(0.6, 1.4)
        x = (t - t0) / length
        brow = np.maximum(brow, np.where((x > 0) & (x < 1), height * 0.5 * (1 - np.cos(2 * np.pi * x)), 0.0))
    return blink, brow


class FaceRig:
    """Displacement fields of one subject's neutral face, and their animation.

    Args:
        template: (V, 3) float array, metres — the subject's neutral face.
        landmarks: the asset's named landmarks (``FaceAsset.landmarks``).
        style: the subject's :class:`SpeakerStyle` (asymmetry is baked into the fields).

    The fields are computed once here; :meth:`animate` then costs a few (T, V, 3) array ops.
    """

    JAW_PIVOT_BACK_M = 0.095  #: pivot distance behind the mouth centre (z), metres

    def __init__(self, template: np.ndarray, landmarks: dict, style: SpeakerStyle) -> None:
        p = np.asarray(template, dtype=np.float64)
        self.template = p
        lm = landmarks
        self.up_mid, self.lo_mid = lm["lip_inner_upper_mid"], lm["lip_inner_lower_mid"]
        mouth = 0.5 * (p[self.up_mid] + p[self.lo_mid])
        right, left = p[lm["mouth_corner_right"]], p[lm["mouth_corner_left"]]
        half_w = 0.5 * abs(left[0] - right[0])
        x, y = p[:, 0], p[:, 1]
        dx = x - mouth[0]

        # mouth line: midline between inner upper and inner lower contours, as a function of x
        iu, il = p[lm["lip_inner_upper"]], p[lm["lip_inner_lower"]]
        o_u, o_l = np.argsort(iu[:, 0]), np.argsort(il[:, 0])
        xc = np.clip(x, iu[:, 0].min(), iu[:, 0].max())
        line = 0.5 * (np.interp(xc, iu[o_u, 0], iu[o_u, 1]) + np.interp(xc, il[o_l, 0], il[o_l, 1]))
        lower = _sigmoid((line - y) / 0.003)
        corners = {lm["lip_inner_upper"][0], lm["lip_inner_upper"][-1],
                   lm["lip_outer_upper"][0], lm["lip_outer_upper"][-1]}
        for key, val in (("lip_inner_upper", 0.0), ("lip_outer_upper", 0.0),
                         ("lip_inner_lower", 1.0), ("lip_outer_lower", 1.0)):
            for i in lm[key]:
                lower[i] = 0.5 if i in corners else val
        self.lower = lower

        # lip region: 1 inside an ellipse through the corners, Gaussian falloff outside
        q = np.sqrt((dx / (half_w + 0.004)) ** 2 + ((y - mouth[1]) / 0.013) ** 2)
        w_lip = np.exp(-0.5 * (np.maximum(q - 1.0, 0.0) / 0.3) ** 2)
        side = np.clip(dx / half_w, -1.5, 1.5)
        asym = 1.0 + style.asymmetry * np.clip(dx / half_w, -1.0, 1.0)
        w_lip = w_lip * asym
        self.w_lip = w_lip
        # lower lip (and the skin just below it) for closure / labiodental contact
        lo_lip = p[lm["lip_outer_lower"]]
        d_lo = np.min(np.linalg.norm(p[:, None, :2] - lo_lip[None, :, :2], axis=2), 1)
        self.w_lower_lip = lower * np.exp(-0.5 * (d_lo / 0.006) ** 2) * np.clip(asym, 0.5, 1.5)
        for i in lm["lip_inner_lower"] + lm["lip_outer_lower"]:
            self.w_lower_lip[i] = max(self.w_lower_lip[i], lower[i])

        # per-unit fields (V, 3)
        self.f_round = np.stack([-0.28 * dx, np.zeros_like(dx), np.full_like(dx, 0.006)], 1) * w_lip[:, None]
        # rounding parts the lips a little at the centre ("o" shape)
        centre_open = np.clip(1.0 - side**2, 0.0, 1.0) * 0.0006
        self.f_round[:, 1] += np.where(lower > 0.5, -centre_open, centre_open) * w_lip
        self.f_spread = np.stack([0.18 * dx, 0.0015 * side**2, -0.002 * side**2], 1) * w_lip[:, None]

        # jaw rotation about a transverse axis behind the mouth at nose height
        self.pivot = np.array([0.0, p[lm["nose_tip"], 1], mouth[2] - self.JAW_PIVOT_BACK_M])
        self.rel = p - self.pivot
        self.w_jaw = lower
        # upper lip lifts a little as the jaw opens (fraction of the lower-lip drop)
        self.w_upper_lift = (1.0 - lower) * np.exp(-0.5 * (np.maximum(q - 1.0, 0.0) / 0.25) ** 2) * 0.12

        # eyelids
        self.f_blink = np.zeros_like(p)
        for up_key, lo_key in (("lid_upper_right", "lid_lower_right"), ("lid_upper_left", "lid_lower_left")):
            up, lo = lm[up_key], lm[lo_key]
            pu, pl = p[up], p[lo]
            yu = _contour_y(pu)
            yl = _contour_y(pl)
            lid_dy = {}
            for i in up[1:-1] + lo[1:-1]:
                # lids meet a quarter of the way up from the lower lid
                lid_dy[i] = yl(p[i, 0]) + 0.25 * (yu(p[i, 0]) - yl(p[i, 0])) - p[i, 1]
            idx = np.array(sorted(lid_dy))
            dys = np.array([lid_dy[i] for i in idx])
            is_up = np.isin(idx, up)
            x_lo, x_hi = pu[:, 0].min(), pu[:, 0].max()
            for v in range(len(p)):
                if v in lid_dy:
                    self.f_blink[v, 1] += lid_dy[v]
                    continue
                if not (x_lo - 0.006 <= p[v, 0] <= x_hi + 0.006):
                    continue
                above = p[v, 1] > yu(p[v, 0])
                below = p[v, 1] < yl(p[v, 0])
                cand = is_up if above else (~is_up if below else None)
                if cand is None or not cand.any():
                    continue
                d = np.linalg.norm(p[idx[cand], :2] - p[v, :2], axis=1)
                k = np.argmin(d)
                self.f_blink[v, 1] += dys[cand][k] * math.exp(-0.5 * (d[k] / 0.0035) ** 2)

        # brows: 1 on the brow vertices, Gaussian falloff (wide above, narrow below)
        brows = p[lm["brow_right"] + lm["brow_left"]]
        d = np.linalg.norm(p[:, None, :2] - brows[None, :, :2], axis=2)
        k = np.argmin(d, 1)
        dmin = d[np.arange(len(p)), k]
        above = p[:, 1] >= brows[k, 1]
        self.w_brow = np.where(above, np.exp(-0.5 * (dmin / 0.025) ** 2), np.exp(-0.5 * (dmin / 0.006) ** 2))

    def animate(self, speech: np.ndarray, blink: np.ndarray, brow: np.ndarray) -> np.ndarray:
        """Vertex positions for every frame.

        Args:
            speech: (T, 6) tracks from :func:`speech_tracks` (jaw rad, round, spread, close,
                labio, gain).
            blink: (T,) eyelid closure 0..1; brow: (T,) brow raise in metres
                (from :func:`upper_face_tracks`).

        Returns:
            (T, V, 3) float64 vertex positions in metres.
        """
        jaw, rnd, spr, close, labio = (speech[:, i] for i in range(5))
        c, s = np.cos(jaw)[:, None], np.sin(jaw)[:, None]
        ry, rz = self.rel[None, :, 1], self.rel[None, :, 2]
        # rotation about the x axis; positive jaw moves points in front of the pivot down
        dy_jaw = (ry * c - rz * s) - ry
        dz_jaw = (ry * s + rz * c) - rz
        out = np.repeat(self.template[None], len(jaw), 0)
        out[:, :, 1] += self.w_jaw[None] * dy_jaw
        out[:, :, 2] += self.w_jaw[None] * dz_jaw
        # upper lip lift proportional to the lower-lip drop at the mouth centre
        drop = -dy_jaw[:, self.lo_mid]
        out[:, :, 1] += self.w_upper_lift[None] * drop[:, None]
        out += rnd[:, None, None] * self.f_round[None] + spr[:, None, None] * self.f_spread[None]
        # closure: lower lip rises to meet the upper lip (cancels the opening at the centre)
        rest_gap = self.template[self.up_mid, 1] - self.template[self.lo_mid, 1]
        gap = np.maximum(out[:, self.up_mid, 1] - out[:, self.lo_mid, 1] - rest_gap, 0.0)
        out[:, :, 1] += (close * gap)[:, None] * self.w_lower_lip[None]
        # labiodental: lower lip up against the upper teeth (up to the upper inner lip + 1 mm) and back
        out[:, :, 1] += (labio * (gap + 0.001))[:, None] * self.w_lower_lip[None]
        out[:, :, 2] -= (labio * 0.004)[:, None] * self.w_lower_lip[None]
        # upper face
        out += blink[:, None, None] * self.f_blink[None]
        out[:, :, 1] += brow[:, None] * self.w_brow[None]
        return out
