"""Issue #17 inference changes keep DualTalker's outputs where the options are off.

* per-frame tables of the ring-buffer loop (``network.step_tables``) == per-frame computation, bit for bit;
* ``generate(sink=...)`` hands over exactly the frames ``generate()`` returns, one block at a time;
* ``generate()`` adds the template in place (held once) with the same values as before;
* ``encoder_precision``: ``"fp32"`` is the encoder itself; ``"int8"`` / ``"bf16"`` deviate a little;
* ``fused_decoder`` (the default since #17) equals the step-by-step loop (``False``) up to rounding;
  tests that pin the step-by-step path bit for bit pass ``fused_decoder=False``.

The same outputs were also compared once against the pre-#17 code itself (commit 8bad5b5, run
from ``git archive``; demo-size model, four option sets, 2 / 7.3 / 12 s, beyond ``max_context=50``
too): all 12 bit-identical (issue #17 notes). CPU, tiny configs, seconds.
"""

from __future__ import annotations

import pytest
import torch

from dualtalker_testutils import RATE, VERTS, make_batch, one_thread, tiny_model  # noqa: F401 (fixture)
from talkzoo.errors import ConfigError
from talkzoo.nn.fast_inference import InferenceEncoderCache, fast_encoder

VARIANTS = [
    {},
    {"cross_attention_mask": "causal", "num_layers": 2, "norm_first": True},
    {"primal_query": "motion", "cross_attention_mask": "diagonal", "style_in_tokens": True},
    {"primal_query": "motion", "cross_attention_mask": "biased", "num_layers": 2},
]


pytestmark = pytest.mark.usefixtures("one_thread")  # every test single-threaded (dualtalker_testutils)


def _audio(seconds: float, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(1, int(seconds * RATE), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("options", VARIANTS)
def test_step_tables_are_bit_identical(options):
    """Within and beyond max_context (ring steady state), tables on == tables off."""
    model = tiny_model(max_context=9, ppe_period=7, bias_period=4, fused_decoder=False, **options).eval()
    audio, template = _audio(1.0), 0.1 * torch.randn(1, VERTS, 3)
    with torch.no_grad():
        fast = model.generate(audio, template, torch.tensor([1]))
        model.network.step_tables = False
        slow = model.generate(audio, template, torch.tensor([1]))
    assert fast.shape == (1, 30, VERTS, 3) and fast.std() > 0
    assert torch.equal(fast, slow)


def test_step_tables_fall_back_when_too_large(monkeypatch):
    model = tiny_model(max_context=9).eval()
    monkeypatch.setattr(model.network, "STEP_TABLE_MAX_BYTES", 10)
    assert model.network._step_tables(9, torch.zeros(1, 16)) is None
    with torch.no_grad():
        out = model.generate(_audio(0.5), torch.zeros(1, VERTS, 3))
    assert torch.isfinite(out).all()


def test_generate_adds_the_template_in_place_with_the_old_values(monkeypatch):
    model = tiny_model().eval()
    batch = make_batch([20, 14])
    with torch.no_grad():
        x = model.network.audio_encoder_proj(model.encode_audio_chunked(batch.audio, batch.audio_mask, torch.tensor([20, 14]), 20))
        pred, _ = model.network.primal_autoregressive(x, model.network.style(batch.speaker), 20)
        returned = []
        original = model.network.primal_autoregressive

        def spy(*args, **kwargs):
            returned.append(original(*args, **kwargs)[0])
            return returned[-1], None

        monkeypatch.setattr(model.network, "primal_autoregressive", spy)
        out = model.generate(batch.audio, batch.template, batch.speaker, audio_mask=batch.audio_mask)
    assert torch.equal(out, batch.template[:, None] + pred.view(2, 20, VERTS, 3))  # the pre-#17 expression
    assert out.data_ptr() == returned[0].data_ptr()  # no second (B, T, V, 3) array


@pytest.mark.parametrize("block", [1, 7, 30, 100])
def test_sink_receives_the_returned_frames_in_blocks(block):
    model = tiny_model(max_context=11, fused_decoder=False).eval()  # bit for bit (the fused path: its own test)
    audio, template = _audio(1.0, seed=3), 0.1 * torch.randn(1, VERTS, 3)
    seen: list[tuple[int, int]] = []
    parts: list[torch.Tensor] = []

    def sink(start, vertices):
        seen.append((start, vertices.shape[1]))
        parts.append(vertices.clone())

    with torch.no_grad():
        whole = model.generate(audio, template)
        assert model.generate(audio, template, sink=sink, sink_frames=block) is None
    assert torch.equal(torch.cat(parts, dim=1), whole)
    starts = [s for s, _ in seen]
    assert starts == list(range(0, 30, block)) and sum(n for _, n in seen) == 30
    assert max(n for _, n in seen) == min(block, 30)


def test_sink_needs_the_inference_loop():
    model = tiny_model().eval()
    with pytest.raises(ConfigError, match="sink"):
        model.generate(_audio(0.3), torch.zeros(1, VERTS, 3), sink=lambda *_: None)  # gradients on
    with torch.no_grad(), pytest.raises(ConfigError, match="sink"):
        tiny_model(max_context=None).eval().generate(_audio(0.3), torch.zeros(1, VERTS, 3), sink=lambda *_: None)


def _tiny_wav2vec2():
    pytest.importorskip("transformers")
    from talkzoo.audio.encoders import Wav2Vec2Encoder
    from talkzoo.testing.recipes import TINY_SPEECH_ENCODER

    torch.manual_seed(0)
    return Wav2Vec2Encoder(
        config_overrides={**TINY_SPEECH_ENCODER, "mask_time_prob": 0.0},
        random_init=True,
    ).eval()  # fmt: skip


def test_encoder_precision_options():
    audio, template = _audio(1.0, seed=5), 0.1 * torch.randn(1, VERTS, 3)
    outs = {}
    for precision in ("fp32", "int8", "bf16"):
        model = tiny_model(audio_encoder=_tiny_wav2vec2(), encoder_precision=precision, fused_decoder=False).eval()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            outs[precision] = model.generate(audio, template)
        after = model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)  # the fp32 weights are untouched
        assert not any("quant" in k or "_packed" in k for k in after)  # the int8 copy is not in the checkpoint
    ref = tiny_model(audio_encoder=_tiny_wav2vec2(), fused_decoder=False).eval()
    ref.network.step_tables = False
    with torch.no_grad():
        assert torch.equal(ref.generate(audio, template), outs["fp32"])
    for precision in ("int8", "bf16"):
        deviation = (outs[precision] - outs["fp32"]).abs().max()
        assert 0 < deviation < 0.05 * outs["fp32"].sub(template[:, None]).abs().max() + 1e-3, (precision, deviation)
    with pytest.raises(ConfigError, match="encoder_precision"):
        tiny_model(encoder_precision="fp8")


def test_fast_encoder_cache_rebuilds_after_a_weight_update():
    encoder = _tiny_wav2vec2()
    cache = InferenceEncoderCache()
    assert cache.get(encoder, "fp32") is encoder and fast_encoder(encoder, "fp32") is encoder
    first = cache.get(encoder, "int8")
    assert cache.get(encoder, "int8") is first and first is not encoder
    with torch.no_grad():
        next(p for p in encoder.parameters() if p.requires_grad).add_(1.0)
    assert cache.get(encoder, "int8") is not first


@pytest.mark.parametrize("options", VARIANTS[:3])
def test_fused_decoder_is_the_same_map_up_to_rounding(options):
    """``fused_decoder`` (the default): equal to the step-by-step loop (``False``) up to float rounding;
    sink blocks agree with the whole; the default is the fused path."""
    audio, template = _audio(1.0, seed=7), 0.1 * torch.randn(1, VERTS, 3)
    with torch.no_grad():
        ref = tiny_model(max_context=9, fused_decoder=False, **options).eval().generate(audio, template)
        fused_model = tiny_model(max_context=9, fused_decoder=True, **options).eval()
        fused = fused_model.generate(audio, template)
        parts = []
        fused_model.generate(audio, template, sink=lambda start, v: parts.append(v.clone()), sink_frames=8)
    motion = (ref - template[:, None]).abs().max()
    assert motion > 1e-3
    torch.testing.assert_close(fused, ref, rtol=0, atol=1e-5 * float(motion) + 1e-6)
    torch.testing.assert_close(torch.cat(parts, dim=1), fused, rtol=0, atol=1e-6)
    assert [p.shape[1] for p in parts] == [8, 8, 8, 6]
    assert tiny_model(max_context=9, **options).network.fused_feedback
