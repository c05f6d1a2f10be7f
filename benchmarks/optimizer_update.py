"""One optimizer update of pix2pix's U-Net: `keras.optimizers.Adam` against kerasi2i's
`FusedAdam` (the same update in one fused kernel per variable), side by side.

    python benchmarks/optimizer_update.py [--size 64] [--rounds 3] [--calls 20]

Both optimizers update their own copy of `build_pix2pix(size).generator` with the same
fixed gradients, inside a `tf.function`, as a training step does. Rounds alternate the
two; each prints milliseconds per update, and the last line gives the median of the
per-round ratios. Then the largest difference between the two copies' weights after the
same number of updates, which should be at the level of float32 rounding.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: it quiets TensorFlow's start-up logs)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasi2i.models.pix2pix import build_pix2pix  # noqa: E402
from kerasi2i.training.optimizers import FusedAdam  # noqa: E402


def updater(optimizer, variables, grads):
    optimizer.build(variables)

    @tf.function
    def update():
        optimizer.apply_gradients(zip(grads, variables))
        return optimizer.iterations
    update()
    update()
    return update


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20, help="updates timed per round and optimizer")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    nets = {"keras.optimizers.Adam": build_pix2pix(args.size).generator, "FusedAdam": build_pix2pix(args.size).generator}
    for a, b in zip(nets["FusedAdam"].weights, nets["keras.optimizers.Adam"].weights):
        a.assign(b)
    variables = {name: net.trainable_variables for name, net in nets.items()}
    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.normal(0, 1e-3, v.shape), v.dtype) for v in variables["FusedAdam"]]
    updates = {"keras.optimizers.Adam": updater(keras.optimizers.Adam(2e-4, beta_1=0.5),
                                                variables["keras.optimizers.Adam"], grads),
               "FusedAdam": updater(FusedAdam(2e-4, beta_1=0.5), variables["FusedAdam"], grads)}
    params = sum(int(np.prod(v.shape)) for v in variables["FusedAdam"])
    print(f"pix2pix U-Net at {args.size} px: {params:,} parameters; ms per update (Adam(2e-4, beta_1=0.5))")
    times = {name: [] for name in updates}
    for r in range(args.rounds):
        order = list(updates) if r % 2 == 0 else list(updates)[::-1]
        for name in order:
            start = time.perf_counter()
            for _ in range(args.calls):
                updates[name]()
            float(updates[name]())
            times[name].append((time.perf_counter() - start) / (args.calls + 1) * 1e3)
        print(f"round {r + 1}: " + "  ".join(f"{n} {times[n][-1]:.1f} ms" for n in updates), flush=True)
    ratios = [k / f for k, f in zip(times["keras.optimizers.Adam"], times["FusedAdam"])]
    print(f"keras.optimizers.Adam / FusedAdam: {statistics.median(ratios):.2f}x "
          f"({min(ratios):.2f}-{max(ratios):.2f}) per update")
    diff = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(variables["FusedAdam"],
                                                                  variables["keras.optimizers.Adam"]))
    print(f"largest weight difference after the same {2 + args.rounds * (args.calls + 1)} updates: {diff:.2e}")


if __name__ == "__main__":
    main()
