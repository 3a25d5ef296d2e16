"""talkzoo.nn.perceptual: the VGG-19 feature extractor and the pyramid perceptual loss."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.nn.perceptual import PerceptualPyramidLoss, VGG19Features, pyramid_downsample


def test_missing_and_wrong_weight_files_are_one_line_errors(tmp_path):
    with pytest.raises(MissingWeightsError, match="absent.pth"):
        VGG19Features(tmp_path / "absent.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, wrong)
    with pytest.raises(DataError, match="not a VGG-19 state dict"):
        VGG19Features(wrong)
    with pytest.raises(ConfigError, match="unknown"):
        VGG19Features(None, layers=("relu9_9",))


def test_loads_a_full_or_features_only_state_dict_and_matches_torchvision(tmp_path):
    torch.manual_seed(0)
    vgg = torchvision.models.vgg19(weights=None).eval()
    full, feats_only = tmp_path / "full.pth", tmp_path / "features.pth"
    torch.save(vgg.state_dict(), full)
    torch.save(vgg.features.state_dict(), feats_only)
    x = torch.rand(2, 3, 32, 32)
    norm = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = vgg.features[:12](norm)  # up to relu3_1 (index 11)
        for path in (full, feats_only):
            net = VGG19Features(path, layers=("relu1_1", "relu3_1"))
            assert net.pretrained
            out = net(x)
            torch.testing.assert_close(out[1], ref)
            assert out[0].shape == (2, 64, 32, 32)


def test_substitute_is_seeded_frozen_and_stays_in_eval():
    a, b = VGG19Features(None, seed=3), VGG19Features(None, seed=3)
    assert not a.pretrained and "not perceptual" in a.source
    torch.testing.assert_close(a.features[0].weight, b.features[0].weight)
    assert not any(p.requires_grad for p in a.parameters())
    a.train()
    assert not a.training


def test_pyramid_loss_zero_for_equal_positive_otherwise_with_gradient_and_hand_reference():
    torch.manual_seed(0)
    feats = VGG19Features(None, layers=("relu1_1", "relu2_1"))
    loss = PerceptualPyramidLoss(feats, scales=(1.0, 0.5), layer_weights=(1.0, 2.0))
    real = torch.rand(2, 3, 32, 32)
    fake = torch.rand(2, 3, 32, 32, requires_grad=True)
    assert float(loss(real, real)) == 0.0
    value = loss(fake, real)
    value.backward()
    assert float(value) > 0 and float(fake.grad.abs().sum()) > 0
    with torch.no_grad():
        ref = 0.0
        for s in (1.0, 0.5):
            fa, ra = feats(pyramid_downsample(fake, s)), feats(pyramid_downsample(real, s))
            ref += sum(w * (a - b).abs().mean() for w, a, b in zip((1.0, 2.0), fa, ra))
    assert float(value) == pytest.approx(float(ref), rel=1e-5)
    # small images skip the layers they cannot reach (8 px reaches relu4_1 but not relu5_1)
    assert len(VGG19Features(None)(torch.rand(1, 3, 8, 8))) == 4
    assert pyramid_downsample(real, 0.25).shape == (2, 3, 8, 8)
    torch.testing.assert_close(pyramid_downsample(real, 0.5), F.interpolate(real, scale_factor=0.5, mode="bilinear", antialias=True))
