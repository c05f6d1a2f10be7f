"""Encoders and decoders of the VAE family: a Gaussian encoder x -> (mean, logvar) and
an image decoder z -> x."""

import keras
from keras import layers

from kerasi2i.networks.blocks import (
    IMAGE_CHANNELS,
    NORMS,
    UPSAMPLINGS,
    apply_norm,
    check_choice,
    check_image_shape,
    check_int,
    conv2d,
    upsample,
)

POOLINGS = ("flatten", "average")


def gaussian_encoder(
    input_shape=(64, 64, 3),
    latent_dim=128,
    base_filters=32,
    num_downs=4,
    norm="none",
    pooling="flatten",
    name="gaussian_encoder",
):
    """A convolutional encoder to the mean and log-variance of a diagonal Gaussian.

    ``num_downs`` blocks of 4x4 convolution with stride 2 (filters ``base_filters *
    min(2**i, 8)``), normalization (not after the first) and LeakyReLU(0.2), as the pix2pix
    encoder and BicycleGAN's ``E_NLayers``; then the features are flattened
    (``pooling="flatten"``: keeps where things are, the usual VAE encoder) or averaged over
    the image (``"average"``: BicycleGAN's encoder, which only has to capture the
    "style" of an image), and two dense layers give ``mean`` and ``logvar``.

    Returns:
        A ``keras.Model`` from ``(bs, H, W, C)`` to ``[mean, logvar]``, each
        ``(bs, latent_dim)``.
    """
    height, width, _ = check_image_shape(input_shape)
    check_int(latent_dim, "latent_dim", 1)
    check_int(base_filters, "base_filters", 1)
    check_int(num_downs, "num_downs", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(pooling, "pooling", POOLINGS)
    if pooling == "flatten" and (height is None or width is None):
        raise ValueError(f"pooling='flatten' needs a fixed height and width; received input_shape={input_shape!r}")
    if any(s is not None and s % 2**num_downs for s in (height, width)):
        raise ValueError(
            f"With num_downs={num_downs} the encoder needs height and width that are multiples "
            f"of {2**num_downs}; received input_shape={input_shape!r}"
        )
    use_bias = norm != "batch"
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = inputs
    for i in range(1, num_downs + 1):  # (bs, H / 2**i, W / 2**i, base * min(2**(i-1), 8))
        x = conv2d(
            base_filters * min(2 ** (i - 1), 8), 4, strides=2, padding="same",
            use_bias=use_bias or i == 1, name=f"{name}_down{i}_conv",
        )(x)
        if i > 1:
            x = apply_norm(x, norm, f"{name}_down{i}_norm")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_down{i}_lrelu")(x)
    if pooling == "flatten":
        x = layers.Flatten(name=f"{name}_flatten")(x)  # (bs, H * W * filters / 4**num_downs)
    else:
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)  # (bs, filters)
    mean = layers.Dense(latent_dim, name=f"{name}_mean")(x)  # (bs, latent_dim)
    logvar = layers.Dense(latent_dim, name=f"{name}_logvar")(x)  # (bs, latent_dim)
    return keras.Model(inputs, [mean, logvar], name=name)


def image_decoder(
    output_shape=(64, 64, 3),
    latent_dim=128,
    base_filters=32,
    num_ups=4,
    norm="none",
    upsampling="transpose",
    name="image_decoder",
):
    """The mirror of ``gaussian_encoder(pooling="flatten")``: a dense layer to a
    ``(H / 2**num_ups, W / 2**num_ups, base_filters * min(2**(num_ups-1), 8))`` map, then
    ``num_ups`` blocks of ReLU, 4x4 transposed convolution with stride 2 (or bilinear
    upsampling + 3x3 convolution) and normalization, the last one to the image channels
    and ``tanh``.

    Returns:
        A ``keras.Model`` from ``(bs, latent_dim)`` to ``(bs, H, W, C)`` in [-1, 1].
    """
    height, width, channels = check_image_shape(output_shape, "output_shape", channels=IMAGE_CHANNELS)
    check_int(latent_dim, "latent_dim", 1)
    check_int(base_filters, "base_filters", 1)
    check_int(num_ups, "num_ups", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(upsampling, "upsampling", UPSAMPLINGS)
    if height is None or width is None or height % 2**num_ups or width % 2**num_ups:
        raise ValueError(
            f"With num_ups={num_ups} the decoder needs a fixed height and width that are "
            f"multiples of {2**num_ups}; received output_shape={output_shape!r}"
        )
    use_bias = norm != "batch"

    def filters_at(level):  # filters of the map at H / 2**level
        return base_filters * min(2 ** (level - 1), 8)

    h0, w0, f0 = height // 2**num_ups, width // 2**num_ups, filters_at(num_ups)
    inputs = keras.Input(shape=(latent_dim,), name=f"{name}_input")
    x = layers.Dense(h0 * w0 * f0, name=f"{name}_dense")(inputs)
    x = layers.Reshape((h0, w0, f0), name=f"{name}_reshape")(x)  # (bs, H / 2**N, W / 2**N, f0)
    for j in range(1, num_ups + 1):  # (bs, H / 2**(N-j), W / 2**(N-j), filters_at(N - j))
        last = j == num_ups
        filters = channels if last else filters_at(num_ups - j)
        bias = True if last else use_bias
        x = layers.ReLU(name=f"{name}_up{j}_relu")(x)
        x = upsample(x, filters, upsampling, bias, f"{name}_up{j}")
        if not last:
            x = apply_norm(x, norm, f"{name}_up{j}_norm")
    outputs = layers.Activation("tanh", name=f"{name}_output")(x)  # (bs, H, W, C)
    return keras.Model(inputs, outputs, name=name)
