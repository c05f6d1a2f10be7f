"""The painted domain (kerasi2i.data.painted): the filter, the painting, the bundled task."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import painted, samples

TINY_PER_PHOTO = {"train": {64: 4, 128: 2, 256: 2}, "val": {64: 2, 128: 2, 256: 2}, "test": {64: 2, 128: 2, 256: 2}}


def test_kuwahara_keeps_a_flat_image_and_a_sharp_edge():
    flat = np.full((16, 16, 3), 0.4)
    np.testing.assert_allclose(painted.kuwahara(flat, 2), flat)
    edge = np.zeros((16, 16, 3))
    edge[:, 8:] = 1.0
    noisy = edge + np.random.RandomState(0).normal(0, 0.05, edge.shape)
    out = painted.kuwahara(noisy, 2)
    # the edge stays where it was, one pixel wide: no blur across it ...
    assert np.all(out[:, :8].mean(axis=-1) < 0.2) and np.all(out[:, 8:].mean(axis=-1) > 0.8)
    # ... and each side is smoothed: less noise than the input
    assert out[:, 2:6].std() < 0.5 * noisy[:, 2:6].std()


def test_kuwahara_rejects_bad_arguments():
    with pytest.raises(ValueError, match="radius"):
        painted.kuwahara(np.zeros((8, 8, 3)), 0)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        painted.kuwahara(np.zeros((8, 8)), 1)


def test_paint_is_deterministic_and_moves_colours_towards_the_palette():
    import skimage.data

    photo = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((64, 64)))
    a, b = painted.paint(photo), painted.paint(photo)
    assert a.dtype == np.uint8 and a.shape == photo.shape
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(float) - photo).mean() > 10  # a visible change of style

    def palette_distance(image):
        pixels = image.reshape(-1, 1, 3) / 255.0
        return np.sqrt(((pixels - painted.PALETTE) ** 2).sum(-1)).min(-1).mean()

    assert palette_distance(a) < 0.5 * palette_distance(photo)
    with pytest.raises(ValueError, match="uint8 RGB"):
        painted.paint(photo.astype(np.float32))


def _digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(samples, "FACADE_COUNTS", {64: {"train": 6, "val": 2, "test": 3}})
    monkeypatch.setattr(samples, "_CROPS_PER_PHOTO", TINY_PER_PHOTO)


def test_painted_task_builds_byte_identical_in_the_cyclegan_layout(tmp_path, tiny):
    from kerasi2i import data as kdata

    one = samples.sample_path("painted", 64, root=tmp_path / "one")
    samples.build_samples(tasks=["painted"], sizes=[64], root=tmp_path / "two")
    assert _digest(one) == _digest(tmp_path / "two" / "64" / "painted")
    assert kdata.detect_layout(one)[0] == "cyclegan"
    manifest = json.loads((one / "_MANIFEST.json").read_text())
    photos = len(samples.photos_at(64, "train")) * 4
    tests = 3 + len(samples.photos_at(64, "test")) * 2
    assert manifest["counts"] == {"trainA": 3 + photos // 2, "trainB": 3 + photos // 2, "testA": tests,
                                  "testB": tests, "test_pairs": tests}
    assert manifest["painted_version"] == painted.PAINTED_VERSION and manifest["task"] == "painted"
    # unpaired: no training photo has its painting in trainB
    assert not set(manifest["files"]["trainA"]) & set(manifest["files"]["trainB"])
    # the test paintings are paint() of the test photos (up to the JPEG round trip)
    for n in (1, tests):
        with Image.open(one / "testA" / f"{n}.jpg") as a, Image.open(one / "testB" / f"{n}.jpg") as b:
            photo, painting = np.asarray(a), np.asarray(b).astype(float)
        assert np.abs(painted.paint(photo) - painting).mean() < 6
        assert np.abs(photo - painting).mean() > 10
    # the facades come first, and test photo 1 is the facades' test photo 1
    with Image.open(tmp_path / "one" / "64" / "facades" / "test" / "1.jpg") as pair:
        facade = np.asarray(pair)[:, :64].astype(float)
    with Image.open(one / "testA" / "1.jpg") as a:
        assert np.abs(np.asarray(a) - facade).mean() < 3
    # an up-to-date folder is not rebuilt; another painted version is
    stamp = (one / "_MANIFEST.json").stat().st_mtime_ns
    samples.build_samples(tasks=["painted"], sizes=[64], root=tmp_path / "one")
    assert (one / "_MANIFEST.json").stat().st_mtime_ns == stamp
    manifest["painted_version"] = -1
    (one / "_MANIFEST.json").write_text(json.dumps(manifest))
    assert not samples._is_built(one)


def test_painted_is_a_derived_task_that_the_cli_builds(tmp_path, tiny, monkeypatch, capsys):
    from kerasi2i.cli import main

    assert "painted" in samples.DERIVED_TASKS and "painted" not in samples.SAMPLE_TASKS
    monkeypatch.setattr(samples, "samples_root", lambda: tmp_path)
    assert main(["data", "build", "--tasks", "painted", "--sizes", "64"]) == 0
    assert (tmp_path / "64" / "painted" / "test_pairs" / "1.jpg").exists()
    assert (tmp_path / "64" / "facades").is_dir() and (tmp_path / "64" / "colorization").is_dir()
    assert main(["data", "show", "painted", "--output", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").exists()
