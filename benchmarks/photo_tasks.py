"""Are the bundled real-photo tasks learnable at quick-mode scale? For each task, a U-Net
trained with L1 alone (the regression baseline, `kerasi2i train regression --architecture
unet`), plain and residual (`--residual`: it predicts a correction added to its input),
against the baselines that need no training, on the held-out crops (crops of the held-out
regions of the same photos; see data/README.md).

    python benchmarks/photo_tasks.py [--tasks superres denoise inpaint colorization] [--steps 1500]
                                     [--generators plain residual] [--seeds 0 1] [--image-size 64]

Prints, per task: the identity (the input as the output), the mean training target, and
each trained U-Net per seed (held-out L1, PSNR, SSIM), then each U-Net's margin over the
better baseline against the spread between its seeds. This is the measurement behind
README's "learnable in CPU minutes?" column for these tasks. (colorization has a grey
input: its residual U-Net adds the correction to the grey image.) The default run trains 16
U-Nets, about 15-20 minutes on 2 CPU cores.
"""
import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["superres", "denoise", "inpaint", "colorization"])
    parser.add_argument("--steps", type=int, default=1500,
                        help="training steps per run (at 300 only denoise and colorization are learnt)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--generators", nargs="+", default=["plain", "residual"], choices=["plain", "residual"],
                        help="the U-Net as in pix2pix (plain), and/or predicting a correction to its input")
    parser.add_argument("--image-size", type=int, default=64, choices=(64, 128))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--base-filters", type=int, default=16)
    args = parser.parse_args()

    import numpy as np

    from kerasi2i.experiments import compare
    from kerasi2i.training import make_config

    print(f"U-Net + L1, {args.steps} steps of {args.batch_size} at {args.image_size} px, "
          f"base {args.base_filters} filters, Adam 5e-4; seeds {args.seeds}")
    print(f"{'task':13s} {'row':30s} {'L1 (lower)':>10s} {'PSNR dB':>8s} {'SSIM':>6s}")
    for name in args.tasks:
        task = compare.sample_task(name, image_size=args.image_size, sample_size=args.image_size)
        rows = {"identity (input)": compare.score("identity", task, num_samples=1),
                "mean training target": compare.score("mean", task, num_samples=1)}
        trained = {}
        for generator in args.generators:
            trained[generator] = []
            for seed in args.seeds:
                start = time.perf_counter()
                config = make_config("regression", architecture="unet", image_size=args.image_size,
                                     base_filters=args.base_filters, residual=generator == "residual", seed=seed)
                model = compare.compile_model(config.build(), 5e-4)
                # a Regression trainer, like the study's autoencoder: paired batches, L1
                compare.train(model, "autoencoder", task, args.steps, args.batch_size, seed)
                row = compare.score(model, task, num_samples=1)
                rows[f"{generator} U-Net, seed {seed} ({time.perf_counter() - start:.0f} s)"] = row
                trained[generator].append(row)
        for label, r in rows.items():
            print(f"{name:13s} {label:30s} {r['l1']:10.4f} {r['psnr']:8.2f} {r['ssim']:6.3f}")
        best_baseline = min(rows["identity (input)"]["l1"], rows["mean training target"]["l1"])
        for generator, runs in trained.items():
            l1s = np.array([r["l1"] for r in runs])
            margin, spread = best_baseline - l1s.max(), float(np.ptp(l1s))
            verdict = "learnt: beats both baselines by more than the seed spread" if margin > spread else "NOT learnt"
            print(f"{name:13s} {generator} U-Net: worst seed's L1 margin over the better baseline {margin:+.4f}, "
                  f"seed spread {spread:.4f}: {verdict}")

if __name__ == "__main__":
    main()
