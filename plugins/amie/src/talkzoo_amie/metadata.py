"""Plugin metadata of talkzoo-amie (entry point ``talkzoo.plugins: amie``). Imports no torch.

The paper's numbers (Tables 1-3 of arXiv 1812.06589v2, IJCAI 2020) are kept verbatim. Table 1's
and Table 3's "Ours" rows disagree although both say "Evaluation on LRW" (Table 1: PSNR 32.08,
SSIM 0.92, LMD 1.21; Table 3 "Ours (+ AMIE + DA)": 29.64, 0.92, 1.18); the paper does not explain
the difference, so both are listed with their table as the source.

Parameter counts are of :class:`talkzoo_amie.model.AMIE` with every trained module (generator,
mask predictor, frame discriminator, statistics network T_θ; the frozen VGG-19 of the perceptual
loss excluded), built by :func:`talkzoo_amie.model.build_parameter_count_model`:

* ``lrw``: the ``recipes/amie_lrw.yaml`` configuration (256 px, base width 64);
* ``demo``: the ``recipes/amie_demo.yaml`` configuration (64 px working resolution, base width 16).

``tests/test_amie.py::test_parameter_counts_match_metadata`` rebuilds both.
"""

from __future__ import annotations

from talkzoo.plugins import ModelInfo, PluginInfo, ReportedResult, WeightsInfo

#: trained parameters of the recipe configurations (see the module docstring).
PARAMETERS = {"lrw": 71_094_532, "demo": 1_964_604}

_NOTE_T1_T3 = (
    "Table 1 and Table 3 'Ours' rows disagree (32.08/0.92/1.21 vs 29.64/0.92/1.18), both 'Evaluation on LRW'; "
    "the paper does not say why"
)

#: Table 3 ablation rows (verbatim): row label -> (PSNR, SSIM, LMD). Keys are the ``variant`` names
#: of :class:`talkzoo_amie.model.AMIE`.
TABLE3 = {
    "baseline": ("Baseline", 28.88, 0.89, 1.36),
    "mine": ("(a) + MINE", 29.05, 0.89, 1.38),
    "da": ("(b) + DA", 29.19, 0.90, 1.37),
    "mine+da": ("(c) + MINE + DA", 29.08, 0.89, 1.32),
    "mine+js": ("(d) + MINE + JS", 29.33, 0.90, 1.50),
    "mine+js+da": ("(e) + MINE + JS + DA", 29.12, 0.91, 1.21),
    "mine+asy+da": ("(f) + MINE + Asy. + DA", 29.30, 0.90, 1.33),
    "amie": ("(g) + AMIE", 29.41, 0.92, 1.22),
    "amie+da": ("Ours (+ AMIE + DA)", 29.64, 0.92, 1.18),
}

_LMD_UNIT = "pixels (mouth landmarks; detector and image size not stated)"


def _rows(dataset: str, split: str, source: str, psnr: float, ssim: float, lmd: float | None, note: str = "") -> tuple[ReportedResult, ...]:
    rows = [
        ReportedResult(dataset, split, "PSNR", psnr, "dB", source, note),
        ReportedResult(dataset, split, "SSIM", ssim, "", source, note),
    ]
    if lmd is not None:
        rows.append(ReportedResult(dataset, split, "LMD", lmd, _LMD_UNIT, source, note))
    return tuple(rows)


#: every number of Tables 1-3, including the comparison methods (note names the row).
REPORTED = (
    # Table 1: LRW
    *_rows("lrw", "LRW test", "Table 1", 32.08, 0.92, 1.21, "AMIE (Ours); " + _NOTE_T1_T3),
    *_rows("lrw", "LRW test", "Table 1", 28.06, 0.46, 2.23, "row: Chung et al. [2017]"),
    *_rows("lrw", "LRW test", "Table 1", 28.65, 0.53, 1.92, "row: Chen et al. [2018]"),
    *_rows("lrw", "LRW test", "Table 1", 26.80, 0.88, None, "row: Zhou et al. [2019] (LMD printed as '—')"),
    *_rows("lrw", "LRW test", "Table 1", 30.91, 0.81, 1.37, "row: Chen et al. [2019]"),
    # Table 2: GRID, cross-dataset (pre-trained on LRW)
    *_rows("grid", "GRID (cross-dataset, trained on LRW)", "Table 2", 31.01, 0.97, 0.78, "AMIE (Ours)"),
    *_rows("grid", "GRID (cross-dataset, trained on LRW)", "Table 2", 29.36, 0.74, 1.35, "row: Chung et al. [2017]"),
    *_rows("grid", "GRID (cross-dataset, trained on LRW)", "Table 2", 29.89, 0.73, 1.18, "row: Chen et al. [2018]"),
    *_rows("grid", "GRID (cross-dataset, trained on LRW)", "Table 2", 32.15, 0.83, 1.29,
           "row: Chen et al. [2019] (higher PSNR than AMIE, although the text says AMIE always has the highest)"),
    # Table 3: ablation on LRW
    *(
        r
        for key, (label, psnr, ssim, lmd) in TABLE3.items()
        for r in _rows(
            "lrw", "LRW test (ablation)", "Table 3", psnr, ssim, lmd,
            f"row: {label} (variant='{key}')" + ("; " + _NOTE_T1_T3 if key == "amie+da" else ""),
        )
    ),
)

#: tiny constructor arguments for tests and the conformance suite (seconds on CPU).
TINY_ARGS = {
    "resolution": 32,
    "base_channels": 4,
    "max_channels": 8,
    "audio_dim": 8,
    "classifier_dim": 16,
    "mask_channels": 4,
    "perceptual_weights": None,
    "perceptual_layers": ["relu1_2"],
    "tbptt_frames": 2,
}

PLUGIN = PluginInfo(
    api_version=1,
    homepage="https://arxiv.org/abs/1812.06589",
    description="AMIE: arbitrary talking-face generation with an asymmetric mutual-information estimator and dynamic lip attention",
    models=(
        ModelInfo(
            name="amie",
            class_path="talkzoo_amie.model.AMIE",
            family="audio-to-video",
            paper=(
                "Arbitrary Talking Face Generation via Attentional Audio-Visual Coherence Learning "
                "(Zhu, Huang, Li, Zheng, He; IJCAI 2020)"
            ),
            arxiv="1812.06589",
            licence="Apache-2.0 (our implementation; no official code was ever published)",
            recipes=("amie_lrw", "amie_grid", "amie_demo"),
            weights=(
                WeightsInfo(
                    name="vgg19-dcbb9e9d.pth",
                    description=(
                        "ImageNet VGG-19 state dict for the perceptual loss φ (Eq. 10); the paper names no "
                        "network (Johnson et al. used VGG-16); talkzoo's shared perceptual network is VGG-19. "
                        "Without it the demo recipe uses the seeded random-VGG substitute (not perceptual)"
                    ),
                    source="torchvision: https://download.pytorch.org/models/vgg19-dcbb9e9d.pth (copy it to weights/)",
                    licence="BSD-3-Clause (torchvision) / ImageNet terms",
                ),
            ),
            parameters=dict(PARAMETERS),
            reported=REPORTED,
            # the conformance suite's tiny CPU configuration (tests/test_registry.py): 32 px, widths 4-8
            tiny_args=dict(TINY_ARGS),
            tiny_datamodule_args={"image_size": 32},
            description=(
                "Frame-by-frame GAN generator (identity image, 20x13 MFCC window, previous frame) with an audio-"
                "conditioned frame discriminator, a Jensen-Shannon MI estimator trained on real pairs and used on "
                "generated ones, and dynamic attention on the lips"
            ),
        ),
    ),
)
