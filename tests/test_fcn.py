"""The FCN-score (kerasi2i.evaluation.fcn): the segmenter, label decoding, caching, and the shipped
segmenter's scores on real renders (near the top) and on noise (chance level)."""
import numpy as np
import pytest

from kerasi2i.evaluation import fcn
from kerasi2i.data import facades, samples
from kerasi2i.data.facade_classes import NUM_FACADE_CLASSES, paint_labels


def _to_unit(images):
    return images.astype(np.float32) / 127.5 - 1.0


def test_segmentation_network_shapes_and_errors():
    model = fcn.segmentation_network((32, 32, 3), num_classes=5, base_filters=4)
    assert model.output_shape == (None, 32, 32, 5)
    with pytest.raises(ValueError, match="multiples of 4"):
        fcn.segmentation_network((30, 30, 3))
    with pytest.raises(ValueError, match="num_classes"):
        fcn.segmentation_network(num_classes=1)


def test_label_images_decode_to_their_class_ids():
    class_maps = np.stack([facades.facade_class_map(facades.generate_facade(s), 32) for s in range(3)])
    painted = _to_unit(np.stack([paint_labels(m) for m in class_maps]))
    np.testing.assert_array_equal(np.asarray(fcn.label_ids_from_images(painted)), class_maps)


class _Oracle:
    """A 'segmenter' that returns the true classes as one-hot logits (for scorer tests)."""

    def __init__(self, class_maps):
        self.class_maps = class_maps
        self.input_shape = (None,) + class_maps.shape[1:] + (3,)

    def __call__(self, images, training=False):
        return np.eye(NUM_FACADE_CLASSES, dtype=np.float32)[self.class_maps]


def test_fcn_scores_of_a_perfect_and_a_wrong_segmentation():
    class_maps = np.stack([facades.facade_class_map(facades.generate_facade(s), 64) for s in range(4)])
    labels = _to_unit(np.stack([paint_labels(m) for m in class_maps]))
    images = np.zeros(labels.shape, np.float32)
    perfect = fcn.fcn_scores(_Oracle(class_maps), images, labels)
    assert perfect["pixel_accuracy"] == pytest.approx(1.0)
    wrong = fcn.fcn_scores(_Oracle(np.zeros_like(class_maps)), images, labels)   # all "background"
    assert wrong["pixel_accuracy"] == pytest.approx((class_maps == 0).mean())
    assert wrong["class_iou"] < 0.2
    # integer class maps are accepted in place of painted label images
    assert fcn.fcn_scores(_Oracle(class_maps), images, class_maps)["pixel_accuracy"] == pytest.approx(1.0)


def test_shipped_segmenter_scores_real_renders_high_and_noise_at_chance():
    """The FCN-score's two anchors: the shipped segmenter recovers the labels of unseen real
    renders (the upper bound any generator is compared with), and finds nothing in noise.
    If the facade renderer changes, this fails: retrain with tools/train_facade_segmenter.py."""
    from kerasi2i import data as kdata

    assert fcn.PACKAGED_WEIGHTS.exists(), "the segmenter weights must ship with the package"
    segmenter = fcn.facade_segmenter()
    test = kdata.load_paired(kdata.sample_path("facades", 64), "test", direction="BtoA", image_size=64,
                             batch_size=50)
    real = fcn.score_labels2photo(segmenter, test)
    assert real["pixel_accuracy"] > 0.85
    assert real["class_iou"] > 0.55
    x, y = next(iter(test))
    noise = np.random.RandomState(0).uniform(-1, 1, y.shape).astype("float32")
    chance = fcn.fcn_scores(segmenter, noise, np.asarray(x))
    assert chance["class_iou"] < 0.15
    assert chance["pixel_accuracy"] < real["pixel_accuracy"] - 0.4


@pytest.mark.slow
def test_a_segmenter_is_trained_once_per_folder_and_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(samples, "FACADE_COUNTS", {64: {"train": 8, "val": 2, "test": 2}})
    samples.build_samples(tasks=["facades"], sizes=[64], root=tmp_path)
    folder = tmp_path / "64" / "facades"
    calls = []
    real_train = fcn.train_segmenter

    def short_training(path, **kwargs):
        calls.append(path)
        return real_train(path, steps=4, batch_size=4, verbose=0)

    monkeypatch.setattr(fcn, "train_segmenter", short_training)
    first = fcn.facade_segmenter(folder, verbose=0)
    assert calls == [folder] and (folder / "_segmenter" / "segmenter_64.keras").exists()
    second = fcn.facade_segmenter(folder, verbose=0)
    assert calls == [folder]        # loaded from the cache, not trained again
    x = np.zeros((1, 64, 64, 3), np.float32)
    np.testing.assert_allclose(np.asarray(first(x)), np.asarray(second(x)), atol=1e-6)
