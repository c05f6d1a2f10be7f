"""BicycleGAN, a conditional VAE-GAN for translation with diverse outputs (Zhu et al.,
NeurIPS 2017), after the authors' code (junyanz/BicycleGAN).

BicycleGAN learns p(B | A, z) from paired data so that one input A gives many plausible
outputs. Two paths train a generator G(A, z) and an encoder E together:

- cVAE-GAN (B -> z -> B): E maps the real target B to q(z | B), G(A, z) must
  reconstruct B (L1), q(z | B) is pulled to N(0, I) (KL) and a discriminator judges
  G(A, z) (GAN);
- cLR-GAN (z -> B -> z): for a random z ~ N(0, I), a second discriminator judges
  G(A, z) and E must recover z from it (latent L1, through G only: E is not trained on
  this term), so G cannot ignore z.

G and E minimise GAN + GAN_random + 10 * L1 + 0.01 * KL + 0.5 * |E(G(A, z)) - z|_1 with
LSGAN losses and nz = 8 (the paper's and the reference's values). Each discriminator
minimises its LSGAN loss on real targets vs the fakes of its path, after the G/E update,
on that step's fakes (the reference's order; the reference does not halve the D loss).
The discriminators are unconditional (they see B alone), the reference's default.

The architecture, as options of ``build_bicyclegan`` and ``BicycleGANConfig``; for each,
the reference's default (``options/base_options.py``, ``scripts/train_*.sh``) and the
default here:

- ``where_add``: where G reads z. The reference: ``"all"`` (``G_Unet_add_all``, z at
  every encoder level). The default here is ``"input"`` (``G_Unet_add_input``: z
  concatenated to A only); see "Why the simpler defaults" below.
- ``encoder``: the reference: ``"resnet"`` (``E_ResNet``, ``--netE resnet_256``). The
  default here is ``"conv"``: ``gaussian_encoder``, close to the reference's
  ``E_NLayers`` but 8x wide at most instead of 4x (the same network up to 64 px).
- ``num_discriminators``: scales of each discriminator. The reference uses two
  (``D_NLayersMulti``, ``--num_Ds 2``: a second PatchGAN with half the filters on the
  image downsampled by a 3x3 average pooling with stride 2; the GAN losses are summed over
  scales). The default here is one, because the second scale's 70x70 PatchGAN needs
  images of at least 64 px (at 32 px its map of logits would be empty) and the package's
  models are built and tested down to 32 px; pass ``num_discriminators=2`` at 64 px and
  above.
- ``init``: the reference: ``"xavier"`` (``xavier_normal_`` with gain 0.02, tiny weights:
  std = 0.02 * sqrt(2 / (fan_in + fan_out))). The default here is ``"normal"``, N(0, 0.02),
  pix2pix's and CycleGAN's.
- ``dropout``: the reference's ``--use_dropout`` is off by default, but every one of its
  training scripts turns it on (rate 0.5, in the decoder blocks after the innermost one).
  The default here is 0.
- ``split_batch``: the reference splits every batch into halves (its batch size is 2):
  the first half (A1, B1) feeds the cVAE-GAN path, G(A1, z_random) the cLR-GAN path
  (the reference reuses A1 there), and the second half's targets B2 are the real examples
  of the cLR-GAN's discriminator; A2 is not used. The default here is ``False``, both
  paths see the whole batch, because the package's default batch size is 1 (the
  pix2pix papers'), with which a split is impossible; ``split_batch=True`` needs an even
  batch of at least 2.

Why the simpler defaults. With the reference's four choices (``where_add="all",
encoder="resnet", init="xavier", dropout=0.5``), notebook 04's quick-mode run (64 px,
base 32 filters, 250 steps of batch 4 on the bundled facades, labels -> photo) gave
BicycleGAN a diversity (mean pairwise L1 of 5 samples) of 0.081, and its five codes drew
nearly the same facade; with the simpler ones, 0.257 and visibly different palettes per
code (best-of-5 L1 0.282 against 0.260, FCN pixel accuracy 0.729 against 0.694). At the
step counts a CPU affords, the simpler network shows what BicycleGAN is for; the
reference's is one set of flags away (``--where-add all --encoder resnet --init xavier
--dropout 0.5 --num-discriminators 2 --split-batch``) and is what a full run comparing
with the paper should use.

Other differences from the reference that remain: the KL term is averaged over the batch
where the reference sums it (the same for its default batch of 2 split into halves of
1); with ``init="normal"`` the encoders' dense layers keep Keras' default initialiser
(the reference initialises them as its convolutions); the encoders average the last map
over the whole image where the reference's ``AvgPool2d(8)`` does (the same at the sizes
where its encoders work); and G and E share one Adam optimizer (Adam is per-parameter,
so this equals the reference's two).

    model = build_bicyclegan(256, nz=8, num_discriminators=2, split_batch=True)
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
from kerasi2i.networks.blocks import INITS, NORMS, UPSAMPLINGS, check_choice, check_int, check_rate
from kerasi2i.networks.discriminators import (
    RECEPTIVE_FIELDS,
    discriminator_for_receptive_field,
    multiscale_discriminator,
    receptive_field as patch_receptive_field,
)
from kerasi2i.networks.encoders import gaussian_encoder, resnet_encoder
from kerasi2i.networks.unet import WHERE_ADD, conditional_unet_generator
from kerasi2i.training.config import PairedConfig, option

ENCODERS = ("resnet", "conv")
NUM_DISCRIMINATORS = (1, 2)


def _as_list(logits):
    """A discriminator's output as a list of logit maps (one per scale)."""
    return list(logits) if isinstance(logits, (list, tuple)) else [logits]


def generator_gan_loss(logits, mode):
    """G's GAN loss summed over the discriminator's scales (the reference's ``GANLoss``)."""
    return sum(ops.cast(losses.generator_loss(x, mode), "float32") for x in _as_list(logits))


def discriminator_gan_loss(real_logits, fake_logits, mode):
    """A discriminator's loss, real + fake, each summed over its scales (the reference's
    ``backward_D``)."""
    return sum(ops.cast(losses.discriminator_loss(r, f, mode), "float32")
               for r, f in zip(_as_list(real_logits), _as_list(fake_logits)))


def split_error(batch):
    return (f"split_batch=True splits every batch into two halves, one per path (the reference's); it needs an "
            f"even batch of at least 2, got a batch of {batch}. Use a batch size of 2 or more (even), or "
            f"split_batch=False.")


@keras.saving.register_keras_serializable(package="kerasi2i")
class BicycleGAN(TranslationModel):
    """The BicycleGAN training model (cVAE-GAN + cLR-GAN); see the module docstring.

    Args:
        generator: ``G([a, z])`` -> b (``conditional_unet_generator``).
        encoder: ``E(b)`` -> ``[mean, logvar]`` of shape ``(bs, nz)`` (``gaussian_encoder``
            with ``pooling="average"``).
        discriminator: judges the cVAE-GAN path's outputs: ``D(b)`` -> logits, or a list
            of logit maps (a multi-scale discriminator; the losses are summed over them).
        discriminator_random: judges the cLR-GAN path's outputs; ``None`` uses
            ``discriminator`` for both (the reference's ``--use_same_D``).
        seed: seed of the ``keras.random.SeedGenerator`` behind every z.
        split_batch: split every training batch into halves as the reference does (see
            the module docstring); needs an even batch of at least 2.

    Calling the model translates with one random z per input; ``translate`` draws several.
    """

    NETWORKS = ("generator", "encoder", "discriminator", "discriminator_random")
    INIT_OPTIONS = ("seed", "split_batch")
    COMPILE_OPTIONS = ("gan_loss", "lambda_l1", "lambda_latent", "lambda_kl", "lambda_gan", "lambda_gan_random")
    EXPORTS = {"generator": "generator", "encoder": "encoder"}

    def __init__(self, generator, encoder, discriminator, discriminator_random=None, seed=None, split_batch=False,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(split_batch, bool):
            raise ValueError(f"`split_batch` must be True or False; received split_batch={split_batch!r}")
        self.split_batch = split_batch
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
    def split(self, a, b):
        """The inputs of the two paths: ``(a_encoded, b_encoded, b_random)``. Without
        ``split_batch``, the whole batch for each. With it, as the reference's
        ``forward``: the first half (A1, B1) for the cVAE-GAN path and as the inputs of the
        cLR-GAN's fakes, the second half's targets B2 as the cLR-GAN discriminator's real
        examples (an odd batch leaves its last pair out)."""
        if not self.split_batch:
            return a, b, b
        static = a.shape[0]
        if static is not None and (static < 2 or static % 2):
            raise ValueError(split_error(static))
        batch = tf.shape(a)[0]
        with tf.control_dependencies([tf.debugging.assert_greater_equal(batch, 2, message=split_error("< 2"))]):
            half = batch // 2
        return a[:half], b[:half], b[half:2 * half]

    def train_step(self, data):
        a, b = (tf.convert_to_tensor(t) for t in data)
        a, b, b_random = self.split(a, b)  # (a, b, b) unless split_batch
        z_random = self.random_z(tf.shape(a)[0])
        with tf.GradientTape(persistent=True) as tape:
            # cVAE-GAN: b -> z -> b
            mean, logvar = self.encoder(b, training=True)
            z_encoded = reparameterize(mean, logvar, self.seed_generator)
            fake_encoded = self.generator([a, z_encoded], training=True)
            # cLR-GAN: z -> b -> z (on the same inputs a, as the reference)
            fake_random = self.generator([a, z_random], training=True)
            g_gan = generator_gan_loss(self.discriminator(fake_encoded, training=True), self.gan_loss)
            g_gan_random = generator_gan_loss(self._d_random(fake_random, training=True), self.gan_loss)
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

        # Discriminators, on this step's fakes (held constant); the cLR-GAN's real
        # examples are the second half's targets when the batch is split.
        fake_encoded = tf.stop_gradient(fake_encoded)
        fake_random = tf.stop_gradient(fake_random)
        with tf.GradientTape() as d_tape:
            d_loss = discriminator_gan_loss(
                self.discriminator(b, training=True), self.discriminator(fake_encoded, training=True), self.gan_loss)
            d_random_loss = discriminator_gan_loss(
                self._d_random(b_random, training=True), self._d_random(fake_random, training=True), self.gan_loss)
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
    where_add="input",
    encoder="conv",
    num_discriminators=1,
    init="normal",
    dropout=0.0,
    split_batch=False,
):
    """BicycleGAN at any size; the architecture options and how each default compares
    with the reference are in the module docstring.

    - G: ``conditional_unet_generator`` (instance norm, ``num_downs`` levels, default
      down to a 1-pixel bottleneck as the reference's unet_128/unet_256) with z added at
      ``where_add`` and decoder dropout ``dropout``;
    - E: ``resnet_encoder`` (``encoder="resnet"``) or an average-pooling
      ``gaussian_encoder`` (``"conv"``) of ``encoder_downs`` halvings (default: down to
      an 8x8 map, at most 5: 3 at 64 px, 4 at 128, 5 at 256, the reference's
      ``resnet_128``/``conv_128`` and ``resnet_256``/``conv_256``), ``encoder_filters``
      wide (the reference's ``nef``);
    - D: PatchGANs of the given receptive field on the output alone, one per path unless
      ``two_discriminators=False`` (the reference's ``--use_same_D``), each of
      ``num_discriminators`` scales (``multiscale_discriminator`` when 2; the
      reference's ``basic_256_multi`` is the 70x70 one);
    - ``init`` for every network; ``split_batch`` for the trainer.

    The defaults (``where_add="input", encoder="conv", num_discriminators=1,
    init="normal", dropout=0.0, split_batch=False``) build the model this function built
    before those options existed; ``where_add="all", encoder="resnet", init="xavier",
    dropout=0.5, num_discriminators=2, split_batch=True`` is the reference's.
    """
    check_choice(where_add, "where_add", WHERE_ADD)
    check_choice(encoder, "encoder", ENCODERS)
    check_choice(num_discriminators, "num_discriminators", NUM_DISCRIMINATORS)
    check_choice(init, "init", INITS)
    check_rate(dropout, "dropout")
    if num_discriminators > 1 and receptive_field == 1:
        raise ValueError("num_discriminators=2 needs a PatchGAN (receptive_field > 1); the PixelGAN "
                         "(receptive_field=1) has one scale only.")
    if encoder_downs is None:  # the reference's E_ResNet / E_NLayers: 4 levels at 128 px, 5 at 256
        encoder_downs = max(1, min(5, image_size.bit_length() - 4))
    generator = conditional_unet_generator(
        (image_size, image_size, input_channels), nz=nz, output_channels=output_channels, num_downs=num_downs,
        base_filters=base_filters, norm=norm, dropout=dropout, upsampling=upsampling, where_add=where_add,
        init=init, name="bicyclegan_generator",
    )
    encoder_options = dict(latent_dim=nz, base_filters=encoder_filters, num_downs=encoder_downs, norm=norm,
                           init=init, name="bicyclegan_encoder")
    if encoder == "resnet":
        encoder_net = resnet_encoder((image_size, image_size, output_channels), **encoder_options)
    else:
        encoder_net = gaussian_encoder((image_size, image_size, output_channels), pooling="average",
                                       **encoder_options)

    def discriminator(name):
        shape = (image_size, image_size, output_channels)
        if num_discriminators == 1:
            return discriminator_for_receptive_field(receptive_field, input_shape=shape, base_filters=base_filters,
                                                     norm=norm, init=init, name=name)
        n_layers = {patch_receptive_field(n): n for n in range(1, 6)}.get(receptive_field)
        if n_layers is None:
            raise ValueError(f"`receptive_field` must be one of {RECEPTIVE_FIELDS}; "
                             f"received receptive_field={receptive_field!r}")
        return multiscale_discriminator(shape, base_filters=base_filters, n_layers=n_layers, norm=norm,
                                        num_scales=num_discriminators, init=init, name=name)

    return BicycleGAN(
        generator, encoder_net, discriminator("bicyclegan_discriminator"),
        discriminator("bicyclegan_discriminator_random") if two_discriminators else None,
        seed=seed, split_batch=split_batch, name="bicyclegan",
    )


@dataclasses.dataclass
class BicycleGANConfig(PairedConfig):
    """BicycleGAN's training options. The loss weights are the paper's (nz = 8, LSGAN,
    lambda_l1 = 10, lambda_latent = 0.5, lambda_kl = 0.01), and instance norm and two
    discriminators (one per path) are the reference's defaults. The architecture defaults
    are the simpler ones (z at the input, a conv encoder, N(0, 0.02) init, no dropout, one
    scale, the whole batch on both paths); the reference's are flags away (see
    ``kerasi2i.models.bicyclegan``'s docstring for the measurement behind the choice)."""

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
    where_add: str = option("input", "where G reads z: every encoder level (all, the reference's) or the input only",
                            choices=WHERE_ADD)
    encoder: str = option("conv", "the encoder E: resnet (the reference's E_ResNet) or conv (a strided-conv "
                          "encoder)", choices=ENCODERS)
    num_discriminators: int = option(1, "scales of each discriminator; the reference uses 2 (needs images of 64 px "
                                     "or more with the 70x70 PatchGAN)", choices=NUM_DISCRIMINATORS)
    init: str = option("normal", "weight initialisation: xavier (gain 0.02, the reference's) or normal N(0, 0.02)",
                       choices=INITS)
    dropout: float = option(0.0, "dropout rate in G's decoder (the reference's training scripts: 0.5)")
    split_batch: bool = option(False, "split every batch into halves, one per path, as the reference (needs an "
                               "even --batch-size >= 2)")
    gan_loss: str = option("lsgan", "adversarial loss", choices=losses.GAN_LOSSES)
    lambda_l1: float = option(10.0, "weight of the reconstruction L1 term")
    lambda_latent: float = option(0.5, "weight of the latent regression |E(G(a, z)) - z|")
    lambda_kl: float = option(0.01, "weight of the KL term")

    def __post_init__(self):
        super().__post_init__()
        check_rate(self.dropout, "dropout")
        if self.split_batch and (self.batch_size < 2 or self.batch_size % 2):
            raise ValueError(split_error(self.batch_size).replace("split_batch=True", "split_batch=True (--split-batch)",
                                                                  1))

    def build(self):
        return build_bicyclegan(self.image_size, self.input_channels, self.output_channels, nz=self.nz,
                                base_filters=self.base_filters, encoder_filters=self.encoder_filters, norm=self.norm,
                                receptive_field=self.receptive_field, two_discriminators=self.two_discriminators,
                                upsampling=self.upsampling, seed=self.seed, where_add=self.where_add,
                                encoder=self.encoder, num_discriminators=self.num_discriminators, init=self.init,
                                dropout=self.dropout, split_batch=self.split_batch)

    def compile_options(self):
        return {"gan_loss": self.gan_loss, "lambda_l1": self.lambda_l1, "lambda_latent": self.lambda_latent,
                "lambda_kl": self.lambda_kl}
