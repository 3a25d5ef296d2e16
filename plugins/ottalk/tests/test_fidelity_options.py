"""OT-Talk readings the paper leaves open, as options (issue 19, items 9 and 10): the norm of
Eqs. 8-9 (``vertex_distance``) and the input of the PCA coefficient head (``pca_input``)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from ottalk_testutils import ico_spec, make_batch, tiny_model

from talkzoo.errors import ConfigError
from talkzoo_ottalk.losses import reconstruction_loss, velocity_loss

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def _hand_case():
    """Two frames, two vertices; one vertex off by (3, 4, 0) in frame 1 only."""
    target = torch.zeros(1, 2, 2, 3)
    pred = target.clone()
    pred[0, 1, 0] = torch.tensor([3.0, 4.0, 0.0])
    return pred, target, torch.ones(1, 2, dtype=torch.bool)


def test_reconstruction_squared_and_euclidean_by_hand():
    pred, target, mask = _hand_case()
    # per frame: mean over the 2 vertices; then mean over the 2 frames
    assert reconstruction_loss(pred, target, mask).item() == pytest.approx((0 + 25 / 2) / 2)
    assert reconstruction_loss(pred, target, mask, squared=False).item() == pytest.approx((0 + 5 / 2) / 2)


def test_velocity_squared_and_euclidean_by_hand():
    pred, target, mask = _hand_case()
    # one pair of frames; the difference moves one vertex by (3, 4, 0)
    assert velocity_loss(pred, target, mask).item() == pytest.approx(25 / 2)
    assert velocity_loss(pred, target, mask, squared=False).item() == pytest.approx(5 / 2)


def test_euclidean_gradient_is_finite_at_zero_error():
    pred, target, mask = _hand_case()
    pred.requires_grad_(True)
    (reconstruction_loss(pred, target, mask, squared=False) + velocity_loss(pred, target, mask, squared=False)).backward()
    assert torch.isfinite(pred.grad).all()


def test_vertex_distance_option_reaches_the_training_loss():
    spec, v = ico_spec()
    batch = make_batch(v)
    squared = tiny_model(spec).compute_losses(batch)
    euclid_model = tiny_model(spec, vertex_distance="euclidean")
    euclid = euclid_model.compute_losses(batch)
    # at initialisation the prediction is the template: errors are the displacements (mm at loss_scale 1000)
    disp = (batch.vertices - batch.template[:, None]) * 1000.0
    norms = disp.norm(dim=-1).mean(-1)  # (B, T)
    mask = batch.frame_mask
    expected = ((norms * mask).sum() / mask.sum()).item()  # mean over every real frame of the batch
    assert euclid["rec"].item() == pytest.approx(expected, rel=1e-4)
    assert euclid["rec"].item() < squared["rec"].item()  # mm vs mm² for errors of a few mm
    with pytest.raises(ConfigError, match="vertex_distance"):
        tiny_model(spec, vertex_distance="l1")


def test_pca_input_audio_ignores_the_template():
    """``pca_input="audio"``: the 50 coefficients come from the audio code alone (the paper's words),
    so two faces speaking the same audio get the same coefficients; ``[a_t, z]`` lets them differ."""
    spec, v = ico_spec()
    batch = make_batch(v, lengths=(5,))
    other = batch.template * 1.3
    results = {}
    for mode in ("audio", "audio_identity"):
        model = tiny_model(spec, pca_input=mode).eval()
        with torch.no_grad():
            for p in model.network.coeff_head.parameters():  # leave the zero initialisation
                p.normal_(0.0, 0.5)
            a = model.network(batch.audio, batch.audio_mask, batch.template, 5).coefficients
            b = model.network(batch.audio, batch.audio_mask, other, 5).coefficients
        results[mode] = (a - b).abs().max().item()
        width = model.network.coeff_head.in_features
        assert width == (model.hparams.d_model if mode == "audio" else model.hparams.d_model + model.hparams.latent_dim)
    assert results["audio"] == 0.0
    assert results["audio_identity"] > 1e-4
    with pytest.raises(ConfigError, match="pca_input"):
        tiny_model(spec, pca_input="template")


@pytest.mark.parametrize("name", ["ottalk_voca.yaml", "ottalk_multiface.yaml"])
def test_paper_recipes_choose_the_paper_readings(name):
    args = yaml.safe_load((RECIPES / name).read_text())["model"]["init_args"]
    assert args["pca_input"] == "audio"  # "from the audio latent code"
    assert args["swd_root"] is True and args["ot_max_frames"] is None  # "the SWD ... for every frame"
    assert args.get("vertex_distance", "squared") == "squared"


def test_demo_recipe_keeps_its_tuned_settings():
    args = yaml.safe_load((RECIPES / "ottalk_demo.yaml").read_text())["model"]["init_args"]
    assert args["swd_root"] is False and args["ot_max_frames"] == 32
    assert args.get("pca_input", "audio_identity") == "audio_identity"
    assert args.get("vertex_distance", "squared") == "squared"
    assert not math.isnan(args["dropout"])


def test_sw_distance_has_a_finite_gradient_when_meshes_coincide():
    """The paper recipes train on SW_p (``swd_root: true``): a frame predicted exactly must not
    turn the step into NaN (d/dx x^(1/p) is infinite at 0)."""
    from ottalk_testutils import icosphere

    from talkzoo_ottalk.swd import mesh_sliced_wasserstein

    v, f = icosphere(1)
    target = torch.as_tensor(v, dtype=torch.float64)[None].repeat(2, 1, 1)
    pred = target.clone()
    pred[1] += 0.01  # frame 1 is off by a translation, frame 0 is exact
    pred.requires_grad_(True)
    faces = torch.as_tensor(f)
    out = mesh_sliced_wasserstein(pred, target, faces, num_projections=16, p=2.0, root=True,
                                  generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert out[0].item() == 0.0 and out[1].item() > 0
    out.sum().backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[0].abs().max() == 0 and pred.grad[1].abs().max() > 0
