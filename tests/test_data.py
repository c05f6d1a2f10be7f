"""The dataset loaders on small datasets written into tmp_path in the real on-disk layouts.

Images are 16-32 pixels a side so every pipeline runs in a fraction of a second.
"""
import warnings

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import (
    DatasetError,
    PREPROCESS_MODES,
    detect_layout,
    load_domain,
    load_paired,
    load_unpaired,
)

SIZE = 16  # the crop size the tests ask for


# ----------------------------------------------------------------------------- helpers


def save(path, array, mode=None, **kwargs):
    """Write a numpy array as an image file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode).save(path, **kwargs)
    return path


def noise(h, w, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def uniform(h, w, value):
    return np.full((h, w, 3), value, dtype=np.uint8)


def black_white(h=SIZE, w=SIZE):
    """Side-by-side image: left half (A) black, right half (B) white."""
    return np.concatenate([uniform(h, w, 0), uniform(h, w, 255)], axis=1)


def make_berkeley(root, splits=("train", "val"), n=3, ext="jpg", h=SIZE, w=SIZE):
    for split in splits:
        for i in range(n):
            save(root / split / f"{i + 1}.{ext}", black_white(h, w))
    return root


def make_a_b(root, nested=True, n=3, split="train"):
    for d, value in (("A", 0), ("B", 255)):
        folder = root / d / split if nested else root / d
        for i in range(n):
            save(folder / f"{i:03d}.png", uniform(SIZE, SIZE, value))
    return root


def make_cyclegan(root, n_a=3, n_b=3, splits=("train", "test")):
    for split in splits:
        for i in range(n_a):
            save(root / f"{split}A" / f"a{i:02d}.jpg", uniform(SIZE, SIZE, 10 + 5 * i))
        for i in range(n_b):
            save(root / f"{split}B" / f"b{i:02d}.jpg", uniform(SIZE, SIZE, 200 + 5 * i))
    return root


def batches(ds):
    """Every batch of a dataset as numpy arrays."""
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def count(ds):
    return sum(1 for _ in ds)


# ----------------------------------------------------------------------------- layouts


def test_detect_berkeley(tmp_path):
    root = make_berkeley(tmp_path / "facades", splits=("train", "val", "test"))
    assert detect_layout(root) == ("berkeley", root)


def test_detect_kaggle(tmp_path):
    make_berkeley(tmp_path / "facades", splits=("train", "val"))
    assert detect_layout(tmp_path) == ("kaggle", tmp_path / "facades")
    x, y = next(iter(load_paired(tmp_path, "val", image_size=SIZE)))
    assert x.shape == (1, SIZE, SIZE, 3)


@pytest.mark.parametrize("nested", [True, False], ids=["A-train", "flat-A"])
def test_detect_a_b(tmp_path, nested):
    root = make_a_b(tmp_path / "ds", nested=nested)
    assert detect_layout(root) == ("a_b", root)
    items = batches(load_paired(root, "train", image_size=SIZE, batch_size=8))
    (x, y), = items
    assert x.shape == (3, SIZE, SIZE, 3)
    # A is black, B white: the matching files really were paired A -> B.
    assert x.max() < -0.99 and y.min() > 0.99


def test_detect_flat(tmp_path):
    for i in range(2):
        save(tmp_path / "pairs" / f"{i}.png", black_white())
    assert detect_layout(tmp_path / "pairs") == ("flat", tmp_path / "pairs")
    assert count(load_paired(tmp_path / "pairs", image_size=SIZE)) == 2


def test_detect_flat_gif(tmp_path):
    for i in range(2):
        save(tmp_path / "pairs" / f"{i}.gif", black_white())
    assert detect_layout(tmp_path / "pairs")[0] == "flat"
    assert count(load_paired(tmp_path / "pairs", image_size=SIZE)) == 2


def test_detect_cyclegan(tmp_path):
    root = make_cyclegan(tmp_path / "horse2zebra")
    assert detect_layout(root) == ("cyclegan", root)


def test_unknown_layout_names_path(tmp_path):
    root = tmp_path / "mystery"
    (root / "foo").mkdir(parents=True)
    (root / "bar").mkdir()
    (root / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="Unknown dataset layout") as err:
        detect_layout(root)
    assert str(root) in str(err.value)
    with pytest.raises(DatasetError):
        load_paired(root)


# ----------------------------------------------------------------------------- load_paired


def test_paired_dtype_shape_range(tmp_path):
    root = tmp_path / "ds"
    for i in range(3):
        save(root / "train" / f"{i}.jpg", np.concatenate([noise(24, 24, i), noise(24, 24, i + 10)], axis=1))
    ds = load_paired(root, "train", image_size=SIZE, batch_size=2, seed=0)
    got = batches(ds)
    assert [x.shape for x, _ in got] == [(2, SIZE, SIZE, 3), (1, SIZE, SIZE, 3)]
    for x, y in got:
        assert x.dtype == np.float32 and y.dtype == np.float32
        for t in (x, y):
            assert t.min() >= -1.0 and t.max() <= 1.0
            assert t.min() < -0.5 and t.max() > 0.5  # really spans the range, not [0, 1]


@pytest.mark.parametrize("direction,sign", [("AtoB", -1), ("BtoA", 1)])
def test_direction_swaps_halves(tmp_path, direction, sign):
    root = make_berkeley(tmp_path / "ds", splits=("val",), n=2)
    for x, y in load_paired(root, "val", direction=direction, image_size=SIZE):
        assert sign * float(x.numpy().mean()) > 0.95
        assert -sign * float(y.numpy().mean()) > 0.95


@pytest.mark.parametrize("cin,cout", [(1, 3), (3, 1), (1, 1), (3, 3)])
def test_channels(tmp_path, cin, cout):
    root = make_berkeley(tmp_path / "ds", splits=("train",), n=2)
    x, y = next(iter(load_paired(root, image_size=SIZE, input_channels=cin, output_channels=cout, batch_size=2)))
    assert x.shape == (2, SIZE, SIZE, cin)
    assert y.shape == (2, SIZE, SIZE, cout)
    assert float(x.numpy().mean()) < -0.95 and float(y.numpy().mean()) > 0.95  # grey of black/white


@pytest.mark.parametrize("layout", ["berkeley", "a_b"])
@pytest.mark.parametrize("preprocess", ["resize_and_crop", "crop", "scale_width_and_crop"])
def test_same_jitter_for_both_images(tmp_path, layout, preprocess):
    """B == A on disk, so after the random crop and flip input and target must still agree."""
    root = tmp_path / "ds"
    for i in range(4):
        img = noise(24, 24, i)
        if layout == "berkeley":
            save(root / "train" / f"{i}.png", np.concatenate([img, img], axis=1))
        else:
            save(root / "A" / f"{i}.png", img)
            save(root / "B" / f"{i}.png", img)
    ds = load_paired(root, "train", image_size=SIZE, load_size=20, preprocess=preprocess, batch_size=4, seed=3)
    epochs = [batches(ds)[0] for _ in range(2)]
    for x, y in epochs:
        assert x.shape == (4, SIZE, SIZE, 3)
        np.testing.assert_allclose(x, y, atol=1e-6)
    # The jitter is real: a second epoch draws new crops/flips.
    assert not np.array_equal(epochs[0][0], epochs[1][0])


def test_evaluation_is_deterministic_resize_only(tmp_path):
    root = tmp_path / "ds"
    ramp = np.tile(np.linspace(0, 255, 24).astype(np.uint8)[None, :, None], (24, 1, 3))  # dark -> bright
    for i in range(4):
        save(root / "val" / f"{i}.png", np.concatenate([ramp, ramp[:, ::-1]], axis=1))
        save(root / "train" / f"{i}.png", np.concatenate([ramp, ramp[:, ::-1]], axis=1))
    for ds in (
        load_paired(root, "val", image_size=SIZE, batch_size=4),
        load_paired(root, "train", training=False, image_size=SIZE, batch_size=4),
    ):
        (x1, y1), = batches(ds)
        (x2, y2), = batches(ds)
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        # No flip: every input still goes dark -> bright, every target bright -> dark.
        assert (x1[:, :, 0] < x1[:, :, -1]).all()
        assert (y1[:, :, 0] > y1[:, :, -1]).all()
    # In training the same images do get flipped (some input goes bright -> dark).
    train = load_paired(root, "train", image_size=SIZE, batch_size=4, seed=0)
    flipped = [x[:, :, 0].mean(axis=(1, 2)) > x[:, :, -1].mean(axis=(1, 2)) for _ in range(3) for x, _ in batches(train)]
    assert np.concatenate(flipped).any()


def test_seed_makes_training_reproducible(tmp_path):
    root = tmp_path / "ds"
    for i in range(5):
        save(root / "train" / f"{i}.png", np.concatenate([noise(24, 24, i), noise(24, 24, 50 + i)], axis=1))

    def run():
        return batches(load_paired(root, "train", image_size=SIZE, batch_size=2, seed=42))

    first, second = run(), run()
    assert len(first) == 3
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


# Half image 29 wide x 45 high; crop (image_size) 16, load_size 20.
MODE_SHAPES = {
    "resize_and_crop": ((16, 16), (16, 16)),
    "crop": ((16, 16), (16, 16)),
    "scale_width": ((31, 20), (25, 16)),  # width to load_size / crop_size, aspect kept
    "scale_width_and_crop": ((16, 16), (16, 16)),
    "none": ((44, 28), (44, 28)),  # sides rounded to a multiple of 4
}


def test_mode_table_is_complete():
    assert set(MODE_SHAPES) == set(PREPROCESS_MODES)


@pytest.mark.parametrize("preprocess", sorted(MODE_SHAPES))
def test_preprocess_mode_shapes(tmp_path, preprocess):
    root = tmp_path / "ds"
    save(root / "train" / "0.png", np.concatenate([noise(45, 29, 0), noise(45, 29, 1)], axis=1))
    train_hw, eval_hw = MODE_SHAPES[preprocess]
    for training, hw in ((True, train_hw), (False, eval_hw)):
        x, y = next(iter(load_paired(root, image_size=16, load_size=20, preprocess=preprocess, training=training)))
        assert x.shape == (1, *hw, 3), (training, x.shape)
        assert y.shape == (1, *hw, 3)


def test_bad_preprocess_mode(tmp_path):
    root = make_berkeley(tmp_path / "ds", splits=("train",), n=1)
    with pytest.raises(ValueError, match="preprocess"):
        load_paired(root, preprocess="zoom")


# ----------------------------------------------------------------------------- image kinds


def test_greyscale_jpeg(tmp_path):
    save(tmp_path / "d" / "g.jpg", np.full((8, 8), 128, np.uint8))
    rgb = next(iter(load_domain(tmp_path / "d", image_size=8, preprocess="none"))).numpy()
    grey = next(iter(load_domain(tmp_path / "d", image_size=8, preprocess="none", channels=1))).numpy()
    assert rgb.shape == (1, 8, 8, 3) and grey.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(rgb[..., 0], rgb[..., 2])
    np.testing.assert_allclose(grey[..., 0], 128 / 255 * 2 - 1, atol=0.02)


def test_rgba_png_transparent_is_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red ...
    rgba[:, :4, 3] = 255  # ... opaque on the left, fully transparent on the right
    save(tmp_path / "d" / "x.png", rgba, "RGBA")
    out = next(iter(load_domain(tmp_path / "d", image_size=8, preprocess="none"))).numpy()[0]
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out[:, 4:], 1.0)  # transparent -> white
    np.testing.assert_allclose(out[:, :4], np.broadcast_to([1.0, -1.0, -1.0], (8, 4, 3)))


def test_16bit_png_scaled_from_65535(tmp_path):
    arr = np.zeros((8, 8), np.uint16)
    arr[:, 0:2] = 65535
    arr[:, 2:4] = 16384  # 0.25 -> -0.5
    arr[:, 4:6] = 200  # 8-bit decoding would lose this entirely (-1.0)
    path = save(tmp_path / "d" / "deep.png", arr)
    assert Image.open(path).mode.startswith("I")
    out = next(iter(load_domain(tmp_path / "d", image_size=8, preprocess="none", channels=1))).numpy()[0, 0, :, 0]
    np.testing.assert_allclose(out[0:2], 1.0, atol=1e-6)
    np.testing.assert_allclose(out[2:4], 16384 / 65535 * 2 - 1, atol=1e-4)
    np.testing.assert_allclose(out[4:6], 200 / 65535 * 2 - 1, atol=1e-4)
    np.testing.assert_allclose(out[6:8], -1.0, atol=1e-6)


def test_palette_png(tmp_path):
    path = tmp_path / "d" / "p.png"
    path.parent.mkdir()
    Image.fromarray(noise(8, 8, 3)).convert("P").save(path)
    assert Image.open(path).mode == "P"
    out = next(iter(load_domain(tmp_path / "d", image_size=8, preprocess="none"))).numpy()[0]
    expected = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255 * 2 - 1
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_mixed_kinds_in_a_b_pairs(tmp_path):
    """A greyscale JPEG paired with an RGBA PNG of the same size."""
    save(tmp_path / "A" / "0.png", np.full((SIZE, SIZE), 0, np.uint8))
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)  # fully transparent -> white
    save(tmp_path / "B" / "0.png", rgba, "RGBA")
    x, y = next(iter(load_paired(tmp_path, image_size=SIZE, training=False)))
    assert x.shape == y.shape == (1, SIZE, SIZE, 3)
    assert float(x.numpy().max()) < -0.99 and float(y.numpy().min()) > 0.99


# ----------------------------------------------------------------------------- unpaired


def test_unpaired_epoch_is_larger_domain(tmp_path):
    root = make_cyclegan(tmp_path / "h2z", n_a=3, n_b=7)
    for training in (True, False):
        ds = load_unpaired(root, "train", image_size=SIZE, training=training, seed=0)
        items = batches(ds)
        assert len(items) == 7
        for a, b in items:
            assert a.shape == b.shape == (1, SIZE, SIZE, 3)
            assert a.dtype == np.float32
            assert a.mean() < -0.8  # A images are dark
            assert b.mean() > 0.5  # B images are bright
    (a, b), = batches(load_unpaired(root, "test", image_size=SIZE, batch_size=8, training=False))
    assert a.shape == (7, SIZE, SIZE, 3)  # the 3 A images wrap around


def test_unpaired_reshuffles_each_epoch(tmp_path):
    root = tmp_path / "u"
    values = [8 * i for i in range(8)]
    for i, v in enumerate(values):
        save(root / "trainA" / f"{i}.png", uniform(8, 8, v))
        save(root / "trainB" / f"{i}.png", uniform(8, 8, 255 - v))
    ds = load_unpaired(root, image_size=8, load_size=8, seed=5)

    def a_order():
        return [int(round((float(a.numpy().mean()) + 1) / 2 * 255)) for a, _ in ds]

    first, second = a_order(), a_order()
    assert sorted(first) == sorted(second) == values  # each A image once per epoch
    assert first != second


# ----------------------------------------------------------------------------- load_domain


def test_load_domain_name_order_and_shape(tmp_path):
    root = tmp_path / "h2z"
    values = {"00.png": 200, "01.png": 50, "02.png": 150, "03.png": 100}
    for name, v in values.items():
        save(root / "testA" / name, uniform(24, 24, v))
    save(root / "testB" / "x.png", uniform(24, 24, 0))
    (out,) = batches(load_domain(root, "testA", image_size=SIZE, batch_size=8))
    assert out.shape == (4, SIZE, SIZE, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), [v / 255 * 2 - 1 for v in values.values()], atol=0.02)
    # A folder given directly works too.
    assert batches(load_domain(root / "testA", image_size=SIZE, batch_size=8))[0].shape == (4, SIZE, SIZE, 3)


# ----------------------------------------------------------------------------- bad input


def raises_naming(path, fn, *args, match=None, **kwargs):
    with pytest.raises(DatasetError, match=match) as err:
        fn(*args, **kwargs)
    assert str(path) in str(err.value), str(err.value)
    return str(err.value)


def test_missing_folder(tmp_path):
    raises_naming(tmp_path / "nope", load_paired, tmp_path / "nope")
    raises_naming(tmp_path / "nope", load_unpaired, tmp_path / "nope")


def test_empty_split_folder(tmp_path):
    (tmp_path / "ds" / "train").mkdir(parents=True)
    raises_naming(tmp_path / "ds" / "train", load_paired, tmp_path / "ds", "train")


def test_missing_split_lists_present(tmp_path):
    make_berkeley(tmp_path / "facades", splits=("train", "val"))
    msg = raises_naming(tmp_path / "facades", load_paired, tmp_path, "test")
    assert "'test'" in msg and "['train', 'val']" in msg


def test_missing_split_a_b(tmp_path):
    root = make_a_b(tmp_path / "ds", nested=True, split="train")
    msg = raises_naming(root / "A", load_paired, root, "test")
    assert "'test'" in msg and "train" in msg


def test_unreadable_file(tmp_path):
    make_berkeley(tmp_path / "ds", splits=("train",), n=2)
    bad = tmp_path / "ds" / "train" / "9.jpg"
    bad.write_text("this is not a picture")
    raises_naming(bad, load_paired, tmp_path / "ds", match="Cannot read")


def test_truncated_jpeg(tmp_path):
    root = tmp_path / "ds"
    good = save(root / "train" / "1.jpg", np.concatenate([noise(32, 32, 0), noise(32, 32, 1)], axis=1), quality=95)
    raw = good.read_bytes()
    bad = root / "train" / "2.jpg"
    bad.write_bytes(raw[: len(raw) // 2])
    raises_naming(bad, load_paired, root, match="truncated")


def test_odd_width_side_by_side(tmp_path):
    save(tmp_path / "ds" / "train" / "1.png", noise(16, 33))
    raises_naming(tmp_path / "ds" / "train" / "1.png", load_paired, tmp_path / "ds", match="even width")


def test_a_b_size_mismatch(tmp_path):
    save(tmp_path / "ds" / "A" / "1.png", noise(16, 16))
    save(tmp_path / "ds" / "B" / "1.png", noise(16, 20))
    raises_naming(tmp_path / "ds" / "A" / "1.png", load_paired, tmp_path / "ds", match="share its size")


def test_a_without_b_partner(tmp_path):
    root = make_a_b(tmp_path / "ds", nested=False, n=2)
    save(root / "A" / "lonely.png", uniform(SIZE, SIZE, 0))
    msg = raises_naming(root / "A", load_paired, root, match="no B partner")
    assert "lonely.png" in msg
    # With on_bad="skip" the lonely file is left out with a warning.
    with pytest.warns(UserWarning, match="Skipped 1"):
        ds = load_paired(root, on_bad="skip", image_size=SIZE)
    assert count(ds) == 2


def test_cyclegan_given_to_load_paired(tmp_path):
    root = make_cyclegan(tmp_path / "h2z")
    raises_naming(root, load_paired, root, match="load_unpaired")


def test_paired_given_to_load_unpaired(tmp_path):
    root = make_berkeley(tmp_path / "ds")
    raises_naming(root, load_unpaired, root, match="unpaired")


def test_on_bad_skip(tmp_path):
    root = make_berkeley(tmp_path / "ds", splits=("train",), n=3)
    (root / "train" / "0.jpg").write_bytes(b"\x00corrupt")
    with pytest.raises(DatasetError, match="on_bad='skip'"):
        load_paired(root)
    with pytest.warns(UserWarning, match="Skipped 1") as record:
        ds = load_paired(root, on_bad="skip", image_size=SIZE)
    assert any("0.jpg" in str(w.message) for w in record)
    assert count(ds) == 3
    # A clean folder loads without any warning.
    (root / "train" / "0.jpg").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert count(load_paired(root, on_bad="skip", image_size=SIZE)) == 3


def test_on_bad_skip_unpaired_and_domain(tmp_path):
    root = make_cyclegan(tmp_path / "h2z", n_a=3, n_b=3)
    (root / "trainA" / "zz.jpg").write_text("nope")
    with pytest.warns(UserWarning, match="Skipped 1"):
        assert count(load_unpaired(root, image_size=SIZE, on_bad="skip")) == 3
    (root / "testA" / "zz.jpg").write_text("nope")
    raises_naming(root / "testA" / "zz.jpg", load_domain, root, "testA")
    with pytest.warns(UserWarning, match="Skipped 1"):
        assert count(load_domain(root, "testA", image_size=SIZE, on_bad="skip")) == 3


def test_bad_arguments(tmp_path):
    root = make_berkeley(tmp_path / "ds", splits=("train",), n=1)
    with pytest.raises(ValueError, match="2"):
        load_paired(root, input_channels=2)
    with pytest.raises(ValueError, match="2"):
        load_paired(root, output_channels=2)
    with pytest.raises(ValueError, match="direction"):
        load_paired(root, direction="AtoC")
    with pytest.raises(ValueError, match="on_bad"):
        load_paired(root, on_bad="ignore")
