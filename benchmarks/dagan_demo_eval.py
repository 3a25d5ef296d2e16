"""DaGAN demo, cross-identity reenactment: does the output keep the source's identity and follow
the driver's head and mouth motion?

    python benchmarks/dagan_demo_eval.py --ckpt runs/dagan_demo [--root data/demo2d]
        [--driving demo_en_m1_s11] [--work outputs/dagan_demo_eval] [--out benchmarks/results/dagan_demo_eval.json]

Source: Grace Hopper's portrait (matplotlib's public-domain sample photograph, the demo corpus's
held-out identity; never in the training clips), framed as the corpus frames its faces (the
corpus's own crop rule for that portrait, 256 px), edge-padded by 32 px. Driving: a held-out test
clip of the demo corpus (the astronaut, another identity). The pair goes through ``talkzoo
animate --source --driving`` exactly as a user runs it (relative motion, the model's default);
on the written mp4, with the dlib extra:

* identity: CSIM (cosine similarity of dlib-resnet embeddings) of the output frames to the source
  portrait and to the driving frames (same frame index); the output should be nearer the source;
* mouth: inner-lip opening (mean of the 61-67, 62-66, 63-65 distances of the dlib 68 landmarks,
  pixels) of driver and output per frame, Pearson r;
* head: nose-tip (point 30) x and y trajectories of driver and output, Pearson r of each.

(L1, PSNR, SSIM, AKD, AED and CSIM of same-identity reconstruction come from ``talkzoo test``: the
reenactment metric collection, L1 included.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from _mouth import INCREASE_AREA, padded_portrait, pearson, write_result  # benchmarks/_mouth.py


def hopper_source(size: int = 256) -> np.ndarray:
    """Grace Hopper's portrait cropped by the demo corpus's framing rule, ``(size, size, 3)`` uint8."""
    from PIL import Image

    from talkzoo.data.demo2d.corpus import _scene

    scene = _scene(0, "DemoSpeaker_hopper_eval", size, "hopper")
    x0, y0, side = scene.crop
    img = Image.fromarray(scene.portrait.image)
    return np.asarray(img.resize((size, size), Image.BICUBIC, box=(x0, y0, x0 + side, y0 + side)))


def main(argv: list[str] | None = None) -> int:
    from talkzoo.landmarks import inner_lip_opening, make_identity_embedder, make_landmarker
    from talkzoo.video.io import read_frames

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="runs/dagan_demo")
    parser.add_argument("--root", default="data/demo2d")
    parser.add_argument("--driving", default="demo_en_m1_s11", help="a test clip of the corpus")
    parser.add_argument("--work", default="outputs/dagan_demo_eval")
    parser.add_argument("--out", default="benchmarks/results/dagan_demo_eval.json")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source = hopper_source()
    src_png = padded_portrait(source, work / "hopper_source.png")
    driving = Path(args.root) / "videos" / f"{args.driving}.mp4"
    cmd = [sys.executable, "-m", "talkzoo.cli", "animate", "--ckpt", args.ckpt, "--source", str(src_png),
           "--driving", str(driving), "--out", str(work), "--overwrite", "--increase-area", str(INCREASE_AREA), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"animate failed: {done.stderr.strip()[-2000:]}")
    out = read_frames(work / f"{args.driving}.mp4").numpy()
    drv = read_frames(driving).numpy()[: len(out)]
    embed = make_identity_embedder("dlib-resnet")
    lm = make_landmarker("dlib68")
    e_out, e_drv, e_src = embed(out), embed(drv), embed(source[None])[0]

    def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))

    csim_src, csim_drv = cos(e_out, e_src[None]), cos(e_out, e_drv)
    l_out, l_drv = lm(out), lm(drv)

    o_out, o_drv = inner_lip_opening(l_out), inner_lip_opening(l_drv)
    result = {
        "benchmark": "dagan_demo_eval", "checkpoint": args.ckpt, "source": "grace_hopper (matplotlib sample data), corpus framing",
        "driving": str(driving), "frames": int(len(out)), "motion_mode": "model default (animate)",
        "csim_to_source_mean": float(np.nanmean(csim_src)), "csim_to_driver_mean": float(np.nanmean(csim_drv)),
        "csim_source_minus_driver_fraction_positive": float(np.nanmean(csim_src > csim_drv)),
        "csim_source_vs_driver_portraits": float(cos(e_src, e_drv[0])),
        "mouth_opening_px_driver_mean_std": [float(np.nanmean(o_drv)), float(np.nanstd(o_drv))],
        "mouth_opening_px_output_mean_std": [float(np.nanmean(o_out)), float(np.nanstd(o_out))],
        "pearson_r_mouth_opening": pearson(o_out, o_drv),
        "pearson_r_nose_x": pearson(l_out[:, 30, 0], l_drv[:, 30, 0]),
        "pearson_r_nose_y": pearson(l_out[:, 30, 1], l_drv[:, 30, 1]),
        "frames_with_face_output": int(np.isfinite(o_out).sum()), "mp4": str(work / f"{args.driving}.mp4"),
    }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
