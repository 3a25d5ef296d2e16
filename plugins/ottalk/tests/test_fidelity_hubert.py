"""OT-Talk §3.3: "use the pre-trained Hubert model (Hubert Large), and linearly interpolate the output"
(issue 19, item 6): HuBERT runs at its own 50 Hz and its *output* is interpolated to the mesh fps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from talkzoo.audio.encoders import HubertEncoder
from talkzoo.testing.recipes import TINY_SPEECH_ENCODER

TINY = TINY_SPEECH_ENCODER  # one tiny wav2vec 2.0 / HuBERT config (talkzoo.testing.recipes)
RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def _normalised(audio: torch.Tensor) -> torch.Tensor:
    mean = audio.mean(dim=1, keepdim=True)
    var = audio.var(dim=1, unbiased=False, keepdim=True)
    return (audio - mean) / torch.sqrt(var + 1e-7)


@pytest.fixture(scope="module")
def tiny_hubert() -> HubertEncoder:
    torch.manual_seed(0)
    return HubertEncoder(config_overrides=TINY).eval()


def test_default_order_is_the_papers(tiny_hubert):
    assert tiny_hubert.interpolate_before_transformer is False


def test_output_is_the_50hz_model_output_interpolated(tiny_hubert):
    torch.manual_seed(1)
    audio = 0.3 * torch.randn(1, 16000)  # 1 s: the CNN gives 49 frames at 50 Hz
    with torch.no_grad():
        hidden = tiny_hubert.model(_normalised(audio)).last_hidden_state  # (1, 49, 32)
        ours = tiny_hubert(audio, None, 25)
    assert hidden.shape[1] == 49
    # hand case: 49 -> 25 frames with align_corners=True puts output frame i at input position
    # i * 48 / 24 = 2i exactly, so output frame i is the 50 Hz frame 2i
    torch.testing.assert_close(ours[0], hidden[0, ::2], atol=1e-5, rtol=1e-5)
    # general frame counts: the linear interpolation of the whole-model output
    with torch.no_grad():
        ours30 = tiny_hubert(audio, None, 30)
    reference = F.interpolate(hidden.transpose(1, 2), size=30, mode="linear", align_corners=True).transpose(1, 2)
    torch.testing.assert_close(ours30, reference, atol=1e-5, rtol=1e-5)


def test_the_faceformer_order_differs_and_stays_available(tiny_hubert):
    torch.manual_seed(1)
    before = HubertEncoder(config_overrides=TINY, interpolate_before_transformer=True).eval()
    before.load_state_dict(tiny_hubert.state_dict())
    audio = 0.3 * torch.randn(1, 16000)
    with torch.no_grad():
        after_out = tiny_hubert(audio, None, 30)
        before_out = before(audio, None, 30)
    relative = ((after_out - before_out).norm() / after_out.norm()).item()
    assert relative > 0.05, relative  # two different feature sequences (47 % on this seed)


@pytest.mark.parametrize("name", ["ottalk_voca.yaml", "ottalk_multiface.yaml"])
def test_paper_recipes_interpolate_the_output(name):
    config = yaml.safe_load((RECIPES / name).read_text())
    encoder = config["model"]["init_args"]["audio_encoder"]
    assert encoder["class_path"] == "talkzoo.audio.encoders.HubertEncoder"
    assert encoder["init_args"]["interpolate_before_transformer"] is False
