"""Image quality metrics on batches in [-1, 1], as plain functions and as Keras metrics.

The functions return one value per image (shape (batch,)); the Keras metrics average them,
so they work in `compile(metrics=...)`, `evaluate` and the training models' `test_step`.

Also here: `ms_ssim` (multi-scale SSIM, with fewer scales for small images),
`segmentation_scores` (per-pixel accuracy, per-class accuracy and class IoU of a
photo -> labels translation, the papers' FCN-score columns computed on the output label
map) and `diversity` (mean pairwise L1 between several outputs for one input).
FID and KID live in `kerasi2i.evaluation`.
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


MS_SSIM_POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, 5 scales


def ms_ssim_scales(size, filter_size=11, max_scales=5):
    """How many scales multi-scale SSIM uses for images of `size` pixels (the smaller side).

    Each scale halves the image and the coarsest one must still hold the 11-pixel window:
    the standard 5 scales need images of at least 176 px (11 * 2**4); 64 px images get 3.
    """
    size = int(size)
    if size < filter_size:
        return 1
    return int(min(max_scales, np.floor(np.log2(size / filter_size)) + 1))


def ms_ssim(y_true, y_pred, power_factors=None):
    """Multi-scale SSIM per image (Wang, Simoncelli & Bovik 2003) on [0, 1], via
    `tf.image.ssim_multiscale`.

    The standard five scales need images of about 176 px or more. Smaller images use the
    first `ms_ssim_scales(size)` of the standard power factors, renormalised to sum to 1
    (64 px: 3 scales), and images under 11 px a single scale with a window as large as the
    image (plain SSIM). Values are then comparable between runs at the same size only.
    Pass `power_factors` to choose the weights (and so the number of scales) yourself.
    """
    a, b = _unit(y_true), _unit(y_pred)
    size = min(int(a.shape[1]), int(a.shape[2]))
    filter_size = min(11, size)
    if power_factors is None:
        n = ms_ssim_scales(size)
        power_factors = np.asarray(MS_SSIM_POWER_FACTORS[:n])
        power_factors = tuple(float(f) for f in power_factors / power_factors.sum())
    return tf.image.ssim_multiscale(a, b, max_val=1.0, power_factors=power_factors, filter_size=filter_size)


def L1(name="l1"):
    """`l1` as a Keras metric (mean over images)."""
    return keras.metrics.MeanMetricWrapper(l1, name=name)


def PSNR(name="psnr"):
    return keras.metrics.MeanMetricWrapper(psnr, name=name)


def SSIM(name="ssim"):
    return keras.metrics.MeanMetricWrapper(ssim, name=name)


def MSSSIM(name="ms_ssim"):
    """`ms_ssim` as a Keras metric (mean over images)."""
    return keras.metrics.MeanMetricWrapper(ms_ssim, name=name)


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


def _label_ids(images):
    """Class-id maps (N, H, W) from painted label images ([-1, 1] float or uint8, RGB) or
    from integer class maps (N, H, W) passed as they are."""
    from kerasi2i.data.samples import labels_from_colors

    images = np.asarray(images)
    if images.ndim == 3 and np.issubdtype(images.dtype, np.integer):
        return images.astype(np.int64)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Expected RGB label images (N, H, W, 3) or class maps (N, H, W); got shape {images.shape}.")
    if images.dtype != np.uint8:
        images = np.round((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.stack([labels_from_colors(im) for im in images])


def segmentation_scores(true_label_images, predicted_images, num_classes=None):
    """Per-pixel accuracy, per-class accuracy and class IoU of predicted label maps.

    The pix2pix paper's FCN-score columns for photo -> labels, computed directly on the
    output label map: every pixel is given the nearest `PALETTE` colour's class
    (`kerasi2i.data.samples.labels_from_colors`) in both the prediction and the ground
    truth. Inputs are batches of painted label images in [-1, 1] or uint8 (N, H, W, 3), or
    integer class maps (N, H, W). One confusion matrix is accumulated over the whole set
    (as the reference evaluation does); per-class accuracy averages over the classes in
    the ground truth, IoU over the classes in the ground truth or the prediction.

    Returns a dict: pixel_accuracy, class_accuracy, class_iou (the means), per_class_iou
    (class name -> IoU, NaN where the class is absent from both) and confusion (the matrix,
    rows = true class, columns = predicted).
    """
    from kerasi2i.data.samples import LABEL_CLASSES, PALETTE

    num_classes = num_classes or len(PALETTE)
    true, pred = _label_ids(true_label_images), _label_ids(predicted_images)
    if true.shape != pred.shape:
        raise ValueError(f"Ground truth and predictions differ in shape: {true.shape} vs {pred.shape}.")
    confusion = np.bincount(num_classes * true.ravel() + pred.ravel(), minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    diag = np.diag(confusion).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        class_acc = diag / confusion.sum(axis=1)
        iou = diag / (confusion.sum(axis=1) + confusion.sum(axis=0) - diag)
    names = list(LABEL_CLASSES) + [str(i) for i in range(len(LABEL_CLASSES), num_classes)]
    return {
        "pixel_accuracy": float(diag.sum() / confusion.sum()),
        "class_accuracy": float(np.nanmean(class_acc)),
        "class_iou": float(np.nanmean(iou)),
        "per_class_iou": {names[i]: float(iou[i]) for i in range(num_classes)},
        "confusion": confusion,
    }


def diversity(samples):
    """Mean pairwise L1 distance between k outputs generated for the same input.

    `samples` is one input's outputs, shape (k, H, W, C), which gives a float; or k
    batches, shape (k, batch, H, W, C) or a list of k arrays (batch, H, W, C), which gives
    one value per input, shape (batch,). 0 means the k outputs are identical (mode
    collapse, or a deterministic generator); the values are in the [-1, 1] scale, so two
    constant images at 0 and 1 are 1 apart.
    """
    samples = np.asarray(samples, dtype=np.float64) if not isinstance(samples, (list, tuple)) else \
        np.stack([np.asarray(s, dtype=np.float64) for s in samples])
    if samples.ndim not in (4, 5):
        raise ValueError(f"samples must be (k, H, W, C) or (k, batch, H, W, C); got shape {samples.shape}.")
    k = samples.shape[0]
    if k < 2:
        raise ValueError(f"diversity needs at least 2 samples per input, got {k}.")
    single = samples.ndim == 4
    if single:
        samples = samples[:, None]
    total = np.zeros(samples.shape[1])
    for i in range(k):
        for j in range(i + 1, k):
            total += np.mean(np.abs(samples[i] - samples[j]), axis=(1, 2, 3))
    values = total / (k * (k - 1) / 2)
    return float(values[0]) if single else values
