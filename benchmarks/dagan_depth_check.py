"""DaGAN stage-1 checks on held-out frames: (1) the depth network puts the nose tip nearer than
the cheeks (the face's known geometry, located with the corpus landmarks); (2) its photometric
loss is below that of a constant-depth prediction.

    python benchmarks/dagan_depth_check.py --ckpt runs/dagan_depth_demo --root data/demo2d
        [--preset demo] [--split test] [--out benchmarks/results/dagan_depth_check.json]

(1) For every held-out frame with iBUG-68 landmarks: disparity (larger = nearer) averaged over a
3x3 patch at the nose tip (point 30, 0-based) and at the two cheeks (midpoints of jaw point 2 and
nose-wing point 31, and of jaw point 14 and nose-wing point 35); reported: the fraction of frames
with nose > mean(cheeks) and the mean difference. An untrained network (same architecture, the
checkpoint's seed-free random init) is reported as the reference. (2) On consecutive held-out frame
pairs (``--gap`` frames apart, default the model's ``frame_gap``): the scale-0 photometric error of Eq. 5 (no auto-mask) with F_d's depth, and with F_d's depth
replaced by its per-image mean (same pose and intrinsics from F_p).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def disparity_at(disp, points):
    """``disp (N, 1, H, W)``, ``points (N, P, 2)`` pixels → ``(N, P)`` mean of 3x3 patches."""
    import torch.nn.functional as F

    n, _, h, w = disp.shape
    pooled = F.avg_pool2d(disp, 3, 1, 1)
    grid = points.clone()
    grid[..., 0] = points[..., 0] / (w - 1) * 2 - 1
    grid[..., 1] = points[..., 1] / (h - 1) * 2 - 1
    return F.grid_sample(pooled, grid[:, :, None], align_corners=True)[:, 0, :, 0]


def main() -> None:
    import torch

    from talkzoo.checkpoints import load_model
    from talkzoo.data.video import ReenactmentVideoDataModule
    from talkzoo_dagan.model import FaceDepth

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--root", default="data/demo2d")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-frames", type=int, default=40)
    parser.add_argument("--gap", type=int, default=None, help="frames between the two images of a pair (default: the model's frame_gap)")
    parser.add_argument("--out", default="benchmarks/results/dagan_depth_check.json")
    args = parser.parse_args()
    model = load_model(args.ckpt).eval()
    gap = int(args.gap or getattr(model, "frame_gap", 1))
    torch.manual_seed(0)
    untrained = FaceDepth(spec=model.spec, num_layers=model.hparams["num_layers"], scales=model.scales,
                          working_size=model.working_size).eval()
    dm = ReenactmentVideoDataModule(root=args.root, preset=args.preset, batch_size=1, max_eval_frames=args.max_frames,
                                    check_files=False, test_split=args.split)
    dm.setup("test")
    result = {}
    for name, net in (("trained", model), ("untrained", untrained)):
        wins, diffs, photo, const = 0, [], [], []
        for batch in dm.test_dataloader():
            frames = batch.driving[batch.frame_mask]
            lms = batch.driving_landmarks[batch.frame_mask] if batch.driving_landmarks is not None else None
            with torch.no_grad():
                disp = net.depth(frames)
                if lms is not None:
                    ok = torch.isfinite(lms).all(-1).all(-1) & (lms.abs().sum((-1, -2)) > 0)
                    nose = lms[:, 30]
                    left, right = (lms[:, 2] + lms[:, 31]) / 2, (lms[:, 14] + lms[:, 35]) / 2
                    vals = disparity_at(disp, torch.stack([nose, left, right], 1))[ok]
                    d = vals[:, 0] - vals[:, 1:].mean(1)
                    wins += int((d > 0).sum())
                    diffs += d.tolist()
                size = net._size()
                from talkzoo_dagan.network import resize

                f = resize(frames, size)
                if f.shape[0] > gap:
                    photo.append(float(net.photometric_terms(f[:-gap], f[gap:])["photometric"]))
                    const.append(float(net.photometric_terms(f[:-gap], f[gap:], constant_depth=True)["photometric"]))
        result[name] = {
            "frame_gap": gap, "frames_with_landmarks": len(diffs), "nose_nearer_fraction": wins / max(1, len(diffs)),
            "mean_disparity_nose_minus_cheeks": sum(diffs) / max(1, len(diffs)),
            "photometric": sum(photo) / max(1, len(photo)), "photometric_constant_depth": sum(const) / max(1, len(const)),
        }
        print(name, json.dumps(result[name]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "dagan_depth_check", "ckpt": args.ckpt, **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
