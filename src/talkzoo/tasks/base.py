"""The shared LightningModule base of every talkzoo model.

:class:`TalkingFaceTask` owns what all task families share: the data spec check, optimizer and
learning-rate scheduler from the config, per-stage metric collections with consistent names
(``train/<loss>``, ``val/<loss>``, ``val/<metric>``, ``test/<metric>``), checkpoint-safe
hyper-parameters, and the ``generate()`` inference entry. A family base
(:class:`~talkzoo.tasks.mesh.AudioToMeshTask`, :class:`~talkzoo.tasks.video.AudioToVideoTask`,
:class:`~talkzoo.tasks.reenact.ReenactmentTask`) fixes the batch type, the metrics and the
predict output; a model plugin subclasses one family base and implements
:meth:`configure_model`, :meth:`compute_losses` and :meth:`generate`.
"""

from __future__ import annotations

import abc
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities.parsing import collect_init_args
from torch import Tensor
from torchmetrics import MetricCollection

from talkzoo.data.spec import DataSpec
from talkzoo.errors import ConfigError, DataError, FamilyMismatchError
from talkzoo.modules import module_config
from talkzoo.nn.optim import adam


#: checkpoint key under which a talkzoo checkpoint records the model's import path.
CLASS_PATH_KEY = "_talkzoo_class_path"



class TalkingFaceTask(L.LightningModule, abc.ABC):
    """Abstract base of all talkzoo models.

    Args:
        spec: the data spec, linked from the datamodule by the ``talkzoo`` command (a recipe does
            not set it). A ``dict`` is accepted too (as stored in a checkpoint). ``None`` is allowed
            only for models that need nothing from the data.
        optimizer: callable ``params -> Optimizer``; in a recipe,
            ``optimizer: {class_path: torch.optim.Adam, init_args: {lr: 1.0e-4}}``. Default Adam 1e-4.
        lr_scheduler: optional callable ``optimizer -> LRScheduler`` (stepped per epoch).

    Raises:
        FamilyMismatchError: if ``spec`` belongs to another task family than the model.

    Subclasses set the class attributes ``family`` and ``spec_class`` (family bases do this),
    build their layers in ``__init__`` and implement :meth:`compute_losses` and :meth:`generate`.
    A component passed as a module argument (a speech encoder) should inherit
    :class:`talkzoo.modules.RecordsConfig` and be turned back from its recorded config with
    :func:`talkzoo.modules.build_module` at the top of ``__init__``, so checkpoints rebuild it.
    """

    #: task family of the model, one of :data:`talkzoo.data.spec.FAMILIES`.
    family: ClassVar[str] = ""
    #: the spec class the model needs.
    spec_class: ClassVar[type[DataSpec]] = DataSpec

    def __init__(
        self,
        spec: DataSpec | dict | None = None,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        self.spec = self._coerce_spec(spec)
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        # Callables from the config are not checkpoint material; the spec is stored as a dict;
        # injected modules (e.g. the speech encoder) are stored as the config that rebuilds them.
        init_args: dict[str, Any] = {}
        for level in collect_init_args(inspect.currentframe(), []):
            init_args.update(level)
        modules = {k: v for k, v in init_args.items() if isinstance(v, torch.nn.Module)}
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler", "spec", *modules])
        self.hparams["spec"] = None if self.spec is None else self.spec.to_dict()
        for name, module in modules.items():
            self.hparams[name] = module_config(module)
            if self.hparams[name] is None:
                warnings.warn(
                    f"{type(self).__name__}: argument '{name}' ({type(module).__name__}) does not record its "
                    "configuration (talkzoo.modules.RecordsConfig); pass it again when loading a checkpoint",
                    stacklevel=2,
                )

    # ------------------------------------------------------------------ spec
    @classmethod
    def _coerce_spec(cls, spec: DataSpec | Mapping | None) -> DataSpec | None:
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            names = {f.name for f in fields(cls.spec_class) if f.init}
            fam = spec.get("family")
            if fam and cls.family and fam != cls.family:
                raise FamilyMismatchError(cls._mismatch_message(fam))
            values = {k: v for k, v in spec.items() if k in names}
            if isinstance(values.get("speakers"), list):
                values["speakers"] = tuple(values["speakers"])
            return cls.spec_class(**values)
        if not isinstance(spec, DataSpec):
            raise ConfigError(f"{cls.__name__}: 'spec' must be a talkzoo DataSpec, got {type(spec).__name__}")
        if cls.family and spec.family != cls.family:
            raise FamilyMismatchError(cls._mismatch_message(spec.family))
        if not isinstance(spec, cls.spec_class):
            raise ConfigError(
                f"{cls.__name__} needs a {cls.spec_class.__name__}, got {type(spec).__name__}"
            )
        return spec

    @classmethod
    def _mismatch_message(cls, data_family: str) -> str:
        return (
            f"model {cls.__name__} is an '{cls.family}' model but the data is '{data_family}' data; "
            f"pair it with a datamodule of the '{cls.family}' family"
        )

    def require_spec(self) -> DataSpec:
        """Return the spec, or raise :class:`ConfigError` if the model was built without one."""
        if self.spec is None:
            raise ConfigError(
                f"{type(self).__name__} needs a data spec: build it through `talkzoo fit --config ...` "
                "(which links data.spec into the model) or pass spec=datamodule.spec"
            )
        return self.spec

    # ------------------------------------------------------------------ abstract API
    @abc.abstractmethod
    def compute_losses(self, batch: Any) -> dict[str, Tensor]:
        """Return the training losses of a batch; key ``"loss"`` is the total to minimise."""

    @abc.abstractmethod
    def generate(self, *args: Any, **kwargs: Any) -> Tensor:
        """Inference entry point (family-specific signature; see the family base)."""

    def configure_metrics(self) -> MetricCollection | None:
        """Return the evaluation metrics (cloned per stage with ``val/``/``test/`` prefixes)."""
        return None

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str) -> None:  # noqa: D102 - Lightning hook
        if not hasattr(self, "val_metrics"):
            metrics = self.configure_metrics()
            if metrics is not None:
                self.val_metrics = metrics.clone(prefix="val/")
                self.test_metrics = metrics.clone(prefix="test/")

    def _log_losses(self, losses: Mapping[str, Tensor], stage: str, batch_size: int) -> None:
        for name, value in losses.items():
            self.log(
                f"{stage}/{name}",
                value.detach(),
                batch_size=batch_size,
                prog_bar=(name == "loss"),
                on_step=(stage == "train"),
                on_epoch=True,
                sync_dist=(stage != "train"),
            )

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:  # noqa: D102
        losses = self.compute_losses(batch)
        if "loss" not in losses:
            raise KeyError(f"{type(self).__name__}.compute_losses must return a 'loss' entry")
        if not bool(torch.isfinite(losses["loss"].detach()).all()):
            # Stop before backward/optimizer step: no NaN weights are trained or checkpointed.
            names = list(getattr(batch, "names", []) or [])
            raise DataError(
                f"non-finite training loss ({losses['loss'].detach().float().mean().item()}) at step "
                f"{self.global_step} (epoch {self.current_epoch}, batch {batch_idx}); batch sequences: "
                f"{', '.join(map(str, names)) or 'unnamed'}; check those files for NaN/inf values or lower the "
                "learning rate; training stopped before saving non-finite weights"
            )
        self._log_losses(losses, "train", len(batch))
        return losses["loss"]

    def _eval_step(self, batch: Any, stage: str) -> None:
        with torch.no_grad():
            losses = self.compute_losses(batch)
        self._log_losses(losses, stage, len(batch))
        collection = getattr(self, f"{stage}_metrics", None)
        if collection is not None:
            prediction = self.predict_for_metrics(batch)
            self.update_metrics(collection, prediction, batch)
            self.log_dict(collection, batch_size=len(batch), on_step=False, on_epoch=True)

    def validation_step(self, batch: Any, batch_idx: int) -> None:  # noqa: D102
        self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:  # noqa: D102
        self._eval_step(batch, "test")

    def predict_for_metrics(self, batch: Any) -> Tensor:
        """Prediction used for evaluation metrics (family bases define it)."""
        raise NotImplementedError

    def update_metrics(self, collection: MetricCollection, prediction: Tensor, batch: Any) -> None:
        """Feed one batch's prediction into ``collection`` (family bases define it)."""
        raise NotImplementedError

    def configure_optimizers(self) -> Any:  # noqa: D102
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params)
        if self.lr_scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.lr_scheduler_factory(optimizer)}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the model's import path, so ``talkzoo animate`` rebuilds it from the file alone.

        Kept outside the hyper-parameters on purpose: LightningCLI merges those back into the
        config when it resumes from a checkpoint.
        """
        checkpoint[CLASS_PATH_KEY] = f"{type(self).__module__}.{type(self).__qualname__}"

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (all, or only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
