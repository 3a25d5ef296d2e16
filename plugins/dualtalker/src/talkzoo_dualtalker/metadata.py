"""Plugin metadata of talkzoo-dualtalker (entry point ``talkzoo.plugins: dualtalker``). Imports no torch.

Parameter counts are of :class:`talkzoo_dualtalker.model.DualTalker` with all its modules, the
dual (lip-reading) branch included, and a wav2vec2-base-sized
:class:`talkzoo.audio.encoders.Wav2Vec2Encoder` (94,371,712 parameters, frozen CNN included),
built by :func:`talkzoo_dualtalker.model.build_parameter_count_model`:

* ``vocaset``: 5023 vertices, 8 training speakers, ``d = 128``, 1 fusion layer, FF 2048;
* ``biwi``: 23370 vertices, 6 training speakers, ``d = 256``, 1 fusion layer, FF 2048.

The test ``tests/test_dualtalker.py::test_parameter_counts_match_metadata`` rebuilds both.
"""

from __future__ import annotations

from talkzoo.plugins import ModelInfo, PluginInfo, ReportedResult, WeightsInfo

#: parameters of the wav2vec2-base front-end (``Wav2Vec2Model`` of the base config).
WAV2VEC2_BASE_PARAMETERS = 94_371_712
#: total parameters of the paper configurations (encoder + DualTalker heads, both branches).
PARAMETERS = {"vocaset": 99_668_973, "biwi": 133_521_790}

PLUGIN = PluginInfo(
    api_version=1,
    homepage="https://github.com/Guinan-Su/DualTalker",
    description="DualTalker: speech-driven 3D facial animation trained jointly with a lip-reading dual task",
    models=(
        ModelInfo(
            name="dualtalker",
            class_path="talkzoo_dualtalker.model.DualTalker",
            family="audio-to-mesh",
            paper=(
                "DualTalker: A Cross-Modal Dual Learning Approach for Speech-Driven 3D Facial Animation"
            ),
            arxiv=None,
            licence="Apache-2.0 (our implementation; no official code exists)",
            recipes=("dualtalker_voca", "dualtalker_biwi", "dualtalker_demo"),
            weights=(
                WeightsInfo(
                    name="facebook/wav2vec2-base-960h",
                    description=(
                        "wav2vec 2.0 base (CNN + 12-layer transformer, 768-d) initialising the audio "
                        "feature extractor; the paper names wav2vec 2.0 but not the checkpoint (the "
                        "FaceFormer/CodeTalker choice is assumed)"
                    ),
                    source="https://huggingface.co/facebook/wav2vec2-base-960h",
                    licence="Apache-2.0",
                ),
            ),
            # totals, then the breakdown `talkzoo info` prints: wav2vec 2.0 base + DualTalker heads
            parameters={
                **PARAMETERS,
                **{f"{k}: wav2vec 2.0 base": WAV2VEC2_BASE_PARAMETERS for k in PARAMETERS},
                **{f"{k}: heads (both branches)": v - WAV2VEC2_BASE_PARAMETERS for k, v in PARAMETERS.items()},
            },
            # Table I of the paper (BIWI-Test-A), verbatim. The paper reports no VOCASET numbers
            # (VOCA-Test only appears in the user study, Table III).
            reported=(
                ReportedResult("biwi", "BIWI-Test-A", "LVE", 4.6210, "×10^-4 mm", "Table I"),
                ReportedResult("biwi", "BIWI-Test-A", "FDD", 3.7424, "×10^-5 mm", "Table I"),
            ),
            description=(
                "Autoregressive audio-to-mesh transformer with a shared-weight lip-reading dual branch, "
                "duality regulariser and cross-modal consistency loss; primal branch only at inference"
            ),
            # the conformance suite's tiny CPU configuration (tests/test_registry.py): log-mel front-end, d = 16
            tiny_args={
                "audio_encoder": {
                    "class_path": "talkzoo.audio.encoders.MelSpectrogramEncoder",
                    "init_args": {"n_mels": 8, "n_fft": 256, "win_length": 256},
                },
                "d_model": 16,
                "feedforward_dim": 32,
                "dropout": 0.0,
                "optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 3.0e-3}},
            },
        ),
    ),
)
