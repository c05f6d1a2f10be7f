"""The comparison study: every model on every task it applies to, the same budget each.

The pieces behind `notebooks/06_comparison.ipynb`, usable on their own:

    >>> from kerasi2i import compare
    >>> task = compare.sample_task("facades", image_size=64)   # labels -> photo
    >>> row = compare.run_one("pix2pix", task, steps=200, batch_size=4, base_filters=16)
    >>> row["l1"], row["seconds_per_step"]

Models (`MODELS`): the L1 autoencoder (the pix2pix paper's encoder-decoder, trained with
L1 alone), pix2pix, CycleGAN (trained on the task's two domains without their pairing, as
the CycleGAN paper does on paired datasets) and the conditional VAE (BicycleGAN: cVAE-GAN +
cLR-GAN). The autoencoder, pix2pix and the cVAE need paired training data; CycleGAN runs
on every task. Every model is scored on the task's held-out pairs with the same metrics:
L1, PSNR, SSIM, sharpness (and MS-SSIM from 22 px), segmentation scores where the output
is a label map, the FCN-score where the input is a facade label map (the pix2pix paper's
metric for labels -> photo), FID/KID when an InceptionV3 feature extractor is given, the
diversity of several outputs for one input, and seconds per training step. Next to the
models, `run_study` scores baselines: the identity (the input as the output), the mean
training target (the same image whatever the input) and, on request, untrained models.

The sample tasks (`SAMPLE_TASK_NAMES`) start with the procedural facades, which a model
can learn in minutes on a CPU: `facades` (labels -> photo), `facades_photo2labels` (photo
-> labels) and the unpaired `facades_day2night`. Then the real-photo tasks cut from the
bundled photos with a region split (train and test share the photos, never a pixel):
`superres`, `denoise`, `inpaint` and `colorization`, and the hard examples `edges2photo`,
`labels2photo` (and `photo2labels`, the same pairs read the other way) and `day2night`.
"""
import dataclasses
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasi2i import data as kdata
from kerasi2i.evaluation import metrics
from kerasi2i.training.callbacks import StepTimer
from kerasi2i.evaluation import cached_inception_weights, evaluate_generator, inception_feature_extractor
from kerasi2i.models.base import default_optimizer
from kerasi2i.training import make_config

MODELS = ("autoencoder", "pix2pix", "cyclegan", "cvae")
MODEL_NAMES = {"autoencoder": "L1 autoencoder", "pix2pix": "pix2pix", "cyclegan": "CycleGAN",
               "cvae": "cVAE (BicycleGAN)"}
PAIRED_ONLY = ("autoencoder", "pix2pix", "cvae")
# The registered method (kerasi2i.models.registry) behind each model of the study.
REGISTRY_NAMES = {"autoencoder": "regression", "pix2pix": "pix2pix", "cyclegan": "cyclegan", "cvae": "bicyclegan"}
SAMPLE_TASK_NAMES = ("facades", "facades_photo2labels", "facades_day2night",
                     "superres", "denoise", "inpaint", "colorization",
                     "edges2photo", "labels2photo", "photo2labels", "day2night")
IDENTITY = "identity (input as output)"
MEAN_TARGET = "mean training target"
REAL_TARGET = "real targets (FCN upper bound)"

# Scores in the order the table shows them, with the direction that is better.
COLUMNS = {
    "l1": ("L1", "lower"), "psnr": ("PSNR", "higher"), "ssim": ("SSIM", "higher"),
    "ms_ssim": ("MS-SSIM", "higher"), "sharpness": ("sharp", "nearer 1"),
    "pixel_accuracy": ("pix acc", "higher"), "class_accuracy": ("cls acc", "higher"),
    "class_iou": ("IoU", "higher"), "fcn_pixel_accuracy": ("FCN pix", "higher"),
    "fcn_class_accuracy": ("FCN cls", "higher"), "fcn_class_iou": ("FCN IoU", "higher"),
    "fid": ("FID", "lower"), "kid": ("KID", "lower"),
    "diversity": ("divers", "context"), "seconds_per_step": ("s/step", "lower"),
}


@dataclasses.dataclass
class Task:
    """One image-to-image task of the study.

    Attributes:
        name: what the table calls it ("labels2photo").
        path: a paired dataset folder (Berkeley/Kaggle/A-B layout) or, for an unpaired
            task, a CycleGAN-layout folder (trainA/, trainB/, ...).
        direction: "AtoB" or "BtoA", for paired folders.
        paired: whether the training data has pairs (models in `PAIRED_ONLY` need them).
        test_path, test_split: the held-out pairs every model is scored on (for an
            unpaired task, its `test_pairs/` folder).
        labels_output: the outputs are label maps in `palette`, so the table adds
            segmentation scores (`metrics.segmentation_scores`).
        palette: the label colours of `labels_output` ("sample", "facades", ...).
        fcn_score: the inputs are facade label maps and the outputs photos, so the table
            adds the FCN-score (`kerasi2i.evaluation.fcn`): a facade segmenter labels each output and
            is scored against the input labels.
        image_size: side of the square images the models see.
    """

    name: str
    path: Path
    direction: str = "AtoB"
    paired: bool = True
    test_path: Path = None
    test_split: str = "test"
    labels_output: bool = False
    palette: str = "sample"
    fcn_score: bool = False
    image_size: int = 64
    _test: tuple = dataclasses.field(default=None, init=False, repr=False, compare=False)
    _mean: np.ndarray = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.direction not in ("AtoB", "BtoA"):
            raise ValueError(f"`direction` must be 'AtoB' or 'BtoA'; received direction={self.direction!r}")
        self.path = Path(self.path)
        self.test_path = self.path if self.test_path is None else Path(self.test_path)

    def applies(self, model):
        """Whether `model` (a name in `MODELS`) can be trained on this task."""
        _check_model(model)
        return self.paired or model not in PAIRED_ONLY

    def _paired(self, split, **kwargs):
        return kdata.load_paired(self.path, split, direction=self.direction, image_size=self.image_size, **kwargs)

    def train_pairs(self, batch_size=1, seed=0):
        """Endless shuffled, augmented `(input, target)` batches."""
        if not self.paired:
            raise ValueError(f"Task '{self.name}' has no paired training data.")
        return self._paired("train", batch_size=batch_size, seed=seed, repeat=True, drop_remainder=True)

    def train_unpaired(self, batch_size=1, seed=0):
        """Endless `(a, b)` batches with no pairing between a and b. For a paired task the
        two sides of its training pairs are shuffled independently (the pairs are dropped)."""
        if not self.paired:
            return kdata.load_unpaired(self.path, "train", image_size=self.image_size, batch_size=batch_size,
                                       seed=seed, repeat=True, drop_remainder=True)
        a = self._paired("train", batch_size=batch_size, seed=seed, repeat=True, drop_remainder=True)
        b = self._paired("train", batch_size=batch_size, seed=seed + 1, repeat=True, drop_remainder=True)
        return tf.data.Dataset.zip((a.map(_first), b.map(_second)))

    def test_arrays(self, max_images=None):
        """The held-out pairs as two float32 arrays `(inputs, targets)` in [-1, 1] (read
        once, then kept)."""
        if self._test is None:
            self._test = self._read_test()
        x, y = self._test
        return (x, y) if max_images is None else (x[:max_images], y[:max_images])

    def mean_target(self):
        """The mean training target, (H, W, C) in [-1, 1]: the trivial baseline's answer
        (the same image whatever the input). Computed once, without augmentation."""
        if self._mean is None:
            if self.paired:
                ds = self._paired("train", training=False, batch_size=64).map(_second)
            else:  # the target domain, trainB/
                ds = kdata.load_domain(self.path, "trainB", image_size=self.image_size, batch_size=64)
            total, count = 0.0, 0
            for y in ds:
                y = np.asarray(y, np.float64)
                total = total + y.sum(axis=0)
                count += len(y)
            self._mean = (total / count).astype(np.float32)
        return self._mean

    def _read_test(self):
        if self.test_path != self.path:  # a folder of aligned pairs, e.g. day2night/test_pairs
            ds = kdata.load_paired(self.test_path, training=False, image_size=self.image_size, batch_size=64)
        else:
            ds = self._paired(self.test_split, training=False, batch_size=64)
        xs, ys = [], []
        for x, y in ds:
            xs.append(np.asarray(x))
            ys.append(np.asarray(y))
        return np.concatenate(xs), np.concatenate(ys)


def _first(x, y):
    return x


def _second(x, y):
    return y


def _check_model(model):
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; expected one of {MODELS}.")


def sample_task(name, image_size=64, sample_size=64):
    """A task on the bundled sample data (offline), by name (`SAMPLE_TASK_NAMES`):

    - `facades`: procedural facades, labels -> photo (the Berkeley layout read BtoA, the
      pix2pix paper's direction), scored with the FCN-score too;
    - `facades_photo2labels`: the same pairs photo -> labels, scored with segmentation
      scores in CMP's 12-class palette;
    - `facades_day2night`: unpaired (different buildings by day in A, by night in B),
      scored on its `test_pairs/` (the same test building by day | by night);
    - the real-photo tasks: superres, denoise, inpaint, colorization, and the hard
      examples edges2photo, labels2photo, `photo2labels` (labels2photo read the other
      way) and the unpaired `day2night`.
    """
    if name not in SAMPLE_TASK_NAMES:
        raise ValueError(f"Unknown sample task {name!r}; expected one of {SAMPLE_TASK_NAMES}.")
    if name == "facades":
        return Task(name, kdata.sample_path("facades", sample_size), direction="BtoA", fcn_score=True,
                    image_size=image_size)
    if name == "facades_photo2labels":
        return Task(name, kdata.sample_path("facades", sample_size), direction="AtoB", labels_output=True,
                    palette="facades", image_size=image_size)
    if name in ("day2night", "facades_day2night"):
        path = kdata.sample_path(name, sample_size)
        return Task(name, path, paired=False, test_path=path / "test_pairs", image_size=image_size)
    if name == "photo2labels":
        return Task(name, kdata.sample_path("labels2photo", sample_size), direction="BtoA", labels_output=True,
                    image_size=image_size)
    return Task(name, kdata.sample_path(name, sample_size), image_size=image_size)


def pix2pix_task(name, direction=None, image_size=256):
    """A Berkeley pix2pix dataset (downloaded once, needs the network) as a task; scored
    on its test split, or val where it has no test split (cityscapes, maps, edges2*)."""
    path = kdata.download_pix2pix(name)
    direction = direction or kdata.PIX2PIX_DATASETS[name]["direction"]
    split = "test" if (Path(path) / "test").is_dir() else "val"
    label = f"{name} ({direction})"
    # facades store photo | labels: BtoA is labels -> photo (FCN-score), AtoB photo -> labels.
    facades = dict(fcn_score=direction == "BtoA", labels_output=direction == "AtoB", palette="facades")
    return Task(label, path, direction=direction, test_split=split, image_size=image_size,
                **(facades if name == "facades" else {}))


def build_model(model, image_size, base_filters=64, seed=0):
    """One of `MODELS` at the paper's recipe with `base_filters` filters in the first layer
    of every network (64 in the papers): the encoder-decoder with batch norm trained with
    L1 (`regression`), pix2pix (U-Net + 70x70 PatchGAN, batch norm), CycleGAN (ResNet
    generators, instance norm, pools of 50) and BicycleGAN (nz = 8, instance norm). Built
    from the registry's configs, as `kerasi2i train` builds them."""
    _check_model(model)
    keras.utils.set_random_seed(seed)
    extra = {"encoder_filters": base_filters} if model == "cvae" else {}
    config = make_config(REGISTRY_NAMES[model], image_size=image_size, base_filters=base_filters, seed=seed, **extra)
    return config.build()


def compile_model(model, learning_rate=2e-4):
    """Adam(learning_rate, beta_1=0.5) for every optimizer of the model (the papers'),
    each model's own losses at its paper's weights; the autoencoder's loss is L1. No XLA
    for any of them (the default), so seconds per step compare like with like."""
    model.compile(**{name: default_optimizer(learning_rate) for name in model.OPTIMIZERS})
    return model


def translate(model, x, num_samples=1):
    """Outputs for inputs `x`: `(num_samples, batch, H, W, C)`; every model is called the
    way it is used at test time (`model.translate`: pix2pix in its eval mode, a random
    code per cVAE sample). Deterministic models give the same output num_samples times."""
    return np.asarray(model.translate(tf.convert_to_tensor(x, tf.float32), num_samples=num_samples))


def train(model, kind, task, steps, batch_size=1, seed=0, verbose=0):
    """Train `model` (a `kind` from `MODELS`) for exactly `steps` steps of `batch_size`
    on `task`; returns the measured seconds per step (after two warm-up steps)."""
    _check_model(kind)
    if not task.applies(kind):
        raise ValueError(f"{MODEL_NAMES[kind]} needs paired training data; task '{task.name}' has none.")
    data = task.train_unpaired(batch_size, seed) if kind == "cyclegan" else task.train_pairs(batch_size, seed)
    timer = StepTimer(warmup=min(2, max(1, steps - 1)))
    model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=verbose)
    return timer.seconds_per_step


_SEGMENTERS = {}


def _segmenter(task):
    """The FCN-score segmenter of a facades task (loaded once per folder)."""
    key = str(task.path)
    if key not in _SEGMENTERS:
        from kerasi2i.evaluation import fcn

        _SEGMENTERS[key] = fcn.facade_segmenter(task.path, verbose=0)
    return _SEGMENTERS[key]


def fcn_score(task, outputs, max_images=None):
    """FCN-scores (`fcn_pixel_accuracy`, `fcn_class_accuracy`, `fcn_class_iou`) of
    `outputs` for the task's held-out inputs (facade label maps)."""
    from kerasi2i.evaluation import fcn

    x, _ = task.test_arrays(max_images)
    scores = fcn.fcn_scores(_segmenter(task), np.asarray(outputs), x)
    return {f"fcn_{k}": scores[k] for k in ("pixel_accuracy", "class_accuracy", "class_iou")}


def score(model, task, extractor=None, num_samples=5, max_images=None, examples=0):
    """The study's scores of a trained `model` on the task's held-out pairs: L1, PSNR,
    SSIM, sharpness (and MS-SSIM from 22 px), segmentation scores for label outputs, the
    FCN-score where the task asks for it, FID/KID with a feature `extractor`, and the
    diversity of `num_samples` outputs per input (the first of them is the one scored).
    With `examples`, also `outputs`: the `num_samples` outputs of the first `examples`
    test inputs, `(num_samples, examples, H, W, C)`.

    Baselines instead of a model: None or "identity" (the input itself as the output),
    "mean" (the mean training target for every input, `Task.mean_target`)."""
    x, y = task.test_arrays(max_images)
    if model is None or model == "identity":
        samples = x[None]
    elif isinstance(model, str) and model == "mean":
        samples = np.broadcast_to(task.mean_target(), x.shape)[None].copy()
    elif isinstance(model, str):
        raise ValueError(f"Unknown baseline {model!r}; expected 'identity', 'mean' or a model.")
    else:
        samples = translate(model, x, max(1, num_samples))
    outputs = samples[0]  # one output per input, scored by every metric
    result = evaluate_generator(lambda inputs, training=False: outputs, [(x, y)], extractor=extractor,
                                kid_subset_size=min(1000, len(x)))
    if task.labels_output:
        seg = metrics.segmentation_scores(y, outputs, palette=task.palette)
        result.update({k: seg[k] for k in ("pixel_accuracy", "class_accuracy", "class_iou")})
    if task.fcn_score:
        result.update(fcn_score(task, outputs, max_images))
    if not isinstance(model, (str, type(None))) and num_samples > 1:
        result["diversity"] = float(np.mean(metrics.diversity(samples)))
    if examples:
        result["outputs"] = samples[:, :examples]
    return result


class FreshStart:
    """A compiled model and a snapshot of its initial state. `restart()` puts every
    weight, buffer and optimizer variable back to that state: the same as building and
    compiling the model again from the same seed, but without tracing its training step
    again (on a CPU, tracing takes longer than a short training run).

    Args:
        model: a compiled model (its optimizers are built here if they are not yet).
    """

    def __init__(self, model):
        self.model = model
        optimizers = [getattr(model, name, None) for name in ("optimizer", "g_optimizer", "d_optimizer")]
        optimizers = list({id(o): o for o in optimizers if o is not None}.values())
        for optimizer in optimizers:
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
        variables = list(model.variables) + [v for o in optimizers for v in o.variables]
        self.variables = list({id(v): v for v in variables}.values())
        self.values = [np.array(v) for v in self.variables]

    def restart(self):
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)
        return self.model


def _train_and_score(model, kind, task, steps, batch_size, seed, extractor, num_samples, examples):
    start = time.perf_counter()
    seconds_per_step = train(model, kind, task, steps, batch_size, seed)
    row = dict(model=MODEL_NAMES[kind], task=task.name, steps=steps, seconds_per_step=seconds_per_step,
               train_seconds=time.perf_counter() - start)
    row.update(score(model, task, extractor=extractor, num_samples=num_samples, examples=examples))
    return row


def run_one(kind, task, steps, batch_size=1, base_filters=64, learning_rate=2e-4, extractor=None, seed=0,
            num_samples=5, examples=4):
    """Build, train and score one model on one task. Returns the scores with `model`,
    `task`, `steps`, `seconds_per_step`, `train_seconds` (wall clock, with tracing),
    `outputs` (`translate`'s `num_samples` outputs for the first `examples` test inputs)
    and the trained model under `"trained"`."""
    model = compile_model(build_model(kind, task.image_size, base_filters, seed), learning_rate)
    row = _train_and_score(model, kind, task, steps, batch_size, seed, extractor, num_samples, examples)
    row["trained"] = model
    return row


def untrained_name(kind):
    """The table's name for the untrained `kind` baseline row."""
    return f"{MODEL_NAMES[kind]}, untrained"


def _baseline_row(name, task, **scores):
    row = dict(model=name, task=task.name, steps=0, seconds_per_step=float("nan"), train_seconds=0.0)
    row.update(scores)
    return row


def run_study(tasks, models=MODELS, steps=200, batch_size=1, base_filters=64, learning_rate=2e-4,
              extractor=None, seed=0, num_samples=5, examples=4, log=print, baselines=("identity", "mean"),
              untrained=()):
    """Every model in `models` on every task it applies to, `steps` steps of `batch_size`
    each, after the baseline rows of each task. Returns a list of result rows (`run_one`'s,
    without the trained model), in task order; `log` gets one line per run (None: silent).

    Baselines (`baselines`): "identity" (`IDENTITY`, the input as the output), "mean"
    (`MEAN_TARGET`, the mean training target whatever the input); a task with the
    FCN-score also gets a `REAL_TARGET` row (the FCN-scores of the real targets, the upper
    bound). `untrained`: kinds from `models` also scored before training
    (`untrained_name(kind)`), on the tasks they apply to.

    Every run starts from the same initial weights and a fresh optimizer: tasks of one
    image size share one model per kind, restarted (`FreshStart`) before each task."""
    for kind in tuple(models) + tuple(untrained):
        _check_model(kind)
    for b in baselines:
        if b not in ("identity", "mean"):
            raise ValueError(f"Unknown baseline {b!r}; expected 'identity' or 'mean'.")
    fresh = {}
    rows = []

    def restarted(kind, task):
        key = (kind, task.image_size)
        if key not in fresh:
            fresh[key] = FreshStart(compile_model(build_model(kind, task.image_size, base_filters, seed),
                                                  learning_rate))
        return fresh[key].restart()

    for task in tasks:
        for b in baselines:
            rows.append(_baseline_row(IDENTITY if b == "identity" else MEAN_TARGET, task,
                                      **score(b, task, extractor=extractor, num_samples=1)))
        if task.fcn_score:
            rows.append(_baseline_row(REAL_TARGET, task, **fcn_score(task, task.test_arrays()[1])))
        for kind in untrained:
            if task.applies(kind):
                rows.append(_baseline_row(untrained_name(kind), task,
                                          **score(restarted(kind, task), task, extractor=extractor, num_samples=1)))
        for kind in models:
            if not task.applies(kind):
                if log:
                    log(f"{task.name:14s} {MODEL_NAMES[kind]:18s} skipped: needs paired training data")
                continue
            model = restarted(kind, task)
            row = _train_and_score(model, kind, task, steps, batch_size, seed, extractor, num_samples, examples)
            rows.append(row)
            if log:
                log(f"{task.name:14s} {MODEL_NAMES[kind]:18s} L1 {row['l1']:.3f}  SSIM {row['ssim']:.3f}  "
                    f"{row['seconds_per_step'] * 1000:6.1f} ms/step  ({row['train_seconds']:.0f} s in all)")
    return rows


def feature_extractor(weights=None):
    """An InceptionV3 feature extractor for FID/KID, or None when no weights are at hand.

    `weights=None` uses the Keras cache only (never the network) and gives None if the
    weights are not cached; "imagenet" may download them; a path loads that file."""
    if weights is None:
        cached = cached_inception_weights()
        return None if cached is None else inception_feature_extractor(str(cached))
    return inception_feature_extractor(weights)


def format_table(rows, columns=None, digits=3):
    """The rows as a fixed-width text table, one line per (task, model); columns with no
    value in any row are left out; a missing value prints as '-'."""
    columns = [c for c in (columns or COLUMNS) if any(c in r and r[c] is not None for r in rows)]
    width = max([14] + [len(r["task"]) for r in rows])
    head = f"{'task':{width}s} {'model':30s}" + "".join(f"{COLUMNS.get(c, (c,))[0]:>9s}" for c in columns)
    lines = [head, "-" * len(head)]
    previous = None
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append(f"{'-':>9s}")
            elif c == "seconds_per_step":
                cells.append(f"{v:9.4f}")
            elif c in ("psnr", "fid"):
                cells.append(f"{v:9.2f}")
            else:
                cells.append(f"{v:9.{digits}f}")
        task = r["task"] if r["task"] != previous else ""
        previous = r["task"]
        lines.append(f"{task:{width}s} {r['model']:30s}" + "".join(cells))
    return "\n".join(lines)


def results_json(rows):
    """The rows without the trained models and example outputs, JSON-ready (NaN becomes None)."""
    def clean(v):
        if isinstance(v, (float, np.floating)):
            return None if np.isnan(v) else float(v)
        return v
    return [{k: clean(v) for k, v in r.items() if k not in ("trained", "outputs")} for r in rows]
