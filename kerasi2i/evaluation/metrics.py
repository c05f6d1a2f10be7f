"""Image quality metrics on batches in [-1, 1], as plain functions and as Keras metrics.

The functions return one value per image (shape (batch,)); the Keras metrics average them,
so they work in `compile(metrics=...)`, `evaluate` and the training models' `test_step`.

Also here: `ms_ssim` (multi-scale SSIM, with fewer scales for small images),
`segmentation_scores` (per-pixel accuracy, per-class accuracy and class IoU of a
photo -> labels translation, the papers' FCN-score columns computed on the output label
map, averaged as the reference's `get_scores` does; the bundled, facades or cityscapes
palette) and `diversity` (mean pairwise L1 between several outputs for one input; not
the BicycleGAN paper's LPIPS diversity, see its docstring).
FID and KID live in `kerasi2i.evaluation`.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasi2i.imaging import as_uint8


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


SEGMENTATION_PALETTES = ("sample", "facades", "cityscapes")
SEGMENTATION_AVERAGES = ("reference", "present")


def _segmentation_palette(palette):
    """(colours (K, 3) int32, class names, void colours (M, 3) int32 or None) for `palette`."""
    if palette is None or (isinstance(palette, str) and palette == "sample"):
        from kerasi2i.data.sample_classes import LABEL_CLASSES, PALETTE

        return PALETTE.astype(np.int32), tuple(LABEL_CLASSES), None
    if isinstance(palette, str) and palette == "facades":
        from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE

        return FACADE_PALETTE.astype(np.int32), tuple(FACADE_CLASSES), None
    if isinstance(palette, str) and palette == "cityscapes":
        from kerasi2i.data.cityscapes_classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, VOID_COLORS

        return CITYSCAPES_PALETTE.astype(np.int32), tuple(CITYSCAPES_CLASSES), VOID_COLORS.astype(np.int32)
    if isinstance(palette, str):
        raise ValueError(f"palette must be one of {SEGMENTATION_PALETTES} or an array of RGB colours (K, 3); "
                         f"received palette={palette!r}")
    colors = np.asarray(palette)
    if colors.ndim != 2 or colors.shape[1] != 3 or len(colors) < 1:
        raise ValueError(f"palette must be an array of RGB colours of shape (K, 3); got shape {colors.shape}.")
    return colors.astype(np.int32), tuple(str(i) for i in range(len(colors))), None


def _label_ids(images, palette=None, void_colors=None):
    """Class-id maps (N, H, W) from painted label images ([-1, 1] float or uint8, RGB) or
    from integer class maps (N, H, W) passed as they are.

    Every pixel gets the class of the nearest colour of `palette` ((K, 3); None: the
    bundled samples' `PALETTE`); pixels nearer to one of `void_colors` get -1 (left out)."""
    images = np.asarray(images)
    if images.ndim == 3 and np.issubdtype(images.dtype, np.integer):
        return images.astype(np.int64)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Expected RGB label images (N, H, W, 3) or class maps (N, H, W); got shape {images.shape}.")
    images = as_uint8(images)
    colors = _segmentation_palette(None)[0] if palette is None else np.asarray(palette, np.int32)
    k = len(colors)
    if void_colors is not None:
        colors = np.concatenate([colors, np.asarray(void_colors, np.int32)])
    from kerasi2i.data.facade_classes import nearest_class

    ids = nearest_class(images, colors)
    ids[ids >= k] = -1
    return ids


def segmentation_scores(true_label_images, predicted_images, num_classes=None, palette="sample",
                        average="reference"):
    """Per-pixel accuracy, per-class accuracy and class IoU of predicted label maps.

    The pix2pix paper's FCN-score columns for photo -> labels, computed directly on the
    output label map: every pixel is given the class of the nearest `palette` colour in
    both the prediction and the ground truth. One confusion matrix is accumulated over the
    whole set, as the reference evaluation does (`fast_hist`).

    Args:
        true_label_images, predicted_images: batches of painted label images in [-1, 1]
            or uint8 (N, H, W, 3), or integer class maps (N, H, W). Ground-truth pixels
            whose class is outside [0, num_classes) (such as Cityscapes' 255) are left
            out, as in the reference; predicted ids must lie in [0, num_classes).
        num_classes: the number of classes; None: the palette's.
        palette: the label colours. "sample" (the bundled samples' `PALETTE`, 11
            classes), "facades" (`kerasi2i.data.facade_classes.FACADE_PALETTE`, the 12
            CMP Facades classes), "cityscapes" (the 19 Cityscapes training classes with
            their standard colours; ground-truth pixels painted with a void label's
            colour are left out, as trainId 255 is), or an array of K RGB colours (class
            i is row i).
        average: how the per-class values are averaged.
            "reference" (the default): phillipi/pix2pix's `get_scores`
            (scripts/eval_cityscapes/util.py), the definition behind the papers'
            numbers: every denominator gets 1e-12, so a class missing from the ground
            truth counts as 0 class accuracy (and 0 IoU when it is missing from the
            prediction too), and the means run over all `num_classes` classes.
            "present": per-class accuracy averaged over the classes present in the ground
            truth, IoU over the classes present in the ground truth or the prediction
            (classes missing from both are NaN and left out). Higher whenever a class is
            missing; not comparable with the papers.

    Returns a dict: pixel_accuracy, class_accuracy, class_iou (the means),
    per_class_accuracy and per_class_iou (class name -> value; with
    `average="present"`, NaN for the classes it leaves out), confusion (the matrix, rows =
    true class, columns = predicted) and average.
    """
    if average not in SEGMENTATION_AVERAGES:
        raise ValueError(f"average must be one of {SEGMENTATION_AVERAGES}; received average={average!r}")
    colors, class_names, void = _segmentation_palette(palette)
    num_classes = num_classes or len(colors)
    true = _label_ids(true_label_images, colors, void)
    pred = _label_ids(predicted_images, colors)
    if true.shape != pred.shape:
        raise ValueError(f"Ground truth and predictions differ in shape: {true.shape} vs {pred.shape}.")
    true, pred = true.ravel(), pred.ravel()
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"Predicted class ids must lie in [0, {num_classes}); got {pred.min()}..{pred.max()}.")
    keep = (true >= 0) & (true < num_classes)
    confusion = np.bincount(num_classes * true[keep] + pred[keep], minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    diag = np.diag(confusion).astype(np.float64)
    rows, cols = confusion.sum(axis=1), confusion.sum(axis=0)
    if average == "reference":
        pixel_acc = diag.sum() / (confusion.sum() + 1e-12)
        class_acc = diag / (rows + 1e-12)
        iou = diag / (rows + cols - diag + 1e-12)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            pixel_acc = diag.sum() / confusion.sum()
            class_acc = diag / rows
            iou = diag / (rows + cols - diag)
    names = list(class_names) + [str(i) for i in range(len(class_names), num_classes)]
    return {
        "pixel_accuracy": float(pixel_acc),
        "class_accuracy": float(np.nanmean(class_acc)),
        "class_iou": float(np.nanmean(iou)),
        "per_class_accuracy": {names[i]: float(class_acc[i]) for i in range(num_classes)},
        "per_class_iou": {names[i]: float(iou[i]) for i in range(num_classes)},
        "confusion": confusion,
        "average": average,
    }


def diversity_ops(samples):
    """``diversity`` in Keras ops, for use inside a compiled ``test_step`` (BicycleGAN's
    validation). ``samples``: ``(k, batch, H, W, C)`` or ``(k, H, W, C)``, k >= 2; returns
    ``(batch,)`` or a scalar tensor."""
    samples = ops.convert_to_tensor(samples, "float32")
    rank = len(samples.shape)
    if rank not in (4, 5):
        raise ValueError(f"samples must be (k, H, W, C) or (k, batch, H, W, C); got shape {tuple(samples.shape)}.")
    k = samples.shape[0]
    if k is None or k < 2:
        raise ValueError(f"diversity needs at least 2 samples per input (k >= 2); got k={k}.")
    axes = (1, 2, 3) if rank == 5 else (0, 1, 2)  # the image axes of one sample
    distances = [ops.mean(ops.abs(samples[i] - samples[j]), axis=axes) for i in range(k) for j in range(i + 1, k)]
    return ops.mean(ops.stack(distances, axis=0), axis=0)


def diversity(samples):
    """Mean pairwise L1 distance between k outputs generated for the same input.

    `samples` is one input's outputs, shape (k, H, W, C), which gives a float; or k
    batches, shape (k, batch, H, W, C) or a list of k arrays (batch, H, W, C), which gives
    one value per input, shape (batch,). 0 means the k outputs are identical (mode
    collapse, or a deterministic generator); the values are in the [-1, 1] scale, so two
    constant images at 0 and 1 are 1 apart.

    Not comparable with the BicycleGAN paper's diversity numbers: the paper reports the
    mean LPIPS distance (Zhang et al. 2018, deep features of AlexNet with learned
    weights) over 19 pairs of outputs per input, while this is the plain pixel L1 over
    all k(k-1)/2 pairs. Use it to compare models scored here with each other (0 = mode
    collapse), not with published LPIPS values.
    """
    if isinstance(samples, (list, tuple)):
        samples = np.stack([np.asarray(s, dtype=np.float32) for s in samples])
    values = np.asarray(ops.convert_to_numpy(diversity_ops(np.asarray(samples, dtype=np.float32))), dtype=np.float64)
    return float(values) if values.ndim == 0 else values
