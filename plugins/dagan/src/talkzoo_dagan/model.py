"""DaGAN's two LightningModules on the reenactment family.

* :class:`FaceDepth` — stage 1 (DaGAN §3.2, Eq. 1-5): the self-supervised face depth network F_d
  and pose/intrinsics network F_p, trained on consecutive frames with the photometric
  reprojection loss. Its ``generate`` renders the depth (disparity) of each driving frame.
* :class:`DaGAN` — stage 2 (§3.3-3.4, Eq. 6-13): frozen F_d, RGB-D keypoint detector, feature
  warping with dense motion and occlusion, cross-modal attention, decoder and discriminator,
  trained with manual optimisation (one generator step, then one discriminator step).

Paper: Hong, Zhang, Shen, Xu, "Depth-Aware Generative Adversarial Network for Talking Head Video
Generation", CVPR 2022. Choices the paper leaves open are constructor arguments; the plugin
README lists each with its source (paper / official code / ours).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.data.batch import ReenactmentBatch
from talkzoo.data.spec import ReenactmentDataSpec
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.nn.perceptual import PerceptualPyramidLoss, VGG19Features
from talkzoo.nn.optim import adam
from talkzoo.tasks.video import ReenactmentTask
from talkzoo.nn.detail import upsample_with_detail

from talkzoo_dagan.layers import RandomTPS
from talkzoo_dagan.losses import (
    axis_angle_to_matrix,
    discriminator_lsgan_loss,
    disparity_to_depth,
    equivariance_loss,
    feature_matching_loss,
    generator_lsgan_loss,
    jacobian_equivariance_loss,
    keypoint_distance_loss,
    photometric_error,
    reprojection_grid,
    smoothness_loss,
)
from talkzoo_dagan.network import (
    DaGANGenerator,
    Discriminator,
    FaceDepthNet,
    KeypointDetector,
    PoseNet,
    resize,
)

__all__ = ["DaGAN", "FaceDepth", "dagan_adam", "load_depth_network", "relative_keypoints"]

STAGE1_HINT = "train stage 1 first: talkzoo fit --config recipes/dagan_depth_voxceleb.yaml (or dagan_depth_demo.yaml)"


def dagan_adam(params: Any) -> torch.optim.Optimizer:
    """Adam, lr 2e-4, betas (0.5, 0.999) — the official DaGAN/FOMM setting (the paper gives none)."""
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


def _pairs(batch: ReenactmentBatch) -> tuple[Tensor, Tensor]:
    """Flatten a batch into (source, driving) frame pairs over the real driving frames: ``(N, 3, H, W)`` each."""
    b, t = batch.driving.shape[:2]
    src = batch.source[:, None].expand(b, t, *batch.source.shape[1:])
    mask = batch.frame_mask
    return src[mask], batch.driving[mask]


# ====================================================================================== stage 1
class FaceDepth(ReenactmentTask):
    """Stage 1: self-supervised face depth network F_d with pose/intrinsics network F_p.

    Each training item's driving window gives consecutive frame pairs ``(I_i, I_{i+1})`` (the
    reenactment datamodule with ``clip_frames: 2``); the loss (Eq. 5, averaged over ``scales``,
    each disparity upsampled to full size as Monodepth2 does) is the photometric error between
    ``I_i`` and ``I_{i+1}`` resampled at the reprojected pixels (Eq. 3-4), with Monodepth2's
    auto-masking (pixels where the unwarped source already matches better are ignored) and
    edge-aware smoothness.

    Args:
        spec: the reenactment data spec (linked by ``talkzoo fit``).
        num_layers: ResNet encoder depth of F_d and F_p: 18 (paper) or 50 (official code's released model).
        scales: decoder scales that enter the loss (Monodepth2 0..3).
        alpha: SSIM weight α of Eq. 5 (paper 0.8).
        smoothness_weight: edge-aware disparity smoothness (Monodepth2 1e-3; 0 disables).
        automask: Monodepth2's identity-reprojection auto-masking.
        min_depth, max_depth: disparity → depth mapping (Monodepth2's 0.1 / 100; units arbitrary).
        working_size: side in pixels at which the networks run (frames are resized to it and
            outputs back); ``None`` = the data's size. Must be divisible by 32.
        max_eval_pairs: consecutive pairs per evaluated clip (evenly spaced), bounding memory.
        frame_gap: frames between the two images of a pair (1 = consecutive frames, the paper's
            "consecutive frames"; ours as an option: a larger gap gives more head motion per pair on
            slow-moving video — the demo recipe uses 4 with ``clip_frames: 5``).
        optimizer, lr_scheduler: see :class:`~talkzoo.tasks.base.TalkingFaceTask` (default Adam 1e-4).

    ``generate`` returns the disparity of each driving frame as a grey video ``(B, T, 3, H, W)``
    in [0, 1] (bright = near).
    """

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        num_layers: int = 18,
        scales: tuple[int, ...] = (0, 1, 2, 3),
        alpha: float = 0.8,
        smoothness_weight: float = 1e-3,
        automask: bool = True,
        min_depth: float = 0.1,
        max_depth: float = 100.0,
        working_size: int | None = None,
        max_eval_pairs: int = 16,
        frame_gap: int = 1,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler)
        if int(frame_gap) < 1:
            raise ConfigError(f"FaceDepth: frame_gap must be >= 1, got {frame_gap}")
        self.frame_gap = int(frame_gap)
        size = working_size or (self.spec.image_size if self.spec is not None else None)
        if size is not None and int(size) % 32:
            raise ConfigError(f"FaceDepth: working_size (or the data's image_size) must be divisible by 32, got {size}")
        self.working_size = working_size
        self.scales = tuple(int(s) for s in scales)
        self.alpha, self.smoothness_weight, self.automask = alpha, smoothness_weight, automask
        self.min_depth, self.max_depth, self.max_eval_pairs = min_depth, max_depth, max_eval_pairs
        self.depth_net = FaceDepthNet(num_layers, self.scales)
        self.pose_net = PoseNet(num_layers)

    def configure_metrics(self):
        """No image metrics: stage 1 is evaluated by its photometric loss (``val/loss``)."""
        return None

    def _size(self) -> int:
        return int(self.working_size or self.require_spec().image_size)

    def photometric_terms(self, target: Tensor, source: Tensor, constant_depth: bool = False) -> dict[str, Tensor]:
        """Eq. 1-5 on ``(N, 3, S, S)`` frame pairs at the working size.

        Args:
            target, source: ``I_i`` and ``I_{i+1}``.
            constant_depth: replace F_d's output by its per-image mean (the constant-depth
                reference of the stage-1 check; pose and intrinsics still from F_p).

        Returns:
            ``{"loss", "photometric", "smoothness"}`` scalars; ``photometric`` is the scale-0
            reprojection error without auto-masking (comparable across models).
        """
        disps = self.depth_net(target)
        rot_aa, trans, k = self.pose_net(target, source)
        rot = axis_angle_to_matrix(rot_aa)
        size = target.shape[-1]
        total = target.new_zeros(())
        photometric = None
        identity = photometric_error(target, source, self.alpha) if self.automask else None
        for s in self.scales:
            disp = disps[s]
            if constant_depth:
                disp = disp.mean((2, 3), keepdim=True).expand_as(disp)
            disp_full = F.interpolate(disp, size=(size, size), mode="bilinear", align_corners=False) if s else disp
            depth = disparity_to_depth(disp_full, self.min_depth, self.max_depth)
            grid = reprojection_grid(depth, k, rot, trans)
            warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=True)
            error = photometric_error(target, warped, self.alpha)
            if s == 0:
                photometric = error.mean()
            if identity is not None:
                error = torch.minimum(error, identity + 1e-5)
            total = total + error.mean()
            if self.smoothness_weight:
                tgt_s = resize(target, disp.shape[-1])
                total = total + self.smoothness_weight * smoothness_loss(disp, tgt_s) / (2**s)
        total = total / len(self.scales)
        return {"loss": total, "photometric": photometric if photometric is not None else total}

    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:
        """Photometric loss over consecutive real driving frames (all pairs in training; at most
        ``max_eval_pairs`` per clip in evaluation)."""
        size = self._size()
        drv, mask = batch.driving, batch.frame_mask
        gap = self.frame_gap if drv.shape[1] > self.frame_gap else 1
        valid = mask[:, :-gap] & mask[:, gap:]
        if not self.training:
            for b in range(valid.shape[0]):
                idx = valid[b].nonzero().flatten()
                if idx.numel() > self.max_eval_pairs:
                    keep = idx[torch.linspace(0, idx.numel() - 1, self.max_eval_pairs).round().long()]
                    valid[b] = False
                    valid[b, keep] = True
        if not valid.any():
            # one-frame windows: pair the source with the driving frame instead (both one clip)
            target, source = batch.source, batch.driving[:, 0]
        else:
            target, source = drv[:, :-gap][valid], drv[:, gap:][valid]
        return self.photometric_terms(resize(target, size), resize(source, size))

    @torch.no_grad()
    def depth(self, frames: Tensor) -> Tensor:
        """``(N, 3, H, W)`` [0, 1] → ``(N, 1, H, W)`` disparity in (0, 1), computed at the working size."""
        h = frames.shape[-1]
        disp = self.depth_net.depth_map(resize(frames, self._size()))
        return resize(disp, h)

    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """``(B, T, 3, H, W)``: the disparity of each driving frame as grey RGB in [0, 1]."""
        b, t = driving.shape[:2]
        out = [self.depth(driving[:, i]).expand(-1, 3, -1, -1) for i in range(t)]
        return torch.stack(out, 1).float()


# ====================================================================================== helpers
def load_depth_network(path: str | os.PathLike, num_layers: int) -> dict[str, Tensor]:
    """Read the F_d weights of a stage-1 checkpoint (a :class:`FaceDepth` ``.ckpt`` or a run folder).

    Returns the ``depth_net.*`` state dict with the prefix removed.

    Raises:
        MissingWeightsError: no such file/folder (the message says how to make it).
        DataError: not a readable checkpoint, no depth network in it, or trained with another
            encoder depth than ``num_layers`` (one line naming the file and both values).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        found = sorted(p.rglob("*.ckpt"))
        if not found:
            raise MissingWeightsError(f"depth_checkpoint: no *.ckpt under {str(p)!r}; {STAGE1_HINT}")
        last = [f for f in found if f.name == "last.ckpt"]
        p = last[0] if last else found[-1]
    if not p.is_file():
        raise MissingWeightsError(f"depth_checkpoint: file {str(p)!r} not found; {STAGE1_HINT}")
    try:
        ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a non-checkpoint file
        raise DataError(f"depth_checkpoint {str(p)!r} is not a readable checkpoint ({exc.__class__.__name__})") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise DataError(f"depth_checkpoint {str(p)!r} holds no state dict")
    depth = {k[len("depth_net."):]: v for k, v in state.items() if k.startswith("depth_net.")}
    if not depth:
        raise DataError(f"depth_checkpoint {str(p)!r} has no depth network (depth_net.*): is it a stage-1 FaceDepth checkpoint?")
    trained = (ckpt.get("hyper_parameters") or {}).get("num_layers") if isinstance(ckpt, dict) else None
    if trained is None:
        trained = 50 if "encoder.layer1.0.conv3.weight" in depth else 18
    if int(trained) != int(num_layers):
        raise DataError(
            f"depth_checkpoint {str(p)!r} holds a ResNet-{trained} depth network but depth_num_layers is {num_layers}; "
            "set depth_num_layers to match or point at the matching checkpoint"
        )
    return depth


def relative_keypoints(kp_source: dict, kp_driving: dict, kp_initial: dict, adapt_scale: bool = True) -> dict:
    """FOMM's relative motion: driving keypoint motion since the first driving frame, applied to the source.

    ``x = x_s + (x_d - x_d0) · s`` with ``s = sqrt(area(hull(x_s)) / area(hull(x_d0)))`` when
    ``adapt_scale`` (else 1); Jacobians ``J = J_d J_d0^-1 J_s``. All values ``(B, K, 2)`` /
    ``(B, K, 2, 2)``; ``kp_initial`` is broadcast over the batch of driving frames. Used by the
    official demo (``--relative --adapt_scale``); not described in the paper.
    """
    out = {}
    scale = torch.ones(kp_source["value"].shape[0], 1, 1, device=kp_source["value"].device, dtype=kp_source["value"].dtype)
    if adapt_scale:
        from scipy.spatial import ConvexHull

        areas = []
        for s, d in zip(kp_source["value"].detach().cpu().double().numpy(), kp_initial["value"].detach().cpu().double().numpy()):
            try:
                areas.append((ConvexHull(s).volume / max(ConvexHull(d).volume, 1e-12)) ** 0.5)
            except Exception:  # degenerate (collinear) keypoints: no scale adaptation
                areas.append(1.0)
        scale = torch.tensor(areas, device=scale.device, dtype=scale.dtype).view(-1, 1, 1)
    out["value"] = kp_source["value"] + (kp_driving["value"] - kp_initial["value"]) * scale
    if "jacobian" in kp_driving:
        out["jacobian"] = kp_driving["jacobian"] @ torch.inverse(kp_initial["jacobian"]) @ kp_source["jacobian"]
    return out


def _expand_kp(kp: dict, n: int) -> dict:
    return {k: v.repeat_interleave(n, 0) for k, v in kp.items()}


# ====================================================================================== stage 2
class DaGAN(ReenactmentTask):
    """Stage 2: the depth-aware generator, its RGB-D keypoint detector and the discriminator.

    Per (source, driving) training pair: ``D = F_d(I)`` (frozen), ``x = F_kp(I || D)`` (Eq. 6),
    ``I_g = G(I_s, x_s, x_d, D_s)`` (Eq. 7-9), and the generator objective (Eq. 10)
    ``λ_P L_P + λ_G L_G + λ_E L_E + λ_D (L_D(x_s) + L_D(x_d))``; then the discriminator step.

    Args (paper = DaGAN text; code = the official configuration; ours = our choice):
        spec: the reenactment data spec (linked by ``talkzoo fit``).
        depth_checkpoint: stage-1 :class:`FaceDepth` checkpoint (file or run folder) whose F_d is
            loaded and frozen (paper). ``None`` builds an untrained F_d (tests; a stage-2
            checkpoint carries its own F_d weights, so ``load_model`` needs no stage-1 file).
        depth_num_layers: 18 (paper) or 50 (code's released depth model).
        num_kp: K (paper 15). estimate_jacobian: FOMM Jacobians (code: yes; paper: no; default no).
        use_depth_in_kp: keypoints from RGB-D (paper) or RGB (Table 4 "Baseline"/"w/ CAM").
        use_cam: cross-modal attention after warping (paper) or none ("Baseline"/"w/ FDN").
        cam_query: ``"depth"`` (paper) or ``"rgb"`` ("Ours (SA)").
        cam_residual: ``γ·attention + F_w`` with γ = 0 at init (code) instead of Eq. 9's output.
        cam_relu: ReLU on q/k/v (code).
        kp_*: keypoint detector hourglass (code: expansion 32, 5 blocks, max 1024, temperature
            0.1, input scale 0.25). gen_*: generator (code: expansion 64, max 512, 2 down blocks,
            6 residual blocks). dense_*: dense motion hourglass (code: 64, 5 blocks, 1024, 0.25).
        kp_variance: Gaussian heatmap variance (code 0.01).
        disc_*: discriminator (code: expansion 64, 4 blocks, max 512); disc_use_kp: driving
            keypoint heatmaps as extra input (code; not in the paper).
        perceptual_weights: local VGG-19 state-dict file; ``None`` = the seeded random substitute
            (not perceptual; see :mod:`talkzoo.nn.perceptual`).
        perceptual_layers, perceptual_scales: VGG layers (code relu1_1..relu5_1) and pyramid
            scales (paper 1, 1/2, 1/4, 1/8).
        lambda_perceptual, lambda_gan, lambda_equivariance, lambda_kp_distance: λ_P, λ_G, λ_E,
            λ_D (paper 10, 1, 10, 10).
        feature_matching_weights: per discriminator block (code 10 each), inside L_G.
        jacobian_equivariance_weight: FOMM Jacobian term (code 10), used with ``estimate_jacobian``.
        lambda_l1: extra pixel L1 on the output (ours, default 0 = off).
        kp_distance_alpha: α of Eq. 13 (paper 0.2). kp_distance_norm: ``"l1"`` (paper) / ``"l2"``
            (code). kp_distance_mode: ``"faithful"`` (paper: sign, no gradient; logged, left out
            of the optimised sum since it contributes no gradient) or ``"surrogate"`` (ours).
        tps_sigma_affine, tps_sigma_tps, tps_points: the equivariance transform (code 0.05, 0.005, 5).
        working_size: side in pixels at which the networks run (frames resized to it, outputs
            resized back); ``None`` = the data's size (paper 256).
        detail_transfer: with a working size below the data's, add the source's fine detail, moved by
            the dense motion's sampling grid and weighted by the occlusion map, to the upsampled
            output (:func:`talkzoo.nn.detail.upsample_with_detail`; ours, for reduced-size runs; off).
        motion_mode: ``generate``/``animate``: ``"relative"`` (FOMM, the official demo) or ``"absolute"``.
        eval_motion_mode: motion used for the metrics (self-reenactment, FOMM's reconstruction: ``"absolute"``).
        adapt_movement_scale: scale relative motion by the keypoint hull areas (FOMM, code demo).
        frame_batch: driving frames decoded at once in ``generate`` (bounds memory).
        optimizer: one optimizer over two parameter groups (generator + keypoint detector; the
            discriminator); default Adam 2e-4, betas (0.5, 0.999) (code). Each step updates only
            its group (the other group's gradients are cleared), which equals separate Adams.
        lr_scheduler: optional, stepped per epoch. metric_weights, landmark_metrics: see
            :class:`~talkzoo.tasks.video.ReenactmentTask`.

    Raises:
        ConfigError: bad option values. MissingWeightsError / DataError: a missing or mismatched
            ``depth_checkpoint`` or ``perceptual_weights`` file (one line naming it).
    """

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        depth_checkpoint: str | None = None,
        depth_num_layers: int = 18,
        num_kp: int = 15,
        estimate_jacobian: bool = False,
        use_depth_in_kp: bool = True,
        use_cam: bool = True,
        cam_query: str = "depth",
        cam_residual: bool = False,
        cam_relu: bool = False,
        kp_block_expansion: int = 32,
        kp_num_blocks: int = 5,
        kp_max_features: int = 1024,
        kp_temperature: float = 0.1,
        kp_scale_factor: float = 0.25,
        gen_block_expansion: int = 64,
        gen_max_features: int = 512,
        gen_num_down: int = 2,
        gen_num_bottleneck: int = 6,
        dense_block_expansion: int = 64,
        dense_num_blocks: int = 5,
        dense_max_features: int = 1024,
        dense_scale_factor: float = 0.25,
        kp_variance: float = 0.01,
        disc_block_expansion: int = 64,
        disc_num_blocks: int = 4,
        disc_max_features: int = 512,
        disc_use_kp: bool = True,
        perceptual_weights: str | None = None,
        perceptual_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        perceptual_scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125),
        lambda_perceptual: float = 10.0,
        lambda_gan: float = 1.0,
        lambda_equivariance: float = 10.0,
        lambda_kp_distance: float = 10.0,
        feature_matching_weights: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0),
        jacobian_equivariance_weight: float = 10.0,
        lambda_l1: float = 0.0,
        kp_distance_alpha: float = 0.2,
        kp_distance_norm: str = "l1",
        kp_distance_mode: str = "faithful",
        tps_sigma_affine: float = 0.05,
        tps_sigma_tps: float = 0.005,
        tps_points: int = 5,
        working_size: int | None = None,
        detail_transfer: bool = False,
        motion_mode: str = "relative",
        eval_motion_mode: str = "absolute",
        adapt_movement_scale: bool = True,
        frame_batch: int = 8,
        optimizer: OptimizerCallable = dagan_adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler,
                         metric_weights=metric_weights, landmark_metrics=landmark_metrics)
        self.automatic_optimization = False
        for name, value, allowed in (("motion_mode", motion_mode, ("relative", "absolute")),
                                     ("eval_motion_mode", eval_motion_mode, ("relative", "absolute")),
                                     ("kp_distance_mode", kp_distance_mode, ("faithful", "surrogate")),
                                     ("kp_distance_norm", kp_distance_norm, ("l1", "l2")),
                                     ("cam_query", cam_query, ("depth", "rgb"))):
            if value not in allowed:
                raise ConfigError(f"DaGAN {name}: expected one of {list(allowed)}, got {value!r}")
        if len(feature_matching_weights) != disc_num_blocks:
            raise ConfigError(f"DaGAN feature_matching_weights: {len(feature_matching_weights)} weights for {disc_num_blocks} discriminator blocks")
        if frame_batch < 1:
            raise ConfigError(f"DaGAN frame_batch must be >= 1, got {frame_batch}")
        self.working_size = working_size
        self.detail_transfer = bool(detail_transfer)
        self.use_depth_in_kp = use_depth_in_kp
        self.estimate_jacobian = estimate_jacobian
        self.motion_mode, self.eval_motion_mode = motion_mode, eval_motion_mode
        self.adapt_movement_scale, self.frame_batch = adapt_movement_scale, frame_batch
        self.lambdas = dict(perceptual=lambda_perceptual, gan=lambda_gan, equivariance=lambda_equivariance,
                            kp_distance=lambda_kp_distance, l1=lambda_l1, jacobian=jacobian_equivariance_weight)
        self.feature_matching_weights = tuple(feature_matching_weights)
        self.kp_distance = dict(alpha=kp_distance_alpha, norm=kp_distance_norm, mode=kp_distance_mode)
        self.tps = dict(sigma_affine=tps_sigma_affine, sigma_tps=tps_sigma_tps, points=tps_points)

        self.kp_detector = KeypointDetector(num_kp, 3 + int(use_depth_in_kp), kp_block_expansion, kp_num_blocks,
                                            kp_max_features, kp_temperature, kp_scale_factor, estimate_jacobian)
        self.generator = DaGANGenerator(num_kp, gen_block_expansion, gen_max_features, gen_num_down, gen_num_bottleneck,
                                        dense_block_expansion, dense_num_blocks, dense_max_features, dense_scale_factor,
                                        kp_variance, use_cam, cam_query, cam_residual, cam_relu)
        self.discriminator = Discriminator(num_kp, disc_block_expansion, disc_num_blocks, disc_max_features,
                                           disc_use_kp, kp_variance)
        self.depth_net: FaceDepthNet | None = None
        self.depth_source = "none"
        if use_depth_in_kp or self.generator.needs_depth:
            self.depth_net = FaceDepthNet(depth_num_layers, scales=(0,))
            if depth_checkpoint is not None:
                state = load_depth_network(depth_checkpoint, depth_num_layers)
                expected = self.depth_net.state_dict()
                missing = [k for k, v in expected.items() if k not in state or state[k].shape != v.shape]
                if missing:
                    raise DataError(f"depth_checkpoint {depth_checkpoint!r} does not match the depth network (e.g. {missing[0]})")
                self.depth_net.load_state_dict({k: state[k] for k in expected})
                self.depth_source = str(depth_checkpoint)
            else:
                self.depth_source = "untrained"
            self.depth_net.requires_grad_(False).eval()
        # the perceptual network stays outside the module tree: not in checkpoints, never trained
        features = VGG19Features(perceptual_weights, layers=perceptual_layers)
        object.__setattr__(self, "_perceptual", PerceptualPyramidLoss(features, perceptual_scales))

    # ------------------------------------------------------------------ plumbing
    def train(self, mode: bool = True) -> DaGAN:
        """Train mode everywhere except the frozen depth network (its BatchNorm stays in eval)."""
        super().train(mode)
        if self.depth_net is not None:
            self.depth_net.eval()
        return self

    def on_fit_start(self) -> None:  # noqa: D102 - Lightning hook
        if self.depth_source == "untrained" and getattr(self.trainer, "ckpt_path", None) is None:
            warnings.warn("DaGAN: no depth_checkpoint given; the depth network is untrained (tests only). " + STAGE1_HINT,
                          stacklevel=1)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The checkpoint carries F_d's weights, so it does not need the stage-1 file to reload."""
        super().on_save_checkpoint(checkpoint)
        if "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = {**checkpoint["hyper_parameters"], "depth_checkpoint": None}

    def _size(self) -> int:
        return int(self.working_size or self.require_spec().image_size)

    def _perceptual_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        loss = self._perceptual
        first = next(loss.features.parameters())
        if first.device != fake.device:
            loss.to(fake.device)
        return loss(fake, real)

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters of the generator step (keypoint detector + generator)."""
        return [*self.kp_detector.parameters(), *self.generator.parameters()]

    def configure_optimizers(self) -> Any:
        """One optimizer, two parameter groups: [generator + keypoint detector, discriminator]."""
        optimizer = self.optimizer_factory([{"params": self.generator_parameters()},
                                            {"params": list(self.discriminator.parameters())}])
        if self.lr_scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.lr_scheduler_factory(optimizer)}

    # ------------------------------------------------------------------ forward pieces
    @torch.no_grad()
    def depth(self, frames: Tensor) -> Tensor | None:
        """``(N, 3, S, S)`` → frozen F_d disparity ``(N, 1, S, S)`` in (0, 1), or None without F_d.

        F_d runs at the next multiple of 32 pixels (S itself for the paper's 256 and the demo's 64).
        """
        if self.depth_net is None:
            return None
        size = frames.shape[-1]
        run = max(32, -(-size // 32) * 32)  # the ResNet/U-Net needs a multiple of 32
        return resize(self.depth_net.depth_map(resize(frames, run)), size)

    def keypoints(self, frames: Tensor, depth: Tensor | None) -> dict[str, Tensor]:
        """Eq. 6: ``{"value": (N, K, 2)[, "jacobian": (N, K, 2, 2)]}`` from RGB(-D) frames."""
        x = torch.cat([frames, depth], 1) if self.use_depth_in_kp else frames
        return self.kp_detector(x)

    def forward_pair(self, source: Tensor, driving: Tensor) -> dict[str, Any]:
        """One reconstruction step on ``(N, 3, S, S)`` pairs at the working size."""
        depth_s, depth_d = self.depth(source), self.depth(driving)
        kp_s, kp_d = self.keypoints(source, depth_s), self.keypoints(driving, depth_d)
        out = self.generator(source, kp_s, kp_d, depth_s)
        out.update(kp_source=kp_s, kp_driving=kp_d, depth_source=depth_s, depth_driving=depth_d)
        return out

    def generator_losses(self, driving: Tensor, out: dict[str, Any]) -> dict[str, Tensor]:
        """Eq. 10 terms (weighted) and their sum ``loss`` for the generator step."""
        lam = self.lambdas
        pred, kp_d = out["prediction"], out["kp_driving"]
        losses: dict[str, Tensor] = {}
        losses["perceptual"] = lam["perceptual"] * self._perceptual_loss(pred, driving)
        if lam["gan"]:
            fake_feats, fake_pred = self.discriminator(pred, kp_d["value"])
            with torch.no_grad():
                real_feats, _ = self.discriminator(driving, kp_d["value"])
            losses["gan"] = lam["gan"] * generator_lsgan_loss(fake_pred)
            losses["feature_matching"] = lam["gan"] * feature_matching_loss(real_feats, fake_feats, self.feature_matching_weights)
        if lam["equivariance"]:
            n = driving.shape[0]
            tps = RandomTPS(n, self.tps["sigma_affine"], self.tps["sigma_tps"], self.tps["points"], device=driving.device, dtype=driving.dtype)
            frame_t = tps.transform_frame(driving)
            depth_t = tps.transform_frame(out["depth_driving"]) if self.use_depth_in_kp else None
            kp_t = self.keypoints(frame_t, depth_t)
            losses["equivariance"] = lam["equivariance"] * equivariance_loss(kp_d["value"], kp_t["value"], tps)
            if self.estimate_jacobian and lam["jacobian"]:
                losses["equivariance_jacobian"] = lam["jacobian"] * jacobian_equivariance_loss(
                    kp_d["jacobian"], kp_t["jacobian"], kp_t["value"], tps)
        if lam["l1"]:
            losses["l1"] = lam["l1"] * (pred - driving).abs().mean()
        kd = lam["kp_distance"] * (keypoint_distance_loss(out["kp_source"]["value"], **self.kp_distance)
                                   + keypoint_distance_loss(kp_d["value"], **self.kp_distance))
        total = sum(losses.values())
        losses["kp_distance"] = kd
        if self.kp_distance["mode"] == "surrogate":
            total = total + kd
        losses["loss"] = total
        return losses

    def discriminator_loss(self, driving: Tensor, prediction: Tensor, kp_driving: Tensor) -> Tensor:
        """LSGAN discriminator objective on real driving frames and detached generated frames."""
        _, real = self.discriminator(driving, kp_driving.detach())
        _, fake = self.discriminator(prediction.detach(), kp_driving.detach())
        return discriminator_lsgan_loss(real, fake)

    def _batch_pairs(self, batch: ReenactmentBatch) -> tuple[Tensor, Tensor]:
        source, driving = _pairs(batch)
        size = self._size()
        return resize(source, size), resize(driving, size)

    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:
        """Generator terms, their sum ``loss``, and the discriminator objective ``discriminator``."""
        source, driving = self._batch_pairs(batch)
        out = self.forward_pair(source, driving)
        losses = self.generator_losses(driving, out)
        if self.lambdas["gan"]:
            losses["discriminator"] = self.discriminator_loss(driving, out["prediction"], out["kp_driving"]["value"])
        return losses

    def training_step(self, batch: ReenactmentBatch, batch_idx: int) -> Tensor:
        """One generator step (keypoint detector + generator) and one discriminator step.

        Both use the same forward pass (as FOMM/DaGAN do): the generator objective is
        back-propagated, the discriminator's gradients from it are cleared, the discriminator
        objective (on the detached output) is back-propagated, and one optimizer step applies
        both — identical to two sequential steps of separate Adams, since neither step's
        gradients touch the other's parameters. One step per batch keeps ``global_step`` equal
        to the number of batches.
        """
        opt = self.optimizers()
        source, driving = self._batch_pairs(batch)
        out = self.forward_pair(source, driving)
        losses = self.generator_losses(driving, out)
        opt.zero_grad(set_to_none=True)
        self.manual_backward(losses["loss"])
        for p in self.discriminator.parameters():
            p.grad = None
        if self.lambdas["gan"]:
            d_loss = self.discriminator_loss(driving, out["prediction"], out["kp_driving"]["value"])
            self.manual_backward(d_loss)
            losses["discriminator"] = d_loss.detach()
        opt.step()
        opt.zero_grad(set_to_none=True)
        self._log_losses({k: v.detach() for k, v in losses.items()}, "train", len(batch))
        return losses["loss"].detach()

    def on_train_epoch_end(self) -> None:  # noqa: D102 - manual optimisation steps the scheduler itself
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()

    # ------------------------------------------------------------------ inference
    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """Reenact ``(B, T, 3, H, W)`` driving frames on ``(B, 3, H, W)`` sources (``motion_mode``).

        Returns ``(B, T, 3, H, W)`` float32 in [0, 1] at the input size. Frames are decoded
        ``frame_batch`` at a time.
        """
        return torch.cat(list(self.generate_stream(source, driving)), dim=1)

    def generate_stream(self, source: Tensor, driving: Iterable[Tensor] | Tensor, mode: str | None = None) -> Iterator[Tensor]:
        """Chunk-by-chunk reenactment (the family's streaming contract): one output chunk per
        driving chunk; the source encoding, its keypoints and the first driving frame's keypoints
        (relative mode) are kept across chunks, so memory is bounded by a chunk, not the video.

        Args:
            source: ``(B, 3, H, W)`` [0, 1]. driving: iterable of ``(B, t_k, 3, H, W)`` chunks or one tensor.
            mode: ``"relative"`` / ``"absolute"``; default :attr:`motion_mode`.

        Yields ``(B, t_k, 3, H, W)`` float32 [0, 1].
        """
        mode = mode or self.motion_mode
        if mode not in ("relative", "absolute"):
            raise ConfigError(f"DaGAN motion mode: expected 'relative' or 'absolute', got {mode!r}")
        if isinstance(driving, Tensor):
            driving = (driving,)
        size = self._size()
        with torch.no_grad():
            src = resize(source.float(), size)
            b = src.shape[0]
            src_full = None  # the source at the output size, for detail_transfer
            depth_s = self.depth(src)
            kp_s = self.keypoints(src, depth_s)
            state = self.generator.encode_source(src, depth_s)
            kp_initial = None
            for chunk in driving:
                if chunk.dim() != 5 or chunk.shape[0] != b:
                    raise DataError(f"DaGAN.generate_stream: driving chunk must be (B={b}, t, 3, H, W), got {tuple(chunk.shape)}")
                t, out_h = chunk.shape[1], chunk.shape[-1]
                pieces = []
                for start in range(0, t, self.frame_batch):
                    frames = chunk[:, start:start + self.frame_batch].float()
                    n = frames.shape[1]
                    flat = resize(frames.flatten(0, 1), size)
                    kp_d = self.keypoints(flat, self.depth(flat))
                    kp_src_n = _expand_kp(kp_s, n)
                    if mode == "relative":
                        if kp_initial is None:
                            kp_initial = {k: v.view(b, n, *v.shape[1:])[:, 0] for k, v in kp_d.items()}
                        kp_d = relative_keypoints(kp_src_n, kp_d, _expand_kp(kp_initial, n), self.adapt_movement_scale)
                    st = {k: v.repeat_interleave(n, 0) for k, v in state.items()}
                    dec = self.generator.decode(st, kp_src_n, kp_d)
                    if self.detail_transfer and size < out_h:
                        if src_full is None or src_full.shape[-1] != out_h:
                            src_full = resize(source.float(), out_h)
                        pred = upsample_with_detail(dec["prediction"], src_full.repeat_interleave(n, 0),
                                                    dec["deformation"], dec["occlusion"])
                    else:
                        pred = resize(dec["prediction"], out_h)
                    pieces.append(pred.clamp(0, 1).view(b, n, 3, out_h, out_h))
                yield torch.cat(pieces, 1)

    def predict_for_metrics(self, batch: ReenactmentBatch) -> Tensor:
        """Self-reenactment of the batch with :attr:`eval_motion_mode` (FOMM reconstruction: absolute)."""
        return torch.cat(list(self.generate_stream(batch.source, batch.driving, mode=self.eval_motion_mode)), dim=1)
