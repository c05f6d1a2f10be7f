"""Metrics on batches in [-1, 1]: closed forms and behaviour."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i import metrics


def images(seed=0, n=3, size=32):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")


def test_l1_psnr_ssim_closed_forms():
    a = images()
    b = np.clip(a + 0.2, -1, 1)
    np.testing.assert_allclose(metrics.l1(a, a), 0.0)
    np.testing.assert_allclose(metrics.l1(a, b), np.mean(np.abs(a - b), axis=(1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(metrics.ssim(a, a), 1.0, rtol=1e-5)
    # PSNR on [0, 1]: a constant offset of 0.1 (0.2 in [-1, 1]) gives 20 dB.
    flat = np.zeros((1, 16, 16, 3), "float32")
    assert float(metrics.psnr(flat, flat + 0.2)[0]) == pytest.approx(20.0, abs=1e-3)
    assert float(metrics.ssim(a, b)[0]) < 1.0


def test_keras_metric_wrappers_average_over_images():
    a, b = images(1), images(2)
    m = metrics.L1()
    m.update_state(a, b)
    assert float(m.result()) == pytest.approx(float(np.mean(metrics.l1(a, b))), rel=1e-6)
    assert metrics.PSNR().name == "psnr" and metrics.SSIM().name == "ssim"


def test_sharpness_is_low_for_blurred_outputs():
    target = images(3, size=64)
    blurred = tf.nn.avg_pool2d(target, 5, 1, "SAME").numpy()
    np.testing.assert_allclose(metrics.sharpness(target, target), 1.0, rtol=1e-5)
    assert float(np.max(metrics.sharpness(target, blurred))) < 0.2


def test_score_translation_identity_and_generator():
    x = images(4)
    y = np.clip(x * 0.5, -1, 1)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    identity = metrics.score_translation(None, ds)
    assert identity["l1"] == pytest.approx(float(np.mean(np.abs(x - y))), rel=1e-5)
    perfect = metrics.score_translation(lambda t, training=False: t * 0.5, ds)
    assert perfect["l1"] == pytest.approx(0.0, abs=1e-6) and perfect["ssim"] == pytest.approx(1.0, abs=1e-4)
    assert math.isinf(perfect["psnr"]) or perfect["psnr"] > 60
    # A grey (1-channel) identity against RGB targets is repeated to 3 channels.
    grey = tf.data.Dataset.from_tensor_slices((x[..., :1], y)).batch(2)
    assert np.isfinite(metrics.score_translation(None, grey)["l1"])
