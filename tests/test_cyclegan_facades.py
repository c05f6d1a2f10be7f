"""The helpers notebook 03 uses on facades_day2night: trivial baselines and day/night pairs."""
import numpy as np
import pytest

from kerasi2i.evaluation import metrics
from kerasi2i.evaluation.baselines import ConstantImage, PixelGain, stack_images
from kerasi2i.data import facades
from kerasi2i.data.samples import facade_seeds


def test_day_night_pairs_are_the_same_building_and_deterministic():
    day, night = facades.day_night_pairs([500_000, 500_001], 32)
    assert day.shape == night.shape == (2, 32, 32, 3) and day.dtype == np.uint8
    assert night.mean() < day.mean() - 40  # night is darker
    again_day, again_night = facades.day_night_pairs([500_000, 500_001], 32)
    np.testing.assert_array_equal(day, again_day)
    np.testing.assert_array_equal(night, again_night)
    # the same renders as render_photo, i.e. as the sample task's test pairs
    np.testing.assert_array_equal(night[1], facades.render_photo(facades.generate_facade(500_001), 32, night=True))
    with pytest.raises(ValueError, match="at least one"):
        facades.day_night_pairs([], 32)


def test_constant_images_and_pixel_gain():
    rng = np.random.RandomState(0)
    a = rng.uniform(-1, 1, (8, 4, 4, 3)).astype("float32")
    b = (a + 1) * 0.25 - 1  # B = A darkened to a quarter on the [0, 1] scale
    gain = PixelGain.fit(a, b)
    np.testing.assert_allclose(gain.gain, 0.25, atol=1e-5)
    np.testing.assert_allclose(gain(a), b, atol=1e-5)
    np.testing.assert_allclose(ConstantImage.mean(b)(a[:3]), np.broadcast_to(b.mean(0), (3, 4, 4, 3)))
    np.testing.assert_allclose(ConstantImage.median(b)(a[:2])[1], np.median(b, axis=0))
    assert stack_images([(a[:5], b[:5]), (a[5:], b[5:])]).shape == (8, 4, 4, 3)
    with pytest.raises(ValueError, match="same shape"):
        PixelGain.fit(a, b[:, :2])


def test_baselines_on_real_facade_renders_beat_the_identity():
    # Unpaired fit (different buildings for A and B), scored on other buildings' true night.
    day_a, _ = facades.day_night_pairs(facade_seeds("trainA", 64)[:12], 32)
    _, night_b = facades.day_night_pairs(facade_seeds("trainB", 64)[:12], 32)
    test_day, test_night = facades.day_night_pairs(facade_seeds("unpaired_test", 64)[:6], 32)
    unit = lambda x: x.astype("float32") / 127.5 - 1  # noqa: E731
    pairs = [(unit(test_day), unit(test_night))]
    identity = metrics.score_translation(None, pairs)
    gain = metrics.score_translation(PixelGain.fit(unit(day_a), unit(night_b)), pairs)
    median = metrics.score_translation(ConstantImage.median(unit(night_b)), pairs)
    assert gain["l1"] < identity["l1"] / 2 and median["l1"] < identity["l1"] / 2
    assert gain["ssim"] > identity["ssim"]
