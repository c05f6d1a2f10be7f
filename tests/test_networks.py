"""Tests for kerasi2i.networks and kerasi2i.networks.layers.

Parameter counts are checked against the reference PyTorch implementation
(junyanz/pytorch-CycleGAN-and-pix2pix); everything that runs data uses tiny models.
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
from keras import layers

from kerasi2i.networks.layers import ReflectionPadding2D
from kerasi2i.models import (
    discriminator_for_receptive_field,
    patch_discriminator,
    pixel_discriminator,
    receptive_field,
    resnet_generator,
    unet_generator,
)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def layers_of(model, cls):
    return [layer for layer in model.layers if type(layer) is cls]


def images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype("float32")


# ------------------------------------------------------------------------------------
# Parameter counts of the reference networks (full size: built, never run)
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, expected, output_shape",
    [
        (lambda: unet_generator((256, 256, 3), norm="batch"), 54_413_955, (256, 256, 3)),
        (lambda: unet_generator((128, 128, 3), norm="batch"), 41_828_995, (128, 128, 3)),
        (lambda: resnet_generator((256, 256, 3), n_blocks=9), 11_378_179, (256, 256, 3)),
        (lambda: resnet_generator((128, 128, 3), n_blocks=6), 7_837_699, (128, 128, 3)),
        # 70x70 PatchGAN: pix2pix (3 + 3 channels, batch norm), CycleGAN (3, instance)
        (lambda: patch_discriminator((256, 256, 3), condition_channels=3), 2_768_705,
         (30, 30, 1)),
        (lambda: patch_discriminator((256, 256, 3), norm="instance"), 2_764_737, (30, 30, 1)),
    ],
    ids=["unet_256", "unet_128", "resnet_9blocks", "resnet_6blocks", "patch70_cond_batch",
         "patch70_instance"],
)
def test_reference_parameter_counts(build, expected, output_shape):
    model = build()
    assert trainable_count(model) == expected
    assert model.output_shape == (None, *output_shape)


def test_unet_default_depth_follows_input_size():
    for size, downs in ((256, 8), (128, 7), (64, 6), (32, 5)):
        model = unet_generator((size, size, 3), base_filters=2)
        convs = [l for l in model.layers if l.name.endswith("_conv") and "_down" in l.name]
        assert len(convs) == downs
        assert model.get_layer(f"unet_generator_down{downs}_conv").output.shape[1:3] == (1, 1)


# ------------------------------------------------------------------------------------
# Shapes of tiny models
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("upsampling", ["transpose", "resize"])
@pytest.mark.parametrize("channels", [(1, 3), (3, 1), (3, 3)])
def test_unet_shapes(channels, upsampling, norm):
    in_ch, out_ch = channels
    model = unet_generator(
        (64, 64, in_ch), output_channels=out_ch, base_filters=8, norm=norm,
        upsampling=upsampling,
    )
    y = model(images((64, 64, in_ch)), training=False)
    assert tuple(y.shape) == (2, 64, 64, out_ch)
    y = np.asarray(y)
    assert np.all(np.abs(y) <= 1) and np.std(y) > 0
    norm_layers = layers_of(model, layers.BatchNormalization) + layers_of(
        model, layers.GroupNormalization
    )
    # Norm after down2..down5 and up1..up5 of a 6-level U-Net; none for "none".
    assert len(norm_layers) == (0 if norm == "none" else 4 + 5)
    resizes = layers_of(model, layers.UpSampling2D)
    assert len(resizes) == (6 if upsampling == "resize" else 0)


def test_unet_non_square_and_skip_concatenation():
    model = unet_generator((32, 64, 3), base_filters=4)  # num_downs = log2(32) = 5
    assert model.output_shape == (None, 32, 64, 3)
    assert model.get_layer("unet_generator_down5_conv").output.shape[1:] == (1, 2, 32)
    # Decoder block j is concatenated [skip, up] with the encoder output of its size.
    concat = model.get_layer("unet_generator_up1_concat")
    skip, up = concat.input
    assert skip is model.get_layer("unet_generator_down4_norm").output
    assert up is model.get_layer("unet_generator_up1_dropout").output
    assert concat.output.shape[1:] == (2, 4, 64)


def test_unet_use_bias_rule():
    batch = unet_generator((32, 32, 3), base_filters=4, norm="batch")
    convs = layers_of(batch, layers.Conv2D) + layers_of(batch, layers.Conv2DTranspose)
    with_bias = [c.name for c in convs if c.use_bias]
    assert with_bias == ["unet_generator_up5_conv"]  # only the outermost up convolution
    for norm in ("instance", "none"):
        model = unet_generator((32, 32, 3), base_filters=4, norm=norm)
        convs = layers_of(model, layers.Conv2D) + layers_of(model, layers.Conv2DTranspose)
        assert all(c.use_bias for c in convs)


def test_discriminator_shapes():
    for n_layers, side in ((1, 30), (2, 14), (3, 6), (4, 2)):
        model = patch_discriminator((64, 64, 3), base_filters=4, n_layers=n_layers)
        assert model.output_shape == (None, side, side, 1)
    cond = patch_discriminator((64, 64, 3), condition_channels=1, base_filters=4)
    assert [tuple(i.shape) for i in cond.inputs] == [(None, 64, 64, 1), (None, 64, 64, 3)]
    y = cond([images((64, 64, 1)), images((64, 64, 3))], training=False)
    assert tuple(y.shape) == (2, 6, 6, 1)
    assert cond.get_layer("patch_discriminator_block1_conv").kernel.shape == (4, 4, 4, 4)
    # Fully convolutional when the size is left open.
    free = patch_discriminator((None, None, 3), base_filters=4)
    assert tuple(free(images((64, 96, 3), batch=1)).shape) == (1, 6, 10, 1)

    pixel = pixel_discriminator((24, 40, 3), base_filters=4)
    assert tuple(pixel(images((24, 40, 3))).shape) == (2, 24, 40, 1)
    pixel = pixel_discriminator((24, 40, 3), condition_channels=3, base_filters=4)
    assert pixel.output_shape == (None, 24, 40, 1) and len(pixel.inputs) == 2


def test_pixel_discriminator_reference_count():
    # Reference PixelDiscriminator(6, ndf=64, batch): 448 + 8192 + 256 (BN) + 128.
    assert trainable_count(pixel_discriminator((16, 16, 3), condition_channels=3)) == 9024


def test_resnet_generator_shapes():
    model = resnet_generator((64, 64, 3), base_filters=8, n_blocks=2)
    y = model(images((64, 64, 3)), training=False)
    assert tuple(y.shape) == (2, 64, 64, 3)
    assert model.get_layer("resnet_generator_down2_relu").output.shape[1:] == (16, 16, 32)
    assert model.get_layer("resnet_generator_up1_crop").output.shape[1:] == (32, 32, 16)
    gray = resnet_generator((None, None, 1), output_channels=1, base_filters=4, n_blocks=1)
    assert tuple(gray(images((20, 36, 1))).shape) == (2, 20, 36, 1)


def test_resnet_upsampling_matches_pytorch_conv_transpose():
    """u128/u64 = PyTorch ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1):
    input pixel i feeds output pixel 2 * i + k - 1 through kernel tap k."""
    model = resnet_generator((16, 16, 3), base_filters=2, n_blocks=1)
    conv = model.get_layer("resnet_generator_up1_conv")
    crop = model.get_layer("resnet_generator_up1_crop")
    x = images((4, 4, 8), batch=1)
    kernel = np.asarray(conv.kernel)  # (3, 3, out, in)
    bias = np.asarray(conv.bias)
    expected = np.zeros((8, 8, kernel.shape[2]), "float32") + bias
    for i in range(4):
        for j in range(4):
            for ki in range(3):
                for kj in range(3):
                    oi, oj = 2 * i + ki - 1, 2 * j + kj - 1
                    if 0 <= oi < 8 and 0 <= oj < 8:
                        expected[oi, oj] += kernel[ki, kj] @ x[0, i, j]
    np.testing.assert_allclose(np.asarray(crop(conv(x)))[0], expected, atol=1e-6)


# ------------------------------------------------------------------------------------
# Receptive fields
# ------------------------------------------------------------------------------------
def test_receptive_field_values():
    assert [receptive_field(n) for n in (1, 2, 3, 4, 5)] == [16, 34, 70, 142, 286]
    assert isinstance(discriminator_for_receptive_field(1, input_shape=(8, 8, 3)).layers[-1],
                      layers.Conv2D)
    assert discriminator_for_receptive_field(1, input_shape=(8, 8, 3)).name == (
        "pixel_discriminator"
    )
    for rf, n_layers in ((16, 1), (70, 3), (286, 5)):
        model = discriminator_for_receptive_field(rf, input_shape=(256, 256, 3), base_filters=2)
        strided = [l for l in layers_of(model, layers.Conv2D) if l.strides == (2, 2)]
        assert len(strided) == n_layers


def _gradient_support(model, size, channels, out_pixel):
    """Rows and columns of the input where d logit[out_pixel] / d input is non-zero."""
    x = tf.constant(images((size, size, channels), batch=1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = model(x, training=False)[0, out_pixel, out_pixel, 0]
    grad = np.abs(tape.gradient(logit, x).numpy()[0]).sum(-1)
    rows, cols = np.nonzero(grad)
    return grad, rows, cols


@pytest.mark.parametrize("n_layers, size", [(1, 40), (3, 96)])
def test_receptive_field_empirically(n_layers, size):
    model = patch_discriminator((size, size, 3), base_filters=2, n_layers=n_layers)
    side = model.output_shape[1]
    p = side // 2
    grad, rows, cols = _gradient_support(model, size, 3, p)
    rf = receptive_field(n_layers)
    # The window starts where the padding puts it: p - 2 after the two stride-1 layers,
    # then 2 * s - 1 for every stride-2 layer (PyTorch's padding 1 on each side).
    start = p - 2
    for _ in range(n_layers):
        start = 2 * start - 1
    assert 0 < start and start + rf < size  # the window lies inside the image
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (
        start, start + rf - 1, start, start + rf - 1
    )
    assert np.all(grad[start:start + rf, start:start + rf] > 0)  # every pixel counts


def test_pixel_discriminator_receptive_field_is_one_pixel():
    model = pixel_discriminator((9, 9, 3), base_filters=2)
    _, rows, cols = _gradient_support(model, 9, 3, 4)
    assert rows.tolist() == [4] and cols.tolist() == [4]


# ------------------------------------------------------------------------------------
# Dropout, initialisation
# ------------------------------------------------------------------------------------
def test_unet_dropout_in_the_innermost_decoder_blocks():
    model = unet_generator((64, 64, 3), base_filters=4)  # 6 levels
    drops = layers_of(model, layers.Dropout)
    assert [d.name for d in drops] == [f"unet_generator_up{j}_dropout" for j in (1, 2, 3)]
    # The first three decoder blocks (paper: CD512 x 3), right after their norm layer,
    # at 2x2, 4x4 and 8x8 for a 64x64 input.
    for j, d in zip((1, 2, 3), drops):
        assert d.input is model.get_layer(f"unet_generator_up{j}_norm").output
        assert d.output.shape[1] == 2**j
        assert d.rate == 0.5
    assert [d.name for d in layers_of(unet_generator((64, 64, 3), base_filters=4,
                                                     dropout_blocks=5), layers.Dropout)] == [
        f"unet_generator_up{j}_dropout" for j in range(1, 6)
    ]
    assert not layers_of(unet_generator((64, 64, 3), base_filters=4, dropout=0), layers.Dropout)
    assert not layers_of(unet_generator((64, 64, 3), base_filters=4, dropout_blocks=0),
                         layers.Dropout)
    # Dropout is active in training mode only.
    x = images((64, 64, 3))
    assert not np.allclose(model(x, training=True), model(x, training=True))
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))


def _reference_unet_dropout_blocks(num_downs):
    """Which decoder blocks (1 = right after the bottleneck) get nn.Dropout in the PyTorch
    reference's UnetGenerator: it nests UnetSkipConnectionBlocks from the innermost out,
    and only the `num_downs - 5` blocks of its first loop have use_dropout=True."""
    blocks = [False]                                   # innermost: no dropout
    blocks += [True] * max(0, num_downs - 5)          # for i in range(num_downs - 5): use_dropout
    blocks += [False] * 3                              # ngf*4, ngf*2, ngf blocks
    blocks += [False]                                  # outermost (no norm, no dropout)
    return [j for j, has in enumerate(blocks[:num_downs], start=1) if has]


@pytest.mark.slow
def test_unet_dropout_placement_paper_or_reference():
    for size, num_downs in ((256, 8), (128, 7), (64, 6), (32, 5)):
        reference = unet_generator((size, size, 3), base_filters=2, dropout_placement="reference")
        names = [d.name for d in layers_of(reference, layers.Dropout)]
        assert names == [f"unet_generator_up{j}_dropout" for j in _reference_unet_dropout_blocks(num_downs)]
        paper = unet_generator((size, size, 3), base_filters=2)   # the default
        assert [d.name for d in layers_of(paper, layers.Dropout)] == [
            f"unet_generator_up{j}_dropout" for j in (1, 2, 3)]
        assert reference.count_params() == paper.count_params()
    assert _reference_unet_dropout_blocks(8) == [2, 3, 4] and _reference_unet_dropout_blocks(7) == [2, 3]
    with pytest.raises(ValueError, match="dropout_placement"):
        unet_generator((64, 64, 3), base_filters=2, dropout_placement="lua")


def test_resnet_dropout_in_every_block():
    assert not layers_of(resnet_generator((16, 16, 3), base_filters=2, n_blocks=3),
                         layers.Dropout)
    model = resnet_generator((16, 16, 3), base_filters=2, n_blocks=3, dropout=0.5)
    drops = layers_of(model, layers.Dropout)
    assert [d.name for d in drops] == [f"resnet_generator_res{b}_dropout" for b in (1, 2, 3)]


def test_weight_initialisation():
    model = unet_generator((64, 64, 3), base_filters=16, norm="batch")
    kernel = np.asarray(model.get_layer("unet_generator_down5_conv").kernel)  # 4*4*128*128
    assert kernel.size == 262_144
    assert abs(kernel.mean()) < 1e-3 and abs(kernel.std() - 0.02) < 5e-4
    gammas = np.concatenate([np.asarray(bn.gamma) for bn in layers_of(model,
                                                                       layers.BatchNormalization)])
    assert abs(gammas.mean() - 1) < 0.01 and abs(gammas.std() - 0.02) < 0.005
    bias = np.asarray(model.get_layer("unet_generator_up6_conv").bias)
    np.testing.assert_array_equal(bias, 0)
    bn = model.get_layer("unet_generator_down2_norm")
    assert bn.momentum == 0.9 and bn.epsilon == 1e-5
    inorm = unet_generator((32, 32, 3), base_filters=2, norm="instance").get_layer(
        "unet_generator_down2_norm"
    )
    assert inorm.groups == 4 and not inorm.center and not inorm.scale  # one group per channel


# ------------------------------------------------------------------------------------
# Argument validation
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: unet_generator((96, 96, 3)), r"96.*num_downs <= 5"),
        (lambda: unet_generator((64, 48, 3), num_downs=6), r"\(64, 48, 3\)"),
        (lambda: unet_generator((64, 64, 2)), r"\(64, 64, 2\)"),
        (lambda: unet_generator((64, 64, 3), output_channels=2), r"output_channels=2"),
        (lambda: unet_generator((64, 64, 3), norm="layer"), r"'layer'"),
        (lambda: unet_generator((64, 64, 3), upsampling="pixelshuffle"), r"'pixelshuffle'"),
        (lambda: unet_generator((64, 64, 3), dropout_blocks=6), r"dropout_blocks=6"),
        (lambda: unet_generator((64, 64, 3), dropout=1.5), r"dropout=1.5"),
        (lambda: unet_generator((64, 64)), r"\(64, 64\)"),
        (lambda: resnet_generator((30, 30, 3)), r"\(30, 30, 3\)"),
        (lambda: resnet_generator((64, 64, 2)), r"\(64, 64, 2\)"),
        (lambda: resnet_generator(norm="group"), r"'group'"),
        (lambda: patch_discriminator(norm="layer"), r"'layer'"),
        (lambda: patch_discriminator((64, 64, 3), n_layers=5), r"n_layers=5"),
        (lambda: patch_discriminator(n_layers=0), r"n_layers=0"),
        (lambda: pixel_discriminator(norm="spectral"), r"'spectral'"),
        (lambda: discriminator_for_receptive_field(50), r"receptive_field_size=50"),
        (lambda: receptive_field(0), r"n_layers=0"),
        (lambda: ReflectionPadding2D((1, 2, 3)), r"\(1, 2, 3\)"),
    ],
)
def test_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# ------------------------------------------------------------------------------------
# ReflectionPadding2D
# ------------------------------------------------------------------------------------
def test_reflection_padding():
    x = np.arange(1, 4, dtype="float32").reshape(1, 1, 3, 1).repeat(3, axis=1)
    y = np.asarray(ReflectionPadding2D(((0, 0), (2, 2)))(x))
    np.testing.assert_array_equal(y[0, 0, :, 0], [3, 2, 1, 2, 3, 2, 1])
    layer = ReflectionPadding2D((1, 2))
    assert layer.compute_output_shape((None, 5, 6, 4)) == (None, 7, 10, 4)
    assert tuple(layer(np.zeros((2, 5, 6, 4), "float32")).shape) == (2, 7, 10, 4)
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.padding == ((1, 1), (2, 2))
    with pytest.raises(ValueError, match="height=3"):
        ReflectionPadding2D(3)(np.zeros((1, 3, 8, 1), "float32"))


# ------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, inputs",
    [
        (lambda: unet_generator((32, 32, 3), base_filters=4), [(32, 32, 3)]),
        (lambda: unet_generator((32, 32, 3), base_filters=4, residual=True), [(32, 32, 3)]),
        (lambda: resnet_generator((16, 16, 3), base_filters=4, n_blocks=2), [(16, 16, 3)]),
        (lambda: patch_discriminator((32, 32, 3), condition_channels=3, base_filters=4,
                                     norm="instance"), [(32, 32, 3), (32, 32, 3)]),
    ],
    ids=["unet", "unet_residual", "resnet", "patch_cond"],
)
def test_keras_file_round_trip(tmp_path, build, inputs):
    model = build()
    x = [images(shape, seed=i) for i, shape in enumerate(inputs)]
    x = x[0] if len(x) == 1 else x
    model(x, training=True)  # moves the BatchNorm statistics off their initial values
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == model.name
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_allclose(
        loaded(x, training=False), model(x, training=False), rtol=0, atol=1e-6
    )


# ------------------------------------------------------------------------------------
def test_residual_unet_adds_its_output_to_the_input():
    """residual=True: output = clip(input + U-Net output, -1, 1), with the same weights as
    the plain U-Net; with the last layer zeroed it is exactly the identity."""
    plain = unet_generator((32, 32, 3), base_filters=4, name="g")
    residual = unet_generator((32, 32, 3), base_filters=4, name="g", residual=True)
    assert trainable_count(plain) == trainable_count(residual)
    residual.set_weights(plain.get_weights())
    x = images((32, 32, 3), seed=1)
    np.testing.assert_allclose(residual(x, training=False),
                               np.clip(x + plain(x, training=False), -1, 1), atol=1e-6)
    last = residual.get_layer("g_up5_conv")  # the last transposed convolution: 32 / 2**5 = 1 px bottleneck
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    np.testing.assert_allclose(residual(x, training=False), x, atol=1e-6)


def test_residual_unet_broadcasts_a_grey_input_and_rejects_a_channel_mismatch():
    grey_to_colour = unet_generator((32, 32, 1), output_channels=3, base_filters=4, residual=True)
    assert grey_to_colour(images((32, 32, 1), seed=2)).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="residual=True.*1 or output_channels=1"):
        unet_generator((32, 32, 3), output_channels=1, base_filters=4, residual=True)
