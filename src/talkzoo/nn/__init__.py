"""Building blocks shared by talkzoo's models: the place to look before writing a layer or helper.

* :mod:`talkzoo.nn.sequence`: frames of a waveform (:func:`frames_for_samples`), per-sequence
  frame counts of a padded batch (:func:`sequence_frame_counts`);
* :mod:`talkzoo.nn.windows`: long-audio inference windows (spread or covered-once layouts) with
  cross-fade or nearest-centre blending (:func:`plan_windows`, :func:`plan_audio_windows`);
* :mod:`talkzoo.nn.fast_inference`: opt-in int8 / bf16 inference of a speech encoder
  (:func:`~talkzoo.nn.fast_inference.fast_encoder`; imported on use);
* :mod:`talkzoo.nn.positional`: sinusoidal (and periodic) positional encodings;
* :mod:`talkzoo.nn.masked`: reductions over the real frames of padded batches (:func:`masked_mean`);
* :mod:`talkzoo.nn.optim`: the default optimizers (:func:`adam`, :func:`adamw`);
* :mod:`talkzoo.nn.state`: loading checkpoints written before a plugin's layers moved into
  ``model.network`` (:func:`~talkzoo.nn.state.accept_unprefixed_keys`).

Modules with heavy dependencies (e.g. :mod:`talkzoo.nn.perceptual`) are not imported here.
"""

from talkzoo.nn.masked import masked_mean, masked_sum
from talkzoo.nn.optim import adam, adamw
from talkzoo.nn.positional import sinusoidal_encoding
from talkzoo.nn.sequence import frames_for_samples, samples_per_sequence, sequence_frame_counts
from talkzoo.nn.windows import Window, check_window_options, plan_audio_windows, plan_windows, window_samples

__all__ = [
    "Window",
    "adam",
    "adamw",
    "check_window_options",
    "frames_for_samples",
    "masked_mean",
    "masked_sum",
    "plan_audio_windows",
    "plan_windows",
    "samples_per_sequence",
    "sequence_frame_counts",
    "sinusoidal_encoding",
    "window_samples",
]
