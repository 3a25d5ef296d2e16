"""ChebNet blocks: the vertex-major sparse evaluation equals PyG's ChebConv and the COO pooling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ottalk_testutils import WORK, icosphere
from talkzoo_ottalk.layers import ChebDecoder, ChebEncoder, MeshHierarchyBuffers, cheb_conv_vm
from talkzoo_ottalk.mesh_sampling import load_or_build_hierarchy


def _buffers() -> MeshHierarchyBuffers:
    v, f = icosphere(2)  # 162 -> 41 -> 11 -> 3 vertices
    hier = load_or_build_hierarchy(v, f, (4, 4, 4), "pick", str(WORK / "cache"), True)
    hb = MeshHierarchyBuffers(hier.sizes)
    hb.set_hierarchy(hier)
    return hb


@pytest.mark.parametrize("K", [1, 2, 6])
def test_vertex_major_cheb_conv_equals_pyg(K: int) -> None:
    from torch_geometric.nn import ChebConv

    hb = _buffers()
    torch.manual_seed(0)
    conv = ChebConv(5, 7, K=K, normalization="sym")
    with torch.no_grad():
        conv.bias.normal_()
    for level in range(len(hb.sizes)):
        x = torch.randn(4, hb.sizes[level], 5, dtype=torch.float64)
        ref = conv.double()(x, hb.edge_index(level))  # PyG: graphs first, (N, n, C)
        ours = cheb_conv_vm(conv, x.transpose(0, 1), hb.sparse("lap", level, torch.float64)).transpose(0, 1)
        # the Laplacian values are stored in float32, hence the tolerance
        torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-6)


def test_scaled_laplacian_is_minus_normalised_adjacency() -> None:
    hb = _buffers()
    lap = hb.sparse("lap", 0, torch.float64).to_dense().numpy()
    e = hb.edge_index(0).numpy()
    n = hb.sizes[0]
    adj = np.zeros((n, n))
    adj[e[0], e[1]] = 1.0
    d = adj.sum(1) ** -0.5
    np.testing.assert_allclose(lap, -(d[:, None] * adj * d[None, :]), atol=1e-7)


def test_sparse_pooling_equals_coo_pooling() -> None:
    hb = _buffers()
    g = torch.Generator().manual_seed(1)
    for level in range(hb.num_levels):
        x = torch.randn(3, hb.sizes[level], 4, generator=g)
        down = hb.apply_vm(hb.sparse("down", level), x.transpose(0, 1)).transpose(0, 1)
        torch.testing.assert_close(down, hb.down(x, level))
        y = torch.randn(3, hb.sizes[level + 1], 4, generator=g)
        up = hb.apply_vm(hb.sparse("up", level), y.transpose(0, 1)).transpose(0, 1)
        torch.testing.assert_close(up, hb.up(y, level))


def test_encoder_and_decoder_match_a_pyg_reference_and_backpropagate() -> None:
    hb = _buffers()
    torch.manual_seed(0)
    enc = ChebEncoder(hb, (4, 4, 8), latent_dim=6, K=3)
    dec = ChebDecoder(hb, (4, 4, 8), in_dim=6, K=3)
    with torch.no_grad():
        dec.out.lins[0].weight.normal_()
    x = torch.randn(2, hb.sizes[0], 3, requires_grad=True)
    z = enc(x)
    # reference: PyG's message passing and the COO pooling, graphs-first layout
    h = x
    for l, conv in enumerate(enc.convs):
        h = hb.down(torch.nn.functional.elu(conv(h, hb.edge_index(l))), l)
    torch.testing.assert_close(z, enc.fc(h.flatten(1)), atol=1e-5, rtol=1e-5)
    out = dec(z)
    h = dec.fc(z).reshape(2, hb.sizes[-1], 8)
    for l in reversed(range(hb.num_levels)):
        h = torch.nn.functional.elu(dec.convs[l](hb.up(h, l), hb.edge_index(l)))
    torch.testing.assert_close(out, dec.out(h, hb.edge_index(0)), atol=1e-5, rtol=1e-5)
    assert out.shape == (2, hb.sizes[0], 3)
    out.square().sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0
