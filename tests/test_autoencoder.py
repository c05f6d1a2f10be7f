"""Autoencoder baselines: the encoder-decoder, the multichannel U-Net, regression training,
and the denoising / inpainting data helpers (tiny configs)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.evaluation import metrics
from kerasi2i.models import unet_generator
from kerasi2i.data.corrupt import denoising_pairs, fill_holes, free_form_masks, inpainting_pairs, mask_images, random_masks, rectangle_masks
from kerasi2i.networks import encoder_decoder_generator, multichannel_unet_generator

SIZE = 32


def n_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def smooth_images(n=8, size=SIZE, seed=0):
    """Smooth random colour images in [-1, 1] (upsampled 4x4 noise)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(-1, 1, (n, 4, 4, 3)).astype("float32")
    return tf.image.resize(small, (size, size), method="bilinear").numpy()


def image_dataset(n=8, batch_size=4, size=SIZE):
    return tf.data.Dataset.from_tensor_slices(smooth_images(n, size)).batch(batch_size)


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------
def test_encoder_decoder_parameter_count_by_hand():
    """4x4x3 input, 2 levels, base 4, no norm: the U-Net minus the skips.
    down1 4*4*3*4 + 4, down2 4*4*4*8 + 8, up1 (transposed) 4*4*8*4 + 4, up2 4*4*4*3 + 3;
    the U-Net's up2 reads 4 + 4 concatenated channels: 4*4*8*3 + 3."""
    kwargs = dict(input_shape=(4, 4, 3), base_filters=4, norm="none", dropout=0.0, dropout_blocks=0)
    ed = encoder_decoder_generator(**kwargs)
    unet = unet_generator(**kwargs)
    assert n_params(ed) == 196 + 520 + 516 + 195 == 1427
    assert n_params(unet) == 1427 - 195 + 387


def test_encoder_decoder_is_the_unet_without_skips():
    ed = encoder_decoder_generator((64, 64, 3), base_filters=8, name="g")
    unet = unet_generator((64, 64, 3), base_filters=8, name="g")
    assert ed.output_shape == (None, 64, 64, 3)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in ed.layers)
    unet_layers = {layer.name: layer for layer in unet.layers}
    for layer in ed.layers:
        assert layer.name in unet_layers, layer.name  # same names, no extra layers
        for w, w_unet in zip(layer.weights, unet_layers[layer.name].weights):
            if "_up" in layer.name and "_up1_" not in layer.name and w.ndim == 4:
                # decoder convolutions after the first read half the U-Net's channels
                assert w.shape[-1] * 2 == w_unet.shape[-1]
            else:
                assert w.shape == w_unet.shape, layer.name
    # Without skips, the output has only the bottleneck to go on: (bs, 1, 1, 64).
    assert ed.get_layer("g_down6_conv").output.shape == (None, 1, 1, 64)


def test_encoder_decoder_any_input_channels_and_errors():
    model = encoder_decoder_generator((32, 32, 4), base_filters=4, num_downs=3, dropout_blocks=2, upsampling="resize")
    out = model(np.zeros((2, 32, 32, 4), "float32"))
    assert out.shape == (2, 32, 32, 3) and float(np.max(np.abs(out))) <= 1.0
    with pytest.raises(ValueError, match="output_channels"):
        encoder_decoder_generator((32, 32, 3), output_channels=2)
    with pytest.raises(ValueError, match="multiples of 2\\*\\*5"):
        encoder_decoder_generator((48, 48, 3), num_downs=5)
    with pytest.raises(ValueError, match="dropout_blocks"):
        encoder_decoder_generator((32, 32, 3), dropout_blocks=5)


def test_multichannel_unet_widens_only_the_first_convolution(tmp_path):
    unet = unet_generator((SIZE, SIZE, 3), base_filters=4, name="u")
    wide = multichannel_unet_generator((SIZE, SIZE, 4), base_filters=4, name="u")
    assert wide.input_shape == (None, SIZE, SIZE, 4) and wide.output_shape == (None, SIZE, SIZE, 3)
    assert n_params(wide) == n_params(unet) + 4 * 4 * 1 * 4  # one more input channel in down1
    assert [layer.name for layer in wide.layers[1:]] == [layer.name for layer in unet.layers[1:]]
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 4)).astype("float32")
    wide.save(tmp_path / "wide.keras")
    loaded = keras.saving.load_model(tmp_path / "wide.keras")
    np.testing.assert_allclose(loaded(x), wide(x), atol=1e-6)


@pytest.mark.slow
def test_regression_training_lowers_the_loss():
    """The L1 baseline is a plain compile/fit: the loss after a few steps must be lower
    than before, and the kerasi2i metrics are reported."""
    keras.utils.set_random_seed(0)
    x = smooth_images(8, seed=1)
    y = -x[..., ::-1]  # a fixed colour mapping
    model = unet_generator((SIZE, SIZE, 3), base_filters=4, norm="none", dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="mae",
                  metrics=[metrics.L1(), metrics.PSNR(), metrics.SSIM()])

    def l1():
        return float(np.mean(np.abs(model(x) - y)))

    before = l1()
    history = model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(30), epochs=1, verbose=0).history
    assert l1() < 0.7 * before
    assert set(history) == {"loss", "l1", "psnr", "ssim"}
    assert history["l1"][0] == pytest.approx(history["loss"][0], rel=1e-4)  # "mae" is the l1 metric


# --------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------
def test_rectangle_masks_are_one_filled_rectangle_of_the_asked_size():
    masks = rectangle_masks(16, 32, 40, seed=3, min_size=0.25, max_size=0.5).numpy()
    assert masks.shape == (16, 32, 40, 1) and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    for mask in masks[..., 0]:
        rows, cols = np.nonzero(mask)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert mask.sum() == height * width  # the bounding box is filled: one rectangle
        assert 8 <= height <= 16 and 10 <= width <= 20
    np.testing.assert_array_equal(masks, rectangle_masks(16, 32, 40, seed=3).numpy())
    assert not np.array_equal(masks, rectangle_masks(16, 32, 40, seed=4).numpy())
    with pytest.raises(ValueError, match="min_size"):
        rectangle_masks(2, 8, 8, min_size=0.6, max_size=0.5)


def test_free_form_and_mixed_masks():
    masks = free_form_masks(16, 32, 32, seed=1).numpy()
    assert masks.shape == (16, 32, 32, 1)
    assert set(np.unique(masks)) <= {0.0, 1.0}
    covered = masks.mean(axis=(1, 2, 3))
    assert np.all(covered > 0) and np.all(covered < 0.9)
    assert len(np.unique(covered)) > 1  # different holes for different images
    np.testing.assert_array_equal(masks, free_form_masks(16, 32, 32, seed=1).numpy())
    mixed = random_masks(32, 32, 32, kind="mixed", seed=tf.constant([5, 6])).numpy()
    assert mixed.shape == (32, 32, 32, 1) and set(np.unique(mixed)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="kind"):
        random_masks(2, 8, 8, kind="circle")


def test_inpainting_pairs():
    ds = inpainting_pairs(image_dataset(), kind="rectangle", seed=0)
    assert ds.element_spec[0].shape[-1] == 4
    first = [(x.numpy(), y.numpy()) for x, y in ds]
    clean = smooth_images()
    for i, (x, y) in enumerate(first):
        mask = x[..., 3:]
        np.testing.assert_array_equal(y, clean[4 * i: 4 * i + 4])
        assert set(np.unique(mask)) == {0.0, 1.0}
        np.testing.assert_allclose(x[..., :3], y * (1 - mask))  # the hole is blanked (0)
        assert np.all(x[..., :3][np.broadcast_to(mask, y.shape) == 1] == 0)
    second = [x.numpy() for x, _ in ds]
    assert not np.array_equal(first[0][0], second[0])  # new holes every epoch
    again = [x.numpy() for x, _ in inpainting_pairs(image_dataset(), kind="rectangle", seed=0)]
    np.testing.assert_array_equal(first[0][0], again[0])  # reproducible from the seed
    paired = tf.data.Dataset.from_tensor_slices((clean, clean)).batch(4)
    with pytest.raises(ValueError, match="lambda x, y: y"):
        inpainting_pairs(paired)


def test_fill_holes_keeps_known_pixels():
    clean = smooth_images(4)
    masks = rectangle_masks(4, SIZE, SIZE, seed=0)
    inputs = mask_images(clean, masks)
    model = encoder_decoder_generator((SIZE, SIZE, 4), base_filters=4)
    filled = fill_holes(model, inputs).numpy()
    output = model(inputs).numpy()
    m = np.broadcast_to(masks.numpy(), clean.shape) == 1
    np.testing.assert_allclose(filled[~m], clean[~m])
    np.testing.assert_allclose(filled[m], output[m])


def test_denoising_pairs():
    zeros = tf.data.Dataset.from_tensor_slices(np.zeros((8, SIZE, SIZE, 3), "float32")).batch(4)
    noisy, clean = next(iter(denoising_pairs(zeros, sigma=0.1, seed=0)))
    assert noisy.shape == clean.shape == (4, SIZE, SIZE, 3)
    np.testing.assert_array_equal(clean, 0.0)
    # sigma is on the [0, 1] scale: 0.2 in the models' [-1, 1] scale
    assert float(np.std(noisy)) == pytest.approx(0.2, rel=0.05)
    ones = tf.data.Dataset.from_tensor_slices(np.ones((4, SIZE, SIZE, 3), "float32")).batch(4)
    clipped, _ = next(iter(denoising_pairs(ones, sigma=0.3, seed=0)))
    assert float(np.max(clipped)) == 1.0 and float(np.min(clipped)) >= -1.0
    unclipped, _ = next(iter(denoising_pairs(ones, sigma=0.3, clip=False, seed=0)))
    assert float(np.max(unclipped)) > 1.0
    blind, _ = next(iter(denoising_pairs(zeros, sigma=(0.0, 0.3), seed=1)))
    stds = np.std(blind.numpy(), axis=(1, 2, 3))
    assert np.all(stds < 0.6 + 0.05) and np.ptp(stds) > 0.01  # one sigma per image
    with pytest.raises(ValueError, match="sigma"):
        denoising_pairs(zeros, sigma=(0.3, 0.1))


def test_regression_config_residual_option():
    """`kerasi2i train regression --architecture unet --residual` builds the residual U-Net;
    the encoder-decoder has no residual output and says so."""
    from kerasi2i.training import make_config

    model = make_config("regression", architecture="unet", image_size=32, base_filters=4, residual=True).build()
    assert model.generator.layers[-1].name == "unet_regression_residual"
    plain = make_config("regression", architecture="unet", image_size=32, base_filters=4).build()
    assert model.generator.count_params() == plain.generator.count_params()
    with pytest.raises(ValueError, match="residual=True needs architecture='unet'"):
        make_config("regression", image_size=32, base_filters=4, residual=True).build()
    pix2pix = make_config("pix2pix", image_size=32, base_filters=4, residual=True).build()
    assert pix2pix.generator.layers[-1].name.endswith("_residual")
