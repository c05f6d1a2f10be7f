"""The real-vs-fake 2AFC study: trial logic, CSV, Wilson interval, and the widget driven
by scripted clicks (no browser, no sleeping)."""
import csv
import math

import numpy as np
import pytest

from kerasi2i.evaluation.study import CSV_FIELDS, ForcedChoiceStudy, StudyWidget, wilson_interval


def pairs(n=6, size=8):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
    return real, np.clip(real + 0.3, -1, 1)


def test_wilson_interval_hand_computed():
    # 7 of 10, 95%: z = 1.959964; centre (0.7 + z^2/20) / (1 + z^2/10), half-width below.
    z = 1.959963984540054
    centre = (0.7 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.7 * 0.3 / 10 + z * z / 400) / (1 + z * z / 10)
    low, high = wilson_interval(7, 10)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert (low, high) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12) and 0 < wilson_interval(0, 10)[1] < 0.35
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_trial_order_is_seeded_and_balanced():
    real, fake = pairs()
    s1 = ForcedChoiceStudy(real, fake, seed=3, n_practice=2)
    s2 = ForcedChoiceStudy(real, fake, seed=3, n_practice=2)
    assert s1.trials == s2.trials and len(s1.trials) == 8
    assert [t["practice"] for t in s1.trials] == [True, True] + [False] * 6
    # Sides are drawn at random: both occur.
    assert {t["real_side"] for t in ForcedChoiceStudy(real, fake, seed=1, n_trials=40).trials} == {"left", "right"}
    left, right = s1.images()
    t = s1.current
    expected = (real[t["index"]], fake[t["index"]])
    if t["real_side"] == "right":
        expected = expected[::-1]
    np.testing.assert_array_equal(left, expected[0])
    np.testing.assert_array_equal(right, expected[1])
    with pytest.raises(ValueError, match="pair up"):
        ForcedChoiceStudy(real, fake[:3])
    with pytest.raises(ValueError, match="choice"):
        s1.answer("middle")


def test_widget_driven_by_scripted_clicks_saves_csv_and_rate(tmp_path):
    real, fake = pairs()
    study = ForcedChoiceStudy(real, fake, participant="p07", n_practice=2, seed=0, exposure=1.0)
    scheduled = []
    now = [100.0]

    def schedule(delay, callback):
        scheduled.append(delay)
        now[0] += delay          # time passes while the images are shown
        callback()               # hide at once: no sleeping

    out = tmp_path / "answers.csv"
    widget = StudyWidget(study, csv_path=out, schedule=schedule, clock=lambda: now[0])
    assert widget.left_button.disabled and widget.next_button.description == "Start"
    # Script: answer correctly on trials 1, 3, 4, 6, 7 (1-based overall), wrongly otherwise.
    script_correct = [True, False, True, True, False, True, True, False]
    for correct in script_correct:
        real_side = study.current["real_side"]
        widget.next_button.click()
        assert widget.left_image.value == b"" and not widget.left_button.disabled
        now[0] += 0.5            # the participant thinks for 0.5 s after the images vanish
        choice = real_side if correct else ("left" if real_side == "right" else "right")
        (widget.left_button if choice == "left" else widget.right_button).click()
    assert scheduled == [1.0] * 8 and study.done

    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(CSV_FIELDS) and len(rows) == 8
    assert [r["trial"] for r in rows] == [str(i) for i in range(1, 9)]
    assert [r["practice"] for r in rows] == ["True", "True"] + ["False"] * 6
    assert [r["correct"] for r in rows] == [str(c) for c in script_correct]
    assert all(r["participant"] == "p07" and float(r["response_time_s"]) == pytest.approx(1.5) for r in rows)
    assert all((r["choice"] == r["real_side"]) == (r["correct"] == "True") for r in rows)

    # Scored trials are the last 6: correct pattern T, T, F, T, T, F -> fooled 2 of 6.
    rate = study.fooling_rate()
    assert rate["n"] == 6 and rate["fooled"] == 2 and rate["rate"] == pytest.approx(1 / 3)
    z = 1.959963984540054
    p, n = 1 / 3, 6
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (rate["low"], rate["high"]) == pytest.approx((centre - half, centre + half))
    assert "33.3%" in widget.status.value and str(out) in widget.status.value
    assert widget.next_button.disabled
    # Clicks after the end change nothing.
    widget.left_button.click()
    assert len(study.records) == 8
