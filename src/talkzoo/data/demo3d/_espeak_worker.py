"""Synthesise ONE utterance with eSpeak NG and print its audio and phoneme timings.

Run as a fresh ``python -I -S`` process per utterance by :mod:`talkzoo.data.demo3d.speech`
(standard library only, so it starts in ~15 ms). Why a fresh process: libespeak-ng keeps
synthesis state between calls (measured: the same sentence in the same voice gives different
samples and lengths on the 1st, 2nd and 3rd call in one process, and neither
``espeak_Terminate``/``espeak_Initialize`` nor ``espeak_ng_SetRandSeed`` resets it), while the
first synthesis in a fresh process, with the noise seed fixed (``espeak_ng_SetRandSeed``;
otherwise breathy variants such as ``f2`` differ from run to run), is byte-identical across runs.

stdin: one JSON object ``{"lib": path of libespeak-ng, "data": espeak-ng-data folder,
"voice": e.g. "en+m1", "seed": noise seed (int), "rate": words/min, "pitch": 0-100, "range": 0-100, "text": str}``.
stdout: one JSON header line ``{"sample_rate": 22050, "num_samples": n, "phonemes":
[[mnemonic, start_sample], ...], "words": [start_sample, ...]}`` followed by ``n`` int16
little-endian samples (mono). Errors: exit status 3 with a message on stderr.
"""

import ctypes
import json
import sys

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 1
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4
POS_CHARACTER, CHARS_UTF8 = 1, 1


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h (the ``id`` union read as its 8-byte string member)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


def main() -> None:
    """Read the job from stdin, synthesise it, write header and samples to stdout."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    lib = ctypes.CDLL(job["lib"])
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, job["data"].encode(), INITIALIZE_PHONEME_EVENTS)
    if rate <= 0:
        sys.exit(f"espeak_Initialize failed ({rate}) with data path {job['data']}")
    # breathy variants (f2, f3, ...) add noise from eSpeak's random generator, which is seeded
    # differently from run to run (measured): fix the seed so the noise is reproducible
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(int(job.get("seed", 1)))
    chunks, phonemes, words = [], [], []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
    def on_synth(wav, num, events):
        if num > 0:
            chunks.append(ctypes.string_at(wav, num * 2))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == EVENT_PHONEME:
                phonemes.append([bytes(ev.id).split(b"\0")[0].decode("ascii", "replace"), ev.sample])
            elif ev.type == EVENT_WORD:
                words.append(ev.sample)
            i += 1
        return 0

    lib.espeak_SetSynthCallback(on_synth)
    if lib.espeak_SetVoiceByName(job["voice"].encode()) != 0:
        print(f"unknown eSpeak NG voice {job['voice']!r}", file=sys.stderr)
        sys.exit(3)
    lib.espeak_SetParameter(PARAM_RATE, int(job["rate"]), 0)
    lib.espeak_SetParameter(PARAM_PITCH, int(job["pitch"]), 0)
    lib.espeak_SetParameter(PARAM_RANGE, int(job["range"]), 0)
    text = job["text"].encode("utf-8") + b"\0"
    err = lib.espeak_Synth(text, len(text), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if err != 0:
        print(f"espeak_Synth failed with status {err}", file=sys.stderr)
        sys.exit(3)
    audio = b"".join(chunks)
    head = {"sample_rate": rate, "num_samples": len(audio) // 2, "phonemes": phonemes, "words": words}
    out = sys.stdout.buffer
    out.write(json.dumps(head).encode("ascii") + b"\n")
    out.write(audio)
    out.flush()


if __name__ == "__main__":
    main()
