"""pix2pix's two test modes on the bundled facades: the same trained generator scored in
"eval" mode (dropout off, batch norm's running statistics; Keras' inference mode) and in
"paper" mode (dropout and batch statistics on, as the pix2pix paper tests, one image at a
time as the paper's batch size 1), after the same short training runs.

    python benchmarks/test_mode.py [--steps 300] [--seeds 0 1] [--image-size 64] [--batch-size 4]

For each seed: train pix2pix (labels -> photo, batch `--batch-size`, base 32 filters, the demo's
schedule: constant then linear decay) for `--steps` steps, then score the 100 held-out
buildings both ways: L1, PSNR, SSIM and the FCN-score (class IoU). This is the
measurement behind the default `test_mode` (see `kerasi2i.models.pix2pix`).
"""
import argparse
import tempfile
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--image-size", type=int, default=64, choices=(64, 128))
    parser.add_argument("--batch-size", type=int, default=4, help="training batch (the paper: 1)")
    args = parser.parse_args()

    import tensorflow as tf

    from kerasi2i import data as kdata
    from kerasi2i.evaluation import fcn, metrics
    from kerasi2i.models.pix2pix import generate
    from kerasi2i.training import train

    size = args.image_size
    path = kdata.sample_path("facades", size)
    test = kdata.load_paired(path, "test", direction="BtoA", image_size=size, batch_size=100)
    x, y = (np.asarray(t) for t in next(iter(test)))
    segmenter = fcn.facade_segmenter(path, verbose=0)
    per_epoch = args.steps // 4
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as run:
            start = time.perf_counter()
            model, _ = train("pix2pix", path, f"{run}/run", direction="BtoA", image_size=size, base_filters=32,
                             batch_size=args.batch_size, epochs=2, epochs_decay=2, steps_per_epoch=per_epoch, seed=seed, verbose=0)
            seconds = time.perf_counter() - start
        g = model.generator
        outputs = {
            "eval (batch of 100)": np.asarray(generate(g, x, "eval")),
            "paper (one image at a time)": np.concatenate([np.asarray(generate(g, x[i:i + 1], "paper"))
                                                           for i in range(len(x))]),
        }
        for mode, out in outputs.items():
            scores = {"l1": float(np.mean(metrics.l1(y, out))), "psnr": float(np.mean(metrics.psnr(y, out))),
                      "ssim": float(np.mean(metrics.ssim(y, out)))}
            fcn_scores = fcn.score_labels2photo(segmenter, tf.data.Dataset.from_tensors((x, y)),
                                                generator=lambda inputs, training=False, o=out: o)
            scores["fcn_iou"] = fcn_scores["class_iou"]
            rows.append((seed, mode, scores, seconds))
            print(f"seed {seed} ({4 * per_epoch} steps of {args.batch_size}, {seconds:.0f} s)  {mode:28s} L1 {scores['l1']:.4f}  "
                  f"PSNR {scores['psnr']:.2f}  SSIM {scores['ssim']:.3f}  FCN IoU {scores['fcn_iou']:.3f}",
                  flush=True)
    for mode in ("eval (batch of 100)", "paper (one image at a time)"):
        l1 = [r[2]["l1"] for r in rows if r[1] == mode]
        iou = [r[2]["fcn_iou"] for r in rows if r[1] == mode]
        print(f"mean over seeds  {mode:28s} L1 {np.mean(l1):.4f}  FCN IoU {np.mean(iou):.3f}")


if __name__ == "__main__":
    main()
