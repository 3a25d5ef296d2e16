"""Unit tests of DaGAN's pieces against hand-computed references, its ablation switches, its
streaming inference and its bad-input messages."""

from __future__ import annotations

import pytest
import torch

from talkzoo.data.batch import ReenactmentBatch
from talkzoo.data.spec import ReenactmentDataSpec
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo_dagan.layers import RandomTPS, make_coordinate_grid
from talkzoo_dagan.losses import (
    axis_angle_to_matrix,
    equivariance_loss,
    keypoint_distance_loss,
    photometric_error,
    reprojection_grid,
)
from talkzoo_dagan.metadata import PARAMETERS, TINY_DAGAN_ARGS, TINY_DEPTH_ARGS
from talkzoo_dagan.model import DaGAN, FaceDepth, load_depth_network, relative_keypoints
from talkzoo_dagan.network import CrossModalAttention, KeypointDetector

SPEC16 = ReenactmentDataSpec(dataset="synthetic", image_size=16)


def _batch(b: int = 2, t: int = 3, size: int = 16, seed: int = 0) -> ReenactmentBatch:
    g = torch.Generator().manual_seed(seed)
    return ReenactmentBatch(
        source=torch.rand(b, 3, size, size, generator=g), driving=torch.rand(b, t, 3, size, size, generator=g),
        frame_mask=torch.ones(b, t, dtype=torch.bool), names=[f"s{i}" for i in range(b)], subjects=["a"] * b,
    )


# ------------------------------------------------------------------ equivariance (Eq. 12)
def test_equivariance_loss_zero_for_identity_positive_for_random_transform():
    torch.manual_seed(0)
    det = KeypointDetector(num_kp=5, in_channels=3, block_expansion=8, num_blocks=2, max_features=32, scale_factor=1.0).eval()
    frame = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        kp = det(frame)["value"]
        identity = RandomTPS(2, sigma_affine=0.0, sigma_tps=0.0)
        kp_id = det(identity.transform_frame(frame))["value"]
        assert float(equivariance_loss(kp, kp_id, identity)) < 1e-6
        random = RandomTPS(2, sigma_affine=0.2, sigma_tps=0.02, generator=torch.Generator().manual_seed(1))
        kp_rand = det(random.transform_frame(frame))["value"]
        assert float(equivariance_loss(kp, kp_rand, random)) > 1e-3


def test_tps_transform_frame_and_coordinates_agree():
    """A bright dot at p in the warped frame sits at T(p) in the original (the loss's convention)."""
    tps = RandomTPS(1, sigma_affine=0.1, sigma_tps=0.0, generator=torch.Generator().manual_seed(3))
    grid = make_coordinate_grid(33, 33)
    target = torch.tensor([[[0.2, -0.1]]])
    where = tps.warp_coordinates(grid.reshape(1, -1, 2)).reshape(33, 33, 2)
    frame = torch.exp(-((grid - target[0, 0]) ** 2).sum(-1) / 0.002)[None, None]
    warped = tps.transform_frame(frame)[0, 0]
    idx = int(warped.flatten().argmax())
    p = grid.reshape(-1, 2)[idx]
    assert torch.allclose(where.reshape(-1, 2)[idx], target[0, 0], atol=0.07), (p, where.reshape(-1, 2)[idx])


# ------------------------------------------------------------------ cross-modal attention (Eq. 9)
def test_cross_modal_attention_matches_hand_computed_eq9_and_shape():
    torch.manual_seed(0)
    cam = CrossModalAttention(16, query="depth")
    warped, depth = torch.randn(2, 16, 4, 5), torch.randn(2, 16, 4, 5)
    out, attn = cam(warped, depth, return_attention=True)
    assert out.shape == (2, 16, 4, 5) and attn.shape == (2, 20, 20)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 20))
    q = cam.w_q(depth).flatten(2)  # (B, C', N)
    k = cam.w_k(warped).flatten(2)
    v = cam.w_v(warped).flatten(2)
    ref = (v @ torch.softmax(q.transpose(1, 2) @ k, -1).transpose(1, 2)).view(2, 16, 4, 5)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    # the query comes from depth: another depth map changes the output
    assert not torch.allclose(cam(warped, torch.randn(2, 16, 4, 5)), out)


def test_self_attention_ablation_ignores_depth_and_residual_gamma_starts_at_identity():
    torch.manual_seed(0)
    sa = CrossModalAttention(16, query="rgb")
    warped = torch.randn(1, 16, 3, 3)
    a = sa(warped, torch.randn(1, 16, 3, 3))
    torch.testing.assert_close(a, sa(warped, None))
    q, k, v = sa.w_q(warped).flatten(2), sa.w_k(warped).flatten(2), sa.w_v(warped).flatten(2)
    ref = (v @ torch.softmax(q.transpose(1, 2) @ k, -1).transpose(1, 2)).view(1, 16, 3, 3)
    torch.testing.assert_close(a, ref, atol=1e-5, rtol=1e-4)
    res = CrossModalAttention(16, query="depth", residual=True)
    torch.testing.assert_close(res(warped, torch.randn(1, 16, 3, 3)), warped)  # gamma = 0 at init
    with pytest.raises(ConfigError):
        CrossModalAttention(16, query="both")


# ------------------------------------------------------------------ keypoint distance (Eq. 13)
def test_keypoint_distance_faithful_has_no_gradient_and_surrogate_does():
    kp = torch.tensor([[[0.0, 0.0], [0.05, 0.05], [0.9, -0.9]]], requires_grad=True)
    # pair (0,1): L1 distance 0.1 < 0.2 -> 1 - sign(-0.1) = 2, counted for (0,1) and (1,0); others far
    faithful = keypoint_distance_loss(kp, alpha=0.2, norm="l1", mode="faithful")
    assert float(faithful) == pytest.approx(4.0)
    faithful.backward()
    assert float(kp.grad.abs().sum()) == 0.0
    kp.grad = None
    surrogate = keypoint_distance_loss(kp, alpha=0.2, norm="l1", mode="surrogate")
    assert float(surrogate) == pytest.approx(2 * (0.2 - 0.1) / 0.2)
    surrogate.backward()
    assert float(kp.grad[0, :2].abs().sum()) > 0 and float(kp.grad[0, 2].abs().sum()) == 0
    # L2 (official code): distance 0.0707
    assert float(keypoint_distance_loss(kp.detach(), norm="l2", mode="surrogate")) == pytest.approx(2 * (0.2 - 0.05 * 2**0.5) / 0.2, rel=1e-4)


# ------------------------------------------------------------------ stage-1 geometry (Eq. 3-5)
def test_reprojection_with_identity_pose_is_identity_and_photometric_error_zero():
    depth = torch.rand(2, 1, 8, 8) + 0.5
    k = torch.tensor([[10.0, 0, 4], [0, 10.0, 4], [0, 0, 1]]).expand(2, 3, 3)
    grid = reprojection_grid(depth, k, axis_angle_to_matrix(torch.zeros(2, 3)), torch.zeros(2, 3))
    torch.testing.assert_close(grid, make_coordinate_grid(8, 8)[None].expand(2, 8, 8, 2), atol=1e-5, rtol=0)
    x = torch.rand(2, 3, 8, 8)
    assert float(photometric_error(x, x).abs().max()) < 1e-6
    # alpha = 0 leaves the plain L1
    y = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(photometric_error(x, y, alpha=0.0), (x - y).abs().mean(1, keepdim=True))


def test_translation_shifts_the_sampling_grid_by_f_t_over_depth():
    depth = torch.full((1, 1, 5, 5), 2.0)
    k = torch.tensor([[[8.0, 0, 2], [0, 8.0, 2], [0, 0, 1]]])
    grid = reprojection_grid(depth, k, torch.eye(3)[None], torch.tensor([[0.5, 0.0, 0.0]]))
    # x shifts by f * tx / z = 8 * 0.5 / 2 = 2 pixels = 2 * 2/(5-1) = 1.0 normalised
    torch.testing.assert_close(grid[..., 0] - make_coordinate_grid(5, 5)[None, ..., 0], torch.ones(1, 5, 5))


def test_rodrigues_matches_known_rotation():
    r = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, torch.pi / 2]]))
    torch.testing.assert_close(r[0], torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), atol=1e-6, rtol=0)


# ------------------------------------------------------------------ inference
def test_relative_motion_first_driving_frame_reproduces_source_keypoints():
    kp_s = {"value": torch.rand(2, 4, 2) - 0.5}
    kp_d0 = {"value": torch.rand(2, 4, 2) - 0.5}
    out = relative_keypoints(kp_s, kp_d0, kp_d0, adapt_scale=True)
    torch.testing.assert_close(out["value"], kp_s["value"])
    moved = {"value": kp_d0["value"] + 0.1}
    torch.testing.assert_close(relative_keypoints(kp_s, moved, kp_d0, adapt_scale=False)["value"], kp_s["value"] + 0.1)


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_generate_stream_chunks_equal_whole_clip(mode):
    torch.manual_seed(0)
    model = DaGAN(spec=SPEC16, frame_batch=2, motion_mode=mode, **TINY_DAGAN_ARGS).eval()
    batch = _batch(t=5)
    whole = model.generate(batch.source, batch.driving)
    chunks = list(model.generate_stream(batch.source, (batch.driving[:, :2], batch.driving[:, 2:3], batch.driving[:, 3:])))
    assert [c.shape[1] for c in chunks] == [2, 1, 2]
    torch.testing.assert_close(torch.cat(chunks, 1), whole)
    assert whole.shape == (2, 5, 3, 16, 16) and 0 <= float(whole.min()) and float(whole.max()) <= 1


def test_detail_transfer_at_a_reduced_working_size():
    """working_size below the data's: the output keeps the data's size; with detail_transfer it is
    plain upsampling plus the source's detail warped by the dense motion, weighted by occlusion."""
    from talkzoo.nn.detail import upsample_with_detail

    torch.manual_seed(0)
    spec = ReenactmentDataSpec(dataset="synthetic", image_size=64)
    args = {k: v for k, v in TINY_DAGAN_ARGS.items() if k != "working_size"}
    plain = DaGAN(spec=spec, working_size=32, motion_mode="absolute", **args).eval()
    sharp = DaGAN(spec=spec, working_size=32, motion_mode="absolute", detail_transfer=True, **args).eval()
    sharp.load_state_dict(plain.state_dict())
    batch = _batch(b=1, t=2, size=64)
    a, b = plain.generate(batch.source, batch.driving), sharp.generate(batch.source, batch.driving)
    assert a.shape == b.shape == (1, 2, 3, 64, 64)
    with torch.no_grad():
        src = torch.nn.functional.interpolate(batch.source, size=(32, 32), mode="bilinear", antialias=True)
        drv = torch.nn.functional.interpolate(batch.driving[0], size=(32, 32), mode="bilinear", antialias=True)
        dec = plain.generator.decode({k: v.repeat_interleave(2, 0) for k, v in plain.generator.encode_source(src, plain.depth(src)).items()},
                                     {k: v.repeat_interleave(2, 0) for k, v in plain.keypoints(src, plain.depth(src)).items()},
                                     plain.keypoints(drv, plain.depth(drv)))
        expected = upsample_with_detail(dec["prediction"], batch.source.repeat(2, 1, 1, 1), dec["deformation"], dec["occlusion"]).clamp(0, 1)
    torch.testing.assert_close(b[0], expected, atol=1e-5, rtol=0)
    assert (a - b).abs().max() > 1e-3


# ------------------------------------------------------------------ ablations (Table 4)
def test_ablation_switches_build_the_table_rows():
    base = DaGAN(spec=SPEC16, use_depth_in_kp=False, use_cam=False, **TINY_DAGAN_ARGS)
    assert base.depth_net is None and base.generator.cam is None
    assert base.kp_detector.hourglass.down[0].block.conv.in_channels == 3
    fdn = DaGAN(spec=SPEC16, use_cam=False, **TINY_DAGAN_ARGS)
    assert fdn.depth_net is not None and fdn.kp_detector.hourglass.down[0].block.conv.in_channels == 4
    sa = DaGAN(spec=SPEC16, use_depth_in_kp=False, cam_query="rgb", **TINY_DAGAN_ARGS)
    assert sa.depth_net is None and not hasattr(sa.generator, "depth_first")
    cam = DaGAN(spec=SPEC16, use_depth_in_kp=False, **TINY_DAGAN_ARGS)
    assert cam.depth_net is not None and cam.generator.needs_depth
    batch = _batch()
    for model in (base, fdn, sa, cam):
        losses = model.compute_losses(batch)
        assert torch.isfinite(losses["loss"])


# ------------------------------------------------------------------ checkpoints and bad input
def test_depth_checkpoint_missing_or_mismatched_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(MissingWeightsError, match="nope.ckpt.*train stage 1"):
        DaGAN(spec=SPEC16, depth_checkpoint=str(missing), **TINY_DAGAN_ARGS)
    with pytest.raises(MissingWeightsError, match="no \\*.ckpt"):
        load_depth_network(tmp_path, 18)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.ckpt"):
        DaGAN(spec=SPEC16, depth_checkpoint=str(junk), **TINY_DAGAN_ARGS)
    stage1 = FaceDepth(spec=SPEC16, **TINY_DEPTH_ARGS)
    good = tmp_path / "depth18.ckpt"
    torch.save({"state_dict": stage1.state_dict(), "hyper_parameters": {"num_layers": 18}}, good)
    model = DaGAN(spec=SPEC16, depth_checkpoint=str(good), **TINY_DAGAN_ARGS)
    torch.testing.assert_close(model.depth_net.encoder.stem[0].weight, stage1.depth_net.encoder.stem[0].weight)
    with pytest.raises(DataError, match="ResNet-18 depth network but depth_num_layers is 50"):
        DaGAN(spec=SPEC16, depth_checkpoint=str(good), depth_num_layers=50, **TINY_DAGAN_ARGS)
    other = tmp_path / "stage2.ckpt"
    torch.save({"state_dict": {"kp_detector.x": torch.zeros(1)}}, other)
    with pytest.raises(DataError, match="no depth network"):
        DaGAN(spec=SPEC16, depth_checkpoint=str(other), **TINY_DAGAN_ARGS)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="motion_mode"):
        DaGAN(spec=SPEC16, motion_mode="sideways", **TINY_DAGAN_ARGS)
    with pytest.raises(ConfigError, match="feature_matching_weights"):
        DaGAN(spec=SPEC16, **{**TINY_DAGAN_ARGS, "feature_matching_weights": (1.0,)})
    with pytest.raises(ConfigError, match="divisible by 32"):
        FaceDepth(spec=SPEC16, working_size=48)
    with pytest.raises(MissingWeightsError, match="vgg19.pth"):
        DaGAN(spec=SPEC16, perceptual_weights="/nonexistent/vgg19.pth", **TINY_DAGAN_ARGS)


def test_stage1_loss_is_lower_for_the_true_motion_than_for_a_constant_depth_scene():
    """Sanity of the photometric objective: identical consecutive frames give (near) zero loss."""
    torch.manual_seed(0)
    model = FaceDepth(spec=SPEC16, smoothness_weight=0.0, **TINY_DEPTH_ARGS).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        same = model.photometric_terms(x, x)["loss"]
        other = model.photometric_terms(x, torch.rand(2, 3, 32, 32))["loss"]
    assert float(same) < 0.05 < float(other)


@pytest.mark.slow
def test_parameter_counts_match_metadata():
    spec = ReenactmentDataSpec(dataset="voxceleb1", image_size=256)
    model = DaGAN(spec=spec)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.kp_detector) == PARAMETERS["dagan: keypoint detector (RGB-D, K=15)"]
    assert count(model.generator) == PARAMETERS["dagan: generator (E_I, E_d, dense motion, CAM, decoder)"]
    assert count(model.discriminator) == PARAMETERS["dagan: discriminator"]
    assert count(model.depth_net) == PARAMETERS["dagan: face depth network F_d (ResNet-18, frozen)"]
    assert count(FaceDepth(spec=spec)) == PARAMETERS["dagan-depth: F_d + F_p (ResNet-18)"]
