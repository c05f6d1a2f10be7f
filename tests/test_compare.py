"""The comparison study's pieces (kerasi2i.experiments.compare) and the StepTimer callback, on tiny
configurations of the bundled sample tasks."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.experiments import compare
from kerasi2i.training.callbacks import StepTimer

SIZE = 32  # the smallest size every model's paper architecture builds at


def test_step_timer_measures_the_steps_after_the_warm_up():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    timer = StepTimer(warmup=2)
    model.fit(x, y, batch_size=1, epochs=1, callbacks=[timer], verbose=0)  # 8 steps
    assert timer.steps == 6
    assert 0 < timer.seconds_per_step < 5
    short = StepTimer(warmup=2)
    model.fit(x[:2], y[:2], batch_size=1, epochs=1, callbacks=[short], verbose=0)
    assert short.steps == 0 and math.isnan(short.seconds_per_step)
    with pytest.raises(ValueError, match="warmup"):
        StepTimer(warmup=0)


def test_sample_tasks_and_which_models_apply():
    labels = compare.sample_task("photo2labels", image_size=SIZE)
    assert labels.direction == "BtoA" and labels.labels_output and labels.paired
    assert all(labels.applies(m) for m in compare.MODELS)
    night = compare.sample_task("day2night", image_size=SIZE)
    assert not night.paired and night.test_path.name == "test_pairs"
    assert [m for m in compare.MODELS if night.applies(m)] == ["cyclegan"]
    x, y = night.test_arrays(max_images=3)
    assert x.shape == y.shape == (3, SIZE, SIZE, 3) and -1 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="needs paired"):
        compare.train(compare.build_model("pix2pix", SIZE, base_filters=4), "pix2pix", night, steps=1)
    with pytest.raises(ValueError, match="no paired training data"):
        night.train_pairs()
    with pytest.raises(ValueError, match="Unknown sample task 'facade'"):
        compare.sample_task("facade")
    with pytest.raises(ValueError, match="Unknown model 'unet'"):
        labels.applies("unet")
    with pytest.raises(ValueError, match="direction"):
        compare.Task("t", labels.path, direction="AB")


def test_unpaired_view_of_a_paired_task_breaks_the_pairs():
    task = compare.sample_task("colorization", image_size=SIZE)
    a, b = next(iter(task.train_unpaired(batch_size=8, seed=3)))
    x, y = next(iter(task.train_pairs(batch_size=8, seed=3)))
    np.testing.assert_allclose(a, x)  # domain A: the inputs, in the paired stream's order
    # colorization's inputs are the targets in grey: the true partner of a[i] has the same
    # luminance; the unpaired stream's b[i] mostly does not.
    grey = lambda im: np.asarray(im).mean(axis=-1)  # noqa: E731
    paired_gap = np.abs(grey(x) - grey(y)).mean(axis=(1, 2))
    unpaired_gap = np.abs(grey(a) - grey(b)).mean(axis=(1, 2))
    assert paired_gap.mean() < 0.1 < unpaired_gap.mean(), (paired_gap, unpaired_gap)


def test_identity_scores_are_the_inputs_scores():
    task = compare.sample_task("photo2labels", image_size=SIZE)
    x, y = task.test_arrays()
    result = compare.score(None, task)
    assert result["images"] == len(x) == 96  # the 64 px test crops: 6 photos hold out a test region, 16 crops each
    assert result["l1"] == pytest.approx(float(np.mean(np.abs(x - y))), rel=1e-5)
    assert 0 <= result["pixel_accuracy"] <= 1 and 0 <= result["class_iou"] <= 1
    assert "diversity" not in result and "fid" not in result


@pytest.mark.slow
def test_study_rows_table_and_json(capsys):
    tasks = [compare.sample_task("day2night", image_size=SIZE), compare.sample_task("photo2labels", image_size=SIZE)]
    rows = compare.run_study(tasks, models=("cyclegan", "cvae"), steps=3, batch_size=2, base_filters=4,
                             learning_rate=1e-3, num_samples=3)
    log = capsys.readouterr().out
    assert log.count("skipped: needs paired training data") == 1  # the cVAE on day2night
    assert [(r["task"], r["model"]) for r in rows] == [
        ("day2night", "identity (input as output)"), ("day2night", "mean training target"), ("day2night", "CycleGAN"),
        ("photo2labels", "identity (input as output)"), ("photo2labels", "mean training target"),
        ("photo2labels", "CycleGAN"), ("photo2labels", "cVAE (BicycleGAN)"),
    ]
    by_model = {r["model"]: r for r in rows if r["task"] == "photo2labels"}
    for name in ("CycleGAN", "cVAE (BicycleGAN)"):
        r = by_model[name]
        assert r["steps"] == 3 and r["seconds_per_step"] > 0 and np.isfinite(r["l1"])
        assert "class_iou" in r and r["outputs"].shape == (3, 4, SIZE, SIZE, 3)
    # A deterministic generator gives one output per input; the cVAE's codes give several.
    assert by_model["CycleGAN"]["diversity"] == 0.0 and by_model["cVAE (BicycleGAN)"]["diversity"] > 0.0
    table = compare.format_table(rows)
    assert "IoU" in table and "s/step" in table and "FID" not in table
    assert table.count("photo2labels") == 1  # the task is named once, on its first row
    payload = json.loads(json.dumps(compare.results_json(rows)))
    assert "outputs" not in payload[1] and payload[0]["seconds_per_step"] is None
    with pytest.raises(ValueError, match="Unknown model"):
        compare.run_study(tasks, models=("gan",))


@pytest.mark.slow
def test_fresh_start_restores_a_model_and_its_optimizers_exactly():
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    data = tf.data.Dataset.from_tensors((x, x[::-1])).repeat()
    model = compare.compile_model(compare.build_model("pix2pix", SIZE, base_filters=4), 1e-3)
    fresh = compare.FreshStart(model)
    initial = [np.array(w) for w in model.generator.weights]
    model.fit(data, steps_per_epoch=3, verbose=0)
    after_first = [np.array(w) for w in model.generator.weights]
    assert not np.allclose(initial[0], after_first[0])
    assert fresh.restart() is model
    assert model.g_optimizer.iterations.numpy() == 0 and model.d_optimizer.iterations.numpy() == 0
    for w, v in zip(model.generator.weights, initial):
        np.testing.assert_array_equal(w, v)
    model.fit(data, steps_per_epoch=3, verbose=0)  # a restarted run repeats the first one (dropout included)
    for w, v in zip(model.generator.weights, after_first):
        np.testing.assert_allclose(w, v, atol=1e-5)


@pytest.mark.slow
def test_run_one_returns_the_trained_model():
    task = compare.sample_task("superres", image_size=SIZE)
    row = compare.run_one("autoencoder", task, steps=2, batch_size=2, base_filters=4, num_samples=2, examples=3)
    assert row["trained"].optimizer.iterations.numpy() == 2 and row["model"] == "L1 autoencoder"
    assert row["outputs"].shape == (2, 3, SIZE, SIZE, 3) and row["diversity"] == 0.0


def test_feature_extractor_uses_only_the_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(compare, "cached_inception_weights", lambda: None)
    assert compare.feature_extractor() is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compare.feature_extractor(str(tmp_path / "missing.h5"))


def test_facade_tasks_come_first_and_read_the_right_way():
    assert compare.SAMPLE_TASK_NAMES[:3] == ("facades", "facades_photo2labels", "facades_day2night")
    to_photo = compare.sample_task("facades", image_size=SIZE)
    to_labels = compare.sample_task("facades_photo2labels", image_size=SIZE)
    night = compare.sample_task("facades_day2night", image_size=SIZE)
    assert to_photo.direction == "BtoA" and to_photo.fcn_score and not to_photo.labels_output
    assert to_labels.direction == "AtoB" and to_labels.labels_output and to_labels.palette == "facades"
    assert not night.paired and night.test_path.name == "test_pairs"
    x, y = to_photo.test_arrays()
    xl, yl = to_labels.test_arrays()
    assert len(x) == 100 and x.shape[1:] == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(x, yl)  # the same pairs, read the other way
    np.testing.assert_array_equal(y, xl)
    # The input of labels -> photo is a label map: its pixels lie far nearer CMP's 12 colours
    # than the photo's do (resizing blurs the edges between classes).
    from kerasi2i.data.facade_classes import FACADE_PALETTE
    colours = np.asarray(FACADE_PALETTE, np.float32) / 127.5 - 1
    nearest = lambda im: np.min(np.abs(im[:4, ..., None, :] - colours).max(-1), axis=-1)  # noqa: E731
    assert np.median(nearest(x)) < 0.5 * np.median(nearest(y))


@pytest.mark.slow
def test_facade_baselines_fcn_and_segmentation_scores():
    to_photo = compare.sample_task("facades", image_size=SIZE)
    to_labels = compare.sample_task("facades_photo2labels", image_size=SIZE)
    x, y = to_photo.test_arrays()
    mean = to_photo.mean_target()
    assert mean.shape == (SIZE, SIZE, 3) and mean.std() > 0  # an image, not one colour
    mean_row = compare.score("mean", to_photo)
    assert mean_row["l1"] == pytest.approx(float(np.mean(np.abs(mean - y))), rel=1e-5)
    # The FCN-score: the real photos are segmented far better than the mean photo or the labels.
    real = compare.fcn_score(to_photo, y)
    identity = compare.score(None, to_photo)
    assert real["fcn_class_iou"] > 2 * max(mean_row["fcn_class_iou"], identity["fcn_class_iou"])
    assert real["fcn_pixel_accuracy"] > mean_row["fcn_pixel_accuracy"] + 0.1
    # photo -> labels in the facades palette: the true label maps score perfectly.
    seg = compare.score("mean", to_labels)
    assert 0 < seg["pixel_accuracy"] < 1 and "fcn_class_iou" not in seg
    perfect = compare.metrics.segmentation_scores(x, x, palette="facades")
    assert perfect["pixel_accuracy"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="Unknown baseline"):
        compare.score("median", to_photo)


@pytest.mark.slow
def test_study_on_the_facade_tasks_has_baseline_and_untrained_rows():
    tasks = [compare.sample_task(n, image_size=SIZE) for n in ("facades", "facades_day2night")]
    rows = compare.run_study(tasks, models=("pix2pix",), steps=2, batch_size=2, base_filters=4, num_samples=1,
                             untrained=("pix2pix",), log=None)
    assert [(r["task"], r["model"]) for r in rows] == [
        ("facades", compare.IDENTITY), ("facades", compare.MEAN_TARGET), ("facades", compare.REAL_TARGET),
        ("facades", "pix2pix, untrained"), ("facades", "pix2pix"),
        ("facades_day2night", compare.IDENTITY), ("facades_day2night", compare.MEAN_TARGET),
    ]
    assert all("fcn_class_iou" in r for r in rows[:5]) and "l1" not in rows[2]
    assert rows[3]["steps"] == 0 and rows[4]["steps"] == 2
    table = compare.format_table(rows)
    assert "FCN IoU" in table and "facades_day2night" in table
    with pytest.raises(ValueError, match="Unknown baseline"):
        compare.run_study(tasks, models=(), baselines=("zero",))
