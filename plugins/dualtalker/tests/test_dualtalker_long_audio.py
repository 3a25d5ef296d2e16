"""Long-audio generation of DualTalker: bounded attention context and chunked speech encoding.

CPU, tiny configs (see ``dualtalker_testutils``); the whole file runs in seconds.
"""

from __future__ import annotations

import pytest
import torch

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.errors import ConfigError

from dualtalker_testutils import RATE, VERTS, make_batch, one_thread, tiny_model  # noqa: F401 (fixture)
from talkzoo_dualtalker.layers import FusionLayer, KVWindow, window_key_positions

VARIANTS = [
    {},
    {"cross_attention_mask": "causal", "num_layers": 2},
    {"cross_attention_mask": "diagonal"},
    {"primal_query": "motion", "cross_attention_mask": "diagonal", "num_layers": 2},
    {"primal_query": "motion", "cross_attention_mask": "biased", "norm_first": True, "style_in_tokens": True},
]


def _inputs(model, frames: int, seed: int = 0):
    batch = make_batch([frames], seed=seed)
    with torch.no_grad():
        x = model.network.audio_encoder_proj(model.network.encode_audio(batch.audio, batch.audio_mask, frames, frames))
        style = model.network.style(batch.speaker)
    return x, style


def _banded_teacher_forced(model, x, style, motion, window: int):
    """Reference: one parallel pass where every attention sees only its last ``window`` frames."""
    tokens = model.network._tokens(model.network.motion_encoder(motion).roll(1, dims=1), style, "primal")
    pos = torch.arange(tokens.shape[1])
    too_old = (pos[:, None] - pos[None, :]) >= window
    self_bias = model.network._self_bias(pos, pos).masked_fill(too_old[None], float("-inf"))
    cross_bias = model.network._cross_bias(pos, pos).masked_fill(too_old[None], float("-inf"))
    h = tokens
    for layer in model.network.layers:
        h = layer(h, x, style, "primal", model.network.query_side, self_bias, cross_bias)
    if model.network.final_norm is not None:
        h = model.network.final_norm["primal"](h)
    return model.network.motion_decoder(h)


# ------------------------------------------------------------------------------ window positions
def test_window_key_positions_match_ring_storage():
    cache = KVWindow(window=4, ring=True)
    for t in range(11):
        k = torch.full((1, 1, 1, 2), float(t))
        keys, _ = cache.append(k, k)
        stored = keys[0, 0, :, 0].long()
        torch.testing.assert_close(stored, window_key_positions(t, 4, ring=True))
        assert sorted(stored.tolist()) == list(range(max(0, t - 3), t + 1))
    sliced = KVWindow(window=4, ring=False)
    for t in range(11):
        k = torch.full((1, 1, 1, 2), float(t))
        keys, _ = sliced.append(k, k)
        torch.testing.assert_close(keys[0, 0, :, 0].long(), window_key_positions(t, 4, ring=False))
    assert len(cache) == len(sliced) == 4 and cache.count == 11
    assert window_key_positions(5, None, ring=True).tolist() == list(range(6))


# ------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize("options", VARIANTS)
def test_window_is_exact_for_sequences_within_it(options, one_thread):
    """Up to ``max_context`` frames, windowed (ring buffer and sliced) == unbounded generation."""
    frames = 12
    bounded = tiny_model(ppe_period=6, bias_period=5, max_context=frames, **options).eval()
    unbounded = tiny_model(ppe_period=6, bias_period=5, max_context=None, **options).eval()
    default = tiny_model(ppe_period=6, bias_period=5, **options).eval()  # max_context=600
    x, style = _inputs(bounded, frames)
    with torch.no_grad():
        ring, _ = bounded.network.primal_autoregressive(x, style, frames)
        exact, _ = unbounded.network.primal_autoregressive(x, style, frames)
        dflt, _ = default.network.primal_autoregressive(x, style, frames)
    sliced, _ = bounded.network.primal_autoregressive(x, style, frames)  # gradients on: concatenate + slice
    assert exact.abs().max() > 1e-3
    torch.testing.assert_close(ring, exact, rtol=0, atol=1e-6)
    torch.testing.assert_close(dflt, exact, rtol=0, atol=1e-6)
    torch.testing.assert_close(sliced.detach(), exact, rtol=0, atol=1e-6)


@pytest.mark.parametrize("options", VARIANTS)
def test_window_beyond_its_length_equals_banded_attention(options, one_thread):
    """Past ``max_context`` the ring buffer == sliced cache == a parallel pass with a banded mask."""
    window, frames = 5, 23
    model = tiny_model(ppe_period=6, bias_period=3, max_context=window, **options).eval()
    x, style = _inputs(model, frames, seed=1)
    with torch.no_grad():
        ring, _ = model.network.primal_autoregressive(x, style, frames)
        reference = _banded_teacher_forced(model, x, style, ring, window)
    sliced, _ = model.network.primal_autoregressive(x, style, frames)
    torch.testing.assert_close(ring, reference, rtol=0, atol=1e-5)
    torch.testing.assert_close(sliced.detach(), ring, rtol=0, atol=1e-5)
    with torch.no_grad():
        unbounded = tiny_model(ppe_period=6, bias_period=3, max_context=None, **options).eval()
        exact, _ = unbounded.network.primal_autoregressive(x, style, frames)
    torch.testing.assert_close(ring[:, :window], exact[:, :window], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------ bounded memory
@pytest.mark.parametrize("primal_query", ["audio", "motion"])
def test_caches_never_exceed_max_context(primal_query, monkeypatch, one_thread):
    window, frames = 7, 60
    model = tiny_model(max_context=window, primal_query=primal_query, num_layers=2).eval()
    seen: list[dict] = []
    sizes: list[int] = []
    original_init, original_step = FusionLayer.init_cache, FusionLayer.step

    def init_cache(self, *args, **kwargs):
        cache = original_init(self, *args, **kwargs)
        seen.append(cache)
        return cache

    def step(self, *args, **kwargs):
        out = original_step(self, *args, **kwargs)
        for cache in seen:
            for key in ("self", "cross"):
                if key in cache and cache[key].k is not None:
                    sizes.append(cache[key].k.shape[2])
                    sizes.append(cache[key].v.shape[2])
        return out

    monkeypatch.setattr(FusionLayer, "init_cache", init_cache)
    monkeypatch.setattr(FusionLayer, "step", step)
    x, style = _inputs(model, frames)
    with torch.no_grad():
        pred, _ = model.network.primal_autoregressive(x, style, frames)
    assert len(seen) == 2 and max(sizes) == window and torch.isfinite(pred).all()
    for cache in seen:
        assert cache["self"].count == frames and len(cache["self"]) == window and cache["self"].ring


def test_long_generation_is_finite(one_thread):
    frames = 2000
    model = tiny_model(max_context=50, zero_init_motion_decoder=False).eval()
    audio = 0.1 * torch.randn(1, int(frames / 30.0 * RATE), generator=torch.Generator().manual_seed(0))
    template = torch.zeros(1, VERTS, 3)
    with torch.no_grad():
        out = model.generate(audio, template, torch.tensor([0]))
    assert out.shape == (1, frames, VERTS, 3) and torch.isfinite(out).all()
    assert out[0, -100:].std() > 0  # still animating at the end


# ------------------------------------------------------------------------------ chunked encoding
def _tiny_wav2vec2():
    pytest.importorskip("transformers")
    from talkzoo.audio.encoders import Wav2Vec2Encoder

    torch.manual_seed(0)
    return Wav2Vec2Encoder(
        config_overrides={
            "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
            "conv_dim": [8] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2,
            "mask_time_prob": 0.0,
        },
        random_init=True,
    ).eval()  # fmt: skip


ENCODERS = {
    "mel": lambda: MelSpectrogramEncoder(n_mels=12, n_fft=256, win_length=256, hop_length=160, frame_context=2),
    "wav2vec2": _tiny_wav2vec2,
}


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_chunked_encoding_exact_for_short_audio(encoder, one_thread):
    model = tiny_model(audio_encoder=ENCODERS[encoder](), encoder_chunk_seconds=1.0, encoder_chunk_overlap_seconds=0.2).eval()
    batch = make_batch([29, 20])  # < 1 s each at 30 fps
    with torch.no_grad():
        whole = model.network.encode_audio(batch.audio, batch.audio_mask, torch.tensor([29, 20]), 29)
        chunked = model.encode_audio_chunked(batch.audio, batch.audio_mask, torch.tensor([29, 20]), 29)
        gen = model.generate(batch.audio, batch.template, batch.speaker, audio_mask=batch.audio_mask)
        model.encoder_chunk_seconds = None
        ref = model.generate(batch.audio, batch.template, batch.speaker, audio_mask=batch.audio_mask)
    assert torch.equal(whole, chunked)
    assert torch.equal(gen, ref)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_chunked_encoding_of_long_audio(encoder, monkeypatch, one_thread):
    chunk = 1.0
    model = tiny_model(audio_encoder=ENCODERS[encoder](), encoder_chunk_seconds=chunk, encoder_chunk_overlap_seconds=0.2).eval()
    inputs: list[int] = []
    original = model.network.audio_encoder.forward

    def spy(audio, audio_mask, num_frames):
        inputs.append(audio.shape[1])
        return original(audio, audio_mask, num_frames)

    monkeypatch.setattr(model.network.audio_encoder, "forward", spy)
    batch = make_batch([100, 45])  # 3.3 s and 1.5 s
    frames = torch.tensor([100, 45])
    with torch.no_grad():
        chunked = model.encode_audio_chunked(batch.audio, batch.audio_mask, frames, 100)
        out = model.generate(batch.audio, batch.template, batch.speaker, audio_mask=batch.audio_mask)
    assert chunked.shape == (2, 100, model.network.audio_dim) and torch.isfinite(chunked).all()
    assert chunked[1, 45:].abs().max() == 0 and chunked[1, :45].abs().max() > 0
    assert max(inputs) <= int(chunk * RATE) + 1 and len(inputs) > 4
    assert out.shape == (2, 100, VERTS, 3) and torch.isfinite(out).all()
    if encoder == "mel":  # parameter-free front-end: windows agree with the whole-file features
        with torch.no_grad():
            whole = model.network.encode_audio(batch.audio, batch.audio_mask, frames, 100)
        corr = torch.corrcoef(torch.stack([whole[0].flatten(), chunked[0].flatten()]))[0, 1]
        assert corr > 0.95, corr


def test_long_audio_config_errors():
    with pytest.raises(ConfigError, match="max_context"):
        tiny_model(max_context=0)
    with pytest.raises(ConfigError, match="twice the overlap"):
        tiny_model(encoder_chunk_seconds=3.0, encoder_chunk_overlap_seconds=1.5)
    with pytest.raises(ConfigError, match="overlap"):
        tiny_model(encoder_chunk_overlap_seconds=-1.0)
    with pytest.raises(ConfigError):
        KVWindow(window=0)


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_per_window_projection_equals_projecting_afterwards(encoder, one_thread):
    """``project=`` (used by generate, #17: long audio keeps 128-d instead of encoder-width features)
    gives the projected features of the plain chunked encoding: windowed, padded and short batches."""
    model = tiny_model(audio_encoder=ENCODERS[encoder](), encoder_chunk_seconds=1.0, encoder_chunk_overlap_seconds=0.2).eval()
    proj = model.network.audio_encoder_proj
    for lengths in ([100, 45], [100], [29, 20]):
        batch = make_batch(lengths)
        frames = torch.tensor(lengths)
        with torch.no_grad():
            ref = proj(model.encode_audio_chunked(batch.audio, batch.audio_mask, frames, max(lengths)))
            got = model.encode_audio_chunked(batch.audio, batch.audio_mask, frames, max(lengths), project=proj)
        assert got.shape == ref.shape == (len(lengths), max(lengths), proj.out_features)
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-5)
