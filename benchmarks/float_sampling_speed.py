"""FLOAT sampling speed: our sampler vs a loop written to the official inference code's semantics.

    python benchmarks/float_sampling_speed.py [--size demo|paper] [--seconds 10] [--nfe 10]
        [--devices cpu cuda] [--out benchmarks/results/float_sampling_speed_<size>.json]

Both produce the same clip (audio → motion latents → frames) at the same size and NFE:

* **ours** — :meth:`talkzoo_float.model.FLOAT.generate_stream`: per window the three guidance
  branches of Eq. 14 run as one batch (one network call per Euler step), ``nfe`` Euler steps
  (``time_grid="uniform"``), frames decoded ``decode_batch`` at a time, audio features per window;
* **official semantics** — the structure of the official inference code
  (github.com/deepbrainai-research/float, read for facts, not copied): the whole audio encoded
  once, per window ``linspace(0, 1, nfe)`` Euler time points (``nfe − 1`` steps), three separate
  network calls per step (full, audio-only, unconditional), and every frame decoded on its own.

Frames/s include audio encoding, sampling and decoding (not the file writing). ``--size demo``:
the demo recipe's sizes (64 px AE, FMT h = 128). ``--size paper``: 512x512, d = 512, FMT
h = 1024 / 8 blocks / 8 heads, wav2vec 2.0 base architecture (random weights: speed does not
depend on them). The paper reports 41.37 FPS at 512², NFE 10 on one V100 (Table 5). CUDA is used
when ``cuda`` is listed and available; the script writes one row per device.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def build(size: str, device: str):
    import torch

    from talkzoo.data.spec import VideoDataSpec
    from talkzoo_float.model import FLOAT, Wav2Vec2AllLayers

    torch.manual_seed(0)
    if size == "paper":
        spec = VideoDataSpec(dataset="hdtf", image_size=512, fps=25.0, sample_rate=16000, speakers=("a",))
        encoder = Wav2Vec2AllLayers(random_init=True, config_overrides={"layerdrop": 0.0})
        model = FLOAT(spec=spec, audio_encoder=encoder, autoencoder={"image_size": 512}, decode_batch=25)
    else:
        from talkzoo.audio.encoders import MelSpectrogramEncoder

        spec = VideoDataSpec(dataset="demo", image_size=256, fps=25.0, sample_rate=16000, speakers=("a",))
        model = FLOAT(
            spec=spec, audio_encoder=MelSpectrogramEncoder(n_mels=80, normalize="meanvar"),
            autoencoder={"image_size": 64, "latent_dim": 64, "num_motions": 20, "channel_base": 512, "max_channels": 64, "mlp_layers": 2},
            audio_dim=64, hidden_dim=128, depth=2, num_heads=4, window_frames=20, prefix_frames=5,
        )  # fmt: skip
    return model.to(device).eval()


def official_loop(model, audio, source, nfe: int, cfg_audio: float = 2.0, cfg_emotion: float = 1.0):
    """The official inference structure (see the module docstring); yields ``(1, n, 3, s, s)`` frames in [-1, 1]."""
    import torch

    from talkzoo_float.losses import incremental_cfg
    from talkzoo_float.model import _to_signed

    total = model.num_frames_for(audio.shape[1])
    feats_all = model.audio_features(audio, None, total)  # whole audio at once
    enc = model.autoencoder.encode(_to_signed(source, model.net_size))
    ref = model.autoencoder.basis(enc.coefficients)
    lp, length, d = model.prefix_frames, model.window_frames, model.autoencoder.latent_dim
    emo = torch.zeros(1, 7, device=audio.device)
    prev_x = torch.zeros(1, lp, d, device=audio.device)
    prev_a = torch.zeros(1, lp, feats_all.shape[-1], device=audio.device)
    grid = torch.linspace(0, 1, nfe).tolist()
    for start in range(0, total, length):
        a = feats_all[:, start : start + length]
        if a.shape[1] < length:
            a = torch.cat([a, a[:, -1:].expand(-1, length - a.shape[1], -1)], dim=1)
        x = torch.randn(1, length, d, device=audio.device)
        for t0, t1 in zip(grid[:-1], grid[1:]):
            t = torch.full((1,), t0, device=audio.device)
            tokens = torch.cat([prev_x, x], 1)
            v_f = model.fmt(tokens, t, ref, torch.cat([prev_a, a], 1), emo)[:, lp:]
            v_a = model.fmt(tokens, t, ref, torch.cat([prev_a, a], 1), torch.zeros_like(emo))[:, lp:]
            v_u = model.fmt(tokens, t, ref, torch.cat([prev_a, torch.zeros_like(a)], 1), torch.zeros_like(emo))[:, lp:]
            x = x + (t1 - t0) * incremental_cfg(v_f, v_a, v_u, cfg_audio, cfg_emotion)
        prev_x, prev_a = x[:, -lp:], a[:, -lp:]
        n = min(length, total - start)
        frames = [model.autoencoder.decode(enc.identity + x[:, i], enc.features) for i in range(n)]  # frame by frame
        yield torch.stack(frames, dim=1)


def measure(size: str, device: str, seconds: float, nfe: int, repeats: int) -> dict:
    import torch

    model = build(size, device)
    spec = model.require_spec()
    audio = 0.1 * torch.randn(1, int(seconds * spec.sample_rate), device=device)
    source = torch.rand(1, 3, spec.image_size, spec.image_size, device=device)
    frames = model.num_frames_for(audio.shape[1])
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    out = {}
    runs = {
        "ours": lambda: [c.shape[1] for c in model.generate_stream(audio, source, nfe=nfe, seed=0)],
        "official_semantics": lambda: [c.shape[1] for c in official_loop(model, audio, source, nfe)],
    }
    with torch.no_grad():
        for name, fn in runs.items():
            fn() if device.startswith("cuda") else None  # warm-up (kernels, allocator)
            best = float("inf")
            for _ in range(repeats):
                sync()
                t0 = time.perf_counter()
                n = sum(fn())
                sync()
                best = min(best, time.perf_counter() - t0)
            assert n == frames
            out[name] = {"seconds": best, "fps": frames / best}
    out["speed_up"] = out["ours"]["fps"] / out["official_semantics"]["fps"]
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or platform.machine()
    return {"device": device, "device_name": name, "size": size, "audio_seconds": seconds, "frames": frames, "nfe": nfe, **out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("demo", "paper"), default="demo")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--nfe", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for device in args.devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device}: not available, skipped")
            continue
        rows.append(measure(args.size, device, args.seconds, args.nfe, args.repeats))
        print(json.dumps(rows[-1]))
    out = Path(args.out or f"benchmarks/results/float_sampling_speed_{args.size}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "threads": args.threads, "rows": rows}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
