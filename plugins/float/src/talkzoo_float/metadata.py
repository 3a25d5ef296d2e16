"""Plugin metadata of talkzoo-float (entry point ``talkzoo.plugins: float``). Imports no torch.

Two models: ``float`` (stage 2, :class:`talkzoo_float.model.FLOAT`, audio → video, which carries
the frozen stage-1 network) and ``float-ae`` (stage 1, :class:`talkzoo_float.model.FLOATMotionAutoEncoder`,
the motion auto-encoder, a video → video model).

Parameter counts at paper size, counted on the built modules by
``tests/test_float.py::test_parameter_counts_match_metadata`` (slow):

* FMT (8 blocks, h = 1024, 8 heads, d = 512, 60 frames): 156,636,672 trainable. The notes' analytic
  156,698,112 also counts the fixed 60 x 1024 sinusoidal position table (61,440 numbers), which we
  hold as a buffer, not a parameter.
* audio projection Linear(9216 → 512) + LayerNorm: 4,720,128 (trainable in stage 2).
* motion auto-encoder at 512²: 45,237,997 = 21,665,312 encoder trunk + 1,060,884 motion MLP +
  22,511,801 decoder with the 20 x 512 basis. The notes' analytic decoder count is 22,513,364
  (1,563 more, 0.003 %): the official decoder's small heads (ToRGB/ToFlow biases, an extra 1x1
  head) differ from ours in a few hundred numbers; the layer widths are the same.
* frozen front-ends: wav2vec 2.0 base 94,371,712 (talkzoo's Wav2Vec2Model count).
* Stage-1 discriminators (ours; the paper gives no design): 2-scale StyleGAN2-type image
  discriminator + eye + lip component discriminators, 48,768,868 at 512² (training only).
"""

from __future__ import annotations

from talkzoo.plugins import ModelInfo, PluginInfo, ReportedResult, WeightsInfo

FMT_PARAMETERS = 156_636_672
AUDIO_PROJECTION_PARAMETERS = 4_720_128
AE_PARAMETERS = 45_237_997
AE_ENCODER_TRUNK, AE_MOTION_MLP, AE_DECODER_WITH_BASIS = 21_665_312, 1_060_884, 22_511_801
DISCRIMINATOR_PARAMETERS = 48_768_868
WAV2VEC2_BASE_PARAMETERS = 94_371_712

#: tiny constructor arguments for the conformance suite (stage 2 / stage 1).
TINY_FLOAT_ARGS = {
    "autoencoder": {"image_size": 16, "latent_dim": 16, "num_motions": 4, "channel_base": 128, "max_channels": 16, "mlp_layers": 1},
    "audio_dim": 8, "hidden_dim": 16, "depth": 1, "num_heads": 2, "window_frames": 4, "prefix_frames": 2, "nfe": 2,
}
TINY_AE_ARGS = {"latent_dim": 16, "num_motions": 4, "channel_base": 128, "max_channels": 16, "mlp_layers": 1, "component_channels": 4}

_DS = {"hdtf": "HDTF test (78 identities x 15 s)", "ravdess": "RAVDESS test (2 actors)"}


def _rows(dataset: str, source: str, values: dict[str, float], note: str = "") -> tuple[ReportedResult, ...]:
    units = {"FPS": "frames/s (1x V100)", "NFE": "function evaluations"}
    return tuple(ReportedResult(dataset, _DS[dataset], m, v, units.get(m, "unitless"), source, note) for m, v in values.items())


# Table 1 (FLOAT row), HDTF / RAVDESS, verbatim.
_T1 = {
    "hdtf": {"FID": 21.100, "FVD": 162.052, "CSIM": 0.843, "E-FID": 1.229, "P-FID": 0.032, "LSE-D": 7.290, "LSE-C": 8.222},
    "ravdess": {"FID": 31.681, "FVD": 166.359, "CSIM": 0.810, "E-FID": 1.367, "P-FID": 0.031, "LSE-D": 6.994, "LSE-C": 5.730},
}
# Table 3 (ablations on HDTF), verbatim; one note per row.
_T3 = (
    ("w. Cross-Attn. (conditioning='cross_attention')", {"FID": 21.873, "FVD": 162.702, "E-FID": 1.452, "LSE-D": 7.757, "NFE": 10}),
    ("w. Diff., eps-pred. (not implemented here)", {"FID": 21.190, "FVD": 161.666, "E-FID": 1.213, "LSE-D": 9.922, "NFE": 50}),
    ("w. Diff., x0-pred. (not implemented here)", {"FID": 21.697, "FVD": 162.847, "E-FID": 1.278, "LSE-D": 9.048, "NFE": 50}),
    ("FLOAT (Ours)", {"FID": 21.100, "FVD": 162.052, "E-FID": 1.229, "LSE-D": 7.290, "NFE": 10}),
)
# Table 5 (NFE on HDTF, FPS on one V100), verbatim.
_T5 = (
    (2, {"FID": 21.785, "FVD": 178.831, "E-FID": 1.542, "LSE-D": 7.559, "FPS": 45.22}),
    (5, {"FID": 21.440, "FVD": 164.463, "E-FID": 1.331, "LSE-D": 7.155, "FPS": 44.74}),
    (10, {"FID": 21.100, "FVD": 162.052, "E-FID": 1.229, "LSE-D": 7.290, "FPS": 41.37}),
    (20, {"FID": 21.158, "FVD": 164.392, "E-FID": 1.293, "LSE-D": 7.343, "FPS": 38.20}),
)
# Table 6 (guidance scales on RAVDESS), verbatim.
_T6 = (
    (1, 1, {"FID": 33.066, "FVD": 171.047, "E-FID": 1.555, "LSE-D": 7.049}),
    (1, 2, {"FID": 31.844, "FVD": 166.041, "E-FID": 1.334, "LSE-D": 7.212}),
    (2, 1, {"FID": 31.681, "FVD": 166.359, "E-FID": 1.367, "LSE-D": 6.994}),
    (2, 2, {"FID": 32.253, "FVD": 162.658, "E-FID": 1.351, "LSE-D": 6.994}),
)

REPORTED = (
    *_rows("hdtf", "Table 1", _T1["hdtf"]),
    *_rows("ravdess", "Table 1", _T1["ravdess"]),
    *(r for note, vals in _T3 for r in _rows("hdtf", "Table 3", vals, f"ablation: {note}")),
    *(r for nfe, vals in _T5 for r in _rows("hdtf", "Table 5", vals, f"NFE = {nfe}" + (" (default)" if nfe == 10 else ""))),
    *(r for ga, ge, vals in _T6 for r in _rows("ravdess", "Table 6", vals, f"gamma_a = {ga}, gamma_e = {ge}" + (" (default)" if (ga, ge) == (2, 1) else ""))),
)

_LICENCE = (
    "Apache-2.0 (our implementation, written from the paper; the official inference code, "
    "github.com/deepbrainai-research/float, is CC BY-NC(-ND) 4.0 and was read for facts only)"
)

PLUGIN = PluginInfo(
    api_version=1,
    homepage="https://deepbrainai-research.github.io/float/",
    description="FLOAT: motion-latent flow matching for audio-driven talking portraits (both stages trainable)",
    models=(
        ModelInfo(
            name="float",
            class_path="talkzoo_float.model.FLOAT",
            # the registry conformance suite's tiny CPU configuration (tests/test_registry.py)
            tiny_args={
                **TINY_FLOAT_ARGS,
                "audio_encoder": {"class_path": "talkzoo.audio.encoders.MelSpectrogramEncoder",
                                  "init_args": {"n_mels": 8, "n_fft": 256, "win_length": 256}},
                "optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 3e-3}},
                "condition_dropout": 0.0,
                "prefix_dropout": 0.0,
            },
            tiny_datamodule_args={"min_frames": 6, "max_frames": 6},
            family="audio-to-video",
            paper="FLOAT: Generative Motion Latent Flow Matching for Audio-driven Talking Portrait",
            arxiv="2412.01064",
            licence=_LICENCE,
            recipes=("float_hdtf", "float_ravdess", "float_demo"),
            weights=(
                WeightsInfo(
                    "facebook/wav2vec2-base-960h",
                    "wav2vec 2.0 base, frozen, all 12 layers concatenated (9216-d per frame), as the official code",
                    "https://huggingface.co/facebook/wav2vec2-base-960h (or a local folder saved with save_pretrained)",
                    "Apache-2.0",
                ),
                WeightsInfo(
                    "r-f/wav2vec-english-speech-emotion-recognition",
                    "optional 7-class speech-emotion classifier (the official code's choice; the paper cites Pepino et al.); "
                    "a local folder, model.init_args.emotion_classifier. Fine-tuned on RAVDESS, FLOAT's test set: leakage",
                    "https://huggingface.co/r-f/wav2vec-english-speech-emotion-recognition",
                    "Apache-2.0 (model card)",
                ),
                WeightsInfo(
                    "stage-1 checkpoint",
                    "the FLOAT motion auto-encoder trained with recipes/float_ae_<dataset>.yaml (model.init_args.stage1_checkpoint)",
                    "train it: talkzoo fit --config recipes/float_ae_hdtf.yaml",
                ),
            ),
            parameters={
                "paper: FMT, 8 blocks, h=1024 (trainable)": FMT_PARAMETERS,
                "paper: audio projection 9216->512 (trainable)": AUDIO_PROJECTION_PARAMETERS,
                "paper: stage-2 trainable total": FMT_PARAMETERS + AUDIO_PROJECTION_PARAMETERS,
                "paper: motion AE 512^2 (frozen, from stage 1)": AE_PARAMETERS,
                "paper: wav2vec 2.0 base (frozen)": WAV2VEC2_BASE_PARAMETERS,
            },
            description=(
                "Stage 2: OT flow matching of LIA-style motion latents with a frame-wise AdaLN transformer "
                "(banded attention +-2) over 50-frame windows + 10 preceding frames; Euler NFE 10, incremental CFG "
                "(gamma_a=2, gamma_e=1); any length, window by window. FMT count excludes the fixed 61,440-entry "
                "position table the notes' 156.70 M includes (a buffer here)"
            ),
            reported=REPORTED,
        ),
        ModelInfo(
            name="float-ae",
            class_path="talkzoo_float.model.FLOATMotionAutoEncoder",
            tiny_args={**TINY_AE_ARGS, "optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 3e-3}},
                       "lambda_perceptual": 0.0},
            tiny_datamodule_args={"image_size": 16},
            family="video-to-video",
            paper="FLOAT: Generative Motion Latent Flow Matching for Audio-driven Talking Portrait (stage 1, App. A)",
            arxiv="2412.01064",
            licence=_LICENCE,
            recipes=("float_ae_hdtf", "float_ae_ravdess", "float_ae_demo"),
            weights=(
                WeightsInfo(
                    "vgg19 (ImageNet) state dict",
                    "VGG-19 for the perceptual losses (model.init_args.perceptual_weights); without it a seeded random "
                    "VGG-19 substitute is used (not perceptual; say so)",
                    "torchvision's vgg19-dcbb9e9d.pth, copied to a local path",
                    "BSD-3-Clause (torchvision)",
                ),
            ),
            parameters={
                "paper: motion AE 512^2 total": AE_PARAMETERS,
                "paper: encoder trunk": AE_ENCODER_TRUNK,
                "paper: motion MLP (lambda head)": AE_MOTION_MLP,
                "paper: decoder incl. basis": AE_DECODER_WITH_BASIS,
                "ours: discriminators (training only)": DISCRIMINATOR_PARAMETERS,
            },
            description=(
                "Stage 1: LIA-based motion auto-encoder (identity latent + 20 coefficients on a learned orthonormal "
                "512-d basis, flow-warping decoder); losses of App. A (L1, VGG pyramid, component perceptual, 2-scale + "
                "eye/lip adversarial, Gram feature-style matching). The notes count 45.24 M (1,563 more in small heads)"
            ),
        ),
    ),
)
