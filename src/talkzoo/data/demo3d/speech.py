"""Real synthesised speech with exact phoneme timings, from eSpeak NG (``espeakng-loader``).

Source: the ``espeakng-loader`` wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data``; the
library is driven through ctypes in a fresh subprocess per utterance (see ``_espeak_worker.py``
for why: libespeak-ng keeps state between syntheses, a fresh process is byte-reproducible).
Phoneme timings come from eSpeak's own ``espeakEVENT_PHONEME`` events: they are the positions
at which the synthesiser started each phoneme in the very samples it returned, so they are
exact, not an alignment estimate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.errors import DataError

__all__ = ["Utterance", "synthesize"]

_WORKER = Path(__file__).with_name("_espeak_worker.py")


@dataclass(frozen=True)
class Utterance:
    """One synthesised utterance.

    Attributes:
        samples: (N,) int16 mono waveform at ``sample_rate`` (eSpeak NG's native 22050 Hz).
        sample_rate: samples per second (int, 22050).
        phonemes: tuple of ``(mnemonic, start_s)``: every phoneme eSpeak spoke, in order, with
            its start time in seconds from the first sample. Mnemonics are eSpeak's phoneme
            names, with stress marks (``'`` primary, ``,`` secondary) kept as a prefix, e.g.
            ``"'a"``, ``"tS"``, ``"@"``; ``"_"``/``"_:"`` are pauses.
        word_starts: tuple of word start times in seconds.
    """

    samples: np.ndarray
    sample_rate: int
    phonemes: tuple[tuple[str, float], ...]
    word_starts: tuple[float, ...]

    @property
    def duration(self) -> float:
        """Length of the waveform in seconds (float)."""
        return len(self.samples) / self.sample_rate


def _espeak_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DataError(
            "the demo corpus needs eSpeak NG: `pip install espeakng-loader` (ships libespeak-ng and its data)"
        ) from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def synthesize(text: str, voice: str, *, rate: int = 160, pitch: int = 50, pitch_range: int = 50,
               noise_seed: int = 1) -> Utterance:
    """Speak ``text`` with eSpeak NG and return the waveform and its phoneme timings.

    Args:
        text: the sentence (UTF-8 text).
        voice: eSpeak NG voice with optional variant, e.g. ``"en+m1"``, ``"en-us+f2"``.
        rate: speaking rate in words per minute (eSpeak accepts 80-450).
        pitch: base pitch, 0-100 (eSpeak's default 50).
        pitch_range: pitch range (intonation), 0-100.
        noise_seed: seed of eSpeak's noise generator (breathy voice variants use it).

    Returns:
        an :class:`Utterance` (22050 Hz int16 samples, phoneme start times in seconds).
        Deterministic: the same arguments give byte-identical samples (a fresh process per call).

    Raises:
        DataError: espeakng-loader is missing, the voice is unknown, or synthesis failed.
    """
    lib, data = _espeak_paths()
    job = json.dumps({"lib": lib, "data": data, "voice": voice, "rate": rate, "pitch": pitch,
                      "range": pitch_range, "seed": int(noise_seed), "text": text})
    proc = subprocess.run([sys.executable, "-I", "-S", str(_WORKER)], input=job.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise DataError(f"eSpeak NG failed for voice {voice!r} and text {text!r}: "
                        f"{proc.stderr.decode(errors='replace').strip()}")
    head_line, _, body = proc.stdout.partition(b"\n")
    head = json.loads(head_line)
    sr = int(head["sample_rate"])
    samples = np.frombuffer(body, dtype=np.int16, count=int(head["num_samples"])).copy()
    phonemes = tuple((str(name), int(s) / sr) for name, s in head["phonemes"])
    words = tuple(int(s) / sr for s in head["words"])
    if samples.size == 0 or not phonemes:
        raise DataError(f"eSpeak NG returned no audio for voice {voice!r} and text {text!r}")
    return Utterance(samples=samples, sample_rate=sr, phonemes=phonemes, word_starts=words)
