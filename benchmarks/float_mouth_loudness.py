"""Does the animated mouth open and close with the speech? Correlation of mouth opening and loudness.

    python benchmarks/float_mouth_loudness.py --ckpt runs/float_demo [--out benchmarks/results/float_mouth_loudness.json]

Speech not in the demo corpus: a Harvard sentence the corpus does not use (no. 30), spoken by an
eSpeak NG voice the 4-voice corpus does not use (``en-gb-scotland+f3``), written at 44.1 kHz in
stereo (another rate and channel count than the corpus). Portrait: frame 0 of a held-out test clip
(the corpus's framing of scikit-image's ``astronaut``), edge-padded by 32 px and cropped by animate
with ``--increase-area 0.7`` so the face is framed as in training. The clip goes through ``talkzoo animate`` (face crop, FLOAT's
defaults: NFE 10, γ_a = 2, γ_e = 1, seed 0). On the written mp4, MediaPipe FaceMesh (iBUG-68 points)
gives the mouth opening per frame: the mean inner-lip gap (points 61-67, 62-66, 63-65) divided by
the inter-ocular distance (outer eye corners 36-45). Loudness per frame: RMS in dB of the 16 kHz
mono speech over the 40 ms of each frame. Reported: Pearson r between the two series (frames
where a face is found), and the same r on a ground-truth demo test clip as a reference of what the
data itself gives.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
from _mouth import INCREASE_AREA, loudness_db, padded_portrait, pearson, write_result  # benchmarks/_mouth.py

SENTENCE = "The horn of the car woke the sleeping cop."  # Harvard list 3, no. 10 (sentence 30)
VOICE = "en-gb-scotland+f3"


def mouth_opening(frames: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 frames → ``(N,)`` inner-lip gap / inter-ocular distance (NaN without a face)."""
    from talkzoo.landmarks import FaceMeshLandmarker, inner_lip_opening

    lm = FaceMeshLandmarker()(frames)
    return inner_lip_opening(lm) / np.linalg.norm(lm[:, 36] - lm[:, 45], axis=-1)


def read_mp4(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Frames ``(N, H, W, 3)`` uint8 and the mono audio track with its rate."""
    import av

    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        chunks = [f.to_ndarray() for f in c.decode(audio=0)]
        rate = c.streams.audio[0].rate
    audio = np.concatenate([x.mean(axis=0) if x.ndim == 2 else x for x in chunks])
    return frames, audio, rate


def correlation(frames: np.ndarray, audio: np.ndarray, rate: int) -> dict:
    opening = mouth_opening(frames)
    loud = loudness_db(audio, rate, len(frames))
    ok = np.isfinite(opening)
    return {"pearson_r": pearson(opening, loud), "frames": int(len(frames)), "frames_with_face": int(ok.sum()), "opening_std": float(np.nanstd(opening))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--work", default="outputs/float_mouth_loudness")
    parser.add_argument("--reference-clip", default="data/demo2d/videos/demo_en_m1_s11.mp4")
    parser.add_argument("--out", default="benchmarks/results/float_mouth_loudness.json")
    parser.add_argument("--animate-args", default="", help="extra `talkzoo animate` options, e.g. '--cfg-audio 4'")
    args = parser.parse_args()
    import soundfile as sf
    import soxr

    from talkzoo.cli import main as talkzoo
    from talkzoo.data.demo3d.speech import synthesize

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    utt = synthesize(SENTENCE, VOICE, rate=165, pitch=55)
    wave = utt.samples.astype(np.float32) / 32768.0
    wave44 = soxr.resample(wave, 22050, 44100)
    sf.write(work / "unseen_voice.wav", np.stack([wave44, 0.8 * wave44], axis=1), 44100)
    frame0 = read_mp4(Path(args.reference_clip))[0][0]  # the corpus's framing of the portrait
    padded_portrait(frame0, work / "portrait.png")
    status = talkzoo(["animate", "--ckpt", args.ckpt, "--image", str(work / "portrait.png"), "--audio", str(work / "unseen_voice.wav"),
                      "--out", str(work), "--overwrite", "--no-progress", "--seed", "0",
                      "--increase-area", str(INCREASE_AREA), *shlex.split(args.animate_args)])  # fmt: skip
    if status:
        return status
    result = {"sentence": SENTENCE, "voice": VOICE, "audio": "44.1 kHz stereo", "animate_args": args.animate_args, "float": correlation(*read_mp4(work / "unseen_voice.mp4"))}
    ref = Path(args.reference_clip)
    if ref.is_file():
        result["ground_truth_reference"] = {"clip": str(ref), **correlation(*read_mp4(ref))}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
