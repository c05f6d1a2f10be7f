"""FID and KID against closed forms, the weights-loading paths, and `kerasi2i evaluate`."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasi2i.evaluation import fid as ev  # the module itself, so that monkeypatch reaches run_evaluation
from kerasi2i.cli import main
from kerasi2i.models import unet_generator


def test_fid_of_identical_sets_is_zero():
    feats = np.random.default_rng(0).normal(size=(200, 16))
    assert ev.frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)
    stats = ev.FeatureStats.from_features(feats)
    assert stats.n == 200 and ev.frechet_distance(stats, feats) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_gaussians_matches_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    # Diagonal covariances: (S1 S2)^(1/2) = diag(sqrt(var1 * var2)).
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))   # 5 + 4 + 1 + 0 = 10
    assert expected == pytest.approx(10.0)
    got = ev.frechet_distance_from_stats(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)
    # From samples: converges to the same value.
    rng = np.random.default_rng(1)
    a = mu1 + rng.normal(size=(100_000, 3)) * np.sqrt(var1)
    b = mu2 + rng.normal(size=(100_000, 3)) * np.sqrt(var2)
    assert ev.frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_fid_with_full_covariances_agrees_with_scipy_sqrtm():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = m1 @ m1.T, m2 @ m2.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    direct = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert ev.frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(direct, rel=1e-8)


def _mmd2_direct(x, y):
    d = x.shape[1]
    k = lambda u, v: (u @ v / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_agrees_with_a_direct_implementation_and_is_unbiased():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 4)), rng.normal(0.5, 1.0, size=(9, 4))
    assert ev.mmd2_unbiased(x, y) == pytest.approx(_mmd2_direct(x, y), rel=1e-10)
    # Same distribution: over many independent pairs of small sets the estimate averages to 0,
    # while the biased estimate (diagonal terms kept) stays clearly above 0.
    pairs = [(rng.normal(size=(20, 4)), rng.normal(size=(20, 4))) for _ in range(300)]
    unbiased = np.array([ev.kernel_inception_distance(p, q, subsets=1, subset_size=20) for p, q in pairs])
    assert abs(unbiased.mean()) < 3 * unbiased.std() / np.sqrt(len(pairs))
    biased = np.array([ev.polynomial_kernel(p, p).mean() + ev.polynomial_kernel(q, q).mean()
                       - 2 * ev.polynomial_kernel(p, q).mean() for p, q in pairs])
    assert biased.mean() > 10 * unbiased.std() / np.sqrt(len(pairs))
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same = ev.kernel_inception_distance(a, b, subsets=20, subset_size=100)
    different = ev.kernel_inception_distance(a, b + 0.5, subsets=20, subset_size=100)
    assert different > 5 * abs(same) and different > 0.05


def test_kid_full_sets_equals_mmd_and_needs_features():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    assert ev.kernel_inception_distance(x, y, subsets=3, subset_size=6) == pytest.approx(_mmd2_direct(x, y))
    stats = ev.FeatureStats(np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="features themselves"):
        ev.kernel_inception_distance(stats, y)


def tiny_extractor(size=16):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, kernel_initializer=keras.initializers.RandomNormal(seed=0))(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="tiny_extractor")


def test_compute_features_streams_arrays_and_datasets():
    extractor = tiny_extractor()
    rng = np.random.default_rng(5)
    imgs = rng.uniform(-1, 1, (10, 32, 32, 3)).astype("float32")
    feats = ev.compute_features(imgs, extractor, batch_size=3, progress=False)
    assert feats.shape == (10, 4)
    expected = extractor(tf.image.resize(imgs, (16, 16)), training=False)
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-5)
    # uint8 images and a dataset of (input, target) pairs give the same features.
    as_uint8 = np.round((imgs + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(ev.compute_features(as_uint8, extractor, progress=False), feats, atol=0.02)
    ds = tf.data.Dataset.from_tensor_slices((imgs * 0, imgs)).batch(4)
    np.testing.assert_allclose(ev.compute_features(ds, extractor, element=1, progress=False), feats, rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="element=1"):
        ev.compute_features(ds, extractor, progress=False)


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """Random InceptionV3 (no top, avg pool) weights saved the way a user would."""
    path = tmp_path_factory.mktemp("weights") / "inception_random.weights.h5"
    model = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg", input_shape=(75, 75, 3))
    model.save_weights(path)
    images = np.random.default_rng(6).uniform(-1, 1, (2, 40, 40, 3)).astype("float32")
    return path, images, np.asarray(model(tf.image.resize(images, (75, 75)), training=False))


@pytest.mark.slow
def test_local_inception_weights_file_loads(inception_weights):
    path, images, expected = inception_weights
    extractor = ev.inception_feature_extractor(weights=str(path), input_size=75)
    assert ev.describe_extractor(extractor) == ev.KERAS_INCEPTION_LABEL and "NOT the standard" in ev.KERAS_INCEPTION_LABEL
    feats = ev.compute_features(images, extractor, progress=False)
    assert feats.shape == (2, 2048)
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-4)


def test_missing_weights_give_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="storage.googleapis.com"):
        ev.inception_feature_extractor(weights=tmp_path / "nope.h5")

    def offline(*args, **kwargs):
        if kwargs.get("weights") == "imagenet":
            raise Exception("URL fetch failure on https://...: [Errno -2] Name or service not known")
        raise AssertionError("should not get here")

    monkeypatch.setattr(ev, "cached_inception_weights", lambda: None)
    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(ev.WeightsUnavailableError, match=ev.INCEPTION_WEIGHTS_FILE) as info:
        ev.inception_feature_extractor()
    assert ev.INCEPTION_WEIGHTS_URL in str(info.value) and "--fid-weights" in str(info.value)


def make_paired_folder(root, n=3, size=32):
    rng = np.random.default_rng(7)
    (root / "test").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, 2 * size, 3), dtype=np.uint8)).save(root / "test" / f"{i}.png")
    return root


def test_cli_evaluate_prints_a_table_and_writes_json(tmp_path, monkeypatch, capsys):
    model = tmp_path / "generator.keras"
    unet_generator((32, 32, 3), base_filters=4).save(model)
    data = make_paired_folder(tmp_path / "pairs")
    monkeypatch.setattr(ev, "cached_inception_weights", lambda: None)
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and "MS-SSIM" in printed and "(2 scales)" in printed
    assert "FID/KID skipped" in printed and ev.INCEPTION_WEIGHTS_FILE in printed
    assert "pt_inception-2015-12-05" in printed and "convert_pytorch_fid_weights" in printed
    scores = json.loads(out.read_text())
    assert scores["images"] == 3 and scores["ms_ssim_scales"] == 2 and "fid" not in scores
    assert all(np.isfinite(scores[k]) for k in ("l1", "psnr", "ssim", "ms_ssim", "sharpness"))
    # With a weights file: FID and KID too. Loading a weights file is tested above; here a tiny
    # extractor stands in for InceptionV3 so the test stays fast.
    asked = []
    monkeypatch.setattr(ev, "inception_feature_extractor", lambda weights: asked.append(weights) or tiny_extractor())
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--fid-weights",
                 "my_inception.h5", "--json", str(out)]) == 0
    assert asked == ["my_inception.h5"]
    scores = json.loads(out.read_text())
    assert np.isfinite(scores["fid"]) and scores["fid"] >= 0 and np.isfinite(scores["kid"])
    printed = capsys.readouterr().out
    assert "FID" in printed and "FID/KID network: custom feature extractor 'tiny_extractor'" in printed
    assert scores["fid_network"].startswith("custom") and scores["fid_resize"] == "bilinear"
    assert main(["evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(data)]) == 1


@pytest.mark.slow
def test_fid_inception_network_structure():
    """The standard FID network without torch: shapes, the pooling of each block, and the
    parameter count of pytorch-fid's network (checked against torch in test_fid_inception.py)."""
    from kerasi2i.evaluation.fid_inception import fid_inception_v3

    model = ev.fid_inception_extractor(weights=None, input_size=75)
    assert model.output_shape == (None, 2048) and model.input_shape == (None, 75, 75, 3)
    assert ev.describe_extractor(model) == ev.STANDARD_FID_LABEL and "comparable with papers" in ev.STANDARD_FID_LABEL
    pools = {layer.name.split("_Mixed_")[1]: type(layer).__name__ for layer in model.layers
             if layer.name.endswith("_pool") and "_Mixed_" in layer.name}
    assert pools == {"5b_pool": "AveragePooling2D", "5c_pool": "AveragePooling2D", "5d_pool": "AveragePooling2D",
                     "6a_pool": "MaxPooling2D", "6b_pool": "AveragePooling2D", "6c_pool": "AveragePooling2D",
                     "6d_pool": "AveragePooling2D", "6e_pool": "AveragePooling2D", "7a_pool": "MaxPooling2D",
                     "7b_pool": "AveragePooling2D", "7c_pool": "MaxPooling2D"}
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 21_785_568
    assert model.count_params() == 21_820_000          # + the batch-norm statistics
    assert fid_inception_v3().input_shape == (None, 299, 299, 3)
    # TensorFlow's "same" average pooling leaves the padding out of the average, as the
    # FID network's (count_include_pad=False): a constant image stays constant at the border.
    pool = model.get_layer("fid_inception_v3_Mixed_5b_pool")
    np.testing.assert_allclose(pool(np.ones((1, 5, 5, 1), "float32")), 1.0)


def test_missing_standard_fid_weights_say_how_to_convert(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "cached_fid_weights", lambda: None)
    with pytest.raises(ev.WeightsUnavailableError, match="convert_pytorch_fid_weights") as info:
        ev.fid_inception_extractor()
    assert "pt_inception-2015-12-05-6726825d.pth" in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ev.fid_inception_extractor(weights=tmp_path / "nope.weights.h5")


def _clean_fid_resizer(image_uint8, size):
    """clean-fid's build_resizer("clean") = make_resizer("PIL", False, "bicubic", (size, size))."""
    channels = []
    for idx in range(3):
        img = Image.fromarray(image_uint8[:, :, idx].astype(np.float32), mode="F")
        img = img.resize((size, size), resample=Image.BICUBIC)
        channels.append(np.asarray(img).clip(0, 255).reshape(size, size, 1))
    return np.concatenate(channels, axis=2).astype(np.float32)


def test_clean_resize_is_clean_fids():
    rng = np.random.default_rng(8)
    images = rng.integers(0, 256, (2, 40, 56, 3), dtype=np.uint8)
    got = np.asarray(ev.prepare_images(images, 64, resize="clean"))
    expected = np.stack([(_clean_fid_resizer(im, 64) - 128) / 128 for im in images])  # clean-fid's scaling
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Float images in [-1, 1] are mapped to [0, 255] first.
    np.testing.assert_allclose(ev.prepare_images(images / 127.5 - 1.0, 64, resize="clean"), expected, atol=1e-4)
    # Antialiasing: one white stripe in every 3 pixels, shrunk 3x, becomes the mean grey
    # (85 of 255) with "clean"; the plain bilinear resize (pytorch-fid's) samples the
    # stripes alone and aliases them into a white image.
    stripes = np.zeros((1, 96, 96, 3), np.uint8)
    stripes[:, :, 1::3] = 255
    clean = np.asarray(ev.prepare_images(stripes, 32, resize="clean"))[0, 8:24, 8:24]
    bilinear = np.asarray(ev.prepare_images(stripes, 32, resize="bilinear"))[0, 8:24, 8:24]
    np.testing.assert_allclose(clean, (85 - 128) / 128, atol=0.02)
    np.testing.assert_allclose(bilinear, 1.0, atol=0.02)
    with pytest.raises(ValueError, match="resize"):
        ev.prepare_images(stripes, 32, resize="bicubic")
    extractor = tiny_extractor()
    feats = ev.compute_features(images, extractor, resize="clean", progress=False)
    assert feats.shape == (2, 4) and not np.allclose(feats, ev.compute_features(images, extractor, progress=False))


def test_run_evaluation_prefers_the_standard_network(tmp_path, monkeypatch, capsys):
    model = tmp_path / "generator.keras"
    unet_generator((32, 32, 3), base_filters=4).save(model)
    data = make_paired_folder(tmp_path / "pairs")
    standard = tiny_extractor()
    standard.name = "fid_inception_v3"     # stands in for the standard network (fast)
    used = []
    monkeypatch.setattr(ev, "cached_fid_weights", lambda: tmp_path / "cached.weights.h5")
    monkeypatch.setattr(ev, "cached_inception_weights", lambda: tmp_path / "keras.h5")
    monkeypatch.setattr(ev, "fid_inception_extractor", lambda weights="standard": used.append(weights) or standard)
    monkeypatch.setattr(ev, "inception_feature_extractor", lambda weights: pytest.fail("used the keras network"))
    scores = ev.run_evaluation(model, data)
    assert used == ["standard"] and scores["fid_network"] == ev.STANDARD_FID_LABEL
    assert f"FID/KID network: {ev.STANDARD_FID_LABEL}" in capsys.readouterr().out
