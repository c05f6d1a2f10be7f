"""CycleGAN training-step speed: kerasi2i.CycleGAN.train_step through model.fit.

    python benchmarks/cyclegan_step.py [--sizes 256] [--steps 5] [--rounds 3] [--jit both|on|off]
                                       [--precisions float32 bfloat16]

For each size: steps/s of a CycleGAN step at batch 1 with the paper's networks
(resnet_9blocks for 256 and above, resnet_6blocks below; 70x70 PatchGANs with instance
norm; LSGAN, identity loss on, pools of 50) as users run it (`fit` on a repeated batch),
with and without XLA, and the FLOP efficiency: convolution FLOPs per step x steps/s over
this machine's measured 3x3 convolution throughput (`common.conv_throughput`), measured
again after every timing (the efficiency of a round uses the higher of the two around it).
`--precisions bfloat16` times the step under Keras's mixed_bfloat16 policy too, against the
bfloat16 convolution throughput (the CPU flags say whether bfloat16 is native here).

FLOPs per step, an estimate from the forward FLOPs of one generator (f_G) and one
discriminator (f_D), backward ~ 2x forward where weights and inputs both need gradients:

- generator step: six generator forwards (G(a), F(G(a)), F(b), G(F(b)) and the identity
  terms G(b), F(a)) with their backward, 6 x 3 f_G; two discriminator forwards with the
  backward to their inputs only, 2 x 2 f_D;
- discriminator step: four forwards (real and pooled fake for D_A and D_B) with the
  backward for the weights, 4 x 3 f_D.

Total ~ 18 f_G + 16 f_D (the first discriminator layer needs no input gradient, so this
slightly overcounts).
"""
import argparse
import statistics

import keras
import tensorflow as tf

from common import conv_throughput, fit_seconds_per_step, forward_flops
from kerasi2i.models.cyclegan import build_cyclegan
from kerasi2i.training.precision import native_bfloat16


def step_flops(model):
    f_g = forward_flops(model.generator_AtoB)
    f_d = forward_flops(model.discriminator_B)
    return 18 * f_g + 16 * f_d, f_g, f_d


def time_cyclegan(size, jit, steps, warmup=2, precision="float32"):
    """Steps/s of CycleGAN as users run it: model.fit on batch-1 unpaired data, built under
    Keras's mixed_bfloat16 policy for `precision="bfloat16"`."""
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = build_cyclegan(size)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    model.compile(jit_compile=jit)
    return model, 1 / fit_seconds_per_step(model, size, 1, steps, warmup=warmup)


TARGET = 0.60  # issue 14: CycleGAN at 256 px at least 60% of the measured convolution throughput


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[256])
    parser.add_argument("--steps", type=int, default=5, help="timed steps after 2 warm-up steps")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timings per size and XLA setting, each between two throughput measurements")
    parser.add_argument("--jit", default="both", choices=["both", "on", "off"])
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                        help="bfloat16: mixed bfloat16, its efficiency against the bfloat16 convolution throughput")
    args = parser.parse_args()
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"TensorFlow {tf.__version__}, devices {devices}")
    print(f"CPU bfloat16: {'native' if native_bfloat16() else 'NOT native (emulated, slow)'}")
    peaks = {p: [conv_throughput(dtype=p)] for p in args.precisions}  # precision names are dtypes
    for p in args.precisions:
        print(f"measured 3x3 conv throughput (fwd+bwd, {p}): {peaks[p][0] / 1e9:.1f} GFLOP/s (measured again "
              "around every timing: this machine's load moves it)")
    jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    for size in args.sizes:
        model = build_cyclegan(size)
        flops, f_g, f_d = step_flops(model)
        g, d = model.generator_AtoB, model.discriminator_B
        blocks = sum(layer.name.endswith("_add") for layer in g.layers)
        print(f"\n== {size}x{size}, batch 1 ==  each G resnet_{blocks}blocks {g.count_params():,} params, "
              f"each D {d.count_params():,}; forward GFLOPs G {f_g / 1e9:.2f}, D {f_d / 1e9:.2f}; "
              f"step ~ 18 G + 16 D = {flops / 1e9:.0f} GFLOPs")
        for jit, precision in ((j, p) for j in jits for p in args.precisions):
            local = []  # efficiency against the higher of the two throughputs measured around it
            rates = []
            peak_list = peaks[precision]
            for r in range(args.rounds):
                _, rate = time_cyclegan(size, jit, args.steps, precision=precision)
                peak_list.append(conv_throughput(dtype=precision))
                around = max(peak_list[-2], peak_list[-1])
                rates.append(rate)
                local.append(rate * flops / around)
                print(f"  round {r + 1}: {rate:7.3f} steps/s ({1 / rate:6.2f} s/step), {rate * flops / 1e9:6.1f} "
                      f"GFLOP/s; conv throughput around it {around / 1e9:.1f} GFLOP/s: efficiency {local[-1]:5.1%}",
                      flush=True)
            rate = statistics.median(rates)
            best = max(peak_list)
            print(f"kerasi2i CycleGAN {precision} (jit_compile={str(jit):5s}): {rate:7.3f} steps/s median  "
                  f"({1 / rate:6.2f} s/step)  {rate * flops / 1e9:7.1f} GFLOP/s; efficiency {statistics.median(local):5.1%} "
                  f"(median over rounds, {min(local):.1%}-{max(local):.1%}), {rate * flops / best:5.1%} against the "
                  f"highest throughput of the run ({best / 1e9:.1f} GFLOP/s)")
            if size >= 256:
                verdict = "meets" if statistics.median(local) >= TARGET else "MISSES"
                print(f"  target {TARGET:.0%} of the measured {precision} convolution throughput at {size} px: "
                      f"{verdict} it")


if __name__ == "__main__":
    main()
