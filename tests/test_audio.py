"""Tests of talkzoo.audio: file I/O, resampling and the speech front-ends (CPU, offline, tiny configs)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch the model hub (read when huggingface_hub is imported)

import time

import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.audio import (
    HubertEncoder,
    MelSpectrogramEncoder,
    Wav2Vec2Encoder,
    interpolate_to_frames,
    load_audio,
    mel_filterbank,
    resample,
    save_audio,
)
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.testing.recipes import TINY_SPEECH_ENCODER

SR = 16000
TINY = TINY_SPEECH_ENCODER  # one tiny wav2vec 2.0 / HuBERT config (talkzoo.testing.recipes)
HF_ENCODERS = [Wav2Vec2Encoder, HubertEncoder]


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def padded_batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    audio = torch.zeros(len(lengths), max(lengths))
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
    for b, n in enumerate(lengths):
        audio[b, :n] = 0.3 * torch.randn(n, generator=gen)
        mask[b, :n] = True
    return audio, mask


# ------------------------------------------------------------------------------------- I/O


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS")])
def test_load_formats(tmp_path, fmt, subtype):
    wave = sine(440.0, 0.5, SR)
    path = tmp_path / f"tone.{fmt}"
    sf.write(path, wave, SR, subtype=subtype)
    out = load_audio(path, SR)
    assert out.dtype == torch.float32 and out.dim() == 1
    assert out.abs().max() <= 1.0
    assert abs(out.numel() - wave.size) <= 1
    n = min(out.numel(), wave.size)
    tol = 1e-3 if fmt != "ogg" else 0.1  # Vorbis is lossy
    if fmt != "ogg":
        np.testing.assert_allclose(out[:n].numpy(), wave[:n], atol=tol)
    else:
        assert np.corrcoef(out[:n].numpy(), wave[:n])[0, 1] > 0.95


def test_stereo_to_mono(tmp_path):
    left, right = sine(300.0, 0.25, SR, 0.4), sine(500.0, 0.25, SR, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    out = load_audio(path, SR)
    np.testing.assert_allclose(out.numpy(), (left + right) / 2, atol=1e-6)


def test_resample_keeps_duration_and_frequency(tmp_path):
    seconds, freq = 1.5, 440.0
    path = tmp_path / "cd.wav"
    sf.write(path, sine(freq, seconds, 44100), 44100, subtype="FLOAT")
    out = load_audio(path, SR)
    assert abs(out.numel() - seconds * SR) <= 1
    spectrum = np.abs(np.fft.rfft(out.numpy() * np.hanning(out.numel())))
    peak_hz = np.argmax(spectrum) * SR / out.numel()
    assert abs(peak_hz - freq) < 1.0  # bin width 0.67 Hz
    # the function on its own, (C, S) input and identity
    two = resample(torch.from_numpy(np.stack([sine(freq, 1.0, 22050)] * 2)), 22050, SR)
    assert two.shape == (2, SR)
    same = resample(torch.ones(10), SR, SR)
    assert torch.equal(same, torch.ones(10))


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(DataError, match="nope.wav"):
        load_audio(missing)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    with pytest.raises(DataError, match="empty.wav.*no samples"):
        load_audio(empty)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" + os.urandom(200))
    with pytest.raises(DataError, match="corrupt.wav"):
        load_audio(corrupt)
    bad = tmp_path / "nan.wav"
    sf.write(bad, np.array([0.1, np.nan, 0.2], np.float32), SR, subtype="FLOAT")
    with pytest.raises(DataError, match="nan.wav.*NaN"):
        load_audio(bad)


def test_save_audio_roundtrip(tmp_path):
    wave = torch.from_numpy(sine(220.0, 0.2, SR))
    path = save_audio(tmp_path / "sub" / "out.wav", wave, SR)
    info = sf.info(path)
    assert info.subtype == "PCM_16" and info.samplerate == SR
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.wav"]  # no temp file left behind
    np.testing.assert_allclose(load_audio(path, SR).numpy(), wave.numpy(), atol=1 / 32767 + 1e-6)
    with pytest.raises(DataError):
        save_audio(tmp_path / "x.wav", torch.tensor([float("nan")]), SR)


# ---------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("src,dst", [(50, 30), (49, 30), (7, 100), (1, 5), (30, 30), (123, 1)])
def test_interpolate_exact_frames(src, dst):
    feats = torch.randn(1, src, 3)
    out = interpolate_to_frames(feats, None, dst)
    assert out.shape == (1, dst, 3)
    if dst > 1:  # align_corners=True keeps the end points
        torch.testing.assert_close(out[0, 0], feats[0, 0])
        torch.testing.assert_close(out[0, -1], feats[0, -1])


def test_interpolate_per_sequence_lengths():
    feats = torch.arange(10.0).repeat(2, 1)[..., None]  # (2, 10, 1)
    out = interpolate_to_frames(feats, torch.tensor([10, 4]), torch.tensor([19, 7]))
    assert out.shape == (2, 19, 1)
    torch.testing.assert_close(out[0, :, 0], torch.linspace(0, 9, 19))
    torch.testing.assert_close(out[1, :7, 0], torch.linspace(0, 3, 7))
    assert out[1, 7:].abs().sum() == 0
    with pytest.raises(DataError):
        interpolate_to_frames(feats, None, 0)


# ---------------------------------------------------------------------- wav2vec2 / HuBERT


@pytest.fixture(scope="module", params=HF_ENCODERS, ids=lambda c: c.__name__)
def tiny_encoder(request):
    torch.manual_seed(0)
    return request.param(config_overrides=TINY).eval()


@pytest.mark.parametrize("before", [True, False])
@pytest.mark.parametrize("cls", HF_ENCODERS, ids=lambda c: c.__name__)
def test_hf_encoder_shapes(cls, before):
    enc = cls(config_overrides=TINY, interpolate_before_transformer=before).eval()
    assert enc.output_dim == 32 and enc.sample_rate == SR
    audio, mask = padded_batch([SR, 11000])
    for frames in (30, 17, 1):
        assert enc(audio, mask, frames).shape == (2, frames, 32)
    out = enc(audio, mask, torch.tensor([30, 21]))
    assert out.shape == (2, 30, 32)
    assert out[1, 21:].abs().sum() == 0


def test_hf_padding_invariance(tiny_encoder):
    audio, mask = padded_batch([SR, 9000])
    batched = tiny_encoder(audio, mask, torch.tensor([30, 17]))
    alone = tiny_encoder(audio[1:2, :9000], None, 17)
    torch.testing.assert_close(batched[1, :17], alone[0], atol=1e-4, rtol=1e-4)


def test_plain_path_matches_transformers_forward():
    enc = Wav2Vec2Encoder(config_overrides=TINY, interpolate_before_transformer=False, normalize_audio=False).eval()
    audio = 0.3 * torch.randn(1, 8000)
    with torch.no_grad():
        reference = enc.model(audio).last_hidden_state  # (1, 24, 32) at 50 Hz
        ours = enc(audio, None, reference.shape[1])
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cls", HF_ENCODERS, ids=lambda c: c.__name__)
def test_freeze_options(cls):
    enc = cls(config_overrides=TINY)  # freeze_feature_extractor=True by default
    assert not any(p.requires_grad for p in enc.model.feature_extractor.parameters())
    assert all(p.requires_grad for p in enc.model.encoder.parameters())
    enc.train()
    audio, mask = padded_batch([SR, 9000])
    enc(audio, mask, torch.tensor([30, 17])).pow(2).mean().backward()
    assert all(p.grad is None for p in enc.model.feature_extractor.parameters())
    assert any(p.grad is not None for p in enc.model.encoder.parameters())

    trainable = cls(config_overrides=TINY, freeze_feature_extractor=False).train()
    trainable(audio, mask, torch.tensor([30, 17])).pow(2).mean().backward()
    assert any(p.grad is not None for p in trainable.model.feature_extractor.parameters())

    frozen = cls(config_overrides=TINY, freeze=True).train()
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not frozen.model.training  # frozen backbone stays in eval mode
    assert not frozen(audio, mask, 10).requires_grad


def test_missing_checkpoint_offline_is_fast_and_named(tmp_path):
    start = time.monotonic()
    with pytest.raises(MissingWeightsError) as info:
        Wav2Vec2Encoder("facebook/wav2vec2-base-960h", local_files_only=True)
    assert time.monotonic() - start < 5.0
    message = str(info.value)
    assert "facebook/wav2vec2-base-960h" in message and "save_pretrained" in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(MissingWeightsError, match="no_such_folder"):
        HubertEncoder(str(tmp_path / "no_such_folder"))
    if os.environ.get("HF_HUB_OFFLINE") == "1":  # the env path, without local_files_only
        start = time.monotonic()
        with pytest.raises(MissingWeightsError, match="hubert-large-ls960-ft"):
            HubertEncoder()
        assert time.monotonic() - start < 5.0


@pytest.mark.parametrize("cls", HF_ENCODERS, ids=lambda c: c.__name__)
def test_local_folder_roundtrip(tmp_path, cls):
    torch.manual_seed(1)
    original = cls(config_overrides=TINY).eval()
    original.model.save_pretrained(tmp_path / "ckpt")
    loaded = cls(str(tmp_path / "ckpt")).eval()  # pretrained path, from the local folder
    audio = 0.3 * torch.randn(1, SR)
    torch.testing.assert_close(loaded(audio, None, 30), original(audio, None, 30))


def test_config_and_input_errors(tiny_encoder):
    with pytest.raises(ConfigError, match="hiden_size"):
        Wav2Vec2Encoder(config_overrides={"hiden_size": 8})
    with pytest.raises(DataError, match="too short"):
        tiny_encoder(torch.randn(1, 100), None, 3)
    with pytest.raises(DataError):
        tiny_encoder(torch.randn(SR), None, 3)  # missing batch axis


# ---------------------------------------------------------------------- log-mel / MFCC


def test_mel_padding_invariance():
    enc = MelSpectrogramEncoder(frame_context=1)
    audio, mask = padded_batch([SR, 7000, 12345])
    frames = torch.tensor([30, 13, 23])
    batched = enc(audio, mask, frames)
    assert batched.shape == (3, 30, 80 * 3) and enc.output_dim == 240
    for b, n in enumerate([SR, 7000, 12345]):
        alone = enc(audio[b : b + 1, :n], None, int(frames[b]))
        torch.testing.assert_close(batched[b, : frames[b]], alone[0], atol=1e-5, rtol=1e-5)
        assert batched[b, frames[b] :].abs().sum() == 0


def test_mfcc_shape_and_tone():
    enc = MelSpectrogramEncoder(mfcc=13)
    assert enc.output_dim == 13
    out = enc(torch.randn(2, SR), None, 25)
    assert out.shape == (2, 25, 13) and torch.isfinite(out).all()
    # a 1 kHz tone puts the most log-mel energy in the band centred near 1 kHz
    logmel = MelSpectrogramEncoder(n_mels=40)(torch.from_numpy(sine(1000.0, 0.5, SR))[None], None, 10)
    bank = mel_filterbank(SR, 512, 40)
    centre_hz = (bank.argmax(dim=1).float() * SR / 512)[logmel[0, 5].argmax()]
    assert abs(float(centre_hz) - 1000.0) < 120.0
    with pytest.raises(ConfigError):
        MelSpectrogramEncoder(mfcc=13, log=False)


def test_mel_filterbank_scales():
    for scale in ("slaney", "htk"):
        bank = mel_filterbank(SR, 512, 40, mel_scale=scale)
        assert bank.shape == (40, 257) and (bank >= 0).all()
        assert (bank.sum(dim=1) > 0).all()  # no empty band at this resolution


def test_mel_cmvn_removes_constant_gain_and_normalises():
    """CMVN features are invariant to a constant gain and have zero mean / unit std per band."""
    import torch

    from talkzoo.audio.encoders import MelSpectrogramEncoder

    torch.manual_seed(0)
    audio = torch.randn(1, 16000) * torch.linspace(0.1, 1.0, 16000)
    enc = MelSpectrogramEncoder(n_mels=20, normalize="meanvar")
    base = enc._features(audio[0])
    louder = enc._features(audio[0] * 3.0)
    torch.testing.assert_close(base, louder, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(base.mean(0), torch.zeros(20), atol=1e-4, rtol=0)
    torch.testing.assert_close(base.std(0, unbiased=False), torch.ones(20), atol=1e-3, rtol=0)
    assert enc(audio, None, 30).shape == (1, 30, 20)


@pytest.mark.parametrize("cls", [Wav2Vec2Encoder, HubertEncoder])
def test_lean_feature_extractor_is_bit_identical_and_only_for_one_group_per_channel(cls):
    """#17: the memory-lean CNN path (GroupNorm + activation applied channel-chunk by chunk in place)
    gives exactly the transformers extractor's output; LayerNorm CNNs and autograd use the module."""
    torch.manual_seed(0)
    enc = cls(config_overrides=TINY).eval()
    ext = enc.model.feature_extractor
    audio = torch.randn(2, 4000) * 0.1
    with torch.no_grad():
        lean = enc._lean_extract(ext, audio, chunk=3, time_chunk=50)
        ref = ext(audio)
    assert lean is not None and torch.equal(lean, ref)
    assert enc._lean_extract(ext, audio) is None  # grad enabled: the module itself
    layer_norm = cls(config_overrides={**TINY, "feat_extract_norm": "layer"}).eval()
    with torch.no_grad():
        assert layer_norm._lean_extract(layer_norm.model.feature_extractor, audio) is None
