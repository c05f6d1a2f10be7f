"""pix2pix training-step speed: kerasi2i.Pix2Pix against the TensorFlow tutorial's step.

    python benchmarks/pix2pix_step.py [--sizes 256 64] [--steps 10] [--jit both|on|off]

For each size: steps/s of ../shared/bench/tutorial_pix2pix_step.py (run in a separate
process, same machine, same run) and of Pix2Pix.train_step (batch 1, the paper's U-Net
and 70x70 PatchGAN), their ratio, and FLOP efficiency: convolution FLOPs per step x
steps/s over this machine's measured 3x3 conv throughput. The two steps do different
amounts of work: the tutorial updates G and D from one forward pass; Pix2Pix follows the
paper (D is updated first, then G is scored by the updated D: one more D forward), so
their FLOPs per step are counted separately.
"""
import argparse
import time

import keras
import tensorflow as tf

from common import conv_throughput, forward_flops, run_tutorial_step
from kerasi2i.models.pix2pix import build_pix2pix


class StepTimer(keras.callbacks.Callback):
    """Steps/s over the batches after `warmup` (tracing and first-step costs excluded)."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup = warmup

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.warmup - 1:
            self.start, self.first = time.perf_counter(), batch
        self.end, self.last = time.perf_counter(), batch

    @property
    def steps_per_s(self):
        return (self.last - self.first) / (self.end - self.start)


def time_pix2pix(size, jit, steps, warmup=2):
    """Steps/s of Pix2Pix as users run it: model.fit on batch-1 256x256 data."""
    model = build_pix2pix(size)
    model.compile(jit_compile=jit)
    x = tf.random.uniform((1, size, size, 3), -1, 1)
    y = tf.random.uniform((1, size, size, 3), -1, 1)
    timer = StepTimer(warmup)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0)
    return model, timer.steps_per_s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 64])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--jit", default="both", choices=["both", "on", "off"])
    args = parser.parse_args()
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"TensorFlow {tf.__version__}, devices {devices}")
    peak = conv_throughput()
    print(f"measured 3x3 conv throughput (fwd+bwd): {peak / 1e9:.1f} GFLOP/s")
    jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    for size in args.sizes:
        tut, _ = run_tutorial_step(size, args.steps)
        model = build_pix2pix(size)
        f_g, f_d = forward_flops(model.generator), forward_flops(model.discriminator)
        # G: forward + backward (~3x forward). D: tutorial 2 forwards, backward for D's
        # weights through both and for G through the fake one (~8x); ours adds the
        # forward on the updated D (~9x).
        tut_flops, our_flops = 3 * f_g + 8 * f_d, 3 * f_g + 9 * f_d
        print(f"\n== {size}x{size}, batch 1 ==  G {model.generator.count_params():,} params, "
              f"D {model.discriminator.count_params():,}; forward GFLOPs G {f_g / 1e9:.2f}, D {f_d / 1e9:.2f}")
        print(f"tutorial step (tf.function, no XLA): {tut:7.3f} steps/s  "
              f"efficiency {tut * tut_flops / peak:5.1%}")
        for jit in jits:
            _, ours = time_pix2pix(size, jit, args.steps)
            print(f"kerasi2i Pix2Pix (jit_compile={str(jit):5s}): {ours:7.3f} steps/s  "
                  f"efficiency {ours * our_flops / peak:5.1%}  ratio vs tutorial {ours / tut:5.2f}x")


if __name__ == "__main__":
    main()
