"""Exporting a trained generator for deployment: TensorFlow SavedModel and TFLite.

Both formats take and return **uint8 images** ``(batch, height, width, channels)``; the
pre- and post-processing the training pipeline does in Python is inside the exported
graph::

    uint8 -> float32 / 127.5 - 1 -> generator (inference mode) -> round((y + 1) * 127.5) -> uint8

so a server, a phone or a browser feeds decoded image pixels and gets pixels back.

    from kerasi2i.deploy.export import export_savedmodel, export_tflite, load_exported

    export_savedmodel(generator, "exported/generator")            # a folder
    export_tflite(generator, "exported/generator.tflite", quantize="float16")
    translate = load_exported("exported/generator.tflite")       # or the SavedModel folder
    out = translate(images_uint8)                                  # (bs, H, W, C) uint8

The SavedModel has the signature ``serving_default`` (and the function ``serve``) with one
input ``images`` and one output ``images``; TensorFlow Serving, ``tf.saved_model.load``
and the TFLite converter read it. The TFLite flatbuffer has the same signature.
Quantization (``quantize=``):

- ``"none"``: float32 weights and arithmetic, the size of the Keras weights;
- ``"float16"``: weights stored as float16 (half the size), computed in float32 on CPUs
  (GPU delegates may compute in float16);
- ``"dynamic"``: dynamic-range quantization, weights int8 (a quarter of the size),
  activations quantized on the fly per batch for the int8 kernels. Tensors with fewer
  than 1024 elements stay float (the converter's rule). On x86 CPUs this is much
  *slower* for the U-Net with transposed convolutions (60x for ``unet_256``: TFLite's
  hybrid transposed convolution has no fast kernel); with ``upsampling="resize"`` it is
  the fastest variant. Use it for size, after measuring on the target.

How close each export is to ``generator`` (uint8 levels, 0-255), as
``tests/test_export.py`` checks on a small random U-Net (32x32, batch norm, weights
re-drawn at He scale so that its outputs span the whole range); measured values in
brackets:

| export | max abs difference | mean abs difference |
|---|---|---|
| SavedModel | <= 1 (0) | <= 0.01 (0) |
| TFLite ``none`` | <= 1 (0) | <= 0.01 (0) |
| TFLite ``float16`` | <= 3 (1) | <= 0.1 (0.02) |
| TFLite ``dynamic`` | <= 16 (3-5) | <= 1.5 (0.25-0.4) |

A difference of 1 is a rounding flip between two float32 kernels. float16 rounds the
weights (11 significant bits); dynamic range quantizes weights to 255 levels per output
channel and activations per batch, so its error is largest where activations are
large. ``benchmarks/inference.py`` (``unet_256``) and ``notebooks/07_deployment.ipynb``
(a trained small model, also against the target photos) report the errors of each
variant next to its size and speed.

TFLite interpreters: ``ai_edge_litert`` (LiteRT, the successor, installed with the
``deploy`` and ``dev`` extras) is used when present, else ``tf.lite.Interpreter``, which
TensorFlow 2.21 still ships but has deprecated. Conversion uses
``tf.lite.TFLiteConverter`` from the exported SavedModel (what Keras 3 itself does in
``TFLiteConverter.from_keras_model``; converting a hand-made ``tf.Module`` around a
Keras 3 model gave NaN outputs in TF 2.21).
"""
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

from kerasi2i.imaging import as_uint8, from_uint8, from_uint8_tf, to_uint8_tf

FORMATS = ("savedmodel", "tflite")
QUANTIZATIONS = ("none", "float16", "dynamic")
SIGNATURE = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "images"


# --------------------------------------------------------------------------------------
# The pre/post-processing, as numpy (the Keras reference) and as a TF graph (exported)
# --------------------------------------------------------------------------------------
# Both are `kerasi2i.imaging`'s, which also has the graph versions that `export_savedmodel` uses.
def to_model_input(images):
    """uint8 images -> float32 in [-1, 1], as the loaders produce (`imaging.from_uint8`)."""
    return from_uint8(images)


def to_uint8(outputs):
    """Generator outputs in [-1, 1] -> uint8, computed in float32 and rounded half to even,
    as the exported graph (`imaging.as_uint8`)."""
    return as_uint8(np.asarray(outputs, dtype=np.float32))


def run_keras(generator, images, batch_size=16):
    """The reference the exports are compared with: ``generator`` on uint8 images with
    the same pre/post-processing, in inference mode; returns uint8."""
    images = _check_images(images, generator.input_shape)
    out = [
        to_uint8(keras.ops.convert_to_numpy(generator(to_model_input(images[i:i + batch_size]), training=False)))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out)


def _check_images(images, input_shape):
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images, got dtype {images.dtype}.")
    if images.ndim == 3:
        images = images[None]
    expected = tuple(input_shape[1:])
    if images.ndim != 4 or any(e is not None and e != s for e, s in zip(expected, images.shape[1:])):
        raise ValueError(
            f"Expected images of shape (batch, {', '.join(str(e) for e in expected)}); got {images.shape}."
        )
    return images


def _as_generator(model):
    if isinstance(model, (str, os.PathLike)):
        from kerasi2i.deploy.inference import load_generator

        return load_generator(model)
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model or a .keras file, got {type(model).__name__}.")
    return model


def _warn_slow_dynamic(generator):
    """Dynamic-range int8 is a size option, not a speed one, for generators with transposed
    convolutions: TFLite's hybrid transposed convolution has no fast x86 kernel."""
    transposed = [layer.name for layer in generator._flatten_layers(include_self=False)
                  if isinstance(layer, keras.layers.Conv2DTranspose)]
    if transposed:
        warnings.warn(
            f"quantize='dynamic' on a generator with {len(transposed)} transposed convolutions "
            f"({transposed[0]}, ...): the file is a quarter of the size, but on x86 CPUs it runs far "
            "slower than float32 (60x for unet_256; benchmarks/inference.py measures it), as TFLite's "
            "hybrid int8 transposed convolution has no fast kernel. For speed export 'none' or 'float16', "
            "or train with upsampling='resize'.", stacklevel=3)


def _check_quantize(quantize):
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}.")


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------
def export_savedmodel(model, path, verbose=False):
    """Write ``model`` (a generator or a ``.keras`` file) as a SavedModel folder whose
    ``serving_default`` signature maps uint8 ``images`` to uint8 ``images``.

    Uses ``keras.export.ExportArchive`` (Keras 3's SavedModel writer) with one endpoint
    that wraps the generator in the uint8 conversions. Height and width are the
    generator's (``None`` dimensions stay dynamic); the batch is dynamic. Returns the path.
    """
    import tensorflow as tf  # the SavedModel format is the point here

    generator = _as_generator(model)
    _, height, width, channels = generator.input_shape

    def serve(images):
        y = tf.cast(generator(from_uint8_tf(images), training=False), tf.float32)  # float32 even under mixed precision
        return {OUTPUT_NAME: to_uint8_tf(y)}

    path = Path(path)
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    archive = keras.export.ExportArchive()
    # No archive.track(generator): the endpoint's variables are saved anyway, and tracking
    # the model as well stores every weight twice (Keras 3.15: once as keras.Variable,
    # once as the tf.Variable the graph uses), doubling the SavedModel.
    archive.add_endpoint(
        "serve", serve,
        input_signature=[tf.TensorSpec((None, height, width, channels), tf.uint8, name=INPUT_NAME)],
    )
    archive.write_out(str(path), verbose=verbose)
    return path


def export_tflite(model, path, quantize="none"):
    """Write a TFLite flatbuffer of ``model`` (a generator, a ``.keras`` file or a
    SavedModel folder from :func:`export_savedmodel`) with the same uint8 signature.

    ``quantize``: ``"none"`` (float32), ``"float16"`` (float16 weights) or ``"dynamic"``
    (int8 weights, dynamic-range activations). Returns the path.
    """
    import tensorflow as tf

    _check_quantize(quantize)
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
            saved = Path(model)
        else:
            model = _as_generator(model)
            if quantize == "dynamic":
                _warn_slow_dynamic(model)
            saved = export_savedmodel(model, Path(tmp) / "savedmodel")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer = converter.convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(flatbuffer)
    return path


def export(model, output, format="savedmodel", quantize="none"):
    """What ``kerasi2i export`` does: a SavedModel folder or a ``.tflite`` file."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}.")
    _check_quantize(quantize)
    if format == "savedmodel":
        if quantize != "none":
            raise ValueError("Quantization applies to TFLite only; use --format tflite with --quantize.")
        return export_savedmodel(model, output)
    return export_tflite(model, output, quantize=quantize)


# --------------------------------------------------------------------------------------
# Load and run
# --------------------------------------------------------------------------------------
class SavedModelTranslator:
    """Calls the ``serving_default`` signature of an exported SavedModel on uint8 numpy
    images: ``SavedModelTranslator(path)(images) -> uint8``."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"SavedModel folder '{self.path}' does not exist.")
        self._tf = tf
        self.module = tf.saved_model.load(str(self.path))
        self.signature = self.module.signatures[SIGNATURE]
        spec = self.signature.structured_input_signature[1][INPUT_NAME]
        self.input_shape = tuple(spec.shape)

    def __call__(self, images):
        images = _check_images(images, self.input_shape)
        return self.signature(**{INPUT_NAME: self._tf.constant(images)})[OUTPUT_NAME].numpy()


def _interpreter(path, num_threads=None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TensorFlow's own, deprecated since 2.20 but still there in 2.21
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return Interpreter(model_path=str(path), num_threads=num_threads)


class TFLiteTranslator:
    """Runs an exported ``.tflite`` file on uint8 numpy images through its signature;
    the input is resized to each call's batch size."""

    def __init__(self, path, num_threads=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TFLite file '{self.path}' does not exist.")
        self.interpreter = _interpreter(self.path, num_threads)
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        detail = self.runner.get_input_details()[INPUT_NAME]
        self.input_shape = tuple(None if s < 0 else int(s) for s in detail["shape_signature"])

    def __call__(self, images):
        images = _check_images(images, self.input_shape)
        return self.runner(**{INPUT_NAME: np.ascontiguousarray(images)})[OUTPUT_NAME]


def load_exported(path, num_threads=None):
    """A callable uint8 -> uint8 for an exported model: a SavedModel folder or a
    ``.tflite`` file."""
    path = Path(path)
    if path.is_dir():
        return SavedModelTranslator(path)
    if path.suffix == ".tflite":
        return TFLiteTranslator(path, num_threads=num_threads)
    raise ValueError(f"'{path}' is neither a SavedModel folder nor a .tflite file.")


def folder_size(path):
    """Bytes of a file, or of all files in a folder (a SavedModel)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
