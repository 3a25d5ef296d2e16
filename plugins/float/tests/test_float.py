"""FLOAT behaviour: Eq. 14 against a hand computation, the orthonormal basis, flow-matching losses,
window-by-window sampling, emotion/pose controls, the stage-1 checkpoint hand-over, the latent cache."""

import functools

import pytest
import torch

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec
from talkzoo.errors import ConfigError
from talkzoo.testing.synthetic import SyntheticReenactmentDataModule
from talkzoo_float.losses import component_masks, flow_matching_losses, incremental_cfg
from talkzoo_float.metadata import TINY_AE_ARGS, TINY_FLOAT_ARGS
from talkzoo_float.model import EMOTIONS, FLOAT, FLOATMotionAutoEncoder, euler_time_grid, ravdess_emotion
from talkzoo_float.network import MotionBasis, band_mask

SPEC = VideoDataSpec(dataset="synthetic", image_size=16, fps=25.0, sample_rate=16000, speakers=("a",))


def tiny_float(**kw) -> FLOAT:
    args = {**TINY_FLOAT_ARGS, "audio_encoder": MelSpectrogramEncoder(n_mels=8, n_fft=256, win_length=256), **kw}
    return FLOAT(spec=SPEC, **args).eval()


def randomize_zero_init(model: FLOAT) -> FLOAT:
    """Give the zero-initialised AdaLN-Zero and output layers random weights, so conditions matter."""
    torch.nn.init.normal_(model.fmt.final.weight, std=0.5)
    for blk in model.fmt.blocks:
        torch.nn.init.normal_(blk.ada[-1].weight, std=0.5)
    return model


class FieldStub(torch.nn.Module):
    """An FMT stand-in returning one of three known constant fields, chosen by the dropped conditions."""

    def __init__(self, full: float, audio_only: float, uncond: float, prefix: int) -> None:
        super().__init__()
        self.values, self.prefix, self.calls = (full, audio_only, uncond), prefix, []

    def forward(self, x, t, reference, audio, emotion):
        self.calls.append(x.shape[0])
        has_audio = audio[:, self.prefix :].abs().sum(dim=(1, 2)) > 0
        has_emotion = emotion.abs().sum(dim=1) > 0
        value = torch.where(has_audio & has_emotion, self.values[0], torch.where(has_audio, self.values[1], self.values[2]))
        return value[:, None, None].expand_as(x).clone()


def test_incremental_cfg_matches_hand_computation():
    """Eq. 14 with three known fields: v_full = 5, v_audio = 3, v_uncond = 1, gamma_a = 2, gamma_e = 1
    -> 1 + 2 (3 - 1) + 1 (5 - 3) = 7; gamma_e = 3 -> 11. The three branches run as one 3B batch."""
    assert float(incremental_cfg(torch.tensor(5.0), torch.tensor(3.0), torch.tensor(1.0), 2.0, 1.0)) == 7.0
    model = tiny_float()
    stub = FieldStub(5.0, 3.0, 1.0, model.prefix_frames)
    model.fmt = stub
    b, length, d = 2, model.window_frames, model.autoencoder.latent_dim
    x = torch.zeros(b, length, d)
    audio = torch.ones(b, length, 8)
    emotion = torch.zeros(b, 7)
    emotion[:, 3] = 1
    args = (x, 0.3, torch.zeros(b, model.prefix_frames, d), torch.zeros(b, model.prefix_frames, 8), audio, torch.zeros(b, d), emotion)
    v = model.guided_velocity(*args, cfg_audio=2.0, cfg_emotion=1.0)
    torch.testing.assert_close(v, torch.full_like(x, 7.0))
    assert stub.calls == [3 * b]  # one batched call
    v = model.guided_velocity(*args, cfg_audio=2.0, cfg_emotion=3.0)
    torch.testing.assert_close(v, torch.full_like(x, 1 + 2 * 2 + 3 * 2.0))
    v = model.guided_velocity(*args, cfg_audio=1.0, cfg_emotion=1.0)  # gamma = 1: the full branch alone
    torch.testing.assert_close(v, torch.full_like(x, 5.0))
    assert stub.calls[-1] == b


def test_basis_stays_orthonormal_after_training_steps():
    torch.manual_seed(0)
    dm = SyntheticReenactmentDataModule(image_size=16)
    model = FLOATMotionAutoEncoder(spec=dm.spec, **TINY_AE_ARGS, lambda_perceptual=0.0)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    before = model.autoencoder.basis.weight.detach().clone()
    opt = torch.optim.Adam(model.autoencoder.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        model.compute_losses(batch)["loss"].backward()
        opt.step()
    basis = model.autoencoder.basis
    assert not torch.allclose(basis.weight, before), "the basis did not train"
    q = basis.basis().detach()
    torch.testing.assert_close(q.t() @ q, torch.eye(q.shape[1]), atol=1e-5, rtol=0)
    lam = torch.randn(3, q.shape[1])
    torch.testing.assert_close(basis.project(basis(lam)), lam, atol=1e-5, rtol=0)  # Eq. 15


def test_flow_matching_losses_by_hand():
    pred = torch.tensor([[[1.0], [2.0], [4.0]]])  # (1, L'+L = 3, d = 1)
    prefix_t = torch.tensor([[[0.0]]])
    vel_t = torch.tensor([[[1.0], [1.0]]])
    out = flow_matching_losses(pred, prefix_t, vel_t)
    assert float(out["prefix"]) == 1.0  # |1 - 0|
    assert float(out["velocity"]) == 2.0  # (|2-1| + |4-1|) / 2
    # temporal: pred diffs (1, 2), target [0, 1, 1] diffs (1, 0) -> (0 + 2) / 2
    assert float(out["temporal"]) == 1.0
    assert float(out["ot"]) == 3.0


def test_band_mask_and_time_grids():
    m = band_mask(6, 2)
    assert m[0].tolist() == [True, True, True, False, False, False] and m[3].tolist() == [False, True, True, True, True, True]
    assert band_mask(6, None) is None
    assert len(euler_time_grid(10)) == 11 and len(euler_time_grid(10, "linspace")) == 10
    with pytest.raises(ConfigError):
        euler_time_grid(1, "linspace")


def _count_calls(model):
    calls = []
    orig = model.fmt.forward

    def wrapped(x, *a):
        calls.append(tuple(x.shape))
        return orig(x, *a)

    model.fmt.forward = wrapped
    return calls


@pytest.mark.parametrize("grid, steps", [("uniform", 3), ("linspace", 2)])
def test_nfe_counts_network_calls(grid, steps):
    model = tiny_float(nfe=3, time_grid=grid, cfg_audio=1.0, cfg_emotion=1.0)
    calls = _count_calls(model)
    model.generate(torch.randn(1, 16000 * 4 // 25), torch.rand(1, 3, 16, 16), num_frames=4)
    assert len(calls) == steps


def test_stream_equals_generate_and_windows_are_bounded():
    torch.manual_seed(0)
    model = tiny_float()
    calls = _count_calls(model)
    audio, source = 0.1 * torch.randn(2, 16000 * 11 // 25), torch.rand(2, 3, 16, 16)
    chunks = list(model.generate_stream(audio, source, num_frames=11, seed=3))
    assert [c.shape[1] for c in chunks] == [4, 4, 3]
    whole = model.generate(audio, source, num_frames=11, seed=3)
    torch.testing.assert_close(torch.cat(chunks, 1), whole)
    assert whole.shape == (2, 11, 3, 16, 16) and whole.min() >= 0 and whole.max() <= 1
    # every FMT call sees prefix + one window (x3 for the guidance batch), whatever the length
    assert {c[1] for c in calls} == {model.prefix_frames + model.window_frames}


def test_earlier_windows_do_not_depend_on_later_audio():
    torch.manual_seed(0)
    model = randomize_zero_init(tiny_float(audio_context_frames=0))
    audio, source = 0.1 * torch.randn(1, 16000 * 8 // 25), torch.rand(1, 3, 16, 16)
    a = model.generate(audio, source, num_frames=8, seed=1)
    changed = audio.clone()
    changed[:, 16000 * 4 // 25 :] = 0.5 * torch.randn_like(changed[:, 16000 * 4 // 25 :])
    b = model.generate(changed, source, num_frames=8, seed=1)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_pose_edit_shifts_lambda_k_exactly():
    torch.manual_seed(0)
    model = tiny_float()
    seen = []
    model._decode = lambda latents, *a: seen.append(latents) or torch.zeros(*latents.shape[:2], 3, 16, 16)
    audio, source = 0.1 * torch.randn(1, 16000 * 4 // 25), torch.rand(1, 3, 16, 16)
    model.generate(audio, source, num_frames=4, seed=0)
    model.generate(audio, source, num_frames=4, seed=0, pose_edit={2: 10.0})
    basis = model.autoencoder.basis
    delta = basis.project(seen[1]) - basis.project(seen[0])
    expected = torch.zeros(model.autoencoder.num_motions)
    expected[1] = 10.0
    torch.testing.assert_close(delta, expected.expand_as(delta), atol=1e-4, rtol=0)
    with pytest.raises(ConfigError, match="out of 1..4"):
        model.generate(audio, source, num_frames=4, pose_edit={5: 1.0})


def test_emotion_override_and_ravdess_labels():
    model = tiny_float()
    audio = torch.zeros(2, 100)
    e = model.resolve_emotion("happy", audio, None)
    assert e.shape == (2, 7) and e[:, EMOTIONS.index("happy")].eq(1).all() and e.sum() == 2
    assert model.resolve_emotion(None, audio, None).abs().sum() == 0  # emotion input off: the null vector
    with pytest.raises(ConfigError, match="unknown emotion"):
        model.resolve_emotion("bored", audio, None)
    assert ravdess_emotion("01-01-03-01-01-01-23") == EMOTIONS.index("happy")
    assert ravdess_emotion("01-01-05-02-01-01-24") == EMOTIONS.index("angry")
    assert ravdess_emotion("WDA_BarackObama_000") is None
    # the emotion changes the output once the emotion branch matters
    torch.manual_seed(0)
    randomize_zero_init(model)
    a = 0.1 * torch.randn(1, 16000 * 4 // 25)
    s = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(model.generate(a, s, num_frames=4, seed=0, emotion="sad"), model.generate(a, s, num_frames=4, seed=0, emotion="happy"))


def test_component_masks():
    lm = torch.zeros(1, 68, 2)
    lm[0, 48:60] = torch.tensor([[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]]).repeat(3, 1)  # a square
    lm[0, 36:48] = torch.tensor([[2.0, 2.0], [4.0, 4.0]]).repeat(6, 1)
    m = component_masks(lm, 32)
    assert 90 <= float(m["mouth"].sum()) <= 110  # a 10 x 10 square
    assert m["eyes"][0, 3, 3] == 1 and m["eyes"][0, 30, 30] == 0


def _stage1_checkpoint(tmp_path):
    from lightning.pytorch import Trainer

    dm = SyntheticReenactmentDataModule(image_size=16)
    model = FLOATMotionAutoEncoder(spec=dm.spec, **TINY_AE_ARGS, lambda_perceptual=0.0)
    trainer = Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    path = tmp_path / "stage1.ckpt"
    trainer.save_checkpoint(path)
    return path, model


def test_stage1_checkpoint_hand_over(tmp_path):
    path, stage1 = _stage1_checkpoint(tmp_path)
    model = FLOAT(spec=SPEC, audio_encoder=MelSpectrogramEncoder(n_mels=8, n_fft=256, win_length=256), stage1_checkpoint=str(path), **{k: v for k, v in TINY_FLOAT_ARGS.items() if k != "autoencoder"})
    for k, v in stage1.autoencoder.state_dict().items():
        assert torch.equal(v, model.autoencoder.state_dict()[k]), k
    assert not any(p.requires_grad for p in model.autoencoder.parameters())
    assert model.hparams["stage1_checkpoint"] is None and model.hparams["autoencoder"]["latent_dim"] == 16
    with pytest.raises(ConfigError, match="does not exist"):
        FLOAT(spec=SPEC, audio_encoder=MelSpectrogramEncoder(n_mels=8), stage1_checkpoint=str(tmp_path / "missing.ckpt"))
    bogus = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"fmt.x": torch.zeros(1)}, "hyper_parameters": {}}, bogus)
    with pytest.raises(ConfigError, match="not a FLOAT stage-1 checkpoint"):
        FLOAT(spec=SPEC, audio_encoder=MelSpectrogramEncoder(n_mels=8), stage1_checkpoint=str(bogus))


def test_latent_cache_reuses_entries(tmp_path):
    torch.manual_seed(0)
    model = tiny_float(latent_cache=str(tmp_path / "cache.sqlite")).train()
    frames = torch.rand(2, 3, 3, 16, 16)
    a = model.motion_latents(frames)
    calls = []
    orig = model.autoencoder.encoder.forward
    model.autoencoder.encoder.forward = lambda *x, **k: calls.append(1) or orig(*x, **k)
    b = model.motion_latents(frames)
    torch.testing.assert_close(a, b)
    assert not calls and (tmp_path / "cache.sqlite").is_file()


@pytest.mark.slow
def test_parameter_counts_match_metadata():
    from talkzoo_float import metadata as md
    from talkzoo_float.network import AudioProjection, FlowMatchingTransformer

    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(FlowMatchingTransformer()) == md.FMT_PARAMETERS
    assert n(AudioProjection(9216, 512)) == md.AUDIO_PROJECTION_PARAMETERS
    ae = FLOATMotionAutoEncoder(spec=ReenactmentDataSpec(image_size=512))
    assert n(ae.autoencoder) == md.AE_PARAMETERS
    assert n(ae.autoencoder.encoder.motion_mlp) == md.AE_MOTION_MLP
    assert n(ae.autoencoder.encoder) - md.AE_MOTION_MLP == md.AE_ENCODER_TRUNK
    assert sum(n(d) for d in ae.discriminators()) == md.DISCRIMINATOR_PARAMETERS


def test_identity_flow_init_starts_as_the_identity_warp():
    """flow_init='identity' (ours): every flow head gives the identity grid and mask 0.5 at the start."""
    torch.manual_seed(0)
    spec = ReenactmentDataSpec(dataset="synthetic", image_size=32, fps=25.0, speakers=("a",))
    ae_args = {k: v for k, v in TINY_AE_ARGS.items() if k != "network_size"}
    model = FLOATMotionAutoEncoder(spec=spec, network_size=16, **ae_args)
    enc = model.autoencoder.encode(torch.rand(2, 3, 16, 16) * 2 - 1)
    _, grid, mask = model.autoencoder.decode(enc.identity, enc.features, return_flow=True)
    ident = torch.nn.functional.affine_grid(torch.eye(2, 3).expand(2, 2, 3), (2, 3, 16, 16), align_corners=True)
    torch.testing.assert_close(grid, ident, atol=1e-6, rtol=0)
    torch.testing.assert_close(mask, torch.full_like(mask, 0.5))
    random = FLOATMotionAutoEncoder(spec=spec, network_size=16, flow_init="random", **ae_args)
    _, grid_r, _ = random.autoencoder.decode(enc.identity, enc.features, return_flow=True)
    assert (grid_r - ident).abs().max() > 0.05
    with pytest.raises(ConfigError, match="flow_init"):
        FLOATMotionAutoEncoder(spec=spec, network_size=16, flow_init="zeros", **ae_args)


def test_detail_transfer_keeps_the_output_size_and_adds_the_source_detail():
    """A reduced network size with detail_transfer: the output is the data size, in [0, 1], and
    differs from plain upsampling by the source's detail moved by the (identity) flow, times mask 0.5."""
    torch.manual_seed(0)
    spec = ReenactmentDataSpec(dataset="synthetic", image_size=32, fps=25.0, speakers=("a",))
    ae_args = {k: v for k, v in TINY_AE_ARGS.items() if k != "network_size"}
    plain = FLOATMotionAutoEncoder(spec=spec, network_size=16, **ae_args).eval()
    sharp = FLOATMotionAutoEncoder(spec=spec, network_size=16, detail_transfer=True, **ae_args).eval()
    sharp.load_state_dict(plain.state_dict())
    src = torch.rand(1, 3, 32, 32)
    drv = src[:, None].repeat(1, 2, 1, 1, 1)
    a, b = plain.generate(src, drv), sharp.generate(src, drv)
    assert a.shape == b.shape == (1, 2, 3, 32, 32)
    assert 0.0 <= b.min() and b.max() <= 1.0
    from talkzoo.nn.detail import detail_layer

    expected = (a + 0.5 * detail_layer(src, 16)[:, None]).clamp(0, 1)
    torch.testing.assert_close(b, expected, atol=1e-4, rtol=0)


def test_latent_norm_dataset_standardises_the_flow_space():
    """latent_norm='dataset' (ours): the statistics are the per-dimension mean/std of the training
    latents, the flow's data are standardised with them, and generation maps samples back."""
    from talkzoo.testing.synthetic import SyntheticVideoDataModule

    torch.manual_seed(0)
    dm = SyntheticVideoDataModule(image_size=16)
    dm.setup("fit")
    model = tiny_float(latent_norm="dataset")
    assert not bool(model.latent_stats_ready)
    batches = list(dm.train_dataloader())
    model.fit_latent_statistics(batches)
    w = torch.cat([model.motion_latents(b.frames)[b.frame_mask] for b in batches]).double()
    torch.testing.assert_close(model.latent_mean, w.mean(0).float(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.latent_std, w.std(0, unbiased=False).clamp(min=1e-6).float(), atol=1e-6, rtol=1e-4)
    assert bool(model.latent_stats_ready)
    z = model.normalize_latents(w.float())
    torch.testing.assert_close(z.mean(0), torch.zeros_like(z[0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(model.denormalize_latents(z), w.float(), atol=1e-5, rtol=1e-5)
    assert torch.isfinite(model.compute_losses(batches[0])["loss"])
    b = batches[0]
    with torch.no_grad():
        out = model.generate(b.audio, b.source, num_frames=b.frames.shape[1], audio_mask=b.audio_mask, seed=0)
    assert out.shape == b.frames.shape and torch.isfinite(out).all()
    state = model.state_dict()  # the statistics travel with the checkpoint
    assert {"latent_mean", "latent_std", "latent_stats_ready"} <= set(state)
    old = {k: v for k, v in state.items() if not k.startswith("latent_")}  # a checkpoint from before latent_norm
    plain = tiny_float()
    plain.load_state_dict(old)  # strict: the identity statistics fill in
    assert torch.equal(plain.latent_std, torch.ones_like(plain.latent_std)) and not bool(plain.latent_stats_ready)
    with pytest.raises(ConfigError, match="latent_norm"):
        tiny_float(latent_norm="batch")
