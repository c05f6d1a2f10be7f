"""Where the time of a training step goes: each piece of the pix2pix and CycleGAN steps
timed on its own, against the whole step.

    python benchmarks/profile_steps.py [--models pix2pix cyclegan] [--configs 64x4 256x1]
                                       [--precision float32|bfloat16] [--seconds 2]

For each model and SIZExBATCH, with the paper's networks (base 64 filters), each row is
one `tf.function` (no XLA) called repeatedly for about `--seconds` after two warm-up
calls:

- `whole train_step`: the model's own `train_step`, as `fit` runs it;
- `G forward` and `G forward + backward`: one generator on one batch, the backward for
  its weights (pix2pix) or for its weights and its input (CycleGAN, whose cycle loss
  differentiates each generator's input, the other generator's output);
- `D forward + backward`: one discriminator on one batch, the backward for its weights;
- `Adam update, G` / `D`: `apply_gradients` alone, with fixed gradients, by the trainers'
  default `FusedAdam` and by `keras.optimizers.Adam` (the same update): this part costs
  the same at every image size, since it reads and writes every parameter;
- for CycleGAN, `G forward + backward, norm="none"`: the same generator without instance
  normalization, so the difference is what instance norm costs.

Then a *model* of the step: each piece times the number of times the step runs it, and
their sum against the measured whole step. What the sum leaves unexplained is overhead
(losses, the image pools, control flow, memory traffic between ops). The GFLOPs per piece
come from `common.forward_flops` (convolutions only), and GFLOP/s shows which pieces run
near the machine's convolution throughput and which do not.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import conv_throughput, forward_flops  # noqa: E402  (first: it quiets TensorFlow's logs)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def time_call(fn, seconds):
    """Mean seconds per call of `fn` (a tf.function), after two warm-up calls."""
    for _ in range(2):
        out = fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 3:
        out = fn()
        n += 1
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
    return (time.perf_counter() - start) / n


def forward_backward(net, inputs, weights_only=False):
    """A tf.function: one forward with training=True and the backward for the weights (and
    the inputs unless `weights_only`)."""
    variables = net.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            if not weights_only:
                tape.watch(inputs)
            loss = tf.reduce_mean(tf.cast(net(inputs, training=True), tf.float32))
        return tape.gradient(loss, variables if weights_only else [variables, inputs])
    return step


def adam_update(net, fused=True):
    from kerasi2i.training.optimizers import FusedAdam

    optimizer = (FusedAdam if fused else keras.optimizers.Adam)(2e-4, beta_1=0.5)
    variables = net.trainable_variables
    grads = [tf.fill(v.shape, tf.constant(1e-6, v.dtype)) for v in variables]
    optimizer.build(variables)

    @tf.function
    def step():
        optimizer.apply_gradients(zip(grads, variables))
        return optimizer.iterations
    return step


def whole_step(model, data):
    @tf.function
    def step():
        return model.train_step(data)
    return step


def report(title, rows, model_terms, whole, peak):
    print(f"\n== {title} ==")
    print(f"{'piece':44s} {'ms/call':>9s} {'GFLOPs':>8s} {'GFLOP/s':>8s} {'x per step':>10s} {'ms/step':>9s}")
    explained = 0.0
    for name, seconds, flops in rows:
        count = model_terms.get(name, 0)
        explained += count * seconds
        rate = f"{flops / seconds / 1e9:8.1f}" if flops else f"{'':8s}"
        gflops = f"{flops / 1e9:8.2f}" if flops else f"{'':8s}"
        print(f"{name:44s} {seconds * 1e3:9.2f} {gflops} {rate} {count:10g} {count * seconds * 1e3:9.2f}")
    print(f"{'whole train_step (measured)':44s} {whole * 1e3:9.2f}")
    print(f"sum of the pieces x their count: {explained * 1e3:.1f} ms = {explained / whole:.0%} of the step; "
          f"unexplained {max(0.0, whole - explained) * 1e3:.1f} ms. Float32 conv peak here: {peak / 1e9:.0f} GFLOP/s")


def profile_pix2pix(size, batch, seconds, peak):
    from kerasi2i.models.pix2pix import build_pix2pix

    model = build_pix2pix(size)
    model.compile()
    x = tf.random.uniform((batch, size, size, 3), -1, 1)
    y = tf.random.uniform((batch, size, size, 3), -1, 1)
    G, D = model.generator, model.discriminator
    f_g, f_d = batch * forward_flops(G), batch * forward_flops(D)
    rows = [
        ("G forward", time_call(tf.function(lambda: G(x, training=True)), seconds), f_g),
        ("G forward + backward", time_call(forward_backward(G, x, weights_only=True), seconds), 3 * f_g),
        ("D forward + backward (weights)", time_call(forward_backward(D, [x, y], weights_only=True), seconds),
         3 * f_d),
        ("D forward + backward (weights, input)", time_call(forward_backward(D, [x, y]), seconds), 3 * f_d),
        ("Adam update, G (FusedAdam, the default)", time_call(adam_update(G), seconds), 0),
        ("Adam update, G (keras.optimizers.Adam)", time_call(adam_update(G, fused=False), seconds), 0),
        ("Adam update, D (FusedAdam, the default)", time_call(adam_update(D), seconds), 0),
        ("Adam update, D (keras.optimizers.Adam)", time_call(adam_update(D, fused=False), seconds), 0),
    ]
    # the step: G fwd+bwd once; D fwd+bwd for its weights on real and fake (2x); D fwd+bwd
    # to the input for G's GAN loss (1x); one Adam update each
    terms = {"G forward + backward": 1, "D forward + backward (weights)": 2,
             "D forward + backward (weights, input)": 1, "Adam update, G (FusedAdam, the default)": 1,
             "Adam update, D (FusedAdam, the default)": 1}
    whole = time_call(whole_step(model, (x, y)), seconds)
    report(f"pix2pix {size}x{size}, batch {batch}: G {G.count_params():,} params, D {D.count_params():,}",
           rows, terms, whole, peak)


def profile_cyclegan(size, batch, seconds, peak):
    from kerasi2i.models.cyclegan import build_cyclegan

    model = build_cyclegan(size, seed=0)
    model.compile()
    a = tf.random.uniform((batch, size, size, 3), -1, 1)
    b = tf.random.uniform((batch, size, size, 3), -1, 1)
    G, D = model.generator_AtoB, model.discriminator_B
    G_plain = build_cyclegan(size, norm="none").generator_AtoB
    f_g, f_d = batch * forward_flops(G), batch * forward_flops(D)
    rows = [
        ("G forward", time_call(tf.function(lambda: G(a, training=True)), seconds), f_g),
        ("G forward + backward", time_call(forward_backward(G, a), seconds), 3 * f_g),
        ('G forward + backward, norm="none"', time_call(forward_backward(G_plain, a), seconds), 3 * f_g),
        ("D forward + backward (weights)", time_call(forward_backward(D, b, weights_only=True), seconds), 3 * f_d),
        ("D forward + backward (weights, input)", time_call(forward_backward(D, b), seconds), 3 * f_d),
        ("Adam update, G (FusedAdam, the default)", time_call(adam_update(G), seconds), 0),
        ("Adam update, G (keras.optimizers.Adam)", time_call(adam_update(G, fused=False), seconds), 0),
        ("Adam update, D (FusedAdam, the default)", time_call(adam_update(D), seconds), 0),
        ("Adam update, D (keras.optimizers.Adam)", time_call(adam_update(D, fused=False), seconds), 0),
    ]
    # the generator step runs six G forwards with their backward (G(a), F(G(a)), F(b),
    # G(F(b)), and the identity terms G(b), F(a)) and two D forwards back to their input;
    # the discriminator step four D forwards with the backward for the weights; Adam
    # updates two Gs and two Ds
    terms = {"G forward + backward": 6, "D forward + backward (weights, input)": 2,
             "D forward + backward (weights)": 4, "Adam update, G (FusedAdam, the default)": 2,
             "Adam update, D (FusedAdam, the default)": 2}
    whole = time_call(whole_step(model, (a, b)), seconds)
    report(f"CycleGAN {size}x{size}, batch {batch}: each G {G.count_params():,} params, each D "
           f"{D.count_params():,}", rows, terms, whole, peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["pix2pix", "cyclegan"], choices=["pix2pix", "cyclegan"])
    parser.add_argument("--configs", nargs="+", default=["64x4", "256x1"], help="SIZExBATCH")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per piece")
    args = parser.parse_args()
    peak = conv_throughput()
    if args.precision == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    print(f"TensorFlow {tf.__version__}, {args.precision}; measured 3x3 conv throughput (fwd+bwd, float32): "
          f"{peak / 1e9:.1f} GFLOP/s")
    for model in args.models:
        for config in args.configs:
            size, batch = (int(v) for v in config.lower().split("x"))
            {"pix2pix": profile_pix2pix, "cyclegan": profile_cyclegan}[model](size, batch, args.seconds, peak)


if __name__ == "__main__":
    main()
