"""The shape every model shares: the registry, config dataclasses, one training entry
point, the generated CLI, compile configs that survive saving, mixed precision and
`translate` on every trainer."""
import argparse
import dataclasses
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasi2i.cli import EXIT_ERROR, EXIT_USAGE, build_parser, main
from kerasi2i.models import registry
from kerasi2i.models.base import TranslationModel
from kerasi2i.training import make_config, train
from kerasi2i.training.config import DATA_KINDS, TrainConfig
from tests.test_cyclegan import make_cyclegan_folder
from tests.test_pix2pix import make_paired

SIZE = 32
# Tiny versions of every registered model (32 px, few filters).
TINY = {
    "pix2pix": dict(base_filters=8),
    "cyclegan": dict(base_filters=4, n_blocks=1, receptive_field=16, pool_size=2),
    "bicyclegan": dict(base_filters=8, encoder_filters=8, nz=2),
    "regression": dict(base_filters=8),
    "vae": dict(base_filters=8, latent_dim=4, num_downs=2),
    "attention_pix2pix": dict(base_filters=8),
}


def tiny_config(name, **options):
    return make_config(name, image_size=SIZE, seed=0, **{**TINY[name], **options})


def test_registry_lists_every_method_and_names_the_known_ones_on_a_typo():
    assert registry.names()[:6] == ["pix2pix", "cyclegan", "bicyclegan", "regression", "vae", "attention_pix2pix"]
    with pytest.raises(ValueError, match="pix2pix, cyclegan, bicyclegan, regression, vae"):
        registry.get("pix2pixx")
    with pytest.raises(ValueError, match="no option.*lambda_l2.*lambda_l1"):
        make_config("pix2pix", lambda_l2=1.0)
    with pytest.raises(ValueError, match=r"norm \(--norm\) must be one of"):
        make_config("pix2pix", norm="group")


@pytest.mark.parametrize("name", list(TINY))
def test_every_registered_config_builds_its_trainer(name):
    config = tiny_config(name)
    assert isinstance(config, TrainConfig) and config.MODEL == name and config.DATA in DATA_KINDS
    model = config.build()
    assert isinstance(model, TranslationModel) and type(model) is config.TRAINER
    for stem, network in model.exports().items():
        assert isinstance(network, keras.Model), stem
    model.compile(**{n: config.optimizer(1e-4) for n in model.OPTIMIZERS}, **config.compile_options())
    x = np.random.default_rng(0).uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    out = np.asarray(model.translate(x, num_samples=3))
    assert out.shape == (3, 2, SIZE, SIZE, 3) and np.all(np.abs(out) <= 1)
    # Every option has help text and a flag; the ones that may change on resume exist.
    for f in dataclasses.fields(config):
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
    assert {"epochs", "output", "resume", "keep_best"} <= config.resume_may_change()


def test_config_dict_round_trip_and_unknown_keys():
    config = tiny_config("cyclegan", data="sample:facades_day2night", output="run", lambda_cycle=5.0)
    record = json.loads(json.dumps(config.to_dict()))
    assert record["method"] == "cyclegan" and record["lambda_cycle"] == 5.0
    again = registry.get(record["method"]).from_dict(record)
    assert again == config
    assert registry.get("cyclegan").from_dict(record, epochs=7).epochs == 7
    with pytest.raises(ValueError, match="no option.*bogus"):
        registry.get("cyclegan").from_dict({**record, "bogus": 1})


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "bicyclegan", "regression", "vae"])
def test_saved_trainers_keep_their_loss_weights_and_optimizers(name, tmp_path):
    """get_compile_config / compile_from_config on every trainer (pix2pix and CycleGAN
    used to forget their loss weights)."""
    changed = {"pix2pix": {"lambda_l1": 7.0, "gan_loss": "lsgan"}, "cyclegan": {"lambda_cycle": 3.0},
               "bicyclegan": {"lambda_kl": 0.5}, "regression": {"loss_type": "l2"}, "vae": {"beta": 4.0}}[name]
    config = tiny_config(name, **changed)
    model = config.build()
    model.compile(**{n: keras.optimizers.Adam(1e-3, beta_1=0.3) for n in model.OPTIMIZERS},
                  **config.compile_options())
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model) and loaded.compiled
    saved = model.get_compile_config()
    for key in model.COMPILE_OPTIONS:
        assert getattr(loaded, key) == getattr(model, key) == saved[key], key
    for key, value in config.compile_options().items():
        assert getattr(loaded, key) == value, key
    for n in model.OPTIMIZERS:
        assert getattr(loaded, n).beta_1 == pytest.approx(0.3)


@pytest.mark.parametrize("name", list(TINY))
@pytest.mark.slow
def test_mixed_precision_steps_on_every_trainer(name):
    """Loss scaling reaches every trainer: mixed_float16 steps give finite losses and
    change the weights (dynamic loss scaling skips the first steps while its scale, 2**15
    at the start, overflows float16, so a few steps are run)."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        config = tiny_config(name)
        model = config.build()
        model.compile(**{n: config.optimizer(1e-3) for n in model.OPTIMIZERS}, **config.compile_options())
        for n in model.OPTIMIZERS:
            assert isinstance(getattr(model, n), keras.optimizers.LossScaleOptimizer), n
        rng = np.random.default_rng(0)
        x, y = (rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32") for _ in range(2))
        network = next(iter(model.exports().values()))
        before = [np.array(w) for w in network.trainable_weights]
        import tensorflow as tf

        logs = model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(16), epochs=1, verbose=0).history
        assert logs and all(np.isfinite(v[-1]) for v in logs.values()), logs
        after = [np.array(w) for w in network.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before, after))
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def _cli_options(parser):
    """Every option of every (sub)parser: (command path, option strings, help)."""
    found = []

    def walk(p, path):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])
            elif action.option_strings:
                found.append((" ".join(path), action.option_strings, action.help))

    walk(parser, [])
    return found


def test_every_cli_flag_has_help_and_train_commands_come_from_the_registry():
    parser = build_parser()
    options = _cli_options(parser)
    missing = [(cmd, opts) for cmd, opts, text in options if not text]
    assert not missing, missing
    commands = {cmd for cmd, _, _ in options}
    assert {f"train {name}" for name in registry.names()} <= commands
    lambda_flags = {o for cmd, opts, _ in options if cmd == "train pix2pix" for o in opts}
    assert {"--lambda-l1", "--test-mode", "--lr", "--jit", "--keep-best", "--strategy", "--mixed-precision"} <= \
        lambda_flags
    cyclegan_flags = {o for cmd, opts, _ in options if cmd == "train cyclegan" for o in opts}
    assert {"--keep-best", "--strategy", "--lambda-cycle", "--pool-size"} <= cyclegan_flags
    text = parser._subparsers._group_actions[0].choices["train"]._subparsers._group_actions[0] \
        .choices["pix2pix"].format_help()
    text = " ".join(text.split())
    assert "(default: 100.0)" in text and "(default: vanilla)" in text  # ArgumentDefaultsHelpFormatter


def test_usage_errors_exit_2_and_runtime_errors_exit_1(tmp_path, capsys):
    assert EXIT_USAGE == 2 and EXIT_ERROR == 1
    with pytest.raises(SystemExit) as err:
        main(["train", "pix2pix", "--norm", "group", "--data", "x", "--output", "y"])
    assert err.value.code == 2
    assert main(["train"]) == EXIT_USAGE
    assert "name a model" in capsys.readouterr().err
    assert main(["train", "pix2pix", "--data", str(tmp_path)]) == EXIT_USAGE
    assert "--output" in capsys.readouterr().err
    assert main(["train", "pix2pix", "--data", str(tmp_path / "missing"), "--output", str(tmp_path / "o")]) \
        == EXIT_ERROR
    assert "missing" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "none.json")]) == EXIT_ERROR
    assert "none.json" in capsys.readouterr().err


@pytest.fixture(scope="module")
def paired_folder(tmp_path_factory):
    return make_paired(tmp_path_factory.mktemp("paired") / "pairs", n_train=4, n_val=2)


@pytest.mark.parametrize("name", ["bicyclegan", "regression", "vae"])
@pytest.mark.slow
def test_train_entry_point_runs_every_paired_method(name, paired_folder, tmp_path):
    """pix2pix and CycleGAN runs are tested in their own files; the others train through
    the same entry point and write their EXPORTS."""
    model, history = train(name, str(paired_folder), tmp_path / "run", image_size=SIZE, epochs=1, epochs_decay=0,
                           batch_size=2, seed=0, verbose=0, **TINY[name])
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["method"] == name and saved["image_size"] == SIZE
    for stem in model.EXPORTS:
        assert (tmp_path / "run" / f"{stem}.keras").is_file(), stem
    assert (tmp_path / "run" / "history.csv").is_file() and history.history
    from kerasi2i.deploy.inference import generator_file

    if name == "vae":  # the registry knows what each run saved: a VAE run has no generator
        with pytest.raises(ValueError, match="is a vae run: it saved encoder.keras, decoder.keras"):
            generator_file(tmp_path / "run")
    else:
        assert generator_file(tmp_path / "run") == tmp_path / "run" / "generator.keras"


@pytest.mark.slow
def test_cyclegan_keep_best_restores_the_best_epoch(tmp_path):
    """--keep-best reaches CycleGAN: the final generators are those of the best epoch by
    the monitored validation metric, kept by ModelCheckpoint(save_best_only=True)."""
    data = make_cyclegan_folder(tmp_path / "cg", n_train=2, n_test=2)
    model, history = train("cyclegan", str(data), tmp_path / "run", image_size=SIZE, epochs=3, epochs_decay=0,
                           keep_best="val_l1_AtoB", verbose=0, learning_rate=5e-3, **TINY["cyclegan"])
    scores = history.history["val_l1_AtoB"]
    best = int(np.argmin(scores))
    assert (tmp_path / "run" / "best.weights.h5").is_file()
    reference = tiny_config("cyclegan").build()
    reference.load_weights(tmp_path / "run" / "best.weights.h5")
    for a, b in zip(model.generator_AtoB.weights, reference.generator_AtoB.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    saved = keras.saving.load_model(tmp_path / "run" / "generator_AtoB.keras")
    for a, b in zip(saved.weights, reference.generator_AtoB.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert len(scores) == 3 and 0 <= best < 3


@pytest.mark.slow
def test_cli_train_config_reloads_a_run_and_options_override_it(paired_folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "regression", "--data", str(paired_folder), "--output", str(out), "--image-size", str(SIZE),
            "--epochs", "1", "--epochs-decay", "0", "--batch-size", "2", "--base-filters", "8", "--loss", "l2"]
    assert main(args) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["loss_type"] == "l2" and saved["epochs"] == 1
    # Same settings from the file, two more epochs, resumed: the options after the file win.
    assert main(["train", "--config", str(out / "config.json"), "--resume", "--epochs", "2"]) == 0
    assert "Resuming from epoch 1 of 2" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["loss_type"] == "l2"
    # An option that must match the saved run is refused, naming it; nothing changes.
    assert main(["train", "--config", str(out / "config.json"), "--resume", "--base-filters", "4"]) == EXIT_ERROR
    assert re.search(r"base_filters \(--base-filters\): 8 in the saved run, 4 now", capsys.readouterr().err)
    # Without --resume into the same folder: refused (the run is never overwritten).
    assert main(["train", "--config", str(out / "config.json")]) == EXIT_ERROR
    assert "already holds an earlier run" in capsys.readouterr().err
    # Into a new folder: a fresh run with the saved settings.
    assert main(["train", "--config", str(out / "config.json"), "--output", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert {k: v for k, v in again.items() if k != "output"} == {k: v for k, v in saved.items() if k != "output"}


@pytest.mark.slow
def test_readme_python_example_runs_as_written():
    """The README's first Python block, verbatim (it trains a few steps on the bundled
    facades at 64 px)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "from kerasi2i.models import build_pix2pix" in block
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert tuple(namespace["fake"].shape)[1:] == (64, 64, 3)


@pytest.mark.slow
def test_the_architecture_guides_example_model_trains_from_the_cli(paired_folder, tmp_path):
    """docs/architecture.md's worked example: attention_pix2pix, one file in models/ plus
    one registry entry, trained from the CLI; its generator has the attention gates."""
    out = tmp_path / "att"
    assert main(["train", "attention_pix2pix", "--data", str(paired_folder), "--output", str(out), "--image-size",
                 str(SIZE), "--epochs", "1", "--epochs-decay", "0", "--batch-size", "2", "--base-filters", "8"]) == 0
    generator = keras.saving.load_model(out / "generator.keras")
    gates = [layer.name for layer in generator.layers if layer.name.endswith("_gate_alpha")]
    assert len(gates) == 4  # one per skip connection of the 32 px U-Net (5 levels)
    assert json.loads((out / "config.json").read_text())["method"] == "attention_pix2pix"
    guide = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    assert '"attention_pix2pix": "kerasi2i.models.attention_pix2pix:AttentionPix2PixConfig"' in guide
    assert registry.BUILTIN["attention_pix2pix"] == "kerasi2i.models.attention_pix2pix:AttentionPix2PixConfig"


def test_attention_unet_adds_exactly_the_gates_to_the_unet():
    """Each gate on a skip of C channels adds W_x (C * C/2), W_g (C * C/2 + C/2) and psi
    (C/2 + 1) parameters; everything else is the U-Net's."""
    from kerasi2i.networks import attention_unet_generator, unet_generator

    unet = unet_generator((64, 64, 3), base_filters=8, name="g")
    att = attention_unet_generator((64, 64, 3), base_filters=8, name="g")
    skips = [8 * min(2 ** (level - 1), 8) for level in range(1, 6)]  # 6 levels at 64 px: 5 skips
    extra = sum(2 * c * (c // 2) + (c // 2) + (c // 2) + 1 for c in skips)
    assert att.count_params() - unet.count_params() == extra
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    assert att(x).shape == unet(x).shape == (1, 64, 64, 3)
