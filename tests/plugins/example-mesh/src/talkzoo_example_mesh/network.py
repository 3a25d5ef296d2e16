"""The example model's network: the pure ``nn.Module`` holding every weight (no losses, no Lightning).

In a paper's plugin this is the module whose ``state_dict`` published weights would be loaded into
and checked against; :mod:`talkzoo_example_mesh.model` wires losses, hooks and ``generate`` around it.
"""

from __future__ import annotations

from torch import Tensor, nn

from talkzoo_example_mesh.layers import MLP


class TinyMeshNetwork(nn.Module):
    """Log-mel features → :class:`~talkzoo_example_mesh.layers.MLP` → per-frame vertex displacements.

    Args:
        audio_encoder: speech front-end, ``forward(audio (B, S), audio_mask (B, S)|None, num_frames)
            -> (B, T, output_dim)``.
        num_vertices: ``V``.
        hidden: hidden width.
        scale: metres per output unit (0.01: a unit output moves a vertex by 1 cm).
    """

    def __init__(self, audio_encoder: nn.Module, num_vertices: int, hidden: int = 32, scale: float = 0.01) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder
        self.head = MLP(audio_encoder.output_dim, hidden, 3 * num_vertices)
        self.scale = scale

    def forward(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int) -> Tensor:
        """``(B, S)`` 16 kHz audio → ``(B, T, V, 3)`` displacements in metres, ``T = num_frames``."""
        features = self.audio_encoder(audio, audio_mask, num_frames)
        b, t, _ = features.shape
        return self.scale * self.head(features).view(b, t, -1, 3)
