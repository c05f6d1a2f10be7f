"""Encoders and decoders of the VAE family: Gaussian encoders x -> (mean, logvar) (a
convolutional one and BicycleGAN's residual one) and an image decoder z -> x."""

import keras
from keras import layers

from kerasi2i.networks.blocks import (
    IMAGE_CHANNELS,
    INITS,
    NORMS,
    UPSAMPLINGS,
    apply_norm,
    check_choice,
    check_image_shape,
    check_int,
    conv2d,
    dense_kernel_init,
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
    init="normal",
):
    """A convolutional encoder to the mean and log-variance of a diagonal Gaussian.

    ``num_downs`` blocks of 4x4 convolution with stride 2 (filters ``base_filters *
    min(2**(i-1), 8)``), normalization (not after the first) and LeakyReLU(0.2), like the
    pix2pix encoder; then the features are flattened (``pooling="flatten"``: keeps where
    things are, the usual VAE encoder) or averaged over the image (``"average"``, which
    only has to capture the "style" of an image), and two dense layers give ``mean`` and
    ``logvar``.

    With ``pooling="average"`` this is close to BicycleGAN's ``E_NLayers`` (``--netE
    conv_256``, not the reference's default, which is ``resnet_256``: ``resnet_encoder``)
    but not the same: ``E_NLayers`` caps the widths at 4x ``base_filters`` where this
    caps them at 8x (identical up to 3 levels, i.e. at 64 px; at 128 px and above the
    deeper levels here are twice as wide), and it pools with ``AvgPool2d(8)``, which equals
    the global average here only when the last map is 8x8. Its dense layers are
    initialised as Keras' default (Glorot uniform) for ``init="normal"``, where the
    reference initialises them as its convolutions.

    Args:
        input_shape: ``(height, width, channels)``, multiples of ``2**num_downs``.
        latent_dim: dimensions of the code.
        base_filters: filters of the first convolution.
        num_downs: stride-2 levels.
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        pooling: ``"flatten"`` or ``"average"``.
        name: the model's name.
        init: ``"normal"`` (convolutions N(0, 0.02)) or ``"xavier"`` (every kernel, the
            dense ones too, ``xavier_normal_`` with gain 0.02, the reference's default).

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
    check_choice(init, "init", INITS)
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
            use_bias=use_bias or i == 1, name=f"{name}_down{i}_conv", init=init,
        )(x)
        if i > 1:
            x = apply_norm(x, norm, f"{name}_down{i}_norm")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_down{i}_lrelu")(x)
    if pooling == "flatten":
        x = layers.Flatten(name=f"{name}_flatten")(x)  # (bs, H * W * filters / 4**num_downs)
    else:
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)  # (bs, filters)
    return _gaussian_head(inputs, x, latent_dim, init, name)


def _gaussian_head(inputs, features, latent_dim, init, name):
    """The model from `inputs` to the two dense heads on pooled `features`: [mean, logvar],
    each (bs, latent_dim)."""
    mean = layers.Dense(latent_dim, kernel_initializer=dense_kernel_init(init), name=f"{name}_mean")(features)
    logvar = layers.Dense(latent_dim, kernel_initializer=dense_kernel_init(init), name=f"{name}_logvar")(features)
    return keras.Model(inputs, [mean, logvar], name=name)


def resnet_encoder(
    input_shape=(256, 256, 3),
    latent_dim=8,
    base_filters=64,
    num_downs=5,
    norm="instance",
    name="resnet_encoder",
    init="normal",
):
    """BicycleGAN's residual encoder to the mean and log-variance of a diagonal Gaussian,
    the reference's ``E_ResNet`` (junyanz/BicycleGAN, ``--netE resnet_256``, its default:
    ``num_downs=5``; ``resnet_128``: 4).

    - a 4x4 convolution with stride 2 to ``base_filters`` (bias);
      (bs, H/2, W/2, base_filters)
    - ``num_downs - 1`` residual blocks (the reference's ``BasicBlock``), block ``n`` from
      ``base_filters * min(n, 4)`` to ``base_filters * min(n + 1, 4)`` channels (1 -> 2,
      2 -> 3, 3 -> 4, 4 -> 4 times ``base_filters``): norm, LeakyReLU(0.2), 3x3
      convolution (same channels), norm, LeakyReLU(0.2), 3x3 convolution to the block's
      output channels and 2x2 average pooling; plus a shortcut of 2x2 average pooling and a
      1x1 convolution; every convolution with a bias. Each halves the size:
      (bs, H / 2**(n+1), W / 2**(n+1), base_filters * min(n + 1, 4))
    - LeakyReLU(0.2) and the average over the image (the reference's ``AvgPool2d(8)``,
      which is the same when the last map is 8x8: ``num_downs = log2(H) - 3``, as its 128
      and 256 px configurations); two dense layers to ``mean`` and ``logvar``.

    With ``norm="instance"`` (the reference's default, no affine parameters) the
    parameter count is the reference's.

    Args:
        input_shape: ``(height, width, channels)``, multiples of ``2**num_downs``.
        latent_dim: dimensions of the code (``nz``).
        base_filters: filters of the first convolution (the reference's ``nef``, 64).
        num_downs: halvings of the size: the first convolution and ``num_downs - 1``
            residual blocks (the reference's ``n_blocks``).
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        name: the model's name.
        init: ``"normal"``: convolutions N(0, 0.02), the dense layers Keras' default
            (Glorot uniform), as ``gaussian_encoder``; ``"xavier"``: every kernel
            ``xavier_normal_`` with gain 0.02 (the reference's default).

    Returns:
        A ``keras.Model`` from ``(bs, H, W, C)`` to ``[mean, logvar]``, each
        ``(bs, latent_dim)``.
    """
    height, width, _ = check_image_shape(input_shape)
    check_int(latent_dim, "latent_dim", 1)
    check_int(base_filters, "base_filters", 1)
    check_int(num_downs, "num_downs", 1)
    check_choice(norm, "norm", NORMS)
    check_choice(init, "init", INITS)
    if any(s is not None and s % 2**num_downs for s in (height, width)):
        raise ValueError(
            f"With num_downs={num_downs} the encoder needs height and width that are multiples "
            f"of {2**num_downs}; received input_shape={input_shape!r}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    x = layers.ZeroPadding2D(1, name=f"{name}_conv1_pad")(inputs)
    x = conv2d(base_filters, 4, strides=2, name=f"{name}_conv1", init=init)(x)  # (bs, H/2, W/2, base)
    for n in range(1, num_downs):
        block = f"{name}_block{n}"
        filters_in, filters_out = base_filters * min(n, 4), base_filters * min(n + 1, 4)
        h = apply_norm(x, norm, f"{block}_norm1")
        h = layers.LeakyReLU(negative_slope=0.2, name=f"{block}_lrelu1")(h)
        h = conv2d(filters_in, 3, padding="same", name=f"{block}_conv1", init=init)(h)
        h = apply_norm(h, norm, f"{block}_norm2")
        h = layers.LeakyReLU(negative_slope=0.2, name=f"{block}_lrelu2")(h)
        h = conv2d(filters_out, 3, padding="same", name=f"{block}_conv2", init=init)(h)
        h = layers.AveragePooling2D(2, name=f"{block}_pool")(h)
        shortcut = layers.AveragePooling2D(2, name=f"{block}_shortcut_pool")(x)
        shortcut = conv2d(filters_out, 1, name=f"{block}_shortcut_conv", init=init)(shortcut)
        x = layers.Add(name=f"{block}_add")([h, shortcut])  # (bs, H / 2**(n+1), W / 2**(n+1), filters_out)
    x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)  # (bs, base * min(num_downs, 4))
    return _gaussian_head(inputs, x, latent_dim, init, name)


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
    outputs = layers.Activation("tanh", dtype="float32", name=f"{name}_output")(x)  # (bs, H, W, C), float32
    return keras.Model(inputs, outputs, name=name)
