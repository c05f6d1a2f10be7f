"""Which numeric precision a training run uses, and float32 copies of what it saves.

``precision="auto"`` (every config's default, ``--precision`` on the command line) picks
the fastest precision that has been shown to train *this method* as well as float32 on
*this kind of machine*:

- ``mixed_bfloat16`` for the methods in ``BFLOAT16_MEASURED`` when TensorFlow runs on a
  CPU with native bfloat16 arithmetic (the ``avx512_bf16`` or ``amx_bf16`` flag in
  ``/proc/cpuinfo``) and sees no GPU. On such a CPU the pix2pix step runs 1.3-1.5x faster
  than in float32, and on two bundled tasks (the facades over four seeds, denoising over
  two) its held-out L1, PSNR, SSIM and FCN scores were within the seed spread of
  float32's (``benchmarks/pix2pix_step.py`` and ``benchmarks/bf16_quality.py``; the
  figures are in ``benchmarks/README.md``).
- ``float32`` everywhere else: CPUs without native bfloat16 (emulated bfloat16 is slower
  than float32), GPUs (where ``mixed_float16`` is the usual choice but nothing has been
  measured here: pass it explicitly) and the methods whose quality under bfloat16 has not
  been measured.

Mixed precision keeps the weights and the optimizer in float32 and computes the layers in
the lower precision; kerasi2i's generators end in a float32 ``tanh`` and its losses are
computed in float32, so the objective is the same (`tests/test_precision.py`).

Networks trained under a mixed policy remember it when saved, so ``train()`` saves float32
copies (``as_float32``): a ``generator.keras`` written on a bfloat16 CPU loads, exports and
translates the same way on any machine. The model ``train()`` returns still computes in
the run's precision (its outputs differ from the saved file's by bfloat16 rounding, about
1e-4 on an untrained U-Net); ``as_float32(model.generator)`` is the saved network.
"""
import functools
from pathlib import Path

import keras

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

# Methods whose training quality under mixed bfloat16 was measured equal to float32's
# (benchmarks/bf16_quality.py). Another method joins when the same has been shown for it.
BFLOAT16_MEASURED = frozenset({"pix2pix"})


@functools.cache
def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags the kernel reports (an empty set where it does not: not Linux)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bfloat16(flags=None):
    """Whether the CPU does bfloat16 arithmetic in hardware (AVX512_BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def _gpu_visible():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision="auto", method=None, *, flags=None, gpu=None):
    """The Keras dtype policy name a run with `precision` uses for `method` (a registered
    name such as "pix2pix"), and why: ``(policy, reason)``. See the module docstring."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; received {precision!r}.")
    if precision != "auto":
        return precision, "asked for"
    if keras.backend.backend() != "tensorflow":
        return "float32", f"auto: measured on TensorFlow only, this is {keras.backend.backend()}"
    if method not in BFLOAT16_MEASURED:
        return "float32", f"auto: bfloat16 training quality has not been measured for {method}"
    if _gpu_visible() if gpu is None else gpu:
        return "float32", "auto: a GPU is visible (pass --precision mixed_float16 to use it; not measured here)"
    if not native_bfloat16(flags):
        return "float32", "auto: this CPU has no native bfloat16 arithmetic"
    return "mixed_bfloat16", "auto: this CPU has native bfloat16 arithmetic"


def training_policy(config):
    """``(policy, reason)`` for a training config (its ``precision`` and the older
    ``mixed_precision`` switch, which means mixed_float16)."""
    if getattr(config, "mixed_precision", False):
        if config.precision not in ("auto", "mixed_float16"):
            raise ValueError(f"--mixed-precision (mixed_float16) contradicts --precision {config.precision}; "
                             "give one of them.")
        return "mixed_float16", "--mixed-precision"
    return resolve_precision(config.precision, config.MODEL)


def _with_float32_policies(value):
    """A copy of a serialized config with every mixed dtype policy (a serialized
    ``DTypePolicy``, or a policy name under a ``dtype`` key) replaced by float32."""
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" and isinstance(value.get("config"), dict):
            name = value["config"].get("name", "")
            if name.startswith("mixed_"):
                return {**value, "config": {**value["config"], "name": "float32"}}
        return {key: "float32" if key == "dtype" and isinstance(item, str) and item.startswith("mixed_")
                else _with_float32_policies(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_float32_policies(item) for item in value]
    return value


def _layers(model):
    """`model` and every layer in it, nested models included."""
    yield model
    for layer in getattr(model, "layers", ()):
        yield from _layers(layer)


def uses_mixed_policy(model):
    """Whether any layer of `model` (nested models included) computes in lower precision."""
    return any(getattr(layer, "dtype_policy", None) is not None and layer.dtype_policy.name.startswith("mixed_")
               for layer in _layers(model))


def as_float32(model):
    """`model` itself if it is all float32, else a float32 copy with the same weights (the
    variables of a mixed-precision model are float32 already, so nothing is rounded)."""
    if not uses_mixed_policy(model):
        return model
    config = keras.saving.serialize_keras_object(model)
    copy = keras.saving.deserialize_keras_object(_with_float32_policies(config))
    copy.set_weights(model.get_weights())
    return copy


def describe_policy(policy):
    """One line for logs: what the policy computes in."""
    if policy == "float32":
        return "float32"
    return f"{policy} (layers compute in {policy.split('_', 1)[1]}, weights and losses stay float32)"

