"""kerasi2i.data.preprocess against the reference's definitions."""
import numpy as np
import tensorflow as tf

from kerasi2i.data.preprocess import round_to_multiple, transform


def test_round_to_multiple_is_the_references_make_power_2():
    # The reference (data/base_dataset.py, __make_power_2 with base=4): int(round(side / 4) * 4),
    # Python's round taking halves to even.
    sizes = np.arange(2, 300)
    got = [int(round_to_multiple(int(n))) for n in sizes]
    expected = [max(4, int(round(n / 4) * 4)) for n in sizes]
    assert got == expected
    assert [int(round_to_multiple(n)) for n in (10, 14, 18, 22, 11, 13)] == [8, 16, 16, 24, 12, 12]


def test_preprocess_none_rounds_halves_to_even():
    image = tf.zeros((10, 14, 3))           # 10 -> 8 (not 12), 14 -> 16
    out = transform(image, preprocess="none", training=False, crop_size=8, load_size=8, flip=False, seed=[0, 0])
    assert tuple(out.shape) == (8, 16, 3)
    same = tf.zeros((12, 20, 3))            # already multiples of 4: untouched
    assert tuple(transform(same, preprocess="none", training=False, crop_size=8, load_size=8, flip=False,
                           seed=[0, 0]).shape) == (12, 20, 3)
