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


def test_ms_ssim_scales_and_small_images():
    assert [metrics.ms_ssim_scales(s) for s in (8, 22, 64, 128, 176, 256)] == [1, 2, 3, 4, 5, 5]
    for size in (8, 64):
        a = images(5, n=2, size=size)
        np.testing.assert_allclose(metrics.ms_ssim(a, a), 1.0, rtol=1e-5)
        worse = metrics.ms_ssim(a, np.clip(a + images(6, n=2, size=size) * 0.5, -1, 1))
        assert np.all(np.asarray(worse) < 0.99)
    # Explicit power factors pick the scales: one factor is plain SSIM.
    a = images(7, size=32)
    b = np.clip(a + images(8, size=32) * 0.5, -1, 1)
    np.testing.assert_allclose(metrics.ms_ssim(a, b, power_factors=(1.0,)), metrics.ssim(a, b), rtol=1e-4)
    m = metrics.MSSSIM()
    m.update_state(a, a)
    assert m.name == "ms_ssim" and float(m.result()) == pytest.approx(1.0, abs=1e-5)


def _paint(ids):
    from kerasi2i.data.samples import PALETTE

    return PALETTE[np.asarray(ids)].astype(np.uint8)


def test_segmentation_scores_on_hand_made_label_maps():
    true = np.array([[[0, 0], [1, 1]], [[2, 2], [2, 2]]])       # 2 maps of 2x2: class counts 2, 2, 4
    pred = np.array([[[0, 1], [1, 1]], [[2, 2], [0, 2]]])
    # confusion: class0 -> 1 right, 1 as class1; class1 -> 2 right; class2 -> 3 right, 1 as class0
    s = metrics.segmentation_scores(_paint(true), _paint(pred))
    assert s["pixel_accuracy"] == pytest.approx(6 / 8)
    assert s["class_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 3 / 4) / 3)
    iou = [1 / (2 + 2 - 1), 2 / (2 + 3 - 2), 3 / (4 + 3 - 3)]
    assert s["class_iou"] == pytest.approx(np.mean(iou))
    assert s["confusion"].sum() == 8 and s["confusion"][2, 0] == 1
    assert s["per_class_iou"]["sky"] == pytest.approx(iou[0])
    # [-1, 1] floats with small colour errors map to the nearest palette class; class maps work too.
    noisy = _paint(pred) / 127.5 - 1.0 + 0.03
    assert metrics.segmentation_scores(_paint(true) / 127.5 - 1.0, noisy)["pixel_accuracy"] == pytest.approx(6 / 8)
    assert metrics.segmentation_scores(true, true)["class_iou"] == 1.0
    with pytest.raises(ValueError, match="shape"):
        metrics.segmentation_scores(true, pred[:1])


def test_diversity_zero_for_identical_and_known_values():
    x = images(9, n=1)[0]
    assert metrics.diversity(np.stack([x, x, x])) == 0.0
    consts = np.stack([np.full((4, 4, 3), v, "float32") for v in (0.0, 0.5, 1.0)])
    assert metrics.diversity(consts) == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # batch version: k=2 batches of 2 inputs; input 0 identical, input 1 differs by 0.25
    b0 = np.zeros((2, 4, 4, 3))
    b1 = np.stack([np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.25)])
    np.testing.assert_allclose(metrics.diversity([b0, b1]), [0.0, 0.25])
    np.testing.assert_allclose(metrics.diversity(np.stack([b0, b1])), [0.0, 0.25])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.diversity(x[None])
