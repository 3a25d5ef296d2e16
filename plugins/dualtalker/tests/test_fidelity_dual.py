"""DualTalker Eq. 2 and Table IV "w/o Dual" against the paper (issue 19, items 1, 2 and 4)."""

from __future__ import annotations

import pytest
import torch
from dualtalker_testutils import make_batch, tiny_model

from talkzoo.errors import ConfigError


def _features(model, batch, total):
    net = model.network
    x = net.audio_encoder_proj(net.encode_audio(batch.audio, batch.audio_mask, total, total))
    y = net.motion_encoder(batch.displacements.reshape(batch.vertices.shape[0], total, -1))
    return x, y, net.style(batch.speaker)


@pytest.mark.parametrize("options", [{}, {"primal_query": "motion", "cross_attention_mask": "diagonal", "num_layers": 2}])
def test_dual_autoregressive_feeds_back_its_own_predictions(options):
    """Eq. 2: â_t = LipReading(â_<t, S_n, M). The cached loop must equal a teacher-forced pass on its
    own re-encoded predictions (frame t sees only â_<t), and differ from teacher forcing on the truth."""
    model = tiny_model(ppe_period=6, bias_period=5, **options).eval()
    total = 13
    batch = make_batch([total])
    with torch.no_grad():
        x, y, style = _features(model, batch, total)
        audio_ar, hidden_ar = model.network.dual_autoregressive(y, style, total)
        x_own = model.network.audio_encoder_proj(audio_ar)
        audio_forced, hidden_forced = model.network.dual_teacher_forced(y, style, x_own)
        audio_truth, _ = model.network.dual_teacher_forced(y, style, x)
    assert audio_ar.shape == audio_truth.shape and hidden_ar.shape == (1, total, 16)
    torch.testing.assert_close(audio_ar, audio_forced, rtol=0, atol=1e-5)
    torch.testing.assert_close(hidden_ar, hidden_forced, rtol=0, atol=1e-5)
    torch.testing.assert_close(audio_ar[:, 0], audio_truth[:, 0], rtol=0, atol=1e-6)  # frame 0: start token only
    assert (audio_ar[:, 1:] - audio_truth[:, 1:]).abs().max() > 1e-4  # later frames see their own â


def test_dual_autoregressive_option_in_training_losses():
    batch = make_batch([9, 6])
    forced = tiny_model()
    ar = tiny_model(dual_autoregressive=True)
    ar.load_state_dict(forced.state_dict())
    lf, la = forced.compute_losses(batch), ar.compute_losses(batch)
    torch.testing.assert_close(lf["primal_mse"], la["primal_mse"])
    assert not torch.allclose(lf["dual_mse"], la["dual_mse"])
    la["loss"].backward()
    assert ar.network.audio_decoder.weight.grad is not None and ar.network.audio_decoder.weight.grad.abs().sum() > 0


def test_without_dual_only_the_facial_animator_trains():
    """Table IV "w/o Dual Training": "only train the facial animator module": no L_Dual, L_DR or L_CCRL."""
    batch = make_batch([10, 7])
    model = tiny_model(use_dual=False)
    losses = model.compute_losses(batch)
    assert set(losses) == {"loss", "primal_mse"}
    torch.testing.assert_close(losses["loss"], losses["primal_mse"])
    losses["loss"].backward()
    assert model.network.audio_decoder.weight.grad is None
    assert model.network.layers[0].cross.value_proj["dual"].weight.grad is None


@pytest.mark.parametrize("weighting,reduction", [("kernel", "mean"), ("anchor", "sum")])
def test_ccrl_options_reach_the_loss(weighting, reduction):
    from talkzoo_dualtalker.losses import consistency_loss

    batch = make_batch([8])
    model = tiny_model(ccrl_weighting=weighting, ccrl_reduction=reduction, ccrl_sigma=0.01).eval()
    with torch.no_grad():
        losses = model.compute_losses(batch)
        x, y, _ = _features(model, batch, 8)
        motion = batch.displacements.reshape(1, 8, -1)
        pred = model.network.primal_teacher_forced(x, model.network.style(batch.speaker), motion)[0]
        audio_pred = model.network.dual_teacher_forced(y, model.network.style(batch.speaker), x)[0]
        x_hat, y_hat = model.network.audio_encoder_proj(audio_pred), model.network.motion_encoder(pred)
        kw = dict(sigma=0.01, weighting=weighting, reduction=reduction)
        expected = consistency_loss(x, y, motion, batch.frame_mask, **kw) + consistency_loss(
            x_hat, y_hat, motion, batch.frame_mask, **kw
        )
    torch.testing.assert_close(losses["ccrl"], expected.mean(), rtol=1e-5, atol=1e-7)


def test_bad_ccrl_option_is_a_config_error():
    with pytest.raises(ConfigError, match="ccrl_weighting"):
        tiny_model(ccrl_weighting="barbano")
    with pytest.raises(ConfigError, match="ccrl_reduction"):
        tiny_model(ccrl_reduction="max")
