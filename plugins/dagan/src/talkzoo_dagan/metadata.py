"""Plugin metadata of talkzoo-dagan (entry point ``talkzoo.plugins: dagan``). Imports no torch.

Two models: ``dagan-depth`` (stage 1, :class:`talkzoo_dagan.model.FaceDepth`) and ``dagan``
(stage 2, :class:`talkzoo_dagan.model.DaGAN`). The reported numbers are the paper's Tables 1-4,
verbatim (the paper's Table 4 ablation rows are stored with the row name in ``note``).
Parameter counts are of the paper configurations at 256 px (ResNet-18 depth network, K = 15,
official widths), rebuilt by ``tests/test_dagan.py::test_parameter_counts_match_metadata``.
"""

from __future__ import annotations

from talkzoo.plugins import ModelInfo, PluginInfo, ReportedResult, WeightsInfo

#: parameters of the paper configurations (see the module docstring).
PARAMETERS = {
    "dagan: keypoint detector (RGB-D, K=15)": 14_156_619,
    "dagan: generator (E_I, E_d, dense motion, CAM, decoder)": 46_096_916,
    "dagan: discriminator": 2_774_209,
    "dagan: face depth network F_d (ResNet-18, frozen)": 14_327_217,
    "dagan-depth: F_d + F_p (ResNet-18)": 26_837_406,
}

#: tiny constructor arguments for the conformance suite and quick tests (16-32 px images; F_d runs at 32 px).
TINY_DAGAN_ARGS = {
    "num_kp": 4,
    "kp_block_expansion": 8,
    "kp_num_blocks": 2,
    "kp_max_features": 32,
    "kp_scale_factor": 1.0,
    "gen_block_expansion": 8,
    "gen_max_features": 32,
    "gen_num_bottleneck": 1,
    "dense_block_expansion": 8,
    "dense_num_blocks": 2,
    "dense_max_features": 32,
    "dense_scale_factor": 1.0,
    "disc_block_expansion": 8,
    "disc_num_blocks": 2,
    "disc_max_features": 16,
    "feature_matching_weights": (10.0, 10.0),
    "perceptual_layers": ("relu1_1", "relu2_1"),
    "perceptual_scales": (1.0, 0.5),
}
TINY_DEPTH_ARGS = {"scales": (0, 1), "working_size": 32}

_T1, _T2, _T3, _T4 = "Table 1", "Table 2", "Table 3", "Table 4"
_V, _C = "voxceleb1", "celebv"
_VS = "VoxCeleb1 test (2,083 image sets, self-reenactment)"
_CS = "CelebV (2,000 image sets, cross-identity)"

_REPORTED = (
    ReportedResult(_V, _VS, "CSIM", 0.899, "cosine", _T1),
    ReportedResult(_V, _VS, "SSIM", 0.804, "", _T1),
    ReportedResult(_V, _VS, "PSNR", 31.220, "dB", _T1),
    ReportedResult(_V, _VS, "PRMSE", 1.22, "degrees (head-pose RMSE)", _T1),
    ReportedResult(_V, _VS, "AUCON", 0.939, "ratio", _T1),
    ReportedResult(_V, _VS, "L1", 0.036, "mean |pixel| in [0,1]", _T2),
    ReportedResult(_V, _VS, "AKD", 1.279, "pixels", _T2),
    ReportedResult(_V, _VS, "AED", 0.117, "embedding L2", _T2),
    ReportedResult(_C, _CS, "CSIM", 0.723, "cosine", _T3),
    ReportedResult(_C, _CS, "PRMSE", 2.33, "degrees (head-pose RMSE)", _T3),
    ReportedResult(_C, _CS, "AUCON", 0.873, "ratio", _T3),
    # Table 4 ablation on CelebV (the DaGAN row equals Table 3)
    *(
        ReportedResult(_C, _CS, metric, value, unit, _T4, note=f"ablation row: {row}")
        for row, values in (
            ("Baseline", (0.688, 5.39, 0.657)),
            ("Baseline w/ FDN", (0.710, 2.69, 0.852)),
            ("Baseline w/ CAM", (0.698, 2.56, 0.838)),
            ("Ours (SA)", (0.681, 5.18, 0.832)),
            ("FOMM w/ FDN", (0.695, 2.81, 0.812)),
            ("FOMM w/ CAM", (0.669, 2.36, 0.821)),
            ("FOMM w/ FDN+CAM", (0.716, 2.28, 0.865)),
        )
        for metric, value, unit in zip(("CSIM", "PRMSE", "AUCON"), values, ("cosine", "degrees (head-pose RMSE)", "ratio"))
    ),
)

_PAPER = "Depth-Aware Generative Adversarial Network for Talking Head Video Generation (CVPR 2022)"
_LICENCE = "Apache-2.0 (our implementation; the official code, harlanhong/CVPR2022-DaGAN, is CC BY-NC 4.0 and was not copied)"

PLUGIN = PluginInfo(
    api_version=1,
    homepage="https://github.com/harlanhong/CVPR2022-DaGAN",
    description="DaGAN: self-supervised face depth, depth-guided keypoints and cross-modal attention for face reenactment",
    models=(
        ModelInfo(
            name="dagan",
            class_path="talkzoo_dagan.model.DaGAN",
            # the registry conformance suite's tiny CPU configuration (tests/test_registry.py)
            tiny_args=dict(TINY_DAGAN_ARGS),
            tiny_datamodule_args={"image_size": 16},
            family="video-to-video",
            paper=_PAPER,
            arxiv="2203.06605",
            licence=_LICENCE,
            recipes=("dagan_voxceleb", "dagan_celebv", "dagan_demo"),
            weights=(
                WeightsInfo(
                    name="vgg19 (ImageNet) state dict",
                    description=(
                        "VGG-19 for the pyramid perceptual loss (Eq. 11); a local file named by "
                        "perceptual_weights; without one a seeded random VGG-19 substitute is used (not perceptual)"
                    ),
                    source="torchvision's vgg19-dcbb9e9d.pth (IMAGENET1K_V1), copied by the user (no download here)",
                    licence="BSD-3-Clause (torchvision); ImageNet terms apply",
                ),
                WeightsInfo(
                    name="stage-1 FaceDepth checkpoint",
                    description="the frozen face depth network F_d, trained by the dagan-depth recipes (stage 1)",
                    source="talkzoo fit --config recipes/dagan_depth_voxceleb.yaml",
                    licence="yours",
                ),
            ),
            parameters={k: v for k, v in PARAMETERS.items() if k.startswith("dagan:")},
            reported=_REPORTED,
            description=(
                "One-shot face reenactment: RGB-D keypoints, FOMM-style dense motion with occlusion, "
                "depth-guided cross-modal attention, LSGAN; frame-by-frame relative/absolute motion"
            ),
        ),
        ModelInfo(
            name="dagan-depth",
            class_path="talkzoo_dagan.model.FaceDepth",
            tiny_args=dict(TINY_DEPTH_ARGS),
            tiny_datamodule_args={"image_size": 16},
            family="video-to-video",
            paper=_PAPER + ", §3.2 (stage 1)",
            arxiv="2203.06605",
            licence=_LICENCE,
            recipes=("dagan_depth_voxceleb", "dagan_depth_demo"),
            parameters={k: v for k, v in PARAMETERS.items() if k.startswith("dagan-depth:")},
            description=(
                "Self-supervised face depth (ResNet-18 U-Net) and pose/intrinsics network trained on "
                "consecutive frames with the photometric reprojection loss (α = 0.8)"
            ),
        ),
    ),
)
