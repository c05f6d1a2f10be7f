"""VAE and BicycleGAN: the ELBO's pieces, warm-up, training, sampling, diversity and
round trips (tiny configs, train steps run eagerly to skip tracing)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.evaluation import metrics
from kerasi2i.models import unet_generator
from kerasi2i.evaluation.metrics import diversity_ops as diversity
from kerasi2i.models.bicyclegan import BicycleGAN, build_bicyclegan
from kerasi2i.models.losses import kl_divergence, kl_warmup_weight, reparameterize
from kerasi2i.models.vae import VAE, build_vae
from kerasi2i.networks import conditional_unet_generator, gaussian_encoder, image_decoder

SIZE = 16


def n_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def smooth_images(n=8, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.uniform(-1, 1, (n, 2, 2, 3)).astype("float32")
    return tf.image.resize(small, (size, size), method="bilinear").numpy()


def tiny_vae(seed=0):
    return build_vae(SIZE, latent_dim=4, base_filters=8, num_downs=2, seed=seed)


def tiny_bicyclegan(seed=0, two=True):
    return build_bicyclegan(SIZE, nz=8, base_filters=4, encoder_filters=4, receptive_field=16,
                            two_discriminators=two, seed=seed)


# --------------------------------------------------------------------------------------
# The ELBO's pieces
# --------------------------------------------------------------------------------------
def test_kl_divergence():
    zeros = np.zeros((3, 5), "float32")
    np.testing.assert_allclose(kl_divergence(zeros, zeros), 0.0, atol=1e-7)
    # One dimension: KL(N(1, 1) || N(0, 1)) = 1/2; KL(N(0, e) || N(0, 1)) = (e - 1 - 1) / 2.
    assert float(kl_divergence(np.ones((1, 1)), np.zeros((1, 1)))[0]) == pytest.approx(0.5)
    assert float(kl_divergence(np.zeros((1, 1)), np.ones((1, 1)))[0]) == pytest.approx((np.e - 2) / 2, rel=1e-6)
    rng = np.random.default_rng(0)
    values = kl_divergence(rng.normal(0, 2, (100, 8)), rng.normal(0, 2, (100, 8)))
    assert values.shape == (100,) and float(np.min(values)) > 0


def test_reparameterize_moments_and_gradient():
    mean = tf.fill((20000, 2), 3.0)
    logvar = tf.fill((20000, 2), np.log(0.25).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch([mean, logvar])
        z = reparameterize(mean, logvar, seed=keras.random.SeedGenerator(0))
        total = tf.reduce_sum(z)
    assert float(np.mean(z)) == pytest.approx(3.0, abs=0.02)
    assert float(np.std(z)) == pytest.approx(0.5, abs=0.02)
    d_mean, d_logvar = tape.gradient(total, [mean, logvar])
    np.testing.assert_allclose(d_mean, 1.0)  # dz/dmean = 1
    assert float(np.abs(d_logvar).sum()) > 0  # gradients reach the variance


def test_kl_warmup_schedule():
    assert [float(kl_warmup_weight(s, 4)) for s in (0, 1, 2, 4, 10)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert float(kl_warmup_weight(0, 0)) == 1.0
    vae = tiny_vae()
    vae.compile(beta=2.0, kl_warmup_steps=4)
    x = smooth_images(4)
    used = [float(vae.train_step(x)["kl_weight"]) for _ in range(6)]
    assert used == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]  # beta * min(1, step / 4)


def test_diversity():
    a = np.zeros((1, 2, 4, 4, 3), "float32")  # (k, batch, H, W, C)
    np.testing.assert_allclose(diversity(np.concatenate([a, a], 0)), 0.0)
    three = np.concatenate([a, a + 0.5, a + 1.0], axis=0)  # pairs 0.5, 1.0, 0.5
    np.testing.assert_allclose(diversity(three), [2 / 3, 2 / 3], rtol=1e-6)
    assert float(diversity(three[:, 0])) == pytest.approx(2 / 3)  # (k, H, W, C): one input
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, (4, 3, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(diversity(samples), metrics.diversity(samples), rtol=1e-5)
    with pytest.raises(ValueError, match="k >= 2"):
        diversity(a)


# --------------------------------------------------------------------------------------
# VAE
# --------------------------------------------------------------------------------------
def test_vae_shapes_and_interpolation():
    vae = tiny_vae()
    x = smooth_images(3)
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (3, 4) and vae.latent_dim == 4
    assert vae(x).shape == (3, SIZE, SIZE, 3)
    assert vae.decode(mean).shape == (3, SIZE, SIZE, 3)
    samples = vae.sample(5)
    assert samples.shape == (5, SIZE, SIZE, 3) and float(np.max(np.abs(samples))) <= 1.0
    np.testing.assert_allclose(vae.sample(2, seed=1), vae.sample(2, seed=1))
    path = vae.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, SIZE, SIZE, 3)
    np.testing.assert_allclose(path[0], vae(x[:1])[0], atol=1e-5)  # ends are reconstructions
    np.testing.assert_allclose(path[-1], vae(x[1:2])[0], atol=1e-5)
    assert vae.interpolate(x[:2], x[1:], steps=3).shape == (2, 3, SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="latent_dim|dimensions"):
        VAE(gaussian_encoder((SIZE, SIZE, 3), 4, 4, 2), image_decoder((SIZE, SIZE, 3), 5, 4, 2))


def test_vae_training_improves_reconstruction_and_logs_its_terms():
    keras.utils.set_random_seed(0)
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), beta=0.1)
    x = smooth_images(8)

    def error():
        return float(np.mean(np.square(vae(x) - x)))

    before = error()
    history = vae.fit(tf.data.Dataset.from_tensors(x).repeat(60), epochs=1, verbose=0)
    assert error() < 0.3 * before
    logs = {k: v[-1] for k, v in history.history.items()}
    assert set(logs) == {"loss", "reconstruction", "kl", "kl_weight"}
    assert all(np.isfinite(v) for v in logs.values()) and logs["kl"] >= 0
    val = vae.test_step(x)
    assert float(val["loss"]) == pytest.approx(float(val["reconstruction"]) + 0.1 * float(val["kl"]), rel=1e-5)


def test_vae_keras_round_trip(tmp_path):
    vae = tiny_vae(seed=3)
    vae.compile(beta=0.5, kl_warmup_steps=7, reconstruction="l1")
    x = smooth_images(4)
    vae.train_step(x)
    vae.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert isinstance(loaded, VAE)
    np.testing.assert_allclose(loaded.encode(x)[0], vae.encode(x)[0], atol=1e-6)
    np.testing.assert_allclose(loaded(x), vae(x), atol=1e-6)
    assert (loaded.beta, loaded.kl_warmup_steps, loaded.reconstruction) == (0.5, 7, "l1")
    assert int(loaded.optimizer.iterations) == 1


def test_vae_argument_errors():
    vae = tiny_vae()
    with pytest.raises(ValueError, match="beta"):
        vae.compile(beta=-1.0)
    with pytest.raises(ValueError, match="reconstruction"):
        vae.compile(reconstruction="bce")
    with pytest.raises(ValueError, match="pooling"):
        gaussian_encoder((SIZE, SIZE, 3), pooling="max")


# --------------------------------------------------------------------------------------
# BicycleGAN
# --------------------------------------------------------------------------------------
def test_conditional_unet_is_the_unet_with_z_channels():
    g = conditional_unet_generator((32, 32, 3), nz=8, base_filters=4)
    unet = unet_generator((32, 32, 3), base_filters=4, norm="instance", dropout=0.0)
    assert n_params(g) == n_params(unet) + 4 * 4 * 8 * 4  # down1 reads 3 + 8 channels
    assert g.output_shape == (None, 32, 32, 3)


def test_translate_shapes_and_z_changes_the_output():
    model = tiny_bicyclegan()
    a = smooth_images(3)
    assert model(a).shape == (3, SIZE, SIZE, 3)
    out = model.translate(a, num_samples=4)
    assert out.shape == (4, 3, SIZE, SIZE, 3)  # (k, batch, ...)
    z = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    fixed = model.translate(a, z=z)
    np.testing.assert_allclose(model.translate(a, z=z), fixed, atol=1e-6)  # z decides the output
    np.testing.assert_allclose(fixed[1], model.generator([a, np.repeat(z[1:], 3, axis=0)]), atol=1e-6)
    # Different codes give different outputs for the same input, even untrained.
    assert float(np.min(diversity(fixed))) > 1e-3
    per_output = model.translate(a, z=np.repeat(z[:, None], 3, axis=1))  # (k, batch, nz)
    np.testing.assert_allclose(per_output, fixed, atol=1e-6)
    assert model.reconstruct(a, a).shape == (3, SIZE, SIZE, 3)
    with pytest.raises(ValueError, match="z"):
        model.translate(a, z=np.zeros((2, 5)))


def test_train_step_updates_every_network_and_logs_finite_losses():
    keras.utils.set_random_seed(0)
    model = tiny_bicyclegan()
    model.compile()
    a, b = smooth_images(2, seed=1), smooth_images(2, seed=2)
    nets = (model.generator, model.encoder, model.discriminator, model.discriminator_random)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    logs = model.train_step((a, b))
    assert set(logs) == {"d_loss", "d_random_loss", "g_gan", "g_gan_random", "g_l1", "kl", "z_l1"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    for net, old in zip(nets, before):
        assert any(not np.allclose(w.numpy(), o) for w, o in zip(net.trainable_weights, old)), net.name
    val = model.test_step((a, b))
    assert set(val) == {"l1", "psnr", "ssim", "diversity"} and float(val["diversity"]) > 0


def test_latent_regression_trains_the_generator_only():
    """With only the cLR latent term on, E must not move (the reference freezes it for
    that term), G must, and no discriminator is trained."""
    model = tiny_bicyclegan()
    model.compile(lambda_l1=0.0, lambda_kl=0.0, lambda_gan=0.0, lambda_gan_random=0.0, lambda_latent=1.0)
    a, b = smooth_images(2, seed=1), smooth_images(2, seed=2)
    nets = (model.generator, model.encoder, model.discriminator, model.discriminator_random)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    model.train_step((a, b))
    changed = [any(not np.array_equal(w.numpy(), o) for w, o in zip(net.trainable_weights, old))
               for net, old in zip(nets, before)]
    assert changed == [True, False, False, False]


@pytest.mark.parametrize("two", [True, False])
def test_bicyclegan_keras_round_trip(tmp_path, two):
    model = tiny_bicyclegan(seed=2, two=two)
    model.compile(lambda_l1=3.0)
    a = smooth_images(2)
    z = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    model.save(tmp_path / "bicycle.keras")
    loaded = keras.saving.load_model(tmp_path / "bicycle.keras")
    assert isinstance(loaded, BicycleGAN) and loaded.lambda_l1 == 3.0
    assert (loaded.discriminator_random is None) == (not two)
    np.testing.assert_allclose(loaded.translate(a, z=z), model.translate(a, z=z), atol=1e-6)
    np.testing.assert_allclose(loaded.encode(a)[0], model.encode(a)[0], atol=1e-6)
