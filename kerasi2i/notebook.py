"""The teaching notebooks' first cells: what the machine has, and quick or full mode.

Every notebook opens with a setup cell (written by ``tools/notebook_header.py``) that
installs kerasi2i when it is missing and then calls ``report_environment()``, and a MODE
cell that calls ``select_mode()``. The rule, in order:

1. ``KERASI2I_MODE=quick`` or ``full`` in the environment decides;
2. else ``KERASI2I_QUICK=1`` (what CI and ``pytest`` set) forces quick, and
   ``KERASI2I_QUICK=0`` forces full;
3. else full when a GPU is present, quick otherwise.

    from kerasi2i.notebook import report_environment, select_mode
    report_environment()          # kerasi2i / TensorFlow / Keras versions, backend, GPU
    MODE = select_mode()          # prints "mode: quick (...why...)"
"""
import os
import sys

MODES = ("quick", "full")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def gpu_devices():
    """The names of the GPUs TensorFlow sees (an empty list on a CPU-only machine)."""
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def on_colab():
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def choose_mode(environ=None, gpus=None):
    """``(mode, reason)``: "quick" or "full", and why, by the rule in the module docstring.

    Args:
        environ: the environment to read (default ``os.environ``).
        gpus: the GPUs present (a list, or a count); default ``gpu_devices()``, asked only
            when the environment does not decide.
    """
    environ = os.environ if environ is None else environ
    mode = environ.get("KERASI2I_MODE", "").strip().lower()
    if mode:
        if mode not in MODES:
            raise ValueError(f"KERASI2I_MODE must be one of {MODES}, not {environ['KERASI2I_MODE']!r}.")
        return mode, f"KERASI2I_MODE={mode} is set"
    quick = environ.get("KERASI2I_QUICK", "").strip().lower()
    if quick:
        if quick in _TRUE:
            return "quick", f"KERASI2I_QUICK={environ['KERASI2I_QUICK']} is set, as in CI"
        if quick in _FALSE:
            return "full", f"KERASI2I_QUICK={environ['KERASI2I_QUICK']} is set"
        raise ValueError(f"KERASI2I_QUICK must be 1 or 0, not {environ['KERASI2I_QUICK']!r}.")
    if gpus is None:
        gpus = gpu_devices()
    count = gpus if isinstance(gpus, int) else len(gpus)
    if count > 0:
        return "full", f"{count} GPU(s) found; set KERASI2I_MODE=quick for the short CPU run"
    return "quick", "no GPU found; set KERASI2I_MODE=full to run the full setup anyway"


def select_mode(environ=None, gpus=None, verbose=True):
    """The notebook's MODE ("quick" or "full"), printed with the reason when ``verbose``."""
    mode, reason = choose_mode(environ, gpus)
    if verbose:
        print(f"mode: {mode} ({reason})")
    return mode


def report_environment(verbose=True):
    """Versions, backend and GPUs of this kernel, as a dict; printed when ``verbose``."""
    import keras
    import tensorflow as tf

    import kerasi2i

    gpus = gpu_devices()
    report = {
        "kerasi2i": kerasi2i.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "backend": keras.backend.backend(), "gpus": gpus, "colab": on_colab(),
    }
    if verbose:
        print(f"kerasi2i {report['kerasi2i']}, TensorFlow {report['tensorflow']}, Keras {report['keras']}, "
              f"backend {report['backend']}{' (on Colab)' if report['colab'] else ''}")
        print("GPU:", ", ".join(gpus) if gpus else "none (CPU only: quick mode is the default)")
    return report
