"""Downloads, caching, hash checks and the offline routes, with file:// archives only.

Every test here runs with Python sockets blocked, so a stray network access fails loudly.
"""
import hashlib
import socket
import tarfile
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from kerasi2i.data import (
    DatasetError,
    detect_layout,
    download_cyclegan,
    download_pix2pix,
    load_cycle_gan_tfds,
    load_paired,
    load_unpaired,
)

SIZE = 16


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Block sockets (recording attempts) and point kerasi2i's data folder into tmp_path."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if args else kwargs)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, *a))
    monkeypatch.setenv("KERASI2I_DATA_DIR", str(tmp_path / "kerasi2i_data"))
    yield attempts
    assert not attempts, f"network was tried: {attempts}"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_facades_tar(tmp_path):
    """facades.tar.gz in the Berkeley layout: facades/{train,val}/N.jpg, each A | B."""
    src = tmp_path / "src"
    pair = np.concatenate([np.full((SIZE, SIZE, 3), 0, np.uint8), np.full((SIZE, SIZE, 3), 255, np.uint8)], axis=1)
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            save(src / "facades" / split / f"{i + 1}.jpg", pair)
    archive = tmp_path / "origin" / "facades.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "facades", arcname="facades")
    return archive


def make_horse2zebra_zip(tmp_path, n_a=2, n_b=4):
    src = tmp_path / "src" / "horse2zebra"
    for split in ("train", "test"):
        for i in range(n_a):
            save(src / f"{split}A" / f"h{i}.jpg", np.full((SIZE, SIZE, 3), 20, np.uint8))
        for i in range(n_b):
            save(src / f"{split}B" / f"z{i}.jpg", np.full((SIZE, SIZE, 3), 230, np.uint8))
    archive = tmp_path / "origin" / "horse2zebra.zip"
    archive.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*.jpg")):
            zf.write(f, f.relative_to(src.parent).as_posix())
    return archive, src


# ----------------------------------------------------------------------------- pix2pix


def test_download_pix2pix_from_file_url(tmp_path):
    archive = make_facades_tar(tmp_path)
    cache = tmp_path / "cache"
    folder = download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert folder == cache / "facades_extracted" / "facades"
    assert detect_layout(folder) == ("berkeley", folder)
    batches = list(load_paired(folder, "train", image_size=SIZE, batch_size=8))
    assert len(batches) == 1 and batches[0][0].shape == (3, SIZE, SIZE, 3)
    # The first download's hash is recorded beside the archive; no part file is left.
    assert (cache / "facades.tar.gz.sha256").read_text().strip() == sha256(archive)
    assert not list(cache.glob("*.part"))

    # A second call uses the cache: it works with the origin gone.
    archive.unlink()
    again = download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert again == folder
    assert len(list(load_paired(again, "val", image_size=SIZE))) == 2

    # A damaged cached archive is caught by the recorded hash.
    with open(cache / "facades.tar.gz", "ab") as f:
        f.write(b"junk")
    with pytest.raises(DatasetError, match="SHA-256") as err:
        download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert str(cache / "facades.tar.gz") in str(err.value)


def test_download_pix2pix_wrong_hash(tmp_path):
    archive = make_facades_tar(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="SHA-256"):
        download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), file_hash="0" * 64, verbose=False)
    # The rejected download is not kept: a later call without the hash must not trust it.
    assert not (cache / "facades.tar.gz").exists()
    assert not (cache / "facades.tar.gz.sha256").exists()
    assert not (cache / "facades_extracted").exists()
    # The right hash (any case) is accepted.
    folder = download_pix2pix(
        "facades", cache_dir=cache, origin=archive.as_uri(), file_hash=sha256(archive).upper(), verbose=False
    )
    assert detect_layout(folder)[0] == "berkeley"


def test_download_offline_fails_fast_with_instructions(tmp_path):
    cache = tmp_path / "cache"
    missing = tmp_path / "nowhere" / "facades.tar.gz"
    start = time.monotonic()
    with pytest.raises(DatasetError) as err:
        download_pix2pix("facades", cache_dir=cache, origin=missing.as_uri(), verbose=False)
    assert time.monotonic() - start < 5
    msg = str(err.value)
    assert str(cache / "facades.tar.gz") in msg  # where to put the archive
    assert "copy it" in msg
    assert not list(cache.glob("facades.tar.gz*"))  # nothing half-written left behind


def test_unknown_names():
    with pytest.raises(ValueError, match="facades") as err:
        download_pix2pix("nonsense")
    assert "edges2shoes" in str(err.value)
    with pytest.raises(ValueError, match="horse2zebra"):
        download_cyclegan("nonsense")


# ----------------------------------------------------------------------------- CycleGAN


def test_download_cyclegan_zip(tmp_path):
    archive, _ = make_horse2zebra_zip(tmp_path)
    cache = tmp_path / "cache"
    folder = download_cyclegan(
        "horse2zebra", cache_dir=cache, origin=archive.as_uri(), file_hash=sha256(archive), verbose=False
    )
    assert folder == cache / "horse2zebra_extracted" / "horse2zebra"
    assert detect_layout(folder) == ("cyclegan", folder)
    items = [(a.numpy(), b.numpy()) for a, b in load_unpaired(folder, image_size=SIZE, seed=0)]
    assert len(items) == 4  # max(2 A, 4 B)
    assert all(a.mean() < -0.5 and b.mean() > 0.5 for a, b in items)

    archive.unlink()  # cached: no second download
    assert download_cyclegan("horse2zebra", cache_dir=cache, origin=archive.as_uri(), verbose=False) == folder


def test_download_cyclegan_wrong_hash(tmp_path):
    archive, _ = make_horse2zebra_zip(tmp_path)
    with pytest.raises(DatasetError, match="SHA-256"):
        download_cyclegan(
            "horse2zebra", cache_dir=tmp_path / "cache", origin=archive.as_uri(), file_hash="ab" * 32, verbose=False
        )


def test_download_cyclegan_damaged_zip(tmp_path):
    """A zip that matches its hash but is not a zip: a DatasetError, and no half extraction."""
    archive = tmp_path / "origin" / "horse2zebra.zip"
    archive.parent.mkdir()
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="damaged"):
        download_cyclegan("horse2zebra", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert not (cache / "horse2zebra_extracted").exists()


# ----------------------------------------------------------------------------- TFDS route


def test_tfds_local_dir_offline(tmp_path):
    _, src = make_horse2zebra_zip(tmp_path, n_a=3, n_b=2)
    items = list(load_cycle_gan_tfds("horse2zebra", "test", local_dir=src, image_size=SIZE, batch_size=1))
    assert len(items) == 3
    assert items[0][0].shape == (1, SIZE, SIZE, 3)


def test_tfds_uses_extracted_download(tmp_path):
    """After download_cyclegan into downloads_root(), the TFDS loader reads it offline."""
    archive, _ = make_horse2zebra_zip(tmp_path)
    download_cyclegan("horse2zebra", origin=archive.as_uri(), file_hash=sha256(archive), verbose=False)
    assert (tmp_path / "kerasi2i_data" / "downloads" / "horse2zebra.zip").exists()
    items = list(load_cycle_gan_tfds("horse2zebra", image_size=SIZE, batch_size=8, training=False))
    assert len(items) == 1 and items[0][1].shape == (4, SIZE, SIZE, 3)


def test_tfds_bogus_name_without_download(tmp_path):
    with pytest.raises(DatasetError, match="not a CycleGAN dataset") as err:
        load_cycle_gan_tfds("bogus", data_dir=tmp_path / "tfds", download=False)
    assert "horse2zebra" in str(err.value)


def test_tfds_download_false_never_reaches_gcs(tmp_path, monkeypatch):
    """Older tensorflow-datasets read dataset info from gs://tfds-data while making a builder."""
    from tensorflow_datasets.core.utils import gcs_utils

    touched = []
    monkeypatch.setattr(gcs_utils, "_is_gcs_disabled", False)  # as in tensorflow-datasets 4.9.4
    monkeypatch.setattr(gcs_utils, "exists", lambda path: touched.append(str(path)) or False)
    start = time.monotonic()
    with pytest.raises(DatasetError, match="horse2zebra.zip") as err:
        load_cycle_gan_tfds("horse2zebra", data_dir=tmp_path / "tfds", download=False)
    assert time.monotonic() - start < 20
    assert not touched, f"GCS was queried: {touched}"
    assert "local_dir" in str(err.value)
    assert gcs_utils._is_gcs_disabled is False  # the loader restores the setting
