"""Tests for kerasi2i.data.samples: the deterministic sample datasets cut from real photos.

Everything is built into pytest's tmp folders (never the repository cache) with tiny crop
counts (monkeypatched, as tests/test_facades.py patches FACADE_COUNTS), at 64 px except
one light check at 256 px.
"""
import json

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import samples
from kerasi2i.data.samples import (
    DAY2NIGHT_DOMAINS,
    GUARD,
    HELD_OUT_SIDE,
    LABEL_CLASSES,
    PAIRED_TASKS,
    PALETTE,
    PHOTO_REGIONS,
    PHOTO_SPLIT,
    SAMPLE_SIZES,
    SAMPLE_TASKS,
    SOURCE_PHOTOS,
    UNPAIRED_TASKS,
    add_noise,
    build_samples,
    cut_holes,
    degrade_x4,
    edge_map,
    hole_mask,
    label_ids,
    label_map,
    labels_from_colors,
    load_source_photo,
    photos_at,
    region_boxes,
    render_night,
    sample_path,
    to_grey,
    window_sides,
)

SIZE = 64
# Tiny crop counts per photo, so the builds in this module take a second or two.
TINY_PER_PHOTO = {"train": {64: 6, 128: 4, 256: 2}, "val": {64: 3, 128: 2, 256: 2}, "test": {64: 4, 128: 2, 256: 2}}


def _expected(size, per_photo=TINY_PER_PHOTO):
    return {split: per_photo[split][size] * len(photos_at(size, split)) for split in ("train", "val", "test")}


EXPECTED_64 = _expected(64)                               # 48 / 12 / 24
EXPECTED_DAY2NIGHT_64 = {
    "trainA": EXPECTED_64["train"] // 2, "trainB": EXPECTED_64["train"] // 2,
    "testA": EXPECTED_64["test"], "testB": EXPECTED_64["test"], "test_pairs": EXPECTED_64["test"],
}

# The tasks cut from real photos; the procedural facades have their own tests
# (tests/test_facades.py).
PHOTO_TASKS = tuple(t for t in SAMPLE_TASKS if t not in samples.FACADE_TASKS)
PHOTO_PAIRED_TASKS = tuple(t for t in PAIRED_TASKS if t not in samples.FACADE_TASKS)


@pytest.fixture
def tiny_counts(monkeypatch):
    monkeypatch.setattr(samples, "_CROPS_PER_PHOTO", TINY_PER_PHOTO)


def _build_tiny(root, tasks=PHOTO_TASKS, sizes=(SIZE,)):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(samples, "_CROPS_PER_PHOTO", TINY_PER_PHOTO)
        return build_samples(tasks=tasks, sizes=sizes, root=root)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """All real-photo tasks at 64 px with tiny counts, built once for the module."""
    return _build_tiny(tmp_path_factory.mktemp("samples"))


def _read(path):
    with Image.open(path) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB"))


def _split_ab(pair):
    width = pair.shape[1] // 2
    return pair[:, :width], pair[:, width:]


def _manifest(folder):
    return json.loads((folder / "_MANIFEST.json").read_text())


def _files(folder):
    return sorted(folder.iterdir(), key=lambda p: int(p.stem))


# --- constants ------------------------------------------------------------------------

def test_task_and_size_constants():
    assert SAMPLE_TASKS == PAIRED_TASKS + UNPAIRED_TASKS
    assert samples.FACADE_TASKS == ("facades", "facades_day2night")
    assert PAIRED_TASKS == ("facades", "colorization", "denoise", "edges2photo", "inpaint", "labels2photo",
                            "superres")
    assert UNPAIRED_TASKS == ("facades_day2night", "day2night")
    assert SAMPLE_SIZES == (64, 128, 256)


def _overlap(a, b):
    """Whether boxes (top, left, bottom, right) share a pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _grown(box, margin):
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def test_overlap_helper_detects_touching_and_guard_band():
    region = (100, 100, 388, 388)
    assert _overlap((0, 0, 101, 101), region)           # one shared pixel
    assert not _overlap((0, 0, 100, 100), region)       # touching corner, no shared pixel
    assert _overlap((0, 0, 90, 90), _grown(region, GUARD))  # inside the guard band
    assert not _overlap((0, 0, 84, 84), _grown(region, GUARD))


def test_region_layout_fits_the_largest_size_and_keeps_splits_apart():
    assert set(PHOTO_REGIONS) == set(SOURCE_PHOTOS)
    assert HELD_OUT_SIDE >= max(SAMPLE_SIZES) and GUARD > 0
    held_out = {"val": set(), "test": set()}
    for name, regions in PHOTO_REGIONS.items():
        height, width = SOURCE_PHOTOS[name]["shape"][:2]
        boxes = region_boxes(name)
        assert 1 <= len(boxes) <= 2
        for split, top, left, bottom, right in boxes:
            held_out[split].add(name)
            assert 0 <= top and bottom <= height and 0 <= left and right <= width, name
            assert bottom - top >= max(SAMPLE_SIZES) and right - left >= max(SAMPLE_SIZES)
        for i, first in enumerate(boxes):
            for second in boxes[i + 1:]:  # regions of different splits: a guard band apart
                assert first[0] != second[0] and not _overlap(first[1:], _grown(second[1:], GUARD)), name
        # the train area holds the 64 px windows: every photo trains
        assert window_sides(name, 64) and name in photos_at(64, "train")
    assert held_out["val"] and held_out["test"]
    assert PHOTO_SPLIT["train"] == tuple(SOURCE_PHOTOS)
    assert set(PHOTO_SPLIT["val"]) == held_out["val"] and set(PHOTO_SPLIT["test"]) == held_out["test"]
    # the big photos hold out both splits; at 256 px both splits still have photos
    assert {"hubble_deep_field", "retina"} <= held_out["val"] & held_out["test"]
    assert photos_at(256, "val") and photos_at(256, "test")
    with pytest.raises(TypeError):
        PHOTO_REGIONS["coffee"] = ()  # a read-only constant


def test_every_source_photo_has_a_free_licence_and_an_origin():
    # Only public-domain / CC0 photos: one whose docstring states no licence is left out.
    free = ("public domain", "cc0", "no known copyright restrictions", "no copyright restrictions")
    assert len(SOURCE_PHOTOS) == 8
    for name, info in SOURCE_PHOTOS.items():
        assert info["name"] == name and info["loader"] and len(info["origin"]) > 20, name
        assert any(word in info["licence"].lower() for word in free), name
        assert info["split"].split("+")[0] == "train" and info["regions"] == PHOTO_REGIONS[name]
    for left_out in ("stereo_motorcycle", "cat", "colorwheel", "logo", "lily"):
        assert left_out not in SOURCE_PHOTOS


def test_day2night_domains_cover_every_photo():
    assert DAY2NIGHT_DOMAINS["A"] == DAY2NIGHT_DOMAINS["B"] == PHOTO_SPLIT["train"]


def test_palette_matches_classes_and_is_well_separated():
    assert PALETTE.dtype == np.uint8 and PALETTE.shape == (len(LABEL_CLASSES), 3)
    assert 8 <= len(LABEL_CLASSES) <= 12
    colours = PALETTE.astype(float)
    distances = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 100  # far enough apart to survive JPEG


# --- photos and transforms ------------------------------------------------------------

def test_load_source_photo_shapes():
    for name, info in SOURCE_PHOTOS.items():
        photo = load_source_photo(name)
        assert photo.dtype == np.uint8 and photo.shape == info["shape"], name
    photo = load_source_photo("coffee")
    photo[:] = 0  # a copy: the cached photo is untouched
    assert load_source_photo("coffee").max() > 0
    with pytest.raises(ValueError, match="lily"):
        load_source_photo("lily")


def test_transforms_shapes_and_meaning():
    photo = load_source_photo("coffee")[::4, ::4]  # the whole cup, (100, 150, 3)
    for transform in (to_grey, edge_map, label_map, degrade_x4, render_night):
        out = transform(photo)
        assert out.dtype == np.uint8 and out.shape == photo.shape, transform.__name__
        assert np.abs(out.astype(int) - photo).mean() > 5, transform.__name__  # not the identity
    grey = to_grey(photo)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert set(np.unique(edge_map(photo))) <= {0, 255}
    night = render_night(photo).astype(float)
    assert night.mean() < 0.6 * photo.mean()
    assert night[..., 2].mean() > night[..., 0].mean()  # blue tint
    with pytest.raises(ValueError, match="uint8"):
        to_grey(photo.astype(np.float32))


def test_labels_from_colors_inverts_label_map():
    photo = load_source_photo("astronaut")[::4, ::4]
    ids = label_ids(photo)
    assert ids.shape == photo.shape[:2] and ids.min() >= 0 and ids.max() < len(LABEL_CLASSES)
    assert len(np.unique(ids)) >= 3
    np.testing.assert_array_equal(labels_from_colors(label_map(photo)), ids)
    np.testing.assert_array_equal(labels_from_colors(PALETTE[None]), [np.arange(len(PALETTE))])


# --- built datasets ---------------------------------------------------------------------

@pytest.mark.parametrize("task", PHOTO_PAIRED_TASKS)
@pytest.mark.slow
def test_paired_layout_counts_and_image_sizes(built, task):
    folder = built / str(SIZE) / task
    assert sorted(p.name for p in folder.iterdir()) == ["_MANIFEST.json", "test", "train", "val"]
    manifest = _manifest(folder)
    assert manifest["task"] == task and manifest["size"] == SIZE
    assert manifest["build_version"] == samples.SAMPLES_VERSION
    assert manifest["counts"] == EXPECTED_64
    for split, count in EXPECTED_64.items():
        files = _files(folder / split)
        assert [p.name for p in files] == [f"{n}.jpg" for n in range(1, count + 1)]
        assert len(manifest["files"][split]) == count
        for path in files:
            with Image.open(path) as image:
                assert image.format == "JPEG" and image.mode == "RGB"
                assert image.size == (2 * SIZE, SIZE)
                image.load()  # decodes


def test_day2night_layout_and_counts(built):
    folder = built / str(SIZE) / "day2night"
    expected_dirs = ["_MANIFEST.json", "testA", "testB", "test_pairs", "trainA", "trainB"]
    assert sorted(p.name for p in folder.iterdir()) == expected_dirs
    manifest = _manifest(folder)
    assert manifest["counts"] == EXPECTED_DAY2NIGHT_64
    for split, count in EXPECTED_DAY2NIGHT_64.items():
        files = _files(folder / split)
        assert [p.name for p in files] == [f"{n}.jpg" for n in range(1, count + 1)]
        width = 2 * SIZE if split == "test_pairs" else SIZE
        for path in files:
            assert _read(path).shape == (SIZE, width, 3)
    assert len(list((folder / "test_pairs").iterdir())) == len(list((folder / "testA").iterdir()))


def test_no_train_crop_overlaps_a_held_out_region(built):
    """Geometry from the boxes the builder records: every train crop keeps a guard band
    away from every val/test region, and every held-out crop lies inside a region of
    its own split."""
    checked = 0
    for task in PHOTO_TASKS:
        manifest = _manifest(built / str(SIZE) / task)
        layout = manifest["regions"]
        assert layout["guard"] == GUARD and layout["held_out_side"] == HELD_OUT_SIDE
        recorded = {name: [(r["split"], r["top"], r["left"], r["bottom"], r["right"]) for r in info["regions"]]
                    for name, info in layout["photos"].items()}
        assert recorded == {name: list(region_boxes(name)) for name in PHOTO_REGIONS}  # the constants
        for split, files in manifest["files"].items():
            base = "train" if split.startswith("train") else "test" if split.startswith("test") else split
            assert {f["photo"] for f in files} == set(manifest["sources"][split]) == set(photos_at(SIZE, base))
            for f in files:
                box = (f["top"], f["left"], f["top"] + f["side"], f["left"] + f["side"])
                height, width = layout["photos"][f["photo"]]["shape"]
                assert 0 <= box[0] and box[2] <= height and 0 <= box[1] and box[3] <= width
                assert f["side"] >= SIZE
                regions = recorded[f["photo"]]
                if base == "train":
                    assert not any(_overlap(box, _grown(r[1:], GUARD)) for r in regions), (task, split, f)
                else:
                    assert any(r[0] == base and r[1] <= box[0] and r[2] <= box[1] and box[2] <= r[3]
                               and box[3] <= r[4] for r in regions), (task, split, f)
                checked += 1
    assert checked > 500


def test_recorded_boxes_are_where_the_crops_come_from(built):
    folder = built / str(SIZE) / "superres"
    files = _manifest(folder)["files"]["test"]
    sides = set()
    for number, f in enumerate(files, start=1):
        _, b = _split_ab(_read(folder / "test" / f"{number}.jpg").astype(int))
        window = load_source_photo(f["photo"])[f["top"]:f["top"] + f["side"], f["left"]:f["left"] + f["side"]]
        recut = np.asarray(Image.fromarray(window).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
        assert np.abs(recut.astype(int) - b).mean() < 4, f  # JPEG rounding only
        sides.add(f["side"])
    assert len(sides) >= 3  # several zoom levels


def test_paired_tasks_cut_the_same_crops_and_day2night_its_own(built):
    files = [_manifest(built / str(SIZE) / task)["files"] for task in PHOTO_PAIRED_TASKS]
    strip = [{split: [{k: v for k, v in f.items() if k != "seed"} for f in fs] for split, fs in t.items()} for t in files]
    assert all(t == strip[0] for t in strip[1:])
    manifest = _manifest(built / str(SIZE) / "day2night")
    a, b = manifest["files"]["trainA"], manifest["files"]["trainB"]
    assert {f["photo"] for f in a} == {f["photo"] for f in b} == set(DAY2NIGHT_DOMAINS["A"])
    assert a != b and a != strip[0]["train"][:len(a)]
    assert manifest["files"]["testA"] == manifest["files"]["test_pairs"] == strip[0]["test"]


@pytest.mark.slow
def test_rebuild_is_byte_identical(built, tmp_path):
    again = _build_tiny(tmp_path)
    first = sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second and len(first) > 600
    for relative in first:
        assert (built / relative).read_bytes() == (again / relative).read_bytes(), relative


def test_colorization_a_is_the_grey_photo(built):
    colour = []
    for path in _files(built / str(SIZE) / "colorization" / "val"):
        a, b = _split_ab(_read(path).astype(int))
        assert np.abs(a - a[..., :1]).max() <= 3  # three equal channels, up to JPEG rounding
        assert np.abs(a - to_grey(b.astype(np.uint8))).mean() < 3
        colour.append(np.abs(a - b).mean())
    assert np.mean(colour) > 3  # (a few crops, of the white slide or deep sky, are nearly grey)


def test_edges_a_is_thin_dark_lines_on_white(built):
    white, with_edges = [], 0
    files = _files(built / str(SIZE) / "edges2photo" / "train")
    for path in files:
        a, b = _split_ab(_read(path))
        grey = a.mean(axis=-1)
        white.append((grey > 200).mean())
        with_edges += (grey < 128).mean() > 0.01
        assert np.abs(a.astype(int) - b).mean() > 20
    assert np.mean(white) > 0.8 and min(white) > 0.5
    assert with_edges > 0.75 * len(files)


def test_labels_a_is_a_palette_label_map(built):
    for path in _files(built / str(SIZE) / "labels2photo" / "test"):
        a, b = _split_ab(_read(path))
        repainted = PALETTE[labels_from_colors(a)].astype(int)
        close = np.linalg.norm(repainted - a, axis=-1) < 40
        assert close.mean() > 0.97, path.name  # JPEG moves only pixels on label borders
        assert np.abs(a.astype(int) - b).mean() > 10


def test_superres_a_is_blurred_b(built):
    def detail(image):
        grey = image.astype(float).mean(axis=-1)
        return np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()

    details = []
    for path in _files(built / str(SIZE) / "superres" / "val"):
        a, b = _split_ab(_read(path))
        details.append((detail(a), detail(b)))
        assert detail(a) < detail(b)
        assert np.abs(a.astype(int) - degrade_x4(b)).mean() < 4
    details = np.mean(details, axis=0)
    assert details[0] < 0.7 * details[1]


def test_denoise_a_is_b_plus_seeded_noise(built):
    folder = built / str(SIZE) / "denoise"
    files = _manifest(folder)["files"]
    seeds = [f["seed"] for split in ("train", "val", "test") for f in files[split]]
    assert len(set(seeds)) == len(seeds)  # a seed of its own per crop
    residuals = []
    for number, f in enumerate(files["val"], start=1):
        a, b = _split_ab(_read(folder / "val" / f"{number}.jpg").astype(float))
        residuals.append(a - b)
        # the stored input is add_noise of the clean crop (up to JPEG of both halves)
        assert np.abs(a - add_noise(b.astype(np.uint8), f["seed"])).mean() < 8
    residuals = np.stack(residuals)
    assert abs(residuals.mean()) < 2 and 15 < residuals.std() < 27  # sigma 0.1 = 25.5, less clipping and JPEG
    clean = np.full((8, 8, 3), 128, np.uint8)
    np.testing.assert_array_equal(add_noise(clean, 3), add_noise(clean, 3))
    assert not np.array_equal(add_noise(clean, 3), add_noise(clean, 4))


def test_inpaint_a_is_b_with_the_recorded_hole(built):
    from kerasi2i.data import corrupt

    folder = built / str(SIZE) / "inpaint"
    manifest = _manifest(folder)
    assert "tensorflow" in manifest["masks"]
    fractions = []
    for split in ("train", "test"):
        for number, f in enumerate(manifest["files"][split][:12], start=1):
            a, b = _split_ab(_read(folder / split / f"{number}.jpg").astype(int))
            hole = hole_mask(f["seed"], SIZE, SIZE)
            fractions.append(hole.mean())
            assert 0 < hole.mean() < 0.7
            assert np.abs(a[hole] - 128).mean() < 6, (split, number)       # mid-grey in the hole
            assert np.abs(a[~hole] - b[~hole]).mean() < 4, (split, number)  # the photo elsewhere
    assert np.mean(fractions) > 0.05
    seed = manifest["files"]["test"][0]["seed"]
    eager = corrupt.random_masks(1, SIZE, SIZE, kind="mixed", seed=seed).numpy()[0, ..., 0] > 0.5
    np.testing.assert_array_equal(hole_mask(seed, SIZE, SIZE), eager)  # the package's masks
    photo = load_source_photo("coffee")[:SIZE, :SIZE]
    holed = cut_holes(photo, seed)
    np.testing.assert_array_equal(holed[eager], 128)
    np.testing.assert_array_equal(holed[~eager], photo[~eager])


def test_day2night_night_is_darker_and_bluer(built):
    folder = built / str(SIZE) / "day2night"
    for n in range(1, EXPECTED_DAY2NIGHT_64["testA"] + 1):
        day = _read(folder / "testA" / f"{n}.jpg").astype(float)
        night = _read(folder / "testB" / f"{n}.jpg").astype(float)
        assert night.mean() < 0.6 * day.mean()
        assert night[..., 2].mean() / (night.mean() + 1) > day[..., 2].mean() / (day.mean() + 1)
        left, right = _split_ab(_read(folder / "test_pairs" / f"{n}.jpg").astype(float))
        assert np.abs(left - day).mean() < 3 and np.abs(right - night).mean() < 3
    night_b = np.mean([_read(p).mean() for p in _files(folder / "trainB")])
    day_a = np.mean([_read(p).mean() for p in _files(folder / "trainA")])
    assert night_b < 0.5 * day_a


# --- building behaviour -----------------------------------------------------------------

def test_sample_path_validates_and_builds(tmp_path, tiny_counts):
    with pytest.raises(ValueError, match="horse2zebra.*colorization.*denoise.*inpaint.*superres"):
        sample_path("horse2zebra", root=tmp_path)
    with pytest.raises(ValueError, match="100.*64"):
        sample_path("superres", size=100, root=tmp_path)
    with pytest.raises(ValueError, match="nope"):
        build_samples(tasks=["superres", "nope"], root=tmp_path)
    unbuilt = sample_path("superres", 64, root=tmp_path, build=False)
    assert unbuilt == tmp_path / "64" / "superres" and not unbuilt.exists()
    folder = sample_path("superres", 64, root=tmp_path)
    assert folder == unbuilt and (folder / "_MANIFEST.json").exists()
    assert folder.stat().st_mode & 0o777 == 0o755  # not the private mode of a temp folder
    assert sorted(p.name for p in (tmp_path / "64").iterdir()) == ["superres"]  # nothing else built


def test_up_to_date_folders_are_kept_and_old_versions_rebuilt(tmp_path, tiny_counts):
    folder = sample_path("superres", 64, root=tmp_path)
    marker = folder / "train" / "1.jpg"
    stamp = marker.stat().st_mtime_ns
    build_samples(tasks="superres", sizes=64, root=tmp_path)
    assert marker.stat().st_mtime_ns == stamp  # up to date: not rewritten
    manifest = _manifest(folder)
    manifest["build_version"] = samples.SAMPLES_VERSION - 1
    (folder / "_MANIFEST.json").write_text(json.dumps(manifest))
    (folder / "train" / "1.jpg").write_bytes(b"stale")
    build_samples(tasks="superres", sizes=64, root=tmp_path)
    assert _manifest(folder)["build_version"] == samples.SAMPLES_VERSION
    assert _read(marker).shape == (SIZE, 2 * SIZE, 3)
    assert sorted(p.name for p in (tmp_path / "64").iterdir()) == ["superres"]  # no leftovers


def test_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch, tiny_counts):
    calls = []

    def failing(photo):
        calls.append(1)
        if len(calls) > 10:
            raise KeyboardInterrupt
        return degrade_x4(photo)

    monkeypatch.setitem(samples._PAIRED_TRANSFORMS, "superres", failing)
    with pytest.raises(KeyboardInterrupt):
        build_samples(tasks=["superres"], sizes=[64], root=tmp_path)
    assert list((tmp_path / "64").iterdir()) == []
    assert not sample_path("superres", 64, root=tmp_path, build=False).exists()


def test_documented_counts():
    # as data/README.md states: per photo count x photos that take part at that size
    real = samples._CROPS_PER_PHOTO
    assert [_expected(size, real) for size in SAMPLE_SIZES] == [
        {"train": 800, "val": 64, "test": 96},
        {"train": 480, "val": 32, "test": 48},
        {"train": 200, "val": 16, "test": 40},
    ]
    assert photos_at(256, "train") == ("rocket", "hubble_deep_field", "retina", "coffee", "grace_hopper")


def test_larger_size_light_check(tmp_path, tiny_counts):
    folder = sample_path("superres", 256, root=tmp_path)
    counts = _manifest(folder)["counts"]
    assert counts == _expected(256) == {"train": 10, "val": 4, "test": 10}
    a, b = _split_ab(_read(folder / "test" / f"{counts['test']}.jpg"))
    assert a.shape == b.shape == (256, 256, 3)
