"""The LightningDataModule base that every talkzoo datamodule extends.

A datamodule owns its dataset's layout, splits and batching, and exposes :attr:`spec`: the plain
values (fps, sample rate, vertex count or image size, training speakers, region files) that the
``talkzoo`` command links into the model's ``spec`` argument.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import lightning as L

from talkzoo.data.spec import DataSpec


class TalkzooDataModule(L.LightningDataModule, abc.ABC):
    """Abstract base of talkzoo datamodules.

    Subclasses set ``family`` and implement :attr:`spec`, which must be available right after
    construction (before ``setup``), because the command links it into the model at instantiation.
    It must therefore be computable cheaply from the constructor arguments (for example by reading
    ``templates.pkl`` and listing the training subjects) without loading the whole dataset.
    """

    #: task family served (one of :data:`talkzoo.data.spec.FAMILIES`).
    family: ClassVar[str] = ""

    @property
    @abc.abstractmethod
    def spec(self) -> DataSpec:
        """The data spec linked into the model (see :mod:`talkzoo.data.spec`)."""
