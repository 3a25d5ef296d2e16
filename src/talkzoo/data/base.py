"""The LightningDataModule base that every talkzoo datamodule extends.

A datamodule owns its dataset's layout, splits and batching, and exposes :attr:`spec`: the plain
values (fps, sample rate, vertex count or image size, training speakers, region files) that the
``talkzoo`` command links into the model's ``spec`` argument.

The loader plumbing lives here once: the split served by each stage (:attr:`train_split`,
:attr:`val_split`, :attr:`test_split`, :attr:`predict_split`), ``setup`` building the datasets a
stage needs, and the four ``*_dataloader`` methods. A subclass implements :meth:`build_dataset`
(one split's dataset) and :meth:`collate` (samples → its family's typed batch).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from talkzoo.data.presets.base import SPLITS
from talkzoo.data.spec import DataSpec

__all__ = ["SPLITS", "TalkzooDataModule"]


class TalkzooDataModule(L.LightningDataModule, abc.ABC):
    """Abstract base of talkzoo datamodules.

    Subclasses set ``family`` and implement :attr:`spec`, which must be available right after
    construction (before ``setup``), because the command links it into the model at instantiation.
    It must therefore be computable cheaply from the constructor arguments (for example by reading
    ``templates.pkl`` and listing the training subjects) without loading the whole dataset.

    Loader settings read by :meth:`make_loader` (subclasses set them in ``__init__``):
    ``batch_size``, ``num_workers``, ``pin_memory``, ``seed`` (the shuffle order of the training
    loader). Stage → split: ``fit`` → train + val, ``validate`` → val, ``test`` → test,
    ``predict`` → ``predict_split``, ``None`` → every split above.
    """

    #: task family served (one of :data:`talkzoo.data.spec.FAMILIES`).
    family: ClassVar[str] = ""

    batch_size: int = 1
    num_workers: int = 0
    pin_memory: bool = False
    seed: int = 0
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    predict_split: str = "test"

    @property
    @abc.abstractmethod
    def spec(self) -> DataSpec:
        """The data spec linked into the model (see :mod:`talkzoo.data.spec`)."""

    def __init__(self) -> None:
        super().__init__()
        #: datasets built so far, by split name (filled by :meth:`setup`).
        self.datasets: dict[str, Dataset] = {}

    # ------------------------------------------------------------------ splits and datasets

    def stage_splits(self, stage: str | None) -> tuple[str, ...]:
        """The splits a Lightning stage needs (``None``: every split the loaders serve)."""
        table = {
            "fit": (self.train_split, self.val_split),
            "validate": (self.val_split,),
            "test": (self.test_split,),
            "predict": (self.predict_split,),
        }
        if stage in table:
            return table[stage]
        return tuple(dict.fromkeys((self.train_split, self.val_split, self.test_split)))

    def build_dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` (called once per split by :meth:`setup`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_dataset(split)")

    def collate(self, samples: list[Any]) -> Any:
        """Turn a list of samples into the family's typed batch (see :mod:`talkzoo.data.batch`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement collate(samples)")

    def setup(self, stage: str | None = None) -> None:
        """Build (and check) the datasets of the splits ``stage`` needs; built ones are kept."""
        for split in self.stage_splits(stage):
            if split not in self.datasets:
                self.datasets[split] = self.build_dataset(split)

    def dataset_for(self, split: str, stage: str) -> Dataset:
        """The dataset a ``stage`` loader reads for ``split`` (built on demand); a hook for
        subclasses that serve a split differently in one stage (e.g. uncropped for predict)."""
        if split not in self.datasets:
            self.datasets[split] = self.build_dataset(split)
        return self.datasets[split]

    # ------------------------------------------------------------------ loaders
    def make_loader(self, dataset: Dataset, *, shuffle: bool) -> DataLoader:
        """A :class:`~torch.utils.data.DataLoader` over ``dataset`` with this module's settings
        (the shuffle order is seeded by ``seed``; workers persist when ``num_workers > 0``)."""
        generator = torch.Generator().manual_seed(int(self.seed)) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=int(self.batch_size),
            shuffle=shuffle,
            num_workers=int(self.num_workers),
            collate_fn=self.collate,
            pin_memory=bool(self.pin_memory),
            persistent_workers=int(self.num_workers) > 0,
            generator=generator,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches of :attr:`train_split` (seeded by ``seed``)."""
        return self.make_loader(self.dataset_for(self.train_split, "fit"), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Batches of :attr:`val_split`, in dataset order."""
        return self.make_loader(self.dataset_for(self.val_split, "validate"), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Batches of :attr:`test_split`, in dataset order."""
        return self.make_loader(self.dataset_for(self.test_split, "test"), shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Batches of :attr:`predict_split`, in dataset order."""
        return self.make_loader(self.dataset_for(self.predict_split, "predict"), shuffle=False)
