"""Procedural facades (kerasi2i.data.facades), their sample tasks, and the FCN-score."""
import hashlib

import numpy as np
import pytest

from kerasi2i.data import facades, samples
from kerasi2i.data.facade_classes import (
    FACADE_CLASSES,
    FACADE_PALETTE,
    class_index,
    nearest_class,
    paint_labels,
)


def test_palette_has_one_distinct_colour_per_cmp_class():
    assert len(FACADE_CLASSES) == 12 == len(FACADE_PALETTE)
    assert len({tuple(c) for c in FACADE_PALETTE}) == 12
    assert class_index("window") == 2
    with pytest.raises(ValueError, match="Unknown facade class 'roof'.*window"):
        class_index("roof")


def test_generation_and_rendering_are_deterministic():
    a, b = facades.generate_facade(11), facades.generate_facade(11)
    assert a.rects == b.rects
    np.testing.assert_array_equal(facades.render_photo(a, 64), facades.render_photo(b, 64))
    np.testing.assert_array_equal(facades.render_photo(a, 64, night=True), facades.render_photo(b, 64, night=True))
    assert a.rects != facades.generate_facade(12).rects


@pytest.mark.parametrize("seed", range(6))
def test_labels_decode_to_the_class_map_and_agree_with_the_render(seed):
    building = facades.generate_facade(seed)
    size = 64
    class_map = facades.facade_class_map(building, size)
    labels = facades.render_labels(building, size)
    np.testing.assert_array_equal(nearest_class(labels), class_map)
    np.testing.assert_array_equal(paint_labels(class_map), labels)
    # The photo is shaded from the same boxes, rasterised at the label map's resolution:
    # every one of its pixels shows the class of the label pixel it lies in.
    rendered = []
    original = facades._shade_element

    def spy(el, box, n, *args):
        rendered.append((el["cls"], box, n))
        return original(el, box, n, *args)

    facades._shade_element = spy
    try:
        facades.render_photo(building, size)
    finally:
        facades._shade_element = original
    fine = np.zeros((2 * size, 2 * size), np.int64)
    for cls, (r0, r1, c0, c1), n in rendered:
        assert n == 2 * size
        fine[r0:r1, c0:c1] = cls
    np.testing.assert_array_equal(fine[::2, ::2], class_map)
    np.testing.assert_array_equal(fine[1::2, 1::2], class_map)
    assert (class_map == class_index("window")).any()


def test_grammar_produces_the_cmp_classes():
    seen = set()
    for seed in range(40):
        seen |= set(np.unique(facades.facade_class_map(facades.generate_facade(seed), 64)).tolist())
    assert seen == set(range(12)), f"classes never generated: {set(range(12)) - seen}"


def test_photo_differs_from_night_and_labels():
    building = facades.generate_facade(3)
    day, night = facades.render_photo(building, 64), facades.render_photo(building, 64, night=True)
    assert day.shape == night.shape == (64, 64, 3) and day.dtype == np.uint8
    assert night.mean() < 0.6 * day.mean()          # night is darker ...
    assert night.max() > 200                        # ... but some windows are lit



def test_night_lights_every_window_without_a_roller_blind():
    """The day -> night rule is visible by day: a window is lit at night unless its roller
    blind is down, so a translator can learn which windows to light (none are random)."""
    lit_glass, dark_glass = [], []
    for seed in range(30):
        building = facades.generate_facade(seed)
        _, element_map, _ = facades._raster(building, 128)
        night = facades.render_photo(building, 128, night=True, jpeg_quality=0).astype(float).mean(-1)
        blinded = {i - 1 for i, el in enumerate(building.elements) if el["kind"] == "roller"}
        for i, el in enumerate(building.elements):
            glass = element_map == i
            if el["kind"] != "window" or glass.sum() < 12:
                continue
            assert el["lit"] == (i not in blinded), (seed, i)
            (lit_glass if el["lit"] else dark_glass).append(night[glass].mean())
    assert len(lit_glass) > 100 and len(dark_glass) > 10
    # every lit window is brighter than every dark one, by a wide gap
    assert min(lit_glass) > max(dark_glass) + 40, (min(lit_glass), max(dark_glass))


def _digest(folder):
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*.jpg")):
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def tiny_counts(monkeypatch):
    counts = {64: {"train": 6, "val": 2, "test": 3}}
    monkeypatch.setattr(samples, "FACADE_COUNTS", counts)
    return counts


@pytest.mark.parametrize("task", samples.FACADE_TASKS)
def test_facade_tasks_rebuild_byte_identical_in_the_real_layouts(tmp_path, tiny_counts, task):
    from kerasi2i import data as kdata

    samples.build_samples(tasks=[task], sizes=[64], root=tmp_path / "one")
    samples.build_samples(tasks=[task], sizes=[64], root=tmp_path / "two")
    one, two = tmp_path / "one" / "64" / task, tmp_path / "two" / "64" / task
    assert _digest(one) == _digest(two)
    if task == "facades":
        x, y = next(iter(kdata.load_paired(one, "test", direction="BtoA", image_size=64, batch_size=3)))
        # BtoA: input = labels (palette colours), target = photo
        ids = nearest_class(np.round((np.asarray(x) + 1) * 127.5).astype(np.uint8))
        assert set(np.unique(ids)) >= {class_index("facade"), class_index("window")}
        assert len(list((one / "train").glob("*.jpg"))) == 6
    else:
        assert {p.name for p in one.iterdir() if p.is_dir()} == {"trainA", "trainB", "testA", "testB", "test_pairs"}
        assert len(list((one / "trainA").glob("*.jpg"))) == 3  # half the paired train count per domain


def test_splits_draw_disjoint_buildings():
    size = 64
    ranges = [set(samples.facade_seeds(split, size)) for split in ("train", "val", "test", "trainA", "trainB",
                                                                    "unpaired_test")]
    for i in range(len(ranges)):
        for j in range(i + 1, len(ranges)):
            assert not ranges[i] & ranges[j]


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ValueError, match="facades"):
        samples.sample_path("facade", 64)


def test_evaluation_splits_keep_their_order_on_every_pass():
    """Without a seed, two passes over a test split give the same images in the same order
    (a second pass used to come out in a different order under load)."""
    from kerasi2i import data as kdata

    test = kdata.load_paired(kdata.sample_path("facades", 64), "test", direction="BtoA", image_size=64,
                             batch_size=20)
    first = np.concatenate([np.asarray(y) for _, y in test])
    second = np.concatenate([np.asarray(y) for _, y in test])
    np.testing.assert_array_equal(first, second)
