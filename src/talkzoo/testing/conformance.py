"""The plugin conformance suite: pytest tests every talkzoo model runs in its own test suite.

Use it from a plugin's tests (ours or a third party's)::

    from talkzoo.testing import ModelConformance

    class TestMyModelConformance(ModelConformance):
        model_class = MyModel
        init_args = {"hidden": 8}                 # a tiny configuration
        recipes = ["recipes/mymodel_*.yaml"]      # globs, relative to the repository root

Pytest collects the inherited ``test_*`` methods. They check that the model

* subclasses exactly one task-family base and declares its family;
* has a typed constructor that jsonargparse (and so ``talkzoo fit``) can build;
* refuses a data spec of another family;
* trains two steps through a Lightning ``Trainer`` on CPU with validation and metrics, and its loss
  falls when a batch is fitted repeatedly;
* round-trips a checkpoint: the reloaded model has the same weights and the same ``generate()``;
* returns ``generate()`` outputs of the family's shape;
* ships recipes that parse with ``talkzoo``'s own parser.

Attributes to set: ``model_class``; optionally ``init_args``, ``datamodule_args`` (for the
family's synthetic datamodule), ``make_datamodule()`` (override for other data), ``recipes``,
``recipe_root``, ``learning_steps`` and ``learning_ratio`` (final/initial loss must be below it).

An installed plugin does not need its own class: it declares its tiny configuration in its
metadata (:attr:`talkzoo.plugins.ModelInfo.tiny_args`, ``tiny_datamodule_args``) and talkzoo's
``tests/test_registry.py`` builds the class with :func:`conformance_suite` for every model
``talkzoo list`` shows, with its recipes (``recipes/<name>.yaml``).

The synthetic mesh data comes with a triangle-strip topology (``spec.faces_file``) for models that
need one; the learning test first runs a zero-step ``Trainer.fit`` so ``setup``/``on_fit_start``
hooks (e.g. a data-driven initialisation) run as in ``talkzoo fit``.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import importlib
import inspect
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from talkzoo.data.base import TalkzooDataModule
from talkzoo.data.spec import FAMILY_MESH, FAMILY_REENACT, FAMILY_VIDEO, MeshDataSpec, VideoDataSpec
from talkzoo.plugins import ModelInfo
from talkzoo.tasks.base import TalkingFaceTask
from talkzoo.tasks.mesh import AudioToMeshTask
from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask
from talkzoo.testing.synthetic import (
    SyntheticMeshDataModule,
    SyntheticReenactmentDataModule,
    SyntheticVideoDataModule,
)

_FAMILY_BASES = {FAMILY_MESH: AudioToMeshTask, FAMILY_VIDEO: AudioToVideoTask, FAMILY_REENACT: ReenactmentTask}


def _strip_faces_file(num_vertices: int) -> str:
    """A ``(V - 2, 3)`` triangle strip ``(i, i+1, i+2)`` as a ``.npy`` in a per-process temporary folder."""
    folder = Path(tempfile.gettempdir()) / f"talkzoo-conformance-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    path = folder / f"strip{num_vertices}.npy"
    if not path.is_file():
        idx = np.arange(max(num_vertices - 2, 0))
        np.save(path, np.stack([idx, idx + 1, idx + 2], axis=1).astype(np.int64))
    return str(path)


class SyntheticMeshWithTopology(SyntheticMeshDataModule):
    """:class:`~talkzoo.testing.synthetic.SyntheticMeshDataModule` whose spec names a triangle-strip
    topology (``spec.faces_file``, a manifold band over the ``V`` vertices), for models that need faces."""

    @property
    def spec(self) -> MeshDataSpec:  # noqa: D102
        return dataclasses.replace(super().spec, faces_file=_strip_faces_file(self.num_vertices))


_SYNTHETIC = {
    FAMILY_MESH: SyntheticMeshWithTopology,
    FAMILY_VIDEO: SyntheticVideoDataModule,
    FAMILY_REENACT: SyntheticReenactmentDataModule,
}


def _quiet_trainer(tmp_path: Path, **kwargs: Any):
    from lightning.pytorch import Trainer

    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        num_sanity_val_steps=0,
    )
    defaults.update(kwargs)
    return Trainer(**defaults)


class ModelConformance:
    """Mixin of conformance tests; subclass it in a ``Test*`` class and set ``model_class``."""

    model_class: ClassVar[type[TalkingFaceTask]]
    init_args: ClassVar[dict[str, Any]] = {}
    datamodule_args: ClassVar[dict[str, Any]] = {}
    recipes: ClassVar[Sequence[str]] = ()
    recipe_root: ClassVar[str | None] = None
    learning_steps: ClassVar[int] = 25
    learning_ratio: ClassVar[float] = 0.9

    # ------------------------------------------------------------------ factories
    def make_datamodule(self) -> TalkzooDataModule:
        """The family's synthetic datamodule with ``datamodule_args`` (override for other data)."""
        return _SYNTHETIC[self.model_class.family](**self.datamodule_args)

    def model_kwargs(self) -> dict[str, Any]:
        """Constructor arguments besides ``spec`` (``init_args``; override to build them per call)."""
        return dict(self.init_args)

    def make_model(self, datamodule: TalkzooDataModule) -> TalkingFaceTask:
        """``model_class(spec=datamodule.spec, **model_kwargs())``."""
        return self.model_class(spec=datamodule.spec, **self.model_kwargs())

    def prepare_for_training(self, model: TalkingFaceTask, datamodule: TalkzooDataModule, tmp_path: Path) -> None:
        """Run the hooks a fit runs before its first step (``setup``, ``on_fit_start``: e.g. OT-Talk's
        PCA initialisation from the training data) through a zero-step ``Trainer.fit``."""
        _quiet_trainer(tmp_path, max_steps=0, limit_val_batches=0).fit(model, datamodule=datamodule)

    def _first_batch(self, datamodule: TalkzooDataModule) -> Any:
        datamodule.setup("fit")
        return next(iter(datamodule.train_dataloader()))

    # ------------------------------------------------------------------ tests
    def test_subclasses_a_family_base(self) -> None:
        """The model extends one family base and its ``family`` matches that base."""
        bases = [fam for fam, base in _FAMILY_BASES.items() if issubclass(self.model_class, base)]
        assert len(bases) == 1, f"{self.model_class.__name__} must extend exactly one of {list(_FAMILY_BASES.values())}"
        assert self.model_class.family == bases[0]
        assert not inspect.isabstract(self.model_class), "the model leaves abstract methods unimplemented"

    def test_constructor_is_typed(self) -> None:
        """Every constructor argument is annotated, and jsonargparse can build a parser for it."""
        from jsonargparse import ArgumentParser

        params = inspect.signature(self.model_class.__init__).parameters
        untyped = [
            n
            for n, p in params.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.annotation is inspect.Parameter.empty
        ]
        assert not untyped, f"untyped constructor arguments: {untyped}"
        assert "spec" in params, "the constructor must accept 'spec' (linked from the datamodule)"
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(self.model_class, "model", skip={"spec"})

    def test_rejects_another_family(self) -> None:
        """A spec of another task family raises FamilyMismatchError at construction."""
        from talkzoo.errors import FamilyMismatchError

        other = VideoDataSpec() if self.model_class.family != FAMILY_VIDEO else MeshDataSpec(num_vertices=4)
        try:
            self.model_class(spec=other, **self.model_kwargs())
        except FamilyMismatchError:
            return
        raise AssertionError(f"{self.model_class.__name__} accepted a {type(other).__name__}")

    def test_trains_with_lightning(self, tmp_path: Path) -> None:
        """Two training steps and one validation batch through a Trainer on CPU; metrics logged."""
        torch.manual_seed(0)
        datamodule = self.make_datamodule()
        model = self.make_model(datamodule)
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        trainer = _quiet_trainer(tmp_path, max_steps=2, limit_val_batches=1, val_check_interval=2)
        trainer.fit(model, datamodule=datamodule)
        logged = trainer.callback_metrics
        assert "train/loss" in logged or "train/loss_epoch" in logged or "train/loss_step" in logged, sorted(logged)
        assert any(k.startswith("val/") for k in logged), f"no validation metric was logged: {sorted(logged)}"
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in logged.values()), dict(logged)
        changed = [k for k, v in model.state_dict().items() if k in before and not torch.equal(before[k], v)]
        assert changed, "no parameter changed after two training steps"

    def test_loss_falls(self, tmp_path: Path) -> None:
        """Fitting one batch repeatedly lowers the loss (final < learning_ratio x initial)."""
        torch.manual_seed(0)
        datamodule = self.make_datamodule()
        model = self.make_model(datamodule)
        self.prepare_for_training(model, datamodule, tmp_path)
        batch = self._first_batch(datamodule)
        optimizer = model.configure_optimizers()
        # Several optimizers (a GAN's generator and discriminators, Lightning's list or
        # ([optimizers], [schedulers]) forms): the first is the one compute_losses' "loss" trains.
        while isinstance(optimizer, (list, tuple)):
            optimizer = optimizer[0]
        if isinstance(optimizer, dict):
            optimizer = optimizer["optimizer"]
        model.train()
        losses = []
        for _ in range(self.learning_steps):
            optimizer.zero_grad()
            loss = model.compute_losses(batch)["loss"]
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < self.learning_ratio * losses[0], f"loss did not fall: {losses[0]:.4g} -> {losses[-1]:.4g}"

    def test_checkpoint_round_trip(self, tmp_path: Path) -> None:
        """Save through a Trainer, reload with ``load_from_checkpoint``: same weights, same output."""
        from talkzoo.checkpoints import load_model

        torch.manual_seed(0)
        datamodule = self.make_datamodule()
        model = self.make_model(datamodule)
        trainer = _quiet_trainer(tmp_path, max_steps=1, limit_val_batches=0)
        trainer.fit(model, datamodule=datamodule)
        path = tmp_path / "model.ckpt"
        trainer.save_checkpoint(path)
        loaded = load_model(path)
        assert type(loaded) is type(model)
        for key, value in model.state_dict().items():
            assert torch.equal(value.cpu(), loaded.state_dict()[key].cpu()), f"weight {key} differs after reload"
        batch = self._first_batch(datamodule)
        model.eval()
        loaded.eval()
        with torch.no_grad():
            torch.manual_seed(1)
            a = model.predict_for_metrics(batch)
            torch.manual_seed(1)
            b = loaded.predict_for_metrics(batch)
        torch.testing.assert_close(a, b)

    def test_generate_shapes(self) -> None:
        """``generate()`` returns the family's output shape for a given number of frames."""
        torch.manual_seed(0)
        datamodule = self.make_datamodule()
        model = self.make_model(datamodule).eval()
        batch = self._first_batch(datamodule)
        frames = 5
        with torch.no_grad():
            if isinstance(model, AudioToMeshTask):
                out = model.generate(batch.audio, batch.template, speaker=batch.speaker, num_frames=frames, audio_mask=batch.audio_mask)
                expected = (len(batch), frames, model.mesh_spec.num_vertices, 3)
            elif isinstance(model, AudioToVideoTask):
                out = model.generate(batch.audio, batch.source, num_frames=frames, audio_mask=batch.audio_mask)
                size = model.require_spec().image_size  # type: ignore[attr-defined]
                expected = (len(batch), frames, 3, size, size)
            else:
                driving = batch.driving[:, :frames]
                out = model.generate(batch.source, driving, frame_mask=batch.frame_mask[:, :frames])
                size = model.require_spec().image_size  # type: ignore[attr-defined]
                expected = (len(batch), driving.shape[1], 3, size, size)
        assert tuple(out.shape) == expected, f"generate() returned {tuple(out.shape)}, expected {expected}"
        assert out.dtype == torch.float32 and torch.isfinite(out).all()

    def test_recipes_parse(self) -> None:
        """Every recipe named by ``recipes`` passes talkzoo's preflight and LightningCLI's parser."""
        import contextlib
        import io

        from talkzoo.lightning_cli import preflight, run_lightning

        root = Path(self.recipe_root) if self.recipe_root else _repository_root()
        missing = [pattern for pattern in self.recipes if not glob.glob(str(root / pattern))]
        assert not missing, f"no recipe matches {missing} under {root}"
        paths = sorted({p for pattern in self.recipes for p in glob.glob(str(root / pattern))})
        for path in paths:
            preflight(["fit", "--config", path])
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    run_lightning(["fit", "--config", path, "--print_config"])
            except SystemExit as exc:
                assert exc.code in (0, None), f"{path}: the parser exited with {exc.code}"
            assert "class_path" in out.getvalue(), f"{path}: nothing printed"


def _repository_root() -> Path:
    """The nearest folder above the working directory holding ``recipes/`` (else the cwd)."""
    here = Path(os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "recipes").is_dir():
            return folder
    return here


def _import_object(path: str) -> Any:
    """``"package.module.Name"`` -> the object."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def resolve_init_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """Turn plain constructor arguments (as in a recipe's ``init_args``) into objects.

    A value ``{"class_path": C, "init_args": {...}}`` becomes ``functools.partial(C, **init_args)``
    when ``C`` is a ``torch.optim.Optimizer`` or learning-rate scheduler class (the model's
    ``optimizer``/``lr_scheduler`` callables), else the instance ``C(**init_args)`` (e.g. a speech
    encoder); nested configs are resolved first. Other values are passed through.

    Args:
        args: plain values (:attr:`talkzoo.plugins.ModelInfo.tiny_args`).

    Returns:
        keyword arguments for the model's constructor.

    Raises:
        ImportError / AttributeError: a ``class_path`` that does not import.
    """
    out: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, Mapping) and "class_path" in value:
            cls = _import_object(str(value["class_path"]))
            kwargs = resolve_init_args(value.get("init_args") or {})
            callables = (torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)
            out[key] = functools.partial(cls, **kwargs) if isinstance(cls, type) and issubclass(cls, callables) else cls(**kwargs)
        else:
            out[key] = value
    return out


def conformance_suite(info: ModelInfo, recipe_root: str | Path | None = None) -> type[ModelConformance]:
    """A :class:`ModelConformance` subclass for one registered model, from its metadata alone.

    The class runs the suite with ``info.tiny_args`` (:func:`resolve_init_args`) on the family's
    synthetic datamodule with ``info.tiny_datamodule_args``, and checks that every recipe the
    metadata names (``recipes/<name>.yaml`` under ``recipe_root``, default the repository root)
    exists and parses. Its name says which model it tests (``TestConformance_dualtalker``).

    A model whose metadata declares no ``tiny_args``, or whose class does not import, gets a class
    whose one test fails saying so (it is never silently skipped).

    Args:
        info: the model's :class:`~talkzoo.plugins.ModelInfo`.
        recipe_root: folder holding ``recipes/``.

    Returns:
        the test class (assign it to a module-level name of a ``test_*.py`` file for pytest).
    """
    name = "TestConformance_" + "".join(c if c.isalnum() else "_" for c in info.name)
    problem = None
    model_class: Any = None
    if info.tiny_args is None:
        problem = (
            f"model '{info.name}' declares no tiny_args in its plugin metadata (talkzoo.plugins.ModelInfo); "
            "add a tiny CPU configuration so the conformance suite runs on it"
        )
    else:
        try:
            model_class = _import_object(info.class_path)
        except Exception as exc:  # noqa: BLE001 - reported by the failing test
            problem = f"model '{info.name}': class_path '{info.class_path}' does not import ({type(exc).__name__}: {exc})"
    if problem is not None:
        message = problem

        def test_declares_a_tiny_configuration(self: Any) -> None:
            raise AssertionError(message)

        return type(name, (), {"test_declares_a_tiny_configuration": test_declares_a_tiny_configuration})
    tiny = dict(info.tiny_args or {})

    def model_kwargs(self: ModelConformance) -> dict[str, Any]:
        return resolve_init_args(tiny)

    attributes = {
        "model_class": model_class,
        "init_args": {},
        "datamodule_args": dict(info.tiny_datamodule_args),
        "recipes": [f"recipes/{recipe}.yaml" for recipe in info.recipes],
        "recipe_root": None if recipe_root is None else str(recipe_root),
        "model_kwargs": model_kwargs,
        "__doc__": f"The conformance suite on the registered model '{info.name}' ({info.class_path}).",
    }
    return type(name, (ModelConformance,), attributes)
