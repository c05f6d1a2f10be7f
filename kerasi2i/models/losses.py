"""GAN objectives shared by pix2pix and CycleGAN, on discriminator logits.

- ``vanilla``: the original GAN loss as binary cross-entropy on logits (pix2pix paper).
- ``lsgan``: least squares, targets 1 for real and 0 for fake (CycleGAN's default).
- ``hinge``: D minimises relu(1 - real) + relu(1 + fake); G minimises -fake.

The discriminator loss returned here is the sum over real and fake; the papers halve it
when updating D ("divide the objective by 2 while optimizing D"), which the training
models do.
"""
import keras
from keras import ops

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


def check_gan_loss(mode):
    if mode not in GAN_LOSSES:
        raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {mode!r}.")


def _float32(x):
    """Losses are computed in float32 whatever the layers computed in (mixed precision)."""
    return ops.cast(x, "float32")


def _bce_logits(logits, target):
    """Mean binary cross-entropy of logits against a constant target (Keras' numerically
    stable form, as PyTorch's BCEWithLogitsLoss)."""
    logits = _float32(logits)
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    """Loss of D on a batch of real and a batch of fake logits (not halved)."""
    check_gan_loss(mode)
    real_logits, fake_logits = _float32(real_logits), _float32(fake_logits)
    if mode == "vanilla":
        return _bce_logits(real_logits, 1.0) + _bce_logits(fake_logits, 0.0)
    if mode == "lsgan":
        return ops.mean(ops.square(real_logits - 1.0)) + ops.mean(ops.square(fake_logits))
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def generator_loss(fake_logits, mode="vanilla"):
    """Adversarial loss of G: make D call its outputs real."""
    check_gan_loss(mode)
    fake_logits = _float32(fake_logits)
    if mode == "vanilla":
        return _bce_logits(fake_logits, 1.0)
    if mode == "lsgan":
        return ops.mean(ops.square(fake_logits - 1.0))
    return -ops.mean(fake_logits)


def l1_loss(y_true, y_pred):
    """Mean absolute error."""
    return ops.mean(ops.abs(_float32(y_true) - _float32(y_pred)))


# The pieces of the ELBO (VAE, BicycleGAN)
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
