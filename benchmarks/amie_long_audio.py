"""AMIE on long audio: peak memory and time per frame for 1 minute vs 10 minutes of speech.

    python benchmarks/amie_long_audio.py [--durations 60 600] [--threads 1] [--window 250]
        [--out benchmarks/results/amie_long_audio.json]

Model: the demo recipe's network sizes (``recipes/amie_demo.yaml``: 64 px working resolution,
base width 16, audio 64-d), random weights (time and memory do not depend on them), with the data
size set to 64 px so no upsampling to 256 px dominates the timing. Input: Gaussian noise at 16 kHz
and a random 64 px portrait. Generation goes through :meth:`AMIE.generate_stream` (what
``talkzoo animate`` consumes), ``--window`` frames per chunk; each chunk is dropped after it is
yielded, as the mp4 writer would consume it.

Each duration runs in its own child process so that the peak resident set size
(``ru_maxrss``) belongs to that run alone; the RSS right before generation (interpreter + torch +
model + the waveform) is reported, and the growth is the difference. Issue target (#16): peak
memory for 10 minutes within 1.5x that of 1 minute; time per frame independent of length.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from _memory import current_rss_mb, peak_rss_mb  # benchmarks/_memory.py

RATE, FPS, SIZE = 16000, 25.0, 64


def _worker(seconds: float, threads: int, window: int) -> dict:
    import torch

    from talkzoo.data.spec import VideoDataSpec
    from talkzoo_amie.model import AMIE

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = VideoDataSpec(dataset="bench", sample_rate=RATE, fps=FPS, image_size=SIZE)
    model = AMIE(spec=spec, resolution=64, base_channels=16, max_channels=128, audio_dim=64, audio_channels=16,
                 classifier_dim=128, mask_channels=8).eval()
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(1, int(seconds * RATE), generator=gen)
    source = torch.rand(1, 3, SIZE, SIZE, generator=gen)
    for _ in model.generate_stream(audio[:, :RATE], source, window_frames=window):  # warm-up
        pass
    rss_before = current_rss_mb()
    frames, stamps, finite = 0, [], True
    start = time.perf_counter()
    for chunk in model.generate_stream(audio, source, window_frames=window):
        frames += chunk.shape[1]
        finite = finite and bool(torch.isfinite(chunk).all())
        stamps.append((frames, time.perf_counter()))
    total = time.perf_counter() - start
    first = stamps[0][1] - start
    last = stamps[-1][1] - stamps[-2][1] if len(stamps) > 1 else first
    return {
        "audio_seconds": seconds,
        "frames": frames,
        "finite": finite,
        "window_frames": window,
        "wall_seconds": total,
        "seconds_per_frame": total / frames,
        "first_window_seconds_per_frame": first / stamps[0][0],
        "last_window_seconds_per_frame": last / (stamps[-1][0] - (stamps[-2][0] if len(stamps) > 1 else 0)),
        "rss_before_generate_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "rss_growth_mb": peak_rss_mb() - rss_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--out", default="benchmarks/results/amie_long_audio.json")
    parser.add_argument("--worker", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(_worker(args.worker, args.threads, args.window)))
        return 0
    runs = []
    for seconds in args.durations:
        cmd = [sys.executable, __file__, "--worker", str(seconds), "--threads", str(args.threads), "--window", str(args.window)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]))
    base = runs[0]
    for run in runs:
        run["peak_rss_ratio_vs_first"] = run["peak_rss_mb"] / base["peak_rss_mb"]
        run["seconds_per_frame_ratio_vs_first"] = run["seconds_per_frame"] / base["seconds_per_frame"]
    result = {"benchmark": "amie_long_audio", "python": platform.python_version(), "machine": platform.machine(),
              "threads": args.threads, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"peak RSS {runs[-1]['audio_seconds']:.0f} s / {base['audio_seconds']:.0f} s: {runs[-1]['peak_rss_ratio_vs_first']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
