"""The prepared store: exact round trip, atomic writes, clear errors on damaged stores."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fernb.data import store as store_mod
from fernb.data.store import load_store, read_meta, write_store

from conftest import make_data


def _full(tiny):
    n = len(tiny)
    rng = np.random.default_rng(1)
    tiny.pose = rng.uniform(-90, 90, n).astype(np.float32)
    tiny.landmarks = rng.uniform(0, 16, (n, 68, 2)).astype(np.float32)
    tiny.votes = rng.integers(0, 5, (n, 10)).astype(np.int16)
    tiny.extras = {"subject": np.arange(n, dtype=np.int64), "au_intensity": rng.random((n, 15), dtype=np.float32)}
    tiny.meta = {"source": "/x/archive.zip", "sha256": "ab" * 32, "skipped": [{"file": "a.jpg", "reason": "bad"}]}
    return tiny


def test_round_trip_is_exact(tiny, tmp_path):
    data = _full(tiny)
    out = write_store(data, tmp_path / "prepared" / "tiny")
    back = load_store(out)
    for key in ("images", "labels", "split", "source_ids", "pose", "landmarks", "votes"):
        original, loaded = getattr(data, key), getattr(back, key)
        assert loaded.dtype == original.dtype, key
        np.testing.assert_array_equal(loaded, original, err_msg=key)
    assert back.extras.keys() == data.extras.keys()
    for key in data.extras:
        np.testing.assert_array_equal(back.extras[key], data.extras[key])
    assert back.classes == data.classes and back.name == data.name
    assert back.meta == data.meta


def test_meta_counts_match_labels(tiny, tmp_path):
    meta = read_meta(write_store(tiny, tmp_path / "s"))
    for split in ("train", "val", "test"):
        expected = np.bincount(tiny.labels[tiny.split == split], minlength=7)
        assert [meta["counts"][split][c] for c in tiny.classes] == expected.tolist()
        assert meta["split_sizes"][split] == int((tiny.split == split).sum())
    assert meta["image_shape"] == [16, 16]
    assert meta["source"] == tiny.meta


def test_rgb_and_absent_optionals(tmp_path):
    rng = np.random.default_rng(0)
    data = make_data()
    data.images = rng.integers(0, 256, (len(data), 8, 8, 3), dtype=np.uint8)
    back = load_store(write_store(data, tmp_path / "rgb"))
    assert back.images.shape == data.images.shape
    assert back.landmarks is None and back.votes is None
    assert np.isnan(back.pose).all()


def test_mmap_images(tiny, tmp_path):
    back = load_store(write_store(tiny, tmp_path / "s"), mmap=True)
    assert isinstance(back.images, np.memmap)
    np.testing.assert_array_equal(back.images, tiny.images)


def test_interrupted_write_leaves_old_store_and_no_debris(tiny, tmp_path, monkeypatch):
    target = tmp_path / "s"
    write_store(tiny, target)
    before = read_meta(target)["images_sha256"]

    calls = {"n": 0}
    real_save = np.save

    def failing_save(path, arr, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated interruption")
        return real_save(path, arr, **kw)

    monkeypatch.setattr(store_mod.np, "save", failing_save)
    changed = make_data(seed=5)
    with pytest.raises(KeyboardInterrupt):
        write_store(changed, target)
    assert read_meta(target)["images_sha256"] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"], "temporary folders left behind"


def test_new_store_appears_only_when_complete(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod.np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write_store(tiny, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json"):
        load_store(tmp_path)


def test_damaged_store_names_missing_file(tiny, tmp_path):
    out = write_store(tiny, tmp_path / "s")
    (out / "labels.npy").unlink()
    with pytest.raises(FileNotFoundError, match="labels.npy"):
        load_store(out)


def test_other_format_version(tiny, tmp_path):
    out = write_store(tiny, tmp_path / "s")
    meta = json.loads((out / "meta.json").read_text())
    meta["format_version"] = 99
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format 99"):
        load_store(out)


def test_invalid_data_is_refused(tiny):
    tiny.labels[0] = 9
    with pytest.raises(ValueError, match="label 9 outside"):
        tiny.validate()
