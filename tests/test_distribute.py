"""Multi-device training: Pix2Pix on two replicas equals one device with the same global
batch, and `kerasi2i train pix2pix --strategy mirrored` runs.

TensorFlow's devices cannot be changed once it has started, so the two-replica runs happen
in one subprocess that first splits the CPU into two logical devices
(`kerasi2i.training.distribute.set_logical_cpus`); the tests below read its report. Norm
"instance" and dropout 0 make one device and two replicas compute the same function
(plain batch norm uses per-replica statistics by design); SGD makes the comparison
sensitive to the gradient scale, which Adam would nearly hide. The subprocess takes about
40 s of CPU: tracing under MirroredStrategy is slow, so it runs as few models as it can.
"""
import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from kerasi2i.training import distribute
from kerasi2i.models import unet_generator

# Largest absolute difference allowed between the weights after 2 SGD steps on one
# device and on two replicas (float32 summation order; measured 6e-8), and the least
# the weights must have moved from their initial values (measured 0.06).
WEIGHT_ATOL = 1e-5
MIN_MOVEMENT = 1e-2

SCRIPT = textwrap.dedent('''
    import json, os, sys, time
    start = time.perf_counter()
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    from kerasi2i.training.distribute import set_logical_cpus
    devices = set_logical_cpus(2)  # before anything else touches TensorFlow
    import keras, numpy as np, tensorflow as tf
    from kerasi2i.training import distribute
    from kerasi2i.cli import main
    from kerasi2i.models import patch_discriminator, unet_generator
    from kerasi2i.models.pix2pix import Pix2Pix

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    Y = np.tanh(X[..., ::-1] * 2).astype("float32")

    def run(strategy, norm="instance"):
        """Weights after 2 steps of global batch 4, the initial weights, the history."""
        keras.utils.set_random_seed(0)
        with strategy.scope():
            g = unet_generator((32, 32, 3), base_filters=4, norm=norm, dropout=0.0)
            d = patch_discriminator((32, 32, 3), condition_channels=3, base_filters=4, n_layers=2, norm=norm)
            init = [w.numpy() for w in g.weights + d.weights]
            model = Pix2Pix(g, d)
            model.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05))
        ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
        history = model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False).history
        return [w.numpy() for w in g.weights + d.weights], init, history

    def max_diff(a, b):
        return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))

    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = distribute.get_strategy("mirrored")  # all (here: both logical) CPU devices
    out = {"devices": devices, "replicas": two.num_replicas_in_sync}
    seconds = {"import": time.perf_counter() - start}
    start = time.perf_counter()
    w1, init, h1 = run(one)
    w2, _, h2 = run(two)
    seconds["compare"] = time.perf_counter() - start
    out["instance"] = {"diff": max_diff(w1, w2), "moved": max_diff(w1, init), "h1": h1, "h2": h2}
    # What forgetting the 1/N would do: gradients twice as large. One device with the loss
    # doubled stands in for it (cheaper than another two-replica run).
    scale = distribute.scale_loss_for_replicas
    distribute.scale_loss_for_replicas = lambda loss: 2.0 * loss
    out["doubled_gradients_diff"] = max_diff(run(one)[0], w2)
    distribute.scale_loss_for_replicas = scale

    # The command line with both logical devices, on the tiny dataset the test wrote.
    data, output = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    out["cli_rc"] = main(["train", "pix2pix", "--data", data, "--image-size", "32", "--base-filters", "4",
                          "--norm", "instance", "--epochs", "1", "--epochs-decay", "0", "--batch-size", "2",
                          "--strategy", "mirrored", "--seed", "0", "--output", output])
    seconds["cli"] = time.perf_counter() - start
    out["cli_odd_batch_rc"] = main(["train", "pix2pix", "--data", data, "--image-size", "32",
                                    "--batch-size", "3", "--strategy", "mirrored", "--output", output + "_odd"])
    out["seconds"] = seconds
    print("RESULT " + json.dumps(out), flush=True)
''')

# Every test here starts a subprocess with two logical CPU devices and trains.
pytestmark = pytest.mark.slow


def _write_dataset(root, size=32):
    """A tiny paired dataset in the Berkeley layout (side-by-side A | B JPEGs): 4 train, 4 val."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        for i in range(4):
            a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / split / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distribute")
    script = tmp / "two_replicas.py"
    script.write_text(SCRIPT)
    data = _write_dataset(tmp / "data")
    out = subprocess.run([sys.executable, str(script), str(data), str(tmp / "run")], capture_output=True,
                         text=True, timeout=600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, f"the two-device script failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    result = json.loads(lines[0][len("RESULT "):])
    result["output"] = tmp / "run"
    result["log"] = out.stdout + out.stderr
    return result


def test_two_logical_cpu_devices_make_two_replicas(report):
    assert report["devices"] == ["/device:CPU:0", "/device:CPU:1"]
    assert report["replicas"] == 2


def test_two_replicas_train_like_one_device_with_the_same_global_batch(report):
    result = report["instance"]
    assert result["moved"] > MIN_MOVEMENT  # training really changed the weights
    assert result["diff"] < WEIGHT_ATOL, result
    # The reported losses are the means over the global batch on both.
    for key in ("d_loss", "g_gan", "g_l1"):
        np.testing.assert_allclose(result["h1"][key], result["h2"][key], rtol=1e-5)


def test_the_comparison_catches_a_missing_loss_scaling(report):
    # Gradients summed over 2 replicas without the 1/2 are twice too large; that moves the
    # weights visibly away from the single-device run.
    assert report["doubled_gradients_diff"] > 100 * WEIGHT_ATOL


def test_cli_trains_with_the_mirrored_strategy(report):
    assert report["cli_rc"] == 0, report["log"][-3000:]
    assert (report["output"] / "generator.keras").exists()
    config = json.loads((report["output"] / "config.json").read_text())
    assert config["strategy"] == "mirrored"
    history = (report["output"] / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "nan" not in history[1].lower()


def test_a_global_batch_that_does_not_split_evenly_is_refused(report):
    assert report["cli_odd_batch_rc"] == 1
    assert "multiple of the 2 replicas" in report["log"]


def test_default_strategy_and_loss_scale_on_one_device():
    strategy = distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1 and distribute.get_strategy(strategy) is strategy
    loss = keras.ops.convert_to_tensor(3.0)
    assert distribute.scale_loss_for_replicas(loss) is loss  # exactly unchanged on one device
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.get_strategy("gpus")


def test_synchronize_batch_norm_keeps_weights_and_outputs():
    g = unet_generator((32, 32, 3), base_filters=4, dropout=0.0)
    g.get_layer("unet_generator_down2_norm").moving_mean.assign(np.full(8, 0.5))  # not the initial weights
    synced = distribute.synchronize_batch_norm(g)
    norms = [layer for layer in synced.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 7 and all(layer.synchronized for layer in norms)
    assert not any(layer.synchronized for layer in g.layers if isinstance(layer, keras.layers.BatchNormalization))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(g(x)), np.asarray(synced(x)))  # running averages
    # Batch statistics: the synchronized layer computes the variance as E[x^2] - E[x]^2.
    np.testing.assert_allclose(np.asarray(g(x, training=True)), np.asarray(synced(x, training=True)), atol=1e-5)
