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
        # no DecompressionBombWarning leaks out either (only it: an unrelated warning from a
        # garbage-collected object of an earlier test must not fail this one)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
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


# ---------------------------------------------------------------- translate: never lose a byte

@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from kerasi2i.models import unet_generator

    path = tmp_path_factory.mktemp("model") / "generator.keras"
    unet_generator((32, 32, 3), base_filters=4).save(path)
    return path


def translate(*args):
    from kerasi2i.cli import main

    return main(["translate", *map(str, args)])


def image_folder(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(side_by_side(i)[:, :SIZE]).save(folder / name)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_translate_into_the_input_folder_is_refused_and_originals_stay(tmp_path, model_file, capsys):
    folder = tmp_path / "photos"
    before = image_folder(folder, ["a_good.png", "b.jpg"])
    assert translate("--model", model_file, "--input", folder, "--output", folder) == 1
    assert "input folder" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    # the same folder spelled differently, and even with --overwrite
    assert translate("--model", model_file, "--input", folder, "--output", folder / ".." / "photos",
                     "--overwrite") == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_translate_a_single_file_onto_itself_is_refused_even_with_overwrite(tmp_path, model_file, capsys):
    folder = tmp_path / "photos"
    before = image_folder(folder, ["a.png"])
    assert translate("--model", model_file, "--input", folder / "a.png", "--output", folder, "--overwrite") == 1
    assert "replace the input image" in capsys.readouterr().err
    assert (folder / "a.png").read_bytes() == before["a.png"]


def test_two_inputs_with_the_same_stem_are_an_error_before_writing(tmp_path, model_file, capsys):
    inputs = tmp_path / "in"
    image_folder(inputs, ["a.jpg", "a.png", "b.png"])
    out = tmp_path / "out"
    assert translate("--model", model_file, "--input", inputs, "--output", out, "--overwrite") == 1
    err = capsys.readouterr().err
    assert "a.jpg" in err and "a.png" in err and "nothing was written" in err
    assert not out.exists() or not any(out.iterdir())


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, model_file, capsys):
    inputs = tmp_path / "in"
    image_folder(inputs, ["a.png", "b.png"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"my own file")
    assert translate("--model", model_file, "--input", inputs, "--output", out) == 1
    err = capsys.readouterr().err
    assert "a.png" in err and "--overwrite" in err and "nothing was written" in err
    assert (out / "a.png").read_bytes() == b"my own file" and not (out / "b.png").exists()
    assert translate("--model", model_file, "--input", inputs, "--output", out, "--overwrite") == 0
    assert Image.open(out / "a.png").size == (SIZE, SIZE) and (out / "b.png").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a_folder_named_like_an_output_is_reported_and_skipped(tmp_path, model_file, capsys):
    inputs = tmp_path / "in"
    image_folder(inputs, ["a.png", "b.png"])
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)
    code = translate("--model", model_file, "--input", inputs, "--output", out)
    captured = capsys.readouterr()
    assert code == 3  # EXIT_SKIPPED: finished, but not everything was translated
    assert "a.png" in captured.err and "is a folder" in captured.err  # a warning: stderr
    assert (out / "a.png").is_dir() and (out / "b.png").is_file()


def test_skipped_inputs_give_exit_code_3(tmp_path, model_file, capsys):
    from kerasi2i.cli import EXIT_SKIPPED

    inputs = tmp_path / "in"
    image_folder(inputs, ["good.png"])
    (inputs / "broken.jpg").write_bytes(b"not an image")
    assert translate("--model", model_file, "--input", inputs, "--output", tmp_path / "out") == EXIT_SKIPPED == 3
    assert "broken.jpg" in capsys.readouterr().err
    assert (tmp_path / "out" / "good.png").exists()


def test_translate_refuses_a_pixel_bomb_before_decoding(tmp_path, model_file, capsys):
    inputs = tmp_path / "in"
    image_folder(inputs, ["good.png"])
    (inputs / "bomb.png").write_bytes(bomb_png())
    assert len((inputs / "bomb.png").read_bytes()) < 250
    code = translate("--model", model_file, "--input", inputs, "--output", tmp_path / "out")
    printed = capsys.readouterr().err  # skipped files are warnings, on stderr
    assert code == 3 and "bomb.png" in printed and "12000x12000" in printed
    # a lower --max-pixels skips images above it
    code = translate("--model", model_file, "--input", inputs / "good.png", "--output", tmp_path / "out2",
                     "--max-pixels", SIZE * SIZE - 1)
    assert code == 3 and not (tmp_path / "out2" / "good.png").exists()


def _save(model, path):
    model.save(path)
    return path


def bad_models(folder):
    import keras

    folder.mkdir(exist_ok=True)
    (folder / "random.keras").write_bytes(np.random.default_rng(0).bytes(4096))
    import zipfile

    with zipfile.ZipFile(folder / "noconfig.keras", "w") as zf:
        zf.writestr("metadata.json", "{}")
    inp = keras.Input((None, None, 3))
    anysize = _save(keras.Model(inp, keras.layers.Conv2D(3, 3, padding="same")(inp)), folder / "anysize.keras")
    a, b = keras.Input((32, 32, 3)), keras.Input((32, 32, 3))
    two = _save(keras.Model([a, b], keras.layers.Add()([a, b])), folder / "two_inputs.keras")
    c = keras.Input((32, 32, 3))
    classifier = _save(keras.Model(c, keras.layers.Dense(10)(keras.layers.Flatten()(c))), folder / "classifier.keras")
    return {"random.keras": "not a Keras model file", "noconfig.keras": "no config.json",
            anysize.name: "fixed input size", two.name: "2 inputs", classifier.name: "not an image"}


def test_bad_model_files_each_get_one_clear_sentence(tmp_path, capsys):
    inputs = tmp_path / "in"
    image_folder(inputs, ["a.png"])
    for name, phrase in bad_models(tmp_path / "models").items():
        out = tmp_path / f"out_{name}"
        code = translate("--model", tmp_path / "models" / name, "--input", inputs, "--output", out)
        err = capsys.readouterr().err
        assert code == 1, name
        assert name in err and phrase in err, (name, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()  # nothing written, no garbage PNGs


# ---------------------------------------------------------------- evaluate: bad images, bad FID weights

def evaluation_data(root):
    berkeley(root)
    (root / "test").mkdir()
    for i in range(2):
        (root / "test" / f"{i}.png").write_bytes(png_bytes(side_by_side(i)))
    (root / "test" / "broken.png").write_bytes(corrupt_middle(png_bytes(side_by_side(9))))
    return root


def test_evaluate_names_a_corrupt_png_and_on_bad_skip_scores_the_rest(tmp_path, model_file, capsys):
    from kerasi2i.cli import main

    data = evaluation_data(tmp_path / "ds")
    args = ["evaluate", "--model", str(model_file), "--data", str(data), "--json", str(tmp_path / "s.json")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "--on-bad skip" in err and "Traceback" not in err
    with pytest.warns(UserWarning, match="Skipped 1 of 3"):
        assert main(args + ["--on-bad", "skip"]) == 0
    import json

    assert json.loads((tmp_path / "s.json").read_text())["images"] == 2


@pytest.mark.parametrize("name", ["junk.h5", "junk.weights.h5", "junk.keras", "junk.bin"])
@pytest.mark.slow
def test_fid_weights_that_are_not_weights_give_a_clear_error(tmp_path, name):
    from kerasi2i.evaluation import WeightsUnavailableError, inception_feature_extractor

    bad = tmp_path / name
    bad.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(WeightsUnavailableError, match=f"{name}.*not an InceptionV3"):
        inception_feature_extractor(weights=str(bad), input_size=75)


@pytest.mark.slow
def test_evaluate_cli_with_bad_fid_weights_is_one_line(tmp_path, model_file, capsys):
    from kerasi2i.cli import main

    data = evaluation_data(tmp_path / "ds")
    (data / "test" / "broken.png").unlink()
    bad = tmp_path / "weights.h5"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["evaluate", "--model", str(model_file), "--data", str(data), "--fid-weights", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "weights.h5" in err and "not an InceptionV3" in err and "Traceback" not in err


# ---------------------------------------------------------------- train: refuse, compare, fall back, clean up

TRAIN = dict(image_size=32, epochs=1, epochs_decay=1, base_filters=8, batch_size=2, verbose=0)


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished two-epoch pix2pix run (checkpoints epoch_0001 and epoch_0002) and its data."""
    from kerasi2i.training.trainer import train_pix2pix

    root = tmp_path_factory.mktemp("run")
    data = root / "data"
    for split, n in (("train", 4), ("val", 2)):
        (data / split).mkdir(parents=True)
        for i in range(n):
            (data / split / f"{i}.png").write_bytes(png_bytes(side_by_side(i, 32)))
    train_pix2pix(data, root / "out", **TRAIN)
    return data, root / "out"


def copy_run(finished_run, tmp_path):
    import shutil

    data, out = finished_run
    shutil.copytree(out, tmp_path / "out")
    return data, tmp_path / "out"


@pytest.mark.slow
def test_train_refuses_a_folder_with_an_earlier_runs_files_but_no_checkpoints(tmp_path, finished_run, capsys):
    import shutil

    from kerasi2i.cli import main

    data, out = copy_run(finished_run, tmp_path)
    shutil.rmtree(out / "checkpoints")
    (out / "config.json").unlink()
    before = snapshot(out)
    assert {"generator.keras", "history.csv"} <= set(before) and any(k.startswith("previews") for k in before)
    args = ["train", "pix2pix", "--data", str(data), "--output", str(out), "--image-size", "32", "--epochs", "1",
            "--epochs-decay", "0", "--base-filters", "8"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "generator.keras" in err and "history.csv" in err and "nothing was overwritten" in err
    assert main(args + ["--resume"]) == 1  # nothing to resume from either
    assert "no checkpoint" in capsys.readouterr().err
    assert snapshot(out) == before


def test_resume_with_other_settings_names_them_and_keeps_config_json(tmp_path, finished_run):
    from kerasi2i.training.trainer import train_pix2pix

    data, out = copy_run(finished_run, tmp_path)
    before = snapshot(out)
    other = tmp_path / "other_data"
    import shutil

    shutil.copytree(data, other)
    with pytest.raises(ValueError) as info:
        train_pix2pix(other, out, **{**TRAIN, "base_filters": 4, "epochs": 3}, resume=True)
    message = str(info.value)
    assert "base_filters (--base-filters): 8 in the saved run, 4 now" in message
    assert "data (--data)" in message and "epochs" not in message  # more epochs is allowed
    assert len(message) < 1500  # not kilobytes of weight arrays
    assert snapshot(out) == before


@pytest.mark.parametrize("damage", ["truncated_weights", "empty_state"])
@pytest.mark.slow
def test_resume_falls_back_from_a_damaged_latest_checkpoint(tmp_path, finished_run, damage):
    import csv

    from kerasi2i.training.trainer import train_pix2pix

    data, out = copy_run(finished_run, tmp_path)
    newest = out / "checkpoints" / "epoch_0002"
    if damage == "truncated_weights":
        weights = newest / "model.weights.h5"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
        why = "model.weights.h5 cannot be loaded"
    else:
        (newest / "state.json").write_text("")
        why = "state.json is empty"
    with pytest.warns(UserWarning, match=r"epoch_0001.*epoch 1.*epoch_0002.*" + why):
        _, history = train_pix2pix(data, out, **TRAIN, resume=True)
    assert history.epoch == [1]  # epoch 2 was trained again from the intact epoch 1
    with open(out / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1]  # no epoch twice


def test_resume_with_no_loadable_checkpoint_is_a_clear_error(tmp_path, finished_run):
    from kerasi2i.training.callbacks import CheckpointError
    from kerasi2i.training.trainer import train_pix2pix

    data, out = copy_run(finished_run, tmp_path)
    for ckpt in (out / "checkpoints").glob("epoch_*"):
        (ckpt / "state.json").write_text("{")
    before = snapshot(out)
    with pytest.raises(CheckpointError, match=r"epoch_0002.*not a checkpoint state.*epoch_0001"):
        train_pix2pix(data, out, **TRAIN, resume=True)
    assert snapshot(out) == before


@pytest.mark.slow
def test_a_run_that_fails_leaves_no_run_behind(tmp_path, finished_run):
    import keras

    from kerasi2i.training.trainer import train_pix2pix

    data, _ = finished_run

    class Crash(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("simulated crash in the first epoch")

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated"):
        train_pix2pix(data, out, **TRAIN, extra_callbacks=[Crash()])
    assert not out.exists()
    train_pix2pix(data, out, **{**TRAIN, "epochs_decay": 0})  # and the folder is usable at once

    bad = tmp_path / "bad_data"
    (bad / "train").mkdir(parents=True)
    (bad / "train" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="x.png"):
        train_pix2pix(bad, tmp_path / "out2", **TRAIN)
    assert not (tmp_path / "out2").exists()


# ---------------------------------------------------------------- downloads and extraction

def _archive_tar(path, members):
    """members: list of (TarInfo kwargs, bytes or None)."""
    import tarfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for kwargs, data in members:
            info = tarfile.TarInfo(kwargs.pop("name"))
            for k, v in kwargs.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _good_member(name="facades/train/1.png"):
    return ({"name": name}, png_bytes(side_by_side(0)))


@pytest.mark.parametrize("with_data_filter", [True, False])
@pytest.mark.parametrize("bad", ["traversal", "absolute", "symlink_out"])
def test_unsafe_tar_is_reported_as_unsafe_and_removed_from_the_cache(tmp_path, monkeypatch, bad, with_data_filter):
    import tarfile

    from kerasi2i.data import download

    monkeypatch.setattr(download, "_HAS_DATA_FILTER", with_data_filter)  # the fallback for Python < 3.10.12
    member = {"traversal": ({"name": "facades/../../evil.txt"}, b"x"),
              "absolute": ({"name": "/tmp/evil.txt"}, b"x"),
              "symlink_out": ({"name": "facades/link", "type": tarfile.SYMTYPE, "linkname": "../../etc"}, None)}[bad]
    archive = _archive_tar(tmp_path / "origin" / "facades.tar.gz", [_good_member(), member])
    cache = tmp_path / "cache"
    with pytest.raises(download.UnsafeArchiveError, match="unsafe") as info:
        download.download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert "damaged" not in str(info.value) and "removed from the cache" in str(info.value)
    assert sorted(p.name for p in cache.iterdir()) == []  # no archive, no .sha256, no *.extracting
    assert not (tmp_path / "evil.txt").exists()


def test_zip_with_a_symlink_member_is_a_clear_error(tmp_path):
    import stat
    import zipfile

    from kerasi2i.data import download

    archive = tmp_path / "origin" / "horse2zebra.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("horse2zebra/trainA")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc")
        zf.writestr("horse2zebra/trainA/h0.png", png_bytes(side_by_side(0)))
    cache = tmp_path / "cache"
    with pytest.raises(download.UnsafeArchiveError, match=r"horse2zebra/trainA.*symbolic link"):
        download.download_cyclegan("horse2zebra", cache_dir=cache, origin=archive.as_uri(), file_hash=None,
                                   verbose=False)
    assert not any(cache.iterdir())


def test_damaged_tar_is_still_damaged_and_leaves_no_extracting_folder(tmp_path):
    from kerasi2i.data import download

    archive = _archive_tar(tmp_path / "origin" / "facades.tar.gz", [_good_member()])
    archive.write_bytes(archive.read_bytes()[:40])
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match="damaged"):
        download.download_pix2pix("facades", cache_dir=cache, origin=archive.as_uri(), verbose=False)
    assert not list(cache.glob("*extract*")) and not list(cache.glob("*.sha256"))  # not trusted


def test_tfds_offline_fails_fast_without_handing_over_to_tfds(tmp_path, monkeypatch):
    import socket

    import tensorflow_datasets as tfds

    from kerasi2i.data import download, loaders

    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(download, "CYCLEGAN_URL", f"http://127.0.0.1:{port}/{{name}}.zip")
    monkeypatch.setenv("KERASI2I_DATA_DIR", str(tmp_path / "kerasi2i_data"))
    handed_over = []

    class FakeBuilder:
        def is_prepared(self):
            return False

        def download_and_prepare(self):
            handed_over.append(True)

    monkeypatch.setattr(tfds, "builder", lambda *a, **k: FakeBuilder())
    with pytest.raises(DatasetError, match=rf"127\.0\.0\.1:{port}.*horse2zebra\.zip"):
        loaders.load_cycle_gan_tfds("horse2zebra", data_dir=tmp_path / "tfds")
    assert not handed_over
    assert download.host_reachable(f"http://127.0.0.1:{port}/", timeout=2) is not None


# ---------------------------------------------------------------- the train CLI names bad files; --on-bad skip

def test_train_pix2pix_cli_names_a_corrupt_png_and_writes_nothing(tmp_path, capsys):
    from kerasi2i.cli import main

    data = berkeley(tmp_path / "ds", bad={"broken.png": corrupt_middle(png_bytes(side_by_side(7)))})
    out = tmp_path / "out"
    code = main(["train", "pix2pix", "--data", str(data), "--output", str(out), "--image-size", "32",
                 "--epochs", "1", "--epochs-decay", "0", "--base-filters", "8"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.png" in err and "--on-bad skip" in err
    assert not out.exists()


@pytest.mark.slow
def test_train_cyclegan_cli_on_bad_skip_trains_on_the_rest(tmp_path, capsys):
    from kerasi2i.cli import main

    data = tmp_path / "ds"
    for d in ("trainA", "trainB", "testA", "testB"):
        (data / d).mkdir(parents=True)
        for i in range(2):
            (data / d / f"{i}.png").write_bytes(png_bytes(side_by_side(i, 32)[:, :32]))
    (data / "trainA" / "bomb.png").write_bytes(bomb_png())
    (data / "trainB" / "broken.png").write_bytes(corrupt_middle(png_bytes(side_by_side(5, 32)[:, :32])))
    out = tmp_path / "out"
    args = ["train", "cyclegan", "--data", str(data), "--output", str(out), "--image-size", "32", "--epochs", "1",
            "--epochs-decay", "0", "--base-filters", "4", "--n-blocks", "1", "--receptive-field", "16",
            "--pool-size", "0", "--steps-per-epoch", "1"]
    assert main(args) == 1
    assert "bomb.png" in capsys.readouterr().err and not out.exists()
    with pytest.warns(UserWarning, match="Skipped 1 of 3"):
        assert main(args + ["--on-bad", "skip"]) == 0
    assert (out / "generator_AtoB.keras").is_file()
