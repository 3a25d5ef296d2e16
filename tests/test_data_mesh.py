"""Tests of the audio → mesh datamodule, VOCASET preparation and the layout fixtures (CPU, fast)."""

from __future__ import annotations

import json
import os
import pickle
import shlex
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.data import mesh as mesh_mod
from talkzoo.data.batch import MeshBatch
from talkzoo.data.mesh import (
    BIWI_TEST_B,
    BIWI_TRAIN,
    VOCASET_TEST,
    VOCASET_TRAIN,
    VOCASET_VAL,
    MeshSequenceDataModule,
    MeshSequenceDataset,
    collate_mesh_batch,
    parse_sequence_name,
)
from talkzoo.data.prepare import prepare_vocaset
from talkzoo.data.spec import FAMILY_MESH, MeshDataSpec
from talkzoo.errors import ConfigError, DataError
from talkzoo.testing.fixtures import VOCASET_SUBJECTS, write_mesh_layout, write_vocaset_release

V = 24  # small meshes keep the tests fast


# ------------------------------------------------------------------------------ shared layouts
@pytest.fixture(scope="module")
def voca_root(tmp_path_factory):
    return write_mesh_layout(tmp_path_factory.mktemp("voca") / "vocaset", preset="vocaset", num_vertices=V)


@pytest.fixture(scope="module")
def biwi_root(tmp_path_factory):
    return write_mesh_layout(tmp_path_factory.mktemp("biwi") / "BIWI", preset="biwi", num_vertices=V)


@pytest.fixture
def voca_copy(tmp_path):
    """A fresh, writable VOCASET-layout corpus for tests that damage it (3 subjects)."""
    subjects = [VOCASET_TRAIN[0], VOCASET_VAL[0], VOCASET_TEST[0]]
    root = write_mesh_layout(tmp_path / "voca", preset="vocaset", num_vertices=V, subjects=subjects)
    kw = dict(train_subjects=subjects[:1], val_subjects=subjects[1:2], test_subjects=subjects[2:])
    return root, kw


# ------------------------------------------------------------------------------ VOCASET round trip
def test_prepare_vocaset_round_trip_real_vertex_count(tmp_path):
    release = write_vocaset_release(tmp_path / "release", num_vertices=5023, frames=20)
    out = prepare_vocaset(release, tmp_path / "vocaset", progress=False)
    assert out == tmp_path / "vocaset"
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "templates.pkl", "vertices_npy", "wav"]

    verts = np.load(release / "data_verts.npy")
    index = pickle.loads((release / "subj_seq_to_idx.pkl").read_bytes())
    raw = pickle.loads((release / "raw_audio_fixed.pkl").read_bytes())
    names = sorted(p.stem for p in (out / "vertices_npy").glob("*.npy"))
    assert len(names) == 6 and all("_sentence" in n for n in names)
    for subject, seqs in index.items():
        for seq, frames in seqs.items():
            arr = np.load(out / "vertices_npy" / f"{subject}_{seq}.npy")
            rows = [frames[f] for f in sorted(frames)]
            assert arr.shape == (len(rows), 5023 * 3) and arr.dtype == np.float32  # 60 fps kept
            np.testing.assert_array_equal(arr, verts[rows].reshape(len(rows), -1))
            info = sf.info(str(out / "wav" / f"{subject}_{seq}.wav"))
            assert info.samplerate == 16000 and info.channels == 1
            expected = len(raw[subject][seq]["audio"]) * 16000 / 22000
            assert abs(info.frames - expected) <= 2

    subjects = list(index)
    dm = MeshSequenceDataModule(
        str(out), preset="vocaset", batch_size=2,
        train_subjects=subjects[:1], val_subjects=subjects[1:2], test_subjects=subjects[2:],
        test_sentences=[1, 21],
    )
    assert dm.spec.num_vertices == 5023 and dm.spec.fps == 30.0 and dm.spec.sample_rate == 16000
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert isinstance(batch, MeshBatch) and len(batch) == 2
    for b, name in enumerate(batch.names):
        src = np.load(out / "vertices_npy" / f"{name}.npy")
        n30 = int(batch.frame_mask[b].sum())
        assert n30 == (src.shape[0] + 1) // 2  # 60 -> 30 fps halves the frames
        np.testing.assert_allclose(
            batch.vertices[b, :n30].numpy(), src[::2].reshape(-1, 5023, 3), rtol=0, atol=0
        )
        assert int(batch.audio_mask[b].sum()) == round(n30 / 30 * 16000)
    tpl = mesh_mod.read_templates(out / "templates.pkl")
    assert tpl[subjects[0]].shape == (5023, 3)


def test_prepare_refuses_non_empty_out_and_overwrites_on_request(tmp_path):
    release = write_vocaset_release(tmp_path / "release", num_vertices=10, frames=12)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        prepare_vocaset(release, out, progress=False)
    assert (out / "keep.txt").exists()
    prepare_vocaset(release, out, overwrite=True, progress=False)
    assert not (out / "keep.txt").exists() and (out / "templates.pkl").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_prepare_leaves_nothing_when_input_is_corrupt_midway(tmp_path):
    release = write_vocaset_release(tmp_path / "release", num_vertices=10, frames=12)
    raw = pickle.loads((release / "raw_audio_fixed.pkl").read_bytes())
    last_subject = list(raw)[-1]
    raw[last_subject]["sentence21"]["audio"] = "not audio"  # the very last sequence is corrupt
    (release / "raw_audio_fixed.pkl").write_bytes(pickle.dumps(raw, protocol=2))
    out = tmp_path / "vocaset"
    with pytest.raises(DataError, match=r"raw_audio_fixed\.pkl.*sentence21"):
        prepare_vocaset(release, out, progress=False)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]  # no temp folder left


def test_prepare_bad_row_index_and_missing_file(tmp_path):
    release = write_vocaset_release(tmp_path / "release", num_vertices=10, frames=12)
    idx = pickle.loads((release / "subj_seq_to_idx.pkl").read_bytes())
    subject = list(idx)[0]
    idx[subject]["sentence01"][0] = 10**6
    (release / "subj_seq_to_idx.pkl").write_bytes(pickle.dumps(idx, protocol=2))
    with pytest.raises(DataError, match="outside data_verts"):
        prepare_vocaset(release, tmp_path / "o", progress=False)
    (release / "templates.pkl").unlink()
    with pytest.raises(DataError, match="templates.pkl"):
        prepare_vocaset(release, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def test_malicious_templates_pickle_is_refused(tmp_path, voca_copy):
    root, kw = voca_copy
    marker = tmp_path / "pwned"
    (root / "templates.pkl").write_bytes(pickle.dumps({"x": _Evil(marker)}))
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    with pytest.raises(DataError, match=r"templates\.pkl.*(forbidden|refus)"):
        dm.spec
    assert not marker.exists()


def test_malicious_release_pickle_is_refused(tmp_path):
    release = write_vocaset_release(tmp_path / "release", num_vertices=10, frames=12)
    marker = tmp_path / "pwned"
    (release / "raw_audio_fixed.pkl").write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(DataError, match="raw_audio_fixed.pkl"):
        prepare_vocaset(release, tmp_path / "out", progress=False)
    assert not marker.exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ presets and splits
def test_vocaset_preset_faceformer_split(voca_root):
    dm = MeshSequenceDataModule(str(voca_root), preset="vocaset", batch_size=4)
    spec = dm.spec  # available before setup
    assert isinstance(spec, MeshDataSpec) and spec.family == FAMILY_MESH
    assert spec.speakers == VOCASET_TRAIN and spec.num_vertices == V
    assert (spec.fps, spec.sample_rate, spec.dataset) == (30.0, 16000, "vocaset")
    assert spec.lip_region is None and spec.faces_file is None
    dm.setup(None)
    train, val, test = (dm.datasets[s].records for s in ("train", "val", "test"))
    assert {r.subject for r in train} == set(VOCASET_TRAIN) and len(train) == 16  # sentences 1 and 21
    assert {r.subject for r in val} == set(VOCASET_VAL) and {r.sentence for r in val} == {21}
    assert {r.subject for r in test} == set(VOCASET_TEST) and {r.sentence for r in test} == {21}
    assert all(r.speaker == VOCASET_TRAIN.index(r.subject) for r in train)
    assert all(r.speaker == -1 for r in val + test)


def test_biwi_test_a_and_b(biwi_root):
    dm = MeshSequenceDataModule(str(biwi_root), preset="biwi", batch_size=4)
    assert dm.spec.speakers == BIWI_TRAIN and dm.spec.fps == 25.0
    dm.setup(None)
    assert {(r.subject, r.sentence) for r in dm.datasets["train"].records} == {(s, 1) for s in BIWI_TRAIN}
    assert {(r.subject, r.sentence) for r in dm.datasets["val"].records} == {(s, 33) for s in BIWI_TRAIN}
    test_a = dm.datasets["test"].records
    assert {(r.subject, r.sentence) for r in test_a} == {(s, 37) for s in BIWI_TRAIN}
    assert all(r.speaker == BIWI_TRAIN.index(r.subject) for r in test_a)  # seen subjects keep their id
    assert test_a[0].name == "F2_e37"
    dm_b = MeshSequenceDataModule(str(biwi_root), preset="biwi", test_set="B")
    dm_b.setup("test")
    test_b = dm_b.datasets["test"].records
    assert {r.subject for r in test_b} == set(BIWI_TEST_B) and all(r.speaker == -1 for r in test_b)
    batch = next(iter(dm_b.test_dataloader()))
    assert batch.vertices.shape[0] == 4 and batch.vertices.shape[2:] == (V, 3)


def test_multiface_needs_subjects_then_loads(tmp_path):
    root = write_mesh_layout(tmp_path / "multiface", preset="multiface", num_vertices=V)
    with pytest.raises(ConfigError, match="train_subjects.*not published"):
        MeshSequenceDataModule(str(root), preset="multiface")
    dm = MeshSequenceDataModule(
        str(root), preset="multiface", batch_size=2,
        train_subjects=["2", "3", "6"], val_subjects=["2", "3", "6"], test_subjects=["2", "1"],
    )
    assert dm.spec.fps == 30.0 and dm.spec.speakers == ("2", "3", "6")
    dm.setup(None)
    assert {r.sentence for r in dm.datasets["train"].records} == {1}
    assert {r.sentence for r in dm.datasets["val"].records} == {41}
    assert {r.name for r in dm.datasets["test"].records} == {"1_46", "2_46"}
    assert {r.name: r.speaker for r in dm.datasets["test"].records} == {"1_46": -1, "2_46": 0}


def test_demo_preset_reads_split_json_and_regions(tmp_path):
    root = write_mesh_layout(tmp_path / "demo", preset="demo", num_vertices=V)
    split = json.loads((root / "split.json").read_text())
    dm = MeshSequenceDataModule(str(root), preset="demo", batch_size=2)
    spec = dm.spec
    assert spec.speakers == tuple(split["train"]) and len(spec.speakers) == 2
    assert spec.lip_region == str(root / "regions" / "lip.txt")
    assert spec.upper_face_region == str(root / "regions" / "upper_face.txt")
    assert spec.faces_file == str(root / "faces.npy")
    dm.setup(None)
    assert {r.subject for r in dm.datasets["test"].records} == set(split["test"])
    assert {r.sentence for r in dm.datasets["test"].records} == set(split["sentences"]["test"]) == {2, 3}
    assert {r.sentence for r in dm.datasets["train"].records} == {1, 2, 3}
    assert dm.spec.fps == 30.0
    (root / "split.json").write_text(json.dumps({**split, "val": [], "test": []}))
    dm = MeshSequenceDataModule(str(root), preset="demo")
    with pytest.raises(DataError, match=r"split\.json lists no val subjects"):
        dm.setup("validate")
    (root / "split.json").write_text(json.dumps({"train": "DemoVoice_f1"}))
    with pytest.raises(DataError, match="split.json"):
        MeshSequenceDataModule(str(root), preset="demo").spec


def test_config_errors(voca_root):
    with pytest.raises(ConfigError, match="preset"):
        MeshSequenceDataModule(str(voca_root), preset="voca")
    with pytest.raises(ConfigError, match="test_set"):
        MeshSequenceDataModule(str(voca_root), preset="vocaset", test_set="B")
    with pytest.raises(ConfigError, match="predict_split"):
        MeshSequenceDataModule(str(voca_root), predict_split="dev")
    with pytest.raises(ConfigError, match="fps"):
        MeshSequenceDataModule(str(voca_root), preset="custom", train_subjects=["a"], val_subjects=["a"], test_subjects=["a"])
    with pytest.raises(DataError, match="num_vertices"):
        MeshSequenceDataModule(str(voca_root), num_vertices=5023).spec
    with pytest.raises(DataError, match="nolips.txt"):
        MeshSequenceDataModule(str(voca_root), lip_region=str(voca_root / "nolips.txt")).spec


# ------------------------------------------------------------------------------ batching
def test_batches_pad_with_masks(voca_root):
    dm = MeshSequenceDataModule(str(voca_root), preset="vocaset", batch_size=3)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))  # 2 val sequences
    batch = next(iter(dm.train_dataloader()))
    assert len(batch) == 3 and batch.vertices.shape[0] == 3
    lengths = batch.frame_mask.sum(1)
    assert len(set(lengths.tolist())) > 1, "fixture lengths vary, so the batch must be padded"
    T = batch.vertices.shape[1]
    assert T == int(lengths.max()) and batch.audio.shape[1] == int(batch.audio_mask.sum(1).max())
    for b in range(3):
        n, s = int(lengths[b]), int(batch.audio_mask[b].sum())
        assert batch.frame_mask[b, :n].all() and not batch.frame_mask[b, n:].any()
        assert batch.audio_mask[b, :s].all() and not batch.audio_mask[b, s:].any()
        assert torch.all(batch.vertices[b, n:] == 0) and torch.all(batch.audio[b, s:] == 0)
        assert torch.all(batch.vertices[b, :n].abs().sum(dim=(1, 2)) > 0)
        assert n == round(s / 16000 * 30)  # frames_for_audio convention
    assert batch.template.shape == (3, V, 3) and batch.speaker.dtype == torch.long
    assert all(VOCASET_SUBJECTS.index(s) < 8 for s in batch.subjects)
    assert torch.equal(batch.lengths, lengths)


def test_collate_rejects_mixed_topologies():
    from talkzoo.data.mesh import MeshSample

    a = MeshSample(torch.zeros(10), torch.zeros(2, 5, 3), torch.zeros(5, 3), 0, "a_1", "a")
    b = MeshSample(torch.zeros(10), torch.zeros(2, 6, 3), torch.zeros(6, 3), 0, "b_1", "b")
    with pytest.raises(DataError, match="vertex counts"):
        collate_mesh_batch([a, b])


def test_max_seconds_crops_training_only(voca_root):
    dm = MeshSequenceDataModule(str(voca_root), preset="vocaset", batch_size=2, max_seconds=0.2)
    dm.setup("fit")
    window = int(0.2 * 30)
    for i in range(len(dm.datasets["train"])):
        s = dm.datasets["train"][i]
        assert s.vertices.shape[0] <= window and s.vertices.shape[0] == round(s.audio.shape[0] / 16000 * 30)
    full = dm.datasets["val"][0]
    assert full.vertices.shape[0] > window


# ------------------------------------------------------------------------------ memory mapping and fps
def test_vertex_files_are_memory_mapped(voca_root, monkeypatch):
    dm = MeshSequenceDataModule(str(voca_root), preset="vocaset", batch_size=2)
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("mmap_mode"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(mesh_mod.np, "load", spy)
    dm.setup("test")
    ds = dm.datasets["test"]
    assert isinstance(ds.open_vertices(0), np.memmap)
    sample = ds[0]
    assert calls and all(mode == "r" for mode in calls)
    assert not isinstance(sample.vertices.numpy(), np.memmap) and sample.vertices.numpy().flags.writeable
    # records hold headers only: no arrays are kept by the dataset
    assert all(not isinstance(v, np.ndarray) for r in ds.records for v in vars(r).values())


def test_non_integer_ratio_interpolates(tmp_path):
    root = write_mesh_layout(tmp_path / "b", preset="biwi", num_vertices=8, subjects=["F2"], sentences=[37], seconds=1.0,
                             vary_lengths=False)
    dm = MeshSequenceDataModule(str(root), preset="biwi", fps=30.0, train_subjects=["F2"], val_subjects=["F2"],
                                test_subjects=["F2"])
    dm.setup("test")
    sample = dm.datasets["test"][0]
    src = np.load(root / "vertices_npy" / "F2_e37.npy").reshape(-1, 8, 3)  # 25 frames at 25 fps
    assert src.shape[0] == 25 and sample.vertices.shape[0] == 29  # floor(24 * 30 / 25) + 1
    k = 7
    pos = k * 25 / 30
    lo, w = int(np.floor(pos)), pos - np.floor(pos)
    np.testing.assert_allclose(sample.vertices[k].numpy(), (1 - w) * src[lo] + w * src[lo + 1], atol=1e-7)


# ------------------------------------------------------------------------------ bad inputs
def test_missing_root_says_where_to_get_data(tmp_path):
    for preset, needle in (("vocaset", "voca.is.tue.mpg.de"), ("biwi", "BIWI"), ("demo", "talkzoo data demo")):
        dm = MeshSequenceDataModule(str(tmp_path / "nowhere"), preset=preset)
        with pytest.raises(DataError, match=needle) as err:
            dm.spec
        assert "nowhere" in str(err.value)
    with pytest.raises(DataError, match=r"talkzoo data prepare vocaset --src DIR --out ROOT"):
        MeshSequenceDataModule(str(tmp_path / "nowhere")).setup("fit")


def test_subject_missing_from_templates(voca_copy):
    root, kw = voca_copy
    templates = pickle.loads((root / "templates.pkl").read_bytes())
    del templates[kw["test_subjects"][0]]
    (root / "templates.pkl").write_bytes(pickle.dumps(templates))
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    dm.setup("fit")  # train/val subjects are fine
    with pytest.raises(DataError, match=rf"templates\.pkl.*{kw['test_subjects'][0]}"):
        dm.setup("test")
    del templates[kw["train_subjects"][0]]
    (root / "templates.pkl").write_bytes(pickle.dumps(templates))
    with pytest.raises(DataError, match=rf"templates\.pkl.*training subject '{kw['train_subjects'][0]}'"):
        MeshSequenceDataModule(str(root), preset="vocaset", **kw).spec


def test_vertex_width_mismatch(voca_copy):
    root, kw = voca_copy
    bad = root / "vertices_npy" / f"{kw['val_subjects'][0]}_sentence21.npy"
    np.save(bad, np.zeros((20, 3 * V + 3), np.float32))
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    with pytest.raises(DataError, match=rf"{bad.name}.*expected \(frames, {3 * V}\)"):
        dm.setup("validate")


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage-not-a-wav" * 3], ids=["empty", "corrupt"])
def test_empty_or_corrupt_wav(voca_copy, content):
    root, kw = voca_copy
    bad = root / "wav" / f"{kw['test_subjects'][0]}_sentence21.wav"
    bad.write_bytes(content)
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    with pytest.raises(DataError, match=bad.name):
        dm.setup("test")


def test_zero_sample_wav_and_load_audio_errors(voca_copy, tmp_path):
    root, kw = voca_copy
    bad = root / "wav" / f"{kw['test_subjects'][0]}_sentence21.wav"
    sf.write(str(bad), np.zeros(0, np.float32), 16000, subtype="PCM_16")
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    with pytest.raises(DataError, match=bad.name):
        dm.setup("test")
    # a file corrupted after setup is reported by the reader (load_audio) with its name
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    dm.setup("fit")
    ds: MeshSequenceDataset = dm.datasets["train"]
    ds.records[0].wav.write_bytes(b"junk")
    with pytest.raises(DataError, match=ds.records[0].wav.name):
        ds[0]


def test_audio_motion_length_mismatch(voca_copy):
    root, kw = voca_copy
    name = f"{kw['train_subjects'][0]}_sentence01"
    wav = root / "wav" / f"{name}.wav"
    sf.write(str(wav), np.zeros(16000 * 3, np.float32), 16000, subtype="PCM_16")
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    msg = str(err.value)
    assert f"{name}.wav" in msg and f"{name}.npy" in msg and "3.000 s" in msg and "0.600 s" in msg


def test_small_mismatch_is_trimmed(voca_copy):
    root, kw = voca_copy
    name = f"{kw['train_subjects'][0]}_sentence01"
    frames = np.load(root / "vertices_npy" / f"{name}.npy").shape[0]
    sf.write(str(root / "wav" / f"{name}.wav"), np.full(int(frames / 60 * 16000) + 2000, 0.1, np.float32), 16000)
    dm = MeshSequenceDataModule(str(root), preset="vocaset", **kw)
    dm.setup("fit")
    rec = [i for i, r in enumerate(dm.datasets["train"].records) if r.name == name][0]
    s = dm.datasets["train"][rec]
    assert s.vertices.shape[0] == (frames + 1) // 2
    assert s.audio.shape[0] == round(s.vertices.shape[0] / 30 * 16000)


def test_no_sequences_for_split_lists_expectation(voca_copy):
    root, kw = voca_copy
    dm = MeshSequenceDataModule(str(root), preset="vocaset", test_sentences=[39, 40], **kw)
    with pytest.raises(DataError, match=r"test split.*" + kw["test_subjects"][0] + r".*sentences 39-40"):
        dm.setup("test")


def test_unparsable_file_name(voca_copy):
    root, kw = voca_copy
    bad = root / "vertices_npy" / "README.npy"
    np.save(bad, np.zeros((2, 3 * V), np.float32))
    with pytest.raises(DataError, match="README.npy"):
        MeshSequenceDataModule(str(root), preset="vocaset", **kw).setup("fit")


def test_parse_sequence_name():
    assert parse_sequence_name("FaceTalk_170725_00137_TA_sentence01.npy") == ("FaceTalk_170725_00137_TA", "sentence01", 1)
    assert parse_sequence_name("F2_e37.wav") == ("F2", "e37", 37)
    assert parse_sequence_name("12_46.npy") == ("12", "46", 46)
    for bad in ("F2.npy", "F2_intro.npy", "_01.npy"):
        with pytest.raises(DataError, match=bad):
            parse_sequence_name(bad)


def test_spec_region_paths_are_absolute(tmp_path, monkeypatch):
    """Relative region/faces paths become absolute in the spec, so a checkpoint's spec still
    finds them from another working directory (``talkzoo test``/``animate`` elsewhere)."""
    from talkzoo.data.mesh import MeshSequenceDataModule
    from talkzoo.testing.fixtures import write_mesh_layout

    write_mesh_layout(tmp_path / "demo", preset="demo", num_vertices=16)
    monkeypatch.chdir(tmp_path)
    spec = MeshSequenceDataModule(root="demo", preset="demo", lip_region="demo/regions/lip.txt").spec
    assert spec.lip_region == str((tmp_path / "demo" / "regions" / "lip.txt").resolve())
    assert Path(spec.faces_file).is_absolute() and Path(spec.upper_face_region).is_absolute()
