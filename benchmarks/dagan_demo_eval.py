"""DaGAN demo: L1 (mean |pixel| in [0, 1], Monkey-Net/DaGAN Table 2's L1) of a reenactment
checkpoint and of the static-source baseline on the same held-out clips (same-identity
reconstruction: source = first frame), computed on the real frames at the data's size.

    python benchmarks/dagan_demo_eval.py --ckpt runs/dagan_demo [--root data/demo2d]
        [--out benchmarks/results/dagan_demo_eval.json]

(PSNR, SSIM, AKD come from ``talkzoo test``; the family's metric collection has no L1 yet.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import torch

    from talkzoo.checkpoints import load_model
    from talkzoo.data.video import ReenactmentVideoDataModule

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--root", default="data/demo2d")
    parser.add_argument("--max-frames", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results/dagan_demo_eval.json")
    args = parser.parse_args()
    model = load_model(args.ckpt).eval()
    dm = ReenactmentVideoDataModule(root=args.root, preset="demo", batch_size=1, source_frame="first",
                                    max_eval_frames=args.max_frames, check_files=False)
    dm.setup("test")
    sums = {"model": 0.0, "static_source": 0.0}
    count = 0
    with torch.no_grad():
        for batch in dm.test_dataloader():
            pred = model.predict_for_metrics(batch)
            mask = batch.frame_mask
            real = batch.driving[mask]
            sums["model"] += float((pred[mask] - real).abs().mean(dim=(1, 2, 3)).sum())
            static = batch.source[:, None].expand_as(batch.driving)[mask]
            sums["static_source"] += float((static - real).abs().mean(dim=(1, 2, 3)).sum())
            count += int(mask.sum())
    result = {"benchmark": "dagan_demo_eval", "ckpt": args.ckpt, "frames": count, **{f"L1_{k}": v / count for k, v in sums.items()}}
    print(json.dumps(result))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
