"""The sliced Wasserstein distance: equal to POT, zero on identical meshes, exact on translations, differentiable."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from ottalk_testutils import icosphere
from talkzoo_ottalk.swd import face_varifold, mesh_sliced_wasserstein, random_projections, sliced_wasserstein, wasserstein_1d


def _meshes(frames: int = 3, seed: int = 0):
    v, f = icosphere(1)
    g = torch.Generator().manual_seed(seed)
    base = torch.as_tensor(v)
    pred = base + 0.01 * torch.randn(frames, *base.shape, generator=g, dtype=torch.float64)
    target = base + 0.01 * torch.randn(frames, *base.shape, generator=g, dtype=torch.float64)
    return pred, target, torch.as_tensor(f)


@pytest.mark.parametrize("support", ["R3", "R6"])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_equals_pot_on_mesh_measures(support: str, p: float) -> None:
    pred, target, faces = _meshes()
    xs, a = face_varifold(pred, faces, support, normal_weight=0.02)
    ys, b = face_varifold(target, faces, support, normal_weight=0.02)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, dtype=torch.float64))
    proj = random_projections(xs.shape[-1], 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ours = sliced_wasserstein(xs, ys, a, b, projections=proj, p=p)
    for i in range(3):
        ref = ot.sliced_wasserstein_distance(
            xs[i].numpy(), ys[i].numpy(), a[i].numpy(), b[i].numpy(), projections=proj.numpy(), p=p
        )
        assert float(ours[i]) == pytest.approx(float(ref), rel=1e-10, abs=1e-14)


def test_equals_pot_with_unequal_sizes_and_torch_backend() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 4, generator=g, dtype=torch.float64), torch.randn(31, 4, generator=g, dtype=torch.float64) + 0.5
    a, b = torch.rand(50, generator=g, dtype=torch.float64), torch.rand(31, generator=g, dtype=torch.float64)
    a, b = a / a.sum(), b / b.sum()
    proj = random_projections(4, 25, generator=g, dtype=torch.float64)
    ours = sliced_wasserstein(x, y, a, b, projections=proj, p=2)
    ref = ot.sliced_wasserstein_distance(x, y, a, b, projections=proj, p=2)  # POT's torch backend
    torch.testing.assert_close(ours, ref)


def test_zero_for_identical_meshes_and_gradient_defined() -> None:
    pred, _, faces = _meshes()
    x = pred.clone().requires_grad_(True)
    d = mesh_sliced_wasserstein(x, pred, faces, support="R6", normal_weight=0.02, num_projections=30, root=False)
    assert torch.all(d.abs() < 1e-20)
    d.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert float(mesh_sliced_wasserstein(pred, pred, faces, root=True, num_projections=30).abs().max()) < 1e-9


@pytest.mark.parametrize("support", ["R3", "R6"])
def test_translation_gives_the_known_distance_and_grows(support: str) -> None:
    """A rigid translation t shifts every projected point by <theta, t>: SW_2^2 = mean_l <theta_l[:3], t>^2."""
    pred, _, faces = _meshes(frames=1)
    d = 6 if support == "R6" else 3
    proj = random_projections(d, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    direction = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    values = []
    for scale in (0.001, 0.002, 0.004):
        t = scale * direction
        sw2 = mesh_sliced_wasserstein(pred + t, pred, faces, support=support, projections=proj, p=2, root=False)
        expected = ((proj[:3].t() @ t) ** 2).mean()
        torch.testing.assert_close(sw2[0], expected, rtol=1e-9, atol=1e-15)
        values.append(float(sw2[0]))
    assert values[0] < values[1] < values[2]
    assert values[1] / values[0] == pytest.approx(4.0, rel=1e-6)  # quadratic in the displacement


def test_backpropagates_to_positions_and_weights() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    a = torch.rand(2, 7, generator=g, dtype=torch.float64)
    a = (a / a.sum(-1, keepdim=True)).requires_grad_(True)
    proj = random_projections(3, 8, generator=g, dtype=torch.float64)
    fn = lambda x_, a_: sliced_wasserstein(x_, y, a_, None, projections=proj, p=2, root=False)  # noqa: E731
    # finite differences on positions (weights fixed) and on the weights (sum-preserving perturbation)
    assert torch.autograd.gradcheck(lambda x_: fn(x_, a.detach()), (x,), eps=1e-7, atol=1e-6)
    out = fn(x, a).sum()
    out.backward()
    assert x.grad.abs().sum() > 0 and a.grad.abs().sum() > 0


def test_mesh_gradient_moves_prediction_towards_target() -> None:
    pred, target, faces = _meshes(frames=2)
    x = pred.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=1e-3)
    proj = random_projections(6, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = mesh_sliced_wasserstein(x, target, faces, projections=proj, normal_weight=0.02).sum()
        first = float(loss.detach()) if first is None else first
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_chunked_checkpointing_gives_the_same_value_and_gradient() -> None:
    pred, target, faces = _meshes(frames=5)
    proj = random_projections(6, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    grads = []
    values = []
    for chunk in (None, 2):
        x = pred.clone().requires_grad_(True)
        d = mesh_sliced_wasserstein(x, target, faces, projections=proj, chunk_size=chunk)
        d.sum().backward()
        values.append(d.detach())
        grads.append(x.grad)
    torch.testing.assert_close(values[0], values[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_fresh_projections_each_call_and_unit_norm() -> None:
    pred, target, faces = _meshes(frames=1)
    p1 = random_projections(6, 10)
    torch.testing.assert_close(p1.norm(dim=0), torch.ones(10))
    a = mesh_sliced_wasserstein(pred, target, faces, num_projections=10)
    b = mesh_sliced_wasserstein(pred, target, faces, num_projections=10)
    assert not torch.equal(a, b)


def test_wasserstein_1d_matches_pot() -> None:
    g = np.random.default_rng(0)
    u, v = g.normal(size=(9, 3)), g.normal(size=(6, 3))
    uw, vw = g.random((9, 3)), g.random((6, 3))
    uw, vw = uw / uw.sum(0), vw / vw.sum(0)
    ref = ot.wasserstein_1d(u, v, uw, vw, p=2)
    ours = wasserstein_1d(*(torch.as_tensor(z.T) for z in (u, v, uw, vw)), p=2)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="support"):
        face_varifold(torch.zeros(3, 3), torch.tensor([[0, 1, 2]]), support="R4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p must be"):
        sliced_wasserstein(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), p=0.5)
