"""BicycleGAN against the authors' code (junyanz/BicycleGAN, models/networks.py and
models/bicycle_gan_model.py): the add-all generator, the ResNet encoder, the two-scale
discriminator, xavier init, the reference's dropout and its split of the batch, each
checked against the reference's definition (parameter counts worked out by hand from its
layer lists, closed forms, the halves its forward() uses)."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from kerasi2i.models.bicyclegan import (
    BicycleGAN,
    BicycleGANConfig,
    build_bicyclegan,
    discriminator_gan_loss,
    generator_gan_loss,
)
from kerasi2i.networks.blocks import conv2d
from kerasi2i.networks.discriminators import multiscale_discriminator
from kerasi2i.networks.layers import ExcludePadAveragePooling2D
from kerasi2i.networks.encoders import resnet_encoder
from kerasi2i.networks.unet import conditional_unet_generator

# The options as build_bicyclegan had them before they existed, and the reference's.
OLD = dict(where_add="input", encoder="conv", num_discriminators=1, init="normal", dropout=0.0, split_batch=False)
REFERENCE = dict(where_add="all", encoder="resnet", num_discriminators=2, init="xavier", dropout=0.5,
                 split_batch=True)


def n_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def conv(k, c_in, c_out):  # a PyTorch Conv2d / ConvTranspose2d / Linear (k=1) with bias
    return k * k * c_in * c_out + c_out


def images(n, size=64, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype("float32")


# --------------------------------------------------------------------------------------
# G_Unet_add_all
# --------------------------------------------------------------------------------------
def test_add_all_generator_has_the_reference_parameter_count():
    # G_Unet_add_all(input_nc=3, output_nc=3, nz=2, num_downs=6, ngf=2), instance norm
    # (no parameters). Every UnetBlock_with_z's down conv reads input_nc + nz channels; the
    # up conv reads 2 * inner_nc (inner_nc in the innermost block):
    expected = (
        conv(4, 3 + 2, 2) + conv(4, 2 * 2, 3)       # outermost: 162 + 195
        + conv(4, 2 + 2, 4) + conv(4, 2 * 4, 2)     # ngf -> 2 ngf: 260 + 258
        + conv(4, 4 + 2, 8) + conv(4, 2 * 8, 4)     # 2 ngf -> 4 ngf: 776 + 1028
        + conv(4, 8 + 2, 16) + conv(4, 2 * 16, 8)   # 4 ngf -> 8 ngf: 2576 + 4104
        + conv(4, 16 + 2, 16) + conv(4, 2 * 16, 16)  # 8 ngf, use_dropout: 4624 + 8208
        + conv(4, 16 + 2, 16) + conv(4, 16, 16)     # innermost: 4624 + 4112
    )
    assert expected == 30927
    g = conditional_unet_generator((64, 64, 3), nz=2, base_filters=2, where_add="all")
    assert n_params(g) == expected
    assert g.output_shape == (None, 64, 64, 3)
    # add_input differs only in the first convolution reading z: 16 * nz * filters more
    # weights per other level (4 + 8 + 16 + 16 + 16 filters).
    g_input = conditional_unet_generator((64, 64, 3), nz=2, base_filters=2, where_add="input")
    assert n_params(g) - n_params(g_input) == 16 * 2 * (4 + 8 + 16 + 16 + 16)


def test_add_all_generator_uses_z_at_every_level_and_not_in_the_skips():
    g = conditional_unet_generator((64, 64, 3), nz=2, base_filters=2, where_add="all")
    concat = [layer for layer in g.layers if layer.name.endswith("_z_concat")]
    assert [int(layer.output.shape[1]) for layer in concat] == [64, 32, 16, 8, 4, 2]  # the input of each level
    # The skip concatenations read 2 * filters channels: z is not in them.
    up2 = g.get_layer("conditional_unet_generator_up2_concat")
    assert up2.output.shape[-1] == 2 * 16
    # z changes the output through the deep levels alone: zeroing the first level's z
    # weights still leaves an output that depends on z.
    down1 = g.get_layer("conditional_unet_generator_down1_conv")
    kernel, bias = down1.get_weights()
    kernel[:, :, 3:, :] = 0
    down1.set_weights([kernel, bias])
    a = images(1)
    z0, z1 = np.zeros((1, 2), "float32"), np.full((1, 2), 3.0, "float32")
    assert float(np.abs(g([a, z0]) - g([a, z1])).max()) > 1e-5


@pytest.mark.parametrize("size, dropped", [(64, ["up2"]), (128, ["up2", "up3"])])
def test_dropout_where_the_reference_puts_it(size, dropped):
    # use_dropout=True: the block after the innermost and the num_downs - 6 ngf*8 blocks
    # after it, i.e. decoder blocks 2 .. num_downs - 4 (counted from the bottleneck).
    g = conditional_unet_generator((size, size, 3), nz=2, base_filters=1, where_add="all", dropout=0.5)
    found = [layer for layer in g.layers if isinstance(layer, layers.Dropout)]
    assert [layer.name.split("_")[-2] for layer in found] == dropped
    assert all(layer.rate == 0.5 for layer in found)


# --------------------------------------------------------------------------------------
# E_ResNet
# --------------------------------------------------------------------------------------
def test_resnet_encoder_has_the_reference_parameter_count():
    # E_ResNet(input_nc=3, output_nc=nz=2, ndf=4, n_blocks=3, vaeLike=True), instance norm
    # (64 px: the map is 8x8 before AvgPool2d(8), as resnet_256 at 256 px):
    # conv 4x4 3 -> 4; BasicBlock(4 * min(4, n), 4 * min(4, n + 1)) for n = 1, 2: 4 -> 8,
    # 8 -> 12, each conv3x3(in, in) + conv3x3(in, out) + the shortcut's conv1x1(in, out);
    # fc and fcVar: Linear(12, 2).
    expected = (
        conv(4, 3, 4)                                              # 196
        + conv(3, 4, 4) + conv(3, 4, 8) + conv(1, 4, 8)            # 148 + 296 + 40
        + conv(3, 8, 8) + conv(3, 8, 12) + conv(1, 8, 12)          # 584 + 876 + 108
        + 2 * conv(1, 12, 2)                                       # 52
    )
    assert expected == 2300
    e = resnet_encoder((64, 64, 3), latent_dim=2, base_filters=4, num_downs=3)
    assert n_params(e) == expected
    assert e.get_layer("resnet_encoder_block2_add").output.shape[1:] == (8, 8, 12)
    assert [tuple(o.shape) for o in e.outputs] == [(None, 2), (None, 2)]
    # resnet_256: 5 blocks, widths 1, 2, 3, 4, 4 times ndf: the last block is 4 -> 4.
    e256 = resnet_encoder((256, 256, 3), latent_dim=8, base_filters=1, num_downs=5)
    assert e256.get_layer("resnet_encoder_block4_add").output.shape[1:] == (8, 8, 4)
    assert n_params(e256) == (conv(4, 3, 1) + sum(conv(3, i, i) + conv(3, i, o) + conv(1, i, o)
                                                  for i, o in ((1, 2), (2, 3), (3, 4), (4, 4)))
                              + 2 * conv(1, 4, 8))


# --------------------------------------------------------------------------------------
# D_NLayersMulti
# --------------------------------------------------------------------------------------
def test_exclude_pad_average_pooling_is_pytorch_avgpool_without_the_padding():
    x = np.random.default_rng(0).normal(size=(2, 6, 5, 3)).astype("float32")
    out = np.asarray(ExcludePadAveragePooling2D(3, 2, 1)(x))
    # AvgPool2d(3, stride=2, padding=1, count_include_pad=False), written out: window i
    # covers rows 2i - 1 .. 2i + 1 clipped to the image, and is averaged over what is inside.
    expected = np.zeros((2, 3, 3, 3), "float32")
    for i in range(3):
        for j in range(3):
            rows = slice(max(2 * i - 1, 0), min(2 * i + 2, 6))
            cols = slice(max(2 * j - 1, 0), min(2 * j + 2, 5))
            expected[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_two_scale_discriminator_has_the_reference_parameter_count():
    # D_NLayersMulti(input_nc=3, ndf=4, n_layers=3, num_D=2), instance norm: model_0 with
    # ndf = 4, model_1 with round(4 / 2) = 2, each conv 4x4: in -> ndf, ndf -> 2 ndf ->
    # 4 ndf (stride 2), 4 ndf -> 8 ndf (stride 1), 8 ndf -> 1; every conv has a bias.
    def d_layers(ndf):
        return (conv(4, 3, ndf) + conv(4, ndf, 2 * ndf) + conv(4, 2 * ndf, 4 * ndf) + conv(4, 4 * ndf, 8 * ndf)
                + conv(4, 8 * ndf, 1))

    assert d_layers(4) == 11517 and d_layers(2) == 3071
    d = multiscale_discriminator((64, 64, 3), base_filters=4, n_layers=3, num_scales=2)
    assert n_params(d) == d_layers(4) + d_layers(2)
    # Scale 0 on 64 px, scale 1 on the 32 px average-pooled image.
    assert [tuple(s) for s in d.output_shape] == [(None, 6, 6, 1), (None, 2, 2, 1)]
    x = images(2)
    out0, out1 = d(x)
    pooled = ExcludePadAveragePooling2D(3, 2, 1)(x)
    np.testing.assert_allclose(out1, d.get_layer("multiscale_discriminator_scale1")(pooled), atol=1e-6)
    np.testing.assert_allclose(out0, d.get_layer("multiscale_discriminator_scale0")(x), atol=1e-6)


def test_gan_losses_are_summed_over_the_scales():
    rng = np.random.default_rng(0)
    real = [rng.normal(size=(2, 6, 6, 1)).astype("float32"), rng.normal(size=(2, 2, 2, 1)).astype("float32")]
    fake = [rng.normal(size=(2, 6, 6, 1)).astype("float32"), rng.normal(size=(2, 2, 2, 1)).astype("float32")]
    # GANLoss('lsgan'): sum over scales of MSELoss(pred, target); backward_D: fake + real.
    g_expected = sum(np.mean((f - 1) ** 2) for f in fake)
    d_expected = sum(np.mean(f ** 2) for f in fake) + sum(np.mean((r - 1) ** 2) for r in real)
    assert float(generator_gan_loss(fake, "lsgan")) == pytest.approx(g_expected, rel=1e-5)
    assert float(discriminator_gan_loss(real, fake, "lsgan")) == pytest.approx(d_expected, rel=1e-5)
    # One scale: a tensor, not a list, gives the same as a list of one.
    assert float(generator_gan_loss(fake[0], "lsgan")) == pytest.approx(np.mean((fake[0] - 1) ** 2), rel=1e-5)


# --------------------------------------------------------------------------------------
# init_weights(init_type='xavier', init_gain=0.02)
# --------------------------------------------------------------------------------------
def test_xavier_init_has_the_reference_std():
    layer = conv2d(256, 4, init="xavier")
    layer.build((None, 8, 8, 128))
    w = np.asarray(layer.kernel)
    # xavier_normal_(gain): std = gain * sqrt(2 / (fan_in + fan_out)), fan = k * k * channels
    std = 0.02 * np.sqrt(2.0 / (16 * 128 + 16 * 256))
    assert float(np.std(w)) == pytest.approx(std, rel=0.01)
    assert abs(float(np.mean(w))) < 0.01 * std * 10
    assert float(np.abs(w).max()) > 3 * std  # untruncated (a truncated normal stops at 2 std)
    np.testing.assert_array_equal(np.asarray(layer.bias), 0.0)


def test_every_network_is_xavier_initialised_with_init_xavier():
    keras.utils.set_random_seed(0)
    model = build_bicyclegan(64, nz=8, base_filters=8, encoder_filters=8, **REFERENCE)
    checked = 0
    for net in (model.generator, model.encoder, model.discriminator, model.discriminator_random):
        for w in net.trainable_weights:
            if len(w.shape) < 2 or int(np.prod(w.shape)) < 4000:
                continue  # biases; tiny kernels give noisy estimates
            shape = w.shape
            receptive = int(np.prod(shape[:-2])) if len(shape) == 4 else 1
            fans = receptive * (int(shape[-2]) + int(shape[-1]))
            expected = 0.02 * np.sqrt(2.0 / fans)
            assert float(np.std(np.asarray(w))) == pytest.approx(expected, rel=0.1), w.path
            checked += 1
    assert checked >= 10
    normal = build_bicyclegan(64, nz=8, base_filters=8, encoder_filters=8, **{**REFERENCE, "init": "normal"})
    kernel = np.asarray(normal.generator.get_layer("bicyclegan_generator_down4_conv").kernel)
    assert float(np.std(kernel)) == pytest.approx(0.02, rel=0.05)


# --------------------------------------------------------------------------------------
# The defaults, and the old model
# --------------------------------------------------------------------------------------
def test_old_options_rebuild_the_old_model():
    """The counts notebook 04 printed before the options existed (64 px, nz 8, 32 filters)."""
    model = build_bicyclegan(64, nz=8, base_filters=32, encoder_filters=32, **OLD)
    counts = [n_params(net) for net in (model.generator, model.encoder, model.discriminator,
                                        model.discriminator_random)]
    assert counts == [7_317_699, 167_664, 694_241, 694_241]
    assert not any(isinstance(layer, layers.Dropout) for layer in model.generator.get_layer(
        "bicyclegan_generator_unet").layers)
    assert model.split_batch is False


def test_defaults_are_the_documented_ones():
    """The defaults are the simpler architecture (the model notebook 04 trains; the module
    docstring gives the measurement); the reference's options rebuild the reference's."""
    model = build_bicyclegan(64, nz=8, base_filters=32, encoder_filters=32)
    counts = [n_params(net) for net in (model.generator, model.encoder, model.discriminator,
                                        model.discriminator_random)]
    assert counts == [7_317_699, 167_664, 694_241, 694_241]  # notebook 04's printed counts
    assert not [layer for layer in model.generator.layers if isinstance(layer, layers.Dropout)]
    config = BicycleGANConfig(data="x", output="y")
    assert (config.where_add, config.encoder, config.num_discriminators, config.init, config.dropout,
            config.split_batch) == ("input", "conv", 1, "normal", 0.0, False)
    reference = build_bicyclegan(64, nz=8, base_filters=32, encoder_filters=32, where_add="all", encoder="resnet",
                                 init="xavier", dropout=0.5)
    counts = [n_params(net) for net in (reference.generator, reference.encoder, reference.discriminator)]
    # add-all G (+16 * 8 * (64 + 128 + 256 * 3) over add-input), E_ResNet, one scale.
    assert counts == [7_317_699 + 16 * 8 * (64 + 128 + 256 * 3), 131_536, 694_241]
    assert [layer.name for layer in reference.generator.layers if isinstance(layer, layers.Dropout)] == [
        "bicyclegan_generator_up2_dropout"]
    two = build_bicyclegan(64, nz=8, base_filters=32, encoder_filters=32, num_discriminators=2)
    assert n_params(two.discriminator) == 694_241 + 175_089  # + the 16-filter scale


def test_option_errors_name_the_option():
    with pytest.raises(ValueError, match="where_add"):
        build_bicyclegan(64, where_add="middle")
    with pytest.raises(ValueError, match="num_discriminators"):
        build_bicyclegan(64, num_discriminators=3)
    with pytest.raises(ValueError, match="num_discriminators=2 needs a PatchGAN"):
        build_bicyclegan(64, num_discriminators=2, receptive_field=1)
    with pytest.raises(ValueError, match="split_batch.*--split-batch.*got a batch of 1"):
        BicycleGANConfig(data="x", output="y", split_batch=True)
    with pytest.raises(ValueError, match="split_batch.*got a batch of 3"):
        BicycleGANConfig(data="x", output="y", split_batch=True, batch_size=3)
    assert BicycleGANConfig(data="x", output="y", split_batch=True, batch_size=2).split_batch


# --------------------------------------------------------------------------------------
# The batch split (bicycle_gan_model.py, forward())
# --------------------------------------------------------------------------------------
class Record(layers.Layer):
    """Identity that keeps what it sees when run eagerly."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.append = log.append  # (Keras would track a list attribute as a copy)

    def call(self, x):
        if tf.executing_eagerly():
            self.append(np.asarray(x))
        return x


def recorded(net, log, tag):
    """``net`` with its first input recorded."""
    if isinstance(net.input, list):
        inputs = [keras.Input(shape=t.shape[1:]) for t in net.input]
        return keras.Model(inputs, net([Record(log, name=f"{tag}_rec")(inputs[0]), *inputs[1:]]))
    x = keras.Input(shape=net.input.shape[1:])
    return keras.Model(x, net(Record(log, name=f"{tag}_rec")(x)))


def recording_model(split_batch):
    base = build_bicyclegan(32, nz=2, base_filters=4, encoder_filters=4, receptive_field=16, seed=0,
                            split_batch=split_batch)
    logs = {name: [] for name in ("g", "e", "d", "d_random")}
    model = BicycleGAN(recorded(base.generator, logs["g"], "g"), recorded(base.encoder, logs["e"], "e"),
                       recorded(base.discriminator, logs["d"], "d"),
                       recorded(base.discriminator_random, logs["d_random"], "dr"), seed=0, split_batch=split_batch)
    model.compile()
    return model, logs


def seen(log, x):
    return any(entry.shape == x.shape and np.array_equal(entry, x) for entry in log)


def test_split_batch_feeds_each_half_to_its_path():
    model, logs = recording_model(split_batch=True)
    a, b = images(4, 32, seed=1), images(4, 32, seed=2)
    out = model.train_step((a, b))
    assert all(np.isfinite(float(v)) for v in out.values())
    # The reference: E(B1) and G(A1, .) for both paths, z_random for half the batch ...
    assert seen(logs["e"], b[:2]) and not seen(logs["e"], b)
    assert all(entry.shape[0] == 2 for log in logs.values() for entry in log)
    assert len(logs["g"]) == 2 and all(np.array_equal(entry, a[:2]) for entry in logs["g"])
    # ... D judges B1 against G(A1, E(B1)); D2 judges B2 against G(A1, z_random).
    assert seen(logs["d"], b[:2]) and not seen(logs["d"], b[2:])
    assert seen(logs["d_random"], b[2:]) and not seen(logs["d_random"], b[:2])


def test_without_split_both_paths_see_the_whole_batch():
    model, logs = recording_model(split_batch=False)
    a, b = images(4, 32, seed=1), images(4, 32, seed=2)
    model.train_step((a, b))
    assert seen(logs["e"], b) and seen(logs["d"], b) and seen(logs["d_random"], b)
    assert all(np.array_equal(entry, a) for entry in logs["g"])


@pytest.mark.parametrize("batch", [1, 3])
def test_split_batch_refuses_a_batch_it_cannot_halve(batch):
    model, _ = recording_model(split_batch=True)
    with pytest.raises(ValueError, match=f"split_batch=True.*got a batch of {batch}"):
        model.train_step((images(batch, 32), images(batch, 32)))


# --------------------------------------------------------------------------------------
# Every reference option at once
# --------------------------------------------------------------------------------------
def reference_model(seed=0):
    return build_bicyclegan(64, nz=2, base_filters=4, encoder_filters=4, seed=seed, **REFERENCE)


def test_train_step_with_every_reference_option():
    keras.utils.set_random_seed(0)
    model = reference_model()
    model.compile()
    assert isinstance(model.discriminator.output, list) and len(model.discriminator.output) == 2
    nets = (model.generator, model.encoder, model.discriminator, model.discriminator_random)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    a, b = images(2, seed=1), images(2, seed=2)
    logs = model.train_step((a, b))
    assert all(np.isfinite(float(v)) for v in logs.values())
    # Xavier with gain 0.02 gives logits near 0, so every scale's LSGAN loss is near 1
    # (D: (0 - 1)^2 + 0^2; G: (0 - 1)^2): summed over the two scales, near 2.
    for name in ("d_loss", "d_random_loss", "g_gan", "g_gan_random"):
        assert float(logs[name]) == pytest.approx(2.0, abs=0.05), name
    for net, old in zip(nets, before):
        assert any(not np.allclose(w.numpy(), o) for w, o in zip(net.trainable_weights, old)), net.name
    val = model.test_step((a, b))
    assert np.isfinite(float(val["l1"])) and float(val["diversity"]) >= 0


def test_keras_round_trip_with_two_scale_discriminators(tmp_path):
    model = reference_model(seed=3)
    model.compile(lambda_l1=3.0)
    a = images(2, seed=4)
    z = np.random.default_rng(1).normal(size=(2, 2)).astype("float32")
    model.save(tmp_path / "bicycle.keras")
    loaded = keras.saving.load_model(tmp_path / "bicycle.keras")
    assert isinstance(loaded, BicycleGAN) and loaded.split_batch is True and loaded.lambda_l1 == 3.0
    np.testing.assert_allclose(loaded.translate(a, z=z), model.translate(a, z=z), atol=1e-6)
    np.testing.assert_allclose(loaded.encode(a)[0], model.encode(a)[0], atol=1e-6)
    for name in ("discriminator", "discriminator_random"):
        old, new = getattr(model, name)(a), getattr(loaded, name)(a)
        assert len(old) == len(new) == 2
        for x, y in zip(old, new):
            np.testing.assert_allclose(y, x, atol=1e-6)
    # The exported networks (EXPORTS) load on their own too.
    for stem, network in model.exports().items():
        network.save(tmp_path / f"{stem}.keras")
        again = keras.saving.load_model(tmp_path / f"{stem}.keras")
        assert n_params(again) == n_params(network), stem
    d = model.discriminator
    d.save(tmp_path / "d.keras")
    d_loaded = keras.saving.load_model(tmp_path / "d.keras")
    for x, y in zip(d(a), d_loaded(a)):
        np.testing.assert_allclose(y, x, atol=1e-6)
    assert ops.shape(d_loaded(a)[1]) == (2, 2, 2, 1)
