"""Export to SavedModel and TFLite: uint8 signatures, outputs close to the Keras model
within the tolerances stated in `kerasi2i.deploy.export`, the interpreter runs, sizes shrink."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.deploy import export as kexport
from kerasi2i.cli import main
from kerasi2i.models import unet_generator

SIZE = 32
# (max, mean) absolute difference from the Keras model in uint8 levels, per export; the
# table in kerasi2i/deploy/export.py's docstring.
TOLERANCES = {
    "savedmodel": (1, 0.01),
    "none": (1, 0.01),
    "float16": (3, 0.1),
    "dynamic": (16, 1.5),
}


def lively_generator(seed=0):
    """A tiny U-Net whose outputs span 0-255: the default N(0, 0.02) initialisation gives
    outputs within a few levels of grey, which any export would match. Kernels are
    redrawn at He scale and the batch-norm statistics made non-trivial, so that the
    exported graphs must fold them correctly."""
    g = unet_generator((SIZE, SIZE, 3), base_filters=4)
    rng = np.random.default_rng(seed)
    for layer in g.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel (kh, kw, out, in)
            fan_in = np.prod(layer.kernel.shape[:2]) * layer.kernel.shape[3] / 4
            layer.kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(rng.normal(0, np.sqrt(2 / np.prod(layer.kernel.shape[:3])), layer.kernel.shape))
        elif isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, n))
            layer.beta.assign(rng.normal(0, 0.2, n))
            layer.moving_mean.assign(rng.normal(0, 0.5, n))
            layer.moving_variance.assign(rng.uniform(0.5, 2, n))
    return g


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The generator, test images, and every export (one SavedModel, three TFLite files)."""
    root = tmp_path_factory.mktemp("export")
    generator = lively_generator()
    images = np.random.default_rng(1).integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    paths = {"savedmodel": kexport.export_savedmodel(generator, root / "savedmodel")}
    for quantize in kexport.QUANTIZATIONS:
        paths[quantize] = kexport.export_tflite(paths["savedmodel"], root / f"g_{quantize}.tflite", quantize=quantize)
    return generator, images, paths


@pytest.mark.slow
def test_the_reference_output_is_not_trivial(exported):
    generator, images, _ = exported
    reference = kexport.run_keras(generator, images)
    assert reference.dtype == np.uint8 and reference.shape == images.shape
    assert reference.std() > 40  # spread over the range: a wrong export cannot match by luck
    other = kexport.run_keras(lively_generator(seed=1), images)
    assert np.abs(other.astype(int) - reference).mean() > 20


@pytest.mark.parametrize("export", list(TOLERANCES))
def test_export_matches_the_keras_model(exported, export):
    generator, images, paths = exported
    reference = kexport.run_keras(generator, images).astype(int)
    translate = kexport.load_exported(paths[export])
    for batch in (images, images[:1]):  # the batch dimension is dynamic in both formats
        out = translate(batch)
        assert out.dtype == np.uint8 and out.shape == batch.shape
        diff = np.abs(out.astype(int) - reference[: len(batch)])
        max_tol, mean_tol = TOLERANCES[export]
        assert diff.max() <= max_tol and diff.mean() <= mean_tol, (export, diff.max(), diff.mean())


def test_savedmodel_signature_takes_and_returns_uint8(exported):
    _, images, paths = exported
    loaded = tf.saved_model.load(str(paths["savedmodel"]))
    signature = loaded.signatures["serving_default"]
    spec = signature.structured_input_signature[1]["images"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, SIZE, SIZE, 3]
    assert signature.structured_outputs["images"].dtype == tf.uint8
    out = signature(images=tf.constant(images))["images"]
    np.testing.assert_array_equal(out.numpy(), loaded.serve(tf.constant(images))["images"].numpy())


def test_savedmodel_stores_each_weight_once(exported):
    generator, _, paths = exported
    reader = tf.train.load_checkpoint(str(paths["savedmodel"] / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items()
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == sum(int(np.prod(w.shape)) for w in generator.weights)


def test_tflite_signature_and_interpreter(exported):
    _, _, paths = exported
    runner = kexport.load_exported(paths["none"])
    details = runner.runner.get_input_details()["images"]
    assert details["dtype"] == np.uint8
    assert list(details["shape_signature"]) == [-1, SIZE, SIZE, 3]
    assert runner.runner.get_output_details()["images"]["dtype"] == np.uint8


def test_quantization_shrinks_the_file(exported):
    _, _, paths = exported
    size = {q: kexport.folder_size(paths[q]) for q in kexport.QUANTIZATIONS}
    assert size["float16"] < 0.65 * size["none"]  # tiny layers and the graph stay as they are
    assert size["dynamic"] < 0.4 * size["none"]


def test_wrong_inputs_are_clear_errors(exported, tmp_path):
    generator, images, paths = exported
    translate = kexport.load_exported(paths["dynamic"])
    with pytest.raises(ValueError, match="uint8"):
        translate(images.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        translate(images[:, :16])
    with pytest.raises(ValueError, match="quantize"):
        kexport.export_tflite(generator, tmp_path / "x.tflite", quantize="int4")
    with pytest.raises(ValueError, match="neither"):
        kexport.load_exported(tmp_path / "model.onnx")


def test_cli_export(exported, tmp_path, capsys):
    generator, images, _ = exported
    model = tmp_path / "generator.keras"
    generator.save(model)
    out = tmp_path / "exported"
    assert main(["export", "--model", str(model), "--format", "savedmodel", "--output", str(out)]) == 0
    assert "Wrote" in capsys.readouterr().out
    diff = kexport.load_exported(out)(images).astype(int) - kexport.run_keras(generator, images)
    assert np.abs(diff).max() <= TOLERANCES["savedmodel"][0]
    assert main(["export", "--model", str(model), "--quantize", "float16", "--output", str(tmp_path / "x")]) == 1
    assert "TFLite only" in capsys.readouterr().err


def test_dynamic_int8_warns_that_transposed_convolutions_are_slow(tmp_path):
    """Dynamic-range int8 is offered for size, not speed: with transposed convolutions (the
    default U-Net) TFLite has no fast x86 kernel, and the export says so."""
    transposed = unet_generator((SIZE, SIZE, 3), base_filters=4)
    with pytest.warns(UserWarning, match="transposed convolutions .* far slower"):
        kexport.export_tflite(transposed, tmp_path / "t.tflite", quantize="dynamic")
    resize = unet_generator((SIZE, SIZE, 3), base_filters=4, upsampling="resize")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        kexport._warn_slow_dynamic(resize)  # no transposed convolution, no warning
