"""Tests for kerasi2i.data.samples: the deterministic sample datasets.

Everything is built into pytest's tmp folders (never the repository cache), at 64 px
except one light check at 256 px.
"""
import json

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import samples
from kerasi2i.data.samples import (
    DAY2NIGHT_DOMAINS,
    LABEL_CLASSES,
    PAIRED_TASKS,
    PALETTE,
    PHOTO_SPLIT,
    SAMPLE_SIZES,
    SAMPLE_TASKS,
    SOURCE_PHOTOS,
    UNPAIRED_TASKS,
    build_samples,
    degrade_x4,
    edge_map,
    label_ids,
    label_map,
    labels_from_colors,
    load_source_photo,
    render_night,
    sample_path,
    to_grey,
)

SIZE = 64
EXPECTED_64 = {"train": 350, "val": 32, "test": 40}
EXPECTED_DAY2NIGHT_64 = {"trainA": 175, "trainB": 175, "testA": 40, "testB": 40, "test_pairs": 40}


# The tasks cut from real photos; the procedural facades have their own tests
# (tests/test_facades.py).
PHOTO_TASKS = tuple(t for t in SAMPLE_TASKS if t not in samples.FACADE_TASKS)
PHOTO_PAIRED_TASKS = tuple(t for t in PAIRED_TASKS if t not in samples.FACADE_TASKS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """All real-photo tasks at 64 px, built once for the module."""
    return build_samples(tasks=PHOTO_TASKS, sizes=[SIZE], root=tmp_path_factory.mktemp("samples"))


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
    assert PAIRED_TASKS == ("facades", "colorization", "edges2photo", "labels2photo", "superres")
    assert UNPAIRED_TASKS == ("facades_day2night", "day2night")
    assert SAMPLE_SIZES == (64, 128, 256)


def test_photo_split_is_disjoint_and_covers_every_photo():
    assert set(PHOTO_SPLIT) == {"train", "val", "test"}
    seen = [name for names in PHOTO_SPLIT.values() for name in names]
    assert len(seen) == len(set(seen)), "a photo is in two splits"
    assert set(seen) == set(SOURCE_PHOTOS)
    assert set(PHOTO_SPLIT["val"]) == {"chelsea"}
    assert set(PHOTO_SPLIT["test"]) == {"coffee", "grace_hopper"}
    for name, info in SOURCE_PHOTOS.items():
        assert info["name"] == name
        assert name in PHOTO_SPLIT[info["split"]]
        assert info["licence"] and info["origin"] and info["loader"]
    with pytest.raises(TypeError):
        PHOTO_SPLIT["train"] = ("chelsea",)  # a read-only constant


def test_every_source_photo_states_a_free_licence():
    # Only public-domain / CC0 photos: one whose docstring states no licence is left out.
    free = ("public domain", "cc0", "no known copyright restrictions", "no copyright restrictions")
    for name, info in SOURCE_PHOTOS.items():
        assert any(word in info["licence"].lower() for word in free), name
    assert not any(name.startswith("stereo_motorcycle") for name in SOURCE_PHOTOS)


def test_day2night_domains_are_disjoint_train_photos():
    a, b = set(DAY2NIGHT_DOMAINS["A"]), set(DAY2NIGHT_DOMAINS["B"])
    assert a and b and not a & b
    assert a | b == set(PHOTO_SPLIT["train"])  # every train photo is used, in one domain
    assert {"astronaut", "rocket"} <= a  # the daylight scenes are the day domain


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


def test_no_train_crop_comes_from_a_val_or_test_photo(built):
    held_out = set(PHOTO_SPLIT["val"]) | set(PHOTO_SPLIT["test"])
    for task in PHOTO_TASKS:
        manifest = _manifest(built / str(SIZE) / task)
        for split, sources in manifest["sources"].items():
            used = {item["photo"] for item in manifest["files"][split]}
            assert used == set(sources), (task, split)
            if split.startswith("train"):
                assert not used & held_out, (task, split)
                assert used <= set(PHOTO_SPLIT["train"])
            else:
                assert used <= set(PHOTO_SPLIT[split.rstrip("AB").replace("_pairs", "")])


def test_day2night_training_domains_use_disjoint_photos(built):
    manifest = _manifest(built / str(SIZE) / "day2night")
    a = {item["photo"] for item in manifest["files"]["trainA"]}
    b = {item["photo"] for item in manifest["files"]["trainB"]}
    assert a == set(DAY2NIGHT_DOMAINS["A"]) and b == set(DAY2NIGHT_DOMAINS["B"])
    assert not a & b
    assert manifest["files"]["testA"] == manifest["files"]["testB"] == manifest["files"]["test_pairs"]


@pytest.mark.slow
def test_rebuild_is_byte_identical(built, tmp_path):
    again = build_samples(tasks=PHOTO_TASKS, sizes=[SIZE], root=tmp_path)
    first = sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second and len(first) > 2000
    for relative in first:
        assert (built / relative).read_bytes() == (again / relative).read_bytes(), relative


def test_colorization_a_is_the_grey_photo(built):
    for path in _files(built / str(SIZE) / "colorization" / "val"):
        a, b = _split_ab(_read(path).astype(int))
        assert np.abs(a - a[..., :1]).max() <= 3  # three equal channels, up to JPEG rounding
        assert np.abs(a - to_grey(b.astype(np.uint8))).mean() < 3
        assert np.abs(a - b).mean() > 3


def test_edges_a_is_thin_dark_lines_on_white(built):
    white, with_edges = [], 0
    for path in _files(built / str(SIZE) / "edges2photo" / "train")[:80]:
        a, b = _split_ab(_read(path))
        grey = a.mean(axis=-1)
        white.append((grey > 200).mean())
        with_edges += (grey < 128).mean() > 0.01
        assert np.abs(a.astype(int) - b).mean() > 20
    assert np.mean(white) > 0.8 and min(white) > 0.5
    assert with_edges > 60


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

def test_sample_path_validates_and_builds(tmp_path):
    with pytest.raises(ValueError, match="horse2zebra.*colorization"):
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


def test_up_to_date_folders_are_kept_and_old_versions_rebuilt(tmp_path):
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


def test_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
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


def test_larger_size_light_check(tmp_path):
    folder = sample_path("superres", 256, root=tmp_path)
    counts = _manifest(folder)["counts"]
    assert counts == {"train": 85, "val": 8, "test": 12}  # as data/README.md states
    a, b = _split_ab(_read(folder / "test" / f"{counts['test']}.jpg"))
    assert a.shape == b.shape == (256, 256, 3)
