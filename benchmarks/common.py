"""Shared pieces of the benchmark scripts: FLOP counting, the machine's conv throughput,
and running the tutorial-style baseline step from ../shared/bench/."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_STEP = REPO.parent / "shared" / "bench" / "tutorial_pix2pix_step.py"


def forward_flops(model):
    """Multiply-adds x 2 of every convolution in a functional model (the dominant cost)."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            h, w, cin = layer.input.shape[1:4]
            kh, kw = layer.kernel_size
            total += 2 * h * w * kh * kw * cin * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += 2 * h * w * kh * kw * cin * layer.filters
    return total


def conv_throughput(size=64, channels=256, seconds=3.0, dtype="float32"):
    """Measured FLOP/s of a 3x3 convolution forward+backward on this machine (the
    attainable rate the step efficiencies are compared with), in `dtype` (float32, or
    bfloat16 for steps under mixed bfloat16)."""
    x = tf.cast(tf.random.normal((4, size, size, channels)), dtype)
    k = tf.Variable(tf.cast(tf.random.normal((3, 3, channels, channels)) * 0.01, dtype))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, k, 1, "SAME")
            loss = tf.reduce_sum(tf.cast(y, "float32"))
        return tape.gradient(loss, [x, k])

    step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = step()
        n += 1
    float(tf.reduce_sum(out[0]))
    elapsed = time.perf_counter() - start
    flops = 3 * 2 * 4 * size * size * 9 * channels * channels  # forward + 2 backward convs
    return flops * n / elapsed


def run_tutorial_step(size, steps):
    """Steps/s of the tutorial-style baseline, run as its own process."""
    if not TUTORIAL_STEP.exists():
        raise FileNotFoundError(f"Baseline script not found at {TUTORIAL_STEP}.")
    out = subprocess.run([sys.executable, str(TUTORIAL_STEP), str(size), str(steps)],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"steps_per_s ([\d.]+)", out).group(1)), out


def build_model(name, size):
    """A trainer with the paper's networks (base 64 filters), compiled as users train it:
    "pix2pix", "cyclegan" or "cvae" (BicycleGAN's cVAE-GAN + cLR-GAN)."""
    if name == "pix2pix":
        from kerasi2i.models.pix2pix import build_pix2pix
        model = build_pix2pix(size)
    elif name == "cyclegan":
        from kerasi2i.models.cyclegan import build_cyclegan
        model = build_cyclegan(size, seed=0)
    elif name == "cvae":
        from kerasi2i.models.bicyclegan import build_bicyclegan
        model = build_bicyclegan(size, seed=0)
    else:
        raise ValueError(f"unknown model {name!r}: pix2pix, cyclegan or cvae")
    return model


def random_batch(size, batch):
    """One batch of input and target images in [-1, 1] (A and B for CycleGAN)."""
    return (tf.random.uniform((batch, size, size, 3), -1, 1), tf.random.uniform((batch, size, size, 3), -1, 1))


def fit_seconds_per_step(model, size, batch, steps, warmup=2):
    """Seconds per training step of a compiled `model` as users train it: `model.fit` on
    one repeated random batch, averaged over `steps` steps after `warmup` (tracing and
    first-call costs excluded)."""
    from kerasi2i.training.callbacks import StepTimer

    timer = StepTimer(warmup=warmup)
    model.fit(tf.data.Dataset.from_tensors(random_batch(size, batch)).repeat(), epochs=1,
              steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0)
    return timer.seconds_per_step
