"""kerasi2i.imaging: the one [-1, 1] <-> uint8 conversion (numpy and TensorFlow graph
versions), PNG writing, and the display grids."""
import io

import numpy as np
import pytest
from PIL import Image

from kerasi2i import imaging


def _values():
    """Every uint8 level as a float, the half-way points between levels, and values
    outside [-1, 1]."""
    levels = np.arange(256, dtype=np.float32) / 127.5 - 1.0
    halves = (np.arange(255, dtype=np.float32) + 0.5) / 127.5 - 1.0
    return np.concatenate([levels, halves, np.float32([-3.0, -1.0001, 1.0001, 7.0])])


def test_uint8_round_trip_is_exact():
    u = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    x = imaging.from_uint8(u)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() == 1.0
    assert np.array_equal(imaging.as_uint8(x), u)


def test_as_uint8_rounds_half_to_even_clips_and_keeps_the_shape():
    x = _values()
    expected = np.round(np.clip((x + 1.0) * 127.5, 0, 255)).astype(np.uint8)
    out = imaging.as_uint8(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert np.array_equal(out, expected)
    assert imaging.as_uint8(np.float32([0.0]))[0] == 128                 # 127.5 -> 128 (even)
    assert imaging.as_uint8(np.float32([-3.0, 5.0])).tolist() == [0, 255]
    u = np.array([[3, 200]], np.uint8)
    assert imaging.as_uint8(u) is u                                      # already uint8


def test_as_uint8_computes_in_the_input_float_type():
    x = np.float16([0.3, -0.7, 0.99])
    assert np.array_equal(imaging.as_uint8(x),
                          np.round(np.clip((x + 1.0) * 127.5, 0, 255)).astype(np.uint8))


def test_to_uint8_makes_an_rgb_batch():
    grey = np.zeros((4, 5, 1), np.float32)
    out = imaging.to_uint8(grey)
    assert out.shape == (1, 4, 5, 3) and out.dtype == np.uint8 and (out == 128).all()


def test_tensorflow_versions_match_numpy():
    x = _values()
    assert np.array_equal(imaging.to_uint8_tf(x).numpy(), imaging.as_uint8(x))
    u = np.arange(256, dtype=np.uint8)
    assert np.array_equal(imaging.from_uint8_tf(u).numpy(), imaging.from_uint8(u))


def test_png_bytes_and_save_png(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    grey = rgb[..., :1]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(imaging.png_bytes(rgb)))), rgb)
    decoded = Image.open(io.BytesIO(imaging.png_bytes(grey)))
    assert decoded.mode == "L" and np.array_equal(np.asarray(decoded), grey[..., 0])
    path = imaging.save_png(grey, tmp_path / "grey.png")
    assert np.array_equal(np.asarray(Image.open(path)), grey[..., 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png"]    # no temporary file left
    with pytest.raises(OSError):
        imaging.save_png(rgb, tmp_path / "missing" / "x.png")
    assert not (tmp_path / "missing").exists()


def test_save_grid_writes_the_grid(tmp_path):
    a = np.full((2, 4, 4, 3), -1.0, np.float32)
    b = np.full((2, 4, 4, 1), 1.0, np.float32)
    path = imaging.save_grid(tmp_path / "sub" / "grid.png", [a, b])
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * 4 + 2, 2 * 4 + 2, 3)
    assert (grid[:4, :4] == 0).all() and (grid[:4, 6:] == 255).all()
    with pytest.raises(ValueError, match="at least one"):
        imaging.image_grid([None])
