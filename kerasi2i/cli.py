"""The `kerasi2i` command (also `python -m kerasi2i`).

    kerasi2i demo                                  train a small pix2pix on bundled data
    kerasi2i data build                            build the bundled sample datasets
    kerasi2i data build --tasks painted            photos and facades as paintings (style transfer)
    kerasi2i data show NAME                        save a preview grid of a dataset
    kerasi2i train pix2pix --data PATH ...         train with checkpoints and previews
    kerasi2i train cyclegan --data PATH ...        unpaired training (CycleGAN); also bicyclegan,
                                                   regression, vae (kerasi2i.models.registry)
    kerasi2i train --config RUN/config.json        train again with a saved run's settings
    kerasi2i translate --model M.keras --input F   translate images of any size
    kerasi2i translate --model RUN/ --direction BtoA ...   a CycleGAN run, either way
    kerasi2i export --model M.keras --format tflite --quantize float16 --output M.tflite
    kerasi2i serve --model M.keras [--port 7860]   a local web page to try the model (a paint
                                                   canvas for a labels->photo facades model)
    kerasi2i evaluate --model M.keras --data PATH  L1, PSNR, SSIM, MS-SSIM (+ FID/KID) on a split
    kerasi2i evaluate --segmenter facades --model RUN/ --data sample:facades_day2night
                                                   domain adaptation: segment night, night -> day
                                                   and day (lower bound, adapted, upper bound)

Exit codes: 0 done; 1 an error while running (the message names the file or option); 2 a
usage error (a wrong or missing option); 3 `translate` finished but skipped some inputs
(each is reported; the others were written).
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

EXIT_ERROR = 1    # a runtime error: the message names the file or option
EXIT_USAGE = 2    # a usage error (argparse's code): a wrong or missing option
EXIT_SKIPPED = 3  # translate: some inputs were skipped (the rest were written)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows every option's default, without "(default: None)" noise."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class _UsageError(Exception):
    """A command line that cannot run as given (exit code 2, as argparse's own errors)."""


def _setup_logging(debug=False):
    """Show the library's log messages (the kerasi2i.* loggers) as plain lines: info on
    stdout, warnings and errors on stderr."""
    import logging

    class StreamAtEmit(logging.StreamHandler):
        """Writes to whatever sys.stdout / sys.stderr is when a message is logged."""

        def __init__(self, name):
            super().__init__()
            self.stream_name = name

        @property
        def stream(self):
            return getattr(sys, self.stream_name)

        @stream.setter
        def stream(self, value):
            pass

    logger = logging.getLogger("kerasi2i")
    if not any(getattr(h, "_kerasi2i_cli", False) for h in logger.handlers):
        out, err = StreamAtEmit("stdout"), StreamAtEmit("stderr")
        out.addFilter(lambda record: record.levelno < logging.WARNING)
        err.setLevel(logging.WARNING)
        for handler in (out, err):
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler._kerasi2i_cli = True
            logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


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
    data = sub.add_parser("data", formatter_class=_Formatter, help="build or look at datasets")
    dsub = data.add_subparsers(dest="data_command", required=True)
    build = dsub.add_parser("build", formatter_class=_Formatter, help="build the bundled sample datasets (offline, deterministic)")
    build.add_argument("--tasks", nargs="*",
                       help="sample tasks (default: all), e.g. painted: photos and facades as paintings, for style "
                            "transfer with ground truth (built from facades and colorization)")
    build.add_argument("--sizes", nargs="*", type=int, help="image sizes (default: 64 128 256)")
    build.add_argument("--force", action="store_true", help="rebuild even if present")
    show = dsub.add_parser("show", formatter_class=_Formatter, help="save a preview grid of a dataset")
    show.add_argument("name", help="a bundled sample task (e.g. edges2photo) or a dataset folder")
    show.add_argument("--size", type=int, default=64, help="sample size / image size (default 64)")
    show.add_argument("--split", default="train", help="split to show (default train)")
    show.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"],
                      help="for a paired dataset: which side is shown as the input")
    show.add_argument("--count", type=int, default=6, help="number of rows (default 6)")
    show.add_argument("--output", default=None, help="PNG path (default <name>_preview.png)")


def _add_train_commands(sub):
    """`kerasi2i train NAME`, one command per registered method, each option generated
    from the method's config dataclass (kerasi2i.training.config), plus `--config`."""
    from kerasi2i.models import registry
    from kerasi2i.training.config import add_arguments

    train = sub.add_parser(
        "train", help="train a model (one command per method; --config RUN/config.json re-runs a saved run)",
        formatter_class=_Formatter,
        description="Train a model. Every option has a default (shown); a run's config.json holds them all, and "
                    "`kerasi2i train --config RUN/config.json [--resume] [--epochs N ...]` reloads it.")
    train.add_argument("--config", default=None, metavar="CONFIG_JSON",
                       help="a run's config.json: train with its settings (options given after it override them)")
    tsub = train.add_subparsers(dest="method", metavar="MODEL", required=False)
    for name in registry.names():
        config_class = registry.get(name)
        p = tsub.add_parser(name, help=config_class.SUMMARY, formatter_class=_Formatter,
                            description=f"{name}: {config_class.SUMMARY}. {_first_line(config_class.__doc__)}")
        add_arguments(p, config_class)


def _first_line(text):
    return " ".join((text or "").strip().split("\n\n")[0].split())


def _add_translate_command(sub):
    t = sub.add_parser("translate", formatter_class=_Formatter, help="translate an image or a folder of images")
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
    t.add_argument("--test-mode", default=None, choices=["eval", "paper"],
                   help="eval: dropout off, batch norm's running statistics; paper: dropout and batch statistics "
                        "on, as the pix2pix paper tests (default: the training run's --test-mode, else eval)")
    t.add_argument("--max-pixels", type=_pixels, default=None,
                   help="skip images larger than this many pixels, width x height, without decoding them "
                        "(default: kerasi2i.data.checks.MAX_PIXELS, 40 million)")


def _add_demo_command(sub):
    from kerasi2i.training.precision import PRECISIONS

    d = sub.add_parser("demo", formatter_class=_Formatter, help="train a small pix2pix on a bundled sample and score it (a few CPU minutes)")
    d.add_argument("--task", default=None, help="bundled paired task (default: facades, labels -> photo)")
    d.add_argument("--image-size", type=int, default=128, choices=(64, 128, 256), help="image size in pixels")
    d.add_argument("--epochs", type=int, default=None,
                   help="epochs at the constant learning rate (default: the demo's 3)")
    d.add_argument("--epochs-decay", type=int, default=None,
                   help="epochs of linear decay to zero (default: the demo's 3)")
    d.add_argument("--output", default="kerasi2i_demo", help="folder for the run, the grid and scores.json")
    d.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes")
    d.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="numeric precision (auto: mixed bfloat16 on CPUs with native bfloat16, else float32)")


def _add_deploy_commands(sub):
    e = sub.add_parser("export", formatter_class=_Formatter, help="export a generator as a SavedModel or TFLite (uint8 in, uint8 out)")
    e.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    e.add_argument("--format", default="savedmodel", choices=["savedmodel", "tflite"], help="what to write")
    e.add_argument("--quantize", default="none", choices=["none", "float16", "dynamic"],
                   help="TFLite weight quantization (default none: float32). float16: half the size; dynamic: int8 "
                        "weights, a quarter of the size, but far slower on x86 CPUs for generators with "
                        "transposed convolutions (the default U-Net), so a size option, not a speed one")
    e.add_argument("--output", required=True, help="SavedModel folder or .tflite file to write")
    s = sub.add_parser("serve", formatter_class=_Formatter, help="a local web page to try a generator (127.0.0.1 by default)")
    s.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    s.add_argument("--port", type=int, default=7860, help="TCP port of the page")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; another prints a warning)")
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the page may be opened by, besides the --host address (repeatable)")
    s.add_argument("--samples", default=None,
                   help="folder of images or sample:NAME to offer (default: the training run's test inputs)")
    s.add_argument("--fit", default="resize", choices=["resize", "pad"],
                   help="resize uploads to the model size (resize) or keep their aspect ratio (pad)")
    s.add_argument("--max-pixels", type=_pixels, default=None,
                   help="refuse uploads larger than this many pixels, width x height, without decoding them "
                        "(default: kerasi2i.data.checks.MAX_PIXELS, 40 million)")
    s.add_argument("--canvas", default="auto", choices=["auto", "facades", "none"],
                   help="a paint canvas of label classes: auto (for a labels->photo facades run, from its "
                        "config.json), facades, or none (the upload page)")


def _add_evaluate_command(sub):
    v = sub.add_parser("evaluate", formatter_class=_Formatter, help="score a generator on a paired dataset split (L1, PSNR, SSIM, FID, ...)")
    v.add_argument("--model", required=True, help="a generator .keras file, or a training output folder")
    v.add_argument("--data", required=True, help="paired dataset folder, or sample:NAME")
    v.add_argument("--split", default="test", help="the split to score (test, val, ...)")
    v.add_argument("--direction", default=None, choices=["AtoB", "BtoA"],
                   help="which side of a pair is the input (default AtoB; with --segmenter BtoA: testB, the "
                        "target domain, translated to A, the segmenter's domain)")
    v.add_argument("--segmenter", default=None,
                   help="score the translation by a segmenter instead, as domain adaptation is scored (CyCADA): "
                        "'facades' (the bundled facade segmenter, trained on day photos) or a segmenter .keras file; "
                        "--data is then a CycleGAN-layout folder whose testA/ and testB/ show the same scenes")
    v.add_argument("--labels", default=None,
                   help="with --segmenter: a folder of painted label maps of the test scenes, in file order "
                        "(default: rendered for a procedural-facades sample)")
    v.add_argument("--image-size", type=int, default=None, help="default: the generator's input size")
    v.add_argument("--batch-size", type=int, default=8, help="images per batch")
    v.add_argument("--fid-weights", default=None,
                   help="InceptionV3 no-top weights file for FID/KID (default: the Keras cache, if there)")
    v.add_argument("--json", default=None, help="also write the scores to this JSON file")
    v.add_argument("--test-mode", default=None, choices=["eval", "paper"],
                   help="eval or paper (as for translate; default: the training run's --test-mode, else eval)")
    _add_on_bad(v)


def _evaluate(args):
    if args.segmenter is not None:
        from kerasi2i.evaluation.adaptation import evaluate_adaptation

        evaluate_adaptation(args.model, args.data, segmenter=args.segmenter, direction=args.direction or "BtoA",
                            labels=args.labels, json_path=args.json)
        return
    if args.labels is not None:
        raise _UsageError("evaluate: --labels goes with --segmenter")
    from kerasi2i.evaluation import run_evaluation

    run_evaluation(args.model, args.data, split=args.split, direction=args.direction or "AtoB",
                   image_size=args.image_size,
                   fid_weights=args.fid_weights, json_path=args.json, batch_size=args.batch_size,
                   on_bad=args.on_bad, test_mode=args.test_mode)


def build_parser():
    parser = argparse.ArgumentParser(prog="kerasi2i", description="Image-to-image translation in Keras 3.",
                                     formatter_class=_Formatter)
    from kerasi2i import __version__

    parser.add_argument("--version", action="version", version=f"kerasi2i {__version__}",
                        help="print the version and exit")
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

    from kerasi2i.imaging import save_grid

    if args.name in kdata.SAMPLE_TASKS + kdata.samples.DERIVED_TASKS:
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


def _config_argv(argv):
    """`train --config FILE [options]` as `train --config FILE MODEL [options]`, MODEL read
    from FILE, so that the options parse with that model's parser. Returns the new argv
    and the options given after the file (None when the command is not of that form)."""
    if "train" not in argv:
        return argv, None
    i = argv.index("train")
    rest = argv[i + 1:]
    config, others = None, []
    k = 0
    while k < len(rest):
        token = rest[k]
        if token == "--config" and k + 1 < len(rest):
            config, k = rest[k + 1], k + 2
            continue
        if token.startswith("--config="):
            config, k = token.split("=", 1)[1], k + 1
            continue
        others.append(token)
        k += 1
    if config is None:
        return argv, None
    from kerasi2i.models import registry

    if others and others[0] in registry.names():
        return argv[:i + 1] + ["--config", config] + others, others[1:]
    try:
        import json

        method = json.loads(Path(config).read_text()).get("method")
    except (OSError, ValueError, AttributeError):
        method = None  # _train_config names the problem
    if method not in registry.names():
        return argv, others
    return argv[:i + 1] + ["--config", config, method] + others, others


def _train_config(args, given_argv):
    """The config a `train` command asks for: the method's options as parsed, or, with
    --config, the saved run's settings with the options given on the command line on top."""
    import argparse
    import dataclasses
    import json

    from kerasi2i.models import registry
    from kerasi2i.training.config import add_arguments

    if args.config is None:
        if args.method is None:
            raise _UsageError(f"train: name a model ({', '.join(registry.names())}) or pass --config RUN/config.json")
        config_class = registry.get(args.method)
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)}
        missing = [f"--{k}" for k in ("data", "output") if values[k] is None]
        if missing:
            raise _UsageError(f"train {args.method}: the following arguments are required: {', '.join(missing)}")
        return config_class(**values)
    path = Path(args.config)
    if not path.is_file():
        raise FileNotFoundError(f"--config: '{path}' does not exist (expected a training run's config.json).")
    try:
        saved = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"--config: '{path}' is not valid JSON ({err}).") from None
    method = saved.get("method") if isinstance(saved, dict) else None
    if method is None:
        raise ValueError(f"--config: '{path}' names no model (no \"method\" key); it is not a kerasi2i run's "
                         "config.json.")
    if args.method is not None and args.method != method:
        raise ValueError(f"--config: '{path}' is a {method} run, not {args.method}.")
    config_class = registry.get(method)
    # Which options were given on the command line: parse them again without defaults.
    given = argparse.ArgumentParser(prog=f"kerasi2i train --config {path}", add_help=False)
    add_arguments(given, config_class, suppress_defaults=True)
    return config_class.from_dict(saved, **vars(given.parse_args(given_argv or [])))


def _train(args, given_argv=None):
    from kerasi2i.training import train

    train(_train_config(args, given_argv))


def _translate(args):
    from kerasi2i.data.checks import MAX_PIXELS
    from kerasi2i.deploy.inference import (
        check_generator,
        generator_file,
        load_generator,
        run_test_mode,
        translate_files,
    )

    path = generator_file(args.model, args.direction)
    generator = load_generator(path)
    check_generator(generator, path, fixed_size=True)
    test_mode = args.test_mode or run_test_mode(path)
    written, failed = translate_files(generator, args.input, args.output, fit=args.fit, overwrite=args.overwrite,
                                      test_mode=test_mode,
                                      max_pixels=args.max_pixels or MAX_PIXELS)
    if failed:
        print(f"kerasi2i translate: {len(failed)} input(s) skipped (listed above); exit code {EXIT_SKIPPED}.",
              file=sys.stderr)
        return EXIT_SKIPPED
    return 0


def _export(args):
    from kerasi2i.deploy.export import export, folder_size
    from kerasi2i.deploy.inference import generator_file

    path = export(generator_file(args.model), args.output, format=args.format, quantize=args.quantize)
    print(f"Wrote {path} ({folder_size(path) / 1e6:.1f} MB)")


def _serve(args):
    from kerasi2i.deploy.serve import serve

    kwargs = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
    serve(args.model, port=args.port, host=args.host, samples=args.samples, fit=args.fit, canvas=args.canvas,
          allowed_hosts=args.allow_host, **kwargs)


def _demo(args):
    from kerasi2i.experiments.demo import DEMO_TASK, run_demo

    kwargs = {"task": args.task or DEMO_TASK, "image_size": args.image_size, "output": args.output,
              "max_minutes": args.max_minutes, "precision": args.precision}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.epochs_decay is not None:
        kwargs["epochs_decay"] = args.epochs_decay
    run_demo(**kwargs)


def main(argv=None):
    if _QUIET_TF:
        _import_tensorflow_quietly()
    parser = build_parser()
    argv, given_after_config = _config_argv(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    _setup_logging(args.debug)
    from kerasi2i.data import DatasetError

    handlers = {"data": _data, "train": _train, "translate": _translate, "demo": _demo, "export": _export,
                "serve": _serve, "evaluate": _evaluate}
    from kerasi2i.evaluation import WeightsUnavailableError

    try:
        if args.command == "train":
            return _train(args, given_after_config) or 0
        return handlers[args.command](args) or 0
    except _UsageError as err:
        parser.print_usage(sys.stderr)
        print(f"kerasi2i: error: {err}", file=sys.stderr)
        return EXIT_USAGE
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
