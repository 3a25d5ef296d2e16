"""OT-Talk's network: the pure ``nn.Module`` holding every weight and the mesh topology (§3.3).

Wang, Gao, Song, Yu, Lin, Peng, Gu, "OT-Talk: Animating 3D Talking Head with Optimal
Transportation" (ICMR 2025, arXiv 2505.01932), §3.3. Published weights (none exist: there is no
official code) would be loaded and checked here; :class:`~talkzoo_ottalk.model.OTTalk` (the
LightningModule) wires the losses (:mod:`talkzoo_ottalk.losses`), the PCA initialisation from
the training data, the hooks and ``generate`` around it.

Data flow of :meth:`OTTalkNetwork.forward`, per sequence of ``T`` frames:

1. audio: the injected speech front-end (HuBERT Large in the paper) interpolated to ``T`` frames
   → temporal convolution → transformer encoder → ``a_t`` (``d_model``);
2. template: the neutral mesh (centred, scaled) → ChebNet encoder (3 × ChebConv + pool to 1/4,
   then FC) → identity code ``z``;
3. ``h_t = [a_t, z]`` → (a) ``n_components`` motion coefficients ``c_t = Linear(h_t)`` → PCA layer
   ``FC(n_components → 3V)``; (b) a ChebNet refinement decoder mirroring the encoder;
4. output ``template + d_lin + d_ref`` (metres).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from talkzoo.errors import ConfigError, DataError

from talkzoo_ottalk.layers import AudioTemporalEncoder, ChebDecoder, ChebEncoder, MeshHierarchyBuffers
from talkzoo_ottalk.mesh_sampling import level_sizes, load_or_build_hierarchy, mesh_edges, validate_faces, validate_template

__all__ = ["OTTalkNetwork", "OTTalkOutput", "load_faces", "load_reference_template", "pca_of_displacements"]

log = logging.getLogger(__name__)


def load_faces(path: str | Path, num_vertices: int) -> np.ndarray:
    """Read and check a ``(F, 3)`` int ``.npy`` triangle file (the spec's ``faces_file``).

    Returns:
        ``(F, 3)`` int64 triangles.

    Raises:
        DataError: missing/unreadable file, or faces that are not a manifold triangle mesh over
            ``num_vertices`` vertices (the message names the file and the failed check).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: faces file not found; expected a (F, 3) int .npy triangle array")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{p}: cannot read the faces file as a .npy array ({exc})") from None
    return validate_faces(arr, num_vertices, source=str(p))


def load_reference_template(path: str | Path, speakers: tuple[str, ...] = ()) -> np.ndarray:
    """Read a reference template: a ``(V, 3)`` ``.npy``, or ``templates.pkl`` (``path#subject`` or the mean of ``speakers``).

    Args:
        path: ``file.npy``, ``templates.pkl`` or ``templates.pkl#<subject>``.
        speakers: training speakers whose mean template is used for a ``.pkl`` without a subject
            (all templates of the file when none of them is in it).

    Returns:
        ``(V, 3)`` float64 positions (metres).

    Raises:
        DataError: missing/unreadable file, unknown subject, or an array not of shape ``(V, 3)``.
    """
    text = str(path)
    file_part, _, key = text.partition("#")
    p = Path(file_part).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: reference template file not found; expected a (V, 3) .npy or a templates.pkl")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{p}: cannot read the reference template ({exc})") from None
    else:
        from talkzoo.data.mesh import read_templates

        temps = read_templates(p)
        if key:
            if key not in temps:
                raise DataError(f"{p}: has no template for subject '{key}'; it holds {sorted(temps)}")
            arr = temps[key]
        else:
            chosen = [temps[s] for s in speakers if s in temps] or list(temps.values())
            arr = np.mean(np.stack([np.asarray(t, dtype=np.float64) for t in chosen]), axis=0)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1 and arr.size % 3 == 0:
        arr = arr.reshape(-1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DataError(f"{text}: reference template has shape {arr.shape}; expected (V, 3)")
    return arr


def pca_of_displacements(displacements: Tensor, n_components: int, exact_limit: int = 4096, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """PCA of flattened displacements (rows = frames), as used to initialise the PCA layer.

    ``X (N, D)`` is centred by its mean; the principal axes are the right singular vectors of
    the centred matrix (exact ``torch.linalg.svd`` when ``min(N, D) <= exact_limit``, otherwise
    the randomised ``torch.svd_lowrank`` with ``q = k + 20``, 6 power iterations), each signed so
    that its largest-magnitude entry is positive; the standard deviations are
    ``s_k / sqrt(N - 1)`` (numpy/sklearn's ``explained_variance_`` square roots). Components
    beyond the rank of ``X`` are zero (with zero deviation).

    Args:
        displacements: ``(N, D)`` float rows (``D = 3V``, metres).
        n_components: ``k`` (OT-Talk: 50).
        exact_limit: largest ``min(N, D)`` solved exactly.
        seed: seed of the randomised solver.

    Returns:
        ``(mean (D,), components (k, D), std (k,))`` float64.
    """
    x = displacements.detach().to(torch.float64).cpu()
    n, d = x.shape
    mean = x.mean(dim=0)
    xc = x - mean
    k = n_components
    if min(n, d) <= exact_limit:
        _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(xc, q=min(k + 20, n, d), niter=6)
        vh = v.t()
    r = min(k, vh.shape[0])
    comps = torch.zeros(k, d, dtype=torch.float64)
    std = torch.zeros(k, dtype=torch.float64)
    comps[:r] = vh[:r]
    std[:r] = s[:r] / math.sqrt(max(n - 1, 1))
    rank_tol = (s[0] if s.numel() else torch.tensor(0.0)) * max(n, d) * torch.finfo(torch.float64).eps
    for i in range(r):
        if s[i] <= rank_tol:
            comps[i] = 0.0
            std[i] = 0.0
            continue
        j = int(comps[i].abs().argmax())
        if comps[i, j] < 0:
            comps[i] = -comps[i]
    return mean, comps, std


@dataclass
class OTTalkOutput:
    """Result of :meth:`OTTalk.forward`.

    Attributes:
        vertices: ``(B, T, V, 3)`` predicted positions, metres (template on padded frames).
        coefficients: ``(B, T, n_components)`` motion coefficients (whitened PCA units).
        linear: ``(B, T, V, 3)`` the PCA-layer displacements, metres.
        refinement: ``(B, T, V, 3)`` the ChebNet refinement, metres (``None`` without ChebNet).
        frame_mask: ``(B, T)`` bool, True on real frames.
    """

    vertices: Tensor
    coefficients: Tensor
    linear: Tensor
    refinement: Tensor | None
    frame_mask: Tensor


class OTTalkNetwork(nn.Module):
    """OT-Talk's layers, buffers and mesh hierarchy, without losses or Lightning (see the module).

    Args:
        num_vertices: ``V >= 3``.
        faces: ``(F, 3)`` int64 triangles of the topology (:func:`load_faces`).
        audio_encoder: speech front-end, ``forward(audio (B, S), audio_mask (B, S)|None, num_frames)
            -> (B, T, output_dim)`` with an integer ``output_dim``.
        K, channels, pool_factors, down_mode, latent_dim, d_model, num_conv_layers, conv_kernel,
        num_layers, num_heads, ff_dim, dropout, n_components, pca_input, use_transformer,
        use_chebnet, cache_dir, use_cache: as :class:`~talkzoo_ottalk.model.OTTalk`.
        motion_unit: metres per output unit of the two displacement heads (``1 / loss_scale``).
        swd_normal_weight: length in metres of the unit normals of the OT loss's ``R6`` support,
            stored with the reference template (``normal_weight``); ``None`` = its mean edge length.

    Raises:
        ConfigError: an encoder without an integer ``output_dim``.
    """

    def __init__(
        self,
        num_vertices: int,
        faces: np.ndarray,
        audio_encoder: nn.Module,
        K: int = 6,
        channels: tuple[int, ...] = (16, 16, 32),
        pool_factors: tuple[int, ...] = (4, 4, 4),
        down_mode: Literal["pick", "average"] = "pick",
        latent_dim: int = 32,
        d_model: int = 128,
        num_conv_layers: int = 2,
        conv_kernel: int = 3,
        num_layers: int = 2,
        num_heads: int = 4,
        ff_dim: int = 512,
        dropout: float = 0.1,
        n_components: int = 50,
        pca_input: Literal["audio_identity", "audio"] = "audio_identity",
        use_transformer: bool = True,
        use_chebnet: bool = True,
        motion_unit: float = 1e-3,
        swd_normal_weight: float | None = None,
        cache_dir: str | None = None,
        use_cache: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(getattr(audio_encoder, "output_dim", None), int):
            raise ConfigError(f"audio_encoder {type(audio_encoder).__name__} has no integer 'output_dim'")
        self.num_vertices = int(num_vertices)
        self.n_components = int(n_components)
        self.pca_input = pca_input
        self.channels = tuple(int(c) for c in channels)
        self.pool_factors = tuple(int(f) for f in pool_factors)
        self.down_mode = down_mode
        self.use_transformer, self.use_chebnet = bool(use_transformer), bool(use_chebnet)
        self.swd_normal_weight_arg = swd_normal_weight
        self.motion_unit = float(motion_unit)
        self.cache_dir, self.use_cache = cache_dir, bool(use_cache)
        num_vertices = self.num_vertices
        channels, pool_factors = self.channels, self.pool_factors

        # ---- buffers kept by checkpoints ------------------------------------------------
        self.register_buffer("faces", torch.from_numpy(faces))
        self.register_buffer("reference_template", torch.zeros(num_vertices, 3))
        self.register_buffer("reference_ready", torch.zeros((), dtype=torch.long))
        self.register_buffer("coord_scale", torch.ones(()))
        self.register_buffer("normal_weight", torch.ones(()))
        dim = 3 * num_vertices
        self.register_buffer("pca_mean", torch.zeros(dim))
        self.register_buffer("pca_components", torch.zeros(self.n_components, dim))
        self.register_buffer("pca_std", torch.zeros(self.n_components))
        self.register_buffer("pca_ready", torch.zeros((), dtype=torch.long))

        # ---- audio branch (§3.3) ------------------------------------------------------------
        self.audio_encoder = audio_encoder
        self.audio_temporal = AudioTemporalEncoder(
            audio_encoder.output_dim, d_model, num_conv_layers, conv_kernel, self.use_transformer,
            num_layers, num_heads, ff_dim, dropout,
        )  # fmt: skip
        # ---- template branch and refinement decoder (ChebNet) ---------------------------
        code_dim = d_model
        self.sizes = level_sizes(num_vertices, pool_factors)
        if self.use_chebnet:
            self.hierarchy = MeshHierarchyBuffers(self.sizes)
            self.mesh_encoder = ChebEncoder(self.hierarchy, channels, latent_dim, K)
            code_dim = d_model + latent_dim
            self.refiner = ChebDecoder(self.hierarchy, channels, code_dim, K)
        # ---- linear (PCA) motion part ----------------------------------------------------
        # Zero-initialised coefficient head (ours): training starts exactly at template + mean
        # displacement (the mean-motion baseline) instead of a random PCA combination.
        # input: [a_t, z] ("audio_identity", ours) or a_t alone ("audio": "from the audio latent code", §3.3)
        self.coeff_head = nn.Linear(code_dim if pca_input == "audio_identity" else d_model, self.n_components)
        self.pca_layer = nn.Linear(self.n_components, dim)
        with torch.no_grad():
            self.coeff_head.weight.zero_()
            self.coeff_head.bias.zero_()
            # small (0.1 mm) until the PCA initialisation replaces it; in motion units (see motion_unit)
            self.pca_layer.weight.normal_(0.0, 1e-4 / self.motion_unit)
            self.pca_layer.bias.zero_()

    def set_reference_template(self, vertices: np.ndarray | Tensor, source: str = "reference template") -> None:
        """Fix the template the mesh hierarchy, input scaling and OT normal weight derive from.

        Builds (or reads from the disk cache) the QEM hierarchy when ChebNet is on, and stores
        the template, its RMS radius (``coord_scale``, the encoder's input unit) and its mean
        edge length (``normal_weight`` when ``swd_normal_weight`` is ``None``) in buffers.

        Args:
            vertices: ``(V, 3)`` float positions, metres.
            source: name for error messages.

        Raises:
            DataError: wrong vertex count, non-finite values, or a non-manifold mesh.
        """
        if isinstance(vertices, Tensor):
            vertices = vertices.detach().cpu().double().numpy()
        v, f = validate_template(vertices, self.faces.cpu().numpy(), self.num_vertices, source=source)
        if self.use_chebnet:
            hier = load_or_build_hierarchy(v, f, self.pool_factors, self.down_mode, self.cache_dir, self.use_cache)
            self.hierarchy.set_hierarchy(hier)
        centred = v - v.mean(axis=0)
        scale = float(np.sqrt((centred**2).sum(axis=1).mean())) or 1.0
        e = mesh_edges(f)
        edge = float(np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1).mean()) if e.size else 1.0
        nw = edge if self.swd_normal_weight_arg is None else float(self.swd_normal_weight_arg)
        with torch.no_grad():
            self.reference_template.copy_(torch.from_numpy(v).to(self.reference_template))
            self.coord_scale.fill_(scale)
            self.normal_weight.fill_(nw)
            self.reference_ready.fill_(1)

    def ensure_reference(self, template: Tensor | None = None) -> None:
        """Make sure the hierarchy exists: from the stored reference, else from ``template`` ``(B, V, 3)``."""
        ready = bool(self.reference_ready.item())
        if ready and (not self.use_chebnet or self.hierarchy.ready):
            return
        if ready:  # e.g. a state dict without the hierarchy's extra state: rebuild it
            self.set_reference_template(self.reference_template, source="stored reference template")
            return
        if template is None:
            raise ConfigError(
                "OTTalk has no reference template yet: pass reference_template=..., fit it with a datamodule, "
                "or call generate()/compute_losses() with a template"
            )
        log.info("OTTalk: building the mesh hierarchy from the mean template of the first batch")
        self.set_reference_template(template.detach().double().mean(dim=0), source="batch template")

    def set_pca(self, mean: Tensor, components: Tensor, std: Tensor) -> None:
        """Install a PCA basis: ``mean (3V,)``, ``components (k, 3V)``, ``std (k,)`` (metres)."""
        with torch.no_grad():
            self.pca_mean.copy_(mean.to(self.pca_mean))
            self.pca_components.copy_(components.to(self.pca_components))
            self.pca_std.copy_(std.to(self.pca_std))
            self.pca_layer.weight.copy_((self.pca_components * self.pca_std[:, None]).t() / self.motion_unit)
            self.pca_layer.bias.copy_(self.pca_mean / self.motion_unit)
            self.pca_ready.fill_(1)

    def forward(
        self, audio: Tensor, audio_mask: Tensor | None, template: Tensor, num_frames: int | Tensor, total_frames: int | None = None
    ) -> OTTalkOutput:
        """One non-autoregressive pass.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveforms (zero-padded).
            audio_mask: ``(B, S)`` bool (True = real sample) or ``None``.
            template: ``(B, V, 3)`` neutral templates, metres.
            num_frames: frames per sequence, an ``int`` or a ``(B,)`` int tensor.
            total_frames: width ``T`` of the output (default ``max(num_frames)``).

        Returns:
            :class:`OTTalkOutput`.

        Raises:
            DataError: a template whose vertex count is not ``spec.num_vertices``.
        """
        batch = audio.shape[0]
        if template.dim() != 3 or template.shape[1:] != (self.num_vertices, 3) or template.shape[0] != batch:
            raise DataError(
                f"template must be (B={batch}, V={self.num_vertices}, 3) (the data's vertex count), got {tuple(template.shape)}"
            )
        self.ensure_reference(template)
        counts = (num_frames.to(audio.device).long().reshape(-1) if isinstance(num_frames, Tensor)
                  else torch.full((batch,), int(num_frames), device=audio.device, dtype=torch.long))  # fmt: skip
        if counts.numel() == 1:
            counts = counts.expand(batch)
        feats = self.audio_encoder(audio, audio_mask, counts)
        width = int(total_frames) if total_frames is not None else feats.shape[1]
        if feats.shape[1] < width:
            feats = torch.nn.functional.pad(feats, (0, 0, 0, width - feats.shape[1]))
        feats = feats[:, :width]
        mask = torch.arange(width, device=audio.device)[None] < counts[:, None]
        a = self.audio_temporal(feats, mask)  # (B, T, d)
        if self.use_chebnet:
            x = template - template.mean(dim=1, keepdim=True)
            z = self.mesh_encoder((x / self.coord_scale).to(a.dtype))  # (B, latent)
            code = torch.cat([a, z[:, None].expand(-1, width, -1)], dim=-1)
        else:
            code = a
        coeffs = self.coeff_head(code if self.pca_input == "audio_identity" else a) * mask[..., None]
        linear = (self.pca_layer(coeffs) * self.motion_unit).reshape(batch, width, self.num_vertices, 3)
        refinement = None
        if self.use_chebnet:
            real = code[mask]  # (N, code_dim), only real frames
            ref = self.refiner(real) * self.motion_unit
            refinement = linear.new_zeros(linear.shape)
            refinement[mask] = ref.to(linear.dtype)
        disp = linear if refinement is None else linear + refinement
        disp = disp * mask[..., None, None].to(disp.dtype)
        return OTTalkOutput(
            vertices=template[:, None] + disp, coefficients=coeffs, linear=linear, refinement=refinement, frame_mask=mask
        )
