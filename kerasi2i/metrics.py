"""Image quality metrics on batches in [-1, 1], as plain functions and as Keras metrics.

The functions return one value per image (shape (batch,)); the Keras metrics average them,
so they work in `compile(metrics=...)`, `evaluate` and the training models' `test_step`.
"""
import keras
import tensorflow as tf
from keras import ops


def _unit(images):
    return ops.clip((ops.convert_to_tensor(images, "float32") + 1.0) / 2.0, 0.0, 1.0)


def l1(y_true, y_pred):
    """Mean absolute error per image, in the [-1, 1] scale the models use."""
    diff = ops.abs(ops.convert_to_tensor(y_true, "float32") - ops.convert_to_tensor(y_pred, "float32"))
    return ops.mean(diff, axis=(1, 2, 3))


def psnr(y_true, y_pred):
    """Peak signal-to-noise ratio in dB per image, computed on [0, 1]."""
    return tf.image.psnr(_unit(y_true), _unit(y_pred), max_val=1.0)


def ssim(y_true, y_pred):
    """Structural similarity per image (Gaussian window 11, sigma 1.5, on [0, 1]).

    Images smaller than 11 pixels use a window as large as the image allows.
    """
    a, b = _unit(y_true), _unit(y_pred)
    size = min(11, int(a.shape[1] or 11), int(a.shape[2] or 11))
    return tf.image.ssim(a, b, max_val=1.0, filter_size=size)


def L1(name="l1"):
    """`l1` as a Keras metric (mean over images)."""
    return keras.metrics.MeanMetricWrapper(l1, name=name)


def PSNR(name="psnr"):
    return keras.metrics.MeanMetricWrapper(psnr, name=name)


def SSIM(name="ssim"):
    return keras.metrics.MeanMetricWrapper(ssim, name=name)
