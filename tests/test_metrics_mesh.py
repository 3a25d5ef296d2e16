"""Tests for talkzoo.metrics.mesh (LVE, MVE, FDD, OT-Talk errors) and talkzoo.metrics.regions.

Each metric is checked against a plain NumPy implementation of its documented formula
(CodeTalker ``cal_metric.py`` conventions: frames of all sequences concatenated for frame
metrics; FDD per sequence then averaged) with the data fed (a) as one padded batch, (b) as
many padded batches whose padding holds garbage (NaN, inf, huge values), and (c) split across
two CPU processes under DDP (gloo).
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from talkzoo.errors import DataError
from talkzoo.metrics import (
    FaceMeanError,
    HeadMeanError,
    LipMaxError,
    LipMeanError,
    LipVertexError,
    MeanVertexError,
    RegionVertexError,
    UpperFaceDynamicsDeviation,
    load_vertex_indices,
    safe_load_pickle,
)

V = 40
LIPS = [3, 7, 8, 15, 21, 22, 30, 39]
FACE = list(range(0, 32, 2))
UPPER = [0, 1, 2, 10, 11, 33, 34]
RTOL = 1e-6

# --------------------------------------------------------------------------- data


def _make_data(seed: int = 0, n_seq: int = 6):
    """Variable-length sequences: list of (pred (T,V,3), gt (T,V,3), template (V,3)) float64."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_seq):
        t = int(rng.integers(2, 11))
        tmpl = rng.normal(size=(V, 3))
        gt = tmpl + 0.01 * rng.normal(size=(t, V, 3)) * rng.uniform(0.5, 2.0)
        pred = tmpl + 0.01 * rng.normal(size=(t, V, 3))
        seqs.append((pred, gt, tmpl))
    return seqs


# --------------------------------------------------------------------------- numpy references


def np_frame_error(seqs, idx, reduction, squared):
    """Concatenate the frames of all sequences, then per frame reduce over the region, mean over frames."""
    pred = np.concatenate([s[0] for s in seqs])
    gt = np.concatenate([s[1] for s in seqs])
    if idx is not None:
        pred, gt = pred[:, idx], gt[:, idx]
    d = ((gt - pred) ** 2).sum(axis=2)
    if not squared:
        d = np.sqrt(d)
    per_frame = d.max(axis=1) if reduction == "max" else d.mean(axis=1)
    return per_frame.mean()


def np_fdd(seqs, idx, squared=True, absolute=False):
    """CodeTalker: per sequence mean_v std_t(||x - template||^2) for gt minus pred, mean over sequences."""
    out = []
    for pred, gt, tmpl in seqs:
        dyn = []
        for x in (gt, pred):
            e = ((x[:, idx] - tmpl[idx]) ** 2).sum(axis=2)
            if not squared:
                e = np.sqrt(e)
            dyn.append(np.std(e, axis=0).mean())
        d = dyn[0] - dyn[1]
        out.append(abs(d) if absolute else d)
    return float(np.mean(out))


# metric id -> (factory, numpy reference, needs template)
CASES = {
    "lve": (lambda: LipVertexError(LIPS, "lip-test"), lambda s: np_frame_error(s, LIPS, "max", True)),
    "lve_euclid": (
        lambda: LipVertexError(LIPS, "lip-test", squared=False, scale=1e4),
        lambda s: 1e4 * np_frame_error(s, LIPS, "max", False),
    ),
    "mve": (lambda: MeanVertexError(), lambda s: np_frame_error(s, None, "mean", False)),
    "mve_sq_region": (
        lambda: MeanVertexError(FACE, "face-test", squared=True),
        lambda s: np_frame_error(s, FACE, "mean", True),
    ),
    "lip_max": (lambda: LipMaxError(LIPS, "lip-test"), lambda s: 1000 * np_frame_error(s, LIPS, "max", False)),
    "lip_mean": (lambda: LipMeanError(LIPS, "lip-test"), lambda s: 1000 * np_frame_error(s, LIPS, "mean", False)),
    "face_mean": (lambda: FaceMeanError(FACE, "face-test"), lambda s: 1000 * np_frame_error(s, FACE, "mean", False)),
    "head_mean": (lambda: HeadMeanError(), lambda s: 1000 * np_frame_error(s, None, "mean", False)),
    "fdd": (lambda: UpperFaceDynamicsDeviation(UPPER, "upper-test"), lambda s: np_fdd(s, UPPER)),
    "fdd_abs_l2": (
        lambda: UpperFaceDynamicsDeviation(UPPER, "upper-test", squared=False, absolute=True, scale=1e5),
        lambda s: 1e5 * np_fdd(s, UPPER, squared=False, absolute=True),
    ),
}


def _pad_batch(seqs, rng, extra: int = 0, garbage: bool = True):
    """Right-pad sequences into (B, T, V, 3) tensors with garbage and a (B, T) True-on-real mask."""
    t_max = max(s[0].shape[0] for s in seqs) + extra
    b = len(seqs)
    pred = np.empty((b, t_max, V, 3))
    gt = np.empty((b, t_max, V, 3))
    mask = np.zeros((b, t_max), dtype=bool)
    if garbage:
        pred[:] = rng.normal(scale=1e3, size=pred.shape)
        gt[:] = rng.normal(scale=1e3, size=gt.shape)
        pred.reshape(-1)[rng.integers(0, pred.size, 50)] = np.nan
        gt.reshape(-1)[rng.integers(0, gt.size, 50)] = np.inf
    else:
        pred[:] = 0.0
        gt[:] = 0.0
    for i, (p, g, _) in enumerate(seqs):
        pred[i, : p.shape[0]] = p
        gt[i, : g.shape[0]] = g
        mask[i, : p.shape[0]] = True
    tmpl = np.stack([s[2] for s in seqs])
    return torch.from_numpy(pred), torch.from_numpy(gt), torch.from_numpy(tmpl), torch.from_numpy(mask)


def _update(metric, pred, gt, tmpl, mask):
    if isinstance(metric, UpperFaceDynamicsDeviation):
        metric.update(pred, gt, tmpl, mask)
    else:
        metric.update(pred, gt, mask)


def _feed_in_batches(metric, seqs, rng):
    """Feed ``seqs`` as random-size batches with random garbage padding; sometimes unbatched."""
    i = 0
    while i < len(seqs):
        n = int(rng.integers(1, 4))
        chunk = seqs[i : i + n]
        i += n
        if len(chunk) == 1 and rng.random() < 0.5:  # one (T, V, 3) sequence, no mask
            p, g, tm = chunk[0]
            _update(metric, torch.from_numpy(p), torch.from_numpy(g), torch.from_numpy(tm), None)
        else:
            _update(metric, *_pad_batch(chunk, rng, extra=int(rng.integers(0, 5))))


# --------------------------------------------------------------------------- (a) and (b)


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_padded_batch_matches_numpy(case):
    factory, ref = CASES[case]
    seqs = _make_data(1)
    metric = factory()
    _update(metric, *_pad_batch(seqs, np.random.default_rng(2)))
    value = metric.compute()
    assert value.dtype == torch.float64
    np.testing.assert_allclose(value.item(), ref(seqs), rtol=RTOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_many_padded_batches_with_garbage_match_numpy(case):
    factory, ref = CASES[case]
    seqs = _make_data(3, n_seq=9)
    metric = factory()
    _feed_in_batches(metric, seqs, np.random.default_rng(4))
    np.testing.assert_allclose(metric.compute().item(), ref(seqs), rtol=RTOL)
    metric.reset()
    _update(metric, *_pad_batch(seqs[:2], np.random.default_rng(5), extra=2))
    np.testing.assert_allclose(metric.compute().item(), ref(seqs[:2]), rtol=RTOL)


def test_frame_pooling_differs_from_sequence_pooling():
    """LVE is frame-weighted (CodeTalker concatenates frames), not a mean of per-sequence means."""
    seqs = _make_data(7)
    per_seq = np.mean([np_frame_error([s], LIPS, "max", True) for s in seqs])
    pooled = np_frame_error(seqs, LIPS, "max", True)
    assert abs(per_seq - pooled) / pooled > 1e-3  # the data distinguishes the two
    metric = LipVertexError(LIPS, "lip-test")
    for p, g, _ in seqs:
        metric.update(torch.from_numpy(p), torch.from_numpy(g))
    np.testing.assert_allclose(metric.compute().item(), pooled, rtol=RTOL)


def test_lve_matches_torchmetrics_functional_when_available():
    tm_mm = pytest.importorskip("torchmetrics.functional.multimodal")
    if not hasattr(tm_mm, "lip_vertex_error"):
        pytest.skip("torchmetrics < 1.8 has no lip_vertex_error")
    seqs = _make_data(11)
    pred = torch.from_numpy(np.concatenate([s[0] for s in seqs]))
    gt = torch.from_numpy(np.concatenate([s[1] for s in seqs]))
    ours = LipVertexError(LIPS, "lip-test")
    ours.update(pred, gt)
    theirs = tm_mm.lip_vertex_error(pred, gt, LIPS)
    np.testing.assert_allclose(ours.compute().item(), theirs.item(), rtol=RTOL)


def test_fdd_hand_checked_tiny_example():
    """Two upper vertices, three frames, two sequences; std is the population std (ddof 0)."""
    tmpl = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5], [9.0, 9.0, 9.0]], dtype=torch.float64)
    gt = tmpl.repeat(3, 1, 1).clone()
    pred = tmpl.repeat(3, 1, 1).clone()
    gt[:, 0, 0] += torch.tensor([0.0, 1.0, 2.0])  # vertex 0 moves 0, 1, 2 along x in GT
    pred[:, 1, 2] += torch.tensor([0.0, 0.0, 3.0])  # vertex 1 moves 0, 0, 3 along z in pred
    pred[:, 2] += 100.0  # vertex 2 is outside the region
    # squared norms: gt v0 -> 0,1,4 (std sqrt(78/27)); pred v1 -> 0,0,9 (std sqrt(18))
    dyn_gt, dyn_pred = np.sqrt(78 / 27) / 2, np.sqrt(18) / 2
    seq1 = dyn_gt - dyn_pred  # = -1.271484...
    batch_p = torch.stack([pred, gt])  # second sequence: prediction equals GT -> 0
    batch_g = torch.stack([gt, gt])
    batch_t = torch.stack([tmpl, tmpl])

    fdd = UpperFaceDynamicsDeviation([0, 1], "upper-tiny")
    fdd.update(batch_p, batch_g, batch_t)
    assert fdd.compute().item() == pytest.approx(seq1 / 2, rel=1e-12)
    assert fdd.compute().item() == pytest.approx(-0.635742, abs=1e-6)

    abs_fdd = UpperFaceDynamicsDeviation([0, 1], "upper-tiny", absolute=True, scale=1e5)
    abs_fdd.update(batch_p, batch_g, tmpl)  # one (V, 3) template shared by the batch
    assert abs_fdd.compute().item() == pytest.approx(1e5 * abs(seq1) / 2, rel=1e-12)
    assert abs_fdd.log_name == "ABS-FDD@upper-tiny"

    # Euclidean norms: gt v0 -> 0,1,2 (std sqrt(2/3)); pred v1 -> 0,0,3 (std sqrt(2))
    l2 = UpperFaceDynamicsDeviation([0, 1], "upper-tiny", squared=False)
    l2.update(pred, gt, tmpl)
    assert l2.compute().item() == pytest.approx(np.sqrt(2 / 3) / 2 - np.sqrt(2) / 2, rel=1e-12)

    # A padded frame holding garbage is ignored; a sequence with no real frame is skipped.
    padded_p = torch.cat([batch_p, torch.full((2, 1, 3, 3), float("nan"), dtype=torch.float64)], dim=1)
    padded_g = torch.cat([batch_g, torch.full((2, 1, 3, 3), 1e9, dtype=torch.float64)], dim=1)
    mask = torch.tensor([[True, True, True, False], [True, True, True, False]])
    fdd.reset()
    fdd.update(padded_p, padded_g, batch_t, mask)
    fdd.update(padded_p[:1], padded_g[:1], batch_t[:1], torch.zeros(1, 4, dtype=torch.bool))
    assert fdd.compute().item() == pytest.approx(seq1 / 2, rel=1e-12)


def test_log_names_and_units():
    assert LipVertexError(LIPS, "lip-flame").log_name == "LVE@lip-flame"
    assert LipVertexError(LIPS, "lip-demo").log_name == "LVE@lip-demo"
    assert MeanVertexError().log_name == "MVE@all"
    assert HeadMeanError().log_name == "HeadMean@all"
    assert LipMaxError(LIPS, "lip-flame").log_name == "LipMax@lip-flame"
    assert LipMeanError(LIPS, "lip-flame").log_name == "LipMean@lip-flame"
    assert FaceMeanError(FACE, "face-flame").log_name == "FaceMean@face-flame"
    assert UpperFaceDynamicsDeviation(UPPER, "upper-biwi").log_name == "FDD@upper-biwi"
    assert RegionVertexError(LIPS, reduction="max", abbrev="X").log_name == "X@custom"
    assert LipMaxError(LIPS).scale == 1000.0 and not LipMaxError(LIPS).squared
    assert LipVertexError(LIPS).squared and LipVertexError(LIPS).scale == 1.0


def test_region_from_file_names_the_set(tmp_path):
    f = tmp_path / "lve.txt"
    f.write_text("# test lips; provenance: this test\n" + ", ".join(map(str, LIPS)) + "\n")
    metric = LipVertexError(f, num_vertices=V)
    assert metric.log_name == "LVE@lve"
    assert metric.region_index.tolist() == LIPS
    masks = tmp_path / "FLAME_masks.pkl"
    masks.write_bytes(pickle.dumps({"lips": np.array(LIPS), "face": np.array(FACE)}, protocol=2))
    assert LipMaxError(f"{masks}#lips").log_name == "LipMax@FLAME_masks-lips"
    assert LipMaxError(f"{masks}#lips", "lip-flame").log_name == "LipMax@lip-flame"


def test_metric_errors():
    with pytest.raises(ValueError, match="region is required"):
        LipVertexError(None)
    with pytest.raises(ValueError, match="region is required"):
        UpperFaceDynamicsDeviation(None)
    with pytest.raises(ValueError, match="reduction"):
        RegionVertexError(LIPS, reduction="median")
    with pytest.raises(DataError, match="< 10"):
        LipVertexError(LIPS, num_vertices=10)
    m = LipVertexError(LIPS)
    with pytest.raises(ValueError, match="same shape"):
        m.update(torch.zeros(2, 5, V, 3), torch.zeros(2, 4, V, 3))
    with pytest.raises(ValueError, match="out of range"):
        m.update(torch.zeros(5, 20, 3), torch.zeros(5, 20, 3))
    with pytest.raises(ValueError, match="mask"):
        m.update(torch.zeros(2, 5, V, 3), torch.zeros(2, 5, V, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="template"):
        UpperFaceDynamicsDeviation(UPPER).update(torch.zeros(2, 5, V, 3), torch.zeros(2, 5, V, 3), torch.zeros(3, V, 3))
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert torch.isnan(LipVertexError(LIPS).compute())


# --------------------------------------------------------------------------- (c) DDP


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        seqs = _make_data(21, n_seq=9)
        mine = seqs[:5] if rank == 0 else seqs[5:]  # uneven halves, different numbers of updates
        results = {}
        for case in sorted(CASES):
            metric = CASES[case][0]()
            _feed_in_batches(metric, mine, np.random.default_rng(100 + rank))
            results[case] = metric.compute().item()
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    import torch.multiprocessing as mp

    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_ddp_two_processes_match_numpy_on_all_data(case, ddp_results):
    expected = CASES[case][1](_make_data(21, n_seq=9))
    for rank_results in ddp_results:
        np.testing.assert_allclose(rank_results[case], expected, rtol=RTOL)


# --------------------------------------------------------------------------- regions


def test_load_text_indices(tmp_path):
    f = tmp_path / "lips.txt"
    f.write_text("# lips of a test mesh; provenance: written by this test\n3\n7  # trailing comment\n\n8, 15,21\n")
    idx = load_vertex_indices(f, num_vertices=V)
    assert idx.dtype == torch.int64 and idx.tolist() == [3, 7, 8, 15, 21]
    codetalker_style = tmp_path / "lve.txt"
    codetalker_style.write_text("2, 5, 9")
    assert load_vertex_indices(str(codetalker_style)).tolist() == [2, 5, 9]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1\n2\nx3\n", "expected integer"),
        ("1\n-2\n", "non-negative"),
        ("1\n2\n2\n", "unique"),
        ("1\n40\n", "< 40"),
        ("1\n2.5\n", "expected integer"),
        ("# only a comment\n", "at least one"),
    ],
)
def test_bad_text_indices_refused(tmp_path, content, match):
    f = tmp_path / "bad.txt"
    f.write_text(content)
    with pytest.raises(DataError, match=match) as info:
        load_vertex_indices(f, num_vertices=V)
    assert "bad.txt" in str(info.value)


def test_load_npy_indices(tmp_path):
    f = tmp_path / "mouth.npy"
    np.save(f, np.array(LIPS, dtype=np.int32))
    assert load_vertex_indices(f, num_vertices=V).tolist() == LIPS
    m = np.zeros(V, dtype=bool)
    m[LIPS] = True
    np.save(tmp_path / "mask.npy", m)
    assert load_vertex_indices(tmp_path / "mask.npy", num_vertices=V).tolist() == LIPS
    np.save(tmp_path / "float.npy", np.array(LIPS, dtype=np.float64))
    with pytest.raises(DataError, match="integer"):
        load_vertex_indices(tmp_path / "float.npy")
    np.save(tmp_path / "big.npy", np.array([1, 2, 5023]))
    with pytest.raises(DataError, match="big.npy.*< 5023"):
        load_vertex_indices(tmp_path / "big.npy", num_vertices=5023)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy"):
        load_vertex_indices(tmp_path / "obj.npy")


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_load_pickled_masks(tmp_path, protocol):
    f = tmp_path / "FLAME_masks.pkl"
    lips = np.array(LIPS + [LIPS[0], LIPS[1]], dtype=np.int64)  # FLAME's lips hold duplicates too
    f.write_bytes(
        pickle.dumps({"lips": lips, "forehead": np.array([0, 1, 2]), "eye_region": [2, 10, 11], "name": "x"}, protocol)
    )
    assert load_vertex_indices(f, key="lips", num_vertices=V).tolist() == sorted(LIPS)
    assert load_vertex_indices(f"{f}#forehead+eye_region").tolist() == [0, 1, 2, 10, 11]
    assert load_vertex_indices(f, key=["forehead", "eye_region"]).tolist() == [0, 1, 2, 10, 11]
    with pytest.raises(DataError, match="several index sets"):
        load_vertex_indices(f)
    with pytest.raises(DataError, match="no index set 'teeth'"):
        load_vertex_indices(f, key="teeth")
    with pytest.raises(DataError, match=r"< 20"):
        load_vertex_indices(f, key="lips", num_vertices=20)
    loaded = safe_load_pickle(f)
    assert set(loaded) == {"lips", "forehead", "eye_region", "name"}
    assert loaded["lips"].dtype == np.int64


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_refused_without_executing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    f = tmp_path / "FLAME_masks.pkl"
    f.write_bytes(pickle.dumps({"lips": _Evil(str(marker))}, protocol=protocol))
    with pytest.raises(DataError, match=r"FLAME_masks\.pkl.*forbidden global (posix|os|nt)\.system"):
        safe_load_pickle(f)
    with pytest.raises(DataError, match="forbidden global"):
        load_vertex_indices(f, key="lips")
    assert not marker.exists()


def test_pickle_of_other_classes_refused(tmp_path):
    from collections import OrderedDict

    f = tmp_path / "od.pkl"
    f.write_bytes(pickle.dumps(OrderedDict(a=np.arange(3)), protocol=2))
    with pytest.raises(DataError, match="od.pkl.*collections.OrderedDict"):
        safe_load_pickle(f)
    g = tmp_path / "broken.pkl"
    g.write_bytes(b"\x80\x02}q\x00")  # truncated
    with pytest.raises(DataError, match="broken.pkl"):
        safe_load_pickle(g)
    with pytest.raises(DataError, match="not found"):
        load_vertex_indices(tmp_path / "missing.txt")


def test_pickled_template_dict_round_trips(tmp_path):
    """The unpickler also serves templates.pkl: {subject: (V, 3) float array}."""
    f = tmp_path / "templates.pkl"
    data = {"FaceTalk_A": np.random.default_rng(0).normal(size=(V, 3)).astype(np.float32)}
    f.write_bytes(pickle.dumps(data, protocol=2))
    out = safe_load_pickle(f)
    np.testing.assert_array_equal(out["FaceTalk_A"], data["FaceTalk_A"])


# ---------------------------------------------------------------------- the family's builder
def _region_files(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name, idx in (("lip", LIPS), ("face", FACE), ("upper", UPPER)):
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(map(str, idx)))
        files[name] = str(path)
    return files


def test_region_log_name():
    from talkzoo.data.spec import MeshDataSpec
    from talkzoo.metrics.mesh import region_log_name

    assert region_log_name(MeshDataSpec(dataset="demo", num_vertices=4), "a/lip.txt") == "lip-demo"
    assert region_log_name(MeshDataSpec(dataset="biwi", num_vertices=4), "a/upper-biwi.txt") == "upper-biwi"
    assert region_log_name(MeshDataSpec(dataset="", num_vertices=4), "lip.txt") == "lip"


def test_build_mesh_metrics_names_sets_and_skips_missing_regions(tmp_path):
    from talkzoo.data.spec import MeshDataSpec
    from talkzoo.errors import ConfigError
    from talkzoo.metrics.mesh import ALL_MESH_METRICS, build_mesh_metrics

    files = _region_files(tmp_path)
    spec = MeshDataSpec(dataset="demo", num_vertices=V, lip_region=files["lip"], face_region=files["face"],
                        upper_face_region=files["upper"])  # fmt: skip
    family = build_mesh_metrics(spec)
    assert set(family.keys(keep_base=True)) == {"MVE@all", "LVE@lip-demo", "FDD@upper-demo"}
    every = build_mesh_metrics(spec, ALL_MESH_METRICS)
    assert set(every.keys(keep_base=True)) == {
        "MVE@all", "LVE@lip-demo", "FDD@upper-demo", "LipMax@lip-demo", "LipMean@lip-demo", "FaceMean@face-demo", "HeadMean@all",
    }  # fmt: skip
    assert isinstance(every["LipMax@lip-demo"], LipMaxError) and every["LVE@lip-demo"].region_index.tolist() == LIPS
    bare = build_mesh_metrics(MeshDataSpec(dataset="demo", num_vertices=V), ALL_MESH_METRICS)
    assert set(bare.keys(keep_base=True)) == {"MVE@all", "HeadMean@all"}
    with pytest.raises(ConfigError, match="unknown mesh metric 'LVX'"):
        build_mesh_metrics(spec, ["LVX"])


def test_update_mesh_metrics_feeds_the_template_to_fdd(tmp_path):
    from talkzoo.data.batch import MeshBatch
    from talkzoo.data.spec import MeshDataSpec
    from talkzoo.metrics.mesh import ALL_MESH_METRICS, build_mesh_metrics, update_mesh_metrics

    files = _region_files(tmp_path)
    spec = MeshDataSpec(dataset="demo", num_vertices=V, lip_region=files["lip"], face_region=files["face"],
                        upper_face_region=files["upper"])  # fmt: skip
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 5, V, 3, generator=g)
    pred = gt + 0.1 * torch.randn(2, 5, V, 3, generator=g)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    batch = MeshBatch(audio=torch.zeros(2, 10), audio_mask=torch.ones(2, 10, dtype=torch.bool), vertices=gt, frame_mask=mask,
                      template=gt[:, 0], speaker=torch.zeros(2, dtype=torch.long), names=["a", "b"], subjects=["a", "b"])  # fmt: skip
    metrics = build_mesh_metrics(spec, ALL_MESH_METRICS)
    update_mesh_metrics(metrics, pred, batch)
    values = metrics.compute()
    fdd = UpperFaceDynamicsDeviation(region=files["upper"])
    fdd.update(pred, gt, gt[:, 0], mask=mask)
    assert float(values["FDD@upper-demo"]) == float(fdd.compute())
    mve = MeanVertexError()
    mve.update(pred, gt, mask=mask)
    assert float(values["MVE@all"]) == float(mve.compute())
