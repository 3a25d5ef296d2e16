"""AMIE: losses against hand-computed values, the MFCC windows, the Table 3 switches, the training
order and gradient isolation, streaming generation, bad input, metadata."""

from __future__ import annotations

import math
import random

import pytest
import torch

from amie_testutils import SIZE, make_batch, tiny_model, tiny_spec
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo_amie import losses
from talkzoo_amie.layers import MFCCWindows
from talkzoo_amie.model import AMIE, VARIANTS, frozen


# ---------------------------------------------------------------------------------- losses
def test_js_mi_matches_hand_computation():
    tj, tm = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    sp = lambda x: math.log(1 + math.exp(x))  # noqa: E731
    expected = -(sp(-2.0) + sp(0.0)) / 2 - (sp(-1.0) + sp(1.0)) / 2
    assert losses.js_mi(tj, tm).item() == pytest.approx(expected, rel=1e-6)
    # an uninformative statistic T = 0 gives -2 log 2
    assert losses.js_mi(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(-2 * math.log(2), rel=1e-6)


def test_dv_mi_matches_hand_computation():
    tj, tm = torch.tensor([1.0, 3.0]), torch.tensor([0.0, math.log(3.0)])
    expected = 2.0 - math.log((1 + 3) / 2)
    assert losses.dv_mi(tj, tm).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ConfigError):
        losses.mi_lower_bound("nwj", tj, tm)


def test_shuffle_indices_is_a_derangement():
    for n in (2, 3, 7):
        for seed in range(5):
            p = losses.shuffle_indices(n, torch.Generator().manual_seed(seed))
            assert sorted(p.tolist()) == list(range(n))
            assert all(p[i] != i for i in range(n))
    with pytest.raises(ConfigError):
        losses.shuffle_indices(1)


def test_attention_rate_schedule_follows_the_three_phases():
    high, low = (0.7, 0.9), (0.1, 0.3)
    assert losses.attention_rate_range(0, (2, 2), high, low) == (0.7, 0.9)
    assert losses.attention_rate_range(1, (2, 2), high, low) == (0.7, 0.9)
    mid = losses.attention_rate_range(2, (2, 2), high, low)
    assert mid == pytest.approx((0.4, 0.6))
    assert losses.attention_rate_range(3, (2, 2), high, low) == pytest.approx(low)
    assert losses.attention_rate_range(4, (2, 2), high, low) == (1.0, 1.0)
    rng = random.Random(0)
    rates = [losses.sample_attention_rate(rng, 0, (2, 2), high, low) for _ in range(200)]
    assert 0.7 <= min(rates) and max(rates) <= 0.9 and max(rates) - min(rates) > 0.1


def test_attend_identity_dims_only_the_masked_area():
    img = torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:, :] = 1
    out = losses.attend_identity(img, mask, 0.25)
    assert torch.allclose(out[..., :2, :], torch.ones(1, 3, 2, 4))
    assert torch.allclose(out[..., 2:, :], torch.full((1, 3, 2, 4), 0.25))
    assert torch.equal(losses.attend_identity(img, mask, 1.0), img)


def test_lip_l1_compares_only_the_lip_box():
    real = torch.zeros(1, 3, 16, 16)
    fake = real.clone()
    fake[..., :4, :] = 1.0  # outside the box
    box = torch.tensor([[4.0, 8.0, 12.0, 14.0]])
    assert losses.lip_l1(fake, real, box, (6, 8)).item() == pytest.approx(0.0, abs=1e-7)
    fake[..., 8:14, 4:12] += 0.5
    assert losses.lip_l1(fake, real, box, (6, 8)).item() == pytest.approx(0.5, abs=0.05)


def test_discriminator_loss_values():
    zero = torch.zeros(4)
    assert losses.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert losses.d_loss(torch.full((4,), 20.0), torch.full((4,), -20.0)).item() < 1e-6
    assert losses.g_adversarial_loss(zero).item() == pytest.approx(math.log(2), rel=1e-6)


# ---------------------------------------------------------------------------------- MFCC windows
def test_mfcc_windows_shape_and_windowed_equals_whole():
    front = MFCCWindows()
    assert (front.hop, front.per_frame) == (32, 640)
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(2, 10 * 640 + 123, generator=gen)
    whole = front(audio, None, 10)
    assert whole.shape == (2, 10, 13, 20)
    parts = torch.cat([front(audio, None, 3, start=0), front(audio, None, 4, start=3), front(audio, None, 3, start=7)], dim=1)
    torch.testing.assert_close(parts, whole, atol=1e-4, rtol=1e-4)


def test_mfcc_c0_follows_loudness_and_padding_is_silence():
    front = MFCCWindows()
    t = torch.arange(4 * 640) / 16000
    tone = torch.sin(2 * torch.pi * 300 * t)
    audio = torch.stack([0.01 * tone, 0.3 * tone])
    c0 = front(audio, None, 4)[:, 1:3, 0].mean(dim=(1, 2))
    assert c0[1] > c0[0] + 5  # 30x louder: log energy up by ~2 log 30 / sqrt-norm
    mask = torch.ones_like(audio, dtype=torch.bool)
    mask[:, 2 * 640 :] = False
    silent_tail = front(audio, mask, 4)[:, 3, 0]
    assert (silent_tail < c0[0] - 5).all()
    with pytest.raises(ConfigError):
        MFCCWindows(sample_rate=16000, fps=30.0, steps=20)  # 533.3 samples per frame


# ---------------------------------------------------------------------------------- model
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_table3_variant_builds_and_trains_a_step(variant):
    model = tiny_model(variant=variant)
    estimator, attention = VARIANTS[variant][0] != "none", VARIANTS[variant][2]
    assert (model.estimator is not None) == estimator and (model.mask_predictor is not None) == attention
    batch = make_batch([4, 3], landmarks=True)
    opt = model.configure_optimizers()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logs = model.optimization_step(batch, opt)
    assert all(torch.isfinite(v) for v in logs.values()), logs
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    expected = {"generator", "discriminator"} | ({"estimator"} if estimator else set())
    assert expected <= changed, changed
    assert ("mi_generated" in logs) == estimator
    if VARIANTS[variant][1]:
        assert "mi_real" in logs  # asymmetric: T trained on real pairs


class _RecordingOptimizer:
    """Wraps an optimizer; records which parameters have a gradient at each ``step``."""

    def __init__(self, optimizer, names):
        self.optimizer, self.names, self.steps = optimizer, names, []

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self):
        self.steps.append({self.names[id(p)].split(".")[0] for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None})
        self.optimizer.step()


def test_training_order_and_each_step_updates_only_its_own_networks():
    model = tiny_model(variant="amie+da")
    names = {id(p): n for n, p in model.named_parameters()}
    rec = _RecordingOptimizer(model.configure_optimizers(), names)
    opt = rec

    class _Lightningish:
        def __init__(self, inner):
            self.optimizer = inner

        def zero_grad(self, set_to_none=True):
            self.optimizer.zero_grad(set_to_none)

        def step(self):
            self.optimizer.step()

    model.optimization_step(make_batch([4, 4], landmarks=True), _Lightningish(opt))
    assert rec.steps == [{"estimator"}, {"discriminator"}, {"generator", "mask_predictor"}]
    model.estimator_steps = 2
    rec.steps.clear()
    model.optimization_step(make_batch([4, 4], landmarks=True), _Lightningish(opt))
    assert rec.steps == [{"estimator"}, {"estimator"}, {"discriminator"}, {"generator", "mask_predictor"}]


def test_estimator_and_discriminator_get_no_gradient_from_the_generator_step():
    model = tiny_model(variant="amie+da")
    batch = make_batch([4, 4], landmarks=True)
    data = model._prepare(batch)
    fake, _ = model.rollout(data["source"], data["mfcc"], 0.5, data["coarse"], None, 2)
    m = batch.frame_mask
    with frozen(model.discriminator, model.estimator):
        g = model.generator_losses(fake[m], data["real"][m], data["mfcc"][m], data["boxes"][m])
        g["loss"].backward()
    assert all(p.grad is None for p in model.estimator.parameters())
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.estimator.parameters())  # restored after the block
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.mask_predictor.parameters())
    # L_mi really depends on T: without freezing, T would receive a gradient
    g2 = model.generator_losses(fake[m].detach(), data["real"][m], data["mfcc"][m], data["boxes"][m])
    g2["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.estimator.parameters())


def test_truncated_backprop_cuts_the_gradient_through_the_previous_frame():
    model = tiny_model(variant="baseline")
    batch = make_batch([5])
    data = model._prepare(batch)
    seen = []
    forward = model.generator.forward

    def spy(identity, mfcc, previous):
        seen.append(previous.grad_fn is not None)
        return forward(identity, mfcc, previous)

    model.generator.forward = spy
    model.rollout(data["source"], data["mfcc"], 1.0, None, None, tbptt=2)
    # frame 0 starts from the source; frames 1 and 3 see a generated frame with its graph;
    # frames 2 and 4 see the frame detached after every 2 frames
    assert seen == [False, True, False, True, False]
    seen.clear()
    model.rollout(data["source"], data["mfcc"], 1.0, None, None, tbptt=None)
    assert seen == [False, True, True, True, True]


def test_attention_rate_is_one_at_evaluation_and_in_the_last_phase():
    model = tiny_model(variant="da", da_phase_epochs=(1, 1))
    model.train()
    assert 0.7 <= model._rate() <= 0.9
    model.eval()
    assert model._rate() == 1.0


def test_stream_equals_whole_clip_and_output_contract():
    model = tiny_model().eval()
    batch = make_batch([9, 7])
    whole = model.generate(batch.audio, batch.source, 9, batch.audio_mask)
    assert whole.shape == (2, 9, 3, SIZE, SIZE) and whole.dtype == torch.float32
    assert 0 <= whole.min() and whole.max() <= 1
    chunks = list(model.generate_stream(batch.audio, batch.source, 9, batch.audio_mask, window_frames=4))
    assert [c.shape[1] for c in chunks] == [4, 4, 1]
    torch.testing.assert_close(torch.cat(chunks, dim=1), whole, atol=1e-5, rtol=1e-5)


def test_reduced_resolution_upsamples_to_the_data_size():
    model = tiny_model(spec=tiny_spec(64), resolution=16, detail_skip=True).eval()
    batch = make_batch([3], size=64)
    out = model.generate(batch.audio, batch.source, 3, batch.audio_mask)
    assert out.shape == (1, 3, 3, 64, 64)


def test_the_lip_box_comes_from_landmarks_or_the_fixed_fraction():
    model = tiny_model()
    lms = torch.zeros(2, 68, 2)
    lms[0, 48:68] = torch.tensor([[10.0, 20.0], [18.0, 24.0]]).repeat(10, 1)
    lms[1] = float("nan")
    boxes = model._boxes_from_landmarks(lms, 2, 1.0, torch.device("cpu"))
    assert boxes[0, 0] < 10 and boxes[0, 2] > 18 and boxes[0, 1] < 20 and boxes[0, 3] > 24
    torch.testing.assert_close(boxes[1], torch.tensor(model.lip_box) * SIZE)


# ---------------------------------------------------------------------------------- bad input
def test_bad_configuration_is_one_clear_error():
    with pytest.raises(ConfigError, match="variant"):
        tiny_model(variant="amie+gan")
    with pytest.raises(ConfigError, match="resolution"):
        tiny_model(resolution=48)
    with pytest.raises(ConfigError, match="exceeds"):
        tiny_model(resolution=64)
    with pytest.raises(ConfigError, match="da_high"):
        tiny_model(da_high=(0.9, 0.7))
    with pytest.raises(ConfigError, match="estimator_steps"):
        tiny_model(estimator_steps=0)


def test_missing_perceptual_file_stops_at_fit_start(tmp_path):
    model = tiny_model(perceptual_weights=str(tmp_path / "vgg19.pth"))  # inference does not need φ
    with pytest.raises(MissingWeightsError, match="vgg19.pth"):
        model.setup("fit")


def test_bad_inference_input_is_one_clear_error():
    model = tiny_model().eval()
    batch = make_batch([3])
    with pytest.raises(DataError, match="source portrait"):
        model.generate(batch.audio, torch.rand(1, 3, 16, 16), 3)
    with pytest.raises(DataError, match="source portrait"):
        model.generate(batch.audio, torch.rand(1, 1, SIZE, SIZE), 3)
    with pytest.raises(DataError, match="mono"):
        model.generate(batch.audio[0], batch.source, 3)
    with pytest.raises(DataError, match="no audio"):
        model.generate(batch.audio[:, :0], batch.source, 3)


def test_checkpoint_does_not_carry_the_perceptual_network():
    model = tiny_model()
    _ = model.perceptual
    assert not any(k.startswith("perceptual") or "_perceptual" in k for k in model.state_dict())


def test_parameter_counts_match_metadata():
    from talkzoo_amie.metadata import PARAMETERS
    from talkzoo_amie.model import build_parameter_count_model, count_trained_parameters

    for config, count in PARAMETERS.items():
        assert count_trained_parameters(build_parameter_count_model(config)) == count, config


def test_metadata_keeps_the_paper_numbers_verbatim():
    from talkzoo_amie.metadata import PLUGIN, TABLE3

    info = PLUGIN.models[0]
    got = {(r.source, r.metric, r.value) for r in info.reported}
    assert ("Table 1", "PSNR", 32.08) in got and ("Table 3", "PSNR", 29.64) in got  # the two disagreeing "Ours"
    assert ("Table 2", "LMD", 0.78) in got and ("Table 2", "SSIM", 0.97) in got
    assert set(TABLE3) == set(VARIANTS)
    assert any("disagree" in r.note for r in info.reported)


def test_js_estimator_learns_to_tell_matched_from_shuffled_pairs():
    """Trained on real pairs alone (the asymmetric step), T_θ's estimate on matched pairs rises above
    its estimate on audio-shuffled pairs (the mouth height follows the audio envelope)."""
    model = tiny_model(variant="amie")
    batch = make_batch([8, 8, 8, 8], seed=1)
    data = model._prepare(batch)
    real, mfcc = data["real"].flatten(0, 1), data["mfcc"].flatten(0, 1)
    opt = torch.optim.Adam(model.estimator.parameters(), lr=3e-3)
    before = model.mi_estimates(real, mfcc)
    for step in range(30):
        perm = losses.shuffle_indices(len(real), torch.Generator().manual_seed(step))
        loss = -losses.js_mi(model.estimator(real, mfcc), model.estimator(real, mfcc[perm]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = model.mi_estimates(real, mfcc)

    assert after["mi_matched"] - after["mi_shuffled"] > 0.2
    assert after["mi_matched"] - after["mi_shuffled"] > before["mi_matched"] - before["mi_shuffled"] + 0.2
