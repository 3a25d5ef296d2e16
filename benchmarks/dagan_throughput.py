"""DaGAN training throughput: frames/s of the batched training step against a batch-1 fp32 loop,
in the same run (same model, same data, same machine).

    python benchmarks/dagan_throughput.py [--config tiny|demo] [--batch 8] [--steps 4]
        [--device cpu|cuda] [--precision fp32|bf16] [--threads 2]
        [--out benchmarks/results/dagan_throughput.json]

Each training step is the module's own ``training_step`` logic (generator objective, discriminator
objective, one optimizer step over both parameter groups) driven by hand on random frame pairs of
the configuration's size: ``tiny`` = ``talkzoo_dagan.metadata.TINY_DAGAN_ARGS`` at 32 px;
``demo`` = the demo recipe at 256 px input, 64 px working size. The reference processes the same
number of frame pairs one at a time in fp32. ``--device cuda --precision bf16`` measures the GPU
path (autocast) when a GPU is lent.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def build(config: str, device: str):
    import torch
    import yaml

    from talkzoo.data.spec import ReenactmentDataSpec
    from talkzoo_dagan.metadata import TINY_DAGAN_ARGS
    from talkzoo_dagan.model import DaGAN

    torch.manual_seed(0)
    if config == "tiny":
        args, size = dict(TINY_DAGAN_ARGS), 32
    else:
        args = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "recipes" / "dagan_demo.yaml"))["model"]["init_args"]
        args.pop("depth_checkpoint", None)
        size = 256
    model = DaGAN(spec=ReenactmentDataSpec(dataset="bench", image_size=size), **args).to(device).train()
    return model, size


def step(model, optimizer, source, driving, precision: str) -> None:
    import torch

    with torch.autocast(device_type=source.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        src, drv = model._batch_pairs_from(source, driving)
        out = model.forward_pair(src, drv)
        losses = model.generator_losses(drv, out)
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    for p in model.discriminator.parameters():
        p.grad = None
    with torch.autocast(device_type=source.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        d_loss = model.discriminator_loss(drv, out["prediction"], out["kp_driving"]["value"])
    d_loss.backward()
    optimizer.step()


def measure(model, optimizer, batch: int, steps: int, size: int, device: str, precision: str) -> float:
    import torch

    gen = torch.Generator().manual_seed(0)
    data = [(torch.rand(batch, 3, size, size, generator=gen).to(device), torch.rand(batch, 3, size, size, generator=gen).to(device))
            for _ in range(steps)]
    step(model, optimizer, *data[0], precision)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for s, d in data:
        step(model, optimizer, s, d, precision)
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("tiny", "demo"), default="tiny")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/dagan_throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, size = build(args.config, args.device)
    model._batch_pairs_from = lambda s, d: (  # the module's resize to its working size
        __import__("talkzoo_dagan.network", fromlist=["resize"]).resize(s, model._size()),
        __import__("talkzoo_dagan.network", fromlist=["resize"]).resize(d, model._size()))
    optimizer = model.configure_optimizers()
    batched = measure(model, optimizer, args.batch, args.steps, size, args.device, args.precision)
    single = measure(model, optimizer, 1, args.batch * args.steps, size, args.device, "fp32")
    result = {"benchmark": "dagan_throughput", "config": args.config, "device": args.device,
              "machine": torch.cuda.get_device_name() if args.device == "cuda" else (platform.processor() or platform.machine()),
              "threads": args.threads, "batch": args.batch, "precision": args.precision,
              "frames_per_s": batched, "batch1_fp32_frames_per_s": single, "speedup": batched / single}
    print(json.dumps(result))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
