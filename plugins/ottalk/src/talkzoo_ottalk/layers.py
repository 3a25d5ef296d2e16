"""Network blocks of OT-Talk: the mesh hierarchy as a module, ChebNet encoder/decoder, audio TCN+transformer.

Shape letters: ``B`` batch, ``T`` frames, ``N`` graphs (meshes) in a flat batch, ``n_l`` vertices of
hierarchy level ``l``, ``C`` channels.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from talkzoo.nn.positional import sinusoidal_encoding

from talkzoo_ottalk.mesh_sampling import MeshHierarchy

__all__ = ["AudioTemporalEncoder", "ChebDecoder", "ChebEncoder", "MeshHierarchyBuffers", "cheb_conv_vm"]


class MeshHierarchyBuffers(nn.Module):
    """Torch holder of a :class:`~talkzoo_ottalk.mesh_sampling.MeshHierarchy` (graphs and pooling).

    The level sizes are fixed at construction (so layer shapes are known before the template is
    seen); the hierarchy itself is set later with :meth:`set_hierarchy`, and travels in
    checkpoints as this module's *extra state* (one uint8 tensor holding an ``.npz`` archive), so a loaded model needs no
    template and no recomputation.

    Args:
        sizes: ``[n_0, ..., n_L]`` vertex counts.

    Buffers after :meth:`set_hierarchy` (non-persistent; device moves follow the module):
    ``edge_index_l`` ``(2, 2E_l)`` int64 (both directions), ``down_l_{rows,cols,vals}``,
    ``up_l_{rows,cols,vals}``, ``lap_l_{rows,cols,vals}`` (scaled Laplacian of level ``l``, see
    :func:`cheb_conv_vm`).
    """

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        self.ready = False
        self._arrays: dict[str, np.ndarray] | None = None
        self.register_buffer("_probe", torch.zeros(()), persistent=False)

    @property
    def num_levels(self) -> int:
        """Number of pooling steps ``L``."""
        return len(self.sizes) - 1

    def set_hierarchy(self, hierarchy: MeshHierarchy) -> None:
        """Install a hierarchy (its sizes must equal :attr:`sizes`; ``ValueError`` otherwise)."""
        if list(hierarchy.sizes) != self.sizes:
            raise ValueError(f"mesh hierarchy has level sizes {hierarchy.sizes}, expected {self.sizes}")
        device = self._probe.device
        for l in range(len(self.sizes)):
            e = torch.as_tensor(hierarchy.edges[l], dtype=torch.long).reshape(-1, 2).t()
            self.register_buffer(f"edge_index_{l}", torch.cat([e, e.flip(0)], dim=1).to(device), persistent=False)
        for l in range(self.num_levels):
            for name, (r, c, v) in (("down", hierarchy.down[l]), ("up", hierarchy.up[l])):
                self.register_buffer(f"{name}_{l}_rows", torch.as_tensor(r, dtype=torch.long).to(device), persistent=False)
                self.register_buffer(f"{name}_{l}_cols", torch.as_tensor(c, dtype=torch.long).to(device), persistent=False)
                self.register_buffer(f"{name}_{l}_vals", torch.as_tensor(v, dtype=torch.float32).to(device), persistent=False)
        for l in range(len(self.sizes)):
            rows, cols, vals = _scaled_laplacian(getattr(self, f"edge_index_{l}").cpu(), self.sizes[l])
            self.register_buffer(f"lap_{l}_rows", rows.to(device), persistent=False)
            self.register_buffer(f"lap_{l}_cols", cols.to(device), persistent=False)
            self.register_buffer(f"lap_{l}_vals", vals.to(device), persistent=False)
        self._arrays = hierarchy.to_arrays()
        self.ready = True

    def edge_index(self, level: int) -> Tensor:
        """``(2, 2E)`` int64 directed edges of ``level``."""
        return getattr(self, f"edge_index_{level}")

    def _pool(self, x: Tensor, name: str, level: int, n_out: int) -> Tensor:
        rows = getattr(self, f"{name}_{level}_rows")
        cols = getattr(self, f"{name}_{level}_cols")
        vals = getattr(self, f"{name}_{level}_vals").to(x.dtype)
        out = x.new_zeros(x.shape[:-2] + (n_out, x.shape[-1]))
        return out.index_add(-2, rows, x.index_select(-2, cols) * vals[:, None])

    def sparse(self, name: str, level: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """One operator as a coalesced sparse COO matrix: ``name`` = ``"down"`` (``D_level``, ``n_{l+1} x n_l``),
        ``"up"`` (``U_level``, ``n_l x n_{l+1}``) or ``"lap"`` (the scaled Laplacian of ``level``, ``n_l x n_l``)."""
        rows = getattr(self, f"{name}_{level}_rows")
        cols = getattr(self, f"{name}_{level}_cols")
        vals = getattr(self, f"{name}_{level}_vals").to(dtype)
        if name == "down":
            shape = (self.sizes[level + 1], self.sizes[level])
        elif name == "up":
            shape = (self.sizes[level], self.sizes[level + 1])
        else:
            shape = (self.sizes[level], self.sizes[level])
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, shape, check_invariants=False).coalesce()

    def apply_vm(self, op: Tensor, x: Tensor) -> Tensor:
        """Apply a sparse operator ``(n_out, n_in)`` to vertex-major features ``(n_in, ...)`` → ``(n_out, ...)``."""
        return (op @ x.reshape(x.shape[0], -1)).reshape((op.shape[0],) + x.shape[1:])

    def down(self, x: Tensor, level: int) -> Tensor:
        """``D_level``: ``(..., n_level, C)`` → ``(..., n_{level+1}, C)``."""
        return self._pool(x, "down", level, self.sizes[level + 1])

    def up(self, x: Tensor, level: int) -> Tensor:
        """``U_level``: ``(..., n_{level+1}, C)`` → ``(..., n_level, C)``."""
        return self._pool(x, "up", level, self.sizes[level])

    def hierarchy(self) -> MeshHierarchy | None:
        """The installed hierarchy as numpy (``None`` before :meth:`set_hierarchy`)."""
        return None if self._arrays is None else MeshHierarchy.from_arrays(self._arrays)

    def get_extra_state(self) -> Any:  # noqa: D102 - torch hook: saved in the state dict
        # One uint8 tensor (an ``.npz`` archive of :meth:`MeshHierarchy.to_arrays`; empty before
        # :meth:`set_hierarchy`), so that the state dict stays a mapping of tensors.
        if self._arrays is None:
            return torch.zeros(0, dtype=torch.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **self._arrays)
        return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)

    def set_extra_state(self, state: Any) -> None:  # noqa: D102 - torch hook: restores the hierarchy
        if not isinstance(state, Tensor) or state.numel() == 0:
            return
        with np.load(io.BytesIO(state.cpu().numpy().tobytes()), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        self.set_hierarchy(MeshHierarchy.from_arrays(arrays))


def _cheb(in_channels: int, out_channels: int, K: int) -> nn.Module:
    from torch_geometric.nn import ChebConv

    return ChebConv(in_channels, out_channels, K=K, normalization="sym")


def _scaled_laplacian(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor, Tensor]:
    """COO ``(rows, cols, vals)`` of the scaled Laplacian ``L̂ = 2 L / λ_max − I`` that PyG's
    ``ChebConv(normalization="sym")`` uses (``L = I − D^{-1/2} A D^{-1/2}``, λ_max = 2, so
    ``L̂ = −D^{-1/2} A D^{-1/2}``); zero entries (the diagonal) and isolated vertices are dropped.

    Args:
        edge_index: ``(2, 2E)`` int64 directed edges (both directions).
        num_nodes: vertex count ``n``.
    """
    from torch_geometric.utils import get_laplacian

    ei, w = get_laplacian(edge_index, None, "sym", torch.float64, num_nodes)
    w = w.clone()
    w[ei[0] == ei[1]] -= 1.0  # 2 L / λ_max − I with λ_max = 2 (PyG's default for "sym")
    keep = torch.isfinite(w) & (w != 0)
    return ei[0, keep].contiguous(), ei[1, keep].contiguous(), w[keep].float()


def cheb_conv_vm(conv: nn.Module, x: Tensor, laplacian: Tensor) -> Tensor:
    """Evaluate a PyG ``ChebConv`` on **vertex-major** features with a sparse Laplacian.

    Same result as ``conv(x.transpose(0, 1), edge_index)`` (Defferrard et al. 2016: ``T_0 x = x``,
    ``T_1 x = L̂ x``, ``T_k x = 2 L̂ T_{k-1} x − T_{k-2} x``; output ``Σ_k lins[k](T_k x) + bias``),
    but each ``L̂ ·`` is one sparse-dense product over all graphs at once instead of PyG's per-edge
    gather/scatter, which is several times faster for thousands of frames on one topology.

    Args:
        conv: a ``torch_geometric.nn.ChebConv`` (its ``lins`` and ``bias`` are the parameters).
        x: ``(n, N, C_in)`` features (vertex first, then the ``N`` graphs).
        laplacian: ``(n, n)`` sparse scaled Laplacian (:meth:`MeshHierarchyBuffers.sparse` ``"lap"``).

    Returns:
        ``(n, N, C_out)``.
    """
    shape = x.shape

    def lap(t: Tensor) -> Tensor:
        return (laplacian @ t.reshape(shape[0], -1)).reshape(shape)

    t0 = x
    out = conv.lins[0](t0)
    if len(conv.lins) > 1:
        t1 = lap(x)
        out = out + conv.lins[1](t1)
        for lin in conv.lins[2:]:
            t2 = 2.0 * lap(t1) - t0
            out = out + lin(t2)
            t0, t1 = t1, t2
    if conv.bias is not None:
        out = out + conv.bias
    return out


class ChebEncoder(nn.Module):
    """Template mesh encoder (OT-Talk §3.3): 3 × (ChebConv → ELU → pool to 1/4) → flatten → FC.

    Args:
        hierarchy: the shared :class:`MeshHierarchyBuffers` (``L`` poolings).
        channels: output channels of the ``L`` Chebyshev convolutions (default CoMA-like
            ``(16, 16, 32)``; lost/not given in OT-Talk).
        latent_dim: size of the template code (FC output; not given in OT-Talk).
        K: Chebyshev polynomial order (PyG ``ChebConv(K=K)``: ``K`` terms ``T_0..T_{K-1}``; the
            paper's value was lost; CoMA uses 6).
        in_channels: input features per vertex (3: normalised coordinates).

    Forward: ``x (N, n_0, in_channels)`` → ``(N, latent_dim)``.
    """

    def __init__(self, hierarchy: MeshHierarchyBuffers, channels: tuple[int, ...], latent_dim: int, K: int, in_channels: int = 3) -> None:
        super().__init__()
        if len(channels) != hierarchy.num_levels:
            raise ValueError(f"need one channel count per pooling level ({hierarchy.num_levels}), got {list(channels)}")
        self.hierarchy = [hierarchy]  # not a submodule (owned by the model)
        dims = [in_channels, *channels]
        self.convs = nn.ModuleList(_cheb(dims[i], dims[i + 1], K) for i in range(len(channels)))
        self.fc = nn.Linear(hierarchy.sizes[-1] * channels[-1], latent_dim)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        h = self.hierarchy[0]
        x = x.transpose(0, 1)  # vertex-major (n_0, N, C)
        for l, conv in enumerate(self.convs):
            x = F.elu(cheb_conv_vm(conv, x, h.sparse("lap", l, x.dtype)))
            x = h.apply_vm(h.sparse("down", l, x.dtype), x)
        return self.fc(x.transpose(0, 1).flatten(1))


class ChebDecoder(nn.Module):
    """Non-linear refinement decoder mirroring :class:`ChebEncoder` (OT-Talk §3.3, "very similar architecture").

    ``FC(in_dim → n_L * channels[-1])`` → reshape → for ``l = L-1 .. 0``: up-sample ``U_l`` →
    ChebConv → ELU; then a final ChebConv to 3 channels (vertex displacements), zero-initialised
    so that training starts from the linear (PCA) part alone (ours).

    Args:
        hierarchy: shared :class:`MeshHierarchyBuffers`.
        channels: the encoder's channels (mirrored: ``channels[l]`` is the output at level ``l``).
        in_dim: size of the per-frame input code.
        K: Chebyshev order.

    Forward: ``h (N, in_dim)`` → ``(N, n_0, 3)`` displacements.
    """

    def __init__(self, hierarchy: MeshHierarchyBuffers, channels: tuple[int, ...], in_dim: int, K: int) -> None:
        super().__init__()
        self.hierarchy = [hierarchy]
        self.top_channels = channels[-1]
        self.fc = nn.Linear(in_dim, hierarchy.sizes[-1] * channels[-1])
        # level l conv maps channels[l+1] (or channels[-1] at the top) -> channels[l]
        ins = [*channels[1:], channels[-1]]
        self.convs = nn.ModuleList(_cheb(ins[l], channels[l], K) for l in range(len(channels)))
        self.out = _cheb(channels[0], 3, K)
        with torch.no_grad():
            for p in self.out.parameters():
                p.zero_()

    def forward(self, code: Tensor) -> Tensor:  # noqa: D102
        h = self.hierarchy[0]
        # vertex-major (n_l, N, C) throughout: every graph operator is one sparse-dense product
        x = self.fc(code).reshape(code.shape[0], h.sizes[-1], self.top_channels).transpose(0, 1)
        for l in reversed(range(h.num_levels)):
            x = h.apply_vm(h.sparse("up", l, x.dtype), x)
            x = F.elu(cheb_conv_vm(self.convs[l], x, h.sparse("lap", l, x.dtype)))
        return cheb_conv_vm(self.out, x, h.sparse("lap", 0, x.dtype)).transpose(0, 1)


class AudioTemporalEncoder(nn.Module):
    """Audio branch after the speech front-end (OT-Talk §3.3): temporal convolution + transformer encoder.

    ``num_conv`` × (masked Conv1d(kernel ``kernel_size``, same padding) → GELU → dropout), first
    from ``in_dim`` to ``d_model``; then (if ``use_transformer``) sinusoidal positions and a
    ``num_layers``-layer pre-LN ``nn.TransformerEncoder`` (``num_heads`` heads, FF
    ``ff_dim``), non-causal, with a key-padding mask. All sizes are ours (not in the paper).
    ``use_transformer=False`` is Table 2's "w/o Transformer" ("only keep temporal convolution").

    Forward: ``feats (B, T, in_dim)``, ``mask (B, T)`` bool (True = real frame) →
    ``(B, T, d_model)``, zero on padded frames.
    """

    def __init__(
        self, in_dim: int, d_model: int, num_conv: int, kernel_size: int, use_transformer: bool,
        num_layers: int, num_heads: int, ff_dim: int, dropout: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(in_dim if i == 0 else d_model, d_model, kernel_size, padding=kernel_size // 2)
            for i in range(max(1, num_conv))
        )
        self.dropout = nn.Dropout(dropout)
        self.use_transformer = use_transformer
        self.transformer: nn.Module | None = None
        if use_transformer:
            layer = nn.TransformerEncoderLayer(
                d_model, num_heads, ff_dim, dropout, activation="gelu", batch_first=True, norm_first=True
            )
            self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)

    def forward(self, feats: Tensor, mask: Tensor) -> Tensor:  # noqa: D102
        m = mask[:, None, :].to(feats.dtype)
        x = feats.transpose(1, 2)
        for conv in self.convs:
            x = self.dropout(F.gelu(conv(x * m))) * m
        x = x.transpose(1, 2)
        if self.transformer is not None:
            x = x + sinusoidal_encoding(torch.arange(x.shape[1], device=x.device), x.shape[2]).to(x.dtype)[None]
            x = self.norm(self.transformer(x, src_key_padding_mask=~mask))
        return x * mask[..., None].to(x.dtype)
