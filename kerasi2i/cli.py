"""The `kerasi2i` command (also `python -m kerasi2i`).

    kerasi2i demo                                  train a small pix2pix on bundled data
    kerasi2i data build                            build the bundled sample datasets
    kerasi2i data show NAME                        save a preview grid of a dataset
    kerasi2i train pix2pix --data PATH ...         train with checkpoints and previews
    kerasi2i train cyclegan --data PATH ...        unpaired training (CycleGAN)
    kerasi2i translate --model M.keras --input F   translate images of any size
    kerasi2i translate --model RUN/ --direction BtoA ...   a CycleGAN run, either way
    kerasi2i export --model M.keras --format tflite --quantize float16 --output M.tflite
    kerasi2i serve --model M.keras [--port 7860]   a local web page to try the model (a paint
                                                   canvas for a labels->photo facades model)
    kerasi2i evaluate --model M.keras --data PATH  L1, PSNR, SSIM, MS-SSIM (+ FID/KID) on a split

Exit codes: 0 done; 2 an error (the message names the file or option); 3 `translate`
finished but skipped some inputs (each is reported; the others were written).
"""
import argparse
import os
import sys
from pathlib import Path

# TensorFlow's C++ log lines (oneDNN notices, "could not find cuda drivers", cuInit
# errors, remapper messages) are noise on a user's terminal: keep them quiet unless the
# user asked for them (TF_CPP_MIN_LOG_LEVEL set) or passed --debug. Set before TF loads.
_QUIET_TF = "TF_CPP_MIN_LOG_LEVEL" not in os.environ and "--debug" not in sys.argv[1:]
if _QUIET_TF:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _import_tensorflow_quietly():
    """Import TensorFlow with the process's stderr (file descriptor 2) sent to /dev/null.

    TensorFlow 2.21 writes its start-up lines through absl before its logging is set up,
    and TF_CPP_MIN_LOG_LEVEL does not reach them; only the file descriptor does. Python
    exceptions are unaffected: stderr is restored before anything is raised or printed.
    """
    if "tensorflow" in sys.modules:
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (embedded, captured)
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        import tensorflow  # noqa: F401
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)

EXIT_ERROR = 2
EXIT_SKIPPED = 3  # translate: some inputs were skipped (the rest were written)


def _add_on_bad(parser):
    parser.add_argument("--on-bad", default="raise", choices=["raise", "skip"],
                        help="an unreadable or undecodable image: stop with its name (raise, default) or leave it "
                             "out with a warning (skip)")


def _pixels(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of pixels, got {text}")
    return value


def _add_data_commands(sub):
    data = sub.add_parser("data", help="build or look at datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    build = dsub.add_parser("build", help="build the bundled sample datasets (offline, deterministic)")
    build.add_argument("--tasks", nargs="*", help="sample tasks (default: all)")
    build.add_argument("--sizes", nargs="*", type=int, help="image sizes (default: 64 128 256)")
    build.add_argument("--force", action="store_true", help="rebuild even if present")
    show = dsub.add_parser("show", help="save a preview grid of a dataset")
    show.add_argument("name", help="a bundled sample task (e.g. edges2photo) or a dataset folder")
    show.add_argument("--size", type=int, default=64, help="sample size / image size (default 64)")
    show.add_argument("--split", default="train", help="split to show (default train)")
    show.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"])
    show.add_argument("--count", type=int, default=6, help="number of rows (default 6)")
    show.add_argument("--output", default=None, help="PNG path (default <name>_preview.png)")


def _add_train_commands(sub):
    train = sub.add_parser("train", help="train a model")
    tsub = train.add_subparsers(dest="method", required=True)
    p = tsub.add_parser("pix2pix", help="paired translation (Isola et al. 2017)")
    p.add_argument("--data", required=True, help="dataset folder (any paired layout) or sample:NAME")
    p.add_argument("--output", required=True, help="folder for checkpoints, previews and the final model")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"])
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--load-size", type=int, default=None, help="size before the random crop (default size*286/256)")
    p.add_argument("--preprocess", default="resize_and_crop")
    p.add_argument("--input-channels", type=int, default=3, choices=[1, 3])
    p.add_argument("--output-channels", type=int, default=3, choices=[1, 3])
    p.add_argument("--epochs", type=int, default=100, help="epochs at the initial learning rate (default 100)")
    p.add_argument("--epochs-decay", type=int, default=100, help="epochs of linear decay to zero (default 100)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--base-filters", type=int, default=64)
    p.add_argument("--norm", default="batch", choices=["batch", "instance", "none"])
    p.add_argument("--receptive-field", type=int, default=70, choices=[1, 16, 70, 286])
    p.add_argument("--upsampling", default="transpose", choices=["transpose", "resize"])
    p.add_argument("--gan-loss", default="vanilla", choices=["vanilla", "lsgan", "hinge"])
    p.add_argument("--lambda-l1", type=float, default=100.0)
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap on steps per epoch")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --output (the settings must match its config.json)")
    _add_on_bad(p)
    p.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    p.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPUs)")
    p.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs to OUTPUT/logs")
    p.add_argument("--keep-best", default=None, metavar="METRIC",
                   help="end with the weights of the best epoch on validation, e.g. val_l1")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multi-worker", "tpu"],
                   help="tf.distribute strategy: mirrored = all local GPUs (kerasi2i.distribute)")

    c = tsub.add_parser("cyclegan", help="unpaired translation (Zhu et al. 2017)")
    c.add_argument("--data", required=True,
                   help="CycleGAN folder (trainA/ trainB/ testA/ testB/), sample:day2night or tfds:NAME")
    c.add_argument("--output", required=True, help="folder for checkpoints, previews and the two generators")
    c.add_argument("--image-size", type=int, default=256)
    c.add_argument("--load-size", type=int, default=None, help="size before the random crop (default size*286/256)")
    c.add_argument("--preprocess", default="resize_and_crop")
    c.add_argument("--epochs", type=int, default=100, help="epochs at the initial learning rate (default 100)")
    c.add_argument("--epochs-decay", type=int, default=100, help="epochs of linear decay to zero (default 100)")
    c.add_argument("--batch-size", type=int, default=1)
    c.add_argument("--lr", type=float, default=2e-4)
    c.add_argument("--generator", default="resnet", choices=["resnet", "unet"])
    c.add_argument("--n-blocks", type=int, default=None,
                   help="residual blocks of the resnet generators (default 9 at 256 px and above, 6 below)")
    c.add_argument("--base-filters", type=int, default=64)
    c.add_argument("--norm", default="instance", choices=["batch", "instance", "none"])
    c.add_argument("--receptive-field", type=int, default=70, choices=[1, 16, 70, 286])
    c.add_argument("--gan-loss", default="lsgan", choices=["vanilla", "lsgan", "hinge"])
    c.add_argument("--lambda-cycle", type=float, default=10.0, help="weight of each cycle loss (default 10)")
    c.add_argument("--lambda-identity", type=float, default=0.5,
                   help="identity loss weight relative to --lambda-cycle (default 0.5; 0 disables)")
    c.add_argument("--pool-size", type=int, default=50, help="image pool per discriminator (default 50; 0 disables)")
    c.add_argument("--steps-per-epoch", type=int, default=None, help="cap on steps per epoch")
    c.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --output (the settings must match its config.json)")
    _add_on_bad(c)
    c.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    c.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPUs)")
    c.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs to OUTPUT/logs")
    c.add_argument("--seed", type=int, default=None)


def _add_translate_command(sub):
    t = sub.add_parser("translate", help="translate an image or a folder of images")
    t.add_argument("--model", required=True,
                   help="a generator saved as .keras (e.g. OUTPUT/generator.keras), or a training output folder")
    t.add_argument("--input", required=True, help="an image file or a folder of images")
    t.add_argument("--output", required=True, help="folder for the translated PNGs")
    t.add_argument("--fit", default="resize", choices=["resize", "pad"],
                   help="resize (squash to the model size) or pad (keep the aspect ratio)")
    t.add_argument("--direction", default=None, choices=["AtoB", "BtoA"],
                   help="for a CycleGAN output folder: use generator_AtoB.keras (default) or generator_BtoA.keras")
    t.add_argument("--overwrite", action="store_true",
                   help="replace existing files in --output (default: refuse, writing nothing); inputs are "
                        "never overwritten")
    t.add_argument("--max-pixels", type=_pixels, default=None,
                   help="skip images larger than this many pixels, width x height, without decoding them "
                        "(default: kerasi2i.data.checks.MAX_PIXELS, 40 million)")


def _add_demo_command(sub):
    d = sub.add_parser("demo", help="train a small pix2pix on a bundled sample and score it (a few CPU minutes)")
    d.add_argument("--task", default=None, help="bundled paired task (default: facades, labels -> photo)")
    d.add_argument("--image-size", type=int, default=128, choices=(64, 128, 256), help="image size in pixels")
    d.add_argument("--epochs", type=int, default=None)
    d.add_argument("--epochs-decay", type=int, default=None)
    d.add_argument("--output", default="kerasi2i_demo")
    d.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes")


def _add_deploy_commands(sub):
    e = sub.add_parser("export", help="export a generator as a SavedModel or TFLite (uint8 in, uint8 out)")
    e.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    e.add_argument("--format", default="savedmodel", choices=["savedmodel", "tflite"])
    e.add_argument("--quantize", default="none", choices=["none", "float16", "dynamic"],
                   help="TFLite weight quantization (default none: float32)")
    e.add_argument("--output", required=True, help="SavedModel folder or .tflite file to write")
    s = sub.add_parser("serve", help="a local web page to try a generator (127.0.0.1 by default)")
    s.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; another prints a warning)")
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the page may be opened by, besides the --host address (repeatable)")
    s.add_argument("--samples", default=None,
                   help="folder of images or sample:NAME to offer (default: the training run's test inputs)")
    s.add_argument("--fit", default="resize", choices=["resize", "pad"])
    s.add_argument("--max-pixels", type=_pixels, default=None,
                   help="refuse uploads larger than this many pixels, width x height, without decoding them "
                        "(default: kerasi2i.data.checks.MAX_PIXELS, 40 million)")
    s.add_argument("--canvas", default="auto", choices=["auto", "facades", "none"],
                   help="a paint canvas of label classes: auto (for a labels->photo facades run, from its "
                        "config.json), facades, or none (the upload page)")


def _add_evaluate_command(sub):
    v = sub.add_parser("evaluate", help="score a generator on a paired dataset split (L1, PSNR, SSIM, FID, ...)")
    v.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    v.add_argument("--data", required=True, help="paired dataset folder, or sample:NAME")
    v.add_argument("--split", default="test")
    v.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"])
    v.add_argument("--image-size", type=int, default=None, help="default: the generator's input size")
    v.add_argument("--batch-size", type=int, default=8)
    v.add_argument("--fid-weights", default=None,
                   help="InceptionV3 no-top weights file for FID/KID (default: the Keras cache, if there)")
    v.add_argument("--json", default=None, help="also write the scores to this JSON file")
    _add_on_bad(v)


def _evaluate(args):
    from kerasi2i.evaluation import run_evaluation

    run_evaluation(args.model, args.data, split=args.split, direction=args.direction, image_size=args.image_size,
                   fid_weights=args.fid_weights, json_path=args.json, batch_size=args.batch_size,
                   on_bad=args.on_bad)


def build_parser():
    parser = argparse.ArgumentParser(prog="kerasi2i", description="Image-to-image translation in Keras 3.")
    from kerasi2i import __version__

    parser.add_argument("--version", action="version", version=f"kerasi2i {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show TensorFlow's log lines, and a full traceback instead of a one-line error")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo_command(sub)
    _add_data_commands(sub)
    _add_train_commands(sub)
    _add_translate_command(sub)
    _add_deploy_commands(sub)
    _add_evaluate_command(sub)
    return parser


def _data(args):
    from kerasi2i import data as kdata

    if args.data_command == "build":
        root = kdata.build_samples(tasks=args.tasks or None, sizes=args.sizes or None, force=args.force, verbose=True)
        print(f"Sample datasets are in {root}")
        return
    import numpy as np

    from kerasi2i.viz import save_grid

    if args.name in kdata.SAMPLE_TASKS:
        path = kdata.sample_path(args.name, args.size)
    else:
        path = Path(args.name)
        if not path.exists():
            raise ValueError(f"'{args.name}' does not exist: it is neither a folder nor a bundled sample task "
                             f"({', '.join(kdata.SAMPLE_TASKS)}).")
    layout, _ = kdata.detect_layout(path)
    if layout == "cyclegan":
        ds = kdata.load_unpaired(path, args.split, image_size=args.size, batch_size=args.count, training=False)
    else:
        ds = kdata.load_paired(path, args.split, image_size=args.size, batch_size=args.count,
                               direction=args.direction, training=False)
    a, b = (np.asarray(t) for t in next(iter(ds)))
    out = Path(args.output or f"{Path(args.name).name}_preview.png")
    save_grid(out, [a, b])
    print(f"{layout} dataset '{path}': saved {len(a)} rows (left: input, right: target) to {out}")


def _train(args):
    import keras

    from kerasi2i.train import train_cyclegan, train_pix2pix

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.method == "cyclegan":
        train_cyclegan(
            args.data, args.output, image_size=args.image_size, load_size=args.load_size,
            preprocess=args.preprocess, epochs=args.epochs, epochs_decay=args.epochs_decay,
            batch_size=args.batch_size, learning_rate=args.lr, generator=args.generator, n_blocks=args.n_blocks,
            base_filters=args.base_filters, norm=args.norm, receptive_field=args.receptive_field,
            gan_loss=args.gan_loss, lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity,
            pool_size=args.pool_size, steps_per_epoch=args.steps_per_epoch, resume=args.resume,
            jit_compile=args.jit, tensorboard=args.tensorboard, seed=args.seed, on_bad=args.on_bad,
        )
        return
    train_pix2pix(
        args.data, args.output, direction=args.direction, image_size=args.image_size, load_size=args.load_size,
        preprocess=args.preprocess, input_channels=args.input_channels, output_channels=args.output_channels,
        epochs=args.epochs, epochs_decay=args.epochs_decay, batch_size=args.batch_size, learning_rate=args.lr,
        base_filters=args.base_filters, norm=args.norm, receptive_field=args.receptive_field,
        upsampling=args.upsampling, gan_loss=args.gan_loss, lambda_l1=args.lambda_l1,
        steps_per_epoch=args.steps_per_epoch, resume=args.resume, jit_compile=args.jit,
        tensorboard=args.tensorboard, keep_best=args.keep_best, seed=args.seed, strategy=args.strategy,
        on_bad=args.on_bad,
    )


def _translate(args):
    from kerasi2i.data.checks import MAX_PIXELS
    from kerasi2i.inference import check_generator, generator_file, load_generator, translate_files

    path = generator_file(args.model, args.direction)
    generator = load_generator(path)
    check_generator(generator, path, fixed_size=True)
    written, failed = translate_files(generator, args.input, args.output, fit=args.fit, overwrite=args.overwrite,
                                      max_pixels=args.max_pixels or MAX_PIXELS)
    if failed:
        print(f"kerasi2i translate: {len(failed)} input(s) skipped (listed above); exit code {EXIT_SKIPPED}.",
              file=sys.stderr)
        return EXIT_SKIPPED
    return 0


def _export(args):
    from kerasi2i.export import export, folder_size
    from kerasi2i.inference import generator_file

    path = export(generator_file(args.model), args.output, format=args.format, quantize=args.quantize)
    print(f"Wrote {path} ({folder_size(path) / 1e6:.1f} MB)")


def _serve(args):
    from kerasi2i.serve import serve

    kwargs = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
    serve(args.model, port=args.port, host=args.host, samples=args.samples, fit=args.fit, canvas=args.canvas,
          allowed_hosts=args.allow_host, **kwargs)


def _demo(args):
    from kerasi2i.demo import DEMO_TASK, run_demo

    kwargs = {"task": args.task or DEMO_TASK, "image_size": args.image_size, "output": args.output,
              "max_minutes": args.max_minutes}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.epochs_decay is not None:
        kwargs["epochs_decay"] = args.epochs_decay
    run_demo(**kwargs)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if _QUIET_TF:
        _import_tensorflow_quietly()
    from kerasi2i.data import DatasetError

    handlers = {"data": _data, "train": _train, "translate": _translate, "demo": _demo, "export": _export,
                "serve": _serve, "evaluate": _evaluate}
    from kerasi2i.evaluation import WeightsUnavailableError

    try:
        return handlers[args.command](args) or 0
    except (DatasetError, FileNotFoundError, FileExistsError, ValueError, WeightsUnavailableError) as err:
        if args.debug:
            raise
        print(f"kerasi2i {args.command}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:  # a folder where a file should be, permissions, a full disk: say which path
        if args.debug:
            raise
        where = f" ('{err.filename}')" if getattr(err, "filename", None) and str(err.filename) not in str(err) else ""
        print(f"kerasi2i {args.command}: error: {type(err).__name__}: {err}{where}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
