"""Image quality metrics on batches in [-1, 1], as plain functions and as Keras metrics.

The functions return one value per image (shape (batch,)); the Keras metrics average them,
so they work in `compile(metrics=...)`, `evaluate` and the training models' `test_step`.
"""
import keras
import numpy as np
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


def high_frequency_energy(images):
    """Mean squared Laplacian response per image (grey, [0, 1] scale): how much fine
    detail an image has. Blurry outputs score low."""
    grey = tf.image.rgb_to_grayscale(_unit(images)) if images.shape[-1] == 3 else _unit(images)
    kernel = tf.constant([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[:, :, None, None]
    response = tf.nn.conv2d(grey, kernel, strides=1, padding="VALID")
    return ops.mean(ops.square(response), axis=(1, 2, 3))


def sharpness(y_true, y_pred):
    """High-frequency energy of the output relative to the target's, per image: about 1
    for outputs as detailed as real images, well below 1 for blurry ones. L1 rewards blur;
    this shows it."""
    return high_frequency_energy(y_pred) / (high_frequency_energy(y_true) + 1e-8)


def score_translation(generator, dataset, training=False):
    """Mean L1, PSNR, SSIM and sharpness of `generator(input)` against the target over a
    paired dataset of `(input, target)` batches. `generator=None` scores the identity
    baseline (the input itself as the output; grey inputs are repeated to RGB)."""
    fns = {"l1": l1, "psnr": psnr, "ssim": ssim, "sharpness": sharpness}
    values = {name: [] for name in fns}
    for x, y in dataset:
        out = x if generator is None else generator(x, training=training)
        if out.shape[-1] != y.shape[-1]:
            out = ops.repeat(out, y.shape[-1], axis=-1)
        for name, fn in fns.items():
            values[name].extend(np.asarray(fn(y, out)).tolist())
    return {name: float(np.mean(v)) for name, v in values.items()}
