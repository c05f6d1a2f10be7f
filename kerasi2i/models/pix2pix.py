"""pix2pix (Isola et al., CVPR 2017): a conditional GAN with a U-Net generator and a
PatchGAN discriminator, trained with GAN + lambda * L1.

    model = Pix2Pix(unet_generator((256, 256, 3)), patch_discriminator((256, 256, 3), condition_channels=3))
    model.compile()                       # Adam(2e-4, beta_1=0.5) x 2, vanilla GAN, lambda_l1=100
    model.fit(train, validation_data=val, epochs=200)
    fake = model(inputs)                  # calling the model translates

Test-time behaviour. The paper applies dropout and uses the statistics of the test
batch (not the running averages) at test time, the noise being the only source of
randomness in G (the reference's `--eval` is off by default). `test_mode="paper"` does
that (`generate`; with batch norm at batch size 1 this is instance normalization), and
puts batch norm's running statistics back after every call, so testing never changes
the model. `test_mode="eval"` (the default) is Keras' inference behaviour: no dropout,
running statistics, deterministic. The mode is a training option (`--test-mode`, saved
in `config.json`), and `kerasi2i translate` / `evaluate` use a run's mode unless told
otherwise.

Why "eval" is the default: on the bundled facades (labels -> photo, 64 px, 300 steps of
batch 4, two seeds; `python benchmarks/test_mode.py`), the same generators scored a
held-out L1 of 0.3169 in eval mode and 0.3165 in paper mode (one image at a time), FCN
class IoU 0.407 and 0.403: a tie, with the seeds disagreeing on the winner (the
difference between the two seeds, 0.01 L1, is larger than between the modes). With no
measured gain, the deterministic mode is the default; "paper" is one flag away and is
what a paper-comparable run should use.
"""
import dataclasses

import keras
import tensorflow as tf

from kerasi2i.evaluation import metrics
from kerasi2i.models import losses
from kerasi2i.models.base import TranslationModel, check_weights, default_optimizer
from kerasi2i.networks import NORMS, RECEPTIVE_FIELDS, UPSAMPLINGS, discriminator_for_receptive_field, unet_generator
from kerasi2i.training.config import PairedConfig, option

TEST_MODES = ("eval", "paper")


def _batch_norm_statistics(model):
    """The moving mean and variance of every BatchNormalization layer in `model`."""
    return [v for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization) for v in (layer.moving_mean, layer.moving_variance)]


def generate(generator, inputs, test_mode="eval"):
    """Run a generator at test time, in one of the `TEST_MODES`.

    "eval": dropout off and the moving statistics of batch norm (Keras' inference mode).
    "paper": dropout on and batch norm with the statistics of this batch, as the pix2pix
    paper tests; the moving statistics are put back after the call, so translating
    (or validating) in paper mode never changes the model.
    """
    if test_mode not in TEST_MODES:
        raise ValueError(f"test_mode must be one of {TEST_MODES}, got {test_mode!r}.")
    if test_mode == "eval":
        return generator(inputs, training=False)
    statistics = _batch_norm_statistics(generator)
    saved = [keras.ops.copy(v) for v in statistics]
    outputs = generator(inputs, training=True)
    for variable, value in zip(statistics, saved):
        variable.assign(value)
    return outputs


@keras.saving.register_keras_serializable(package="kerasi2i")
class Pix2Pix(TranslationModel):
    """The pix2pix training model: holds `generator` and `discriminator`.

    Args:
        generator: a model mapping input images to output images in [-1, 1].
        discriminator: a conditional discriminator called as `D([input, image])`
            returning logits (`patch_discriminator(..., condition_channels=C_in)`).
        test_mode: "eval" (no dropout, running statistics) or "paper" (dropout and batch
            statistics on at test time, as in the paper). Used by `call`, `predict` and
            `test_step`.
    """

    NETWORKS = ("generator", "discriminator")
    INIT_OPTIONS = ("test_mode",)
    COMPILE_OPTIONS = ("gan_loss", "lambda_l1", "lambda_gan")

    def __init__(self, generator, discriminator, test_mode="eval", **kwargs):
        super().__init__(**kwargs)
        if test_mode not in TEST_MODES:
            raise ValueError(f"test_mode must be one of {TEST_MODES}, got {test_mode!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.test_mode = test_mode
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.g_gan_tracker = keras.metrics.Mean(name="g_gan")
        self.g_l1_tracker = keras.metrics.Mean(name="g_l1")
        self.l1_metric = metrics.L1()
        self.psnr_metric = metrics.PSNR()
        self.ssim_metric = metrics.SSIM()
        # The sub-models are built functional models, so this model is built too (needed
        # to load a checkpoint before the first step).
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, gan_loss="vanilla", lambda_l1=100.0, lambda_gan=1.0,
                **kwargs):
        """Set the two optimizers (default Adam(2e-4, beta_1=0.5) each), the GAN loss
        ("vanilla" as in the paper, "lsgan" or "hinge") and the weights of G's objective
        `lambda_gan * GAN + lambda_l1 * L1` (1 and 100, the paper). The paper's ablations:
        L1 only is `lambda_gan=0`, cGAN only is `lambda_l1=0`.
        Other keyword arguments (`jit_compile`, `steps_per_execution`) go to Keras."""
        losses.check_gan_loss(gan_loss)
        self._compile(
            {"g_optimizer": (g_optimizer or default_optimizer(), self.generator.trainable_variables),
             "d_optimizer": (d_optimizer or default_optimizer(), self.discriminator.trainable_variables)},
            dict(gan_loss=gan_loss, **check_weights(lambda_l1=lambda_l1, lambda_gan=lambda_gan)), **kwargs)

    @property
    def metrics(self):
        return [
            self.d_loss_tracker, self.g_loss_tracker, self.g_gan_tracker, self.g_l1_tracker,
            self.l1_metric, self.psnr_metric, self.ssim_metric,
        ]

    def call(self, inputs, training=False):
        if training:
            return self.generator(inputs, training=True)
        return generate(self.generator, inputs, self.test_mode)

    def train_step(self, data):
        x, y = (tf.convert_to_tensor(t) for t in data)
        with tf.GradientTape() as g_tape:
            fake = self.generator(x, training=True)
            # 1. D step on (x, y) vs (x, G(x)), loss halved as in the paper.
            with g_tape.stop_recording():
                fake_const = tf.stop_gradient(fake)
                with tf.GradientTape() as d_tape:
                    real_logits = self.discriminator([x, y], training=True)
                    fake_logits = self.discriminator([x, fake_const], training=True)
                    d_loss = 0.5 * losses.discriminator_loss(real_logits, fake_logits, self.gan_loss)
                    # Under a multi-replica strategy: / replicas, as gradients are summed over them.
                    scaled = self.scale_loss(d_loss, self.d_optimizer)
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply_gradients(zip(d_tape.gradient(scaled, d_vars), d_vars))
            # 2. G step against the updated D: GAN + lambda * L1.
            fake_logits = self.discriminator([x, fake], training=True)
            g_gan = losses.generator_loss(fake_logits, self.gan_loss)
            g_l1 = losses.l1_loss(tf.cast(y, fake.dtype), fake)
            g_loss = self.lambda_gan * g_gan + self.lambda_l1 * g_l1
            scaled = self.scale_loss(g_loss, self.g_optimizer)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, g_vars), g_vars))

        for tracker, value in ((self.d_loss_tracker, d_loss), (self.g_loss_tracker, g_loss),
                               (self.g_gan_tracker, g_gan), (self.g_l1_tracker, g_l1)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics[:4]}

    def test_step(self, data):
        x, y = data
        fake = tf.cast(self(x, training=False), "float32")
        for metric in (self.l1_metric, self.psnr_metric, self.ssim_metric):
            metric.update_state(y, fake)
        return {m.name: m.result() for m in self.metrics[4:]}


def build_pix2pix(
    image_size=256,
    input_channels=3,
    output_channels=3,
    base_filters=64,
    norm="batch",
    receptive_field=70,
    upsampling="transpose",
    test_mode="eval",
    generator=None,
    residual=False,
):
    """The paper's configuration: unet_<image_size> generator and a PatchGAN conditioned
    on the input, with receptive field 70 (default), 16, 286 or 1 (PixelGAN).
    `generator`: another generator to train instead of the U-Net (same input and output
    shapes). `residual=True` (not the paper's) makes the U-Net predict a correction added
    to its input (see ``unet_generator``)."""
    if generator is None:
        generator = unet_generator(
            (image_size, image_size, input_channels), output_channels=output_channels,
            base_filters=base_filters, norm=norm, upsampling=upsampling, residual=residual,
        )
    discriminator = discriminator_for_receptive_field(
        receptive_field, input_shape=(image_size, image_size, output_channels),
        condition_channels=input_channels, base_filters=base_filters, norm=norm,
    )
    return Pix2Pix(generator, discriminator, test_mode=test_mode, name="pix2pix")


@dataclasses.dataclass
class Pix2PixConfig(PairedConfig):
    """pix2pix's training options; the defaults are the paper's (facades: 256 px, batch 1,
    100 + 100 epochs, Adam(2e-4, 0.5), lambda_l1 = 100, vanilla GAN, 70x70 PatchGAN)."""

    MODEL = "pix2pix"
    TRAINER = Pix2Pix
    DATA = "paired"
    SUMMARY = "paired translation with a conditional GAN (Isola et al. 2017)"

    base_filters: int = option(64, "filters of the first layer of G and D")
    norm: str = option("batch", "normalization layers", choices=NORMS)
    receptive_field: int = option(70, "receptive field of the PatchGAN (1 = PixelGAN)", choices=RECEPTIVE_FIELDS)
    upsampling: str = option("transpose", "U-Net up-sampling: transposed convolution or resize + convolution",
                             choices=UPSAMPLINGS)
    gan_loss: str = option("vanilla", "adversarial loss", choices=losses.GAN_LOSSES)
    lambda_l1: float = option(100.0, "weight of the L1 term of G's objective")
    test_mode: str = option("eval", "test-time behaviour: eval (no dropout, running statistics) or paper (dropout "
                            "and batch statistics on, as the paper tests)", choices=TEST_MODES)
    residual: bool = option(False, "the U-Net predicts a correction added to its input (not the paper's; for "
                            "super-resolution, denoising, inpainting)")

    def build(self):
        return build_pix2pix(self.image_size, self.input_channels, self.output_channels,
                             base_filters=self.base_filters, norm=self.norm, receptive_field=self.receptive_field,
                             upsampling=self.upsampling, test_mode=self.test_mode, residual=self.residual)

    def compile_options(self):
        return {"gan_loss": self.gan_loss, "lambda_l1": self.lambda_l1}

