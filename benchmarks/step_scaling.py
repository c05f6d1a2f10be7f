"""How the cost of a training step grows with image size and batch size: pix2pix and
CycleGAN, seconds per step through `fit`, plotted.

    python benchmarks/step_scaling.py [--sizes 64 128 256 512] [--batches 1 2 4 8]
                                      [--cyclegan-max-size 128] [--steps 8]
                                      [--output benchmarks/step_scaling.png]

For each model: batch 1 at every size in `--sizes`, and every batch in `--batches` at the
smallest size (the paper's networks, base 64 filters, float32, no XLA; CycleGAN only up
to `--cyclegan-max-size`, as its 256 px step takes half a minute here). Seconds per step
are the mean over `--steps` steps after 2 warm-up steps. The figure plots seconds per step
against pixels per batch (image pixels x batch), on log-log axes, with a line of slope 1
through the smallest point: a model whose cost grows like its arithmetic follows the line;
one dominated by a fixed cost per step (the optimizer update, per-op overhead) stays above
it at the small end and bends towards it. The table printed beside it has the numbers.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build_model, fit_seconds_per_step  # noqa: E402  (first: it quiets TensorFlow's logs)


def seconds_per_step(model_name, size, batch, steps):
    model = build_model(model_name, size)
    model.compile()
    return fit_seconds_per_step(model, size, batch, steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--cyclegan-max-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "step_scaling.png"))
    args = parser.parse_args()
    smallest = min(args.sizes)
    results = {}
    print(f"{'model':9s} {'size':>5s} {'batch':>5s} {'s/step':>8s} {'ms per image':>13s}")
    for model_name in ("pix2pix", "cyclegan"):
        configs = [(size, 1) for size in sorted(args.sizes)
                   if model_name == "pix2pix" or size <= args.cyclegan_max_size]
        configs += [(smallest, b) for b in sorted(args.batches) if b != 1]
        for size, batch in configs:
            s = seconds_per_step(model_name, size, batch, args.steps)
            results[(model_name, size, batch)] = s
            print(f"{model_name:9s} {size:5d} {batch:5d} {s:8.3f} {s / batch * 1e3:13.1f}", flush=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for ax, model_name in zip(axes, ("pix2pix", "cyclegan")):
        rows = {k: v for k, v in results.items() if k[0] == model_name}
        for label, pick, marker in (("batch 1, size grows", lambda k: k[2] == 1, "o-"),
                                    (f"{smallest} px, batch grows", lambda k: k[1] == smallest, "s--")):
            points = sorted((k[1] ** 2 * k[2], v) for k, v in rows.items() if pick(k))
            ax.plot([p for p, _ in points], [v for _, v in points], marker, label=label)
        base_pixels, base_s = smallest ** 2, rows[(model_name, smallest, 1)]
        top = max(k[1] ** 2 * k[2] for k in rows)
        ax.plot([base_pixels, top], [base_s, base_s * top / base_pixels], ":", color="grey",
                label="cost proportional to pixels")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("pixels per batch (image pixels x batch)")
        ax.set_ylabel("seconds per training step")
        ax.set_title(f"{model_name}: paper networks, float32, 2 CPU cores")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"figure: {args.output}")


if __name__ == "__main__":
    main()
