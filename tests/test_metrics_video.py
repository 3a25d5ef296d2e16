"""Tests of the 2D-family metrics: arithmetic on hand-computable cases, random-weight networks.

No pretrained weights are needed: networks are small random stand-ins (or random-weight
SyncNet / LPIPS backbones), and every missing weights file must raise MissingWeightsError.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.metrics import (
    CPBD,
    CSIM,
    LPIPS,
    AverageEuclideanDistance,
    AverageKeypointDistance,
    FramePSNR,
    FrameSSIM,
    FrechetInceptionDistance,
    FrechetVideoDistance,
    LandmarkDistance,
    SyncNet,
    SyncNetLSE,
    cpbd_score,
    frechet_distance,
    sync_scores,
    syncnet_mfcc,
)
from talkzoo.metrics.syncnet import load_syncnet
from talkzoo.metrics.video import _edge_widths


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TinyImageNet(nn.Module):
    """Random stand-in feature network: (N, 3, H, W) -> (N, 6)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x.float())).mean((2, 3)))


class TinyI3D(nn.Module):
    """Random stand-in for I3D: (N, 3, T, S, S) in [-1, 1] -> (N, 5); records what it saw."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv3d(3, 5, 3, padding=1)
        self.seen: list[tuple] = []

    def forward(self, x):
        self.seen.append((tuple(x.shape), float(x.min()), float(x.max())))
        return torch.tanh(self.conv(x)).mean((2, 3, 4)) * 3


class ChannelMean(nn.Module):
    """Hand-computable 'embedding': the per-channel mean of the image, (N, 3)."""

    def forward(self, x):
        return x.mean((2, 3))


def _solid(colors, size: int = 8) -> torch.Tensor:
    """(N, 3, size, size) images of solid colours."""
    c = torch.tensor(colors, dtype=torch.float32)
    return c[:, :, None, None].expand(-1, -1, size, size).clone()


# ------------------------------------------------------------------------------------ Fréchet


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for d in (1, 4, 9):
        a, b = rng.normal(size=(d, d)), rng.normal(size=(d, 2 * d))
        s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T / 3
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
        got = frechet_distance(*(torch.from_numpy(t) for t in (mu1, s1, mu2, s2)))
        assert got.dtype == torch.float64
        assert float(got) == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_frechet_distance_hand_case():
    # Diagonal Gaussians: |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2 = 25 + (1 - 3)^2 + (2 - 4)^2 = 33.
    d = frechet_distance(
        torch.zeros(2), torch.diag(torch.tensor([1.0, 4.0])), torch.tensor([3.0, 4.0]), torch.diag(torch.tensor([9.0, 16.0]))
    )
    assert float(d) == pytest.approx(33.0, abs=1e-12)
    with pytest.raises(DataError):
        frechet_distance(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))


def test_fid_of_a_set_against_itself_is_zero_and_matches_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance as TMFID

    g = _gen(0)
    fake = torch.rand(40, 3, 16, 16, generator=g)
    real = torch.rand(40, 3, 16, 16, generator=g) ** 2
    fid = FrechetInceptionDistance(TinyImageNet(), input_size=(16, 16))
    assert fid.num_features == 6
    fid.update(real, real)
    assert abs(float(fid.compute())) < 1e-6

    ours = FrechetInceptionDistance(TinyImageNet(), input_size=(16, 16))
    ours.update(fake, real)
    tm = TMFID(feature=TinyImageNet(), normalize=True, input_img_size=(3, 16, 16))
    tm.update(real, real=True)
    tm.update(fake, real=False)
    value = float(ours.compute())
    assert value > 1e-3
    assert value == pytest.approx(float(tm.compute()), rel=1e-4)
    # The network is not part of the metric's state dict (kept out of checkpoints).
    assert not any("conv" in k for k in ours.state_dict())


def _frechet_scipy(fake: np.ndarray, real: np.ndarray) -> float:
    """FID of two (N, D) feature sets by the textbook formula (unbiased covariances, scipy sqrtm)."""
    mu1, mu2 = fake.mean(0), real.mean(0)
    s1, s2 = np.cov(fake, rowvar=False), np.cov(real, rowvar=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real))


class TinyImageNet64(TinyImageNet):
    """TinyImageNet computed in float64 (the metric hands the network float32 frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.double()

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x.double())).mean((2, 3)))


# float64 round-off is ~1.1e-16 per operation; the Fréchet distance of 6-d features of ~9
# samples loses a few more digits in sqrtm and the trace difference, so 1e-9 relative leaves
# ~5 orders of magnitude of margin and is still far below any real merge error (a dropped or
# double-counted sample moves FID at the 1e-2 relative level here).
_F64_REL = 1e-9


def test_fid_sum_states_merge_exactly():
    """The metric's promise: sums of features merge, so any split of the samples gives one FID.

    The features are computed once and fed in different splits, so the check does not depend on
    the feature network being batch-size invariant (float32 convolutions are not: issue #18).
    """
    g = _gen(11)
    fake, real = torch.randn(9, 6, generator=g, dtype=torch.float64), torch.randn(9, 6, generator=g, dtype=torch.float64) + 0.3
    whole = FrechetInceptionDistance(TinyImageNet())
    whole.add_features(fake, real=False)
    whole.add_features(real, real=True)
    split = FrechetInceptionDistance(TinyImageNet())
    for lo, hi in ((0, 4), (4, 5), (5, 9)):
        split.add_features(fake[lo:hi], real=False)
        split.add_features(real[lo:hi], real=True)
    assert int(split.fake_n) == int(whole.fake_n) == 9
    ref = _frechet_scipy(fake.numpy(), real.numpy())
    assert float(whole.compute()) == pytest.approx(ref, rel=1e-6)  # compute() returns float32
    assert float(split.compute()) == pytest.approx(float(whole.compute()), rel=_F64_REL)
    torch.testing.assert_close(split.fake_outer, whole.fake_outer, rtol=_F64_REL, atol=0.0)
    # One sample fewer is a visibly different FID: the tolerance above cannot hide a merge bug.
    short = FrechetInceptionDistance(TinyImageNet())
    short.add_features(fake[:8], real=False)
    short.add_features(real, real=True)
    assert abs(float(short.compute()) - float(whole.compute())) > 1e3 * _F64_REL * float(whole.compute())


def test_fid_mask_splits_and_missing_weights(tmp_path):
    g = _gen(1)
    video = torch.rand(2, 6, 3, 16, 16, generator=g)
    target = torch.rand(2, 6, 3, 16, 16, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    video[~mask] = float("nan")  # padding content must never matter
    target[~mask] = float("nan")
    # The feature network runs in float64 so that batches of 9, 4 + 5 and 9 frames give features
    # equal to float64 round-off; a float32 network differs at ~1e-7 relative between batch sizes
    # (issue #18), which says nothing about the metric.
    a = FrechetInceptionDistance(TinyImageNet64())
    a.update(video, target, mask)
    b = FrechetInceptionDistance(TinyImageNet64())
    for i in range(2):  # one clip per update == all at once (sum states)
        b.update(video[i : i + 1], target[i : i + 1], mask[i : i + 1])
    c = FrechetInceptionDistance(TinyImageNet64())
    c.add_fake(video[mask])
    c.add_real(target[mask])
    assert int(a.fake_n) == 9 and int(b.fake_n) == 9 and int(c.real_n) == 9
    assert float(a.compute()) > 0
    assert float(a.compute()) == pytest.approx(float(b.compute()), rel=_F64_REL)
    assert float(a.compute()) == pytest.approx(float(c.compute()), rel=_F64_REL)

    missing = tmp_path / "inception.pt"
    with pytest.raises(MissingWeightsError, match="inception.pt"):
        FrechetInceptionDistance(missing)
    with pytest.raises(MissingWeightsError, match="pt_inception"):
        FrechetInceptionDistance.from_inception_weights(tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    one = FrechetInceptionDistance(TinyImageNet())
    one.update(video[:1, :1], target[:1, :1])
    with pytest.raises(DataError, match="at least 2"):
        one.compute()


def test_fvd_windows_preprocessing_and_self_distance(tmp_path):
    g = _gen(2)
    i3d = TinyI3D()
    fvd = FrechetVideoDistance(i3d, clip_length=4, resize=16)
    video = torch.rand(3, 10, 3, 20, 24, generator=g)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[2, 8:] = False  # 8 real frames -> 2 windows; the others 10 -> 2 windows (stride 4)
    fvd.update(video, video, mask)
    assert int(fvd.fake_n) == 6 and int(fvd.real_n) == 6
    shape, lo, hi = i3d.seen[-1]
    assert shape[1:] == (3, 4, 16, 16)  # (N, C, T, S, S): shorter side to 16, centre crop
    assert lo >= -1.0 and hi <= 1.0 and lo < 0  # scaled to [-1, 1]
    assert abs(float(fvd.compute())) < 1e-6

    other = torch.rand(3, 10, 3, 20, 24, generator=g) * 0.5
    fvd2 = FrechetVideoDistance(TinyI3D(), clip_length=4, resize=16)
    fvd2.update(other, video, mask)
    assert float(fvd2.compute()) > 1e-4

    # A TorchScript file gives the same numbers as the module (net_kwargs={} for a plain net).
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.save(torch.jit.trace(TinyI3D(), torch.zeros(1, 3, 4, 16, 16)), str(path))
    fvd3 = FrechetVideoDistance(path, clip_length=4, resize=16, net_kwargs={})
    fvd3.update(other, video, mask)
    assert float(fvd3.compute()) == pytest.approx(float(fvd2.compute()), rel=1e-5)

    short = torch.rand(1, 3, 3, 16, 16, generator=g)
    with pytest.raises(DataError, match="clip_length"):
        FrechetVideoDistance(TinyI3D(), clip_length=4, resize=16).update(short, short)
    skip = FrechetVideoDistance(TinyI3D(), clip_length=4, resize=16, on_short="skip")
    skip.update(short, short)
    assert int(skip.num_short) == 2 and int(skip.fake_n) == 0
    with pytest.raises(MissingWeightsError, match="i3d_torchscript.pt"):
        FrechetVideoDistance(tmp_path / "absent" / "i3d_torchscript.pt")


# ------------------------------------------------------------------------------------ SyncNet / LSE


@pytest.mark.parametrize("k", [-6, -1, 0, 3, 11])
def test_sync_scores_recovers_known_shift(k):
    g = _gen(3)
    n, d = 60, 32
    audio = torch.randn(n, d, generator=g)
    video = torch.randn(n, d, generator=g)
    for i in range(n):
        if 0 <= i - k < n:
            video[i] = audio[i - k] + 0.05 * torch.randn(d, generator=g)  # video frame i <-> audio frame i - k
    s = sync_scores(video, audio, vshift=15)
    assert s.offset == k
    assert s.mean_dists.shape == (31,)
    assert s.min_dist == pytest.approx(float(s.mean_dists.min()))
    assert s.confidence == pytest.approx(float(s.mean_dists.median() - s.mean_dists.min()))
    assert s.confidence > 3.0


def test_sync_scores_hand_case():
    # vshift=1, zero-padded audio [0, 0, 1, 2, 0]: per-frame distances to shifts -1, 0, +1 are
    # [0, 0, 1], [1, 0, 1], [1, 0, 2]; mean [2/3, 0, 4/3] -> min 0 at shift 0, median 2/3.
    v = torch.tensor([[0.0], [1.0], [2.0]])
    s = sync_scores(v, v.clone(), vshift=1)
    assert s.offset == 0
    assert s.mean_dists.tolist() == pytest.approx([2 / 3, 0, 4 / 3], abs=1e-5)
    assert s.min_dist == pytest.approx(0.0, abs=1e-5)
    assert s.confidence == pytest.approx(2 / 3, abs=1e-5)
    with pytest.raises(DataError):
        sync_scores(v, torch.zeros(2, 1))


# Reference MFCCs of 0.1 s of 0.5 sin(2 pi 220 t) + 0.25 sin(2 pi 1000 t) at 16 kHz, computed with
# python_speech_features 0.6 ``mfcc(signal * 32768, 16000)`` (what syncnet_python runs).
_MFCC_SIGNAL_FRAMES = 9
_MFCC_REF_COL0 = [
    20.91731292, 18.30966655, -9.16447762, -19.49117528, -3.7676599, 17.46935153, 15.66302435,
    -15.04448795, -46.08670435, -49.71667856, -26.0663466, -3.02836774, -0.80438989,
]
_MFCC_REF_COL5 = [
    20.92537565, 19.83370859, -8.14939647, -18.89771193, -2.82755832, 19.24858128, 18.17502081,
    -12.31356934, -43.46915977, -47.50342773, -24.13696643, -1.54715771, 0.22040476,
]


def _mfcc_signal() -> torch.Tensor:
    t = torch.arange(1600, dtype=torch.float64) / 16000
    return 0.5 * torch.sin(2 * math.pi * 220 * t) + 0.25 * torch.sin(2 * math.pi * 1000 * t)


def test_syncnet_mfcc_matches_python_speech_features():
    m = syncnet_mfcc(_mfcc_signal())
    assert m.shape == (13, _MFCC_SIGNAL_FRAMES)  # 1 + ceil((1600 - 400) / 160)
    assert m[:, 0].double().tolist() == pytest.approx(_MFCC_REF_COL0, rel=1e-5, abs=1e-4)
    assert m[:, 5].double().tolist() == pytest.approx(_MFCC_REF_COL5, rel=1e-5, abs=1e-4)
    assert syncnet_mfcc(torch.zeros(16000)).shape == (13, 99)
    with pytest.raises(ConfigError):
        syncnet_mfcc(torch.zeros(100), sample_rate=22050)


def test_syncnet_mfcc_cross_check_with_python_speech_features():
    psf = pytest.importorskip("python_speech_features")
    sig = _mfcc_signal() + 0.01 * torch.randn(1600, generator=_gen(4), dtype=torch.float64)
    ref = psf.mfcc((sig * 32768).numpy(), 16000).T
    np.testing.assert_allclose(syncnet_mfcc(sig).double().numpy(), ref, rtol=1e-4, atol=1e-3)


def test_syncnet_architecture_and_weights_file(tmp_path):
    net = SyncNet().eval()
    with torch.no_grad():
        assert net.forward_aud(torch.randn(2, 1, 13, 20)).shape == (2, 1024)
        assert net.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255).shape == (2, 1024)
    with pytest.raises(MissingWeightsError, match="syncnet_v2.model"):
        load_syncnet(tmp_path / "syncnet_v2.model")
    with pytest.raises(MissingWeightsError, match="syncnet_v2.model"):
        SyncNetLSE(tmp_path / "syncnet_v2.model")
    # A state dict without num_batches_tracked (as files saved by old torch) loads.
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "syncnet_v2.model"
    torch.save(state, path)
    loaded = load_syncnet(path)
    assert torch.equal(loaded.netfcaud[3].weight, net.netfcaud[3].weight)
    torch.save({"bad": torch.zeros(1)}, path)
    with pytest.raises(DataError, match="missing"):
        load_syncnet(path)


def test_lse_metric_clips_short_clips_and_config():
    g = _gen(5)
    net = SyncNet().eval()
    frames = torch.rand(2, 12, 3, 48, 48, generator=g)
    audio = torch.randn(2, 12 * 640, generator=g) * 0.1
    frame_mask = torch.ones(2, 12, dtype=torch.bool)
    frame_mask[1, 7:] = False  # 7 real frames
    audio_mask = torch.ones(2, 12 * 640, dtype=torch.bool)
    with pytest.raises(DataError, match="min_frames=100"):
        SyncNetLSE(net).update(frames, audio, frame_mask, audio_mask)
    lse = SyncNetLSE(net, min_frames=8, on_short="skip")
    lse.update(frames, audio, frame_mask, audio_mask)
    assert int(lse.num_clips) == 1 and int(lse.num_skipped) == 1
    out = lse.compute()
    assert set(out) == {"LSE-D", "LSE-C"}
    assert math.isfinite(float(out["LSE-D"])) and float(out["LSE-C"]) >= 0
    empty = SyncNetLSE(net, min_frames=50, on_short="skip")
    empty.update(frames, audio, frame_mask, audio_mask)
    assert math.isnan(float(empty.compute()["LSE-D"]))
    with pytest.raises(ConfigError, match="25 fps"):
        SyncNetLSE(net, fps=30)
    with pytest.raises(ConfigError, match="16 kHz"):
        SyncNetLSE(net, sample_rate=22050)
    with pytest.raises(ConfigError, match="min_frames"):
        SyncNetLSE(net, min_frames=3)


# ------------------------------------------------------------------------------------ PSNR / SSIM / LPIPS


def test_frame_psnr_is_the_per_frame_mean():
    target = torch.zeros(1, 3, 3, 4, 4)
    preds = target.clone()
    preds[0, 0] += 0.1  # MSE 1e-2 -> 20 dB
    preds[0, 1] += 0.01  # MSE 1e-4 -> 40 dB
    preds[0, 2] = float("nan")  # padding
    mask = torch.tensor([[True, True, False]])
    psnr = FramePSNR()
    psnr.update(preds, target, mask)
    assert float(psnr.compute()) == pytest.approx(30.0, abs=1e-4)  # pooled-MSE PSNR would be 22.97
    with pytest.raises(DataError):
        psnr.update(preds, target[:, :2], mask)


def test_frame_ssim_identical_and_equal_to_torchmetrics():
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    g = _gen(6)
    x = torch.rand(2, 3, 3, 24, 24, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 3, 24, 24, generator=g)).clamp(0, 1)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    ssim = FrameSSIM()
    ssim.update(x, x, mask)
    assert float(ssim.compute()) == pytest.approx(1.0, abs=1e-6)
    ssim = FrameSSIM()
    ssim.update(y, x, mask)
    assert float(ssim.compute()) == pytest.approx(float(tm_ssim(y[mask], x[mask], data_range=1.0)), abs=1e-6)


def test_lpips_random_backbone_and_weights(tmp_path):
    pytest.importorskip("lpips")
    from torchvision.models import alexnet

    g = _gen(7)
    x = torch.rand(1, 2, 3, 32, 32, generator=g)
    y = torch.rand(1, 2, 3, 32, 32, generator=g)
    metric = LPIPS(random_backbone=True)
    metric.update(x, x)
    assert float(metric.compute()) == pytest.approx(0.0, abs=1e-7)
    metric.reset()
    metric.update(y, x)
    assert float(metric.compute()) > 0
    with pytest.raises(MissingWeightsError, match="alexnet-owt-7be5be79.pth"):
        LPIPS(backbone_weights=tmp_path / "alexnet-owt-7be5be79.pth")
    backbone = {k: v for k, v in alexnet().state_dict().items() if k.startswith("features.")}
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(backbone, path)
    loaded = LPIPS(backbone_weights=path)
    assert torch.equal(loaded._net.net.net.slice1[0].weight, backbone["features.0.weight"])
    assert torch.equal(getattr(loaded._net.net.net.slice5, "10").weight, backbone["features.10.weight"])
    torch.save({"features.0.weight": backbone["features.0.weight"]}, path)
    with pytest.raises(DataError, match="lacks"):
        LPIPS(backbone_weights=path)


# ------------------------------------------------------------------------------------ identity


def test_csim_hand_cases_and_random_net(tmp_path):
    red, yellow, green = [1.0, 0, 0], [1.0, 1.0, 0], [0, 1.0, 0]
    preds = _solid([red, yellow, green]).unsqueeze(0)  # (1, 3, 3, 8, 8)
    source = _solid([red])  # (1, 3, 8, 8)
    csim = CSIM(ChannelMean(), input_size=None, input_range="unit")
    csim.update(preds, source)
    assert float(csim.compute()) == pytest.approx((1 + 1 / math.sqrt(2) + 0) / 3, abs=1e-6)
    # Ground-truth frames as reference, with padding ignored.
    mask = torch.tensor([[True, True, False]])
    csim = CSIM(ChannelMean(), input_size=None, input_range="unit")
    csim.update(preds, preds.flip(1), mask)  # frame 0 vs green, frame 1 vs yellow
    assert float(csim.compute()) == pytest.approx((0 + 1) / 2, abs=1e-6)
    video = torch.rand(2, 3, 3, 16, 16, generator=_gen(8))
    rand = CSIM(TinyImageNet(), input_size=(12, 12))
    rand.update(video, video)
    assert float(rand.compute()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(MissingWeightsError, match="arcface.pt"):
        CSIM(tmp_path / "arcface.pt")


def test_aed_hand_cases():
    preds = _solid([[1.0, 0, 0], [0, 0, 0]]).unsqueeze(0)
    target = torch.zeros_like(preds)
    kw = dict(input_size=None, input_range="unit", channel_order="rgb")
    for distance, per_frame in (("l2", [1.0, 0.0]), ("sum_sq", [1.0, 0.0]), ("mean_abs", [1 / 3, 0.0])):
        aed = AverageEuclideanDistance(ChannelMean(), distance=distance, **kw)
        aed.update(preds, target)
        assert float(aed.compute()) == pytest.approx(sum(per_frame) / 2, abs=1e-6)
    two = _solid([[0.6, 0.8, 0]]).unsqueeze(0) * 0.5  # embedding (0.3, 0.4, 0): norm 0.5
    aed = AverageEuclideanDistance(ChannelMean(), distance="l2", **kw)
    aed.update(two, torch.zeros_like(two))
    assert float(aed.compute()) == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ConfigError):
        AverageEuclideanDistance(ChannelMean(), distance="cosine")


def test_akd_hand_cases_missing_detections_and_detector():
    target = torch.zeros(1, 3, 5, 2)
    preds = target + torch.tensor([3.0, 4.0])
    preds[0, 2, 1] = float("nan")  # failed detection in frame 2
    for distance, value in (("l2", 5.0), ("mean_abs", 3.5), ("sum_sq", 125.0)):
        akd = AverageKeypointDistance(distance=distance)
        akd.update(preds, target)
        assert float(akd.compute()) == pytest.approx(value)
        assert int(akd.num_missing) == 1
    detector = lambda frames: frames.mean((2, 3))[:, None, :2] * 100  # noqa: E731 - (N, 1, 2) "keypoints"
    video = _solid([[0.1, 0.2, 0], [0.5, 0.5, 0]]).unsqueeze(0)
    akd = AverageKeypointDistance(detector)
    akd.update(video, torch.zeros_like(video))
    assert float(akd.compute()) == pytest.approx((math.hypot(10, 20) + math.hypot(50, 50)) / 2, rel=1e-5)
    with pytest.raises(DataError, match="detector"):
        AverageKeypointDistance().update(video, video)


def test_lmd_hand_cases():
    g = _gen(9)
    target = torch.rand(1, 2, 68, 2, generator=g) * 100
    target[:, :, 36] = torch.tensor([20.0, 50.0])
    target[:, :, 45] = torch.tensor([70.0, 50.0])  # inter-ocular distance 50
    shifted = target + torch.tensor([5.0, -2.0])
    lmd = LandmarkDistance()
    lmd.update(shifted, target)
    assert float(lmd.compute()) == pytest.approx(0.0, abs=1e-5)  # centred: translation removed
    lmd = LandmarkDistance(center=False)
    lmd.update(shifted, target)
    assert float(lmd.compute()) == pytest.approx(math.sqrt(29), rel=1e-6)
    one = target.clone()
    one[:, :, 50, 0] += 2.0  # one mouth point 2 px right
    one[:, :, 10] += 40.0  # jaw points do not count
    lmd = LandmarkDistance(center=False)
    lmd.update(one, target)
    assert float(lmd.compute()) == pytest.approx(2.0 / 20, rel=1e-6)
    lmd = LandmarkDistance()
    lmd.update(one, target)
    assert float(lmd.compute()) == pytest.approx((1.9 + 19 * 0.1) / 20, rel=1e-6)
    lmd = LandmarkDistance(center=False, normalize="interocular")
    lmd.update(one, target)
    assert float(lmd.compute()) == pytest.approx(0.1 / 50, rel=1e-6)
    one[0, 1, 60] = float("nan")
    lmd = LandmarkDistance(center=False)
    lmd.update(one, target)
    assert int(lmd.num_missing) == 1 and float(lmd.compute()) == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(DataError):
        lmd.update(one[..., :60, :], target[..., :60, :])


# ------------------------------------------------------------------------------------ CPBD


def test_cpbd_edge_width_of_a_ramp():
    img = np.zeros((5, 40))
    img[:, 10:19] = np.linspace(0, 240, 9)  # ramp from column 10 (0) to 18 (240)
    img[:, 19:] = 240
    edges = np.zeros_like(img, dtype=bool)
    edges[2, 12:17] = True
    w = _edge_widths(img, edges)
    assert w[2, 12:17].tolist() == [8.0] * 5  # the distance between the two flat levels
    assert w.sum() == 8.0 * 5
    w = _edge_widths(img[:, ::-1].copy(), edges[:, ::-1].copy())  # falling edge, same width
    assert w[2, 23:28].tolist() == [8.0] * 5


def test_cpbd_blur_scores_lower_and_constant_is_handled():
    from scipy import ndimage

    rng = np.random.default_rng(10)
    sharp = np.kron(rng.integers(0, 2, size=(16, 16)), np.ones((8, 8))) * 200.0 + 20
    blurred = ndimage.gaussian_filter(sharp, 3.0)
    s, b = cpbd_score(sharp), cpbd_score(blurred)
    assert 0.0 <= b < s <= 1.0
    assert s > 0.9 and b < 0.5
    assert cpbd_score(np.full((64, 64), 128.0)) == 0.0
    with pytest.raises(DataError, match="64"):
        cpbd_score(np.zeros((32, 80)))
    video = torch.from_numpy(np.stack([sharp, blurred, sharp]) / 255.0).float()[None, :, None].expand(-1, -1, 3, -1, -1)
    metric = CPBD()
    metric.update(video, torch.tensor([[True, True, False]]))
    assert float(metric.compute()) == pytest.approx((s + b) / 2, abs=1e-3)


def test_pyiqa_metric_reads_what_its_mode_needs_and_loads_local_weights(tmp_path, monkeypatch):
    """PyIQA wraps any pyiqa metric; a stand-in pyiqa module checks the plumbing (full- vs
    no-reference reads, local weights passed as pretrained_model_path, offline download refused)."""
    import sys
    import types

    from talkzoo.errors import MissingWeightsError
    from talkzoo.metrics.video import PyIQA, VideoMetricInputs, update_video_metrics

    calls = {}

    class MeanAbs(torch.nn.Module):
        metric_mode, lower_better = "FR", True

        def forward(self, a, b):
            return (a - b).abs().mean((1, 2, 3))

    class Brightness(torch.nn.Module):
        metric_mode, lower_better = "NR", False

        def forward(self, a):
            return a.mean((1, 2, 3))

    def create_metric(name, as_loss=False, device=None, **options):
        calls[name] = options
        if name == "needs_download":
            raise ConnectionError("offline")
        return MeanAbs() if name == "meanabs" else Brightness()

    monkeypatch.setitem(sys.modules, "pyiqa", types.SimpleNamespace(create_metric=create_metric))
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    fr, nr = PyIQA("meanabs", weights), PyIQA("bright")
    assert calls["meanabs"] == {"pretrained_model_path": str(weights)} and calls["bright"] == {}
    assert fr.reads == ("generated", "real", "mask") and nr.reads == ("generated", "mask")
    assert fr.log_name == "MEANABS@pyiqa" and not fr.higher_is_better and nr.higher_is_better
    gen, real = torch.full((1, 3, 3, 8, 8), 0.5), torch.full((1, 3, 3, 8, 8), 0.25)
    mask = torch.tensor([[True, True, False]])
    update_video_metrics({"a": fr, "b": nr}, VideoMetricInputs(gen, mask, real=real))
    assert float(fr.compute()) == pytest.approx(0.25) and int(fr.count) == 2
    assert float(nr.compute()) == pytest.approx(0.5)
    with pytest.raises(MissingWeightsError, match="weights=PATH"):
        PyIQA("needs_download")
    with pytest.raises(MissingWeightsError, match="not found"):
        PyIQA("meanabs", tmp_path / "absent.pth")


def test_every_2d_metric_declares_what_it_reads():
    """The family tasks update metrics by their ``reads`` alone: each one must declare it, from READS."""
    from talkzoo.metrics import frechet, syncnet, video

    classes = [video.FramePSNR, video.FrameSSIM, video.LPIPS, video.CSIM, video.AverageEuclideanDistance,
               video.AverageKeypointDistance, video.LandmarkDistance, video.CPBD,
               frechet.FrechetInceptionDistance, frechet.FrechetVideoDistance, syncnet.SyncNetLSE]
    for cls in classes:
        assert cls.reads and set(cls.reads) <= set(video.READS), cls
    # a third-party metric plugs in with no core change; one without reads is refused by name
    from torchmetrics import Metric

    class MeanGenerated(Metric):
        reads = ("generated", "mask")

        def __init__(self):
            super().__init__()
            self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

        def update(self, generated, mask):
            self.total += generated[mask].sum()

        def compute(self):
            return self.total

    class NoReads(MeanGenerated):
        reads = ()

    m = MeanGenerated()
    video.update_video_metrics({"mine": m}, video.VideoMetricInputs(torch.ones(1, 2, 3, 4, 4), torch.tensor([[True, False]])))
    assert float(m.compute()) == 48.0
    with pytest.raises(ConfigError, match="declares no 'reads'"):
        video.update_video_metrics({"bad": NoReads()}, video.VideoMetricInputs(torch.ones(1, 1, 3, 4, 4), torch.ones(1, 1, dtype=torch.bool)))
    with pytest.raises(DataError, match="'audio'"):
        lse_like = type("NeedsAudio", (MeanGenerated,), {"reads": ("generated", "audio")})()
        video.update_video_metrics({"x": lse_like}, video.VideoMetricInputs(torch.ones(1, 1, 3, 4, 4), torch.ones(1, 1, dtype=torch.bool)))


def test_frame_l1_is_the_per_frame_mean_absolute_error_and_only_in_the_reenactment_collection():
    from talkzoo.metrics.video import FrameL1, video_metrics

    pred = torch.zeros(1, 3, 3, 4, 4)
    target = torch.zeros(1, 3, 3, 4, 4)
    target[0, 0] = 0.5  # frame 0: |diff| 0.5 everywhere
    target[0, 1, :, :2] = 1.0  # frame 1: half the pixels off by 1 -> 0.5
    target[0, 2] = 0.25  # frame 2 is padding
    mask = torch.tensor([[True, True, False]])
    m = FrameL1()
    m.update(pred, target, mask)
    assert m.compute().item() == pytest.approx(0.5)
    m.update(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.2))
    assert m.compute().item() == pytest.approx((0.5 + 0.5 + 0.2) / 3)
    assert not FrameL1.higher_is_better
    assert "L1" in video_metrics("video-to-video", 32, landmarks=False, identity=None)
    assert "L1" not in video_metrics("audio-to-video", 32, landmarks=False, identity=None)
