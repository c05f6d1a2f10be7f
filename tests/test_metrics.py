"""Metrics on batches in [-1, 1]: closed forms and behaviour."""
import math

import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.evaluation import metrics


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
    iou = [1 / (2 + 2 - 1), 2 / (2 + 3 - 2), 3 / (4 + 3 - 3)]
    # Only classes 0-2 appear in a palette of 3 colours: both definitions agree.
    for average in ("reference", "present"):
        s = metrics.segmentation_scores(true, pred, num_classes=3, average=average)
        assert s["pixel_accuracy"] == pytest.approx(6 / 8)
        assert s["class_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 3 / 4) / 3)
        assert s["class_iou"] == pytest.approx(np.mean(iou))
    s = metrics.segmentation_scores(_paint(true), _paint(pred), average="present")
    assert s["pixel_accuracy"] == pytest.approx(6 / 8)
    assert s["class_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 3 / 4) / 3)
    assert s["class_iou"] == pytest.approx(np.mean(iou))
    assert s["confusion"].sum() == 8 and s["confusion"][2, 0] == 1
    assert s["per_class_iou"]["sky"] == pytest.approx(iou[0]) and np.isnan(s["per_class_iou"]["navy"])
    # The reference's definition (the default) averages all 11 palette classes, the 8
    # missing ones as 0.
    s = metrics.segmentation_scores(_paint(true), _paint(pred))
    assert s["average"] == "reference"
    assert s["class_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 3 / 4) / 11)
    assert s["class_iou"] == pytest.approx(np.sum(iou) / 11)
    assert s["per_class_iou"]["navy"] == 0.0
    # [-1, 1] floats with small colour errors map to the nearest palette class; class maps work too.
    noisy = _paint(pred) / 127.5 - 1.0 + 0.03
    assert metrics.segmentation_scores(_paint(true) / 127.5 - 1.0, noisy)["pixel_accuracy"] == pytest.approx(6 / 8)
    assert metrics.segmentation_scores(true, true, num_classes=3)["class_iou"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        metrics.segmentation_scores(true, pred[:1])
    with pytest.raises(ValueError, match="average"):
        metrics.segmentation_scores(true, pred, average="nanmean")
    with pytest.raises(ValueError, match="palette"):
        metrics.segmentation_scores(true, pred, palette="ade20k")


def _reference_get_scores(true, pred, n):
    """phillipi/pix2pix scripts/eval_cityscapes: fast_hist per image, summed, then get_scores."""
    hist = np.zeros((n, n))
    for a, b in zip(true, pred):
        a, b = a.ravel(), b.ravel()
        k = np.where((a >= 0) & (a < n))[0]
        hist += np.bincount(n * a[k].astype(int) + b[k], minlength=n**2).reshape(n, n)
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu), cl_acc, iu


def test_segmentation_scores_reference_definition_closed_form():
    # 11 classes, class 10 missing from the ground truth and the prediction; classes 0-9
    # have 10 pixels each, of which class i gets i + 1 right (the rest predicted as i + 1 mod 10).
    true, pred = [], []
    for c in range(10):
        true += [c] * 10
        pred += [c] * (c + 1) + [(c + 1) % 10] * (9 - c)
    true, pred = np.array(true).reshape(1, 10, 10), np.array(pred).reshape(1, 10, 10)
    accs = np.array([(c + 1) / 10 for c in range(10)])
    # Class c >= 1 is predicted c + 1 times rightly and 10 - c times for class c - 1: 11 in
    # all, so IoU (c + 1) / (10 + 11 - (c + 1)); class 9 spills nothing, so class 0 has 1 / 10.
    ious = np.array([1 / 10] + [(c + 1) / (20 - c) for c in range(1, 10)])
    present = metrics.segmentation_scores(true, pred, num_classes=11, average="present")
    reference = metrics.segmentation_scores(true, pred, num_classes=11)
    assert present["class_accuracy"] == pytest.approx(accs.mean())              # 0.55
    assert reference["class_accuracy"] == pytest.approx(accs.sum() / 11)        # 0.5, i.e. 10/11 of it
    assert present["class_iou"] == pytest.approx(ious.mean())
    assert reference["class_iou"] == pytest.approx(ious.sum() / 11)
    assert reference["pixel_accuracy"] == pytest.approx(present["pixel_accuracy"]) == pytest.approx(0.55)
    expected = _reference_get_scores(true, pred, 11)
    assert (reference["pixel_accuracy"], reference["class_accuracy"], reference["class_iou"]) == pytest.approx(
        expected[:3], rel=1e-12)


@pytest.mark.parametrize("palette", ["facades", "cityscapes", "sample"])
def test_segmentation_scores_agree_with_the_reference_get_scores(palette):
    colors, _, _ = metrics._segmentation_palette(palette)
    n = len(colors)
    rng = np.random.default_rng(len(colors))
    true = rng.integers(0, n - 2, (3, 16, 16))                 # the last two classes never occur
    pred = np.where(rng.random(true.shape) < 0.6, true, rng.integers(0, n, true.shape))
    painted_true, painted_pred = colors[true].astype(np.uint8), colors[pred].astype(np.uint8)
    s = metrics.segmentation_scores(painted_true, painted_pred, palette=palette)
    acc, cl_acc, iou, per_acc, per_iou = _reference_get_scores(true, pred, n)
    assert (s["pixel_accuracy"], s["class_accuracy"], s["class_iou"]) == pytest.approx((acc, cl_acc, iou), rel=1e-12)
    np.testing.assert_allclose(list(s["per_class_iou"].values()), per_iou, rtol=1e-12)
    assert len(s["per_class_iou"]) == n and s["confusion"].sum() == true.size


def test_segmentation_scores_palettes_and_ignored_pixels():
    from kerasi2i.data.cityscapes_classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, VOID_COLORS
    from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE

    assert len(CITYSCAPES_CLASSES) == len(CITYSCAPES_PALETTE) == 19
    assert tuple(CITYSCAPES_PALETTE[CITYSCAPES_CLASSES.index("car")]) == (0, 0, 142)
    # Facades: a map with every class scores 1 against itself, under its own class names.
    ids = np.arange(12).reshape(1, 3, 4)
    s = metrics.segmentation_scores(FACADE_PALETTE[ids], FACADE_PALETTE[ids], palette="facades")
    assert s["class_iou"] == pytest.approx(1.0) and list(s["per_class_iou"]) == list(FACADE_CLASSES)
    # The sample palette would read the facade colours as other classes.
    assert metrics.segmentation_scores(FACADE_PALETTE[ids], FACADE_PALETTE[ids])["class_iou"] < 0.9
    # Cityscapes: ground-truth pixels painted with a void colour are left out (trainId 255),
    # whatever the prediction there.
    true = np.zeros((1, 2, 4, 3), np.uint8)
    true[0, 0] = CITYSCAPES_PALETTE[0]       # road
    true[0, 1] = VOID_COLORS[0]              # unlabeled
    pred = np.zeros_like(true)
    pred[0, 0] = CITYSCAPES_PALETTE[0]
    pred[0, 1] = CITYSCAPES_PALETTE[13]      # car, where the truth is void
    s = metrics.segmentation_scores(true, pred, palette="cityscapes")
    assert s["confusion"].sum() == 4 and s["pixel_accuracy"] == pytest.approx(1.0)
    assert s["per_class_iou"]["road"] == pytest.approx(1.0) and s["class_iou"] == pytest.approx(1 / 19)
    # An explicit palette of K colours; class maps with ids outside [0, K) in the truth are left out.
    custom = np.array([[0, 0, 0], [255, 255, 255]])
    s = metrics.segmentation_scores(np.array([[[0, 1, 255]]]), np.array([[[0, 1, 0]]]), palette=custom)
    assert s["pixel_accuracy"] == pytest.approx(1.0) and list(s["per_class_iou"]) == ["0", "1"]
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        metrics.segmentation_scores(np.array([[[0, 1]]]), np.array([[[0, 5]]]), palette=custom)


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
