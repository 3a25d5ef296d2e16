"""Measurements shared by the 2D demo evaluations (``benchmarks/*_demo_eval.py``,
``float_mouth_loudness.py``; each script runs with ``benchmarks/`` on ``sys.path``): the portrait
framing handed to ``talkzoo animate``, per-frame loudness, Pearson r, and the JSON write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: pixels of edge padding around a 256 px corpus frame given to animate as the portrait
PORTRAIT_PAD = 32
#: animate's crop growth around the detected face box that reproduces the corpus's loose framing
INCREASE_AREA = 0.7


def padded_portrait(frame: np.ndarray, path: Path) -> Path:
    """Save ``(H, W, 3)`` uint8 ``frame`` edge-padded by :data:`PORTRAIT_PAD` px as an image at ``path``."""
    from PIL import Image

    pad = PORTRAIT_PAD
    Image.fromarray(np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")).save(path)
    return path


def loudness_db(wave: np.ndarray, rate: int, frames: int, fps: float = 25.0) -> np.ndarray:
    """``(frames,)`` RMS level in dB (re full scale 1.0) of mono ``wave`` over each frame's ``1/fps`` s."""
    hop = rate / fps
    out = np.empty(frames)
    for i in range(frames):
        seg = wave[int(round(i * hop)) : int(round((i + 1) * hop))]
        out[i] = 10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-10) if len(seg) else -100.0
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the entries finite in both; NaN with fewer than 3 or a constant side."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def write_result(result: dict, out: str | Path) -> None:
    """Write ``result`` as indented JSON to ``out`` (parents created) and print it, with the torch
    thread count it ran under: the generated videos, and so these correlations, change with it
    (float rounding in the frame-by-frame generation)."""
    import torch

    result = {**result, "torch_threads": torch.get_num_threads()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
