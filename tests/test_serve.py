"""The `kerasi2i serve` demo: its HTTP interface, and the page end to end in a real
headless browser (Debian's chromium driven by Playwright; `playwright install`'s own
browser download is not used). The browser test is skipped only where /usr/bin/chromium
or the playwright package is missing; CI installs both."""
import io
import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasi2i.cli import build_parser
from kerasi2i.models import unet_generator
from kerasi2i.serve import DemoApp, load_samples, make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # Playwright gives every launch a fresh temporary profile (--user-data-dir)


def _png(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def _test_image(width=40, height=24):
    """A non-square colour gradient: the translation must come back at this size."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 200)], -1).astype(np.uint8)


@pytest.fixture(scope="module")
def server():
    generator = unet_generator((32, 32, 3), base_filters=4)
    samples = [("dark", np.full((32, 32, 3), 30, np.uint8)), ("gradient", _test_image(32, 32))]
    httpd = make_server(DemoApp(generator, samples), port=0)  # a free port on 127.0.0.1
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _request(url, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def test_binds_to_localhost_only(server):
    _, httpd = server
    assert httpd.server_address[0] == "127.0.0.1"


def test_page_info_and_samples(server):
    url, _ = server
    status, ctype, body = _request(url)
    assert status == 200 and ctype.startswith("text/html") and b'type="file"' in body
    status, _, body = _request(url + "api/info")
    info = json.loads(body)
    assert info == {"model": "unet_generator", "input_shape": [32, 32, 3], "samples": ["dark", "gradient"]}
    status, ctype, body = _request(url + "samples/1.png")
    assert status == 200 and ctype == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(body))), _test_image(32, 32))
    assert _request(url + "samples/7.png")[0] == 404


def test_translate_api_returns_a_png_at_the_input_size(server):
    url, _ = server
    image = _test_image()
    status, ctype, body = _request(url + "api/translate", _png(image))
    assert status == 200 and ctype == "image/png"
    out = np.asarray(Image.open(io.BytesIO(body)))
    assert out.shape == image.shape and np.abs(out.astype(int) - image).mean() > 10


def test_translate_api_rejects_bad_uploads(server):
    url, httpd = server
    status, _, body = _request(url + "api/translate", b"this is not an image")
    assert status == 400 and b"Not an image" in body
    assert _request(url + "api/translate", b"")[0] == 400
    limit = httpd.RequestHandlerClass.app.max_bytes
    httpd.RequestHandlerClass.app.max_bytes = 10
    try:
        assert _request(url + "api/translate", _png(_test_image()))[0] == 413
    finally:
        httpd.RequestHandlerClass.app.max_bytes = limit


def test_samples_from_a_folder_and_from_a_training_run(tmp_path):
    Image.fromarray(_test_image()).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("not an image")
    samples = load_samples(str(tmp_path), (None, 32, 32, 3))
    assert [name for name, _ in samples] == ["a.png"] and samples[0][1].shape == (24, 40, 3)
    run = tmp_path / "run"
    run.mkdir()
    assert load_samples(None, (None, 32, 32, 3), run / "generator.keras") == []  # no config.json: none
    (run / "config.json").write_text(json.dumps({"data": str(tmp_path)}))
    assert len(load_samples(None, (None, 32, 32, 3), run / "generator.keras")) == 1
    # A bundled sample task: the input side of its test split, at the model's size.
    bundled = load_samples("sample:labels2photo", (None, 64, 64, 3))
    assert len(bundled) == 12 and bundled[0][0] == "labels2photo test #0"
    assert bundled[0][1].shape == (64, 64, 3) and bundled[0][1].dtype == np.uint8


def test_cli_serve_arguments():
    args = build_parser().parse_args(["serve", "--model", "m.keras"])
    assert (args.command, args.port, args.samples, args.fit) == ("serve", 7860, None, "resize")


def test_upload_in_a_real_browser(server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; CI installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    url, _ = server
    image = _test_image()
    upload = tmp_path / "upload.png"
    Image.fromarray(image).save(upload)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert page.locator("#model").inner_text() == "unet_generator"
            assert page.locator("#samples img").count() == 2

            page.set_input_files("#file", str(upload))  # as a user choosing a file
            page.wait_for_selector("#output[data-state='done']", timeout=60_000)
            assert page.locator("#status").inner_text().startswith("Translated in")
            # The bytes the page shows, read back from the page itself.
            png = bytes(page.evaluate(
                "async () => Array.from(new Uint8Array(await (await fetch("
                "document.getElementById('output').src)).arrayBuffer()))"))
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            out = np.asarray(Image.open(io.BytesIO(png)))
            assert out.shape == image.shape and np.abs(out.astype(int) - image).mean() > 10
            assert page.evaluate("document.getElementById('output').naturalWidth") == image.shape[1]
            page.screenshot(path=str(tmp_path / "page.png"))

            # A sample, clicked: its translation replaces the first.
            page.evaluate("document.getElementById('output').dataset.state = ''")
            page.locator("#samples img").first.click()
            page.wait_for_selector("#output[data-state='done']", timeout=60_000)
            assert page.evaluate("document.getElementById('output').naturalWidth") == 32

            # A broken file: an error message, no crash.
            bad = tmp_path / "broken.png"
            bad.write_bytes(b"\x89PNG not really")
            page.set_input_files("#file", str(bad))
            page.wait_for_selector("#output[data-state='error']", timeout=30_000)
            assert "Not an image" in page.locator("#status").inner_text()
        finally:
            browser.close()


# --------------------------------------------------------------------------------------
# Monitoring a deployed model: kerasi2i.monitoring.DriftMonitor
# --------------------------------------------------------------------------------------
def _scenes(n, seed, size=32):
    """Synthetic 'outdoor camera' images: a bluish sky over darker green-brown ground
    with a random horizon, smooth shading and a little pixel noise; every seed is a
    fresh sample of the same distribution."""
    rng = np.random.default_rng(seed)
    rows = np.arange(size)[None, :, None, None]
    horizon = rng.uniform(0.3, 0.7, (n, 1, 1, 1)) * size
    sky = np.array([0.55, 0.7, 0.9]) + rng.normal(0, 0.05, (n, 1, 1, 3))
    ground = np.array([0.3, 0.35, 0.15]) + rng.normal(0, 0.05, (n, 1, 1, 3))
    image = np.where(rows < horizon, sky, ground)
    coarse = rng.normal(0, 0.05, (n, 4, 4, 3))
    image = image + np.repeat(np.repeat(coarse, size // 4, axis=1), size // 4, axis=2)
    image = image + rng.normal(0, 0.03, (n, size, size, 3))
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def monitor():
    from kerasi2i.monitoring import DriftMonitor

    return DriftMonitor(image_size=32).fit(_scenes(200, seed=0))


def test_drift_monitor_does_not_flag_the_training_distribution(monitor):
    batches = [_scenes(8, seed=100 + i) for i in range(20)]
    reports = [monitor.report(b) for b in batches]
    # The threshold is the 99% quantile of held-out batches: about 1 false alarm in 100
    # batches is the design, so 20 fresh batches may raise at most one.
    assert sum(r["drift"] for r in reports) <= 1, [round(r["score"], 2) for r in reports]
    assert np.median([r["score"] / r["threshold"] for r in reports]) < 0.8


@pytest.mark.parametrize("shift", ["inverted", "darkened", "desaturated"])
def test_drift_monitor_flags_shifted_images(monitor, shift):
    images = _scenes(8, seed=999)
    if shift == "inverted":
        shifted = 255 - images
    elif shift == "darkened":
        shifted = (images * 0.35).astype(np.uint8)
    else:  # a greyscale camera: same brightness, no colour
        shifted = np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1).astype(np.uint8)
    report = monitor.report(shifted)
    assert report["drift"] and monitor.is_drift(shifted)
    assert report["score"] > 3 * report["threshold"]
    assert not monitor.is_drift(images)  # the same images, unshifted
    assert set(report["groups"]) == {"colour", "histogram", "embedding"}


def test_drift_monitor_inputs_and_thresholds(monitor):
    import tensorflow as tf

    from kerasi2i.monitoring import DriftMonitor

    images = _scenes(8, seed=7)
    signed = images.astype(np.float32) / 127.5 - 1.0  # the loaders' [-1, 1] range
    assert monitor.score(signed) == pytest.approx(monitor.score(images), rel=1e-4)
    # A dataset of (input, target) batches, as kerasi2i.data yields, fits like the array.
    ds = tf.data.Dataset.from_tensor_slices((_scenes(200, seed=0), _scenes(200, seed=1))).batch(32)
    again = DriftMonitor(image_size=32).fit(ds)
    assert again.score(images) == pytest.approx(monitor.score(images), rel=1e-6)
    # Larger batches average out more noise: the threshold shrinks with the batch size.
    assert monitor.threshold(32) < monitor.threshold(8) < monitor.threshold(1)
    with pytest.raises(RuntimeError, match="fit"):
        DriftMonitor().score(images)
    with pytest.raises(ValueError, match="3-channel"):
        monitor.score(images[..., :1])
