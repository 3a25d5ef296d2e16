"""DaGAN inference memory vs driving-video length: peak RSS of streaming reenactment of 1 and 10
minutes of driving video (issue target: 10 minutes within 1.5x the peak of 1 minute).

    python benchmarks/dagan_memory.py [--minutes 1 10] [--size 32] [--config tiny|demo]
        [--ckpt runs/dagan_demo] [--threads 1] [--out benchmarks/results/dagan_memory.json]

Each length runs in its own child process (its ``ru_maxrss`` belongs to that run alone). The run
consumes :meth:`talkzoo_dagan.model.DaGAN.generate_stream` as ``talkzoo animate`` does: driving
frames arrive in chunks of 25 (1 s at 25 fps; random frames, generated per chunk as a decoder
would produce them), each output chunk is converted to uint8 and dropped (as the mp4 encoder
would take it). Model: ``--ckpt`` when given; else random weights in the ``tiny`` configuration
(``talkzoo_dagan.metadata.TINY_DAGAN_ARGS``, 32 px, so that 15,000 frames run in minutes on a
shared CPU) or the ``demo`` recipe's (64 px). Memory flatness is a property of the loop, not of
the weights or the width. The time per frame of the first and last 10 % of chunks is reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _memory import current_rss_mb, peak_rss_mb  # benchmarks/_memory.py

FPS = 25


def build_model(config: str, size: int, ckpt: str | None):
    """DaGAN in eval mode: from ``ckpt``, or random weights in the tiny/demo configuration."""
    import torch

    if ckpt:
        from talkzoo.checkpoints import load_model

        return load_model(ckpt).eval()
    import yaml

    from talkzoo.data.spec import ReenactmentDataSpec
    from talkzoo_dagan.metadata import TINY_DAGAN_ARGS
    from talkzoo_dagan.model import DaGAN

    torch.manual_seed(0)
    if config == "tiny":
        args = dict(TINY_DAGAN_ARGS)
    else:
        args = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "recipes" / "dagan_demo.yaml"))["model"]["init_args"]
        args.pop("depth_checkpoint", None)
    args["working_size"] = None if config == "tiny" else args.get("working_size")
    return DaGAN(spec=ReenactmentDataSpec(dataset="bench", image_size=size), **args).eval()


def run_one(minutes: float, size: int, config: str, ckpt: str | None, threads: int) -> dict:
    """Animate ``minutes`` of driving video chunk by chunk in this process; returns the readings."""
    import torch

    torch.set_num_threads(threads)
    model = build_model(config, size, ckpt)
    size = int(model.require_spec().image_size)
    total = int(minutes * 60 * FPS)
    gen = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, size, size, generator=gen)
    rss_start = current_rss_mb()

    def chunks():
        for start in range(0, total, FPS):
            yield torch.rand(1, min(FPS, total - start), 3, size, size, generator=gen)

    times, frames, t0 = [], 0, time.perf_counter()
    last = t0
    for out in model.generate_stream(source, chunks()):
        _ = out.mul(255).round().to(torch.uint8).numpy()  # what the encoder would take
        frames += out.shape[1]
        now = time.perf_counter()
        times.append((now - last) / out.shape[1])
        last = now
    k = max(1, len(times) // 10)
    return {
        "minutes": minutes, "frames": frames, "size": size, "seconds": time.perf_counter() - t0,
        "peak_rss_mb": peak_rss_mb(), "rss_after_model_mb": rss_start,
        "s_per_frame_first10pct": statistics.median(times[:k]), "s_per_frame_last10pct": statistics.median(times[-k:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--config", choices=("tiny", "demo"), default="tiny")
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/dagan_memory.json")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_one(args.child, args.size, args.config, args.ckpt, args.threads)))
        return
    runs = []
    for minutes in args.minutes:
        cmd = [sys.executable, __file__, "--child", str(minutes), "--size", str(args.size), "--config", args.config,
               "--threads", str(args.threads)] + (["--ckpt", args.ckpt] if args.ckpt else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        runs.append(json.loads(out))
        print(json.dumps(runs[-1]))
    result = {"benchmark": "dagan_memory", "machine": platform.processor() or platform.machine(), "config": args.config,
              "threads": args.threads, "runs": runs}
    if len(runs) >= 2:
        result["peak_ratio_longest_vs_shortest"] = runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"]
        print(f"peak RSS {runs[0]['minutes']} min: {runs[0]['peak_rss_mb']:.0f} MiB; {runs[-1]['minutes']} min: "
              f"{runs[-1]['peak_rss_mb']:.0f} MiB; ratio {result['peak_ratio_longest_vs_shortest']:.3f} (target <= 1.5)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
