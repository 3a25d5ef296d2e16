"""Peak memory of ``talkzoo animate --image`` (audio → video) for 1 minute vs 10 minutes of speech.

Each length runs in a fresh process (peak RSS is per process) with the tiny audio → video model of
``talkzoo.testing`` at 128 px on Grace Hopper's portrait (matplotlib sample data) and a synthetic
44.1 kHz stereo voice. Frames stream from ``generate_stream`` to the H.264 encoder, so the peak
should not grow with the length beyond the waveform itself (16 kHz float32: 3.8 MB per minute)::

    python benchmarks/animate_video_memory.py            # writes benchmarks/results/animate_video_memory.json
    python benchmarks/animate_video_memory.py --minutes 1 2   # other lengths

The check of issue #13: peak(10 min) <= 1.5 x peak(1 min).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _one(minutes: float, work: Path) -> dict:
    """Child process: build the checkpoint and speech, animate, report peak RSS."""
    import lightning
    import matplotlib
    import numpy as np
    import soundfile as sf
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _memory import peak_rss_mb

    from talkzoo.animate_video import animate_video
    from talkzoo.data.spec import VideoDataSpec
    from talkzoo.tasks.base import CLASS_PATH_KEY
    from talkzoo.testing.models import TinyAudioToVideo

    torch.manual_seed(0)
    model = TinyAudioToVideo(spec=VideoDataSpec(image_size=128, fps=25.0, sample_rate=16000))
    ckpt = work / "tiny.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": lightning.__version__,
                CLASS_PATH_KEY: "talkzoo.testing.models.TinyAudioToVideo"}, ckpt)
    rate = 44100
    speech = work / f"speech_{minutes:g}min.wav"
    with sf.SoundFile(speech, "w", samplerate=rate, channels=2) as fh:  # written in 10 s blocks
        for start in range(0, int(minutes * 60 * rate), 10 * rate):
            t = (np.arange(10 * rate) + start) / rate
            v = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 210 * t)
            fh.write(np.stack([v, 0.5 * v], 1)[: int(minutes * 60 * rate) - start])
    base = peak_rss_mb()
    t0 = time.perf_counter()
    out = animate_video(ckpt, work / "out", image=Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
                        audio=speech, overwrite=True, progress=False)
    seconds = time.perf_counter() - t0
    from talkzoo.render import read_video_info

    return {"minutes": minutes, "peak_rss_mb": round(peak_rss_mb(), 1), "peak_before_animate_mb": round(base, 1),
            "wall_s": round(seconds, 1), "frames_per_s": round(minutes * 60 * 25 / seconds, 1),
            "output_mb": round(out.stat().st_size / 2**20, 2)}


def main(argv: list[str] | None = None) -> int:
    """Run each length in its own process and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "animate_video_memory.json"))
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_one(args.child, Path(args.work))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in args.minutes:
            proc = subprocess.run([sys.executable, __file__, "--child", str(m), "--work", tmp],
                                  capture_output=True, text=True, check=True, env={"HF_HUB_OFFLINE": "1", **__import__("os").environ})
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    import platform

    result = {"rows": rows, "peak_ratio_last_vs_first": round(ratio, 3), "machine": platform.platform(),
              "model": "talkzoo.testing.models.TinyAudioToVideo, 128 px", "check": "ratio <= 1.5 (issue #13)"}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"peak memory ratio {rows[-1]['minutes']:g} min / {rows[0]['minutes']:g} min: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
