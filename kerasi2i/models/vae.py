"""Variational autoencoders: the VAE (Kingma and Welling, ICLR 2014) and BicycleGAN, a
conditional VAE-GAN for translation with diverse outputs (Zhu et al., NeurIPS 2017).

VAE. An encoder maps an image x to a diagonal Gaussian q(z | x) = N(mean, exp(logvar)),
a decoder maps a code z back to an image, and training maximises the evidence lower
bound, i.e. minimises

    reconstruction(x, decoder(z)) + beta * KL(q(z | x) || N(0, I)),   z ~ q(z | x)

with z drawn by the reparameterisation trick z = mean + exp(logvar / 2) * eps,
eps ~ N(0, I), so gradients reach the encoder through the sample. The reconstruction
term is summed over pixels and the KL over latent dimensions, both averaged over the
batch: with ``reconstruction="l2"`` and beta = 1 the loss is the negative ELBO of a
Gaussian decoder of variance 1/2 (up to a constant); ``"l1"`` is a Laplace decoder.
beta != 1 is the beta-VAE (Higgins et al., ICLR 2017). KL warm-up (Bowman et al. 2016)
raises the KL weight linearly from 0 to beta over the first ``kl_warmup_steps`` steps.

    vae = build_vae(64, latent_dim=128)
    vae.compile(beta=1.0, kl_warmup_steps=1000)
    vae.fit(images, epochs=20)           # batches of images in [-1, 1]: loss, reconstruction, kl
    vae.sample(16); vae.interpolate(a, b, steps=8)

BicycleGAN learns p(B | A, z) from paired data so that one input A gives many plausible
outputs. Its generator G(A, z) sees the code z tiled over the image and concatenated to
A (the paper's "add_to_input" variant). Two paths train it together:

- cVAE-GAN (B -> z -> B): the encoder E maps the real target B to q(z | B), G(A, z)
  must reconstruct B (L1), q(z | B) is pulled to N(0, I) (KL) and a discriminator
  judges G(A, z) (GAN);
- cLR-GAN (z -> B -> z): for a random z ~ N(0, I), a second discriminator judges
  G(A, z) and E must recover z from it (latent L1, through G only: E is not trained on
  this term), so G cannot ignore z.

G and E minimise GAN + GAN_random + 10 * L1 + 0.01 * KL + 0.5 * |E(G(A, z)) - z|_1 with
LSGAN losses and nz = 8 (the paper's values). Each discriminator minimises its LSGAN
loss on real targets vs the fakes of its path, after the G/E update, on that step's
fakes (the reference's order; the reference does not halve the D loss). The reference
splits every batch into two halves, one per path; here both paths see the whole batch,
which also works with batch size 1. The discriminators are unconditional (they see B
alone), the reference's default.

    model = build_bicyclegan(256, nz=8)
    model.compile()                      # Adam(2e-4, 0.5), LSGAN, the paper's weights
    model.fit(train, validation_data=val, epochs=...)   # val: l1, psnr, ssim, diversity
    outputs = model.translate(a, num_samples=5)         # (5, bs, H, W, C): 5 batches
"""
import math

import keras
import tensorflow as tf
from keras import layers, ops

from kerasi2i import losses, metrics
from kerasi2i.models.autoencoder import multichannel_unet_generator
from kerasi2i.models.networks import (
    IMAGE_CHANNELS,
    NORMS,
    UPSAMPLINGS,
    _apply_norm,
    _check_choice,
    _check_image_shape,
    _check_int,
    _conv,
    _conv_transpose,
    discriminator_for_receptive_field,
)
from kerasi2i.models.pix2pix import default_optimizer

RECONSTRUCTION_LOSSES = ("l2", "l1")
POOLINGS = ("flatten", "average")


# --------------------------------------------------------------------------------------
# The pieces of the ELBO
# --------------------------------------------------------------------------------------
def kl_divergence(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)) per sample, summed over the latent axis:
    ``0.5 * sum(exp(logvar) + mean**2 - 1 - logvar)``. Always >= 0, 0 exactly when
    mean = 0 and logvar = 0. Returns shape ``(batch,)``."""
    mean = ops.convert_to_tensor(mean, "float32")
    logvar = ops.convert_to_tensor(logvar, "float32")
    return 0.5 * ops.sum(ops.exp(logvar) + ops.square(mean) - 1.0 - logvar, axis=-1)


def reparameterize(mean, logvar, seed=None):
    """The reparameterisation trick: ``z = mean + exp(logvar / 2) * eps`` with
    ``eps ~ N(0, I)``; differentiable in mean and logvar. ``seed``: a
    ``keras.random.SeedGenerator`` (or an int, or None)."""
    eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=seed)
    return mean + ops.exp(0.5 * logvar) * eps


def kl_warmup_weight(step, warmup_steps):
    """Linear KL warm-up: the fraction of beta applied at training step ``step``
    (counted from 0), ``min(1, step / warmup_steps)``; 1 when ``warmup_steps`` is 0."""
    if warmup_steps <= 0:
        return ops.ones_like(ops.cast(step, "float32"))
    return ops.minimum(1.0, ops.cast(step, "float32") / float(warmup_steps))


def diversity(samples):
    """Mean pairwise L1 distance between the k outputs generated for the same input.

    The same measure and layout as ``kerasi2i.metrics.diversity``, written with Keras ops
    so that it also runs inside a compiled ``test_step``.

    Args:
        samples: ``(k, batch, H, W, C)`` with k >= 2: k batches of outputs for the same
            inputs (``BicycleGAN.translate``'s output); or ``(k, H, W, C)`` for one input.

    Returns:
        ``(batch,)`` (a scalar for one input): the mean over the k(k-1)/2 pairs of the mean
        absolute difference, in the [-1, 1] scale. 0 when every output is the same. The
        BicycleGAN paper measures diversity the same way with LPIPS instead of L1.
    """
    samples = ops.convert_to_tensor(samples, "float32")
    rank = len(samples.shape)
    if rank not in (4, 5) or samples.shape[0] is None or samples.shape[0] < 2:
        raise ValueError(
            "`samples` must have shape (k, batch, H, W, C) or (k, H, W, C) with k >= 2; "
            f"received {samples.shape}"
        )
    k = samples.shape[0]
    axes = (1, 2, 3) if rank == 5 else (0, 1, 2)  # the image axes of one sample
    distances = [
        ops.mean(ops.abs(samples[i] - samples[j]), axis=axes) for i in range(k) for j in range(i + 1, k)
    ]
    return ops.mean(ops.stack(distances, axis=0), axis=0)


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------
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
    height, width, _ = _check_image_shape(input_shape)
    _check_int(latent_dim, "latent_dim", 1)
    _check_int(base_filters, "base_filters", 1)
    _check_int(num_downs, "num_downs", 1)
    _check_choice(norm, "norm", NORMS)
    _check_choice(pooling, "pooling", POOLINGS)
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
        x = _conv(
            base_filters * min(2 ** (i - 1), 8), 4, strides=2, padding="same",
            use_bias=use_bias or i == 1, name=f"{name}_down{i}_conv",
        )(x)
        if i > 1:
            x = _apply_norm(x, norm, f"{name}_down{i}_norm")
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
    height, width, channels = _check_image_shape(output_shape, "output_shape", channels=IMAGE_CHANNELS)
    _check_int(latent_dim, "latent_dim", 1)
    _check_int(base_filters, "base_filters", 1)
    _check_int(num_ups, "num_ups", 1)
    _check_choice(norm, "norm", NORMS)
    _check_choice(upsampling, "upsampling", UPSAMPLINGS)
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
        if upsampling == "transpose":
            x = _conv_transpose(filters, 4, strides=2, padding="same", use_bias=bias, name=f"{name}_up{j}_conv")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up{j}_resize")(x)
            x = _conv(filters, 3, padding="same", use_bias=bias, name=f"{name}_up{j}_conv")(x)
        if not last:
            x = _apply_norm(x, norm, f"{name}_up{j}_norm")
    outputs = layers.Activation("tanh", name=f"{name}_output")(x)  # (bs, H, W, C)
    return keras.Model(inputs, outputs, name=name)


def conditional_unet_generator(
    input_shape=(256, 256, 3),
    nz=8,
    output_channels=3,
    num_downs=None,
    base_filters=64,
    norm="instance",
    dropout=0.0,
    upsampling="transpose",
    name="conditional_unet_generator",
):
    """BicycleGAN's generator G(A, z), the "add_to_input" variant: the code z is tiled
    over the image and concatenated to A, and a U-Net (``unet_generator``'s layers) maps
    the ``C + nz`` channels to the output. Instance norm and no dropout are the
    reference's defaults; ``num_downs`` and the other arguments are ``unet_generator``'s.

    Returns:
        A ``keras.Model`` from ``[(bs, H, W, C), (bs, nz)]`` to
        ``(bs, H, W, output_channels)`` in [-1, 1].
    """
    height, width, channels = _check_image_shape(input_shape, channels=IMAGE_CHANNELS)
    if height is None or width is None:
        raise ValueError(f"The conditional U-Net needs a fixed height and width; received input_shape={input_shape!r}")
    _check_int(nz, "nz", 1)
    image = keras.Input(shape=(height, width, channels), name=f"{name}_image")
    z = keras.Input(shape=(nz,), name=f"{name}_z")
    z_map = layers.Reshape((1, 1, nz), name=f"{name}_z_reshape")(z)  # (bs, 1, 1, nz)
    z_map = layers.UpSampling2D((height, width), name=f"{name}_z_tile")(z_map)  # (bs, H, W, nz)
    x = layers.Concatenate(name=f"{name}_concat")([image, z_map])  # (bs, H, W, C + nz)
    if num_downs is None:
        num_downs = int(math.log2(min(height, width)))
    _check_int(num_downs, "num_downs", 2)
    unet = multichannel_unet_generator(
        (height, width, channels + nz), output_channels=output_channels, num_downs=num_downs,
        base_filters=base_filters,
        norm=norm, dropout=dropout, dropout_blocks=min(3, num_downs - 1), upsampling=upsampling,
        name=f"{name}_unet",
    )
    return keras.Model([image, z], unet(x), name=name)


# --------------------------------------------------------------------------------------
# VAE
# --------------------------------------------------------------------------------------
def _images(data):
    """The images of a batch: the batch itself, or its first element for (x, ...) tuples."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    return tf.convert_to_tensor(data)


@keras.saving.register_keras_serializable(package="kerasi2i")
class VAE(keras.Model):
    """A variational autoencoder: holds ``encoder`` (x -> [mean, logvar]) and ``decoder``
    (z -> x).

    Train it with ``fit`` on batches of images in [-1, 1] (or ``(x, ...)`` tuples, of which
    x is modelled). Logs ``loss``, ``reconstruction``, ``kl`` and the KL weight in use,
    ``kl_weight``; ``validation_data`` gives the same terms on held-out images (with a
    sampled z: an estimate of the negative ELBO).

    Args:
        encoder: a model returning ``[mean, logvar]`` of shape ``(bs, latent_dim)`` each
            (``gaussian_encoder``).
        decoder: a model from ``(bs, latent_dim)`` to images (``image_decoder``).
        seed: seed of the ``keras.random.SeedGenerator`` behind every sample.
    """

    def __init__(self, encoder, decoder, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.seed = seed
        self.latent_dim = int(encoder.output[0].shape[-1])
        if int(decoder.input_shape[-1]) != self.latent_dim:
            raise ValueError(
                f"The encoder gives codes of {self.latent_dim} dimensions but the decoder takes "
                f"{decoder.input_shape[-1]}."
            )
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The KL weight now in use (beta times the warm-up ramp); updated by train_step.
        self.kl_weight = keras.Variable(1.0, trainable=False, dtype="float32", name="kl_weight")
        self.beta = 1.0
        self.kl_warmup_steps = 0
        self.reconstruction_loss = "l2"
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True  # the sub-models are built

    def compile(self, optimizer=None, beta=1.0, kl_warmup_steps=0, reconstruction="l2", **kwargs):
        """Set the optimizer (default Adam(1e-3)), the KL weight ``beta`` (1: the ELBO),
        ``kl_warmup_steps`` (0: none; else the weight rises linearly from 0 to beta over
        that many optimizer steps) and the reconstruction loss (``"l2"``: summed squared
        error, ``"l1"``: summed absolute error). Other keyword arguments go to Keras."""
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"`beta` must be a number >= 0; received beta={beta!r}")
        _check_int(kl_warmup_steps, "kl_warmup_steps", 0)
        _check_choice(reconstruction, "reconstruction", RECONSTRUCTION_LOSSES)
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)
        self.beta = float(beta)
        self.kl_warmup_steps = kl_warmup_steps
        self.reconstruction_loss = reconstruction
        self.kl_weight.assign(self.current_kl_weight(0))
        self.optimizer.build(self.encoder.trainable_variables + self.decoder.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return dict(optimizer=keras.saving.serialize_keras_object(self.optimizer), beta=self.beta,
                    kl_warmup_steps=self.kl_warmup_steps, reconstruction=self.reconstruction_loss)

    def compile_from_config(self, config):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(config["optimizer"])
        self.compile(**config)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def current_kl_weight(self, step):
        """``beta * kl_warmup_weight(step, kl_warmup_steps)``."""
        return self.beta * kl_warmup_weight(step, self.kl_warmup_steps)

    # ----- the model's uses -----------------------------------------------------------
    def encode(self, x, training=False):
        """``(mean, logvar)`` of q(z | x), each ``(bs, latent_dim)``."""
        mean, logvar = self.encoder(x, training=training)
        return mean, logvar

    def decode(self, z, training=False):
        """Images from codes ``(bs, latent_dim)``."""
        return self.decoder(z, training=training)

    def call(self, x, training=False):
        """Reconstruct: decode a sample of q(z | x) in training, its mean otherwise."""
        mean, logvar = self.encode(x, training=training)
        z = reparameterize(mean, logvar, self.seed_generator) if training else mean
        return self.decode(z, training=training)

    def sample(self, n, seed=None):
        """``n`` new images decoded from z ~ N(0, I) (``seed``: an int for repeatable
        samples; default the model's seed generator)."""
        _check_int(n, "n", 1)
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator if seed is None else seed)
        return self.decode(z)

    def interpolate(self, a, b, steps=8):
        """Decode the straight line between the codes (posterior means) of ``a`` and
        ``b``: images ``(H, W, C)`` give ``(steps, H, W, C)``, batches ``(n, H, W, C)``
        give ``(n, steps, H, W, C)``; the first and last are the reconstructions."""
        _check_int(steps, "steps", 2)
        a = ops.convert_to_tensor(a, "float32")
        b = ops.convert_to_tensor(b, "float32")
        single = len(a.shape) == 3
        if single:
            a, b = a[None], b[None]
        za, _ = self.encode(a)
        zb, _ = self.encode(b)
        t = ops.linspace(0.0, 1.0, steps)[None, :, None]  # (1, steps, 1)
        z = (1.0 - t) * za[:, None] + t * zb[:, None]  # (n, steps, latent_dim)
        images = self.decode(ops.reshape(z, (-1, self.latent_dim)))
        images = ops.reshape(images, (-1, steps, *images.shape[1:]))
        return images[0] if single else images

    # ----- training -------------------------------------------------------------------
    def _terms(self, x, training):
        """Reconstruction (summed over pixels) and KL (summed over latent dimensions),
        each averaged over the batch."""
        mean, logvar = self.encode(x, training=training)
        z = reparameterize(mean, logvar, self.seed_generator)
        x_hat = ops.cast(self.decode(z, training=training), "float32")
        diff = ops.cast(x, "float32") - x_hat
        per_pixel = ops.square(diff) if self.reconstruction_loss == "l2" else ops.abs(diff)
        reconstruction = ops.mean(ops.sum(per_pixel, axis=(1, 2, 3)))
        kl = ops.mean(kl_divergence(mean, logvar))
        return reconstruction, kl

    def _logs(self, loss, reconstruction, kl):
        for tracker, value in ((self.loss_tracker, loss), (self.reconstruction_tracker, reconstruction),
                               (self.kl_tracker, kl)):
            tracker.update_state(value)
        logs = {m.name: m.result() for m in self.metrics}
        logs["kl_weight"] = self.kl_weight.value
        return logs

    def train_step(self, data):
        x = _images(data)
        self.kl_weight.assign(self.current_kl_weight(self.optimizer.iterations))
        with tf.GradientTape() as tape:
            reconstruction, kl = self._terms(x, training=True)
            loss = reconstruction + self.kl_weight * kl
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._logs(loss, reconstruction, kl)

    def test_step(self, data):
        reconstruction, kl = self._terms(_images(data), training=False)
        return self._logs(reconstruction + self.kl_weight * kl, reconstruction, kl)

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(image_size=64, channels=3, latent_dim=128, base_filters=32, num_downs=4, norm="none", seed=None):
    """A convolutional VAE for ``image_size`` x ``image_size`` images:
    ``gaussian_encoder`` (flattened features) and its mirror ``image_decoder``."""
    encoder = gaussian_encoder(
        (image_size, image_size, channels), latent_dim, base_filters, num_downs, norm, "flatten",
        name="vae_encoder",
    )
    decoder = image_decoder(
        (image_size, image_size, channels), latent_dim, base_filters, num_downs, norm, name="vae_decoder"
    )
    return VAE(encoder, decoder, seed=seed, name="vae")


# --------------------------------------------------------------------------------------
# BicycleGAN
# --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="kerasi2i")
class BicycleGAN(keras.Model):
    """The BicycleGAN training model (cVAE-GAN + cLR-GAN); see the module docstring.

    Args:
        generator: ``G([a, z])`` -> b (``conditional_unet_generator``).
        encoder: ``E(b)`` -> ``[mean, logvar]`` of shape ``(bs, nz)`` (``gaussian_encoder``
            with ``pooling="average"``).
        discriminator: judges the cVAE-GAN path's outputs: ``D(b)`` -> logits.
        discriminator_random: judges the cLR-GAN path's outputs; ``None`` uses
            ``discriminator`` for both (the reference's ``--use_same_D``).
        seed: seed of the ``keras.random.SeedGenerator`` behind every z.

    Calling the model translates with one random z per input; ``translate`` draws several.
    """

    def __init__(self, generator, encoder, discriminator, discriminator_random=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.encoder = encoder
        self.discriminator = discriminator
        self.discriminator_random = discriminator_random
        self.seed = seed
        self.nz = int(generator.input_shape[1][-1])
        if int(encoder.output[0].shape[-1]) != self.nz:
            raise ValueError(
                f"The generator takes codes of {self.nz} dimensions but the encoder gives "
                f"{encoder.output[0].shape[-1]}."
            )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "d_random_loss", "g_gan", "g_gan_random", "g_l1", "kl", "z_l1")
        }
        self.l1_metric = metrics.L1()
        self.psnr_metric = metrics.PSNR()
        self.ssim_metric = metrics.SSIM()
        self.diversity_tracker = keras.metrics.Mean(name="diversity")
        self.built = True  # the sub-models are built

    @property
    def _d_random(self):
        return self.discriminator if self.discriminator_random is None else self.discriminator_random

    def compile(self, g_optimizer=None, d_optimizer=None, gan_loss="lsgan", lambda_l1=10.0, lambda_latent=0.5,
                lambda_kl=0.01, lambda_gan=1.0, lambda_gan_random=1.0, **kwargs):
        """Set the optimizers (default Adam(2e-4, beta_1=0.5): ``g_optimizer`` for G and E,
        ``d_optimizer`` for the discriminators; Adam is per-parameter, so this equals the
        reference's separate optimizers), the GAN loss (LSGAN, the paper) and the weights:
        lambda_l1 = 10, lambda_latent = 0.5, lambda_kl = 0.01, 1 for each GAN term (the
        paper's). ``lambda_latent=0`` leaves the cLR-GAN's latent regression out;
        ``lambda_gan_random=0`` its GAN term. Other keyword arguments go to Keras."""
        losses.check_gan_loss(gan_loss)
        weights = dict(lambda_l1=lambda_l1, lambda_latent=lambda_latent, lambda_kl=lambda_kl,
                       lambda_gan=lambda_gan, lambda_gan_random=lambda_gan_random)
        for key, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"`{key}` must be a number >= 0; received {key}={value!r}")
        kwargs.setdefault("jit_compile", False)
        self.g_optimizer = g_optimizer or default_optimizer()
        self.d_optimizer = d_optimizer or default_optimizer()
        super().compile(optimizer=self.g_optimizer, **kwargs)
        self.gan_loss = gan_loss
        for key, value in weights.items():
            setattr(self, key, float(value))
        self.g_optimizer.build(self._ge_variables())
        self.d_optimizer.build(self._d_variables())

    def get_compile_config(self):
        if not self.compiled:
            return None
        serialize = keras.saving.serialize_keras_object
        return dict(g_optimizer=serialize(self.g_optimizer), d_optimizer=serialize(self.d_optimizer),
                    gan_loss=self.gan_loss, lambda_l1=self.lambda_l1, lambda_latent=self.lambda_latent,
                    lambda_kl=self.lambda_kl, lambda_gan=self.lambda_gan, lambda_gan_random=self.lambda_gan_random)

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def _ge_variables(self):
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def _d_variables(self):
        variables = self.discriminator.trainable_variables
        if self.discriminator_random is not None:
            variables = variables + self.discriminator_random.trainable_variables
        return variables

    @property
    def metrics(self):
        return [*self._trackers.values(), self.l1_metric, self.psnr_metric, self.ssim_metric,
                self.diversity_tracker]

    # ----- the model's uses -----------------------------------------------------------
    def random_z(self, n):
        """``n`` codes from the prior N(0, I): ``(n, nz)``."""
        return keras.random.normal((n, self.nz), seed=self.seed_generator)

    def encode(self, b, training=False):
        """``(mean, logvar)`` of q(z | b), each ``(bs, nz)``."""
        mean, logvar = self.encoder(b, training=training)
        return mean, logvar

    def call(self, a, training=False):
        """One translation per input, with a random z."""
        a = ops.convert_to_tensor(a)
        return self.generator([a, self.random_z(ops.shape(a)[0])], training=training)

    def reconstruct(self, a, b, training=False):
        """The cVAE-GAN path at test time: ``G(a, mean of E(b))``, the translation of
        ``a`` in the "style" of ``b`` (b itself when a and b are a pair)."""
        mean, _ = self.encode(b, training=training)
        return self.generator([ops.convert_to_tensor(a, mean.dtype), mean], training=training)

    def translate(self, a, z=None, num_samples=1, training=False):
        """Several translations of every input: k batches, one per code.

        Args:
            a: inputs ``(bs, H, W, C)``.
            z: codes, ``(k, nz)`` (code i for every input in batch i, so one batch shows
                one code's effect on every input) or ``(k, bs, nz)`` (a code per output);
                None draws ``num_samples`` codes per input from N(0, I).
            num_samples: k when ``z`` is None.

        Returns:
            ``(k, bs, H, W, C_out)``, the layout of ``diversity`` and
            ``kerasi2i.metrics.diversity``.
        """
        a = ops.convert_to_tensor(a, "float32")
        bs = ops.shape(a)[0]
        if z is None:
            _check_int(num_samples, "num_samples", 1)
            k = num_samples
            z = self.random_z(k * bs)  # (k * bs, nz)
        else:
            z = ops.convert_to_tensor(z, "float32")
            if len(z.shape) not in (2, 3) or z.shape[-1] != self.nz:
                raise ValueError(f"`z` must have shape (k, {self.nz}) or (k, batch, {self.nz}); received {z.shape}")
            k = z.shape[0]
            if len(z.shape) == 2:
                z = ops.repeat(z, bs, axis=0)  # (k * bs, nz): z0 for every input, then z1, ...
            else:
                z = ops.reshape(z, (-1, self.nz))
        a_rep = ops.tile(a, (k, 1, 1, 1))  # (k * bs, H, W, C): the batch k times
        out = self.generator([a_rep, z], training=training)
        return ops.reshape(out, (k, bs, *out.shape[1:]))

    # ----- training -------------------------------------------------------------------
    def train_step(self, data):
        a, b = (tf.convert_to_tensor(t) for t in data)
        z_random = self.random_z(tf.shape(a)[0])
        with tf.GradientTape(persistent=True) as tape:
            # cVAE-GAN: b -> z -> b
            mean, logvar = self.encoder(b, training=True)
            z_encoded = reparameterize(mean, logvar, self.seed_generator)
            fake_encoded = self.generator([a, z_encoded], training=True)
            # cLR-GAN: z -> b -> z
            fake_random = self.generator([a, z_random], training=True)
            g_gan = losses.generator_loss(self.discriminator(fake_encoded, training=True), self.gan_loss)
            g_gan_random = losses.generator_loss(self._d_random(fake_random, training=True), self.gan_loss)
            g_l1 = losses.l1_loss(ops.cast(b, fake_encoded.dtype), fake_encoded)
            kl = ops.mean(kl_divergence(mean, logvar))
            eg_loss = (self.lambda_gan * g_gan + self.lambda_gan_random * g_gan_random
                       + self.lambda_l1 * g_l1 + self.lambda_kl * kl)
            mean_recovered, _ = self.encoder(fake_random, training=True)
            z_l1 = ops.mean(ops.abs(mean_recovered - z_random))
            g_loss = eg_loss + self.lambda_latent * z_l1
        g_vars = self.generator.trainable_variables
        e_vars = self.encoder.trainable_variables
        # The latent regression trains G only (the reference freezes E for that term).
        grads = tape.gradient(g_loss, g_vars) + tape.gradient(eg_loss, e_vars)
        del tape
        self.g_optimizer.apply_gradients(zip(grads, g_vars + e_vars))

        # Discriminators, on this step's fakes (held constant).
        fake_encoded = tf.stop_gradient(fake_encoded)
        fake_random = tf.stop_gradient(fake_random)
        with tf.GradientTape() as d_tape:
            d_loss = losses.discriminator_loss(
                self.discriminator(b, training=True), self.discriminator(fake_encoded, training=True), self.gan_loss
            )
            d_random_loss = losses.discriminator_loss(
                self._d_random(b, training=True), self._d_random(fake_random, training=True), self.gan_loss
            )
            # As the reference: a discriminator is trained when its GAN term is on, unweighted.
            d_terms = [loss for loss, weight in ((d_loss, self.lambda_gan), (d_random_loss, self.lambda_gan_random))
                       if weight > 0]
            d_total = ops.sum(ops.stack(d_terms)) if d_terms else None
        if d_terms:
            d_vars = self._d_variables()
            grads = d_tape.gradient(d_total, d_vars)
            self.d_optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, d_vars) if g is not None])

        values = dict(d_loss=d_loss, d_random_loss=d_random_loss, g_gan=g_gan, g_gan_random=g_gan_random,
                      g_l1=g_l1, kl=kl, z_l1=z_l1)
        for name, value in values.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def test_step(self, data):
        """Fidelity of the reconstruction path, ``G(a, E(b))`` against b (l1, psnr, ssim),
        and diversity: the mean L1 distance between two translations with random codes."""
        a, b = data
        reconstruction = ops.cast(self.reconstruct(a, b), "float32")
        for metric in (self.l1_metric, self.psnr_metric, self.ssim_metric):
            metric.update_state(b, reconstruction)
        self.diversity_tracker.update_state(diversity(self.translate(a, num_samples=2)))
        return {m.name: m.result() for m in self.metrics[-4:]}

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            generator=serialize(self.generator),
            encoder=serialize(self.encoder),
            discriminator=serialize(self.discriminator),
            discriminator_random=None if self.discriminator_random is None else serialize(self.discriminator_random),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        for key in ("generator", "encoder", "discriminator", "discriminator_random"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def build_bicyclegan(
    image_size=256,
    input_channels=3,
    output_channels=3,
    nz=8,
    num_downs=None,
    base_filters=64,
    encoder_filters=64,
    encoder_downs=None,
    norm="instance",
    receptive_field=70,
    two_discriminators=True,
    upsampling="transpose",
    seed=None,
):
    """BicycleGAN as in the paper, at any size: ``conditional_unet_generator`` (z added to
    the input, instance norm, no dropout), an average-pooling ``gaussian_encoder`` of
    ``encoder_downs`` levels (default: down to 8x8, at most 5 levels, as the reference's
    ``E_NLayers`` + ``AvgPool2d(8)``: 4 levels at 128 px, 5 at 256) and PatchGAN discriminators of
    the given receptive field on the output alone (two, one per path, unless
    ``two_discriminators=False``). The reference uses two-scale PatchGANs; one scale is
    used here."""
    if encoder_downs is None:  # the reference's E_NLayers: 4 levels at 128 px, 5 at 256
        encoder_downs = max(1, min(5, image_size.bit_length() - 4))
    generator = conditional_unet_generator(
        (image_size, image_size, input_channels), nz=nz, output_channels=output_channels, num_downs=num_downs,
        base_filters=base_filters, norm=norm, upsampling=upsampling, name="bicyclegan_generator",
    )
    encoder = gaussian_encoder(
        (image_size, image_size, output_channels), latent_dim=nz, base_filters=encoder_filters,
        num_downs=encoder_downs, norm=norm, pooling="average", name="bicyclegan_encoder",
    )

    def discriminator(name):
        return discriminator_for_receptive_field(
            receptive_field, input_shape=(image_size, image_size, output_channels),
            base_filters=base_filters, norm=norm, name=name,
        )

    return BicycleGAN(
        generator, encoder, discriminator("bicyclegan_discriminator"),
        discriminator("bicyclegan_discriminator_random") if two_discriminators else None,
        seed=seed, name="bicyclegan",
    )
