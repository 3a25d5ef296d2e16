"""Faster CPU inference of a speech encoder: dynamic int8 linear layers or bf16 autocast (opt-in).

Why: at paper size the pretrained speech front-end (wav2vec 2.0 / HuBERT base, ~95 M parameters)
takes most of a short clip's generation time on a CPU (issue #17). Two standard PyTorch
options trade a small numerical deviation for speed; neither is in any paper, both are ours and
off by default (``"fp32"``: the module itself, bit for bit):

* ``"int8"``: :func:`torch.ao.quantization.quantize_dynamic` on a copy of the module: every
  ``nn.Linear`` (attention projections, feed-forward, feature projection) stores int8 weights and
  quantises its input per batch at run time; convolutions and layer norms stay float32. CPU only.
* ``"bf16"``: the module runs under ``torch.autocast(device, dtype=torch.bfloat16)`` (matrix
  products in bfloat16, reductions in float32) and its output is cast back to float32. Fast only
  on CPUs with native bf16 (AVX512-BF16 / AMX); elsewhere it can be slower than fp32.

The measured speed and maximum vertex deviation from fp32 of each option at paper size are in
``benchmarks/paper_size_inference.py`` (JSON under ``benchmarks/results/``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from talkzoo.errors import ConfigError

__all__ = ["ENCODER_PRECISIONS", "InferenceEncoderCache", "check_encoder_precision", "fast_encoder", "release_freed_memory"]

#: the values of a model's ``encoder_precision`` option.
ENCODER_PRECISIONS: tuple[str, ...] = ("fp32", "int8", "bf16")


def check_encoder_precision(value: str, name: str = "encoder_precision") -> None:
    """Raise :class:`~talkzoo.errors.ConfigError` naming ``name`` unless ``value`` is in :data:`ENCODER_PRECISIONS`."""
    if value not in ENCODER_PRECISIONS:
        raise ConfigError(f"{name} must be one of {ENCODER_PRECISIONS}, got {value!r}")


class _Autocast(nn.Module):
    """Run ``inner`` under bf16 autocast and return float32 tensors (``"bf16"`` of :func:`fast_encoder`)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs) -> Tensor:  # noqa: D102
        device = next((a.device.type for a in args if isinstance(a, Tensor)), "cpu")
        with torch.autocast(device, dtype=torch.bfloat16):
            out = self.inner(*args, **kwargs)
        return out.float() if isinstance(out, Tensor) and out.is_floating_point() else out


def fast_encoder(module: nn.Module, precision: str) -> nn.Module:
    """An inference-only version of ``module`` for ``precision`` (see the module docstring).

    Args:
        module: the speech encoder (any ``nn.Module``; its ``forward`` signature is kept).
        precision: ``"fp32"`` (returns ``module`` itself), ``"int8"`` (a quantised copy; ``module``
            is untouched) or ``"bf16"`` (a wrapper sharing ``module``'s weights).

    Returns:
        a module with the same call signature, in eval mode for ``"int8"``.

    Raises:
        ConfigError: an unknown precision, or ``"int8"`` for a module with parameters off the CPU.
    """
    check_encoder_precision(precision)
    if precision == "fp32":
        return module
    if precision == "bf16":
        return _Autocast(module)
    if any(p.device.type != "cpu" for p in module.parameters()):
        raise ConfigError("encoder_precision 'int8' (dynamic quantisation) runs on the CPU only")
    quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(module).eval(), {nn.Linear}, dtype=torch.qint8)
    for attr in ("output_dim",):  # the encoder contract (talkzoo.audio.encoders) survives the copy
        if hasattr(module, attr):
            setattr(quantised, attr, getattr(module, attr))
    return quantised


class InferenceEncoderCache:
    """Builds :func:`fast_encoder` once per (precision, weights) and reuses it across calls.

    The int8 copy is rebuilt when any parameter of the source module changed in place since
    (an optimizer step between two ``generate`` calls), read from the tensors' version counters.
    Kept outside the module tree, so it never enters a ``state_dict`` or a checkpoint.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._module: nn.Module | None = None

    def get(self, module: nn.Module, precision: str) -> nn.Module:
        """The fast version of ``module`` for ``precision`` (``module`` itself for ``"fp32"``)."""
        if precision == "fp32":
            return module
        key = (precision, id(module), tuple(p._version for p in module.parameters()))
        if key != self._key:
            self._module, self._key = fast_encoder(module, precision), key
        return self._module


_LIBC: object | None = None


def release_freed_memory() -> bool:
    """Hand memory the allocator holds but no tensor uses back to the OS, between long-audio windows.

    After each encoder window of a long file, glibc keeps the freed activations of that window in
    its heap (fragments of a few MB that later windows of another length do not fit exactly), so
    the resident set creeps up window after window (~130 MB over 10 minutes at paper size, issue
    #17). ``malloc_trim(0)`` returns those free pages. No values change. Returns False where it is
    not available (not glibc: macOS, Windows, musl), where it is a no-op.
    """
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            _LIBC = libc if hasattr(libc, "malloc_trim") else False
        except OSError:
            _LIBC = False
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)  # type: ignore[attr-defined]
    return True
