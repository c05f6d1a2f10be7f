"""Domain adaptation scored by a segmenter (kerasi2i.evaluation.adaptation) and its CLI."""
import json

import keras
import numpy as np
import pytest

from kerasi2i.data import facades, samples
from kerasi2i.evaluation import adaptation, fcn


@pytest.fixture(scope="module")
def day2night(tmp_path_factory):
    """A tiny facades_day2night (6 test buildings) at 64 px, built for this module."""
    root = tmp_path_factory.mktemp("samples")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(samples, "FACADE_COUNTS", {64: {"train": 4, "val": 2, "test": 6}})
        return samples.sample_path("facades_day2night", 64, root=root)


@pytest.fixture(scope="module")
def segmenter():
    return fcn.facade_segmenter()


def test_facade_test_labels_are_the_test_buildings_label_maps(day2night):
    labels = adaptation.facade_test_labels(day2night)
    assert labels.shape == (6, 64, 64, 3) and labels.min() >= -1 and labels.max() <= 1
    seed = json.loads((day2night / "_MANIFEST.json").read_text())["files"]["testA"][5]["seed"]
    expected = facades.render_labels(facades.generate_facade(seed), 64)
    np.testing.assert_array_equal(np.round((labels[5] + 1) * 127.5).astype(np.uint8), expected)


def test_facade_test_labels_need_a_facades_manifest(tmp_path):
    (tmp_path / "_MANIFEST.json").write_text(json.dumps({"files": {"testA": [{"photo": "rocket"}]}}))
    with pytest.raises(ValueError, match="--labels"):
        adaptation.facade_test_labels(tmp_path)


class _Oracle:
    """A "translator" that returns the given images, batch after batch."""

    def __init__(self, images):
        self.images, self.done = images, 0

    def __call__(self, x, training=False):
        out = self.images[self.done:self.done + len(x)]
        self.done += len(x)
        return out


def test_adaptation_table_orders_night_oracle_and_day(day2night, segmenter):
    test = {"day": adaptation.load_folder(day2night / "testA"), "night": adaptation.load_folder(day2night / "testB"),
            "labels": adaptation.facade_test_labels(day2night)}
    rows = adaptation.adaptation_scores(segmenter, test["night"], test["labels"], translate=lambda x, training: x,
                                        source=test["day"], batch_size=4)
    assert list(rows) == [adaptation.LOWER, adaptation.ADAPTED, adaptation.UPPER]
    assert rows[adaptation.ADAPTED] == rows[adaptation.LOWER]        # the identity adapts nothing
    # the segmenter, trained on day photos, fails at night: the drop the adaptation targets
    assert rows[adaptation.UPPER]["pixel_accuracy"] > rows[adaptation.LOWER]["pixel_accuracy"] + 0.3
    assert rows[adaptation.UPPER]["class_iou"] > rows[adaptation.LOWER]["class_iou"] + 0.2
    assert adaptation.recovered_fraction(rows) == pytest.approx(0.0)
    # a translator that returns the true day photo recovers all of it
    oracle = adaptation.adaptation_scores(segmenter, test["night"], test["labels"], translate=_Oracle(test["day"]),
                                          source=test["day"], batch_size=4)
    assert adaptation.recovered_fraction(oracle) == pytest.approx(1.0)
    table = adaptation.format_scores(rows)
    assert "class IoU" in table and adaptation.UPPER in table and f"{rows[adaptation.UPPER]['class_iou']:.3f}" in table


def test_adaptation_scores_check_their_inputs(segmenter):
    images = np.zeros((2, 64, 64, 3), np.float32)
    with pytest.raises(ValueError, match="same number"):
        adaptation.adaptation_scores(segmenter, images, np.zeros((3, 64, 64), np.int64))
    with pytest.raises(ValueError, match="same scenes"):
        adaptation.adaptation_scores(segmenter, images, np.zeros((2, 64, 64), np.int64), source=images[:1])
    rows = {adaptation.LOWER: {"class_iou": 0.5}, adaptation.ADAPTED: {"class_iou": 0.6},
            adaptation.UPPER: {"class_iou": 0.4}}
    with pytest.raises(ValueError, match="no drop"):
        adaptation.recovered_fraction(rows)


def test_cli_evaluate_with_a_segmenter(day2night, tmp_path, capsys):
    from kerasi2i.cli import main

    run = tmp_path / "run"
    run.mkdir()
    inputs = keras.Input((64, 64, 3))
    keras.Model(inputs, keras.layers.Identity()(inputs), name="identity").save(run / "generator_BtoA.keras")
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--segmenter", "facades", "--model", str(run), "--data", str(day2night),
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "testB -> A" in printed and adaptation.LOWER in printed and "recovered 0% of the class-IoU drop" in printed
    scores = json.loads(out.read_text())
    assert scores[adaptation.ADAPTED] == scores[adaptation.LOWER]
    assert scores[adaptation.UPPER]["class_iou"] > scores[adaptation.LOWER]["class_iou"]
    # --labels belongs to --segmenter; a dataset without test pairs is named
    assert main(["evaluate", "--model", str(run), "--data", str(day2night), "--labels", str(tmp_path)]) == 2
    assert main(["evaluate", "--segmenter", "facades", "--model", str(run), "--data", str(tmp_path)]) == 1
    assert "has no testB/" in capsys.readouterr().err
