"""The kerasi2i command: data build/show, translate on awkward files, errors."""
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from kerasi2i.cli import main
from kerasi2i.deploy.inference import translate_array, translate_files
from kerasi2i.models import unet_generator


@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "generator.keras"
    unet_generator((32, 32, 3), base_filters=4).save(path)
    return path


@pytest.mark.slow
def test_version_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "kerasi2i", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("kerasi2i ")


def test_training_models_are_importable_from_the_top_level():
    import kerasi2i
    from kerasi2i.models.cyclegan import CycleGAN
    from kerasi2i.models.pix2pix import build_pix2pix

    assert kerasi2i.CycleGAN is CycleGAN and kerasi2i.build_pix2pix is build_pix2pix
    assert {"Pix2Pix", "CycleGAN", "VAE", "BicycleGAN", "build_bicyclegan"} <= set(dir(kerasi2i))
    with pytest.raises(AttributeError, match="no attribute 'Cyclegan'"):
        kerasi2i.Cyclegan


def test_data_show_saves_a_grid(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["data", "show", "edges2photo", "--size", "64", "--count", "3", "--output", str(out)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (3 * 64 + 2 * 2, 2 * 64 + 2, 3)
    assert "berkeley" in capsys.readouterr().out


def test_data_show_on_a_missing_folder_is_a_clean_error(tmp_path, capsys):
    assert main(["data", "show", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "nope" in err


def test_translate_handles_sizes_modes_and_bad_files(tmp_path, generator_file, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 90, 3), dtype=np.uint8)).save(inputs / "wide.jpg")
    Image.fromarray(rng.integers(0, 255, (33, 17), dtype=np.uint8)).save(inputs / "grey.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 4), dtype=np.uint8), "RGBA").save(inputs / "rgba.png")
    (inputs / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["translate", "--model", str(generator_file), "--input", str(inputs), "--output", str(out),
                 "--fit", "pad"])
    assert code == 3  # finished, but an input was skipped
    captured = capsys.readouterr()  # skipped files are warnings (stderr), the totals info (stdout)
    assert "skipped" in captured.err and "broken.jpg" in captured.err
    assert "Translated 3 image(s), skipped 1" in captured.out
    sizes = {p.name: Image.open(p).size for p in out.iterdir()}
    assert sizes == {"wide.png": (90, 50), "grey.png": (17, 33), "rgba.png": (40, 40)}


def test_translate_array_resize_and_pad_keep_the_size(generator_file):
    g = keras.saving.load_model(generator_file)
    image = np.random.default_rng(1).integers(0, 255, (21, 70, 3), dtype=np.uint8)
    for fit in ("resize", "pad"):
        assert translate_array(g, image, fit=fit).shape == (21, 70, 3)
    with pytest.raises(ValueError, match="fit"):
        translate_array(g, image, fit="stretch")


def test_translate_missing_input_and_model(tmp_path, generator_file, capsys):
    g = keras.saving.load_model(generator_file)
    with pytest.raises(FileNotFoundError, match="missing"):
        translate_files(g, tmp_path / "missing", tmp_path / "out")
    assert main(["translate", "--model", str(tmp_path / "none.keras"), "--input", ".", "--output", "o"]) == 1
    assert "none.keras" in capsys.readouterr().err
