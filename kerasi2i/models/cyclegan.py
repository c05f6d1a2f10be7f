"""CycleGAN (Zhu, Park, Isola and Efros, ICCV 2017): unpaired translation with two
generators, two discriminators, and cycle consistency.

    model = build_cyclegan(256)            # resnet_9blocks G and F, two 70x70 PatchGANs
    model.compile()                        # Adam(2e-4, 0.5) for G+F and for D_A+D_B, LSGAN,
                                           # lambda_A = lambda_B = 10, identity 0.5
    model.fit(unpaired_train, validation_data=val, epochs=200)   # batches (a, b)
    fake_b = model(a)                      # calling the model translates A -> B
    fake_a = model.translate(b, direction="BtoA")

Names. ``generator_AtoB`` is the paper's G: A -> B, ``generator_BtoA`` its F: B -> A.
``discriminator_A`` judges images of domain A (real a against F(b)), ``discriminator_B``
images of domain B (real b against G(a)): the paper's D_X and D_Y. (The reference code
calls the discriminator of domain B ``netD_A``, after the generator it trains; here each
discriminator is named after the domain it judges.)

Objective (the paper's equations 1-3 and its section 6, with the reference defaults). G
and F together minimise

    L_GAN(G, D_B) + L_GAN(F, D_A)
    + lambda_A * |F(G(a)) - a|_1 + lambda_B * |G(F(b)) - b|_1                 (cycle)
    + lambda_identity * (lambda_B * |G(b) - b|_1 + lambda_A * |F(a) - a|_1)   (identity)

with LSGAN losses (``(D(G(a)) - 1)^2``), lambda_A = lambda_B = 10 and lambda_identity =
0.5; each discriminator minimises half its LSGAN loss, ``0.5 * [(D(real) - 1)^2 +
D(fake)^2]``, on fakes drawn from a pool of 50 earlier generated images (``ImagePool``).

One training step follows the reference's order: forward G and F; one step of G and F
together (the discriminators are not updated); then one step of D_A and D_B together on
the pooled fakes of that forward pass.
"""
import dataclasses
import typing

import keras
import tensorflow as tf
from keras import ops

from kerasi2i.models import losses
from kerasi2i.evaluation import metrics
from kerasi2i.networks import (
    NORMS,
    RECEPTIVE_FIELDS,
    discriminator_for_receptive_field,
    resnet_generator,
    unet_generator,
)
from kerasi2i.training.config import TrainConfig, option
from kerasi2i.models.base import TranslationModel, check_weights, default_optimizer

DIRECTIONS = ("AtoB", "BtoA")
GENERATORS = ("resnet", "unet")


@keras.saving.register_keras_serializable(package="kerasi2i")
class ImagePool(keras.layers.Layer):
    """A buffer of generated images that the discriminators are trained on (Shrivastava
    et al. 2017, used by CycleGAN to reduce oscillation).

    Called on a batch of generated images, it handles them one by one, in order: while
    the pool holds fewer than ``pool_size`` images, the image is stored and returned
    unchanged; once the pool is full, with probability 0.5 a uniformly chosen stored
    image is returned and the new image takes its place, otherwise the new image is
    returned and the pool is left as it was. ``pool_size=0`` disables the pool (the
    input is returned).

    The buffer (``pool_size`` images) and the fill count are non-trainable variables, so
    the layer works inside a compiled ``train_step`` (also with XLA) and its content is
    saved and restored with the model's weights. Gradients do not flow through the pool:
    pass it images the discriminator should see as constants.

    Args:
        pool_size: number of images kept (the paper: 50).
        seed: seed of the random choices (a ``keras.random.SeedGenerator``).
    """

    def __init__(self, pool_size=50, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # keeps the buffer in float32 under mixed precision
        super().__init__(**kwargs)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise ValueError(f"`pool_size` must be an int >= 0; received pool_size={pool_size!r}")
        self.pool_size = pool_size
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        image_shape = tuple(input_shape[1:])
        if self.pool_size and any(s is None for s in image_shape):
            raise ValueError(
                "ImagePool needs images of a fixed size; received batches of shape "
                f"{tuple(input_shape)}. Build the generators with a fixed input_shape."
            )
        if self.pool_size:
            self.images = self.add_weight(
                shape=(self.pool_size, *image_shape), initializer="zeros", trainable=False, name="images"
            )
            self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count")

    def call(self, images):
        if not self.pool_size:
            return images
        n = ops.shape(images)[0]
        # One uniform draw and one candidate slot per image, drawn up front.
        draws = keras.random.uniform((n,), seed=self.seed_generator)
        slots = keras.random.randint((n,), 0, self.pool_size, seed=self.seed_generator)

        def handle_one(i, state):
            buffer, count, outputs = state
            image = images[i]
            filling = count < self.pool_size
            swap = ops.logical_and(ops.logical_not(filling), draws[i] > 0.5)
            slot = ops.where(filling, count, slots[i])
            stored = buffer[slot]
            kept = ops.where(ops.logical_or(filling, swap), image, stored)  # what the slot holds next
            buffer = ops.slice_update(buffer, [slot, 0, 0, 0], kept[None])
            outputs = ops.slice_update(outputs, [i, 0, 0, 0], ops.where(swap, stored, image)[None])
            return buffer, ops.minimum(count + 1, self.pool_size), outputs

        buffer, count, outputs = ops.fori_loop(
            0, n, handle_one, (ops.convert_to_tensor(self.images), ops.convert_to_tensor(self.count), images)
        )
        self.images.assign(buffer)
        self.count.assign(count)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kerasi2i")
class CycleGAN(TranslationModel):
    """The CycleGAN training model: two generators, two unconditional discriminators and
    two image pools.

    Args:
        generator_AtoB: G, a model from domain-A images to domain-B images in [-1, 1].
        generator_BtoA: F, from domain B to domain A.
        discriminator_A: judges domain-A images (one input), returning logits.
        discriminator_B: judges domain-B images.
        pool_size: images kept in each discriminator's `ImagePool` (50; 0 disables).
        seed: seed of the pools' random choices.

    `call(x)` translates A -> B; `translate(x, direction)` either way.

    Training data are batches `(a, b)` of unpaired images (`kerasi2i.data.load_unpaired`).
    `train_step` reports `g_loss` (the whole objective of G and F), `gan_AtoB` and
    `gan_BtoA` (the adversarial terms of G and F), `cycle_A` = |F(G(a)) - a| and `cycle_B`
    = |G(F(b)) - b|, `idt_AtoB` = |G(b) - b| and `idt_BtoA` = |F(a) - a| (mean absolute
    errors before weighting), and `d_A`, `d_B` (each discriminator's halved loss).

    Validation (`test_step`) takes batches `(a, b)` too and reports `cycle_A` and
    `cycle_B`. When the validation batches are aligned pairs, `b` the true translation of
    `a` (e.g. `load_paired(path / "test_pairs", ...)` on the day2night sample), compile
    with `paired_validation=True` to also report `l1_AtoB` and `ssim_AtoB` of G(a) against
    b, and `l1_BtoA` and `ssim_BtoA` of F(b) against a.
    """

    NETWORKS = ("generator_AtoB", "generator_BtoA", "discriminator_A", "discriminator_B")
    INIT_OPTIONS = ("pool_size", "seed")
    COMPILE_OPTIONS = ("gan_loss", "lambda_a", "lambda_b", "lambda_identity", "paired_validation")
    EXPORTS = {"generator_AtoB": "generator_AtoB", "generator_BtoA": "generator_BtoA"}

    def __init__(self, generator_AtoB, generator_BtoA, discriminator_A, discriminator_B, pool_size=50, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.generator_AtoB = generator_AtoB
        self.generator_BtoA = generator_BtoA
        self.discriminator_A = discriminator_A
        self.discriminator_B = discriminator_B
        self.pool_size = pool_size
        self.seed = seed
        pool_seeds = (None, None) if seed is None else (seed, seed + 1)
        self.pool_A = ImagePool(pool_size, seed=pool_seeds[0], name="pool_A")
        self.pool_B = ImagePool(pool_size, seed=pool_seeds[1], name="pool_B")
        # Built now, so weights (and a checkpoint) can be loaded before the first step.
        self.pool_A.build(generator_BtoA.output_shape)
        self.pool_B.build(generator_AtoB.output_shape)
        self.built = True  # every part is built: weights can be saved and loaded at once

        names = ("g_loss", "gan_AtoB", "gan_BtoA", "cycle_A", "cycle_B", "idt_AtoB", "idt_BtoA", "d_A", "d_B")
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.paired_metrics = {
            "l1_AtoB": metrics.L1("l1_AtoB"), "ssim_AtoB": metrics.SSIM("ssim_AtoB"),
            "l1_BtoA": metrics.L1("l1_BtoA"), "ssim_BtoA": metrics.SSIM("ssim_BtoA"),
        }
        self.paired_validation = False

    def compile(self, g_optimizer=None, d_optimizer=None, gan_loss="lsgan", lambda_a=10.0, lambda_b=10.0,
                lambda_identity=0.5, paired_validation=False, **kwargs):
        """Set the optimizers and the objective.

        Args:
            g_optimizer: one optimizer for the parameters of both generators, as in the
                reference (default Adam(2e-4, beta_1=0.5)).
            d_optimizer: one optimizer for both discriminators (same default). Adam keeps
                per-parameter moments, so one optimizer over two networks takes the same
                steps as one per network; two are kept so G and D can differ.
            gan_loss: "lsgan" (the paper), "vanilla" or "hinge" (`kerasi2i.models.losses`).
            lambda_a, lambda_b: weights of the cycle losses A -> B -> A and B -> A -> B (10).
            lambda_identity: identity loss weight relative to the cycle weights (0.5,
                i.e. 5 for each generator; 0 disables it). Needs as many channels in A as
                in B.
            paired_validation: validation batches `(a, b)` are aligned pairs: also report
                L1 and SSIM of each translation against its ground truth.
            **kwargs: `jit_compile`, `steps_per_execution`, ... go to Keras.
        """
        losses.check_gan_loss(gan_loss)
        weights = check_weights(lambda_a=lambda_a, lambda_b=lambda_b, lambda_identity=lambda_identity)
        if lambda_identity > 0 and self.generator_AtoB.input_shape[-1] != self.generator_AtoB.output_shape[-1]:
            raise ValueError(
                "The identity loss compares G(b) with b, so domains A and B need the same number of channels; "
                f"received {self.generator_AtoB.input_shape[-1]} and {self.generator_AtoB.output_shape[-1]}. "
                "Pass lambda_identity=0."
            )
        self._compile(
            {"g_optimizer": (g_optimizer or default_optimizer(), self._generator_variables()),
             "d_optimizer": (d_optimizer or default_optimizer(), self._discriminator_variables())},
            dict(gan_loss=gan_loss, paired_validation=bool(paired_validation), **weights), **kwargs)

    def _generator_variables(self):
        return self.generator_AtoB.trainable_variables + self.generator_BtoA.trainable_variables

    def _discriminator_variables(self):
        return self.discriminator_A.trainable_variables + self.discriminator_B.trainable_variables

    @property
    def metrics(self):
        return list(self.loss_trackers.values()) + list(self.paired_metrics.values())

    def call(self, inputs, training=False):
        """Translate domain-A images to domain B (G)."""
        return self.generator_AtoB(inputs, training=training)

    def translate(self, images, direction="AtoB", num_samples=None):
        """Translate a batch: "AtoB" with G (the same as calling the model), "BtoA" with F.
        Returns ``(batch, H, W, C)``; with ``num_samples=k``, ``(k, batch, H, W, C)`` as
        every trainer's ``translate`` (the k copies are equal: CycleGAN is deterministic)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"`direction` must be one of {DIRECTIONS}; received direction={direction!r}")
        generator = self.generator_AtoB if direction == "AtoB" else self.generator_BtoA
        outputs = generator(images, training=False)
        return outputs if num_samples is None else ops.stack([outputs] * num_samples)

    def train_step(self, data):
        a, b = (tf.convert_to_tensor(t) for t in data)
        G, F, D_A, D_B = self.generator_AtoB, self.generator_BtoA, self.discriminator_A, self.discriminator_B

        def l1(target, output):
            return ops.cast(losses.l1_loss(ops.cast(target, output.dtype), output), "float32")

        # 1. Forward G and F, and one step of both generators; D_A and D_B only judge.
        with tf.GradientTape() as g_tape:
            fake_b = G(a, training=True)
            rec_a = F(fake_b, training=True)
            fake_a = F(b, training=True)
            rec_b = G(fake_a, training=True)
            gan_ab = ops.cast(losses.generator_loss(D_B(fake_b, training=True), self.gan_loss), "float32")
            gan_ba = ops.cast(losses.generator_loss(D_A(fake_a, training=True), self.gan_loss), "float32")
            cycle_a, cycle_b = l1(a, rec_a), l1(b, rec_b)
            g_loss = gan_ab + gan_ba + self.lambda_a * cycle_a + self.lambda_b * cycle_b
            if self.lambda_identity > 0:
                idt_ab, idt_ba = l1(b, G(b, training=True)), l1(a, F(a, training=True))
                g_loss += self.lambda_identity * (self.lambda_b * idt_ab + self.lambda_a * idt_ba)
            else:
                idt_ab = idt_ba = ops.zeros((), "float32")
            scaled = self.scale_loss(g_loss, self.g_optimizer)
        g_vars = self._generator_variables()
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, g_vars), g_vars))

        # 2. One step of both discriminators on pooled fakes from the forward pass above,
        # each loss halved.
        pooled_a = self.pool_A(tf.stop_gradient(fake_a))
        pooled_b = self.pool_B(tf.stop_gradient(fake_b))
        with tf.GradientTape() as d_tape:
            d_a = 0.5 * ops.cast(
                losses.discriminator_loss(D_A(a, training=True), D_A(pooled_a, training=True), self.gan_loss),
                "float32")
            d_b = 0.5 * ops.cast(
                losses.discriminator_loss(D_B(b, training=True), D_B(pooled_b, training=True), self.gan_loss),
                "float32")
            scaled = self.scale_loss(d_a + d_b, self.d_optimizer)
        d_vars = self._discriminator_variables()
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(scaled, d_vars), d_vars))

        values = dict(g_loss=g_loss, gan_AtoB=gan_ab, gan_BtoA=gan_ba, cycle_A=cycle_a, cycle_B=cycle_b,
                      idt_AtoB=idt_ab, idt_BtoA=idt_ba, d_A=d_a, d_B=d_b)
        for name, value in values.items():
            self.loss_trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.loss_trackers.items()}

    def test_step(self, data):
        a, b = data
        fake_b = ops.cast(self.generator_AtoB(a, training=False), "float32")
        fake_a = ops.cast(self.generator_BtoA(b, training=False), "float32")
        rec_a = ops.cast(self.generator_BtoA(fake_b, training=False), "float32")
        rec_b = ops.cast(self.generator_AtoB(fake_a, training=False), "float32")
        self.loss_trackers["cycle_A"].update_state(losses.l1_loss(a, rec_a))
        self.loss_trackers["cycle_B"].update_state(losses.l1_loss(b, rec_b))
        logs = {name: self.loss_trackers[name].result() for name in ("cycle_A", "cycle_B")}
        if self.paired_validation:
            for name, (target, output) in (("AtoB", (b, fake_b)), ("BtoA", (a, fake_a))):
                for kind in ("l1", "ssim"):
                    metric = self.paired_metrics[f"{kind}_{name}"]
                    metric.update_state(target, output)
                    logs[metric.name] = metric.result()
        return logs


def default_n_blocks(image_size):
    """The CycleGAN paper's residual blocks: 9 for 256x256 (and above), 6 for 128x128 and
    below. (The PyTorch reference's default is `resnet_9blocks` at every size.)"""
    return 9 if image_size >= 256 else 6


def build_cyclegan(
    image_size=256,
    channels_a=3,
    channels_b=3,
    generator="resnet",
    n_blocks=None,
    base_filters=64,
    norm="instance",
    dropout=0.0,
    receptive_field=70,
    pool_size=50,
    seed=None,
):
    """CycleGAN with the reference's `cycle_gan` defaults: two ResNet generators, two 70x70
    PatchGANs on one image each, instance normalization everywhere, no dropout, pools of 50;
    the generators' block count follows the paper's rule (9 blocks for 256x256, 6 for
    128x128 and smaller; the reference uses `resnet_9blocks` at every size).

    Args:
        image_size: height and width of the images (multiple of 4, at least 8 for the
            ResNet; a power of two for the U-Net).
        channels_a, channels_b: channels of domain A and domain B images (1 or 3).
        generator: "resnet" (the paper) or "unet" (the TensorFlow CycleGAN tutorial's
            choice: the pix2pix U-Net with instance normalization; the tutorial also keeps
            pix2pix's dropout, `dropout=0.5`).
        n_blocks: residual blocks of the ResNet generator; None picks the paper's 9 for
            256 and above, 6 below (the reference: 9 at every size).
        base_filters: filters of the first layer of every network (64).
        norm: "instance" (the paper), "batch" or "none".
        dropout: dropout rate in the generators (0, the reference's `--no_dropout`).
        receptive_field: of the PatchGANs: 70 (default), 16, 34, 142, 286, or 1 (PixelGAN).
        pool_size: size of each image pool (50; 0 disables).
        seed: seed of the pools' random choices.
    """
    if generator not in GENERATORS:
        raise ValueError(f"`generator` must be one of {GENERATORS}; received generator={generator!r}")
    n_blocks = default_n_blocks(image_size) if n_blocks is None else n_blocks

    def make_generator(channels_in, channels_out, name):
        shape = (image_size, image_size, channels_in)
        if generator == "resnet":
            return resnet_generator(shape, channels_out, base_filters=base_filters, n_blocks=n_blocks, norm=norm,
                                    dropout=dropout, name=name)
        return unet_generator(shape, channels_out, base_filters=base_filters, norm=norm, dropout=dropout, name=name)

    def make_discriminator(channels, name):
        return discriminator_for_receptive_field(
            receptive_field, input_shape=(image_size, image_size, channels), base_filters=base_filters, norm=norm,
            name=name,
        )

    return CycleGAN(
        make_generator(channels_a, channels_b, "generator_AtoB"),
        make_generator(channels_b, channels_a, "generator_BtoA"),
        make_discriminator(channels_a, "discriminator_A"),
        make_discriminator(channels_b, "discriminator_B"),
        pool_size=pool_size, seed=seed, name="cyclegan",
    )


@dataclasses.dataclass
class CycleGANConfig(TrainConfig):
    """CycleGAN's training options; the defaults are the reference's (ResNet generators,
    70x70 PatchGANs, instance norm, LSGAN, lambda 10, identity 0.5, pools of 50)."""

    MODEL = "cyclegan"
    TRAINER = CycleGAN
    DATA = "unpaired"
    SUMMARY = "unpaired translation with cycle consistency (Zhu et al. 2017)"
    KEEP_BEST_DEFAULT = "val_l1_AtoB"

    data: str = option(None, "CycleGAN folder (trainA/ trainB/ testA/ testB/), sample:NAME or tfds:NAME",
                       required=True)
    generator: str = option("resnet", "generator architecture", choices=GENERATORS)
    n_blocks: typing.Optional[int] = option(None, "residual blocks of the resnet generators (default 9 at 256 px "
                                            "and above, 6 below)")
    base_filters: int = option(64, "filters of the first layer of every network")
    norm: str = option("instance", "normalization layers", choices=NORMS)
    receptive_field: int = option(70, "receptive field of the PatchGANs (1 = PixelGAN)",
                                  choices=RECEPTIVE_FIELDS)
    gan_loss: str = option("lsgan", "adversarial loss", choices=losses.GAN_LOSSES)
    lambda_cycle: float = option(10.0, "weight of each cycle loss")
    lambda_identity: float = option(0.5, "identity loss weight relative to --lambda-cycle (0 disables)")
    pool_size: int = option(50, "image pool per discriminator (0 disables)")

    def build(self):
        return build_cyclegan(self.image_size, generator=self.generator, n_blocks=self.n_blocks,
                              base_filters=self.base_filters, norm=self.norm, receptive_field=self.receptive_field,
                              pool_size=self.pool_size, seed=self.seed)

    def compile_options(self):
        return {"gan_loss": self.gan_loss, "lambda_a": self.lambda_cycle, "lambda_b": self.lambda_cycle,
                "lambda_identity": self.lambda_identity}

