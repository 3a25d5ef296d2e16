"""FLOAT on long audio: peak memory and time per frame of window-by-window animation vs length.

    python benchmarks/float_long_audio.py [--minutes 1 10] [--ckpt runs/float_demo] [--threads 2]
        [--out benchmarks/results/float_long_audio.json]

Each length runs in its own child process, so its peak resident set size (``ru_maxrss``) belongs
to that run alone. The run consumes :meth:`talkzoo_float.model.FLOAT.generate_stream` as
``talkzoo animate`` does (each window's frames are converted to uint8 and dropped, as the mp4
encoder would take them), and records the wall time of every window: the median seconds per frame
of the first and last 10 % of windows tell whether the cost per frame grows with length.

Model: the demo checkpoint when ``--ckpt`` is given, else (``--size demo``) the demo-recipe size with random weights
(``recipes/float_demo.yaml``: AE at 64 px, d = 64, FMT h = 128, 2 blocks, L = 20, L' = 5; timing and
memory do not depend on the weights), or ``--size tiny`` (see :func:`build_demo_model`). Input: Gaussian noise at 16 kHz, source a random 256x256 image.
Issue target: 10 minutes within 1.5x the peak memory of 1 minute, time per frame flat in length.
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


def build_demo_model(ckpt: str | None, size: str = "demo"):
    """The demo-size FLOAT (from ``ckpt`` when given, else random weights); ``size="tiny"``: a 16 px
    AE and a 16-wide FMT with the demo's windows (L = 20, L' = 5), output 32 px — the memory/time
    structure is the same, the CPU cost per frame far lower (for a busy shared machine)."""
    import torch

    if ckpt:
        from talkzoo.checkpoints import load_model

        return load_model(ckpt).eval()
    from talkzoo.audio.encoders import MelSpectrogramEncoder
    from talkzoo.data.spec import VideoDataSpec
    from talkzoo_float.model import FLOAT

    torch.manual_seed(0)
    if size == "tiny":
        from talkzoo_float.metadata import TINY_FLOAT_ARGS

        spec = VideoDataSpec(dataset="demo", image_size=32, fps=25.0, sample_rate=16000, speakers=("a",))
        args = {**TINY_FLOAT_ARGS, "window_frames": 20, "prefix_frames": 5, "nfe": 10}
        return FLOAT(spec=spec, audio_encoder=MelSpectrogramEncoder(n_mels=80, normalize="meanvar"), **args).eval()
    spec = VideoDataSpec(dataset="demo", image_size=256, fps=25.0, sample_rate=16000, speakers=("a",))
    return FLOAT(
        spec=spec, audio_encoder=MelSpectrogramEncoder(n_mels=80, normalize="meanvar"),
        autoencoder={"image_size": 64, "latent_dim": 64, "num_motions": 20, "channel_base": 512, "max_channels": 64, "mlp_layers": 2},
        audio_dim=64, hidden_dim=128, depth=2, num_heads=4, window_frames=20, prefix_frames=5,
    ).eval()  # fmt: skip


def child(minutes: float, ckpt: str | None, threads: int, size: str) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    model = build_demo_model(ckpt, size)
    spec = model.require_spec()
    samples = int(minutes * 60 * spec.sample_rate)
    audio = 0.1 * torch.randn(1, samples)
    source = torch.rand(1, 3, spec.image_size, spec.image_size)
    rss_before = current_rss_mb()
    times, frames = [], 0
    start = last = time.perf_counter()
    with torch.no_grad():
        for chunk in model.generate_stream(audio, source, seed=0):
            np.asarray(chunk.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 1, 3, 4, 2))  # as the encoder takes it
            now = time.perf_counter()
            times.append((now - last) / chunk.shape[1])
            frames += chunk.shape[1]
            last = now
    k = max(1, len(times) // 10)
    return {
        "minutes": minutes, "frames": frames, "seconds": time.perf_counter() - start,
        "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
        "s_per_frame_first10pct": statistics.median(times[:k]), "s_per_frame_last10pct": statistics.median(times[-k:]),
        "fps": frames / (time.perf_counter() - start),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", choices=("demo", "tiny"), default="demo")
    parser.add_argument("--out", default="benchmarks/results/float_long_audio.json")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.ckpt, args.threads, args.size)))
        return 0
    runs = []
    for minutes in args.minutes:
        cmd = [sys.executable, __file__, "--child", str(minutes), "--threads", str(args.threads), "--size", args.size] + (["--ckpt", args.ckpt] if args.ckpt else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        runs.append(json.loads(out))
        print(json.dumps(runs[-1]))
    base = runs[0]
    for r in runs:
        r["peak_ratio_vs_first"] = r["peak_rss_mb"] / base["peak_rss_mb"]
        r["growth_ratio_vs_first"] = (r["peak_rss_mb"] - r["rss_before_mb"]) / max(1e-9, base["peak_rss_mb"] - base["rss_before_mb"])
    result = {"machine": platform.platform(), "processor": platform.processor(), "threads": args.threads, "size": args.size, "ckpt": args.ckpt, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
