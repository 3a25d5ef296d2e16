"""DualTalker on long audio: seconds per frame, real-time factor and peak memory vs audio length.

    python benchmarks/dualtalker_long_audio.py [--durations 5 30 120 600] [--reference-max 30]
        [--threads 1] [--out benchmarks/results/dualtalker_long_audio.json]

Model: the demo-recipe size (``recipes/dualtalker_demo.yaml``): ``MelSpectrogramEncoder(n_mels=40,
frame_context=2)``, ``d_model=64``, ``feedforward_dim=256``, the demo corpus mesh (468 vertices,
30 fps, 4 training speakers), random weights (timing does not depend on them), default
``max_context=600`` and ``encoder_chunk_seconds=30``. Input: Gaussian noise at 16 kHz.

Each measurement runs in its own child process so that the peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that run alone; the RSS right before
``generate`` (interpreter + torch + model) is reported too, and the growth is the difference.
Per-frame times come from a forward hook on the motion decoder (called once per generated
frame), so the script reports the median per-frame time of the first 600 frames and of the last
600 frames of each run: if the cost per frame does not grow with length, those agree.

Ratios are given against the 5 s run and against a reference loop measured in the same run: the
batch-size-1 *no-cache* autoregressive loop of the published codebases (FaceFormer's
``predict``: re-run the whole teacher-forced stack on the prefix for every new frame, unbounded
attention), only up to ``--reference-max`` seconds since it is quadratic in length.
Issue target: 10 minutes of audio without running out of memory, generation time per frame
independent of length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _memory import current_rss_mb, peak_rss_mb  # benchmarks/_memory.py

RATE = 16000
FPS = 30.0
VERTICES = 468


def _build_model():
    import torch

    from talkzoo.audio.encoders import MelSpectrogramEncoder
    from talkzoo.data.spec import MeshDataSpec
    from talkzoo_dualtalker.model import DualTalker

    torch.manual_seed(0)
    spec = MeshDataSpec(
        dataset="demo", fps=FPS, sample_rate=RATE, num_vertices=VERTICES, speakers=tuple(f"s{i}" for i in range(4))
    )
    return DualTalker(
        spec=spec,
        audio_encoder=MelSpectrogramEncoder(n_mels=40, frame_context=2),
        d_model=64,
        feedforward_dim=256,
        zero_init_motion_decoder=False,
    ).eval()


def _worker(seconds: float, mode: str, threads: int) -> dict:
    """One measurement in this (child) process; returns the numbers as a dict."""
    import torch

    torch.set_num_threads(threads)
    model = _build_model()
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(1, int(seconds * RATE), generator=gen)
    template = torch.zeros(1, VERTICES, 3)
    stamps: list[float] = []
    with torch.no_grad():  # warm-up (allocator, kernels), not timed
        model.generate(audio[:, :RATE], template, torch.tensor([0]))
    if mode == "cached":  # the decoder runs once per generated frame (the reference stamps its own loop)
        model.network.motion_decoder.register_forward_hook(lambda *_: stamps.append(time.perf_counter()))
    rss_before = current_rss_mb()
    start = time.perf_counter()
    with torch.no_grad():
        if mode == "cached":
            out = model.generate(audio, template, torch.tensor([0]))
            frames = out.shape[1]
            finite = bool(torch.isfinite(out).all())
        else:  # reference: no cache, recompute the whole prefix each frame (published codebases)
            frames = int(model.frames_for_audio(audio.shape[1]))
            x = model.network.audio_encoder_proj(model.network.encode_audio(audio, None, frames, frames))
            style = model.network.style(torch.tensor([0]))
            motion = torch.zeros(1, 0, model.vertex_dim)
            for t in range(frames):
                padded = torch.cat([motion, torch.zeros(1, 1, model.vertex_dim)], dim=1)
                pred, _ = model.network.primal_teacher_forced(x[:, : t + 1], style, padded)
                stamps.append(time.perf_counter())
                motion = torch.cat([motion, pred[:, t : t + 1]], dim=1)
            finite = bool(torch.isfinite(motion).all())
    total = time.perf_counter() - start
    per_frame = [b - a for a, b in zip(stamps, stamps[1:])]
    head, tail = per_frame[:600], per_frame[-600:]
    return {
        "mode": mode,
        "audio_seconds": seconds,
        "frames": frames,
        "finite": finite,
        "wall_seconds": total,
        "seconds_per_frame": total / frames,
        "real_time_factor": (frames / FPS) / total,
        "median_frame_seconds_first_600": statistics.median(head) if head else None,
        "median_frame_seconds_last_600": statistics.median(tail) if tail else None,
        "output_mb": frames * 3 * VERTICES * 4 / (1024 * 1024),  # (1, T, V, 3) float32 result
        "rss_before_generate_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "rss_growth_mb": peak_rss_mb() - rss_before,
    }


def _run_child(seconds: float, mode: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(seconds), "--mode", mode, "--threads", str(threads)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 30.0, 120.0, 600.0])
    parser.add_argument("--reference-max", type=float, default=30.0, help="longest audio (s) for the no-cache loop")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dualtalker_long_audio.json")
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="cached", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(_worker(args.worker, args.mode, args.threads)))
        return

    import torch

    runs, references = [], []
    for seconds in args.durations:
        result = _run_child(seconds, "cached", args.threads)
        runs.append(result)
        print(json.dumps(result), flush=True)
        if seconds <= args.reference_max:
            ref = _run_child(seconds, "reference", args.threads)
            references.append(ref)
            print(json.dumps(ref), flush=True)
    base = runs[0]
    refs = {r["audio_seconds"]: r for r in references}
    for r in runs:
        r["vs_first"] = {
            "seconds_per_frame": r["seconds_per_frame"] / base["seconds_per_frame"],
            "peak_rss": r["peak_rss_mb"] / base["peak_rss_mb"],
            "rss_growth": r["rss_growth_mb"] / max(base["rss_growth_mb"], 1e-9),
        }
        ref = refs.get(r["audio_seconds"])
        if ref is not None:
            r["vs_reference_same_length"] = {
                "seconds_per_frame": r["seconds_per_frame"] / ref["seconds_per_frame"],
                "peak_rss": r["peak_rss_mb"] / ref["peak_rss_mb"],
            }
    if references:
        ref0 = references[0]
        for ref in references:
            ref["vs_first"] = {
                "seconds_per_frame": ref["seconds_per_frame"] / ref0["seconds_per_frame"],
                "peak_rss": ref["peak_rss_mb"] / ref0["peak_rss_mb"],
            }
    report = {
        "benchmark": "dualtalker_long_audio",
        "model": "DualTalker demo size: MelSpectrogramEncoder(n_mels=40, frame_context=2), d_model=64, "
        "feedforward_dim=256, 1 layer, 468 vertices, 30 fps, max_context=600, encoder_chunk_seconds=30",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": args.threads,
        },
        "cached": runs,
        "reference_no_cache": references,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
