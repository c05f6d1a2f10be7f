"""`kerasi2i serve`: a small local web page to try a trained generator.

    kerasi2i serve --model runs/facades/generator.keras [--port 7860] [--samples sample:labels2photo]

then open http://127.0.0.1:7860. Upload an image (any size, greyscale, RGBA, any format
Pillow reads) or pick a sample; the page shows the input and the translation, which can
be downloaded as PNG. The server is Python's own ``http.server`` (no web framework, no
extra dependencies) and listens on 127.0.0.1 only: it is a demo for your own machine,
not a production server. For production, export the model (``kerasi2i export``) and use
TensorFlow Serving or a TFLite runtime.

HTTP interface (what the page uses; handy with ``curl``):

- ``GET /``: the page;
- ``GET /api/info``: JSON with the model's name, input shape and the sample names;
- ``GET /samples/<i>.png``: sample image ``i``;
- ``POST /api/translate``: the request body is an image file; the answer is the
  translation as ``image/png`` at the input's size (400 with a message for a file that is
  not an image, 413 for one over ``max_bytes``).
  ``curl --data-binary @photo.jpg http://127.0.0.1:7860/api/translate -o out.png``

Samples (``samples=``): a folder of images; ``sample:NAME`` (the input side of a bundled
sample task's test split); or, by default, the test (else val) inputs of the dataset the
model was trained on, when the model sits in a training output folder with its
``config.json`` (what ``kerasi2i train`` writes); else none.
"""
import io
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from kerasi2i.inference import FIT_MODES, read_rgb, translate_array

DEFAULT_PORT = 7860
MAX_SAMPLES = 12
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kerasi2i demo</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
  .row { display: flex; gap: 2em; flex-wrap: wrap; }
  figure { margin: 0; }
  img { max-width: 384px; min-width: 128px; image-rendering: pixelated; border: 1px solid #ccc; }
  #samples img { max-width: 64px; min-width: 64px; cursor: pointer; margin: 2px; }
  #status.error { color: #b00; }
</style>
</head>
<body>
<h1>kerasi2i: image-to-image translation</h1>
<p>Model <code id="model">...</code>, input <code id="shape">...</code>.
   Upload an image or click a sample.</p>
<p><input type="file" id="file" accept="image/*"></p>
<div id="samples"></div>
<p id="status">Ready.</p>
<div class="row">
  <figure><img id="input" alt="input"><figcaption>input</figcaption></figure>
  <figure><img id="output" alt="translation"><figcaption>translation
    <a id="download" download="translation.png" hidden>download PNG</a></figcaption></figure>
</div>
<script>
const $ = (id) => document.getElementById(id);
function status(text, error) { $("status").textContent = text; $("status").className = error ? "error" : ""; }
async function translate(blob) {
  const output = $("output");
  output.dataset.state = "busy";
  $("input").src = URL.createObjectURL(blob);
  status("Translating...");
  const start = performance.now();
  try {
    const response = await fetch("api/translate", { method: "POST", body: blob });
    if (!response.ok) throw new Error(await response.text());
    const url = URL.createObjectURL(await response.blob());
    output.onload = () => { output.dataset.state = "done"; };
    output.src = url;
    $("download").href = url;
    $("download").hidden = false;
    status(`Translated in ${Math.round(performance.now() - start)} ms.`);
  } catch (err) {
    output.dataset.state = "error";
    status(`Error: ${err.message}`, true);
  }
}
$("file").addEventListener("change", (event) => {
  if (event.target.files.length) translate(event.target.files[0]);
});
fetch("api/info").then((r) => r.json()).then((info) => {
  $("model").textContent = info.model;
  $("shape").textContent = info.input_shape.join(" x ");
  info.samples.forEach((name, i) => {
    const img = document.createElement("img");
    img.src = `samples/${i}.png`;
    img.title = name;
    img.alt = name;
    img.className = "sample";
    img.onclick = async () => translate(await (await fetch(img.src)).blob());
    $("samples").appendChild(img);
  });
  document.body.dataset.ready = "1";
});
</script>
</body>
</html>
"""


def _png_bytes(image):
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def _run_config(model_path):
    """The config.json of the training run a generator file belongs to, or None."""
    if model_path is None:
        return None
    model_path = Path(model_path)
    config = (model_path if model_path.is_dir() else model_path.parent) / "config.json"
    if not config.is_file():
        return None
    try:
        return json.loads(config.read_text())
    except ValueError:
        return None


def load_samples(samples, input_shape, model_path=None, count=MAX_SAMPLES):
    """Sample images as a list of ``(name, uint8 array)`` (see the module docstring)."""
    from kerasi2i import data as kdata

    direction = "AtoB"
    if samples is None:
        config = _run_config(model_path)
        if not config or "data" not in config:
            return []
        samples, direction = config["data"], config.get("direction", "AtoB")
    size, channels = input_shape[1] or 256, input_shape[-1]
    spec = str(samples)
    if spec.startswith("sample:"):
        task = spec.split(":", 1)[1]
        path = kdata.sample_path(task, size if size in kdata.SAMPLE_SIZES else 64)
    else:
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"Samples folder '{path}' does not exist.")
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in kdata.IMAGE_EXTENSIONS)
        if files:
            return [(f.name, read_rgb(f, channels)) for f in files[:count]]
    for split in ("test", "val"):
        try:
            ds = kdata.load_paired(path, split, direction=direction, image_size=size, batch_size=count,
                                   training=False, input_channels=channels)
            break
        except kdata.DatasetError:
            continue
    else:
        raise FileNotFoundError(f"'{path}' has neither image files nor a paired test or val split.")
    x, _ = next(iter(ds))
    images = np.round((np.asarray(x) + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    label = spec.split(":", 1)[1] if spec.startswith("sample:") else Path(spec).name
    return [(f"{label} {split} #{i}", image) for i, image in enumerate(images)]


class DemoApp:
    """What the server does, without HTTP: translate uploaded image files to PNG.

    Args:
        generator: a generator ``keras.Model`` (uint8 handling as ``translate_array``).
        samples: list of ``(name, uint8 image)`` offered on the page.
        fit: "resize" or "pad" (``kerasi2i.inference.translate_array``).
        max_bytes: largest upload accepted.
    """

    def __init__(self, generator, samples=(), fit="resize", max_bytes=MAX_BYTES):
        if fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}.")
        self.generator = generator
        self.fit = fit
        self.max_bytes = max_bytes
        self.samples = [(name, _png_bytes(image)) for name, image in samples]
        self._lock = threading.Lock()  # one translation at a time: a demo, and Keras models aren't re-entrant

    def info(self):
        return {"model": self.generator.name, "input_shape": list(self.generator.input_shape[1:]),
                "samples": [name for name, _ in self.samples]}

    def translate_bytes(self, data):
        """Image file bytes -> PNG bytes of the translation; ValueError for a bad file."""
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ValueError(f"The image has {im.width}x{im.height} pixels; at most {MAX_PIXELS:,} are accepted.")
            image = read_rgb(io.BytesIO(data), self.generator.input_shape[-1])
        except ValueError:
            raise
        except Exception as err:  # Pillow raises many types for broken or unknown files
            raise ValueError(f"Not an image Pillow can read ({type(err).__name__}: {err}).") from None
        with self._lock:
            out = translate_array(self.generator, image, fit=self.fit)
        return _png_bytes(out)


class _Handler(BaseHTTPRequestHandler):
    app = None  # set per server by make_server
    verbose = False
    server_version = "kerasi2i"

    def _send(self, status, body, content_type):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, PAGE, "text/html; charset=utf-8")
        if path == "/api/info":
            return self._send(HTTPStatus.OK, json.dumps(self.app.info()), "application/json")
        if path.startswith("/samples/") and path.endswith(".png"):
            index = path[len("/samples/"):-len(".png")]
            if index.isdigit() and int(index) < len(self.app.samples):
                return self._send(HTTPStatus.OK, self.app.samples[int(index)][1], "image/png")
        return self._send(HTTPStatus.NOT_FOUND, f"Not found: {path}", "text/plain; charset=utf-8")

    def do_POST(self):  # noqa: N802
        if self.path.split("?", 1)[0] != "/api/translate":
            return self._send(HTTPStatus.NOT_FOUND, f"Not found: {self.path}", "text/plain; charset=utf-8")
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.app.max_bytes:
            return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"The file has {length:,} bytes; at most {self.app.max_bytes:,} are accepted.",
                              "text/plain; charset=utf-8")
        if length == 0:
            return self._send(HTTPStatus.BAD_REQUEST, "Send an image file as the request body.",
                              "text/plain; charset=utf-8")
        data = self.rfile.read(length)
        try:
            png = self.app.translate_bytes(data)
        except ValueError as err:
            return self._send(HTTPStatus.BAD_REQUEST, str(err), "text/plain; charset=utf-8")
        return self._send(HTTPStatus.OK, png, "image/png")

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)


def make_server(app, host="127.0.0.1", port=DEFAULT_PORT, verbose=False):
    """An ``http.server.ThreadingHTTPServer`` for ``app`` (a :class:`DemoApp`); port 0
    picks a free port (``server.server_address[1]``). Call ``serve_forever()`` (in a thread
    for tests) and ``shutdown()``; ``server_close()`` frees the port."""
    handler = type("Handler", (_Handler,), {"app": app, "verbose": verbose})
    return ThreadingHTTPServer((host, port), handler)


def serve(model, port=DEFAULT_PORT, host="127.0.0.1", samples=None, fit="resize", verbose=True):
    """Load ``model`` (a ``.keras`` generator or a training output folder) and serve the
    demo page until Ctrl-C."""
    from kerasi2i.inference import generator_file, load_generator

    path = generator_file(model)
    generator = load_generator(path)
    app = DemoApp(generator, load_samples(samples, generator.input_shape, path), fit=fit)
    server = make_server(app, host, port, verbose=verbose)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}/"
    print(f"Serving {path} ({len(app.samples)} samples) at {url}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        server.server_close()
