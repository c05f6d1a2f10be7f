"""FCN-score for labels -> facade: how well a segmenter recovers the input labels from a
generated photo, as the pix2pix paper scores labels -> photo (section 4.2, with an FCN-8s
trained on real Cityscapes photos).

The idea: if a generated facade is realistic, a segmenter trained on *real* facade photos
finds its windows, doors and balconies where the input label map put them. Generated
images are scored by per-pixel accuracy, per-class accuracy and class IoU of the
segmenter's prediction against the input labels; the real photos of the same label maps
give the upper bound (the segmenter's own accuracy), and noise gives chance level.

    >>> from kerasi2i import fcn
    >>> seg = fcn.facade_segmenter(kdata.sample_path("facades", 128))   # trained once, cached
    >>> fcn.fcn_scores(seg, generated_photos, input_label_images)
    {'pixel_accuracy': ..., 'class_accuracy': ..., 'class_iou': ...}

The segmenter is a small fully convolutional encoder-decoder (`segmentation_network`)
trained on the facade photos of the dataset's train split at `SEGMENTER_SIZE` px (photos
of any size are resized to it, and the labels with nearest-neighbour sampling). For the bundled
facades it ships with the package (trained once by `tools/train_facade_segmenter.py`);
for another facades folder it is trained the first time it is needed and cached there
as `_segmenter/segmenter_<size>.keras`, so every later score uses the same network.

Deviation from the paper: the paper's FCN-8s (VGG-16 based) is far too large to train on
a CPU in a minute; this segmenter is much smaller and trained on the same distribution
as the bundled facades. Its scores are comparable between models scored by the same
cached segmenter, not with the paper's Cityscapes numbers.
"""
import json
import logging
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE, NUM_FACADE_CLASSES

logger = logging.getLogger(__name__)

SEGMENTER_SIZE = 64
SEGMENTER_VERSION = 1          # bump when the network or its training changes: retrains the cache
_SEGMENTER_DIR = "_segmenter"


def segmentation_network(input_shape=(SEGMENTER_SIZE, SEGMENTER_SIZE, 3), num_classes=NUM_FACADE_CLASSES,
                         base_filters=16, name="facade_segmenter"):
    """A small fully convolutional segmenter: per-pixel class logits.

    Three levels of two 3x3 conv + batch norm + ReLU blocks, max-pooled on the way down
    and bilinearly upsampled with skip concatenations on the way up (a compact U-Net, the
    usual FCN design with skips), then a 1x1 convolution to `num_classes` logits.

    Returns a `keras.Model` from `(bs, H, W, 3)` images in [-1, 1] to `(bs, H, W,
    num_classes)` logits; H and W must be multiples of 4.
    """
    height, width = input_shape[:2]
    if any(s is not None and s % 4 for s in (height, width)):
        raise ValueError(f"segmentation_network needs height and width that are multiples of 4; "
                         f"got input_shape={input_shape!r}.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2; got {num_classes!r}.")

    def block(x, filters, tag):
        for k in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_{tag}_conv{k}")(x)
            x = layers.BatchNormalization(name=f"{name}_{tag}_bn{k}")(x)
            x = layers.ReLU(name=f"{name}_{tag}_relu{k}")(x)
        return x

    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    f = base_filters
    e1 = block(inputs, f, "enc1")                                              # (bs, H, W, f)
    e2 = block(layers.MaxPooling2D(name=f"{name}_pool1")(e1), 2 * f, "enc2")   # (bs, H/2, W/2, 2f)
    e3 = block(layers.MaxPooling2D(name=f"{name}_pool2")(e2), 4 * f, "enc3")   # (bs, H/4, W/4, 4f)
    d2 = layers.UpSampling2D(interpolation="bilinear", name=f"{name}_up2")(e3)
    d2 = block(layers.Concatenate(name=f"{name}_cat2")([e2, d2]), 2 * f, "dec2")  # (bs, H/2, W/2, 2f)
    d1 = layers.UpSampling2D(interpolation="bilinear", name=f"{name}_up1")(d2)
    d1 = block(layers.Concatenate(name=f"{name}_cat1")([e1, d1]), f, "dec1")      # (bs, H, W, f)
    logits = layers.Conv2D(num_classes, 1, name=f"{name}_logits")(d1)           # (bs, H, W, classes)
    return keras.Model(inputs, logits, name=name)


def label_ids_from_images(label_images, palette=FACADE_PALETTE):
    """Class ids (N, H, W) of painted label images in [-1, 1] (N, H, W, 3): nearest colour."""
    from keras import ops

    pixels = (ops.clip(ops.convert_to_tensor(label_images, "float32"), -1.0, 1.0) + 1.0) * 127.5
    palette = ops.convert_to_tensor(np.asarray(palette, np.float32))
    # |p - c|^2 up to the |p|^2 term, which is the same for every class
    scores = -2.0 * ops.einsum("nhwc,kc->nhwk", pixels, palette) + ops.sum(palette**2, axis=-1)
    return ops.argmin(scores, axis=-1)


def _resize(images, size, method):
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return tf.image.resize(images, (size, size), method=method, antialias=method != "nearest")


def _segmenter_dataset(path, split, batch_size, seed=None):
    """(photo at SEGMENTER_SIZE, class ids) batches from a facades folder (photo | labels)."""
    import tensorflow as tf

    from kerasi2i import data as kdata

    from PIL import Image

    # Load at the folder's own size, decode the labels there, then bring the photo down
    # with area averaging and the class ids with nearest sampling: resizing a painted
    # label image first would blend class colours along every edge.
    first = kdata.paired_files(path, split, check=False)[1][0]
    first = first[0] if isinstance(first, tuple) else first
    with Image.open(first) as image:
        native = image.height
    ds = kdata.load_paired(path, split, direction="AtoB", image_size=native, batch_size=batch_size, seed=seed)

    def to_segmenter(photo, labels):
        ids = tf.cast(label_ids_from_images(labels), tf.int32)[..., None]
        photo = tf.image.resize(photo, (SEGMENTER_SIZE, SEGMENTER_SIZE), method="area")
        ids = tf.image.resize(ids, (SEGMENTER_SIZE, SEGMENTER_SIZE), method="nearest")[..., 0]
        return photo, ids

    return ds.map(to_segmenter, num_parallel_calls=tf.data.AUTOTUNE)


def train_segmenter(path, steps=800, batch_size=16, learning_rate=2e-3, seed=0, verbose=1):
    """Train `segmentation_network` on a facades folder's train split; returns the model
    and its scores on the folder's test split (real photos against their labels)."""
    keras.utils.set_random_seed(seed)
    train = _segmenter_dataset(path, "train", batch_size, seed=seed).repeat()
    model = segmentation_network()
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    epochs = 4
    model.fit(train, epochs=epochs, steps_per_epoch=steps // epochs, verbose=verbose)
    return model


PACKAGED_WEIGHTS = Path(__file__).parent.parent / "assets" / f"facade_segmenter_{SEGMENTER_SIZE}.weights.h5"


def _is_bundled_facades(path):
    from kerasi2i.data.paths import samples_root

    path = Path(path).resolve()
    return path.name == "facades" and path.parent.parent == Path(samples_root()).resolve()


def facade_segmenter(path=None, verbose=1, retrain=False):
    """The FCN-score segmenter for a facades dataset (photo | labels layout).

    For the bundled procedural facades (`path=None`, or `kdata.sample_path("facades",
    size)` at any size) this is the segmenter that ships with kerasi2i
    (`PACKAGED_WEIGHTS`, trained by `tools/train_facade_segmenter.py` on the bundled
    train split). For any other folder (the real CMP facades, say) a segmenter is trained
    on its train split the first time (a few CPU minutes) and cached in
    `<path>/_segmenter/`. `retrain=True` trains anew in either case.
    """
    if (path is None or _is_bundled_facades(path)) and not retrain and PACKAGED_WEIGHTS.exists():
        model = segmentation_network()
        model.load_weights(PACKAGED_WEIGHTS)
        return model
    if path is None:
        from kerasi2i import data as kdata

        path = kdata.sample_path("facades", 128)
    path = Path(path)
    cache = path / _SEGMENTER_DIR / f"segmenter_{SEGMENTER_SIZE}.keras"
    info_file = cache.with_suffix(".json")
    if cache.exists() and not retrain:
        try:
            info = json.loads(info_file.read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("version") == SEGMENTER_VERSION:
            return keras.saving.load_model(cache)
    started = time.perf_counter()
    if verbose:
        logger.info("Training the FCN-score segmenter on %s/train (once; cached in %s) ...", path, cache.parent)
    model = train_segmenter(path, verbose=verbose)
    cache.parent.mkdir(exist_ok=True)
    tmp = cache.with_name(cache.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(cache)
    info = {"version": SEGMENTER_VERSION, "size": SEGMENTER_SIZE, "seconds": round(time.perf_counter() - started, 1)}
    info_file.write_text(json.dumps(info, indent=1) + "\n")
    logger.info("Trained the facade segmenter in %.0f s", info["seconds"])
    return model


def segment(segmenter, images):
    """Predicted class ids (N, s, s) of images in [-1, 1], resized to the segmenter's size."""
    size = segmenter.input_shape[1]
    logits = segmenter(_resize(images, size, "bilinear"), training=False)
    return np.asarray(keras.ops.argmax(logits, axis=-1))


def fcn_scores(segmenter, images, label_images):
    """FCN-scores of `images` (N, H, W, 3) in [-1, 1] against the label maps they should
    show (`label_images`, painted (N, H, W, 3) in [-1, 1], or class ids (N, H, W)).

    Returns a dict with pixel_accuracy, class_accuracy, class_iou (the means over classes,
    as `kerasi2i.evaluation.metrics.segmentation_scores` defines them) and per_class_iou.
    """
    from kerasi2i.evaluation.metrics import segmentation_scores

    size = segmenter.input_shape[1]
    label_images = np.asarray(label_images)
    if label_images.ndim == 3:   # class ids: resize with nearest sampling
        ids = np.asarray(_resize(label_images[..., None].astype(np.float32), size, "nearest"))[..., 0]
        true = ids.astype(np.int64)
    else:
        true = np.asarray(label_ids_from_images(_resize(label_images, size, "nearest")))
    pred = segment(segmenter, images)
    scores = segmentation_scores(true.astype(np.int64), pred.astype(np.int64), num_classes=NUM_FACADE_CLASSES)
    names = list(FACADE_CLASSES)
    per_class = list(scores["per_class_iou"].values())
    return {
        "pixel_accuracy": scores["pixel_accuracy"],
        "class_accuracy": scores["class_accuracy"],
        "class_iou": scores["class_iou"],
        "per_class_iou": dict(zip(names, per_class)),
    }


def score_labels2photo(segmenter, dataset, generator=None):
    """FCN-scores over a labels -> photo dataset of `(labels, photo)` batches (a facades
    folder loaded with `direction="BtoA"`). `generator=None` scores the real photos
    (the upper bound); otherwise `generator(labels)`."""
    images, labels = [], []
    for x, y in dataset:
        out = y if generator is None else generator(x, training=False)
        images.append(np.asarray(out))
        labels.append(np.asarray(x))
    return fcn_scores(segmenter, np.concatenate(images), np.concatenate(labels))
