"""Translation as regression: a generator trained with a per-pixel loss alone.

This is the "L1" row of the pix2pix paper (Isola et al. 2017, table 1 and figure 5): the
same generator as pix2pix, no discriminator, so it learns the average of all plausible
outputs, which is blurry where the output is uncertain. It is the baseline every GAN in
kerasi2i is compared with, and the simplest trainer to read:

    model = Regression(encoder_decoder_generator((64, 64, 3)))   # or unet_generator(...)
    model.compile()                   # Adam(2e-4, beta_1=0.5), L1
    model.fit(pairs, validation_data=val_pairs, epochs=10)

Its update is the same as ``generator.compile(optimizer, loss="mae")`` and ``fit`` (notebook
01 trains it that way); as a ``TranslationModel`` it also gets the training entry point,
the CLI (``kerasi2i train regression``), checkpoints and mixed precision.
"""
import dataclasses

import keras
import tensorflow as tf
from keras import ops

from kerasi2i.evaluation import metrics
from kerasi2i.models.base import TranslationModel, default_optimizer
from kerasi2i.networks import NORMS, encoder_decoder_generator, unet_generator
from kerasi2i.networks.blocks import check_choice
from kerasi2i.training.config import PairedConfig, option

LOSSES = ("l1", "l2")
ARCHITECTURES = ("encoder_decoder", "unet")


@keras.saving.register_keras_serializable(package="kerasi2i")
class Regression(TranslationModel):
    """A generator trained with a per-pixel loss; logs ``loss`` in training and ``l1``,
    ``psnr``, ``ssim`` on validation pairs.

    Args:
        generator: a model from input images to output images in [-1, 1].
    """

    NETWORKS = ("generator",)
    OPTIMIZERS = ("optimizer",)
    COMPILE_OPTIONS = ("loss_type",)

    def __init__(self, generator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.l1_metric = metrics.L1()
        self.psnr_metric = metrics.PSNR()
        self.ssim_metric = metrics.SSIM()
        self.built = True

    def compile(self, optimizer=None, loss_type="l1", **kwargs):
        """Set the optimizer (default Adam(2e-4, beta_1=0.5)) and the per-pixel loss:
        ``"l1"`` (mean absolute error, the paper's) or ``"l2"`` (mean squared error)."""
        check_choice(loss_type, "loss_type", LOSSES)
        self._compile({"optimizer": (optimizer or default_optimizer(), self.generator.trainable_variables)},
                      {"loss_type": loss_type}, **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker, self.l1_metric, self.psnr_metric, self.ssim_metric]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def train_step(self, data):
        x, y = (tf.convert_to_tensor(t) for t in data)
        with tf.GradientTape() as tape:
            diff = ops.cast(y, "float32") - ops.cast(self.generator(x, training=True), "float32")
            loss = ops.mean(ops.abs(diff)) if self.loss_type == "l1" else ops.mean(ops.square(diff))
            scaled = self.scale_loss(loss, self.optimizer)
        variables = self.generator.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, y = data
        fake = ops.cast(self(x, training=False), "float32")
        for metric in (self.l1_metric, self.psnr_metric, self.ssim_metric):
            metric.update_state(y, fake)
        return {m.name: m.result() for m in self.metrics[1:]}


@dataclasses.dataclass
class RegressionConfig(PairedConfig):
    """Options of the regression baseline: the pix2pix paper's encoder-decoder (or its
    U-Net) trained with L1 alone."""

    MODEL = "regression"
    TRAINER = Regression
    DATA = "paired"
    SUMMARY = "a generator trained with L1 (or L2) alone: the baseline of every GAN here"

    architecture: str = option("encoder_decoder", "the generator: the U-Net without skips (encoder_decoder) "
                               "or the U-Net", choices=ARCHITECTURES)
    base_filters: int = option(64, "filters of the first layer")
    norm: str = option("batch", "normalization layers", choices=NORMS)
    loss_type: str = option("l1", "per-pixel loss", choices=LOSSES, flag="--loss")
    residual: bool = option(False, "the U-Net predicts a correction added to its input (for super-resolution, "
                            "denoising, inpainting; needs --architecture unet)")

    def build(self):
        shape = (self.image_size, self.image_size, self.input_channels)
        if self.residual and self.architecture != "unet":
            raise ValueError("residual=True needs architecture='unet' (the encoder-decoder has no residual "
                             f"output); received architecture={self.architecture!r}")
        if self.architecture == "encoder_decoder":
            generator = encoder_decoder_generator(shape, output_channels=self.output_channels,
                                                  base_filters=self.base_filters, norm=self.norm,
                                                  name="l1_autoencoder")
        else:
            generator = unet_generator(shape, output_channels=self.output_channels, base_filters=self.base_filters,
                                       norm=self.norm, residual=self.residual, name="unet_regression")
        return Regression(generator, name=generator.name)

    def compile_options(self):
        return {"loss_type": self.loss_type}
