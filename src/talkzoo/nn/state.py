"""State-dict compatibility when a model's layers move into a child module.

talkzoo plugins keep their network (the pure ``nn.Module`` holding the paper's layers) apart from
the LightningModule (losses, hooks, ``generate``): ``model.network``. Checkpoints written before
that split store the same tensors without the ``network.`` prefix; :func:`accept_unprefixed_keys`
lets ``load_state_dict`` (and so ``load_from_checkpoint`` and ``talkzoo animate``) read both.
"""

from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["accept_unprefixed_keys"]


def accept_unprefixed_keys(module: nn.Module, child: str) -> None:
    """Let ``module.load_state_dict`` accept the keys of ``module.<child>`` written without ``<child>.``.

    A key ``<prefix><name>...`` whose first part ``<name>`` is a parameter, buffer or submodule of
    ``module.<child>`` (and not of ``module`` itself) is renamed ``<prefix><child>.<name>...`` before
    loading, unless the prefixed key is present too. Keys that already carry the prefix are left
    alone, so current checkpoints load unchanged.

    Args:
        module: the parent module (e.g. the LightningModule), with ``module.<child>`` set.
        child: attribute name of the child module (e.g. ``"network"``).

    Raises:
        AttributeError: ``module`` has no child ``child``.
    """
    getattr(module, child)  # fail early for a wrong name

    def hook(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        inner = getattr(module, child)
        names = set(inner._modules) | set(inner._parameters) | set(inner._buffers)
        names -= set(module._modules) | set(module._parameters) | set(module._buffers)
        for key in list(state_dict):
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix):]
            if rest.split(".", 1)[0] in names:
                new = f"{prefix}{child}.{rest}"
                if new not in state_dict:
                    state_dict[new] = state_dict.pop(key)

    module._register_load_state_dict_pre_hook(hook)
