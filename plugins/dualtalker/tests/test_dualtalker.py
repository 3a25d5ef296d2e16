"""Unit tests of the DualTalker plugin (CPU, tiny configurations)."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from dualtalker_testutils import VERTS, make_batch, one_thread, select, tiny_model, tiny_spec  # noqa: F401 (fixture)
from talkzoo.nn.positional import sinusoidal_encoding
from talkzoo_dualtalker.layers import SpeakerAwareGate, alibi_slopes, temporal_bias
from talkzoo_dualtalker.losses import consistency_loss, masked_mse, masked_smooth_l1, rbf_bandwidth
from talkzoo_dualtalker.model import DualTalker


# ---------------------------------------------------------------------------------- packaging
def test_package_and_metadata_import_no_torch():
    code = (
        "import sys, talkzoo_dualtalker, talkzoo_dualtalker.metadata as m; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "info = m.PLUGIN.models[0]; assert info.class_path == 'talkzoo_dualtalker.model.DualTalker'; "
        "print(info.parameters)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_lazy_model_attribute_and_entry_point():
    import talkzoo_dualtalker
    from importlib.metadata import entry_points

    assert talkzoo_dualtalker.DualTalker is DualTalker
    eps = [ep for ep in entry_points(group="talkzoo.plugins") if ep.name == "dualtalker"]
    assert eps and eps[0].value == "talkzoo_dualtalker.metadata:PLUGIN"
    plugin = eps[0].load()
    assert plugin.api_version == 1 and plugin.models[0].family == "audio-to-mesh"


# ---------------------------------------------------------------------------------- shapes
def test_shapes_losses_and_generate():
    model = tiny_model()
    batch = make_batch([14, 9, 11])
    losses = model.compute_losses(batch)
    assert set(losses) == {"loss", "primal_mse", "dual_mse", "duality_reg", "ccrl"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        out = model.generate(batch.audio, batch.template, batch.speaker, num_frames=14, audio_mask=batch.audio_mask)
        default_len = model.generate(batch.audio[:1], batch.template[:1])
    assert out.shape == (3, 14, VERTS, 3) and out.dtype == torch.float32
    assert default_len.shape == (1, 14, VERTS, 3)  # frames_for_audio of the longest audio
    # zero-initialised decoder: the untrained model outputs the template
    zero = tiny_model(zero_init_motion_decoder=True).eval()
    with torch.no_grad():
        still = zero.generate(batch.audio, batch.template, None, num_frames=5, audio_mask=batch.audio_mask)
    torch.testing.assert_close(still, batch.template[:, None].expand(-1, 5, -1, -1))


def test_positional_encoding_and_bias_have_no_length_limit():
    pe = sinusoidal_encoding(torch.arange(2000), 16, period=30)
    torch.testing.assert_close(pe[:30], pe[1950:1980])
    torch.testing.assert_close(pe[0, 0::2], torch.zeros(8))
    slopes = alibi_slopes(4)
    torch.testing.assert_close(slopes, torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]))
    bias = temporal_bias(torch.arange(70), torch.arange(70), slopes, 30, "biased")
    assert bias[0, 65, 5].item() == pytest.approx(-0.25 * 2)  # floor(60 / 30) = 2 periods back
    assert bias[1, 40, 35].item() == 0.0 and math.isinf(bias[2, 3, 4].item())
    diag = temporal_bias(torch.arange(4), torch.arange(4), slopes, 30, "diagonal")
    assert torch.isfinite(diag[0]).equal(torch.eye(4, dtype=torch.bool))


def test_generate_beyond_600_frames(one_thread):
    model = tiny_model(num_layers=1).eval()
    batch = make_batch([650])
    with torch.no_grad():
        out = model.generate(batch.audio, batch.template, batch.speaker, num_frames=650)
    assert out.shape == (1, 650, VERTS, 3) and torch.isfinite(out).all()


# ---------------------------------------------------------------------------------- masking
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"teacher_forcing": False},
        {"primal_query": "motion", "cross_attention_mask": "diagonal", "num_layers": 2, "norm_first": True},
        {"style_in_tokens": True, "start_token": "learned", "ccrl_sigma": 0.02},
    ],
)
def test_batch_loss_equals_mean_of_single_sequences(options):
    model = tiny_model(**options).eval()
    batch = make_batch([14, 9, 11])
    batched = model.compute_losses(batch)
    singles = [model.compute_losses(select(batch, b)) for b in range(3)]
    for key, value in batched.items():
        reference = torch.stack([s[key] for s in singles]).mean()
        torch.testing.assert_close(value, reference, rtol=1e-5, atol=1e-7, msg=key)


def test_batch_gradients_equal_single_sequences():
    model = tiny_model().eval()
    batch = make_batch([12, 7])
    model.zero_grad()
    model.compute_losses(batch)["loss"].backward()
    batched = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    sum(model.compute_losses(select(batch, b))["loss"] for b in range(2)).div(2).backward()
    for name, p in model.named_parameters():
        if name in batched:
            torch.testing.assert_close(batched[name], p.grad, rtol=1e-4, atol=1e-9, msg=name)


def test_batched_generation_matches_single():
    model = tiny_model().eval()
    batch = make_batch([14, 9])
    with torch.no_grad():
        both = model.generate(batch.audio, batch.template, batch.speaker, num_frames=14, audio_mask=batch.audio_mask)
        one = select(batch, 1)
        alone = model.generate(one.audio, one.template, one.speaker, num_frames=9, audio_mask=one.audio_mask)
    torch.testing.assert_close(both[1, :9], alone[0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- losses
def _ccrl_numpy(x, y, m, sigma, tau=1.0):
    """Eqs. 9–10 written out with loops (independent of the torch implementation)."""
    x, y, m = (np.asarray(a, dtype=np.float64) for a in (x, y, m))
    length = len(x)

    def cos(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    w = np.array([[math.exp(-np.sum((m[k] - m[t]) ** 2) / (2 * sigma**2)) for t in range(length)] for k in range(length)])
    total = 0.0
    for k in range(length):
        s_prime = 0.0
        for t in range(length):
            if t != k:
                s_prime += math.exp(cos(x[k], y[t]) * (1 - w[k, t]) / tau) + math.exp(cos(x[k], x[t]) * (1 - w[k, t]) / tau)
        total += -(w[k, k] / w[k].sum()) * math.log(math.exp(cos(x[k], y[k]) / tau) / s_prime)
    return total / length


def test_ccrl_against_hand_computation_on_three_frames():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.2], [0.1, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    m = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)  # GT motion, 1-D; sigma = 1
    # kernel weights by hand: |0-1|^2/2 = 0.5, |0-3|^2/2 = 4.5, |1-3|^2/2 = 2
    w = [[1.0, math.exp(-0.5), math.exp(-4.5)], [math.exp(-0.5), 1.0, math.exp(-2.0)], [math.exp(-4.5), math.exp(-2.0), 1.0]]
    r2, r104, r125 = math.sqrt(2.0), math.sqrt(1.04), math.sqrt(1.25)
    # cosines by hand: s_inter[k][t] = cos(x_k, y_t), s_intra[k][t] = cos(x_k, x_t)
    s_inter = [
        [1 / r104, 0.1 / math.sqrt(1.01), -1 / r125],
        [0.2 / r104, 1 / math.sqrt(1.01), 0.5 / r125],
        [1.2 / (r2 * r104), 1.1 / (r2 * math.sqrt(1.01)), -0.5 / (r2 * r125)],
    ]
    s_intra = [[1.0, 0.0, 1 / r2], [0.0, 1.0, 1 / r2], [1 / r2, 1 / r2, 1.0]]
    anchors = []
    for k in range(3):
        s_prime = sum(
            math.exp(s_inter[k][t] * (1 - w[k][t])) + math.exp(s_intra[k][t] * (1 - w[k][t])) for t in range(3) if t != k
        )
        anchors.append(-(w[k][k] / sum(w[k])) * math.log(math.exp(s_inter[k][k]) / s_prime))
    by_hand = sum(anchors) / 3
    assert _ccrl_numpy(x, y, m, 1.0) == pytest.approx(by_hand, rel=1e-12)
    got = consistency_loss(x[None], y[None], m[None], torch.ones(1, 3, dtype=torch.bool), sigma=1.0)
    assert got.shape == (1,)
    assert got.item() == pytest.approx(by_hand, rel=1e-10)
    got32 = consistency_loss(x[None].float(), y[None].float(), m[None].float(), torch.ones(1, 3, dtype=torch.bool), 1.0)
    assert got32.item() == pytest.approx(by_hand, rel=1e-5)


def test_ccrl_masking_median_bandwidth_and_temperature():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 5, generator=gen)
    y = torch.randn(2, 6, 5, generator=gen)
    m = torch.randn(2, 6, 4, generator=gen)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    got = consistency_loss(x, y, m, mask, sigma=None, temperature=0.5)
    for b, n in enumerate([6, 4]):
        frames = m[b, :n].numpy().astype(np.float64)
        dists = sorted(np.linalg.norm(frames[i] - frames[j]) for i in range(n) for j in range(i + 1, n))
        sigma = dists[(len(dists) - 1) // 2]  # lower median
        assert rbf_bandwidth(m[b : b + 1, :n], mask[b : b + 1, :n]).item() == pytest.approx(sigma, rel=1e-6)
        assert got[b].item() == pytest.approx(_ccrl_numpy(x[b, :n], y[b, :n], m[b, :n], sigma, tau=0.5), rel=1e-5)
    # a one-frame sequence has no negatives and contributes 0
    assert consistency_loss(x[:, :1], y[:, :1], m[:, :1], mask[:, :1]).abs().max().item() == 0.0


def test_mse_and_smooth_l1_are_masked_per_sequence():
    pred = torch.tensor([[[0.0, 2.0], [1.0, 1.0], [9.0, 9.0]]])
    target = torch.tensor([[[0.5, 0.0], [1.0, 3.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False]])
    # squared errors of real frames: 0.25, 4, 0, 4 → mean 2.0625
    assert masked_mse(pred, target, mask).item() == pytest.approx(2.0625)
    # smooth L1 (beta 1): 0.125, 1.5, 0, 1.5 → mean 0.78125
    assert masked_smooth_l1(pred, target, mask, beta=1.0).item() == pytest.approx(0.78125)


def test_total_loss_is_the_lambda_weighted_sum():
    model = tiny_model(lambda_primal=2.0, lambda_dual=0.3, lambda_dr=0.05, lambda_ccrl=0.7).eval()
    losses = model.compute_losses(make_batch([10, 8]))
    expected = 2.0 * losses["primal_mse"] + 0.3 * losses["dual_mse"] + 0.05 * losses["duality_reg"] + 0.7 * losses["ccrl"]
    torch.testing.assert_close(losses["loss"], expected)


def test_primal_loss_matches_manual_reference():
    model = tiny_model().eval()
    batch = make_batch([6])
    with torch.no_grad():
        feats = model.network.encode_audio(batch.audio, batch.audio_mask, 6, 6)
        x = model.network.audio_encoder_proj(feats)
        style = model.network.style(batch.speaker)
        pred, _ = model.network.primal_teacher_forced(x, style, batch.displacements.reshape(1, 6, -1))
        manual = ((pred - batch.displacements.reshape(1, 6, -1)) ** 2).mean()
        assert model.compute_losses(batch)["primal_mse"].item() == pytest.approx(manual.item(), rel=1e-6)


# ---------------------------------------------------------------------------------- modules
def test_speaker_aware_gate_dimensions():
    gate = SpeakerAwareGate(128, reduction=16)
    assert tuple(gate.fc1.weight.shape) == (16, 256)  # 2d -> 2d/16
    assert tuple(gate.fc2.weight.shape) == (128, 16)  # 2d/16 -> d
    style, x = torch.randn(3, 128), torch.randn(3, 5, 128)
    out = gate(style, x)
    assert out.shape == x.shape
    ratio = out / x
    assert bool(((ratio > 0) & (ratio < 1)).all())  # Sigmoid weights in (0, 1) gate Ŷ (Eq. 5)
    # the weights depend on the speaker
    assert not torch.allclose(gate(torch.randn(3, 128), x), out)
    assert tuple(SpeakerAwareGate(256).fc1.weight.shape) == (32, 512)


def test_weight_tying_shares_parameters_across_branches():
    model = tiny_model(num_layers=2)
    for layer in model.network.layers:
        cross = layer.cross
        assert cross.value_proj["primal"] is not cross.value_proj["dual"]
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(id(p) for p in model.parameters()))
    batch = make_batch([10])
    bsz, total = batch.frame_mask.shape
    motion = batch.displacements.reshape(bsz, total, -1)
    feats = model.network.encode_audio(batch.audio, batch.audio_mask, total, total)
    x = model.network.audio_encoder_proj(feats)
    style = model.network.style(batch.speaker)
    cross0 = model.network.layers[0].cross
    shared = [cross0.audio_proj.weight, cross0.motion_proj.weight, model.network.layers[0].self_attn.q_proj.weight,
              model.network.layers[0].gate.fc1.weight, model.network.motion_encoder.weight, model.network.style.weight]  # fmt: skip
    grads = {}
    for branch in ("primal", "dual"):
        model.zero_grad()
        if branch == "primal":
            out, _ = model.network.primal_teacher_forced(x, style, motion)
        else:
            out, _ = model.network.dual_teacher_forced(model.network.motion_encoder(motion), style, x)
        out.pow(2).sum().backward(retain_graph=True)
        grads[branch] = [None if p.grad is None else p.grad.clone() for p in shared]
    for i, p in enumerate(shared):
        assert grads["primal"][i] is not None and grads["primal"][i].abs().sum() > 0, f"primal grad {i}"
        assert grads["dual"][i] is not None and grads["dual"][i].abs().sum() > 0, f"dual grad {i}"
    # W_{Q_X} = W_{K_X̄}: in the primal branch audio_proj makes the queries, in the dual branch the keys
    shared_vo = tiny_model(share_value_output=True, share_feedforward=True)
    assert shared_vo.network.layers[0].cross.value_proj["primal"] is shared_vo.network.layers[0].cross.value_proj["dual"]
    assert shared_vo.network.layers[0].ff["primal"] is shared_vo.network.layers[0].ff["dual"]
    assert shared_vo.num_parameters() < model.num_parameters() - 0  # sharing removes parameters


def test_diagonal_mask_with_audio_query_ignores_the_query():
    """Documents the degenerate case: paper direction + alignment mask → W_Q/W_K get no gradient."""
    model = tiny_model(cross_attention_mask="diagonal")
    batch = make_batch([8])
    model.compute_losses(batch)["primal_mse"].backward()
    cross = model.network.layers[0].cross
    assert cross.audio_proj.weight.grad is None or cross.audio_proj.weight.grad.abs().max() == 0


# ---------------------------------------------------------------------------------- ablations
def test_ablation_switches_remove_terms():
    batch = make_batch([10, 7])
    no_dual = tiny_model(use_dual=False).eval()  # "only train the facial animator module" (#19)
    losses = no_dual.compute_losses(batch)
    assert set(losses) == {"loss", "primal_mse"}
    torch.testing.assert_close(losses["loss"], losses["primal_mse"])
    losses["loss"].backward()
    assert no_dual.network.audio_decoder.weight.grad is None
    assert no_dual.network.layers[0].cross.value_proj["dual"].weight.grad is None

    no_ccrl = tiny_model(use_consistency=False).eval()
    losses = no_ccrl.compute_losses(batch)
    assert set(losses) == {"loss", "primal_mse", "dual_mse", "duality_reg"}
    torch.testing.assert_close(
        losses["loss"], losses["primal_mse"] + 1e-8 * losses["dual_mse"] + 1e-6 * losses["duality_reg"]
    )
    neither = tiny_model(use_dual=False, use_consistency=False).eval()
    losses = neither.compute_losses(batch)
    assert set(losses) == {"loss", "primal_mse"}
    torch.testing.assert_close(losses["loss"], losses["primal_mse"])


# ---------------------------------------------------------------------------------- inference cache
def _naive_generate(model: DualTalker, x, style, num_frames):
    """Autoregression without any cache: re-run the whole parallel stack on the prefix each frame."""
    motion = torch.zeros(x.shape[0], 0, model.vertex_dim)
    for t in range(num_frames):
        padded = torch.cat([motion, torch.zeros(x.shape[0], 1, model.vertex_dim)], dim=1)
        pred, _ = model.network.primal_teacher_forced(x[:, : t + 1], style, padded)
        motion = torch.cat([motion, pred[:, t : t + 1]], dim=1)
    return motion


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"cross_attention_mask": "causal", "num_layers": 2},
        {"cross_attention_mask": "diagonal"},
        {"primal_query": "motion", "cross_attention_mask": "diagonal", "num_layers": 2},
        {"primal_query": "motion", "cross_attention_mask": "biased", "norm_first": True, "style_in_tokens": True},
    ],
)
def test_cached_generation_equals_naive_loop_and_teacher_forcing(options):
    model = tiny_model(ppe_period=6, bias_period=5, **options).eval()
    batch = make_batch([17])
    total = 17
    with torch.no_grad():
        x = model.network.audio_encoder_proj(model.network.encode_audio(batch.audio, batch.audio_mask, total, total))
        style = model.network.style(batch.speaker)
        cached, _ = model.network.primal_autoregressive(x, style, total)
        naive = _naive_generate(model, x, style, total)
        forced, _ = model.network.primal_teacher_forced(x, style, cached)
        generated = model.generate(batch.audio, batch.template, batch.speaker, num_frames=total, audio_mask=batch.audio_mask)
    assert cached.abs().max() > 1e-3  # a non-trivial sequence
    torch.testing.assert_close(cached, naive, rtol=0, atol=1e-5)
    torch.testing.assert_close(cached, forced, rtol=0, atol=1e-5)
    torch.testing.assert_close(generated, batch.template[:, None] + cached.view(1, total, VERTS, 3), rtol=0, atol=1e-6)


def test_unseen_speaker_uses_configured_training_style():
    model = tiny_model(unseen_speaker="b").eval()
    batch = make_batch([8], speakers=[-1])
    with torch.no_grad():
        unseen = model.generate(batch.audio, batch.template, batch.speaker, num_frames=8)
        as_b = model.generate(batch.audio, batch.template, torch.tensor([1]), num_frames=8)
        default = model.generate(batch.audio, batch.template, None, num_frames=8)
    torch.testing.assert_close(unseen, as_b)
    torch.testing.assert_close(default, as_b)
    assert torch.isfinite(model.compute_losses(batch)["loss"])


# ---------------------------------------------------------------------------------- training
def _train(model: DualTalker, batch, steps: int, lr: float = 2e-3) -> list[float]:
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        losses = model.compute_losses(batch)
        losses["loss"].backward()
        opt.step()
        history.append(losses["primal_mse"].item())
    return history


@pytest.mark.parametrize("primal_query, steps, factor", [("audio", 80, 0.5), ("motion", 40, 0.3)])
def test_tiny_config_trains_and_loss_falls(primal_query, steps, factor, one_thread):
    # decimetre-scale motion so that a few Adam steps (whose size is ~lr, not relative) show the fall
    batch = make_batch([16, 12], amplitude=0.3)
    model = tiny_model(primal_query=primal_query, lambda_dual=1e-3, lambda_dr=1e-3, lambda_ccrl=1e-3, zero_init_motion_decoder=True)
    history = _train(model, batch, steps, lr=2e-3)
    assert history[-1] < factor * history[0], history


def test_autoregressive_training_and_scheduled_sampling_step(one_thread):
    batch = make_batch([8, 6], amplitude=0.3)
    for options in ({"teacher_forcing": False}, {"scheduled_sampling": 0.5}):
        model = tiny_model(**options)
        history = _train(model, batch, 8)
        assert all(math.isfinite(h) for h in history) and history[-1] < history[0], (options, history)


def test_lightning_training_and_validation_steps():
    import lightning as L

    batch = make_batch([10, 8])
    loader = torch.utils.data.DataLoader([batch, batch], batch_size=None)
    model = tiny_model()
    trainer = L.Trainer(
        max_steps=2, limit_val_batches=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    assert "val/loss" in trainer.callback_metrics and "val/MVE" in "".join(trainer.callback_metrics)
    # the encoder is stored as the config that rebuilds it, never as a module (weights live once)
    assert model.hparams["audio_encoder"]["class_path"] == "talkzoo.audio.encoders.MelSpectrogramEncoder"
    assert model.hparams["spec"]["num_vertices"] == VERTS


def test_config_errors():
    from talkzoo.errors import ConfigError, DataError

    with pytest.raises(ConfigError):
        tiny_model(primal_query="text")
    with pytest.raises(ConfigError):
        tiny_model(cross_attention_mask="full")
    with pytest.raises(ConfigError):
        DualTalker(spec=None)
    model = tiny_model()
    with pytest.raises(DataError):
        model.compute_losses(make_batch([5], num_vertices=VERTS + 1))


def test_jsonargparse_builds_encoder_from_class_path():
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(DualTalker, "model")
    cfg = parser.parse_object(
        {
            "model": {
                "spec": tiny_spec().to_dict(),
                "audio_encoder": {"class_path": "talkzoo.audio.encoders.MelSpectrogramEncoder", "init_args": {"n_mels": 20}},
                "d_model": 8,
                "feedforward_dim": 16,
            }
        }
    )
    model = parser.instantiate_classes(cfg).model
    assert isinstance(model, DualTalker) and model.network.audio_dim == 20 and model.network.d_model == 8


# ---------------------------------------------------------------------------------- wav2vec 2.0
def test_tiny_wav2vec2_encoder_end_to_end():
    from talkzoo.audio.encoders import Wav2Vec2Encoder

    from talkzoo.testing.recipes import TINY_SPEECH_ENCODER

    encoder = Wav2Vec2Encoder(config_overrides=dict(TINY_SPEECH_ENCODER))
    model = tiny_model(audio_encoder=encoder)
    assert model.network.audio_decoder.out_features == 32
    assert not any(p.requires_grad for p in encoder.model.feature_extractor.parameters())  # frozen TCN
    batch = make_batch([10, 7])
    losses = model.compute_losses(batch)
    losses["loss"].backward()
    assert any(p.grad is not None for p in encoder.model.encoder.parameters())  # transformer fine-tuned
    model.eval()
    with torch.no_grad():
        assert model.generate(batch.audio, batch.template, batch.speaker, 10, batch.audio_mask).shape == (2, 10, VERTS, 3)


def test_parameter_counts_match_metadata():
    """Paper-size configs with a wav2vec2-base-sized random encoder (~6–10 s on 2 CPU cores)."""
    from talkzoo.audio.encoders import Wav2Vec2Encoder

    from talkzoo_dualtalker import metadata
    from talkzoo_dualtalker.model import build_parameter_count_model

    start = time.perf_counter()
    encoder = Wav2Vec2Encoder(random_init=True)
    assert sum(p.numel() for p in encoder.parameters()) == metadata.WAV2VEC2_BASE_PARAMETERS
    for dataset in ("vocaset", "biwi"):
        model = build_parameter_count_model(dataset, encoder)
        assert model.num_parameters() == metadata.PARAMETERS[dataset], dataset
    shown = metadata.PLUGIN.models[0].parameters
    for dataset, total in metadata.PARAMETERS.items():
        assert shown[dataset] == total
        assert shown[f"{dataset}: wav2vec 2.0 base"] + shown[f"{dataset}: heads (both branches)"] == total
    assert time.perf_counter() - start < 60
