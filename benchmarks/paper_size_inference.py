"""Paper-size 3D inference (issue #17): DualTalker and OT-Talk vs a FaceFormer-semantics loop on the CPU.

    python benchmarks/paper_size_inference.py [--quick] [--durations 2 5 10 19 60 600] [--reps 3]
        [--threads 1 0] [--variants ...] [--animate-seconds 600] [--out benchmarks/results/paper_size_inference.json]

Sizes (random weights; timing does not depend on them, deviations are relative to the motion):

* speech encoders: ``Wav2Vec2Encoder(random_init=True)`` / ``HubertEncoder(random_init=True)``,
  i.e. wav2vec2-base / HuBERT-base from transformers' default config (no download), as
  ``recipes/dualtalker_voca.yaml`` (wav2vec 2.0 base, interpolated to 30 fps before the
  transformer) and ``recipes/ottalk_voca.yaml`` (HuBERT, interpolated after; the recipe names
  HuBERT *Large*, the issue asks for the base size);
* DualTalker at ``dualtalker_voca`` sizes: d = 128, 4 heads, FF 2048, 1 layer, max_context 600,
  30 s encoder windows with 1 s overlap; OT-Talk at ``ottalk_voca`` sizes (K = 6, 50 PCA
  components, audio-only PCA input); both on a 5023-vertex stand-in mesh (VOCASET's vertex count,
  a triangulated grid from ``speed_memory.py``), 8 training speakers, 30 fps;
* the reference: FaceFormer's published ``predict()`` semantics at its VOCASET sizes (feature 64,
  4 heads, FF 128, 1 decoder layer, period 30, 600-frame masks), written here from the paper and
  the published behaviour (not copied): per frame, the whole history goes through the
  ``nn.TransformerDecoder`` again (no cache) with the periodic-ALiBi self mask and the diagonal
  memory mask, ``vertice_map_r`` maps *every* history token to vertices, and the last one is
  re-embedded by ``vertice_map`` plus the style vector. Its masks and positional encoding are
  built for 600 frames, so longer audio fails there (reported, not run). It shares the same
  wav2vec 2.0 module (same weights) as DualTalker, so the encoder cost is identical.

Variants (``--variants``): ``faceformer``, ``dualtalker`` (fp32), ``dualtalker_int8``,
``dualtalker_bf16`` (``encoder_precision``), ``dualtalker_fused`` (``fused_decoder``),
``dualtalker_fused_int8`` (both), ``ottalk``, ``ottalk_int8``, ``ottalk_bf16``
(:func:`talkzoo.nn.fast_inference.fast_encoder` on its encoder), ``decoder_tables`` /
``decoder_per_frame`` (DualTalker's autoregressive loop alone on precomputed audio features,
with the precomputed per-frame tables vs the pre-#17 per-frame computation: the decoder
overhead before/after) and ``encoder_spread`` (DualTalker fp32 with the pre-#17 window layout).
For every duration and thread count the variants run interleaved, ``--reps`` times, in one child
process; the JSON keeps every time, the minimum and the median, the real-time factor (audio
seconds / wall seconds) and, for the speed options, the maximum vertex deviation from the fp32
output in mm (and relative to the fp32 motion's largest displacement).

``--animate-seconds S [S ...]`` (default 19 600): ``talkzoo animate`` (``talkzoo.animate.animate``,
--no-render, streaming to the .npy) on S seconds of noise at 5023 vertices, each in its own child
process, with the model handed in instead of a checkpoint: resident-memory growth (peak RSS during
animate — the peak is reset after the model is built — minus RSS before) against the size of the
output array, and the real-time factor of the longest run relative to the shortest (same path,
same options).

``--quick``: 2 and 5 s, one repetition, one thread, all variants, animate on 20 s: a smoke run.
Timings on a shared machine: read them with the load average recorded in the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import current_rss_mb, peak_rss_mb, reset_peak_rss  # benchmarks/_memory.py

RATE = 16000
FPS = 30.0
VERTICES = 5023
SPEAKERS = 8
FACEFORMER_MAX_FRAMES = 600
ALL_VARIANTS = (
    "faceformer", "dualtalker", "dualtalker_int8", "dualtalker_bf16", "dualtalker_fused", "dualtalker_fused_int8",
    "ottalk", "ottalk_int8", "ottalk_bf16",
    "decoder_tables", "decoder_per_frame", "encoder_spread",
)  # fmt: skip


# ----------------------------------------------------------------------------- reference
def faceformer_reference(encoder, vertex_dim: int, num_speakers: int):
    """FaceFormer's VOCASET inference network (``predict`` semantics), random weights; see the module."""
    import torch
    from torch import nn

    class PeriodicPositionalEncoding(nn.Module):
        """Sinusoids of ``position mod period``, tabulated for ``max_len`` positions (600)."""

        def __init__(self, dim: int, period: int, max_len: int) -> None:
            super().__init__()
            pos = (torch.arange(max_len) % period).float()[:, None]
            freq = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
            pe = torch.zeros(max_len, dim)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
            self.register_buffer("pe", pe[None])

        def forward(self, x):
            return x + self.pe[:, : x.shape[1]]  # fails past max_len (shape mismatch)

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dim, heads, period = 64, 4, 30
            self.encoder, self.heads = encoder, heads
            self.audio_feature_map = nn.Linear(encoder.output_dim, dim)
            self.vertice_map = nn.Linear(vertex_dim, dim)
            self.vertice_map_r = nn.Linear(dim, vertex_dim)
            self.obj_vector = nn.Linear(num_speakers, dim, bias=False)
            self.ppe = PeriodicPositionalEncoding(dim, period, FACEFORMER_MAX_FRAMES)
            layer = nn.TransformerDecoderLayer(dim, heads, dim_feedforward=2 * dim, batch_first=True)
            self.decoder = nn.TransformerDecoder(layer, num_layers=1)
            # periodic ALiBi self mask for 600 frames: -slope_h * floor((i - j) / period), -inf for j > i
            slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)])
            i = torch.arange(FACEFORMER_MAX_FRAMES)
            diff = i[:, None] - i[None, :]
            bias = -slopes[:, None, None] * torch.div(diff.clamp(min=0), period, rounding_mode="floor")[None].float()
            self.register_buffer("biased_mask", bias.masked_fill(diff[None] < 0, float("-inf")))

        def predict(self, audio, speaker_onehot, template, frames: int):
            """``(1, frames, V, 3)``; raises where FaceFormer does (past 600 frames)."""
            hidden = self.audio_feature_map(self.encoder(audio, None, frames))  # (1, T, 64)
            style = self.obj_vector(speaker_onehot)[:, None]  # (1, 1, 64)
            emb = style
            for t in range(frames):
                inp = self.ppe(emb)
                length = inp.shape[1]
                tgt_mask = self.biased_mask[:, :length, :length]
                memory_mask = torch.ones(length, hidden.shape[1], dtype=torch.bool)
                memory_mask[torch.arange(length), torch.arange(length)] = False  # diagonal alignment
                out = self.vertice_map_r(self.decoder(inp, hidden, tgt_mask=tgt_mask, memory_mask=memory_mask))
                emb = torch.cat([emb, self.vertice_map(out[:, -1])[:, None] + style], dim=1)
            return (out + template.reshape(1, 1, -1)).view(1, frames, -1, 3)

    return Reference().eval()


# ----------------------------------------------------------------------------- models
def build_models(variants: list[str], workdir: Path):
    """``{name: model}`` for the variants (random weights, seeds fixed) and the stand-in template."""
    import numpy as np
    import torch

    from speed_memory import _grid_mesh  # the 5023-vertex stand-in topology of benchmarks/speed_memory.py
    from talkzoo.audio.encoders import HubertEncoder, Wav2Vec2Encoder
    from talkzoo.data.spec import MeshDataSpec

    template, faces = _grid_mesh(VERTICES)
    template_path, faces_path = workdir / "template.npy", workdir / "faces.npy"
    np.save(template_path, template)
    np.save(faces_path, faces)
    spec = MeshDataSpec(
        dataset="vocaset", fps=FPS, sample_rate=RATE, num_vertices=VERTICES,
        speakers=tuple(f"s{i}" for i in range(SPEAKERS)), faces_file=str(faces_path),
    )  # fmt: skip
    models = {}
    dual_needed = any(v.startswith(("dualtalker", "decoder", "encoder", "faceformer")) for v in variants)
    if dual_needed:
        from talkzoo_dualtalker.model import DualTalker

        torch.manual_seed(0)
        wav2vec = Wav2Vec2Encoder(random_init=True, interpolate_before_transformer=True).eval()
        dual = DualTalker(
            spec=spec, audio_encoder=wav2vec, d_model=128, num_heads=4, feedforward_dim=2048,
            zero_init_motion_decoder=False,
        ).eval()  # fmt: skip
        with torch.no_grad():  # displacements up to ~1 cm, like speech motion (random init gives ~0.5 m)
            dual.network.motion_decoder.weight.mul_(0.004)
            dual.network.motion_decoder.bias.zero_()
        models["dualtalker"] = dual
        torch.manual_seed(1)
        models["faceformer"] = faceformer_reference(wav2vec, 3 * VERTICES, SPEAKERS)
        with torch.no_grad():
            models["faceformer"].vertice_map_r.weight.mul_(0.004)
    if any(v.startswith("ottalk") for v in variants):
        from talkzoo_ottalk.model import OTTalk

        torch.manual_seed(0)
        hubert = HubertEncoder(random_init=True, interpolate_before_transformer=False).eval()
        models["ottalk"] = OTTalk(
            spec=spec, audio_encoder=hubert, K=6, n_components=50, pca_input="audio",
            reference_template=str(template_path),
        ).eval()  # fmt: skip
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():  # zero-initialised heads give the template alone: make the output move
            head = models["ottalk"].network.coeff_head.weight
            head.copy_(torch.randn(head.shape, generator=g))
            last = models["ottalk"].network.refiner.out.lins[0].weight
            last.copy_(0.01 * torch.randn(last.shape, generator=g))
    return models, torch.from_numpy(template)[None]


def _run_variant(name: str, models: dict, audio, template, frames: int, cache: dict) -> dict:
    """One timed run of one variant; returns ``{"seconds", "output"?}`` or ``{"fails": reason}``."""
    import torch

    from talkzoo.nn.fast_inference import fast_encoder

    seconds_audio = audio.shape[1] / RATE
    speaker = torch.tensor([0])
    with torch.no_grad():
        if name == "faceformer":
            ref = models["faceformer"]
            if frames > FACEFORMER_MAX_FRAMES:
                sliced = ref.biased_mask[:, :frames, :frames].shape[-1]
                return {"fails": f"{frames} frames > {FACEFORMER_MAX_FRAMES}: the biased mask slices to {sliced} "
                        f"columns and the positional table has {FACEFORMER_MAX_FRAMES} rows (shape mismatch)"}
            onehot = torch.nn.functional.one_hot(speaker, SPEAKERS).float()
            start = time.perf_counter()
            out = ref.predict(audio, onehot, template, frames)
            return {"seconds": time.perf_counter() - start, "output": out}
        if name.startswith("dualtalker") or name == "encoder_spread":
            model = models["dualtalker"]
            model.encoder_precision = "int8" if name.endswith("int8") else "bf16" if name.endswith("bf16") else "fp32"
            model.encoder_chunk_layout = "spread" if name == "encoder_spread" else "once"
            model.network.fused_feedback = "fused" in name
            if model.encoder_precision != "fp32":  # build the int8 copy outside the timing (once per process)
                model._fast_encoders.get(model.network.audio_encoder, model.encoder_precision)
            start = time.perf_counter()
            out = model.generate(audio, template, speaker, num_frames=frames)
            elapsed = time.perf_counter() - start
            model.encoder_precision, model.encoder_chunk_layout, model.network.fused_feedback = "fp32", "once", False
            return {"seconds": elapsed, "output": out}
        if name.startswith("decoder"):
            model = models["dualtalker"]
            key = ("x", frames)
            if key not in cache:
                cache.clear()
                feats = model.encode_audio_chunked(audio, None, frames, frames)
                cache[key] = (model.network.audio_encoder_proj(feats), model.network.style(speaker))
            x, style = cache[key]
            model.network.step_tables = name == "decoder_tables"
            start = time.perf_counter()
            pred, _ = model.network.primal_autoregressive(x, style, frames)
            elapsed = time.perf_counter() - start
            model.network.step_tables = True
            return {"seconds": elapsed, "per_frame_ms": 1000 * elapsed / frames, "output": pred}
        if name.startswith("ottalk"):
            model = models["ottalk"]
            precision = {"ottalk_int8": "int8", "ottalk_bf16": "bf16"}.get(name, "fp32")
            original = model.network.audio_encoder
            if precision != "fp32":
                if cache.get(("ottalk", precision)) is None:
                    cache[("ottalk", precision)] = fast_encoder(original, precision)
                model.network.audio_encoder = cache[("ottalk", precision)]
            try:
                start = time.perf_counter()
                out = model.generate(audio, template, num_frames=frames)
                elapsed = time.perf_counter() - start
            finally:
                model.network.audio_encoder = original
            return {"seconds": elapsed, "output": out}
    raise ValueError(f"unknown variant {name!r}; expected one of {ALL_VARIANTS}")


def _worker(seconds: float, threads: int, reps: int, variants: list[str]) -> dict:
    """All variants at one duration and thread count, interleaved, in this (child) process."""
    import torch

    torch.set_num_threads(threads if threads > 0 else os.cpu_count())
    with tempfile.TemporaryDirectory() as tmp:
        models, template = build_models(variants, Path(tmp))
        gen = torch.Generator().manual_seed(0)
        audio = 0.1 * torch.randn(1, int(seconds * RATE), generator=gen)
        frames = int(round(seconds * FPS))
        cache: dict = {}
        for name in variants:  # warm-up at 1 s (allocator, int8 packing, kernels), not timed
            _run_variant(name, models, audio[:, :RATE], template, 30, cache)
        cache.clear()
        times: dict[str, list[float]] = {v: [] for v in variants}
        extra: dict[str, dict] = {v: {} for v in variants}
        reference_outputs: dict[str, object] = {}
        for rep in range(reps):
            for name in variants:
                result = _run_variant(name, models, audio, template, frames, cache)
                if "fails" in result:
                    extra[name]["fails"] = result["fails"]
                    continue
                times[name].append(result["seconds"])
                if "per_frame_ms" in result:
                    extra[name].setdefault("per_frame_ms", []).append(result["per_frame_ms"])
                if rep == 0:
                    out = result["output"]
                    base = name.split("_")[0] if name.startswith(("dualtalker_", "ottalk_")) else name
                    if name in ("dualtalker", "ottalk"):
                        reference_outputs[name] = out
                        extra[name]["max_displacement_mm"] = 1000 * float((out - template[:, None]).abs().max())
                    elif base in reference_outputs:
                        dev = float((out - reference_outputs[base]).abs().max())
                        extra[name]["max_vertex_deviation_mm"] = 1000 * dev
                        extra[name]["deviation_vs_max_displacement"] = 1000 * dev / max(
                            extra[base]["max_displacement_mm"], 1e-12
                        )
                    elif name == "encoder_spread" and "dualtalker" in reference_outputs:
                        extra[name]["max_vertex_deviation_mm"] = 1000 * float(
                            (out - reference_outputs["dualtalker"]).abs().max()
                        )
                    del out
                result.clear()
    rows = []
    for name in variants:
        row = {"variant": name, "audio_seconds": seconds, "frames": frames, "threads": torch.get_num_threads()}
        row.update(extra[name])
        if times[name]:
            row.update({
                "seconds": times[name], "min_seconds": min(times[name]), "median_seconds": statistics.median(times[name]),
                "real_time_factor_best": seconds / min(times[name]),
            })  # fmt: skip
        rows.append(row)
    return {"rows": rows, "load_average": os.getloadavg()}


def _animate_worker(seconds: float, threads: int, fused: bool = False) -> dict:
    """``talkzoo animate`` (no render, streaming) on ``seconds`` of audio; RSS growth vs the output size."""
    import numpy as np
    import soundfile as sf
    import torch

    import talkzoo.checkpoints
    from talkzoo.animate import animate

    torch.set_num_threads(threads if threads > 0 else os.cpu_count())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models, template = build_models(["dualtalker"], tmp)
        model = models["dualtalker"]
        model.network.fused_feedback = fused
        talkzoo.checkpoints.load_model = lambda *a, **k: model  # the model stands in for a checkpoint
        gen = np.random.default_rng(0)
        wav = tmp / "speech.wav"
        sf.write(wav, (0.1 * gen.standard_normal(int(seconds * RATE))).astype(np.float32), RATE)
        del gen
        reset = reset_peak_rss()  # the peak of building the model (before animate) is not animate's
        rss_before = current_rss_mb()
        start = time.perf_counter()
        targets = animate("stand-in.ckpt", wav, tmp / "out", template=str(tmp / "template.npy"), render=False)
        elapsed = time.perf_counter() - start
        out = np.load(targets["vertices"], mmap_mode="r")
        output_mb = out.size * 4 / (1024 * 1024)
        shape, finite = list(out.shape), bool(np.isfinite(out[-10:]).all())
    growth = peak_rss_mb() - rss_before
    return {
        "audio_seconds": seconds, "threads": torch.get_num_threads(), "fused_decoder": fused, "output_shape": shape, "finite_tail": finite,
        "wall_seconds": elapsed, "real_time_factor": seconds / elapsed, "output_mb": output_mb,
        "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb(), "rss_growth_mb": growth, "peak_reset_before_animate": reset,
        "growth_vs_output": growth / output_mb, "load_average": os.getloadavg(),
    }  # fmt: skip


def _child(*args: str) -> dict:
    cmd = [sys.executable, __file__, *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratios(rows: list[dict]) -> dict:
    """FaceFormer / DualTalker speed-ups and RTF flatness per duration and thread count."""
    by = {(r["variant"], r["audio_seconds"], r["threads"]): r for r in rows}
    out = {}
    for (name, secs, threads), row in by.items():
        ref = by.get(("faceformer", secs, threads))
        if name.startswith("dualtalker") and ref is not None and "min_seconds" in ref and "min_seconds" in row:
            out[f"faceformer/{name}@{secs:g}s,{threads}t"] = {
                "min": ref["min_seconds"] / row["min_seconds"], "median": ref["median_seconds"] / row["median_seconds"],
            }  # fmt: skip
        per_frame = by.get(("decoder_per_frame", secs, threads))
        if name == "decoder_tables" and per_frame is not None and "min_seconds" in per_frame:
            out[f"decoder_per_frame/decoder_tables@{secs:g}s,{threads}t"] = per_frame["min_seconds"] / row["min_seconds"]
    for (name, secs, threads), row in by.items():
        short = by.get((name, 19.0, threads))
        if secs > 19.0 and short is not None and "real_time_factor_best" in row and "real_time_factor_best" in short:
            out[f"rtf {name}@{secs:g}s / @19s,{threads}t"] = row["real_time_factor_best"] / short["real_time_factor_best"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 and 5 s, 1 rep, 1 thread, animate on 20 s")
    parser.add_argument("--durations", type=float, nargs="+", default=[2, 5, 10, 19, 60, 600])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="torch threads; 0 = all cores")
    parser.add_argument("--variants", nargs="+", default=list(ALL_VARIANTS), choices=ALL_VARIANTS)
    parser.add_argument("--animate-seconds", type=float, nargs="+", default=[19.0, 600.0],
                        help="durations of the animate runs (memory, and the real-time factor of the longest vs the "
                        "shortest through the same path); 0 = skip")
    parser.add_argument("--animate-fused", action="store_true", help="the animate run with fused_decoder=True")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--animate-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        seconds, threads, reps, variants = args.worker
        print(json.dumps(_worker(float(seconds), int(threads), int(reps), variants.split(","))))
        return
    if args.animate_worker:
        seconds, threads, fused = args.animate_worker
        print(json.dumps(_animate_worker(float(seconds), int(threads), fused == "1")))
        return
    if args.quick:
        args.durations, args.reps, args.threads, args.animate_seconds = [2.0, 5.0], 1, [1], [5.0, 20.0]
    out_path = args.out or Path(__file__).parent / "results" / (
        "paper_size_inference_quick.json" if args.quick else "paper_size_inference.json"
    )
    import torch

    rows, started, load_start = [], time.time(), os.getloadavg()
    for threads in args.threads:
        for seconds in args.durations:
            result = _child("--worker", str(seconds), str(threads), str(args.reps), ",".join(args.variants))
            for row in result["rows"]:
                row["load_average_after"] = result["load_average"]
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "seconds"}), flush=True)
    animate_runs = []
    for seconds in [s for s in args.animate_seconds if s > 0]:
        fused = "1" if args.animate_fused else "0"
        animate_runs.append(_child("--animate-worker", str(seconds), str(args.threads[0]), fused))
        print(json.dumps(animate_runs[-1]), flush=True)
    if len(animate_runs) >= 2:
        short, long_ = min(animate_runs, key=lambda r: r["audio_seconds"]), max(animate_runs, key=lambda r: r["audio_seconds"])
        animate_summary = {"short_seconds": short["audio_seconds"], "long_seconds": long_["audio_seconds"],
                           "rtf_short": short["real_time_factor"], "rtf_long": long_["real_time_factor"],
                           "rtf_long_vs_short": long_["real_time_factor"] / short["real_time_factor"]}
        print(json.dumps(animate_summary), flush=True)
    else:
        animate_summary = None
    report = {
        "benchmark": "paper_size_inference",
        "issue": 17,
        "quick": args.quick,
        "sizes": {
            "vertices": VERTICES, "fps": FPS, "sample_rate": RATE, "speakers": SPEAKERS,
            "dualtalker": "recipes/dualtalker_voca.yaml: wav2vec2-base (random, default transformers config, "
            "interpolated to 30 fps before the transformer), d=128, 4 heads, FF 2048, 1 layer, max_context 600, "
            "encoder windows 30 s / 1 s overlap ('once' layout), per-window projection, lean CNN",
            "ottalk": "recipes/ottalk_voca.yaml: HuBERT-base (random, default config), K=6, 50 PCA components, "
            "pca_input=audio, 30 s windows",
            "faceformer": "predict() semantics at FaceFormer's VOCASET sizes: feature 64, 4 heads, FF 128, 1 layer, "
            "period 30, 600-frame masks; the same wav2vec2 module as DualTalker",
        },  # fmt: skip
        "machine": {
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "load_average_start": load_start, "load_average_end": os.getloadavg(), "wall_seconds": time.time() - started,
        },  # fmt: skip
        "rows": rows,
        "ratios": _ratios(rows),
        "animate_streaming": animate_runs,
        "animate_rtf": animate_summary,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratios"], indent=2))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
