"""Mesh checks, the QEM hierarchy (exact sizes, sampling matrices, round-trip error) and its disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from ottalk_testutils import FACE_ASSET, icosphere, strip_faces
from talkzoo.errors import DataError
from talkzoo_ottalk import mesh_sampling as ms


# ------------------------------------------------------------------ validation
def test_valid_meshes_pass() -> None:
    v, f = icosphere(1)
    out_v, out_f = ms.validate_template(v, f, num_vertices=v.shape[0])
    assert out_f.dtype == np.int64 and out_v.shape == v.shape
    ms.validate_faces(strip_faces(10), 10)  # an open band (non-oriented strips are fine)


@pytest.mark.parametrize(
    "faces, match",
    [
        (np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4], [2, 3, 4]]), r"edge \[0, 1\] is shared by 3 triangles"),
        (np.array([[0, 1, 2], [0, 3, 4]]), r"around vertex 0 form 2 separate fans"),
        (np.array([[0, 1, 2], [2, 3, 7]]), r"out of range for a mesh of 5 vertices"),
        (np.array([[0, 1, 2], [1, 2, 3]]), r"1 of 5 vertices belong to no triangle"),
        (np.array([[0, 1, 2], [2, 1, 0], [2, 3, 4]]), r"appears more than once"),
        (np.array([[0, 1, 1], [2, 3, 4]]), r"repeats a vertex"),
        (np.zeros((0, 3), dtype=int), r"F >= 1"),
        (np.array([[0.5, 1, 2]]), r"must be integers"),
    ],
)
def test_non_manifold_or_bad_faces_raise_data_error(faces: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        ms.validate_faces(faces, 5, source="bad.npy")


def test_template_vertex_count_and_values_checked() -> None:
    v, f = icosphere(1)
    with pytest.raises(DataError, match=r"has 42 vertices but the data has 50"):
        ms.validate_template(v, f, num_vertices=50)
    bad = v.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ms.validate_template(bad, f)
    with pytest.raises(DataError, match=r"expected \(V, 3\)"):
        ms.validate_template(v[:, :2], f)


# ------------------------------------------------------------------ hierarchy
def test_level_sizes_follow_quarter_pooling() -> None:
    assert ms.level_sizes(5023, (4, 4, 4)) == [5023, 1256, 314, 79]  # the CoMA / VOCASET series
    assert ms.level_sizes(7, (4, 4, 4)) == [7, 2, 1, 1]


@pytest.mark.parametrize("mode", ["pick", "average"])
def test_hierarchy_sizes_and_matrices(mode: str) -> None:
    v, f = icosphere(2)
    h = ms.build_mesh_hierarchy(v, f, (4, 4, 4), down_mode=mode)
    assert h.sizes == ms.level_sizes(v.shape[0], (4, 4, 4)) == [162, 41, 11, 3]
    assert h.fallback_merges == [0, 0, 0]  # QEM alone reaches every size on a sphere
    for l in range(3):
        ones_fine = np.ones((h.sizes[l], 1))
        np.testing.assert_allclose(h.downsample(ones_fine, l), 1.0)  # rows of D sum to 1
        np.testing.assert_allclose(h.upsample(np.ones((h.sizes[l + 1], 1)), l), 1.0)  # rows of U sum to 1
        assert np.all(h.up[l][2] >= 0) and np.all(h.down[l][2] > 0)
        assert h.edges[l + 1].max() < h.sizes[l + 1]
    if mode == "pick":  # CoMA selection matrix: one original vertex per coarse vertex
        rows, cols, vals = h.down[0]
        assert np.array_equal(rows, np.arange(h.sizes[1])) and np.all(vals == 1)
        np.testing.assert_allclose(h.vertices[1], v[cols])


def test_kept_vertices_round_trip_exactly() -> None:
    v, f = icosphere(2)
    h = ms.build_mesh_hierarchy(v, f)
    kept = h.down[0][1]
    back = h.upsample(h.downsample(v, 0), 0)
    np.testing.assert_allclose(back[kept], v[kept], atol=1e-12)


def test_round_trip_error_bounds_on_icosphere_and_face_template() -> None:
    """Down- then up-sampling keeps the shape (values measured when written; see README)."""
    v, f = icosphere(3, radius=0.1)  # 642 vertices
    r = ms.round_trip_error(ms.build_mesh_hierarchy(v, f))
    assert r["rel_mean_1"] < 0.01 and r["rel_mean_2"] < 0.035 and r["rel_mean_3"] < 0.12
    if (FACE_ASSET / "template.npy").is_file():
        t, tf = np.load(FACE_ASSET / "template.npy"), np.load(FACE_ASSET / "faces.npy")
        r = ms.round_trip_error(ms.build_mesh_hierarchy(t, tf))
        assert r["rel_mean_1"] < 0.01 and r["rel_mean_2"] < 0.04 and r["rel_mean_3"] < 0.1
        assert r["mean_1"] < 0.002  # metres: under 2 mm on a 15 cm face after one pooling


def test_tiny_strip_uses_fallback_and_keeps_exact_sizes() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(16, 3)) * 0.05
    h = ms.build_mesh_hierarchy(v, strip_faces(16))
    assert h.sizes == [16, 4, 1, 1]
    assert sum(h.fallback_merges) > 0
    for l in range(3):
        np.testing.assert_allclose(h.upsample(np.ones((h.sizes[l + 1], 1)), l), 1.0)


def test_bad_template_raises_data_error_in_builder() -> None:
    v, _ = icosphere(1)
    with pytest.raises(DataError, match="not a manifold"):
        ms.build_mesh_hierarchy(v[:5], np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4], [2, 3, 4]]))


# ------------------------------------------------------------------ cache
def test_cache_reuses_files_atomically_and_rebuilds_corrupt_ones(tmp_path, monkeypatch) -> None:
    v, f = icosphere(1)
    first = ms.load_or_build_hierarchy(v, f, cache_dir=tmp_path)
    files = sorted(tmp_path.iterdir())
    assert [p.suffix for p in files] == [".npz"], files  # no temporary file left behind
    assert files[0].stem == ms.hierarchy_cache_key(v, f, (4, 4, 4), "pick")

    def boom(*args, **kwargs):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(ms, "build_mesh_hierarchy", boom)
    second = ms.load_or_build_hierarchy(v, f, cache_dir=tmp_path)
    for a, b in zip(first.up, second.up):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    monkeypatch.undo()

    files[0].write_bytes(b"not an npz")
    third = ms.load_or_build_hierarchy(v, f, cache_dir=tmp_path)
    assert third.sizes == first.sizes
    with np.load(files[0]) as data:  # replaced by a valid file
        assert "sizes" in data.files


def test_cache_key_depends_on_geometry_topology_and_options() -> None:
    v, f = icosphere(1)
    key = ms.hierarchy_cache_key(v, f, (4, 4, 4), "pick")
    assert key != ms.hierarchy_cache_key(v * 1.01, f, (4, 4, 4), "pick")
    assert key != ms.hierarchy_cache_key(v, f[:, ::-1], (4, 4, 4), "pick")
    assert key != ms.hierarchy_cache_key(v, f, (4, 4), "pick")
    assert key != ms.hierarchy_cache_key(v, f, (4, 4, 4), "average")
    assert key == ms.hierarchy_cache_key(v.astype(np.float64), f.astype(np.int32), [4, 4, 4], "pick")


def test_hierarchy_arrays_round_trip() -> None:
    v, f = icosphere(1)
    h = ms.build_mesh_hierarchy(v, f)
    back = ms.MeshHierarchy.from_arrays(h.to_arrays())
    assert back.sizes == h.sizes and back.fallback_merges == h.fallback_merges
    np.testing.assert_array_equal(back.faces[1], h.faces[1])
