"""Plugin metadata of talkzoo-ottalk (entry point ``talkzoo.plugins: ottalk``). Imports no torch.

Parameter count of :class:`talkzoo_ottalk.model.OTTalk` in its default (paper-shaped) configuration
on VOCASET (5023 vertices; K=6, channels 16/16/32, latent 32, d_model 128, 2 transformer layers,
50 PCA components) with the HuBERT Large front-end (``HubertModel`` of the large config,
315,438,720 parameters): 2,119,996 OT-Talk parameters + the encoder. Built by
:func:`talkzoo_ottalk.model.build_parameter_count_model`; the test
``tests/test_model.py::test_parameter_count_matches_metadata`` rebuilds the OT-Talk part.
"""

from __future__ import annotations

from talkzoo.plugins import ModelInfo, PluginInfo, ReportedResult, WeightsInfo

#: parameters of the HuBERT Large front-end (transformers ``HubertModel``, large config).
HUBERT_LARGE_PARAMETERS = 315_438_720
#: parameters of OT-Talk itself (everything but the speech front-end), VOCASET topology.
OTTALK_HEAD_PARAMETERS = {"vocaset": 2_119_996}
#: the paper's Table 1 row "OT-Talk", verbatim. The extracted text lost the column headers; the order
#: LVE_max, LVE_mean, face mean, head mean (all "mm") is inferred from the prose (specs B6).
_NOTE = "column headers lost in the paper text; column order inferred from the metric descriptions"
#: Table 1's fifth column (VOCASET 710.48, Multiface 616.45 for OT-Talk) lost its name and unit in the
#: text; no talkzoo metric is known to match it, so it is kept under the placeholder name ``Table1Col5``.
_COL5_NOTE = "fifth column of Table 1: name and unit lost in the paper text; no talkzoo metric computes it"
REPORTED = tuple(
    ReportedResult(dataset, f"{dataset} test", metric, value, "mm", "Table 1", _NOTE)
    for dataset, values in (("vocaset", (5.01, 2.81, 1.26, 0.87)), ("multiface", (10.17, 1.86, 1.15, 1.40)))
    for metric, value in zip(("LipMax", "LipMean", "FaceMean", "HeadMean"), values)
) + tuple(
    ReportedResult(dataset, f"{dataset} test", "Table1Col5", value, "unknown (lost)", "Table 1", _COL5_NOTE)
    for dataset, value in (("vocaset", 710.48), ("multiface", 616.45))
)
#: total parameters of the paper configuration.
PARAMETERS = {name: HUBERT_LARGE_PARAMETERS + n for name, n in OTTALK_HEAD_PARAMETERS.items()}

PLUGIN = PluginInfo(
    api_version=1,
    homepage="https://arxiv.org/abs/2505.01932",
    description="OT-Talk: speech-driven 3D talking heads with ChebNet mesh features and a sliced-Wasserstein loss",
    models=(
        ModelInfo(
            name="ottalk",
            class_path="talkzoo_ottalk.model.OTTalk",
            family="audio-to-mesh",
            paper="OT-Talk: Animating 3D Talking Head with Optimal Transportation",
            arxiv="2505.01932",
            licence="Apache-2.0 (our implementation; no official code exists)",
            recipes=("ottalk_voca", "ottalk_multiface", "ottalk_demo"),
            weights=(
                WeightsInfo(
                    name="facebook/hubert-large-ls960-ft",
                    description=(
                        "HuBERT Large speech encoder (24 layers, 1024-d); the paper names 'Hubert Large' but not "
                        "the checkpoint (the LibriSpeech-960 fine-tuned one is assumed)"
                    ),
                    source="https://huggingface.co/facebook/hubert-large-ls960-ft",
                    licence="Apache-2.0",
                ),
            ),
            parameters=dict(PARAMETERS),
            reported=REPORTED,
            description=(
                "Non-autoregressive audio-to-mesh model: HuBERT + TCN + transformer audio branch, ChebNet template "
                "encoder, PCA-initialised linear motion + ChebNet refinement, sliced-Wasserstein mesh loss"
            ),
            # the conformance suite's tiny CPU configuration (tests/test_registry.py) on its synthetic
            # 16-vertex triangle strip. lr 1e-3: the strip moves by up to 0.17 m and the displacement heads
            # output millimetres (motion_unit), so the default lr 1e-4 needs far more than 25 steps on it.
            tiny_args={
                "audio_encoder": {
                    "class_path": "talkzoo.audio.encoders.MelSpectrogramEncoder",
                    "init_args": {"n_mels": 12, "n_fft": 256, "win_length": 256, "hop_length": 160},
                },
                "K": 2,
                "channels": [4, 4, 8],
                "latent_dim": 8,
                "d_model": 16,
                "num_layers": 1,
                "num_heads": 2,
                "ff_dim": 32,
                "dropout": 0.0,
                "n_components": 6,
                "swd_projections": 8,
                "use_cache": False,
                "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 1.0e-3, "weight_decay": 1.0e-2}},
            },
            tiny_datamodule_args={"num_vertices": 16},
        ),
    ),
)
