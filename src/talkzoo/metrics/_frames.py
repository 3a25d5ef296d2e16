"""Shared input checks and network loading for the 2D (video) metrics.

Conventions (see :class:`talkzoo.data.batch.VideoBatch`): videos are ``(B, T, 3, H, W)`` float
RGB in [0, 1] with a ``(B, T)`` bool frame mask (``True`` on real frames, padding at the end);
images are ``(N, 3, H, W)``; landmarks ``(B, T, K, 2)`` float pixels (x, y).

Networks that metrics need (Inception, I3D, ArcFace, SyncNet, ...) are kept *outside* the
metric's module tree (:class:`ExternalNet`), so they are neither written into Lightning
checkpoints nor counted as metric state; they are moved to the input's device on use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.errors import ConfigError, DataError, MissingWeightsError

__all__ = [
    "ExternalNet",
    "as_frame_mask",
    "as_images",
    "as_video",
    "load_network",
    "real_clips",
    "resize_to",
    "scale_range",
]


def as_video(x: Tensor, name: str) -> Tensor:
    """Check a video: ``(B, T, 3, H, W)`` or ``(T, 3, H, W)`` float -> ``(B, T, 3, H, W)``.

    Raises:
        DataError: wrong rank, channel count or dtype.
    """
    if not isinstance(x, Tensor):
        raise DataError(f"{name}: expected a tensor of shape (B, T, 3, H, W), got {type(x).__name__}")
    if x.ndim == 4:
        x = x.unsqueeze(0)
    if x.ndim != 5 or x.shape[2] != 3:
        raise DataError(f"{name}: expected RGB video of shape (B, T, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise DataError(f"{name}: expected float RGB in [0, 1], got dtype {x.dtype}")
    return x


def as_images(x: Tensor, name: str) -> Tensor:
    """Check images: ``(N, 3, H, W)`` float (a ``(3, H, W)`` image becomes ``N = 1``).

    Raises:
        DataError: wrong rank, channel count or dtype.
    """
    if not isinstance(x, Tensor):
        raise DataError(f"{name}: expected a tensor of shape (N, 3, H, W), got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[1] != 3:
        raise DataError(f"{name}: expected RGB images of shape (N, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise DataError(f"{name}: expected float RGB in [0, 1], got dtype {x.dtype}")
    return x


def as_frame_mask(mask: Tensor | None, batch: int, frames: int, device: torch.device, name: str = "mask") -> Tensor:
    """Return a ``(B, T)`` bool mask (all ``True`` when ``mask`` is None; ``(T,)`` -> ``(1, T)``).

    Raises:
        DataError: a mask of another shape.
    """
    if mask is None:
        return torch.ones(batch, frames, dtype=torch.bool, device=device)
    if mask.ndim == 1:
        mask = mask.unsqueeze(0)
    if tuple(mask.shape) != (batch, frames):
        raise DataError(f"{name}: expected shape ({batch}, {frames}), got {tuple(mask.shape)}")
    return mask.to(device=device, dtype=torch.bool)


def real_clips(video: Tensor, mask: Tensor, name: str) -> list[Tensor]:
    """Split a masked batch into its clips of real frames, ``[(T_b, ...)]``.

    Temporal metrics (FVD, LSE) need the real frames to be one contiguous run starting at frame 0
    (padding at the end, as :mod:`talkzoo.data` collates).

    Raises:
        DataError: a mask whose ``True`` frames are not a prefix.
    """
    out = []
    for b in range(video.shape[0]):
        m = mask[b]
        n = int(m.sum())
        if n and not bool(m[:n].all()):
            raise DataError(
                f"{name}: sample {b} has real frames after padding; temporal metrics need the real "
                "frames first (padding at the end)"
            )
        out.append(video[b, :n])
    return out


def resize_to(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    """Bilinear resize of ``(N, C, H, W)`` to ``size = (h, w)`` (no antialias; no-op when equal or None)."""
    if size is None or tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def scale_range(x: Tensor, value_range: str) -> Tensor:
    """Map [0, 1] input to a network's range: ``unit`` [0, 1], ``symmetric`` [-1, 1], ``byte`` [0, 255].

    Raises:
        ConfigError: an unknown range name.
    """
    if value_range == "unit":
        return x
    if value_range == "symmetric":
        return x * 2.0 - 1.0
    if value_range == "byte":
        return x * 255.0
    raise ConfigError(f"value range must be 'unit', 'symmetric' or 'byte', got {value_range!r}")


def load_network(source: nn.Module | str | os.PathLike, what: str, hint: str = "") -> nn.Module:
    """Return a frozen network in eval mode: the module itself, or a TorchScript file loaded on CPU.

    Args:
        source: an :class:`torch.nn.Module`, or the path of a TorchScript file (``torch.jit.save``).
        what: what the network is for, used in messages (``"FVD: I3D"``).
        hint: where to get the file, appended to the missing-file message.

    Raises:
        MissingWeightsError: the file does not exist (the message names it).
        DataError: the file exists but is not a TorchScript archive.
    """
    if isinstance(source, nn.Module):
        net = source
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise MissingWeightsError(f"{what}: weights file {str(path)!r} not found. {hint}".strip())
        try:
            net = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError / ValueError variants
            raise DataError(f"{what}: {str(path)!r} is not a TorchScript file ({exc.__class__.__name__}: {exc})") from exc
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class ExternalNet:
    """Holds a network outside a metric's module tree and moves it to the input's device on use.

    A metric stores this object as a plain attribute, so the network's weights are not in the
    metric's (or the LightningModule's) ``state_dict`` and are not synchronised as state.
    """

    def __init__(self, net: nn.Module) -> None:
        self.net = net

    def to(self, device: torch.device) -> nn.Module:
        """The network on ``device`` (moved once; later calls are no-ops)."""
        first = next(iter(self.net.parameters()), None)
        if first is None or first.device != device:
            self.net = self.net.to(device)
        return self.net

    @torch.no_grad()
    def __call__(self, x: Tensor, **kwargs: Any) -> Tensor:
        """Run the network on ``x`` (on ``x``'s device, without gradients)."""
        return self.to(x.device)(x, **kwargs)
