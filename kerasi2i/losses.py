"""GAN objectives shared by pix2pix and CycleGAN, on discriminator logits.

- ``vanilla``: the original GAN loss as binary cross-entropy on logits (pix2pix paper).
- ``lsgan``: least squares, targets 1 for real and 0 for fake (CycleGAN's default).
- ``hinge``: D minimises relu(1 - real) + relu(1 + fake); G minimises -fake.

The discriminator loss returned here is the sum over real and fake; the papers halve it
when updating D ("divide the objective by 2 while optimizing D"), which the training
models do.
"""
from keras import ops

GAN_LOSSES = ("vanilla", "lsgan", "hinge")


def check_gan_loss(mode):
    if mode not in GAN_LOSSES:
        raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {mode!r}.")


def _bce_logits(logits, target):
    # Numerically stable binary cross-entropy on logits, against a constant target.
    return ops.mean(ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits))))


def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    """Loss of D on a batch of real and a batch of fake logits (not halved)."""
    check_gan_loss(mode)
    if mode == "vanilla":
        return _bce_logits(real_logits, 1.0) + _bce_logits(fake_logits, 0.0)
    if mode == "lsgan":
        return ops.mean(ops.square(real_logits - 1.0)) + ops.mean(ops.square(fake_logits))
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def generator_loss(fake_logits, mode="vanilla"):
    """Adversarial loss of G: make D call its outputs real."""
    check_gan_loss(mode)
    if mode == "vanilla":
        return _bce_logits(fake_logits, 1.0)
    if mode == "lsgan":
        return ops.mean(ops.square(fake_logits - 1.0))
    return -ops.mean(fake_logits)


def l1_loss(y_true, y_pred):
    """Mean absolute error."""
    return ops.mean(ops.abs(y_true - y_pred))
