"""Dataset presets driven by their registry (:mod:`talkzoo.data.presets`): every preset documents
itself, writes a fixture its own datamodule reads (``spec.dataset`` = the preset's name), every
preset with a raw release passes raw layout → ``talkzoo data prepare`` → preset reads it, and
every ``talkzoo ...`` command named in a message or docstring exists."""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from talkzoo.data.presets import get_preset, prepare_presets, presets, run_prepare
from talkzoo.data.spec import FAMILY_VIDEO
from talkzoo.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
ALL = presets()
WITH_PREPARE = list(dict.fromkeys(prepare_presets().values()))


def _id(p) -> str:
    return f"{p.kind}-{p.name}"


def _datamodule(preset, root, **kw):
    """The datamodule that reads ``preset`` (mesh; audio → video when it has audio, else reenactment)."""
    args = {**preset.fixture_datamodule_args(), **kw}
    if preset.kind == "mesh":
        from talkzoo.data.mesh import MeshSequenceDataModule

        return MeshSequenceDataModule(str(root), preset=preset.name, batch_size=2, **args)
    from talkzoo.data.video import ReenactmentVideoDataModule, TalkingVideoDataModule

    cls = TalkingVideoDataModule if FAMILY_VIDEO in preset.families else ReenactmentVideoDataModule
    return cls(str(root), preset=preset.name, **args)


def _test_names(dm) -> list[str]:
    if hasattr(dm, "listing"):
        return [c.clip_id for c in dm.listing(dm.test_split)]
    return [r.name for r in dm.records("test")]


# ------------------------------------------------------------------------------ registry
def test_registry_holds_both_families_and_refuses_unknown_names():
    names = {(p.kind, p.name) for p in ALL}
    assert {("mesh", n) for n in ("vocaset", "biwi", "multiface", "demo", "custom")} <= names
    assert {("video", n) for n in ("hdtf", "ravdess", "lrw", "grid", "voxceleb1", "celebv", "prepared", "demo",
                                   "custom")} <= names
    with pytest.raises(ConfigError, match=r"preset 'voca' is unknown; expected one of \['biwi'"):
        get_preset("mesh", "voca")


@pytest.mark.parametrize("preset", ALL, ids=_id)
def test_preset_documents_source_licence_and_where_to_get_it(preset):
    for field in ("title", "source", "licence", "get_data", "layout"):
        assert getattr(preset, field), f"{preset!r} has no {field}"
    module = sys.modules[type(preset).__module__]
    assert module.__doc__ and len(module.__doc__) > 80  # one module per dataset, documented
    assert "licen" in module.__doc__.lower()
    assert preset.name in preset.describe() or preset.title in preset.describe()


@pytest.mark.parametrize("preset", ALL, ids=_id)
def test_preset_reads_its_own_fixture(preset, tmp_path):
    root = preset.write_fixture(tmp_path / preset.name)
    dm = _datamodule(preset, root)
    assert dm.spec.dataset == preset.name
    names = _test_names(dm)
    assert names and len(set(names)) == len(names)


def test_prepared_layout_extra_split_and_pair_files(tmp_path):
    """A prepared root may hold more splits and pair lists than train/val/test (the 2D demo corpus'
    held-out-identity split); they are read by name, with no code change."""
    from talkzoo.data.video import ReenactmentVideoDataModule

    root = get_preset("video", "demo").write_fixture(tmp_path / "demo")
    (root / "splits" / "test_identity.txt").write_text("spkA_000\nspkC_001\n")
    (root / "pairs" / "test_identity_pairs.csv").write_text("source,driving\nspkA_000,spkC_001\n")
    (root / "pairs" / "cross.csv").write_text("source,driving\nspkC_001,spkA_000\nspkA_000,spkC_001\n")
    dm = ReenactmentVideoDataModule(str(root), preset="demo", test_split="test_identity", predict_split="test_identity")
    assert [c.clip_id for c in dm.listing("test_identity")] == ["spkA_000", "spkC_001"]
    assert [p.name for p in dm.pairs()] == ["spkA_000__spkC_001"]
    dm2 = ReenactmentVideoDataModule(str(root), preset="demo", pairs_file="pairs/cross.csv")
    assert [p.name for p in dm2.pairs()] == ["spkC_001__spkA_000", "spkA_000__spkC_001"]
    with pytest.raises(ConfigError, match="test_split"):
        ReenactmentVideoDataModule(str(root), preset="demo", test_split="../x")


# ------------------------------------------------------------------------------ prepare
class _CentreBox:
    """A face detector test double: the central half of the frame."""

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return np.array([[w / 4, h / 4, 3 * w / 4, 3 * h / 4]])


class _SpreadLandmarks:
    """68 points spread over each face box (a test double of talkzoo's landmarker interface,
    ``(frames (N, H, W, 3), boxes (N, 4)) -> (N, 68, 2)``)."""

    name = "spread68"

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        u = np.linspace(0.0, 1.0, 68)
        return np.stack([np.stack([b[0] + u * (b[2] - b[0]), b[1] + u * (b[3] - b[1])], 1)
                         for b in np.asarray(boxes, dtype=np.float64)]).astype(np.float32)


def _prepare_args(name: str) -> argparse.Namespace:
    return argparse.Namespace(dataset=name, overwrite=False, detector=_CentreBox(), landmarker_object=_SpreadLandmarks(),
                              size=64, increase_area=0.1, detect_every=5, protocol=None, progress=False)


def test_prepare_choices_come_from_the_registry(capsys):
    from talkzoo.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["data", "prepare", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for preset in WITH_PREPARE:
        for name in (preset.name, *preset.aliases):
            assert name in text
    assert {"vocaset", "hdtf", "ravdess", "grid", "voxceleb1"} <= set(prepare_presets())
    assert {"lrw", "celebv", "biwi", "multiface"}.isdisjoint(prepare_presets())  # read as released / third-party tools


@pytest.mark.parametrize("preset", WITH_PREPARE, ids=_id)
def test_raw_release_prepare_then_preset_reads_it(preset, tmp_path):
    src = preset.write_raw_fixture(tmp_path / "raw", **({"num_vertices": 24} if preset.kind == "mesh" else {}))
    out = tmp_path / "out"
    line = run_prepare(argparse.Namespace(**{**vars(_prepare_args(preset.name)), "src": str(src), "out": str(out)}))
    assert str(out) in line
    kw = {"image_size": None} if preset.kind == "video" else {}
    dm = _datamodule(preset, out, **kw)
    assert dm.spec.dataset == preset.name
    if preset.kind == "video":  # every prepared clip is in one of the written splits
        from talkzoo.data.presets.video.base import read_split_file

        splits = [p.stem for p in (out / "splits").glob("*.txt") if read_split_file(p)]
        listed = sorted({c.clip_id for s in splits for c in dm.listing(s)})
        assert listed == sorted(p.stem for p in (out / "videos").glob("*.mp4"))
        assert (out / "splits" / "test.txt").is_file()
    else:
        assert _test_names(dm)
        from talkzoo.data.mesh import MeshSequenceDataModule

        subjects = list(dm.spec.speakers)  # the folder read as 'custom' still names its dataset
        custom = MeshSequenceDataModule(str(out), preset="custom", train_subjects=subjects, val_subjects=subjects,
                                        test_subjects=subjects, fps=30.0, source_fps=60.0)
        assert custom.spec.dataset == preset.name
    if preset.kind == "video":
        assert dm.spec.image_size == 64  # the prepared size, recorded in meta.json
        from talkzoo.data.video import ReenactmentVideoDataModule

        assert ReenactmentVideoDataModule(str(out), preset="prepared").spec.dataset == preset.name
        if preset.name != "prepared":
            with pytest.raises(Exception, match=f"prepared from dataset '{preset.name}'"):
                ReenactmentVideoDataModule(str(out), preset="voxceleb1" if preset.name != "voxceleb1" else "celebv").spec


def test_ravdess_prepare_keeps_the_actor_split(tmp_path):
    preset = get_preset("video", "ravdess")
    src = preset.write_raw_fixture(tmp_path / "raw", frames=12)
    run_prepare(argparse.Namespace(**{**vars(_prepare_args("ravdess")), "src": str(src), "out": str(tmp_path / "o")}))
    dm = _datamodule(preset, tmp_path / "o", image_size=None)
    assert dm.spec.speakers == ("Actor_01", "Actor_02")
    assert {c.speaker for c in dm.listing("test")} == {"Actor_23", "Actor_24"}
    assert not list((tmp_path / "o" / "videos").glob("02-*"))  # video-only files have no speech


# ------------------------------------------------------------------------------ commands named in messages
_COMMAND = re.compile(r"`talkzoo((?: [^`]*)?)`")
_LIGHTNING = {"fit", "validate", "test", "predict"}


def _named_commands() -> dict[str, list[str]]:
    """Every backticked ``talkzoo ...`` command in the string literals of src/ and the plugins."""
    found: dict[str, list[str]] = {}
    for path in [*REPO.glob("src/talkzoo/**/*.py"), *REPO.glob("plugins/*/src/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for m in _COMMAND.finditer(node.value):
                    found.setdefault(m.group(0), []).append(str(path.relative_to(REPO)))
    return found


def _alternatives(command: str) -> list[tuple[list[str], list[str]]]:
    """``(words, options)`` of each alternative of a command text (``fit | validate``, ``demo|prepare``)."""
    body = command.strip("`").split(" ", 1)[1] if " " in command.strip("`") else ""
    tokens = body.split()
    words: list[list[str]] = [[]]
    options: list[str] = []
    for tok in tokens:
        if tok.startswith("--"):
            options.append(re.split(r"[=\]\)]", tok)[0])
            continue
        if options or re.match(r"^[<{\[(.A-Z]", tok) or tok in ("|", "..."):
            if tok == "|" and not options:
                words.append([])
            continue
        if "|" in tok:
            head = [w[:] for w in words]
            words = [w + [alt] for w in head for alt in tok.split("|") if alt]
            continue
        for w in words:
            w.append(tok)
    return [(w, options) for w in words]


def test_every_talkzoo_command_named_in_the_code_exists():
    from talkzoo.cli import LIGHTNING_VERBS, main

    commands = _named_commands()
    assert "`talkzoo data prepare vocaset --src DIR --out ROOT`" in commands
    problems = []
    for command, where in sorted(commands.items()):
        for words, options in _alternatives(command):
            if words and words[0] in LIGHTNING_VERBS:
                continue  # LightningCLI's own verbs; their options are jsonargparse's
            out = io.StringIO()
            code = None
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                try:
                    code = main([*words, "--help"])
                except SystemExit as exc:
                    code = exc.code
            text = out.getvalue()
            # options are checked where one parser serves the verb (`talkzoo animate` picks its 2D
            # parser from the arguments, so its --help shows the mesh options only)
            checked = options if words[:1] == ["data"] else []
            missing = [o for o in checked if o != "--help" and o not in text]
            if code != 0 or missing:
                problems.append(f"{command} ({where[0]}): `talkzoo {' '.join(words)} --help` -> {code}, "
                                f"options not in its help: {missing}")
    assert not problems, "\n".join(problems)


def test_command_grep_finds_a_misnamed_command():
    """The check above can fail: a wrong dataset name or option is reported."""
    assert _alternatives("`talkzoo data prepare grid --src DIR`") == [(["data", "prepare", "grid"], ["--src"])]
    assert _alternatives("`talkzoo fit | validate --config R`")[1] == (["validate"], ["--config"])
    from talkzoo.cli import main

    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as exit_:
        main(["data", "prepare", "lrw", "--help"])
    assert exit_.value.code == 2


def test_adding_a_preset_needs_no_edit_elsewhere(tmp_path, monkeypatch):
    """A new module in the presets package registers itself (the registry imports every module)."""
    import talkzoo.data.presets.base as base

    pkg = tmp_path / "pkg"
    (pkg / "talkzoo_extra_presets").mkdir(parents=True)
    (pkg / "talkzoo_extra_presets" / "__init__.py").write_text(
        '"""A third-party preset."""\n'
        "from talkzoo.data.presets import register_preset\n"
        "from talkzoo.data.presets.mesh.vocaset import Vocaset\n"
        "@register_preset\n"
        "class VocasetHalf(Vocaset):\n"
        "    name = 'vocaset_half'\n"
        "    subjects = {**Vocaset.subjects, 'train': Vocaset.subjects['train'][:4]}\n"
    )
    monkeypatch.syspath_prepend(str(pkg))
    importlib.import_module("talkzoo_extra_presets")
    try:
        assert get_preset("mesh", "vocaset_half").subjects["train"] == get_preset("mesh", "vocaset").subjects["train"][:4]
    finally:
        base._REGISTRY.pop(("mesh", "vocaset_half"), None)
        sys.modules.pop("talkzoo_extra_presets", None)
