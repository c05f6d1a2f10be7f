"""CycleGAN: the image pool, the paper's objective and update order, validation scores,
training runs with resume, saving, and the command line (tiny configurations)."""
import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasi2i.training.callbacks import LinearDecaySchedule, latest_checkpoint, restore_checkpoint
from kerasi2i.cli import main
from kerasi2i.deploy.inference import generator_file, translate_array
from kerasi2i.models import CycleGAN, ImagePool, build_cyclegan
from kerasi2i.models.cyclegan import default_n_blocks
from kerasi2i.models.pix2pix import default_optimizer
from kerasi2i.training.trainer import _cyclegan_data, train_cyclegan

SIZE = 32


def tiny_model(**kwargs):
    kwargs = {"base_filters": 4, "n_blocks": 1, "seed": 0, **kwargs}
    return build_cyclegan(SIZE, **kwargs)


def images(seed, n=2, size=SIZE):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype("float32")


def make_cyclegan_folder(root, n_train=4, n_test=2, pairs=True, size=SIZE):
    """A CycleGAN-layout folder of smooth random images; domain B is the colour
    negative of A, and test_pairs/ holds testA[i] | testB[i] side by side."""
    rng = np.random.default_rng(0)

    def image():
        small = rng.integers(0, 255, (size // 4, size // 4, 3)).astype(np.uint8)
        return np.asarray(Image.fromarray(small).resize((size, size), Image.BILINEAR))

    for split, n in (("train", n_train), ("test", n_test)):
        for domain in "AB":
            (root / f"{split}{domain}").mkdir(parents=True)
        for i in range(n):
            day, other = image(), image()
            Image.fromarray(day).save(root / f"{split}A" / f"{i + 1}.png")
            Image.fromarray(255 - (day if split == "test" else other)).save(root / f"{split}B" / f"{i + 1}.png")
            if split == "test" and pairs:
                (root / "test_pairs").mkdir(exist_ok=True)
                Image.fromarray(np.concatenate([day, 255 - day], axis=1)).save(root / "test_pairs" / f"{i + 1}.png")
    return root


# --------------------------------------------------------------------------------------
# ImagePool
# --------------------------------------------------------------------------------------
def _tagged(ids):
    """A batch of 2x2x1 images whose pixels all hold their id."""
    return np.asarray(ids, "float32")[:, None, None, None] * np.ones((1, 2, 2, 1), "float32")


def test_image_pool_follows_the_reference_rule_exactly_and_statistically():
    pool = ImagePool(8, seed=3)
    pool.build((None, 2, 2, 1))
    query = tf.function(pool)
    # Fill phase: the first 8 images are stored in order and returned unchanged.
    first = _tagged(range(1, 6))
    np.testing.assert_array_equal(query(first), first)
    assert int(pool.count) == 5
    expected_pool = [1, 2, 3, 4, 5, 0, 0, 0]
    np.testing.assert_array_equal(pool.images.numpy()[:, 0, 0, 0], expected_pool)

    # Then, image by image: either the new image comes back and the pool is unchanged, or
    # a stored one comes back and the new image takes exactly its slot.
    next_id, returned_old, n_after_full, replaced_slots = 6, 0, 0, set()
    for _ in range(400):
        ids = list(range(next_id, next_id + 5))
        next_id += 5
        out = query(_tagged(ids)).numpy()
        assert np.all(out == out[:, :1, :1, :])  # whole images, never mixed
        for new, got in zip(ids, out[:, 0, 0, 0].astype(int)):
            if 0 in expected_pool:  # still filling
                assert got == new
                expected_pool[expected_pool.index(0)] = new
                continue
            n_after_full += 1
            if got != new:
                returned_old += 1
                slot = expected_pool.index(got)  # it must have been in the pool
                expected_pool[slot] = new
                replaced_slots.add(slot)
        np.testing.assert_array_equal(pool.images.numpy()[:, 0, 0, 0], expected_pool)
    assert int(pool.count) == 8
    # About half of the queries after the fill return an old image (binomial, n = 1997:
    # 0.45-0.55 is more than 4 standard deviations), and every slot gets replaced.
    assert 0.45 < returned_old / n_after_full < 0.55
    assert replaced_slots == set(range(8))


def test_image_pool_size_zero_and_xla():
    disabled = ImagePool(0)
    disabled.build((None, 2, 2, 1))
    x = _tagged([1, 2, 3])
    np.testing.assert_array_equal(disabled(x), x)
    assert disabled.weights == []
    pool = ImagePool(2, seed=0)
    pool.build((None, 2, 2, 1))
    out = tf.function(pool, jit_compile=True)(x)
    np.testing.assert_array_equal(out[:2], x[:2])  # fill phase
    assert float(out[2, 0, 0, 0]) in (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(-1)


# --------------------------------------------------------------------------------------
# The objective and the update
# --------------------------------------------------------------------------------------
def _expected_losses(model, a, b, lambda_a, lambda_b, lambda_identity):
    G, F, D_A, D_B = model.generator_AtoB, model.generator_BtoA, model.discriminator_A, model.discriminator_B
    fake_b, fake_a = G(a, training=True), F(b, training=True)

    def l1(x, y):
        return float(np.mean(np.abs(np.asarray(x) - np.asarray(y))))

    e = {
        "gan_AtoB": float(np.mean((np.asarray(D_B(fake_b)) - 1) ** 2)),  # LSGAN
        "gan_BtoA": float(np.mean((np.asarray(D_A(fake_a)) - 1) ** 2)),
        "cycle_A": l1(F(fake_b, training=True), a),
        "cycle_B": l1(G(fake_a, training=True), b),
        "idt_AtoB": l1(G(b, training=True), b),
        "idt_BtoA": l1(F(a, training=True), a),
        # The pools are filling, so they return the fakes themselves; each D loss halved.
        "d_A": 0.5 * float(np.mean((np.asarray(D_A(a)) - 1) ** 2) + np.mean(np.asarray(D_A(fake_a)) ** 2)),
        "d_B": 0.5 * float(np.mean((np.asarray(D_B(b)) - 1) ** 2) + np.mean(np.asarray(D_B(fake_b)) ** 2)),
    }
    e["g_loss"] = (e["gan_AtoB"] + e["gan_BtoA"] + lambda_a * e["cycle_A"] + lambda_b * e["cycle_B"]
                   + lambda_identity * (lambda_b * e["idt_AtoB"] + lambda_a * e["idt_BtoA"]))
    return e


@pytest.mark.slow
def test_train_step_matches_the_paper_objective():
    """With learning rate 0 nothing moves, so the reported losses must equal the paper's
    formulas computed by hand. Different lambda_A, lambda_B and identity weight catch
    swapped weights: identity of G (on b) is weighted by lambda_B, of F by lambda_A."""
    model = tiny_model()
    model.compile(default_optimizer(0.0), default_optimizer(0.0), lambda_a=3.0, lambda_b=7.0,
                  lambda_identity=0.25)
    a, b = images(0), images(1)
    logs = {k: float(v) for k, v in model.train_step((a, b)).items()}
    expected = _expected_losses(model, a, b, 3.0, 7.0, 0.25)
    assert set(logs) == set(expected)
    for key, value in expected.items():
        assert logs[key] == pytest.approx(value, rel=1e-4), key


@pytest.mark.slow
def test_generators_step_first_then_discriminators_on_the_earlier_fakes():
    """G and F move with their optimizer only, D_A and D_B with theirs; the D step judges
    the fakes of the forward pass made before G and F were updated."""
    a, b = images(2), images(3)
    model = tiny_model()
    model.compile(keras.optimizers.SGD(0.5), default_optimizer(0.0))
    expected = _expected_losses(model, a, b, 10.0, 10.0, 0.5)
    g0 = [w.numpy().copy() for w in model._generator_variables()]
    d0 = [w.numpy().copy() for w in model._discriminator_variables()]
    logs = model.train_step((a, b))
    assert float(logs["d_A"]) == pytest.approx(expected["d_A"], rel=1e-4)
    assert float(logs["d_B"]) == pytest.approx(expected["d_B"], rel=1e-4)
    assert all(np.array_equal(w0, w.numpy()) for w0, w in zip(d0, model._discriminator_variables()))
    assert sum(not np.allclose(w0, w.numpy()) for w0, w in zip(g0, model._generator_variables())) > len(g0) // 2

    model = tiny_model()
    model.compile(default_optimizer(0.0), default_optimizer(1e-3))
    g0 = [w.numpy().copy() for w in model._generator_variables()]
    d0 = {id(w): w.numpy().copy() for w in model._discriminator_variables()}
    model.train_step((a, b))
    assert all(np.array_equal(w0, w.numpy()) for w0, w in zip(g0, model._generator_variables()))
    for d in (model.discriminator_A, model.discriminator_B):  # both discriminators learn
        assert any(not np.allclose(d0[id(w)], w.numpy()) for w in d.trainable_variables)
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1
    assert int(model.pool_A.count) == 2 and int(model.pool_B.count) == 2


def test_validation_reports_cycle_losses_and_paired_scores():
    model = tiny_model()
    model.compile(paired_validation=True)
    a, b = images(4), images(5)
    logs = {k: float(v) for k, v in model.test_step((a, b)).items()}
    G, F = model.generator_AtoB, model.generator_BtoA
    fake_b, fake_a = np.asarray(G(a)), np.asarray(F(b))
    assert logs["cycle_A"] == pytest.approx(float(np.mean(np.abs(np.asarray(F(fake_b)) - a))), rel=1e-5)
    assert logs["cycle_B"] == pytest.approx(float(np.mean(np.abs(np.asarray(G(fake_a)) - b))), rel=1e-5)
    assert logs["l1_AtoB"] == pytest.approx(float(np.mean(np.abs(fake_b - b))), rel=1e-5)
    assert logs["l1_BtoA"] == pytest.approx(float(np.mean(np.abs(fake_a - a))), rel=1e-5)
    ssim = tf.image.ssim((fake_b + 1) / 2, (b + 1) / 2, max_val=1.0, filter_size=11)
    assert logs["ssim_AtoB"] == pytest.approx(float(np.mean(ssim)), rel=1e-4)
    model.compile()  # unpaired validation: cycle losses only
    model.reset_metrics()
    assert set(model.test_step((a, b))) == {"cycle_A", "cycle_B"}


@pytest.mark.slow
def test_unet_generators_work_inside_cyclegan():
    """The TensorFlow tutorial's variant: pix2pix U-Nets with instance norm."""
    model = tiny_model(generator="unet", dropout=0.5)
    layers = model.generator_AtoB.layers
    assert any(isinstance(layer, keras.layers.Concatenate) for layer in layers)  # U-Net skips
    assert any(isinstance(layer, keras.layers.Dropout) for layer in layers)
    model.compile(gan_loss="vanilla")
    logs = model.train_step((images(6), images(7)))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert model.translate(images(6), "BtoA").shape == (2, SIZE, SIZE, 3)


def test_translate_both_directions_and_save_load():
    model = tiny_model()
    x = images(8)
    np.testing.assert_allclose(model(x), model.generator_AtoB(x, training=False))
    np.testing.assert_allclose(model.translate(x), model.generator_AtoB(x, training=False))
    np.testing.assert_allclose(model.translate(x, direction="BtoA"), model.generator_BtoA(x, training=False))
    assert not np.allclose(model.translate(x, "AtoB"), model.translate(x, "BtoA"))
    with pytest.raises(ValueError, match="direction"):
        model.translate(x, "AtoA")


def test_full_model_keras_round_trip(tmp_path):
    model = tiny_model(pool_size=3)
    model.pool_B(images(9))  # something in the pool
    model.save(tmp_path / "cyclegan.keras")
    loaded = keras.saving.load_model(tmp_path / "cyclegan.keras", compile=False)
    assert isinstance(loaded, CycleGAN) and loaded.pool_size == 3
    x = images(11)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    np.testing.assert_allclose(loaded.translate(x, "BtoA"), model.translate(x, "BtoA"), atol=1e-6)
    np.testing.assert_array_equal(loaded.pool_B.images.numpy(), model.pool_B.images.numpy())


@pytest.mark.slow
def test_defaults_and_argument_errors():
    assert (default_n_blocks(256), default_n_blocks(128), default_n_blocks(64)) == (9, 6, 6)
    model = build_cyclegan(128)
    g, d = model.generator_AtoB, model.discriminator_A
    assert g.count_params() == 7_837_699  # resnet_6blocks
    assert d.count_params() == 2_764_737  # 70x70 PatchGAN, 3 channels, instance norm
    assert d.input_shape == (None, 128, 128, 3)  # unconditional: one image
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in g.layers)
    assert model.pool_A.pool_size == model.pool_B.pool_size == 50
    with pytest.raises(ValueError, match="gan_loss"):
        tiny_model().compile(gan_loss="wgan")
    with pytest.raises(ValueError, match="lambda_b"):
        tiny_model().compile(lambda_b=-1)
    with pytest.raises(ValueError, match="lambda_identity=0"):
        build_cyclegan(SIZE, channels_a=1, base_filters=4, n_blocks=1).compile()
    build_cyclegan(SIZE, channels_a=1, base_filters=4, n_blocks=1).compile(lambda_identity=0)
    with pytest.raises(ValueError, match="generator"):
        build_cyclegan(SIZE, generator="vgg")


# --------------------------------------------------------------------------------------
# Training runs, resume, command line
# --------------------------------------------------------------------------------------
def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class StopAfter(keras.callbacks.Callback):
    """Stop training after `epochs` epochs (an interruption, in-process)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A training run of 2 + 1 epochs on a folder with test_pairs/, stopped after epoch 2.
    (16x16 PatchGANs and no identity loss: a smaller graph traces faster.)"""
    root = tmp_path_factory.mktemp("cyclegan")
    data = make_cyclegan_folder(root / "data")
    out = root / "run"
    model, history = train_cyclegan(
        data, out, image_size=SIZE, epochs=2, epochs_decay=1, base_filters=4, n_blocks=1, receptive_field=16,
        lambda_identity=0.0, batch_size=2, pool_size=3, seed=0, verbose=0, extra_callbacks=[StopAfter(2)],
    )
    return data, out, model, history


@pytest.mark.slow
def test_training_run_validates_on_test_pairs_saves_and_checkpoints(interrupted_run):
    data, out, model, history = interrupted_run
    assert history.epoch == [0, 1]
    assert history.history["idt_BtoA"] == [0.0, 0.0]  # lambda_identity=0: not computed
    for key in ("g_loss", "d_A", "d_B", "cycle_A", "cycle_B", "val_cycle_A", "val_cycle_B", "val_l1_AtoB",
                "val_ssim_AtoB", "val_l1_BtoA", "val_ssim_BtoA"):
        assert all(np.isfinite(history.history[key])), key
    assert (out / "previews" / "epoch_0002.png").exists()

    # The saved generators load back as .keras files and translate like the trained ones.
    x = images(12)
    for direction in ("AtoB", "BtoA"):
        loaded = keras.saving.load_model(out / f"generator_{direction}.keras")
        np.testing.assert_allclose(loaded(x), model.translate(x, direction), atol=1e-5)

    # A fresh model restored from the checkpoint has the weights, optimizer steps (hence
    # the place in the LR schedule) and the pools.
    fresh = build_cyclegan(SIZE, base_filters=4, n_blocks=1, receptive_field=16, pool_size=3)
    schedule = LinearDecaySchedule(2e-4, 2, 2, 1)  # as the run's (a float rate would add a variable)
    fresh.compile(default_optimizer(schedule), default_optimizer(schedule))
    assert restore_checkpoint(fresh, out / "checkpoints") == 2
    assert int(fresh.g_optimizer.iterations) == int(fresh.d_optimizer.iterations) == 2 * 2  # 4 images / batch 2
    assert float(fresh.g_optimizer.learning_rate) == pytest.approx(1e-4)  # the decay epoch: half the rate
    np.testing.assert_array_equal(fresh.pool_A.images.numpy(), model.pool_A.images.numpy())
    np.testing.assert_allclose(fresh.translate(x, "BtoA"), model.translate(x, "BtoA"), atol=1e-6)


def test_validation_data_is_test_pairs_when_present(tmp_path):
    with_pairs = make_cyclegan_folder(tmp_path / "paired")
    _, val, paired = _cyclegan_data(with_pairs, SIZE, None, "resize_and_crop", 1, 0)
    a, b = (np.asarray(t) for t in next(iter(val)))
    assert paired and a.shape == (2, SIZE, SIZE, 3)
    np.testing.assert_allclose(b, -a, atol=0.02)  # aligned ground truth (the colour negative)
    _, val, paired = _cyclegan_data(make_cyclegan_folder(tmp_path / "unpaired", pairs=False), SIZE, None,
                                    "resize_and_crop", 1, 0)
    assert not paired and int(val.cardinality()) == 1


@pytest.mark.slow
def test_cli_resumes_training_and_translates_with_direction(interrupted_run, tmp_path, capsys):
    data, out, _, _ = interrupted_run
    args = ["train", "cyclegan", "--data", str(data), "--output", str(out), "--image-size", str(SIZE),
            "--epochs", "2", "--epochs-decay", "1", "--batch-size", "2", "--n-blocks", "1", "--base-filters", "4",
            "--receptive-field", "16", "--lambda-identity", "0", "--pool-size", "3", "--seed", "0"]
    assert main(args) == 1  # refuses to overwrite the earlier run
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert "Resuming from epoch 2 of 3" in capsys.readouterr().out
    assert [int(r["epoch"]) for r in _rows(out / "history.csv")] == [0, 1, 2]  # Keras epoch numbers continue
    assert latest_checkpoint(out / "checkpoints").name == "epoch_0003"
    assert json.loads((latest_checkpoint(out / "checkpoints") / "state.json").read_text())["epoch"] == 3
    restored = build_cyclegan(SIZE, base_filters=4, n_blocks=1, receptive_field=16, pool_size=3)
    schedule = LinearDecaySchedule(2e-4, 2, 2, 1)
    restored.compile(default_optimizer(schedule), default_optimizer(schedule))
    restore_checkpoint(restored, out / "checkpoints")
    assert int(restored.g_optimizer.iterations) == int(restored.d_optimizer.iterations) == 3 * 2

    assert generator_file(out) == out / "generator_AtoB.keras"
    assert generator_file(out, "BtoA") == out / "generator_BtoA.keras"
    inputs = data / "testB"
    assert main(["translate", "--model", str(out), "--direction", "BtoA", "--input", str(inputs),
                 "--output", str(tmp_path / "fake_a")]) == 0
    written = sorted((tmp_path / "fake_a").iterdir())
    assert [p.name for p in written] == ["1.png", "2.png"]
    source = np.asarray(Image.open(inputs / "1.png"))
    g_ba = keras.saving.load_model(out / "generator_BtoA.keras")
    np.testing.assert_array_equal(np.asarray(Image.open(written[0])), translate_array(g_ba, source))
    np.testing.assert_allclose(g_ba(images(13)), restored.translate(images(13), "BtoA"), atol=1e-5)
    assert not np.array_equal(translate_array(keras.saving.load_model(out / "generator_AtoB.keras"), source),
                              translate_array(g_ba, source))

    # A generator file that translates the other way is refused; a plain file still works.
    capsys.readouterr()
    assert main(["translate", "--model", str(out / "generator_AtoB.keras"), "--direction", "BtoA",
                 "--input", str(inputs), "--output", str(tmp_path / "x")]) == 1
    assert "generator_BtoA.keras" in capsys.readouterr().err
    assert main(["translate", "--model", str(out / "generator_AtoB.keras"), "--input", str(inputs / "1.png"),
                 "--output", str(tmp_path / "fake_b")]) == 0
    assert (tmp_path / "fake_b" / "1.png").exists()
