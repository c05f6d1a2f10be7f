"""Pix2Pix: the paper's update, metrics, schedule, checkpoints and resume (tiny configs)."""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasi2i.models import losses
from kerasi2i.training.callbacks import LinearDecaySchedule, latest_checkpoint, restore_checkpoint
from kerasi2i.models import patch_discriminator, unet_generator
from kerasi2i.models.pix2pix import Pix2Pix, build_pix2pix, default_optimizer
from kerasi2i.training.trainer import train_pix2pix
from kerasi2i.training.precision import as_float32

SIZE = 32


def make_paired(root, n_train=6, n_val=3, size=SIZE):
    """A Berkeley-layout folder of smooth random pairs (B is a colour shift of A)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            a = rng.integers(0, 255, (size // 4, size // 4, 3)).astype(np.uint8)
            a = np.asarray(Image.fromarray(a).resize((size, size), Image.BILINEAR))
            b = 255 - a
            Image.fromarray(np.concatenate([a, b], axis=1)).save(root / split / f"{i + 1}.png")
    return root


def tiny_model(norm="batch", dropout=0.5, test_mode="eval"):
    g = unet_generator((SIZE, SIZE, 3), base_filters=8, norm=norm, dropout=dropout)
    d = patch_discriminator((SIZE, SIZE, 3), condition_channels=3, base_filters=8, norm=norm)
    return Pix2Pix(g, d, test_mode=test_mode)


def batch(seed=0, n=2):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (n, SIZE, SIZE, 3)).astype("float32"),
            rng.uniform(-1, 1, (n, SIZE, SIZE, 3)).astype("float32"))


def test_gan_losses_closed_form():
    zeros = np.zeros((2, 3, 3, 1), "float32")
    ones = np.ones_like(zeros)
    assert float(losses.discriminator_loss(zeros, zeros, "vanilla")) == pytest.approx(2 * math.log(2), rel=1e-5)
    assert float(losses.generator_loss(zeros, "vanilla")) == pytest.approx(math.log(2), rel=1e-5)
    assert float(losses.discriminator_loss(ones, zeros, "lsgan")) == pytest.approx(0.0)
    assert float(losses.generator_loss(zeros, "lsgan")) == pytest.approx(1.0)
    assert float(losses.discriminator_loss(ones, -ones, "hinge")) == pytest.approx(0.0)
    assert float(losses.generator_loss(2 * ones, "hinge")) == pytest.approx(-2.0)
    # Large logits stay finite (stable BCE).
    assert np.isfinite(float(losses.discriminator_loss(1e4 * ones, -1e4 * ones, "vanilla")))
    with pytest.raises(ValueError, match="wgan"):
        losses.generator_loss(zeros, "wgan")


def test_train_step_matches_the_paper_objective():
    """With learning rate 0 nothing moves, so the reported losses must equal the paper's
    formulas computed by hand: D loss halved, G loss = GAN + lambda * L1."""
    model = tiny_model(norm="none", dropout=0.0)
    model.compile(g_optimizer=default_optimizer(0.0), d_optimizer=default_optimizer(0.0), lambda_l1=7.0)
    x, y = (tf.constant(t) for t in batch())
    logs = {k: float(v) for k, v in model.train_step((x, y)).items()}
    fake = model.generator(x, training=True)
    real_logits = model.discriminator([x, y], training=True)
    fake_logits = model.discriminator([x, fake], training=True)
    d_expected = 0.5 * float(losses.discriminator_loss(real_logits, fake_logits))
    g_gan = float(losses.generator_loss(fake_logits))
    l1 = float(np.mean(np.abs(y.numpy() - fake.numpy())))
    assert logs["d_loss"] == pytest.approx(d_expected, rel=1e-4)
    assert logs["g_gan"] == pytest.approx(g_gan, rel=1e-4)
    assert logs["g_l1"] == pytest.approx(l1, rel=1e-4)
    assert logs["g_loss"] == pytest.approx(g_gan + 7.0 * l1, rel=1e-4)


def test_train_step_updates_d_then_g():
    model = tiny_model()
    model.compile()
    x, y = batch()
    g0 = [w.numpy().copy() for w in model.generator.trainable_weights]
    d0 = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    logs = model.train_step((x, y))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(g0, model.generator.trainable_weights))
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(d0, model.discriminator.trainable_weights))
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1


@pytest.mark.parametrize("gan_loss", ["vanilla", "lsgan", "hinge"])
@pytest.mark.slow
def test_fit_reports_losses_and_validation_metrics(gan_loss):
    model = tiny_model()
    model.compile(gan_loss=gan_loss, jit_compile=gan_loss == "lsgan")  # XLA path exercised once
    data = tf.data.Dataset.from_tensor_slices(batch(n=4)).batch(2)
    history = model.fit(data, validation_data=data, epochs=2, verbose=0)
    for key in ("d_loss", "g_loss", "g_gan", "g_l1", "val_l1", "val_psnr", "val_ssim"):
        assert key in history.history and len(history.history[key]) == 2
        assert all(np.isfinite(history.history[key]))
    assert 0 < history.history["val_l1"][-1] < 2


def test_calling_translates_and_test_modes_differ():
    x, _ = batch()
    eval_model, paper_model = tiny_model(test_mode="eval"), tiny_model(test_mode="paper")
    out = eval_model(x)
    assert out.shape == x.shape and np.all(np.abs(out) <= 1)
    np.testing.assert_allclose(eval_model(x), eval_model(x))  # deterministic
    # "paper": dropout stays on at test time, so two calls differ.
    assert not np.allclose(paper_model(x), paper_model(x))
    with pytest.raises(ValueError, match="test_mode"):
        tiny_model(test_mode="train")


def _moving_statistics(model):
    return [np.array(v) for layer in model.generator.layers if isinstance(layer, keras.layers.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)]


def test_paper_test_mode_uses_batch_statistics_and_leaves_the_model_unchanged(tmp_path):
    """Paper mode (dropout and batch statistics at test time) must not move batch norm's
    running statistics: calling, predict, validation (evaluate) and `generate` all leave
    them as they were, in eager and in compiled code."""
    from kerasi2i.models.pix2pix import generate

    x, y = batch(n=4)
    model = tiny_model(test_mode="paper", dropout=0.0)
    model.compile()
    before = _moving_statistics(model)
    assert before
    out = np.asarray(model(x))
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    generate(model.generator, x, "paper")
    for a, b in zip(before, _moving_statistics(model)):
        np.testing.assert_array_equal(a, b)
    # Batch statistics, not the running ones: each image's output depends on the others
    # in its batch, and differs from eval mode's.
    alone = np.asarray(model(x[:1]))
    assert not np.allclose(out[:1], alone, atol=1e-4)
    assert not np.allclose(out, np.asarray(generate(model.generator, x, "eval")), atol=1e-4)
    with pytest.raises(ValueError, match="test_mode"):
        generate(model.generator, x, "train")


@pytest.mark.slow
def test_test_mode_reaches_training_translate_and_evaluate(tmp_path):
    """--test-mode is a training option saved in config.json; translate and evaluate use
    the run's mode unless told otherwise."""
    from kerasi2i.cli import main
    from kerasi2i.deploy.inference import run_test_mode

    data = make_paired(tmp_path / "pairs")
    out = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(data), "--output", str(out), "--image-size", str(SIZE),
                 "--epochs", "1", "--epochs-decay", "0", "--base-filters", "8", "--batch-size", "2",
                 "--test-mode", "paper"]) == 0
    assert run_test_mode(out) == run_test_mode(out / "generator.keras") == "paper"
    assert run_test_mode(tmp_path) == "eval"
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(
        inputs / "a.png")
    for mode in ("paper", "eval"):
        assert main(["translate", "--model", str(out), "--input", str(inputs), "--output", str(tmp_path / mode),
                     "--test-mode", mode]) == 0
    paper, eval_ = (np.asarray(Image.open(tmp_path / m / "a.png")) for m in ("paper", "eval"))
    assert paper.shape == eval_.shape and not np.array_equal(paper, eval_)
    scores = tmp_path / "scores.json"
    assert main(["evaluate", "--model", str(out), "--data", str(data), "--split", "val", "--json", str(scores)]) == 0
    import json

    assert json.loads(scores.read_text())["test_mode"] == "paper"


def test_compile_rejects_bad_arguments():
    with pytest.raises(ValueError, match="gan_loss"):
        tiny_model().compile(gan_loss="wasserstein")
    with pytest.raises(ValueError, match="lambda_l1"):
        tiny_model().compile(lambda_l1=-1)


def test_build_pix2pix_paper_configuration():
    model = build_pix2pix(64, base_filters=8)
    assert model.generator.output_shape == (None, 64, 64, 3)
    assert [tuple(s) for s in model.discriminator.input_shape] == [(None, 64, 64, 3), (None, 64, 64, 3)]
    opt = default_optimizer()
    assert float(opt.learning_rate) == pytest.approx(2e-4) and opt.beta_1 == pytest.approx(0.5)


def test_linear_decay_schedule_matches_reference_policy():
    s = LinearDecaySchedule(2e-4, steps_per_epoch=10, n_epochs=3, n_epochs_decay=4)
    per_epoch = [float(s(epoch * 10 + 5)) for epoch in range(7)]
    expected = [2e-4 * (1 - max(0, e + 1 - 3) / 5) for e in range(7)]
    np.testing.assert_allclose(per_epoch, expected, rtol=1e-6)
    assert per_epoch[2] == pytest.approx(2e-4) and per_epoch[3] < per_epoch[2]
    assert float(s(9)) == float(s(0))  # constant within an epoch
    restored = LinearDecaySchedule.from_config(s.get_config())
    assert float(restored(45)) == pytest.approx(float(s(45)))


@pytest.mark.slow
def test_training_run_writes_outputs_and_refuses_to_overwrite(tmp_path):
    data = make_paired(tmp_path / "data")
    out = tmp_path / "run"
    model, history = train_pix2pix(data, out, image_size=SIZE, epochs=1, epochs_decay=1, base_filters=8,
                                   batch_size=2, verbose=0)
    assert len(history.history["g_loss"]) == 2
    assert (out / "generator.keras").exists() and (out / "previews" / "epoch_0002.png").exists()
    assert latest_checkpoint(out / "checkpoints").name == "epoch_0002"
    loaded = keras.saving.load_model(out / "generator.keras")
    for saved, trained in zip(loaded.get_weights(), model.generator.get_weights()):
        np.testing.assert_array_equal(saved, trained)
    # The file is the float32 network whatever precision="auto" trained in (mixed bfloat16
    # on CPUs with native bfloat16): the same outputs as a float32 copy of the trained one.
    x, _ = batch()
    np.testing.assert_allclose(loaded(x), as_float32(model.generator)(x, training=False), atol=1e-5)
    with pytest.raises(FileExistsError, match="resume"):
        train_pix2pix(data, out, image_size=SIZE, epochs=1, epochs_decay=1, base_filters=8, verbose=0)
    assert latest_checkpoint(out / "checkpoints").name == "epoch_0002"  # nothing lost


@pytest.mark.slow
def test_half_written_checkpoint_is_ignored(tmp_path):
    """A process killed while saving leaves epoch_NNNN.tmp behind: resume uses the last complete one."""
    data = make_paired(tmp_path / "data")
    out = tmp_path / "run"
    train_pix2pix(data, out, image_size=SIZE, epochs=2, epochs_decay=0, base_filters=8, batch_size=2, verbose=0)
    partial = out / "checkpoints" / "epoch_0003.tmp"
    partial.mkdir()
    (partial / "model.weights.h5").write_bytes(b"half a file")
    model = build_pix2pix(SIZE, base_filters=8)
    schedule = LinearDecaySchedule(2e-4, steps_per_epoch=3, n_epochs=2, n_epochs_decay=0)
    model.compile(g_optimizer=default_optimizer(schedule), d_optimizer=default_optimizer(schedule))
    assert restore_checkpoint(model, out / "checkpoints") == 2
    assert int(model.g_optimizer.iterations) == 2 * 3  # 6 train images / batch 2 = 3 steps per epoch


def _history_epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_killed_run_resumes_where_it_left_off(tmp_path):
    """Kill a CLI training run with SIGKILL after its second checkpoint, resume it, and
    check epoch numbering, optimizer steps and learning-rate position carry on."""
    data = make_paired(tmp_path / "data")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "kerasi2i", "train", "pix2pix", "--data", str(data), "--output", str(out),
           "--image-size", str(SIZE), "--epochs", "3", "--epochs-decay", "3", "--batch-size", "2",
           "--base-filters", "8", "--seed", "1"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while latest_checkpoint(out / "checkpoints") is None or latest_checkpoint(out / "checkpoints").name < "epoch_0002":
        assert proc.poll() is None, "training ended before it could be interrupted"
        assert time.time() < deadline, "no second checkpoint within the time limit"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads((latest_checkpoint(out / "checkpoints") / "state.json").read_text())["epoch"]
    assert 2 <= done < 6

    model, history = train_pix2pix(data, out, image_size=SIZE, epochs=3, epochs_decay=3, batch_size=2,
                                   base_filters=8, resume=True, verbose=0)
    assert history.epoch == list(range(done, 6))  # Keras epoch numbers continue
    assert int(model.g_optimizer.iterations) == 6 * 3 and int(model.d_optimizer.iterations) == 6 * 3
    # Had the step counter restarted at 0, it would end at (6 - done) * 3; the schedule reads
    # this counter, so its position is restored too: after the last epoch the rate is 0.
    assert float(model.g_optimizer.learning_rate) == pytest.approx(0.0, abs=1e-12)
    epochs = _history_epochs(out / "history.csv")
    assert epochs[-(6 - done):] == list(range(done, 6))
