"""OT-Talk model: shapes, PCA initialisation, ablations, training, bad input, checkpoints, metadata."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from ottalk_testutils import FPS, RATE, TINY, WORK, ico_spec, icosphere, make_batch, save_faces, tiny_model
from talkzoo.data.spec import MeshDataSpec
from talkzoo.errors import ConfigError, DataError
from talkzoo_ottalk import model as model_module
from talkzoo_ottalk.model import OTTalk
from talkzoo_ottalk.network import pca_of_displacements


# ------------------------------------------------------------------ shapes
def test_generate_shapes_and_padding() -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    batch = make_batch(tpl, lengths=(6, 4))
    with torch.no_grad():
        out = m.generate(batch.audio, batch.template, num_frames=7, audio_mask=batch.audio_mask)
        assert out.shape == (2, 7, 42, 3) and out.dtype == torch.float32
        auto = m.generate(batch.audio, batch.template, audio_mask=batch.audio_mask)
    assert auto.shape == (2, 6, 42, 3)  # frames_for_audio of the longest sequence
    torch.testing.assert_close(auto[1, 4:], batch.template[1, None].expand(2, -1, -1))  # padding = template
    full = m(batch.audio, batch.audio_mask, batch.template, batch.lengths)
    assert full.coefficients.shape == (2, 6, 6) and full.refinement is not None
    assert full.frame_mask.tolist() == batch.frame_mask.tolist()


def test_padded_batch_sequences_keep_their_own_length() -> None:
    # A short sequence in a padded batch is animated over its own frames (not stretched to the
    # batch width): equal to animating it alone, in generate() and in the metrics' prediction.
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    with torch.no_grad():  # make the output depend on the audio
        m.network.coeff_head.weight.normal_()
        m.network.refiner.out.lins[0].weight.normal_()
    b = make_batch(tpl, lengths=(8, 5))
    n = int(b.audio_mask[1].sum())
    with torch.no_grad():
        single = m.generate(b.audio[1:2, :n], b.template[1:2])  # the second sequence alone, unpadded
        both = m.generate(b.audio, b.template, num_frames=8, audio_mask=b.audio_mask)
        metric = m.predict_for_metrics(b)
    assert single.shape == (1, 5, 42, 3) and both.shape == metric.shape == (2, 8, 42, 3)
    assert not torch.allclose(single[0, 0], single[0, 4])  # the motion varies over time
    torch.testing.assert_close(both[1, :5], single[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(metric[1, :5], single[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(both[1, 5:], b.template[1, None].expand(3, -1, -1))


def test_generate_ignores_speaker_labels() -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    b = make_batch(tpl)
    with torch.no_grad():
        a = m.generate(b.audio, b.template, speaker=torch.tensor([0, 1]), audio_mask=b.audio_mask)
        c = m.generate(b.audio, b.template, speaker=None, audio_mask=b.audio_mask)
    torch.testing.assert_close(a, c)


def test_identity_comes_from_the_template() -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    b = make_batch(tpl)
    other = b.template * 1.1
    with torch.no_grad():
        m.network.refiner.out.lins[0].weight.data.normal_()  # make the refinement non-zero
        d1 = m.generate(b.audio, b.template, audio_mask=b.audio_mask) - b.template[:, None]
        d2 = m.generate(b.audio, other, audio_mask=b.audio_mask) - other[:, None]
    assert not torch.allclose(d1, d2)


# ------------------------------------------------------------------ PCA
def test_pca_function_equals_numpy() -> None:
    g = np.random.default_rng(0)
    x = g.normal(size=(40, 12)) @ g.normal(size=(12, 12))
    mean, comps, std = pca_of_displacements(torch.as_tensor(x), 5)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    np.testing.assert_allclose(mean.numpy(), x.mean(0), atol=1e-12)
    np.testing.assert_allclose(std.numpy(), s[:5] / np.sqrt(39), rtol=1e-10)
    for k in range(5):
        assert abs(abs(float(comps[k].numpy() @ vt[k])) - 1.0) < 1e-9  # same axis up to sign
    cov = np.cov(x, rowvar=False)
    np.testing.assert_allclose(std.numpy() ** 2, np.sort(np.linalg.eigvalsh(cov))[::-1][:5], rtol=1e-8)
    lr_mean, lr_comps, lr_std = pca_of_displacements(torch.as_tensor(x), 5, exact_limit=4)  # randomised solver
    np.testing.assert_allclose(lr_std.numpy(), std.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.abs((lr_comps * comps).sum(1).numpy()), 1.0, atol=1e-6)


def test_pca_initialisation_of_the_model_equals_numpy_pca() -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec)
    batches = [make_batch(tpl, lengths=(6, 4), seed=0), make_batch(tpl, lengths=(5, 5), seed=1, amplitude=0.002)]
    m.initialize_pca(batches)
    rows = np.concatenate([b.displacements[b.frame_mask].reshape(-1, 126).numpy() for b in batches]).astype(np.float64)
    mean = rows.mean(0)
    _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
    std = s / np.sqrt(rows.shape[0] - 1)
    assert bool(m.network.pca_ready)
    np.testing.assert_allclose(m.network.pca_mean.numpy(), mean, atol=1e-7)
    rank = int((s > s[0] * 1e-6).sum())
    k = min(6, rank)
    np.testing.assert_allclose(m.network.pca_std[:k].numpy(), std[:k], rtol=1e-4)
    for i in range(k):
        assert abs(abs(float(m.network.pca_components[i].double().numpy() @ vt[i])) - 1) < 1e-4
    # the layer = whitened basis in motion units (mm): weight = components^T * std, bias = mean
    assert m.network.motion_unit == pytest.approx(1e-3)
    torch.testing.assert_close(m.network.pca_layer.weight * 1e-3, (m.network.pca_components * m.network.pca_std[:, None]).t())
    torch.testing.assert_close(m.network.pca_layer.bias * 1e-3, m.network.pca_mean)
    # a checkpoint keeps the basis
    state = m.state_dict()
    assert {"network.pca_mean", "network.pca_components", "network.pca_std", "network.pca_ready"} <= set(state)


def test_training_starts_at_the_mean_motion() -> None:
    # zero-initialised coefficient head and refinement output: after the PCA initialisation the
    # prediction is template + mean training displacement for any audio (the mean-motion baseline)
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    batches = [make_batch(tpl, lengths=(6, 4), seed=0), make_batch(tpl, lengths=(5, 5), seed=1)]
    m.initialize_pca(batches)
    b = make_batch(tpl, lengths=(6, 3), seed=2)
    with torch.no_grad():
        out = m(b.audio, b.audio_mask, b.template, b.lengths)
    assert float(out.coefficients.abs().max()) == 0.0 and float(out.refinement.abs().max()) == 0.0
    expected = b.template[:, None] + m.network.pca_mean.reshape(42, 3)
    torch.testing.assert_close(out.vertices[0], expected[0].expand(6, -1, -1), atol=1e-7, rtol=0)
    torch.testing.assert_close(out.vertices[1, :3], expected[1].expand(3, -1, -1), atol=1e-7, rtol=0)


def test_one_optimizer_step_moves_the_mesh_by_less_than_a_millimetre() -> None:
    # Regression: when the heads output metres, one AdamW step (each weight moves by ~lr) moved
    # the refinement by ~0.1 m on the demo face. In motion units (mm) it is a sub-millimetre step.
    spec, tpl = ico_spec()
    m = tiny_model(spec, swd_projections=8)
    b = make_batch(tpl, lengths=(6, 5))
    m.initialize_pca([b])
    with torch.no_grad():
        before = m(b.audio, b.audio_mask, b.template, b.lengths).vertices
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m.compute_losses(b)["loss"].backward()
    opt.step()
    with torch.no_grad():
        after = m(b.audio, b.audio_mask, b.template, b.lengths).vertices
    move = float((after - before).norm(dim=-1).max())
    assert 0 < move < 1e-3, move


# ------------------------------------------------------------------ ablations
def test_ablations_remove_their_parts(monkeypatch) -> None:
    spec, tpl = ico_spec()
    full = tiny_model(spec)
    assert full.network.audio_temporal.transformer is not None and hasattr(full.network, "mesh_encoder") and hasattr(full.network, "refiner")

    no_tf = tiny_model(spec, use_transformer=False)
    assert no_tf.network.audio_temporal.transformer is None
    assert not any("transformer" in k for k in no_tf.state_dict())

    no_cheb = tiny_model(spec, use_chebnet=False)
    assert not any(hasattr(no_cheb.network, name) for name in ("mesh_encoder", "refiner", "hierarchy"))
    assert no_cheb.network.coeff_head.in_features == TINY["d_model"]
    assert no_cheb.num_parameters() < full.num_parameters()
    b = make_batch(tpl)
    out = no_cheb(b.audio, b.audio_mask, b.template, b.lengths)
    assert out.refinement is None
    # without ChebNet the output is the template plus the PCA layer's motion only
    torch.testing.assert_close(out.vertices, b.template[:, None] + out.linear * b.frame_mask[..., None, None])

    def no_swd(*args, **kwargs):
        raise AssertionError("the OT loss ran although use_ot=False")

    no_ot = tiny_model(spec, use_ot=False)
    monkeypatch.setattr(model_module, "ot_loss", no_swd)
    losses = no_ot.compute_losses(b)
    assert "ot" not in losses and set(losses) == {"loss", "rec", "vel", "sparsity"}
    monkeypatch.undo()
    assert "ot" in full.compute_losses(b)


def test_loss_terms_combine_with_their_weights() -> None:
    spec, tpl = ico_spec()
    b = make_batch(tpl)
    m = tiny_model(spec, lambda_rec=2.0, lambda_vel=0.5, lambda_ot=3.0, lambda_sparse=0.1, swd_projections=8)
    torch.manual_seed(5)
    losses = m.compute_losses(b)
    total = 2.0 * losses["rec"] + 0.5 * losses["vel"] + 3.0 * losses["ot"] + 0.1 * losses["sparsity"]
    torch.testing.assert_close(losses["loss"], total)
    assert all(torch.isfinite(v) for v in losses.values())


# ------------------------------------------------------------------ training
def test_tiny_config_trains_and_loss_falls(tmp_path) -> None:
    from lightning.pytorch import Trainer

    spec, tpl = ico_spec()
    m = tiny_model(spec, optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3))
    batch = make_batch(tpl, lengths=(6, 5))
    m.initialize_pca([batch])
    start = float(m.compute_losses(batch)["loss"].detach())
    trainer = Trainer(accelerator="cpu", max_steps=30, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path))  # fmt: skip
    trainer.fit(m, train_dataloaders=torch.utils.data.DataLoader([batch], batch_size=None))
    m.eval()
    with torch.no_grad():
        end = float(m.compute_losses(batch)["loss"])
    assert end < 0.5 * start, (start, end)


def test_pca_hook_runs_at_fit_start(tmp_path) -> None:
    from lightning.pytorch import Trainer

    spec, tpl = ico_spec()
    m = tiny_model(spec)
    batch = make_batch(tpl)
    trainer = Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path))  # fmt: skip
    trainer.fit(m, train_dataloaders=torch.utils.data.DataLoader([batch], batch_size=None))
    assert bool(m.network.pca_ready) and bool(m.network.reference_ready)


# ------------------------------------------------------------------ bad input
def test_non_manifold_faces_file_raises_data_error() -> None:
    v, f = icosphere(1)
    bad = np.concatenate([f, [[f[0, 0], f[0, 1], 12]]])  # a third triangle on an existing edge
    path = save_faces(bad, "nonmanifold")
    spec = MeshDataSpec(dataset="x", fps=FPS, sample_rate=RATE, num_vertices=42, faces_file=path)
    with pytest.raises(DataError, match=r"nonmanifold\.npy.*not a manifold triangle mesh: edge"):
        tiny_model(spec)


def test_faces_of_another_vertex_count_raise_data_error() -> None:
    v, f = icosphere(1)
    spec = MeshDataSpec(dataset="x", fps=FPS, sample_rate=RATE, num_vertices=30, faces_file=save_faces(f, "ico_faces"))
    with pytest.raises(DataError, match="out of range for a mesh of 30 vertices"):
        tiny_model(spec)


def test_template_with_wrong_vertex_count_raises_data_error() -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec)
    b = make_batch(tpl)
    with pytest.raises(DataError, match=r"template must be \(B=2, V=42, 3\)"):
        m.generate(b.audio, b.template[:, :40], audio_mask=b.audio_mask)
    wrong = WORK / "wrong_template.npy"
    np.save(wrong, tpl[:40])
    with pytest.raises(DataError, match="has 40 vertices but the data has 42"):
        tiny_model(spec, reference_template=str(wrong))


def test_missing_faces_is_a_config_error() -> None:
    spec = MeshDataSpec(dataset="x", fps=FPS, sample_rate=RATE, num_vertices=42)
    with pytest.raises(ConfigError, match="faces_file"):
        tiny_model(spec)
    with pytest.raises(DataError, match="faces file not found"):
        tiny_model(spec, mesh_faces=str(WORK / "nope.npy"))


def test_bad_options_are_config_errors() -> None:
    spec, _ = ico_spec()
    for kwargs in ({"swd_support": "R4"}, {"channels": (4, 4)}, {"swd_p": 0.5}, {"down_mode": "max"}):
        with pytest.raises(ConfigError):
            tiny_model(spec, **kwargs)


# ------------------------------------------------------------------ reference template and checkpoints
def test_reference_template_file_builds_hierarchy_at_construction() -> None:
    spec, tpl = ico_spec()
    path = WORK / "ico_template.npy"
    np.save(path, tpl)
    m = tiny_model(spec, reference_template=str(path))
    assert m.network.hierarchy.ready and m.network.hierarchy.sizes == [42, 11, 3, 1]
    assert float(m.network.normal_weight) > 0 and m.hparams["reference_template"] is None


def test_state_dict_carries_hierarchy_and_encoder_config(tmp_path) -> None:
    spec, tpl = ico_spec()
    m = tiny_model(spec).eval()
    b = make_batch(tpl)
    with torch.no_grad():
        ref = m.generate(b.audio, b.template, audio_mask=b.audio_mask)
    recorded = m.hparams["audio_encoder"]
    assert recorded["class_path"] == "talkzoo.audio.encoders.MelSpectrogramEncoder"
    args = {k: v for k, v in m.hparams.items() if not k.startswith("_")}
    clone = OTTalk(**args).eval()
    assert not clone.network.hierarchy.ready
    clone.load_state_dict(m.state_dict())
    assert clone.network.hierarchy.ready
    with torch.no_grad():
        torch.testing.assert_close(clone.generate(b.audio, b.template, audio_mask=b.audio_mask), ref)


def test_default_optimizer_is_adamw() -> None:
    spec, _ = ico_spec()
    opt = tiny_model(spec).configure_optimizers()
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["lr"] == 1e-4 and opt.defaults["weight_decay"] == 1e-2


def test_metrics_include_ottalk_errors(tmp_path) -> None:
    v, f = icosphere(1)
    lip = tmp_path / "lip.txt"
    lip.write_text("\n".join(map(str, range(10))) + "\n")
    face = tmp_path / "face.txt"
    face.write_text("\n".join(map(str, range(30))) + "\n")
    spec = MeshDataSpec(dataset="ico", fps=FPS, num_vertices=42, faces_file=save_faces(f, "ico1m"),
                        lip_region=str(lip), face_region=str(face))  # fmt: skip
    metrics = tiny_model(spec).configure_metrics()
    names = {k.split("@")[0] for k in metrics.keys()}
    assert {"LipMax", "LipMean", "FaceMean", "HeadMean", "MVE", "LVE"} <= names
    assert "HeadMean@all" in metrics.keys() and any(k.startswith("LipMax@lip") for k in metrics.keys())


# ------------------------------------------------------------------ package
def test_metadata_and_package_do_not_import_torch() -> None:
    code = (
        "import sys, talkzoo_ottalk, talkzoo_ottalk.metadata as m; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert m.PLUGIN.models[0].class_path == 'talkzoo_ottalk.model.OTTalk'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import talkzoo_ottalk

    assert talkzoo_ottalk.OTTalk is OTTalk


def test_entry_point_is_discovered() -> None:
    from talkzoo.plugins import discover_plugins

    records = {r.name: r for r in discover_plugins(refresh=True)}
    assert "ottalk" in records and records["ottalk"].ok, records.get("ottalk")


def test_parameter_count_matches_metadata() -> None:
    from talkzoo_ottalk.metadata import OTTALK_HEAD_PARAMETERS

    class Front(torch.nn.Module):
        output_dim = 1024

    m = model_module.build_parameter_count_model(5023, Front())
    assert m.num_parameters() == OTTALK_HEAD_PARAMETERS["vocaset"]
