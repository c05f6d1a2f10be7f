"""Train the FCN-score segmenter that ships with kerasi2i for the bundled procedural
facades, and write it to kerasi2i/assets/ (run again whenever the facade renderer or
the segmenter changes; tests/test_fcn.py fails when the shipped one no longer fits the
data).

    python tools/train_facade_segmenter.py [--steps 800]

Prints its scores on the test split's real renders (the FCN-score upper bound) and on
uniform noise (chance level).
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from kerasi2i import data as kdata  # noqa: E402
from kerasi2i.evaluation import fcn  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=800, help="training steps of 16 images")
    parser.add_argument("--size", type=int, default=128, choices=(64, 128, 256),
                        help="which bundled facades build to train on")
    args = parser.parse_args()
    path = kdata.sample_path("facades", args.size)
    start = time.perf_counter()
    model = fcn.train_segmenter(path, steps=args.steps, verbose=2)
    fcn.PACKAGED_WEIGHTS.parent.mkdir(exist_ok=True)
    model.save_weights(fcn.PACKAGED_WEIGHTS)
    print(f"trained in {time.perf_counter() - start:.0f} s; wrote {fcn.PACKAGED_WEIGHTS}")
    test = kdata.load_paired(path, "test", direction="BtoA", image_size=args.size, batch_size=50)
    print("real renders:", {k: round(v, 3) for k, v in fcn.score_labels2photo(model, test).items()
                            if k != "per_class_iou"})
    x, y = next(iter(test))
    noise = np.random.RandomState(0).uniform(-1, 1, y.shape).astype("float32")
    print("noise:", {k: round(v, 3) for k, v in fcn.fcn_scores(model, noise, np.asarray(x)).items()
                     if k != "per_class_iou"})


if __name__ == "__main__":
    main()
