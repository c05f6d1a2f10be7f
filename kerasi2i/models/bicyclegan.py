"""BicycleGAN, a conditional VAE-GAN for translation with diverse outputs (Zhu et al.,
NeurIPS 2017).

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
import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kerasi2i.evaluation import metrics
from kerasi2i.models import losses
from kerasi2i.models.losses import kl_divergence, reparameterize
from kerasi2i.models.base import TranslationModel, check_weights, default_optimizer
from kerasi2i.networks.blocks import NORMS, UPSAMPLINGS, check_int
from kerasi2i.networks.discriminators import RECEPTIVE_FIELDS
from kerasi2i.training.config import PairedConfig, option
from kerasi2i.networks.discriminators import discriminator_for_receptive_field
from kerasi2i.networks.encoders import gaussian_encoder
from kerasi2i.networks.unet import conditional_unet_generator


@keras.saving.register_keras_serializable(package="kerasi2i")
class BicycleGAN(TranslationModel):
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

    NETWORKS = ("generator", "encoder", "discriminator", "discriminator_random")
    INIT_OPTIONS = ("seed",)
    COMPILE_OPTIONS = ("gan_loss", "lambda_l1", "lambda_latent", "lambda_kl", "lambda_gan", "lambda_gan_random")
    EXPORTS = {"generator": "generator", "encoder": "encoder"}

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
        weights = check_weights(lambda_l1=lambda_l1, lambda_latent=lambda_latent, lambda_kl=lambda_kl,
                                lambda_gan=lambda_gan, lambda_gan_random=lambda_gan_random)
        self._compile(
            {"g_optimizer": (g_optimizer or default_optimizer(), self._ge_variables()),
             "d_optimizer": (d_optimizer or default_optimizer(), self._d_variables())},
            dict(gan_loss=gan_loss, **weights), **kwargs)

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
            ``kerasi2i.evaluation.metrics.diversity``.
        """
        a = ops.convert_to_tensor(a, "float32")
        bs = ops.shape(a)[0]
        if z is None:
            check_int(num_samples, "num_samples", 1)
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
            g_gan = ops.cast(losses.generator_loss(self.discriminator(fake_encoded, training=True), self.gan_loss),
                            "float32")
            g_gan_random = ops.cast(
                losses.generator_loss(self._d_random(fake_random, training=True), self.gan_loss), "float32")
            g_l1 = ops.cast(losses.l1_loss(ops.cast(b, fake_encoded.dtype), fake_encoded), "float32")
            kl = ops.mean(kl_divergence(mean, logvar))
            eg_loss = (self.lambda_gan * g_gan + self.lambda_gan_random * g_gan_random
                       + self.lambda_l1 * g_l1 + self.lambda_kl * kl)
            mean_recovered, _ = self.encoder(fake_random, training=True)
            z_l1 = ops.mean(ops.abs(ops.cast(mean_recovered, "float32") - ops.cast(z_random, "float32")))
            g_loss = eg_loss + self.lambda_latent * z_l1
            g_scaled = self.scale_loss(g_loss, self.g_optimizer)
            eg_scaled = self.scale_loss(eg_loss, self.g_optimizer)
        g_vars = self.generator.trainable_variables
        e_vars = self.encoder.trainable_variables
        # The latent regression trains G only (the reference freezes E for that term).
        grads = tape.gradient(g_scaled, g_vars) + tape.gradient(eg_scaled, e_vars)
        del tape
        self.g_optimizer.apply_gradients(zip(grads, g_vars + e_vars))

        # Discriminators, on this step's fakes (held constant).
        fake_encoded = tf.stop_gradient(fake_encoded)
        fake_random = tf.stop_gradient(fake_random)
        with tf.GradientTape() as d_tape:
            d_loss = ops.cast(losses.discriminator_loss(
                self.discriminator(b, training=True), self.discriminator(fake_encoded, training=True), self.gan_loss
            ), "float32")
            d_random_loss = ops.cast(losses.discriminator_loss(
                self._d_random(b, training=True), self._d_random(fake_random, training=True), self.gan_loss
            ), "float32")
            # As the reference: a discriminator is trained when its GAN term is on, unweighted.
            d_terms = [loss for loss, weight in ((d_loss, self.lambda_gan), (d_random_loss, self.lambda_gan_random))
                       if weight > 0]
            d_total = self.scale_loss(ops.sum(ops.stack(d_terms)), self.d_optimizer) if d_terms else None
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
        self.diversity_tracker.update_state(metrics.diversity_ops(self.translate(a, num_samples=2)))
        return {m.name: m.result() for m in self.metrics[-4:]}


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


@dataclasses.dataclass
class BicycleGANConfig(PairedConfig):
    """BicycleGAN's training options; the defaults are the paper's (nz = 8, LSGAN,
    lambda_l1 = 10, lambda_latent = 0.5, lambda_kl = 0.01, instance norm, two
    discriminators)."""

    MODEL = "bicyclegan"
    TRAINER = BicycleGAN
    DATA = "paired"
    SUMMARY = "multimodal paired translation, a conditional VAE-GAN (Zhu et al. 2017)"

    nz: int = option(8, "dimensions of the latent code z")
    base_filters: int = option(64, "filters of the first layer of G and the discriminators")
    encoder_filters: int = option(64, "filters of the first layer of the encoder E")
    norm: str = option("instance", "normalization layers", choices=NORMS)
    receptive_field: int = option(70, "receptive field of the PatchGANs (1 = PixelGAN)", choices=RECEPTIVE_FIELDS)
    upsampling: str = option("transpose", "U-Net up-sampling", choices=UPSAMPLINGS)
    two_discriminators: bool = option(True, "one discriminator per path (the paper), or one shared")
    gan_loss: str = option("lsgan", "adversarial loss", choices=losses.GAN_LOSSES)
    lambda_l1: float = option(10.0, "weight of the reconstruction L1 term")
    lambda_latent: float = option(0.5, "weight of the latent regression |E(G(a, z)) - z|")
    lambda_kl: float = option(0.01, "weight of the KL term")

    def build(self):
        return build_bicyclegan(self.image_size, self.input_channels, self.output_channels, nz=self.nz,
                                base_filters=self.base_filters, encoder_filters=self.encoder_filters, norm=self.norm,
                                receptive_field=self.receptive_field, two_discriminators=self.two_discriminators,
                                upsampling=self.upsampling, seed=self.seed)

    def compile_options(self):
        return {"gan_loss": self.gan_loss, "lambda_l1": self.lambda_l1, "lambda_latent": self.lambda_latent,
                "lambda_kl": self.lambda_kl}

