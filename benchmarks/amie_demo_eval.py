"""AMIE demo figures beyond ``talkzoo test``: the MI estimator's gap between matched and shuffled
real pairs, and the mouth-opening / loudness correlation on speech that is not in the corpus.

    python benchmarks/amie_demo_eval.py --ckpt runs/amie_demo [--data data/demo2d]
        [--out benchmarks/results/amie_demo_eval.json] [--work outputs/amie_demo_eval]

1. **MI gap** (issue #16 "Must show"): on every test clip of the demo corpus (frames at the model's
   working resolution, the model's MFCC windows), T_θ's estimate (JS, Eq. 7) with the matched pairs
   as the joint sample vs with audio-shuffled pairs as the "joint" (the same derangement-based
   marginal sample for both). Averaged over ``--shuffles`` random shuffles; reported for the trained
   estimator, for a freshly initialised one of the same size (control), and for the trained one
   after ``--probe-steps`` more estimator-only updates (the asymmetric T step alone, generator
   untouched) on the training clips.
2. **Unseen speech**: a sentence the corpus never uses, spoken by an eSpeak NG voice and at a rate
   no demo speaker has, resampled to 44.1 kHz stereo, is animated with ``talkzoo animate --image``
   on frame 0 of a test clip (edge-padded by 32 px, ``--increase-area 0.7``, so that animate's face
   crop frames the face as loosely as the corpus does). On the mp4, the inner-lip opening (mean of the 61-67, 62-66, 63-65
   distances of the dlib 68 landmarks, or FaceMesh without the dlib extra, pixels) is correlated
   (Pearson) with the per-frame loudness (RMS in dB of the 40 ms of mono 16 kHz audio under each
   frame), over frames where a face is found.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from _mouth import INCREASE_AREA, loudness_db, padded_portrait, pearson, write_result  # benchmarks/_mouth.py

SENTENCE = "Seven brave sailors quickly fixed the broken mast before the storm reached the harbour."
VOICE, WPM, PITCH = "en+m3", 135, 35  # not a demo voice (en+m1, en+f2, en-us+m3, en-us+f4), slower than any


def _gap(m, loader, shuffles: int) -> dict:
    """Mean JS/DV estimate with matched vs audio-shuffled "joint" pairs over every batch of ``loader``."""
    import torch

    from talkzoo_amie.losses import mi_lower_bound

    matched, shuffled = [], []
    with torch.no_grad():
        for batch in loader:
            prep = m._prepare(batch)
            mask = batch.frame_mask
            real, mfcc = prep["real"][mask], prep["mfcc"][mask]
            n = len(real)
            for s in range(shuffles):
                s1, s2 = np.random.default_rng(s).choice(np.arange(1, n), size=2, replace=False)
                base = torch.arange(n)
                p1, p2 = (base + int(s1)) % n, (base + int(s2)) % n
                t_marg = m.estimator(real, mfcc[p2])
                matched.append(float(mi_lower_bound(m.mi_estimator, m.estimator(real, mfcc), t_marg)))
                shuffled.append(float(mi_lower_bound(m.mi_estimator, m.estimator(real, mfcc[p1]), t_marg)))
    return {"mi_matched": float(np.mean(matched)), "mi_shuffled": float(np.mean(shuffled)),
            "gap": float(np.mean(matched) - np.mean(shuffled)), "estimates": len(matched)}


def mi_gap(ckpt: str, data: str, shuffles: int, probe_steps: int) -> dict:
    """The MI gap on the test clips for the trained estimator, a fresh one (control), and the trained
    one after ``probe_steps`` more estimator-only updates on the training clips (generator untouched)."""
    import torch

    from talkzoo.checkpoints import load_model
    from talkzoo.data.video import TalkingVideoDataModule
    from talkzoo_amie.losses import mi_lower_bound, shuffle_indices
    from talkzoo_amie.model import AMIE

    torch.manual_seed(0)
    model = load_model(ckpt).eval()
    control = AMIE(spec=model.spec, **{k: v for k, v in model.hparams.items() if k != "spec"}).eval()
    dm = TalkingVideoDataModule(root=data, preset="demo", batch_size=4, clip_frames=8, max_eval_frames=50,
                                source_frame="first", seed=1)
    dm.setup("fit")
    dm.setup("test")
    out = {"estimator": model.mi_estimator,
           "trained": _gap(model, dm.test_dataloader(), shuffles),
           "untrained_control": _gap(control, dm.test_dataloader(), shuffles)}
    if probe_steps > 0:
        opt = torch.optim.Adam(model.estimator.parameters(), lr=1e-3, betas=(0.5, 0.999))
        step = 0
        while step < probe_steps:
            for batch in dm.train_dataloader():
                model.estimator.train()
                with torch.no_grad():
                    prep = model._prepare(batch)
                mask = batch.frame_mask
                real, mfcc = prep["real"][mask], prep["mfcc"][mask]
                perm = shuffle_indices(len(real))
                loss = -mi_lower_bound(model.mi_estimator, model.estimator(real, mfcc), model.estimator(real, mfcc[perm]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step >= probe_steps:
                    break
        model.eval()
        out[f"trained_plus_{probe_steps}_estimator_steps"] = _gap(model, dm.test_dataloader(), shuffles)
    return out


def unseen_speech(ckpt: str, data: str, work: Path) -> dict:
    import soundfile as sf
    import torch

    from talkzoo.audio.io import load_audio, resample
    from talkzoo.data.demo3d.speech import synthesize
    from talkzoo.landmarks import default_landmarker_name, inner_lip_opening, make_landmarker
    from talkzoo.video.io import read_frames

    work.mkdir(parents=True, exist_ok=True)
    utt = synthesize(SENTENCE, VOICE, rate=WPM, pitch=PITCH)
    mono = torch.from_numpy(utt.samples.astype(np.float32) / 32768.0)
    wave44 = resample(mono, utt.sample_rate, 44100).numpy()
    stereo = np.stack([wave44, 0.8 * wave44], axis=1)
    wav = work / "unseen_speech.wav"
    sf.write(wav, stereo, 44100, subtype="PCM_16")
    from talkzoo.data.video import read_split_file

    test_clip = read_split_file(Path(data) / "splits" / "test.txt")[0]
    frame0 = read_frames(Path(data) / "videos" / f"{test_clip}.mp4", [0])[0].numpy()
    portrait = padded_portrait(frame0, work / "portrait.png")  # room for animate's crop to match the corpus framing
    cmd = [sys.executable, "-m", "talkzoo.cli", "animate", "--ckpt", ckpt, "--image", str(portrait), "--audio", str(wav),
           "--out", str(work), "--overwrite", "--increase-area", str(INCREASE_AREA)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"animate failed: {done.stderr.strip()[-2000:]}")
    mp4 = work / "unseen_speech.mp4"
    frames = read_frames(mp4).numpy()
    name = default_landmarker_name()
    lms = make_landmarker(name)(frames)
    opening = inner_lip_opening(lms)
    loud = loudness_db(load_audio(wav, 16000).numpy(), 16000, len(frames))
    ok = np.isfinite(opening)
    r = pearson(opening, loud)
    return {"sentence": SENTENCE, "voice": VOICE, "wpm": WPM, "input": "44.1 kHz stereo wav", "frames": int(len(frames)),
            "frames_with_face": int(ok.sum()), "landmarker": name, "mouth_opening_px_mean": float(np.nanmean(opening)),
            "mouth_opening_px_std": float(np.nanstd(opening)), "pearson_r_opening_vs_loudness_db": r, "mp4": str(mp4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="runs/amie_demo")
    parser.add_argument("--data", default="data/demo2d")
    parser.add_argument("--shuffles", type=int, default=8)
    parser.add_argument("--probe-steps", type=int, default=300,
                        help="extra estimator-only updates on the training clips, then the gap again (0: skip)")
    parser.add_argument("--work", default="outputs/amie_demo_eval")
    parser.add_argument("--out", default="benchmarks/results/amie_demo_eval.json")
    args = parser.parse_args(argv)
    result = {"checkpoint": args.ckpt, "mi": mi_gap(args.ckpt, args.data, args.shuffles, args.probe_steps),
              "unseen_speech": unseen_speech(args.ckpt, args.data, Path(args.work))}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
