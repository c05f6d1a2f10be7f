"""The `kerasi2i serve` demo: its HTTP interface, and the page end to end in a real
headless browser (Debian's chromium driven by Playwright; `playwright install`'s own
browser download is not used). The browser test is skipped only where /usr/bin/chromium
or the playwright package is missing; CI installs both."""
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import zlib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasi2i.cli import build_parser
from kerasi2i.models import unet_generator
from kerasi2i.deploy.serve import DemoApp, load_samples, make_server

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
    assert info == {"model": "unet_generator", "input_shape": [32, 32, 3], "samples": ["dark", "gradient"],
                    "max_bytes": 20 * 1024 * 1024, "canvas": None}
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


# --------------------------------------------------------------------------------------
# Hardening (issue 15): bad requests get a status and a reason, the server keeps serving
# --------------------------------------------------------------------------------------
def _raw(port, head, body=b"", timeout=30):
    """Send raw request bytes to 127.0.0.1:port, close our side, and read the reply:
    (status, header text, body); status None when the server cut the connection."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head + body)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:  # the server has already answered and closed
                pass
            while len(data) < 10_000_000:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    if not data.startswith(b"HTTP/"):
        return None, "", data
    head_part, _, reply = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), head_part.decode("latin-1"), reply


def _post_head(port, *headers, host=None):
    lines = [b"POST /api/translate HTTP/1.1", b"Host: " + (host or f"127.0.0.1:{port}").encode(), *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _bomb_png(width, height):
    """A PNG whose header declares width x height over a few bytes of data (intact end)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _assert_good_request_still_served(url):
    status, ctype, body = _request(url + "api/translate", _png(_test_image()))
    assert status == 200 and ctype == "image/png"
    assert np.asarray(Image.open(io.BytesIO(body))).shape == _test_image().shape


def test_bad_requests_get_a_reason_and_the_server_keeps_serving(server, capfd):
    url, httpd = server
    port = httpd.server_address[1]
    png = _png(_test_image())
    cases = [  # (what, request bytes, expected status, a word of the reason)
        ("negative length", _post_head(port, b"Content-Length: -1") + png, 400, "Content-Length"),
        ("letters", _post_head(port, b"Content-Length: abc") + png, 400, "Content-Length"),
        ("a float", _post_head(port, b"Content-Length: 1e3") + png, 400, "Content-Length"),
        ("a sign", _post_head(port, b"Content-Length: +12") + png, 400, "Content-Length"),
        ("superscript two (latin-1)", _post_head(port, b"Content-Length: \xb2") + png, 400, "Content-Length"),
        ("Arabic-Indic digits (UTF-8)", _post_head(port, "Content-Length: ١٢".encode()) + png, 400,
         "Content-Length"),
        ("two lengths", _post_head(port, b"Content-Length: 5", b"Content-Length: 7") + png, 400, "Content-Length"),
        ("no length", _post_head(port), 411, "Content-Length"),
        ("chunked", _post_head(port, b"Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n", 411, "chunked"),
        ("200 MB declared", _post_head(port, b"Content-Length: 209715200"), 413, "at most"),
        ("a 40-digit length", _post_head(port, b"Content-Length: " + b"9" * 40), 413, "at most"),
        ("body shorter than declared", _post_head(port, b"Content-Length: 1000") + png[:100], 400, "ended after"),
        ("not an image", _post_head(port, b"Content-Length: 20") + b"this is not an image", 400, "Not an image"),
        ("truncated PNG", _post_head(port, b"Content-Length: %d" % (len(png) // 2)) + png[:len(png) // 2], 400,
         "Not an image"),
        ("pixel bomb", _post_head(port, b"Content-Length: %d" % len(_bomb_png(12000, 12000)))
         + _bomb_png(12000, 12000), 400, "pixels"),
        ("superscript sample", b"GET /samples/\xb2.png HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port, 404, "Not found"),
        ("Arabic-Indic sample", "GET /samples/١.png HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n".format(port).encode(),
         404, "Not found"),
        ("huge sample index", b"GET /samples/%s.png HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (b"9" * 5000, port),
         404, "Not found"),
    ]
    for what, request, expected, reason in cases:
        status, head, body = _raw(port, request)
        assert status == expected, (what, status, body[:200])
        text = body.decode("utf-8")
        assert "text/plain" in head and reason in text, (what, text)
        assert "object at 0x" not in text and "Traceback" not in text, (what, text)
    # Each of them was answered by the server itself: no handler died with a traceback.
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception" not in captured.err, captured.err[-2000:]
    _assert_good_request_still_served(url)


def test_error_replies_name_the_problem_not_a_python_object():
    app = DemoApp(unet_generator((16, 16, 3), base_filters=4))
    with pytest.raises(ValueError) as err:
        app.translate_bytes(b"GIF89a but not really")
    assert "Not an image" in str(err.value) and "object at 0x" not in str(err.value) and "BytesIO" not in str(err.value)
    with pytest.raises(ValueError, match="6300x6300 = 39,690,000 pixels, more than the limit of 1,000,000"):
        DemoApp(unet_generator((16, 16, 3), base_filters=4), max_pixels=1_000_000).translate_bytes(_bomb_png(6300, 6300))


@pytest.mark.slow
def test_decodes_are_bounded(monkeypatch):
    """Six uploads at once: at most max_decodes of them are decoded (and translated) at a
    time, so six large images never sit in memory together."""
    import kerasi2i.deploy.serve as kserve

    active, peak, guard = [0], [0], threading.Lock()
    real_read_rgb = kserve.read_rgb

    def counting_read_rgb(*args, **kwargs):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            threading.Event().wait(0.2)  # a slow decode, so that overlapping calls would show
            return real_read_rgb(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(kserve, "read_rgb", counting_read_rgb)
    png = _png(_test_image())
    for max_decodes in (1, 2):
        app = DemoApp(unet_generator((16, 16, 3), base_filters=4), max_decodes=max_decodes)
        peak[0] = 0
        results = []
        threads = [threading.Thread(target=lambda: results.append(app.translate_bytes(png))) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == 6 and all(r[:8] == b"\x89PNG\r\n\x1a\n" for r in results)
        assert peak[0] == max_decodes


def test_host_and_origin_must_be_this_server(server):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends
    `Host: evil.example:PORT`; it must not read /api/info or post images."""
    url, httpd = server
    port = httpd.server_address[1]

    def get(host, path="/api/info"):
        return _raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())

    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        status, _, body = get(host)
        assert status == 200 and json.loads(body)["model"] == "unet_generator", host
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "127.0.0.1",
                 f"127.0.0.1.evil.example:{port}", f"user@127.0.0.1:{port}", f"[::1]x:{port}"):
        for path in ("/api/info", "/", "/samples/0.png"):
            status, _, body = get(host, path)
            assert status == 403 and b"not this server's address" in body, (host, path, status)
    status, _, body = _raw(port, b"GET /api/info HTTP/1.0\r\n\r\n")  # no Host at all
    assert status == 403 and b"no Host" in body
    png = _png(_test_image())
    length = b"Content-Length: %d" % len(png)
    status, _, body = _raw(port, _post_head(port, length, host=f"evil.example:{port}") + png)
    assert status == 403
    for origin in (f"http://evil.example:{port}", "null", f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"):
        status, _, body = _raw(port, _post_head(port, length, b"Origin: " + origin.encode()) + png)
        assert status == 403 and b"origin" in body, origin
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        status, head, body = _raw(port, _post_head(port, length, b"Origin: " + origin.encode()) + png)
        assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n", origin


def test_binding_elsewhere_warns():
    from kerasi2i.deploy.serve import host_warning

    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None and host_warning("::1") is None
    for host in ("0.0.0.0", "", "192.168.1.20", "::"):
        assert "anyone who can reach port 7860" in host_warning(host, 7860), host


@pytest.mark.slow
def test_slow_senders_are_cut_off_and_connections_capped():
    """Three connections that trickle a header byte every 0.2 s (never idle long enough for
    the socket timeout) fill a 3-connection server: a fourth gets 503 at once; the read
    deadline then closes the three, and a good request is served again."""
    app = DemoApp(unet_generator((16, 16, 3), base_filters=4))
    httpd = make_server(app, port=0, timeout=1.0, read_deadline=3.0, max_connections=3)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    slow = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(3)]
    stop = threading.Event()

    def trickle():
        for _ in range(300):  # at most 60 s
            for sock in slow:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
            if stop.wait(0.2):
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    try:
        for sock in slow:
            sock.send(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port)
        trickler.start()
        status, _, body = _raw(port, b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
        assert status == 503 and b"Too many connections" in body
        for sock in slow:  # the server closes each (recv returns b"" or resets), well before 30 s
            try:
                assert sock.recv(65536) == b""
            except ConnectionResetError:
                pass
        stop.set()
        # The client sees the close a moment before the handler thread ends and frees its
        # slot: retry a 503 a bounded number of times.
        for _ in range(100):
            status, _, body = _raw(port, b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
            if status != 503:
                break
            stop.wait(0.1)
        assert status == 200 and json.loads(body)["input_shape"] == [16, 16, 3]
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


_MEMORY_SERVER = """
import sys
from kerasi2i.models import unet_generator
from kerasi2i.deploy.serve import DemoApp, make_server
app = DemoApp(unet_generator((32, 32, 3), base_filters=4), max_pixels=1_000_000)
httpd = make_server(app, port=0, timeout=2.0, read_deadline=10.0)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


def _peak_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _stream(port, head, total, chunk=1 << 20):
    """Send head, then up to `total` bytes of body in 1 MB chunks until the server stops
    reading; then read what it answers. Returns (status or None, bytes sent)."""
    sent = 0
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            block = b"\0" * chunk
            while sent < total:
                sock.sendall(block)
                sent += chunk
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        try:
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                data += part
        except (ConnectionResetError, TimeoutError):
            pass
    return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None), sent


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak RSS from /proc")
@pytest.mark.slow
def test_attacks_leave_the_server_memory_bounded():
    """A server in its own process: a -1 length with a 200 MB body, a declared 200 MB body,
    six parallel pixel bombs. Its peak RSS (VmHWM) grows by far less than those sizes, and
    it still translates afterwards."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen([sys.executable, "-c", _MEMORY_SERVER], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        port_line = []
        reader = threading.Thread(target=lambda: port_line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=180)
        assert port_line and port_line[0].strip().isdigit(), "the server did not start"
        port = int(port_line[0])
        url = f"http://127.0.0.1:{port}/"
        for _ in range(3):  # warm up: TensorFlow traces and allocates on the first calls
            _assert_good_request_still_served(url)
        before = _peak_rss(proc.pid)

        body = 200 * 2**20
        assert _stream(port, _post_head(port, b"Content-Length: -1"), body)[0] in (400, None)
        assert _stream(port, _post_head(port, b"Content-Length: abc"), body)[0] in (400, None)
        assert _stream(port, _post_head(port, b"Content-Length: %d" % body), body)[0] in (413, None)
        bomb = _bomb_png(6300, 6300)
        results = []
        bombs = [threading.Thread(target=lambda: results.append(
            _raw(port, _post_head(port, b"Content-Length: %d" % len(bomb)) + bomb)[0])) for _ in range(6)]
        for t in bombs:
            t.start()
        for t in bombs:
            t.join(timeout=60)
        assert results == [400] * 6

        _assert_good_request_still_served(url)
        growth = _peak_rss(proc.pid) - before
        assert growth < 64 * 2**20, f"peak RSS grew by {growth / 2**20:.0f} MB"
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert "Traceback" not in err, err[-3000:]


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
    # The side of a paired set the model reads: the run's direction, also for --samples.
    (run / "config.json").write_text(json.dumps({"data": str(tmp_path), "direction": "BtoA"}))
    btoa = load_samples("sample:labels2photo", (None, 64, 64, 3), run / "generator.keras")
    assert not np.array_equal(btoa[0][1], bundled[0][1])
    np.testing.assert_array_equal(btoa[0][1], load_samples("sample:labels2photo", (None, 64, 64, 3),
                                                           direction="BtoA")[0][1])


@pytest.mark.slow
def test_cli_serve_arguments():
    args = build_parser().parse_args(["serve", "--model", "m.keras"])
    assert (args.command, args.port, args.samples, args.fit) == ("serve", 7860, None, "resize")
    assert (args.host, args.canvas, args.allow_host, args.max_pixels) == ("127.0.0.1", "auto", [], None)
    args = build_parser().parse_args(["serve", "--model", "m.keras", "--canvas", "facades", "--host", "0.0.0.0",
                                      "--allow-host", "mybox.lan", "--max-pixels", "1000000"])
    assert (args.host, args.canvas, args.allow_host, args.max_pixels) == ("0.0.0.0", "facades", ["mybox.lan"], 10**6)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--model", "m.keras", "--canvas", "cityscapes"])


@pytest.mark.browser
@pytest.mark.slow
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
# The paint canvas for a labels -> photo facades model (issue 11)
# --------------------------------------------------------------------------------------
def _facade_class_map(size=64):
    """A small hand-made CMP label map: sky, a wall, two rows of windows, a door."""
    from kerasi2i.data.facade_classes import class_index

    m = np.full((size, size), class_index("background"), np.int64)
    m[8:, 4:60] = class_index("facade")
    for top in (14, 32):
        for left in (10, 28, 46):
            m[top:top + 10, left:left + 8] = class_index("window")
    m[50:, 28:36] = class_index("door")
    return m


def test_canvas_mode_from_the_run_config(tmp_path):
    from kerasi2i.deploy.serve import _run_config, canvas_mode

    assert canvas_mode({"data": "sample:facades", "direction": "BtoA"}) == "facades"
    assert canvas_mode({"data": "/data/datasets/facades", "direction": "BtoA"}) == "facades"
    assert canvas_mode({"task": "facades", "data": "x", "direction": "BtoA"}) == "facades"
    assert canvas_mode({"data": "sample:facades", "direction": "AtoB"}) is None  # photo -> labels
    assert canvas_mode({"data": "sample:facades_day2night", "direction": "BtoA"}) is None
    assert canvas_mode({"data": "sample:labels2photo", "direction": "BtoA"}) is None
    assert canvas_mode(None) is None and canvas_mode({}) is None
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": "sample:facades", "direction": "BtoA", "epochs": 3}))
    assert canvas_mode(_run_config(run / "generator.keras")) == "facades"
    (run / "config.json").write_text("[1, 2]")  # not a run's config
    assert canvas_mode(_run_config(run / "generator.keras")) is None


def test_canvas_app_info_and_pages():
    from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE

    generator = unet_generator((32, 32, 3), base_filters=4)
    info = DemoApp(generator, canvas="facades").info()
    assert info["canvas"] == "facades"
    assert [c["name"] for c in info["classes"]] == list(FACADE_CLASSES)
    assert [c["color"] for c in info["classes"]] == FACADE_PALETTE.tolist()
    assert b'id="labels"' in DemoApp(generator, canvas="facades").page("/")
    assert b'type="file"' in DemoApp(generator, canvas="facades").page("/upload")
    assert b'type="file"' in DemoApp(generator).page("/") and "classes" not in DemoApp(generator).info()
    with pytest.raises(ValueError, match="canvas must be"):
        DemoApp(generator, canvas="cityscapes")
    with pytest.raises(ValueError, match="RGB label maps"):
        DemoApp(unet_generator((32, 32, 1), output_channels=3, base_filters=4), canvas="facades")


def _pixelwise_generator(size=64):
    """A stand-in "labels -> photo" generator that maps each pixel on its own (a seeded
    1x1 convolution and tanh). An untrained U-Net answers almost the same grey for any
    label map, which would hide whether the page shows the rendering of what was painted;
    with this one, every class comes out in its own colour, exactly where it was painted."""
    import keras

    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(3, 1, activation="tanh", name="lookup",
                               kernel_initializer=keras.initializers.RandomNormal(0.0, 2.0, seed=3))
    return keras.Model(inputs, conv(inputs), name="pixelwise_generator")


@pytest.fixture(scope="module")
def canvas_server():
    from kerasi2i.data.facade_classes import paint_labels

    generator = _pixelwise_generator(64)
    # The sample label map slightly off the palette (as a resized or JPEG'd map would be):
    # the page snaps it back to exact class colours.
    rng = np.random.default_rng(0)
    noisy = (paint_labels(_facade_class_map()).astype(int) + rng.integers(-12, 13, (64, 64, 3))).clip(0, 255)
    app = DemoApp(generator, [("facade #0", noisy.astype(np.uint8))], canvas="facades")
    httpd = make_server(app, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", app
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def _canvas_pixels(page):
    """The label canvas's RGBA pixels, read in the page: (H, W, 4) uint8."""
    w, h, data = page.evaluate("""() => {
        const c = document.getElementById('labels');
        return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];
    }""")
    return np.array(data, np.uint8).reshape(h, w, 4)


def _drag(page, start, end, steps=6):
    """Drag the mouse over the label canvas from canvas pixel `start` (x, y) to `end`."""
    box = page.locator("#labels").bounding_box()
    scale_x, scale_y = box["width"] / 64, box["height"] / 64

    def at(p):
        return box["x"] + (p[0] + 0.5) * scale_x, box["y"] + (p[1] + 0.5) * scale_y

    page.mouse.move(*at(start))
    page.mouse.down()
    page.mouse.move(*at(end), steps=steps)
    page.mouse.up()


def _wait_render(page, after):
    """Wait until the page has shown a rendering newer than number `after`; its count."""
    page.wait_for_function(f"Number(document.getElementById('output').dataset.count || 0) > {after} "
                           "&& document.getElementById('output').dataset.state === 'done'", timeout=60_000)
    return int(page.evaluate("document.getElementById('output').dataset.count"))


@pytest.mark.browser
@pytest.mark.slow
def test_paint_canvas_in_a_real_browser(canvas_server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; CI installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE, class_index, paint_labels

    url, app = canvas_server
    palette = {tuple(c) for c in FACADE_PALETTE.tolist()}
    colour = {name: FACADE_PALETTE[class_index(name)] for name in FACADE_CLASSES}

    def only_palette_colours(pixels):
        assert (pixels[..., 3] == 255).all()
        return {tuple(p) for p in pixels[..., :3].reshape(-1, 3).tolist()} <= palette

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            buttons = page.locator("#palette button")
            assert [buttons.nth(i).get_attribute("data-class") for i in range(buttons.count())] == list(FACADE_CLASSES)
            count = _wait_render(page, 0)  # the starting wall is rendered at once

            # The start: a plain facade wall on background, at the model's input size.
            start = _canvas_pixels(page)
            assert start.shape == (64, 64, 4) and only_palette_colours(start)
            np.testing.assert_array_equal(start[0, 0, :3], colour["background"])
            np.testing.assert_array_equal(start[40, 32, :3], colour["facade"])

            # A rectangle of class "window", dragged from (10, 20) to (30, 40).
            page.locator("#palette button[data-class='window']").click()
            page.check("input[name=tool][value=rect]")
            _drag(page, (10, 20), (30, 40))
            count = _wait_render(page, count)
            pixels = _canvas_pixels(page)
            assert (pixels[20:41, 10:31, :3] == colour["window"]).all()  # the rectangle, both corners included
            np.testing.assert_array_equal(pixels[19, 20, :3], colour["facade"])  # and not beyond it
            np.testing.assert_array_equal(pixels[41, 20, :3], colour["facade"])
            np.testing.assert_array_equal(pixels[30, 31, :3], colour["facade"])
            assert only_palette_colours(pixels)  # crisp: no antialiased in-between colours

            # The output shown is the model's rendering of exactly this label map: the
            # window class's own colour inside the rectangle, the wall's beside it.
            png = bytes(page.evaluate(
                "async () => Array.from(new Uint8Array(await (await fetch("
                "document.getElementById('output').src)).arrayBuffer()))"))
            shown = np.asarray(Image.open(io.BytesIO(png)))
            assert shown.shape == (64, 64, 3)
            np.testing.assert_array_equal(shown, np.asarray(Image.open(io.BytesIO(
                app.translate_bytes(_png(np.ascontiguousarray(pixels[..., :3])))))))
            assert (shown[20:41, 10:31] == shown[30, 20]).all() and (shown[30, 20] != shown[19, 20]).any()

            # The freehand brush, class "door", 4 px wide.
            page.locator("#palette button[data-class='door']").click()
            page.check("input[name=tool][value=brush]")
            page.fill("#size", "4")
            page.dispatch_event("#size", "input")
            _drag(page, (40, 50), (56, 50), steps=8)
            count = _wait_render(page, count)
            pixels = _canvas_pixels(page)
            assert (pixels[49:51, 40:57, :3] == colour["door"]).all()
            np.testing.assert_array_equal(pixels[44, 48, :3], colour["facade"])
            assert only_palette_colours(pixels)

            # Undo takes the door stroke back; clear returns to the plain wall.
            page.click("#undo")
            count = _wait_render(page, count)
            assert not (_canvas_pixels(page)[..., :3] == colour["door"]).all(-1).any()
            page.click("#clear")
            count = _wait_render(page, count)
            np.testing.assert_array_equal(_canvas_pixels(page), start)

            # The example: the first sample, snapped back to exact palette colours.
            page.click("#example")
            count = _wait_render(page, count)
            np.testing.assert_array_equal(_canvas_pixels(page)[..., :3], paint_labels(_facade_class_map()))
            page.screenshot(path=str(tmp_path / "canvas.png"))

            # The upload page is still there, linked from the canvas.
            page.click("text=Upload an image instead.")
            page.wait_for_selector("body[data-ready='1'] #file", timeout=30_000)
        finally:
            browser.close()


# --------------------------------------------------------------------------------------
# Monitoring a deployed model: kerasi2i.deploy.monitoring.DriftMonitor
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
    from kerasi2i.deploy.monitoring import DriftMonitor

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

    from kerasi2i.deploy.monitoring import DriftMonitor

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
