"""Where the time of a training step goes: the TensorFlow profiler's trace of the pix2pix,
CycleGAN and cVAE (BicycleGAN) training steps, summed by operation type.

    pip install -e ".[bench]"          # xprof reads the profiler's trace
    python benchmarks/profile_steps.py [--models pix2pix cyclegan cvae] [--configs 64x4 256x1]
                                       [--precision float32|bfloat16] [--steps 3]

For each model and SIZExBATCH (the paper's networks, base 64 filters): the step's wall time
(the mean over `--steps` steps, untraced, after 3 warm-up steps; with
`--compare-keras-adam` also with `keras.optimizers.Adam`, timed before and after), then `--steps` steps under
`tf.profiler.experimental` and xprof's per-operation statistics of that trace. The table
gives each operation type's self time per step summed over the runtime's threads, so the
total is CPU time, not wall time (on 2 cores up to twice the wall time). `IDLE` is time
the threads spent waiting. The summary groups the operation types: convolutions (forward
and the two backward passes; oneDNN's `_MklNative*` kernels on x86), the optimizer
(`ResourceApplyAdam`, one fused kernel per variable: `kerasi2i.training.optimizers`),
normalization, idle, and everything else.

Without xprof the script says how to install it and stops; the trace itself needs nothing
beyond TensorFlow, and its folder is printed so that TensorBoard's profile plugin can
open it.
"""
import argparse
import collections
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_model, random_batch  # noqa: E402  (first: it quiets TensorFlow's logs)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

GROUPS = (
    ("convolution, forward", ("Conv2D", "FusedConv2D", "PadWithConv2D", "PadWithFusedConv2D", "DepthwiseConv2dNative")),
    ("convolution, backward (weights)", ("Conv2DBackpropFilter", "Conv2DBackpropFilterWithBias")),
    ("convolution, backward (inputs)", ("Conv2DBackpropInput",)),
    ("optimizer (fused Adam)", ("ResourceApplyAdam",)),
    ("normalization", ("FusedBatchNormV3", "FusedBatchNormGradV3", "Rsqrt", "SquaredDifference", "Mean",
                       "BatchMatMulV2")),
    ("idle (threads waiting)", ("IDLE",)),
)


def group_of(op_type):
    bare = op_type.replace("_MklNative", "").replace("_Mkl", "")
    for name, members in GROUPS:
        if bare in members:
            return name
    return "everything else"


def build(model_name, size, batch, keras_adam=False):
    """The model, compiled as users train it (or with `keras.optimizers.Adam` in place of
    the default `FusedAdam`), and one batch of its data."""
    model = build_model(model_name, size)
    if keras_adam:
        model.compile(**{name: keras.optimizers.Adam(2e-4, beta_1=0.5) for name in model.OPTIMIZERS})
    else:
        model.compile()
    return model, random_batch(size, batch)


def wall_time(model, data, steps):
    """Mean seconds per train_step (tf.function, no XLA), after 3 warm-up steps."""
    step = tf.function(lambda: model.train_step(data))
    for _ in range(3):
        out = step()
    tf.nest.map_structure(lambda t: t.numpy(), out)
    start = time.perf_counter()
    for _ in range(steps):
        out = step()
    tf.nest.map_structure(lambda t: t.numpy(), out)
    return step, (time.perf_counter() - start) / steps


def op_stats(logdir):
    """xprof's framework_op_stats of the newest trace under `logdir`: a list of dicts."""
    from xprof.convert import raw_to_tool_data

    paths = sorted(glob.glob(str(Path(logdir) / "**" / "*.xplane.pb"), recursive=True))
    data, _ = raw_to_tool_data.xspace_to_tool_data([paths[-1]], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    return [{k: (cell or {}).get("v") for k, cell in zip(columns, row["c"])} for row in table["rows"]]


def profile(model_name, size, batch, steps, logdir, compare_keras_adam=False):
    if compare_keras_adam:   # first, so that its memory is released before the traced model's
        _, keras_wall = wall_time(*build(model_name, size, batch, keras_adam=True), steps)
    model, data = build(model_name, size, batch)
    step, wall = wall_time(model, data, steps)
    if compare_keras_adam:
        # and once more after, so that a change of load shows as a spread, not as a ratio
        _, keras_again = wall_time(*build(model_name, size, batch, keras_adam=True), steps)
        print(f"\n{model_name} {size}x{size}, batch {batch}: {wall * 1e3:.0f} ms/step with FusedAdam, "
              f"{keras_wall * 1e3:.0f} and {keras_again * 1e3:.0f} ms/step with keras.optimizers.Adam "
              f"(before and after): {min(keras_wall, keras_again) / wall:.2f}-{max(keras_wall, keras_again) / wall:.2f}x")
    tf.profiler.experimental.start(str(logdir))
    for _ in range(steps):
        out = step()
    tf.nest.map_structure(lambda t: t.numpy(), out)
    tf.profiler.experimental.stop()
    rows = op_stats(logdir)
    by_type = collections.Counter()
    for row in rows:
        by_type[row["type"]] += (row["total_self_time"] or 0) / 1e3 / steps   # ms per step
    total = sum(by_type.values())
    params = sum(int(v.numpy().size) for v in model.trainable_variables)
    print(f"\n== {model_name} {size}x{size}, batch {batch}: {params:,} trainable parameters; "
          f"wall time {wall * 1e3:.0f} ms/step; traced CPU time {total:.0f} ms/step over the threads ==")
    print(f"{'operation type':40s} {'ms/step':>8s} {'share':>6s}")
    for op_type, ms in by_type.most_common(12):
        print(f"{op_type:40s} {ms:8.1f} {ms / total:6.1%}")
    groups = collections.Counter()
    for op_type, ms in by_type.items():
        groups[group_of(op_type)] += ms
    print("by group: " + "; ".join(f"{name} {ms / total:.0%}" for name, ms in groups.most_common()))
    print(f"trace: {logdir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["pix2pix", "cyclegan", "cvae"],
                        choices=["pix2pix", "cyclegan", "cvae"])
    parser.add_argument("--configs", nargs="+", default=["64x4", "128x1", "256x1"], help="SIZExBATCH")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--steps", type=int, default=3, help="traced steps (and untimed ones) per configuration")
    parser.add_argument("--logdir", default=None, help="where to keep the traces (default: a temporary folder)")
    parser.add_argument("--compare-keras-adam", action="store_true",
                        help="also time each step with keras.optimizers.Adam instead of the default FusedAdam")
    args = parser.parse_args()
    try:
        import xprof  # noqa: F401
    except ImportError:
        print('xprof is not installed: pip install -e ".[bench]" (or pip install xprof)')
        return 1
    if args.precision == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    print(f"TensorFlow {tf.__version__}, {args.precision}")
    root = Path(args.logdir or tempfile.mkdtemp(prefix="kerasi2i_profile_"))
    for model_name in args.models:
        for config in args.configs:
            size, batch = (int(v) for v in config.lower().split("x"))
            profile(model_name, size, batch, args.steps, root / f"{model_name}_{config}", args.compare_keras_adam)
    return 0


if __name__ == "__main__":
    sys.exit(main())
