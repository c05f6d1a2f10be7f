"""`kerasi2i serve`: a small local web page to try a trained generator.

    kerasi2i serve --model runs/facades/generator.keras [--port 7860] [--samples sample:labels2photo]

then open http://127.0.0.1:7860. Upload an image (any size, greyscale, RGBA, any format
Pillow reads) or pick a sample; the page shows the input and the translation, which can
be downloaded as PNG. The server is Python's own ``http.server`` (no web framework, no
extra dependencies) and listens on 127.0.0.1 by default: it is a demo for your own
machine, not a production server. For production, export the model (``kerasi2i export``)
and use TensorFlow Serving or a TFLite runtime.

The paint canvas. A labels -> photo facades model (the run's ``config.json`` names a
``facades`` dataset or task, translated ``BtoA``; or ``--canvas facades`` / ``canvas=
"facades"``) gets a paint page instead: a palette of the CMP Facades classes (wall,
window, door, balcony, ...; `kerasi2i.data.facade_classes`), a rectangle tool and a
freehand brush, "clear" (a plain wall on background), "example" (the first sample) and
undo. The canvas has the model's input size and is painted with integer rectangles and
no smoothing, so every pixel is an exact palette colour; after each stroke the page sends
it to ``/api/translate`` and shows the rendered facade beside it. ``/upload`` is the
upload page in either mode. The pages live in ``kerasi2i/deploy/static/``.

HTTP interface (what the pages use; handy with ``curl``):

- ``GET /``: the page (the canvas in canvas mode, else the upload page); ``GET /upload``:
  the upload page;
- ``GET /api/info``: JSON with the model's name, input shape, the sample names, the
  upload limit, the canvas mode (``null`` or ``"facades"``) and its classes and colours;
- ``GET /samples/<i>.png``: sample image ``i``;
- ``POST /api/translate``: the request body is an image file, sent with a
  ``Content-Length``; the answer is the translation as ``image/png`` at the input's size.
  ``curl --data-binary @photo.jpg http://127.0.0.1:7860/api/translate -o out.png``

Hardening. Every error is answered with a status and a one-sentence reason in plain
text, and the server keeps serving:

- a body without ``Content-Length`` (or chunked) gets 411; a ``Content-Length`` that is
  not a plain ASCII number (``-1``, ``abc``, ``١٢``) gets 400; one over ``max_bytes``
  gets 413 before a byte of the body is read; a body shorter than declared gets 400;
- an image whose header declares more than ``max_pixels`` pixels (``--max-pixels``; the
  shared ``kerasi2i.data.checks.MAX_PIXELS`` by default) is refused (400) before it is
  decoded, and at most ``max_decodes`` uploads are decoded and translated at a time
  (one by default), so memory stays bounded by about ``max_connections * max_bytes`` plus
  one decode;
- each connection has a socket timeout (``timeout``, 10 s per read or write) and must
  deliver its request within ``read_deadline`` (60 s), so a slow sender cannot hold a
  thread; at most ``max_connections`` (8) are served at once, and those beyond get 503;
- the ``Host`` header must name the address the server is bound to (``127.0.0.1``,
  ``localhost`` or ``[::1]`` with its port, plus any ``allowed_hosts``), and a POST's
  ``Origin``, when sent, must be this server: a web page that points its own domain name
  at 127.0.0.1 (DNS rebinding) can neither read ``/api/info`` nor post images (403);
- ``--host`` binds elsewhere (``--host 0.0.0.0`` for your LAN), with a printed warning:
  anyone who can reach the port can then use the model; with ``0.0.0.0`` any IP address
  is accepted as ``Host``, a host name only through ``--allow-host``.

Samples (``samples=``): a folder of images; ``sample:NAME`` (the input side of a bundled
sample task's test split); or, by default, the test (else val) inputs of the dataset the
model was trained on, when the model sits in a training output folder with its
``config.json`` (what ``kerasi2i train`` writes); else none.
"""
import io
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import time
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import UnidentifiedImageError

from kerasi2i.data.checks import MAX_PIXELS  # the pixel cap the CLI, the loaders and the server share
from kerasi2i.deploy.inference import FIT_MODES, read_rgb, translate_array
from kerasi2i.imaging import as_uint8, png_bytes
from kerasi2i.training.config import read_run_config

logger = logging.getLogger(__name__)

DEFAULT_PORT = 7860
MAX_SAMPLES = 12
MAX_BYTES = 20 * 1024 * 1024
MAX_DECODES = 1          # uploads decoded and translated at once
MAX_CONNECTIONS = 8      # connections served at once; more get 503 (browsers open 6 per host)
SOCKET_TIMEOUT = 10.0    # seconds a single read or write may wait
READ_DEADLINE = 60.0     # seconds a connection has to deliver its whole request
CANVAS_MODES = ("facades",)
STATIC = Path(__file__).parent / "static"
_TEXT = "text/plain; charset=utf-8"


@lru_cache(maxsize=None)
def _page(name):
    return (STATIC / name).read_bytes()


def _run_config(model_path):
    """The config.json of the training run a generator file belongs to, or None."""
    if model_path is None:
        return None
    model_path = Path(model_path)
    config = read_run_config(model_path if model_path.is_dir() else model_path.parent)
    return config if isinstance(config, dict) else None


def canvas_mode(config):
    """"facades" when a training run's config describes a labels -> photo facades model
    (its data or task names a facades set, not the day/night one, translated BtoA: the
    Berkeley layout is photo | labels); else None."""
    if not config:
        return None
    names = " ".join(str(config.get(key) or "") for key in ("data", "task")).lower()
    if "facades" in names and "night" not in names and config.get("direction") == "BtoA":
        return "facades"
    return None


def load_samples(samples, input_shape, model_path=None, count=MAX_SAMPLES, direction=None):
    """Sample images as a list of ``(name, uint8 array)`` (see the module docstring).

    Of a paired dataset, the side the model reads: ``direction``, else the training run's
    (its ``config.json``), else "AtoB"."""
    from kerasi2i import data as kdata

    config = _run_config(model_path) or {}
    direction = direction or config.get("direction") or "AtoB"
    if samples is None:
        if "data" not in config:
            return []
        samples = config["data"]
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
    images = as_uint8(x)
    label = spec.split(":", 1)[1] if spec.startswith("sample:") else Path(spec).name
    return [(f"{label} {split} #{i}", image) for i, image in enumerate(images)]


def _reason(err):
    """A decoder error as one sentence, without the ``<_io.BytesIO object at 0x...>`` that
    Pillow puts in its messages."""
    if isinstance(err, UnidentifiedImageError):
        return "Not an image Pillow can read (the file format was not recognised)."
    text = re.sub(r"<[^<>]* object at 0x[0-9a-fA-F]+>", "the upload", str(err)).strip() or "no details"
    return f"Not an image Pillow can read ({type(err).__name__}: {text})."


class DemoApp:
    """What the server does, without HTTP: translate uploaded image files to PNG.

    Args:
        generator: a generator ``keras.Model`` (uint8 handling as ``translate_array``).
        samples: list of ``(name, uint8 image)`` offered on the page.
        fit: "resize" or "pad" (``kerasi2i.deploy.inference.translate_array``).
        max_bytes: largest upload accepted.
        max_pixels: largest image (width x height, as its header declares) decoded;
            default `kerasi2i.data.checks.MAX_PIXELS`, shared with the CLI and the loaders.
        max_decodes: uploads decoded and translated at the same time.
        canvas: None (the upload page) or "facades" (the paint canvas; see the module
            docstring).
    """

    def __init__(self, generator, samples=(), fit="resize", max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                 max_decodes=MAX_DECODES, canvas=None):
        if fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}.")
        if canvas is not None and canvas not in CANVAS_MODES:
            raise ValueError(f"canvas must be None or one of {CANVAS_MODES}, got {canvas!r}.")
        if canvas is not None and generator.input_shape[-1] != 3:
            raise ValueError(f"The {canvas} canvas paints RGB label maps; the generator takes "
                             f"{generator.input_shape[-1]} channel(s).")
        if int(max_decodes) < 1:
            raise ValueError(f"max_decodes must be at least 1, got {max_decodes!r}.")
        self.generator = generator
        self.fit = fit
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.canvas = canvas
        self.samples = [(name, png_bytes(image)) for name, image in samples]
        self._decodes = threading.BoundedSemaphore(int(max_decodes))  # bounds decode memory
        self._lock = threading.Lock()  # one translation at a time: Keras models aren't re-entrant

    def info(self):
        info = {"model": self.generator.name, "input_shape": list(self.generator.input_shape[1:]),
                "samples": [name for name, _ in self.samples], "max_bytes": self.max_bytes,
                "canvas": self.canvas}
        if self.canvas == "facades":
            from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE

            info["classes"] = [{"name": name, "color": [int(c) for c in color]}
                               for name, color in zip(FACADE_CLASSES, FACADE_PALETTE)]
        return info

    def page(self, name="/"):
        """The HTML of ``/`` (the canvas in canvas mode) or ``/upload``."""
        return _page("canvas.html" if self.canvas and name == "/" else "upload.html")

    def translate_bytes(self, data):
        """Image file bytes -> PNG bytes of the translation; ValueError for a bad file."""
        with self._decodes:
            try:  # read_rgb checks the size the header declares against max_pixels before decoding
                image = read_rgb(io.BytesIO(data), self.generator.input_shape[-1], max_pixels=self.max_pixels)
            except ValueError:  # ImageTooLargeError among them
                raise
            except Exception as err:  # Pillow raises many types for broken or unknown files
                raise ValueError(_reason(err)) from None
            with self._lock:
                out = translate_array(self.generator, image, fit=self.fit)
            return png_bytes(out)


def _split_host(value):
    """``"name:port"`` / ``"[v6]:port"`` -> (lowercase name, port or None); None if malformed."""
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\[\]:/@\s]+)(?::([0-9]{1,5}))?", value.strip())
    if not match:
        return None
    name = match.group(1).lower().rstrip(".")
    return name.strip("[]"), int(match.group(2)) if match.group(2) else None


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _allowed_names(host, extra=()):
    """The host names a request may use for a server bound to ``host``."""
    host = host.lower().strip("[]")
    names = {host, *(h.lower() for h in extra)}
    loopback = host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
    if loopback or host in ("", "0.0.0.0", "::"):
        names |= {"localhost", "127.0.0.1", "::1"}
    return names


class _Handler(BaseHTTPRequestHandler):
    app = None  # set per server by make_server
    verbose = False
    server_version = "kerasi2i"
    timeout = SOCKET_TIMEOUT   # socketserver applies it to every read and write
    read_deadline = READ_DEADLINE
    allowed_hosts = ()

    # -- connection lifetime ---------------------------------------------------------
    def setup(self):
        super().setup()
        # A slow sender that trickles a byte before each timeout would hold the thread
        # forever: past the deadline the socket is shut, which ends any blocked read.
        self._deadline = threading.Timer(self.read_deadline, self._cut)
        self._deadline.daemon = True
        self._deadline.start()

    def _cut(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _request_read(self):
        """The whole request is in: the deadline no longer applies."""
        self._deadline.cancel()

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away, or was cut off; nothing to answer
        finally:
            self._deadline.cancel()

    # -- replies ---------------------------------------------------------------------
    def _send(self, status, body, content_type=_TEXT):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _host_refusal(self, post):
        """A reason to refuse the request's Host (or a POST's Origin), or None."""
        names = _allowed_names(self.server.server_address[0], (self.server.bound_name, *self.allowed_hosts))
        any_ip = self.server.server_address[0] in ("0.0.0.0", "::")
        port = self.server.server_address[1]

        def ok(value):
            parsed = _split_host(value)
            if parsed is None:
                return False
            name, given_port = parsed
            return (given_port or 80) == port and (name in names or (any_ip and _is_ip(name)))

        host = self.headers.get("Host")
        if not host:
            return "The request has no Host header."
        if not ok(host):
            return (f"Host {host[:100]!r} is not this server's address (use http://"
                    f"{self.server.server_address[0]}:{port}/; other names need --allow-host).")
        origin = self.headers.get("Origin")
        if post and origin is not None and not (origin.startswith("http://") and ok(origin[len("http://"):])):
            return f"Posts from origin {origin[:100]!r} are not accepted; use this server's own page."
        return None

    # -- routes ----------------------------------------------------------------------
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._request_read()
        refusal = self._host_refusal(post=False)
        if refusal:
            return self._send(HTTPStatus.FORBIDDEN, refusal)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html", "/upload"):
            return self._send(HTTPStatus.OK, self.app.page(path), "text/html; charset=utf-8")
        if path == "/api/info":
            return self._send(HTTPStatus.OK, json.dumps(self.app.info()), "application/json")
        if path.startswith("/samples/") and path.endswith(".png"):
            index = path[len("/samples/"):-len(".png")]
            if re.fullmatch(r"[0-9]{1,6}", index) and int(index) < len(self.app.samples):  # ASCII digits only
                return self._send(HTTPStatus.OK, self.app.samples[int(index)][1], "image/png")
        return self._send(HTTPStatus.NOT_FOUND, f"Not found: {path[:200]}")

    def _read_body(self):
        """The request body, or (status, reason) when it cannot or should not be read."""
        if self.headers.get("Transfer-Encoding"):
            return HTTPStatus.LENGTH_REQUIRED, "Send the image with a Content-Length header (no chunked uploads)."
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return HTTPStatus.LENGTH_REQUIRED, "Send the image file as the request body, with a Content-Length header."
        value = values[0].strip()
        if len(values) > 1 or not re.fullmatch(r"[0-9]+", value):
            return (HTTPStatus.BAD_REQUEST,
                    f"Content-Length must be one whole number of bytes in ASCII digits; got {', '.join(values)[:60]!r}.")
        length = int(value[-16:]) if len(value.lstrip("0")) <= 15 else None  # never a 4300-digit int()
        if length is None or length > self.app.max_bytes:
            size = f"{length:,}" if length is not None else f"a {len(value.lstrip('0'))}-digit number of"
            return (HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"The file has {size} bytes; at most {self.app.max_bytes:,} are accepted.")
        if length == 0:
            return HTTPStatus.BAD_REQUEST, "Send an image file as the request body."
        chunks, received = [], 0
        try:
            while received < length:
                chunk = self.rfile.read(min(1 << 16, length - received))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            return HTTPStatus.REQUEST_TIMEOUT, f"The body stalled after {received:,} of {length:,} bytes."
        if received < length:
            return HTTPStatus.BAD_REQUEST, f"The body ended after {received:,} of the {length:,} bytes declared."
        return b"".join(chunks)

    def do_POST(self):  # noqa: N802
        refusal = self._host_refusal(post=True)
        if refusal:
            return self._send(HTTPStatus.FORBIDDEN, refusal)
        if self.path.split("?", 1)[0] != "/api/translate":
            return self._send(HTTPStatus.NOT_FOUND, f"Not found: {self.path[:200]}")
        body = self._read_body()
        self._request_read()
        if isinstance(body, tuple):
            return self._send(*body)
        try:
            png = self.app.translate_bytes(body)
        except ValueError as err:
            return self._send(HTTPStatus.BAD_REQUEST, str(err))
        except Exception as err:  # noqa: BLE001 - the server must keep serving
            return self._send(HTTPStatus.INTERNAL_SERVER_ERROR,
                              f"The translation failed ({type(err).__name__}: {str(err)[:300]}).")
        return self._send(HTTPStatus.OK, png, "image/png")

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)


class _DemoServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a cap on connections served at once."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections=MAX_CONNECTIONS):
        if int(max_connections) < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}.")
        self._slots = threading.BoundedSemaphore(int(max_connections))
        self._refused = []  # (close-by time, socket) of connections answered 503
        self.bound_name = str(address[0]).strip("[]").lower()  # the --host as given ("localhost", a name)
        if ":" in self.bound_name:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)  # starts the handler thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request):
        """Answer 503 without a thread: send, half-close, and keep the socket until the
        client has read the reply (closing with its request unread would reset the
        connection and lose the reply); `service_actions` closes it within a second."""
        body = b"Too many connections at once; try again in a moment."
        try:
            request.setblocking(False)
            request.send(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s" % (len(body), body))
            request.shutdown(socket.SHUT_WR)
        except OSError:
            request.close()
            return
        if len(self._refused) >= 4 * MAX_CONNECTIONS:
            self._refused.pop(0)[1].close()
        self._refused.append((time.monotonic() + 1.0, request))

    def service_actions(self):  # serve_forever calls it between polls
        super().service_actions()
        keep = []
        for deadline, sock in self._refused:
            try:
                done = not sock.recv(1 << 16)  # drain; b"" once the client has closed its side
            except BlockingIOError:
                done = False
            except OSError:
                done = True
            if done or time.monotonic() > deadline:
                sock.close()
            else:
                keep.append((deadline, sock))
        self._refused = keep

    def server_close(self):
        super().server_close()
        for _, sock in self._refused:
            sock.close()
        self._refused = []

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # a dropped connection is not worth a traceback
            super().handle_error(request, client_address)


def make_server(app, host="127.0.0.1", port=DEFAULT_PORT, verbose=False, timeout=SOCKET_TIMEOUT,
                read_deadline=READ_DEADLINE, max_connections=MAX_CONNECTIONS, allowed_hosts=()):
    """An ``http.server.ThreadingHTTPServer`` for ``app`` (a :class:`DemoApp`); port 0
    picks a free port (``server.server_address[1]``). Call ``serve_forever()`` (in a thread
    for tests) and ``shutdown()``; ``server_close()`` frees the port. ``timeout``,
    ``read_deadline``, ``max_connections`` and ``allowed_hosts`` (extra names accepted in
    ``Host``) are described in the module docstring."""
    handler = type("Handler", (_Handler,), {"app": app, "verbose": verbose, "timeout": timeout,
                                            "read_deadline": read_deadline,
                                            "allowed_hosts": tuple(allowed_hosts)})
    return _DemoServer((host, port), handler, max_connections=max_connections)


def host_warning(host, port=DEFAULT_PORT):
    """The warning ``serve`` logs for a ``host`` that is not loopback, or None."""
    name = str(host).strip("[]").lower()
    if name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback):
        return None
    return (f"Warning: serving on {host or '0.0.0.0'}, not 127.0.0.1: anyone who can reach port {port} of "
            f"this machine can use the model. This is a demo server, not one hardened for a network.")


def serve(model, port=DEFAULT_PORT, host="127.0.0.1", samples=None, fit="resize", canvas="auto",
          allowed_hosts=(), max_pixels=MAX_PIXELS, verbose=True):
    """Load ``model`` (a ``.keras`` generator or a training output folder) and serve the
    demo page until Ctrl-C. ``canvas``: "auto" (the paint canvas for a labels -> photo
    facades run, from its ``config.json``), "facades", or None / "none" (the upload page)."""
    from kerasi2i.deploy.inference import generator_file, load_generator

    if canvas not in ("auto", "none", None, *CANVAS_MODES):
        raise ValueError(f"canvas must be 'auto', 'none' or one of {CANVAS_MODES}, got {canvas!r}.")
    path = generator_file(model)
    generator = load_generator(path)
    if canvas == "auto":
        canvas = canvas_mode(_run_config(path))
    canvas = None if canvas == "none" else canvas
    config = _run_config(path) or {}
    # The facades canvas paints label maps: the BtoA side of the Berkeley layout (photo | labels).
    direction = config.get("direction") or ("BtoA" if canvas == "facades" else None)
    app = DemoApp(generator, load_samples(samples, generator.input_shape, path, direction=direction), fit=fit,
                  max_pixels=max_pixels, canvas=canvas)
    server = make_server(app, host, port, verbose=verbose, allowed_hosts=allowed_hosts)
    warning = host_warning(host, server.server_address[1])
    if warning:
        logger.warning(warning)
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else server.server_address[0]
    url = f"http://{shown}:{server.server_address[1]}/"
    mode = f", {canvas} paint canvas" if canvas else ""
    logger.info("Serving %s (%d samples%s) at %s  (Ctrl-C stops)", path, len(app.samples), mode, url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("Stopped.")
    finally:
        server.server_close()
