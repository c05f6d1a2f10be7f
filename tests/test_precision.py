"""Precision: what `precision="auto"` picks and why, that mixed precision leaves the
objective and the parameter counts alone, and that runs trained in mixed precision save
float32 networks."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasi2i.cli import build_parser
from kerasi2i.models import losses
from kerasi2i.models.pix2pix import build_pix2pix
from kerasi2i.networks.resnet import resnet_generator
from kerasi2i.networks.unet import unet_generator
from kerasi2i.training import make_config, precision, train
from tests.test_pix2pix import make_paired

BF16 = {"avx512_bf16"}


@pytest.fixture
def policy_restored():
    previous = keras.mixed_precision.dtype_policy()
    yield
    keras.mixed_precision.set_dtype_policy(previous)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\nbugs\t\t: none\n")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "sse", "avx512f", "avx512_bf16", "amx_tile"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()
    assert precision.native_bfloat16({"avx512_bf16"}) and precision.native_bfloat16({"amx_bf16"})
    assert not precision.native_bfloat16({"avx512f", "avx2"})


def test_auto_picks_bfloat16_only_where_measured_and_native():
    assert precision.resolve_precision("auto", "pix2pix", flags=BF16, gpu=False) == \
        ("mixed_bfloat16", "auto: this CPU has native bfloat16 arithmetic")
    policy, reason = precision.resolve_precision("auto", "pix2pix", flags={"avx2"}, gpu=False)
    assert policy == "float32" and "no native bfloat16" in reason
    policy, reason = precision.resolve_precision("auto", "pix2pix", flags=BF16, gpu=True)
    assert policy == "float32" and "GPU" in reason
    for method in ("cyclegan", "bicyclegan", "vae", "regression"):
        policy, reason = precision.resolve_precision("auto", method, flags=BF16, gpu=False)
        assert policy == "float32" and f"not been measured for {method}" in reason
    # An explicit precision is used as given, on any machine.
    assert precision.resolve_precision("mixed_float16", "cyclegan", flags=set(), gpu=False)[0] == "mixed_float16"
    assert precision.resolve_precision("float32", "pix2pix", flags=BF16, gpu=False)[0] == "float32"
    with pytest.raises(ValueError, match="precision must be one of auto, float32, mixed_bfloat16, mixed_float16"):
        precision.resolve_precision("bf16", "pix2pix")


def test_config_and_cli_carry_the_option():
    config = make_config("pix2pix", data="d", output="o")
    assert config.precision == "auto" and "precision" in config.resume_may_change()
    args = build_parser().parse_args(["train", "pix2pix", "--data", "d", "--output", "o", "--precision", "float32"])
    assert args.precision == "float32"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "pix2pix", "--data", "d", "--output", "o", "--precision", "half"])
    assert build_parser().parse_args(["demo", "--precision", "float32"]).precision == "float32"
    assert build_parser().parse_args(["demo"]).precision == "auto"
    # the older switch still means mixed_float16, and contradicting it is an error
    assert precision.training_policy(make_config("cyclegan", mixed_precision=True)) == \
        ("mixed_float16", "--mixed-precision")
    with pytest.raises(ValueError, match="contradicts --precision float32"):
        precision.training_policy(make_config("cyclegan", mixed_precision=True, precision="float32"))


def test_losses_are_float32_whatever_the_inputs():
    rng = np.random.default_rng(0)
    real, fake = (rng.normal(size=(2, 8, 8, 1)).astype("float32") for _ in range(2))
    for mode in losses.GAN_LOSSES:
        d32 = float(losses.discriminator_loss(real, fake, mode))
        d16 = losses.discriminator_loss(tf.cast(real, "bfloat16"), tf.cast(fake, "bfloat16"), mode)
        g16 = losses.generator_loss(tf.cast(fake, "bfloat16"), mode)
        assert d16.dtype == "float32" and g16.dtype == "float32", mode
        # the only difference left is the rounding of the logits to bfloat16
        assert float(d16) == pytest.approx(d32, rel=2e-2), mode
    l1 = losses.l1_loss(tf.constant(real), tf.cast(fake, "bfloat16"))
    assert l1.dtype == "float32" and float(l1) == pytest.approx(float(np.abs(real - fake).mean()), rel=1e-2)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_generators_output_float32_with_the_same_parameters(policy, policy_restored):
    builders = {"unet": lambda: unet_generator((32, 32, 3), base_filters=8),
                "residual unet": lambda: unet_generator((32, 32, 3), base_filters=8, residual=True),
                "resnet": lambda: resnet_generator((32, 32, 3), base_filters=8, n_blocks=1)}
    for name, build in builders.items():
        keras.mixed_precision.set_dtype_policy("float32")
        reference = build()
        keras.mixed_precision.set_dtype_policy(policy)
        mixed = build()
        assert mixed.count_params() == reference.count_params(), name
        assert precision.uses_mixed_policy(mixed) and not precision.uses_mixed_policy(reference), name
        out = mixed(np.zeros((1, 32, 32, 3), "float32"))
        assert out.dtype == "float32", name


def test_only_dtype_policies_are_rewritten():
    config = {"name": "mixed_features", "dtype": "mixed_bfloat16", "layers": [
        {"config": {"name": "mixed_1", "dtype": {"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}}}]}
    assert precision._with_float32_policies(config) == {"name": "mixed_features", "dtype": "float32", "layers": [
        {"config": {"name": "mixed_1", "dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}}}}]}


def test_as_float32_keeps_the_weights_and_drops_the_policy(policy_restored, tmp_path):
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    model = build_pix2pix(32, base_filters=8)
    keras.mixed_precision.set_dtype_policy("float32")
    generator = model.generator
    copy = precision.as_float32(generator)
    assert copy is not generator and not precision.uses_mixed_policy(copy)
    assert all(layer.dtype_policy.name == "float32" for layer in precision._layers(copy))
    assert [layer.name for layer in copy.layers] == [layer.name for layer in generator.layers]
    for a, b in zip(generator.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    # the same network: its bfloat16 and float32 outputs differ by rounding only
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(generator(x)), atol=0.05)
    assert precision.as_float32(copy) is copy  # already float32: returned as is
    copy.save(tmp_path / "g.keras")
    assert not precision.uses_mixed_policy(keras.saving.load_model(tmp_path / "g.keras"))


@pytest.mark.slow
def test_a_bfloat16_run_trains_and_saves_a_float32_generator(tmp_path, policy_restored):
    data = make_paired(tmp_path / "pairs", n_train=4, n_val=2, size=32)
    keras.mixed_precision.set_dtype_policy("float32")
    model, history = train("pix2pix", str(data), tmp_path / "run", image_size=32, epochs=2, epochs_decay=0,
                           batch_size=2, seed=0, verbose=0, base_filters=8, precision="mixed_bfloat16")
    assert precision.uses_mixed_policy(model.generator)  # it trained in bfloat16 ...
    assert keras.mixed_precision.dtype_policy().name == "float32"  # ... and left the global policy alone
    assert all(np.isfinite(v).all() for v in history.history.values())
    saved = keras.saving.load_model(tmp_path / "run" / "generator.keras")
    assert not precision.uses_mixed_policy(saved)  # ... and saved a float32 network
    for a, b in zip(model.generator.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "mixed_bfloat16"
    # resuming under another precision is allowed (the weights are float32 either way)
    train("pix2pix", str(data), tmp_path / "run", image_size=32, epochs=3, epochs_decay=0, batch_size=2, seed=0,
          verbose=0, base_filters=8, precision="float32", resume=True)
    assert not precision.uses_mixed_policy(keras.saving.load_model(tmp_path / "run" / "generator.keras"))
