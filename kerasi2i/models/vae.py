"""Variational autoencoders: the VAE (Kingma and Welling, ICLR 2014) 

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
"""
import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kerasi2i.models.base import TranslationModel, check_weights
from kerasi2i.models.losses import kl_divergence, kl_warmup_weight, reparameterize
from kerasi2i.networks.blocks import NORMS, check_choice, check_int
from kerasi2i.training.config import PairedConfig, option
from kerasi2i.training.optimizers import FusedAdam
from kerasi2i.networks.encoders import gaussian_encoder, image_decoder

RECONSTRUCTION_LOSSES = ("l2", "l1")


def _images(data):
    """The images of a batch: the batch itself, or its first element for (x, ...) tuples."""
    if isinstance(data, (tuple, list)):
        data = data[0]
    return tf.convert_to_tensor(data)


@keras.saving.register_keras_serializable(package="kerasi2i")
class VAE(TranslationModel):
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

    NETWORKS = ("encoder", "decoder")
    INIT_OPTIONS = ("seed",)
    OPTIMIZERS = ("optimizer",)
    COMPILE_OPTIONS = ("beta", "kl_warmup_steps", "reconstruction")
    EXPORTS = {"encoder": "encoder", "decoder": "decoder"}

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
        self.reconstruction = "l2"
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True  # the sub-models are built

    def compile(self, optimizer=None, beta=1.0, kl_warmup_steps=0, reconstruction="l2", **kwargs):
        """Set the optimizer (default Adam(1e-3)), the KL weight ``beta`` (1: the ELBO),
        ``kl_warmup_steps`` (0: none; else the weight rises linearly from 0 to beta over
        that many optimizer steps) and the reconstruction loss (``"l2"``: summed squared
        error, ``"l1"``: summed absolute error). Other keyword arguments go to Keras."""
        beta = check_weights(beta=beta)["beta"]
        check_int(kl_warmup_steps, "kl_warmup_steps", 0)
        check_choice(reconstruction, "reconstruction", RECONSTRUCTION_LOSSES)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self._compile({"optimizer": (optimizer or FusedAdam(1e-3), variables)},
                      dict(beta=beta, kl_warmup_steps=kl_warmup_steps, reconstruction=reconstruction), **kwargs)
        self.kl_weight.assign(self.current_kl_weight(0))

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
        check_int(n, "n", 1)
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator if seed is None else seed)
        return self.decode(z)

    def interpolate(self, a, b, steps=8):
        """Decode the straight line between the codes (posterior means) of ``a`` and
        ``b``: images ``(H, W, C)`` give ``(steps, H, W, C)``, batches ``(n, H, W, C)``
        give ``(n, steps, H, W, C)``; the first and last are the reconstructions."""
        check_int(steps, "steps", 2)
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
        per_pixel = ops.square(diff) if self.reconstruction == "l2" else ops.abs(diff)
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
            scaled = self.scale_loss(loss, self.optimizer)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self._logs(loss, reconstruction, kl)

    def test_step(self, data):
        reconstruction, kl = self._terms(_images(data), training=False)
        return self._logs(reconstruction + self.kl_weight * kl, reconstruction, kl)


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


@dataclasses.dataclass
class VAEConfig(PairedConfig):
    """The VAE's training options. It models images alone: from a paired dataset it
    trains on the targets of ``direction`` (the right-hand images for AtoB)."""

    MODEL = "vae"
    TRAINER = VAE
    DATA = "images"
    SUMMARY = "a variational autoencoder of the target images (Kingma and Welling 2014)"
    KEEP_BEST_DEFAULT = "val_loss"

    image_size: int = option(64, "height and width of the images, in pixels")
    learning_rate: float = option(1e-3, "initial learning rate (Adam)", flag="--lr")
    epochs: int = option(20, "epochs at the initial learning rate", resume_may_change=True)
    epochs_decay: int = option(0, "epochs of linear decay of the learning rate to zero", resume_may_change=True)
    batch_size: int = option(16, "images per step")
    latent_dim: int = option(128, "dimensions of the latent code")
    base_filters: int = option(32, "filters of the first encoder layer")
    num_downs: int = option(4, "down-sampling levels of the encoder (and up-sampling of the decoder)")
    norm: str = option("none", "normalization layers", choices=NORMS)
    beta: float = option(1.0, "weight of the KL term (1: the ELBO; other values: beta-VAE)")
    kl_warmup_steps: int = option(0, "steps over which the KL weight rises from 0 to beta")
    reconstruction: str = option("l2", "reconstruction loss", choices=RECONSTRUCTION_LOSSES)

    def build(self):
        return build_vae(self.image_size, self.output_channels, latent_dim=self.latent_dim,
                         base_filters=self.base_filters, num_downs=self.num_downs, norm=self.norm, seed=self.seed)

    def compile_options(self):
        return {"beta": self.beta, "kl_warmup_steps": self.kl_warmup_steps, "reconstruction": self.reconstruction}

    def optimizer(self, learning_rate):
        return FusedAdam(learning_rate)

