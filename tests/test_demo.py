"""`kerasi2i demo` (kerasi2i.experiments.demo) end to end at a tiny scale. Its wall time against the
3-minute target is measured by benchmarks/demo_time.py, not here."""
import json

import numpy as np
import pytest

from kerasi2i.experiments import demo


@pytest.mark.slow
def test_demo_writes_its_outputs_and_never_overwrites_a_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "STEPS_PER_EPOCH", 2)
    out = tmp_path / "demo"
    rows = demo.run_demo(image_size=64, epochs=1, epochs_decay=1, base_filters=8, output=out, verbose=0)
    printed = capsys.readouterr().out
    assert set(rows) == {"untrained generator", "mean train photo", "trained generator", "real photos (target)"}
    for name in ("untrained generator", "mean train photo", "trained generator"):
        assert np.isfinite(rows[name]["l1"]) and 0 <= rows[name]["fcn_class_iou"] <= 1
    # the real photos are the FCN-score's upper bound, far above the untrained generator
    assert rows["real photos (target)"]["fcn_pixel_accuracy"] > rows["untrained generator"]["fcn_pixel_accuracy"] + 0.3
    assert (out / "before_after.png").stat().st_size > 0
    assert (out / "run" / "generator.keras").exists()
    assert json.loads((out / "scores.json").read_text())["trained generator"]["l1"] == pytest.approx(
        rows["trained generator"]["l1"])
    assert "FCN" in printed and "kerasi2i serve --model" in printed
    demo.run_demo(image_size=64, epochs=1, epochs_decay=0, base_filters=8, output=out, verbose=0, fcn_score=False)
    assert (out / "run_2" / "generator.keras").exists()   # the first run is left as it was


@pytest.mark.slow
def test_mean_photo_is_the_mean_target():
    from kerasi2i import data as kdata

    path = kdata.sample_path("facades", 64)
    mean = demo.mean_photo(path, 64)
    ys = np.concatenate([np.asarray(y) for _, y in kdata.load_paired(path, "train", direction="BtoA", image_size=64,
                                                                      training=False, batch_size=200)])
    np.testing.assert_allclose(mean, ys.mean(axis=0), atol=1e-5)
    constant = demo.ConstantImage(mean)
    assert constant(np.zeros((3, 64, 64, 3), np.float32)).shape == (3, 64, 64, 3)


def test_unknown_demo_task_lists_the_tasks(tmp_path):
    with pytest.raises(ValueError, match="facades"):
        demo.run_demo(task="day2night", output=tmp_path)
