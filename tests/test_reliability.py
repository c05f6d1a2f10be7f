"""Nothing lost, nothing crashes (issue 15): each fault made in tmp_path, and what must come out.

No network beyond 127.0.0.1; tiny models (32 px, base_filters 4-8) and a step or two of training.
"""
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import DatasetError, load_paired, load_unpaired
from kerasi2i.data.checks import MAX_PIXELS, ImageTooLargeError, check_pixel_count, decode_check

SIZE = 16


def png_bytes(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def side_by_side(seed=0, size=SIZE):
    return np.random.default_rng(seed).integers(0, 255, (size, 2 * size, 3), dtype=np.uint8)


def corrupt_middle(data):
    """Zero 16 bytes in the middle: the header and the IEND end marker stay intact."""
    data = bytearray(data)
    mid = len(data) // 2
    data[mid:mid + 16] = bytes(16)
    return bytes(data)


def bomb_png(width=12000, height=12000):
    """A PNG whose header declares width x height over ~100 bytes of data, IEND intact."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(100)))
            + chunk(b"IEND", b""))


def berkeley(root, n=3, bad=None):
    """root/{train,val}/N.png side-by-side pairs; `bad` = {name: bytes} written into train/."""
    for split in ("train", "val"):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / split / f"{i + 1}.png").write_bytes(png_bytes(side_by_side(i)))
    for name, data in (bad or {}).items():
        (root / "train" / name).write_bytes(data)
    return root


# ---------------------------------------------------------------- bad images the header check missed

def test_pixel_cap_is_one_shared_function():
    check_pixel_count(MAX_PIXELS, 1)  # exactly at the cap is fine
    with pytest.raises(ImageTooLargeError, match="12000x12000"):
        check_pixel_count(12000, 12000, "'x.png'")
    check_pixel_count(12000, 12000, max_pixels=None)  # disabled


def test_png_corrupted_in_the_middle_is_named_before_training(tmp_path):
    good = png_bytes(side_by_side(7))
    root = berkeley(tmp_path / "ds", bad={"broken.png": corrupt_middle(good)})
    with pytest.raises(DatasetError, match=r"broken\.png.*cannot be decoded") as info:
        load_paired(root, "train", image_size=SIZE)
    assert "--on-bad skip" in str(info.value)


def test_png_declaring_12000x12000_is_refused_by_the_loaders_without_decoding(tmp_path):
    root = berkeley(tmp_path / "ds", bad={"bomb.png": bomb_png()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning leaks out either
        with pytest.raises(ImageTooLargeError, match=r"bomb\.png.*12000x12000"):
            load_paired(root, "train", image_size=SIZE)


def test_on_bad_skip_leaves_out_undecodable_files(tmp_path):
    root = berkeley(tmp_path / "ds", bad={"broken.png": corrupt_middle(png_bytes(side_by_side(7))),
                                          "bomb.png": bomb_png()})
    with pytest.warns(UserWarning, match="Skipped 2 of 5"):
        ds = load_paired(root, "train", image_size=SIZE, on_bad="skip", shuffle=False)
    assert sum(int(x.shape[0]) for x, _ in ds) == 3


def test_unpaired_loader_decode_checks_too(tmp_path):
    for d in ("trainA", "trainB"):
        (tmp_path / d).mkdir()
        for i in range(2):
            (tmp_path / d / f"{i}.png").write_bytes(png_bytes(side_by_side(i)[:, :SIZE]))
    (tmp_path / "trainB" / "bad.png").write_bytes(corrupt_middle(png_bytes(side_by_side(5)[:, :SIZE])))
    with pytest.raises(DatasetError, match=r"trainB.bad\.png"):
        load_unpaired(tmp_path, "train", image_size=SIZE)


def test_decode_verdict_is_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    import tensorflow as tf

    f = tmp_path / "a.png"
    f.write_bytes(png_bytes(side_by_side(1)))
    calls = []
    real = tf.io.decode_image
    monkeypatch.setattr(tf.io, "decode_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    decode_check(f)
    decode_check(f)
    assert len(calls) == 1
    f.write_bytes(corrupt_middle(png_bytes(side_by_side(1))))  # same path, new size/mtime: decoded again
    with pytest.raises(DatasetError, match="a.png"):
        decode_check(f)
    assert len(calls) == 2
