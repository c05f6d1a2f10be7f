"""Procedural facades: a facade grammar, its CMP-style label maps, and photo-like renders.

The pix2pix paper's `facades` task (CMP Facades: label map <-> photo of a building front)
cannot ship with a package, and a real-photo stand-in with eight photos cannot be learned.
This module makes an offline twin of it that a model *can* learn in minutes on a CPU:

1. `generate_facade(seed)` draws one building from a small grammar: a roof line over sky,
   floors and bays, windows of one style per building (frames, sills, mouldings,
   pediments, shutters or roller blinds), balconies, string-course cornices, pilasters, a
   ground floor with shop fronts or doors. The result is a list of labelled rectangles in
   CMP's 12 classes (`kerasi2i.data.facade_classes`), in paint order.
2. `render_labels(facade, size)` rasterises them into the label map, painted with CMP's
   colours.
3. `render_photo(facade, size, night=False)` rasterises the same rectangles, in the same
   order, and shades every pixel by its class at twice the size: tinted brick and plaster
   from real CC0 textures (scikit-image's `brick` and `gravel`), glass with reflections
   cut from the bundled real photos, a colour palette per building, directional light,
   soft shadows under cornices, sills and balconies, then a 2x2 box downsample, sensor
   noise and a JPEG round trip. `night=True` renders the same building at night: dark
   sky, lit shop fronts, light falling off from the street, and lit windows by a rule
   that the day photo shows: every window is lit except those with a roller blind down
   (so day -> night is a function a model can learn, not a guess at random lights).

Because a photo pixel's class is the class of the label-map pixel it lies in (the boxes
are rasterised once, at the label map's resolution), the label map and the render agree
by construction. Everything is a function of the seed (numpy's
`RandomState`), so a rebuild is byte-identical.

    >>> f = generate_facade(7)
    >>> labels = render_labels(f, 128)           # (128, 128, 3) uint8, CMP colours
    >>> photo = render_photo(f, 128)             # (128, 128, 3) uint8
    >>> night = render_photo(f, 128, night=True) # the same building at night
"""
import io
from functools import lru_cache

import numpy as np
from PIL import Image

from kerasi2i.data.facade_classes import FACADE_CLASSES, FACADE_PALETTE

BG, FACADE, WINDOW, DOOR, CORNICE, SILL, BALCONY, BLIND, DECO, MOLDING, PILLAR, SHOP = range(len(FACADE_CLASSES))

# Wall colours (linear-ish sRGB in [0, 1]) a building is drawn from: plasters, ochres,
# terracotta, sandstone, greys, brick reds.
_WALL_COLOURS = np.array([
    [0.86, 0.80, 0.68], [0.80, 0.66, 0.45], [0.74, 0.48, 0.34], [0.88, 0.86, 0.82],
    [0.66, 0.64, 0.60], [0.78, 0.72, 0.58], [0.62, 0.36, 0.26], [0.90, 0.78, 0.62],
    [0.72, 0.76, 0.70], [0.84, 0.70, 0.62], [0.55, 0.52, 0.50], [0.93, 0.90, 0.80],
])
_STONE_COLOURS = np.array([[0.92, 0.90, 0.84], [0.82, 0.78, 0.70], [0.70, 0.68, 0.64], [0.96, 0.95, 0.92]])
_SHUTTER_COLOURS = np.array([[0.20, 0.38, 0.25], [0.45, 0.30, 0.18], [0.55, 0.58, 0.60], [0.25, 0.32, 0.45],
                             [0.75, 0.74, 0.70], [0.55, 0.20, 0.16]])
_DOOR_COLOURS = np.array([[0.35, 0.20, 0.10], [0.18, 0.14, 0.12], [0.20, 0.28, 0.22], [0.45, 0.15, 0.12],
                          [0.25, 0.25, 0.30]])
_SIGN_COLOURS = np.array([[0.70, 0.12, 0.10], [0.10, 0.25, 0.50], [0.12, 0.35, 0.18], [0.15, 0.15, 0.15],
                          [0.85, 0.70, 0.20]])
# Photos the glass reflects (all bundled sources with no known copyright restrictions).
_REFLECTION_PHOTOS = ("rocket", "astronaut", "coffee", "chelsea")


class Facade:
    """One procedural building: labelled rectangles in paint order plus its style.

    `rects` is a list of `(class_id, x0, y0, x1, y1, element)` in [0, 1] image
    coordinates (x right, y down); `element` is an index into `elements`, a list of dicts
    with the per-element style (`kind`, colours, flags such as `lit`). `style` holds the
    building-wide colours and materials.
    """

    def __init__(self, seed):
        self.seed = int(seed)
        self.rects = []
        self.elements = []
        self.style = {}

    def add(self, cls, x0, y0, x1, y1, **attrs):
        self.elements.append(dict(attrs, cls=cls, box=(x0, y0, x1, y1)))
        self.rects.append((cls, x0, y0, x1, y1, len(self.elements) - 1))

    def __repr__(self):
        return f"Facade(seed={self.seed}, rects={len(self.rects)})"


def _choice(rng, array):
    return np.asarray(array[rng.randint(len(array))], dtype=np.float64)


def _jitter(rng, colour, amount=0.05):
    return np.clip(colour + rng.uniform(-amount, amount, 3), 0.0, 1.0)


def generate_facade(seed):
    """Draw one building from the facade grammar (deterministic in `seed`)."""
    rng = np.random.RandomState(seed)
    f = Facade(seed)
    wall = _jitter(rng, _choice(rng, _WALL_COLOURS), 0.04)
    stone = _jitter(rng, _choice(rng, _STONE_COLOURS), 0.03)
    material = ["plaster", "brick", "stone"][rng.choice(3, p=[0.55, 0.3, 0.15])]
    if material == "brick":
        wall = _jitter(rng, np.array([0.62, 0.33, 0.24]) * rng.uniform(0.85, 1.15), 0.05)
    f.style = {
        "wall": wall, "stone": stone, "material": material,
        "frame": _jitter(rng, _choice(rng, [[0.95, 0.95, 0.93], [0.30, 0.22, 0.15], [0.20, 0.22, 0.24],
                                            [0.85, 0.82, 0.74]]), 0.03),
        "shutter": _jitter(rng, _choice(rng, _SHUTTER_COLOURS), 0.04),
        "light_dir": rng.uniform(-1.0, 1.0),    # sun from the left (<0) or right (>0)
        "sky_top": _jitter(rng, np.array([0.45, 0.62, 0.85]), 0.06),
        "neighbour": _jitter(rng, _choice(rng, _WALL_COLOURS) * 0.8, 0.05),
        "texture_offset": (rng.randint(0, 256), rng.randint(0, 256)),
        "texture_scale": rng.uniform(0.7, 1.3),
    }

    # Background: sky over the roof line, neighbouring buildings at the sides.
    f.add(BG, 0.0, 0.0, 1.0, 1.0, kind="sky")
    left = rng.uniform(0.0, 0.08) if rng.rand() < 0.6 else 0.0
    right = 1.0 - (rng.uniform(0.0, 0.08) if rng.rand() < 0.6 else 0.0)
    roof = rng.uniform(0.02, 0.14)
    bottom = 1.0 if rng.rand() < 0.7 else rng.uniform(0.94, 0.98)
    if left > 0:
        f.add(BG, 0.0, rng.uniform(0.0, 0.3), left, 1.0, kind="neighbour")
    if right < 1.0:
        f.add(BG, right, rng.uniform(0.0, 0.3), 1.0, 1.0, kind="neighbour")
    if bottom < 1.0:
        f.add(BG, 0.0, bottom, 1.0, 1.0, kind="street")
    f.add(FACADE, left, roof, right, bottom, kind="wall")

    width = right - left
    n_floors = rng.randint(3, 7)
    n_bays = rng.randint(2, 7)
    roof_cornice = rng.uniform(0.02, 0.04) if rng.rand() < 0.8 else 0.0
    ground_h = (bottom - roof - roof_cornice) * rng.uniform(0.2, 0.3)
    upper_top = roof + roof_cornice
    upper_bottom = bottom - ground_h
    floor_h = (upper_bottom - upper_top) / (n_floors - 1)
    bay_w = width / n_bays

    # Pilasters between bays.
    pillars = rng.rand() < 0.3
    pillar_w = bay_w * rng.uniform(0.08, 0.14)
    if pillars:
        for b in range(n_bays + 1):
            x = left + b * bay_w
            x0, x1 = max(left, x - pillar_w / 2), min(right, x + pillar_w / 2)
            if x1 - x0 > 0.004:
                f.add(PILLAR, x0, upper_top, x1, upper_bottom, kind="pillar")

    # String courses between upper floors.
    courses = rng.rand() < 0.45
    course_h = rng.uniform(0.008, 0.016)

    # One window style for the whole building.
    win_w = bay_w * rng.uniform(0.36, 0.58)
    win_h = floor_h * rng.uniform(0.5, 0.7)
    win_y = floor_h * rng.uniform(0.15, 0.28)       # top of window below the floor line
    has_sill = rng.rand() < 0.75
    has_molding = rng.rand() < 0.45
    has_deco = rng.rand() < 0.3
    blinds = ["none", "shutters", "roller"][rng.choice(3, p=[0.45, 0.3, 0.25])]
    balcony_floors = set()
    if rng.rand() < 0.55:
        kind = rng.randint(3)
        if kind == 0:
            balcony_floors = {1}
        elif kind == 1:
            balcony_floors = set(range(1, n_floors - 1))
        else:
            balcony_floors = {int(i) for i in rng.choice(range(1, n_floors - 1), size=min(2, n_floors - 2),
                                                         replace=False)}
    balcony_continuous = rng.rand() < 0.4
    muntins = rng.randint(0, 3)   # 0: none, 1: vertical bar, 2: cross

    for floor in range(n_floors - 1):  # upper floors, top (0) to bottom
        y_floor = upper_top + floor * floor_h
        if courses and floor > 0:
            f.add(CORNICE, left, y_floor - course_h / 2, right, y_floor + course_h / 2, kind="course")
        y0, y1 = y_floor + win_y, y_floor + win_y + win_h
        floor_balcony = (floor + 1) in balcony_floors or (floor == n_floors - 2 and 1 in balcony_floors and
                                                          n_floors == 3)
        for b in range(n_bays):
            cx = left + (b + 0.5) * bay_w
            x0, x1 = cx - win_w / 2, cx + win_w / 2
            if has_molding:
                m = win_w * 0.12
                f.add(MOLDING, x0 - m, y0 - m, x1 + m, y1 + (0 if has_sill else m), kind="molding")
            if has_deco:
                f.add(DECO, x0 - win_w * 0.15, y0 - win_h * 0.22, x1 + win_w * 0.15, y0 - win_w * 0.12 *
                      has_molding, kind="pediment")
            if blinds == "shutters":
                sw = win_w * 0.48
                f.add(BLIND, x0 - sw, y0, x0, y1, kind="shutter", open_side="left")
                f.add(BLIND, x1, y0, x1 + sw, y1, kind="shutter", open_side="right")
            rng.rand(), rng.uniform(0.0, 1.0)  # draws kept so that every day render stays as it was
            f.add(WINDOW, x0, y0, x1, y1, kind="window", lit=True, muntins=muntins,
                  reflection=int(rng.randint(1 << 30)))
            if blinds == "roller" and rng.rand() < 0.6:
                # the night rule, visible by day: a window with its roller blind down stays dark
                f.elements[-1]["lit"] = False
                f.add(BLIND, x0, y0, x1, y0 + win_h * rng.uniform(0.2, 0.8), kind="roller")
            if has_sill:
                f.add(SILL, x0 - win_w * 0.08, y1, x1 + win_w * 0.08, y1 + max(0.008, win_h * 0.07), kind="sill")
            if floor_balcony and not balcony_continuous:
                f.add(BALCONY, x0 - win_w * 0.15, y1 - win_h * 0.35, x1 + win_w * 0.15, y1 + win_h * 0.06,
                      kind="balcony")
        if floor_balcony and balcony_continuous:
            f.add(BALCONY, left, y1 - win_h * 0.35, right, y1 + win_h * 0.06, kind="balcony")

    if roof_cornice:
        f.add(CORNICE, left, roof, right, roof + roof_cornice, kind="roof")
    # Cornice over the ground floor.
    if rng.rand() < 0.7:
        f.add(CORNICE, left, upper_bottom - 0.012, right, upper_bottom + 0.006, kind="course")

    # Ground floor: shop fronts or a door among windows.
    g0 = upper_bottom + 0.01
    shops = rng.rand() < 0.55
    door_bay = rng.randint(n_bays)
    sign = _jitter(rng, _choice(rng, _SIGN_COLOURS), 0.04)
    door_colour = _jitter(rng, _choice(rng, _DOOR_COLOURS), 0.04)
    for b in range(n_bays):
        bx0, bx1 = left + b * bay_w, left + (b + 1) * bay_w
        if b == door_bay:
            dw = bay_w * rng.uniform(0.38, 0.55)
            cx = (bx0 + bx1) / 2
            top = g0 + ground_h * rng.uniform(0.12, 0.3)
            if rng.rand() < 0.5:
                f.add(MOLDING, cx - dw / 2 - dw * 0.1, top - dw * 0.1, cx + dw / 2 + dw * 0.1, bottom, kind="molding")
            f.add(DOOR, cx - dw / 2, top, cx + dw / 2, bottom, kind="door", colour=door_colour,
                  glass=bool(rng.rand() < 0.3))
        elif shops:
            inset = bay_w * 0.06
            rng.rand()  # a draw kept so that every day render stays as it was
            f.add(SHOP, bx0 + inset, g0 + ground_h * 0.05, bx1 - inset, bottom - ground_h * 0.03, kind="shop",
                  sign=sign, lit=True, reflection=int(rng.randint(1 << 30)))
        else:
            ww = bay_w * rng.uniform(0.4, 0.6)
            cx = (bx0 + bx1) / 2
            rng.rand(), rng.uniform(0.0, 1.0)  # draws kept so that every day render stays as it was
            f.add(WINDOW, cx - ww / 2, g0 + ground_h * 0.2, cx + ww / 2, g0 + ground_h * 0.75, kind="window",
                  lit=True, muntins=muntins, reflection=int(rng.randint(1 << 30)))
    return f


# ---------------------------------------------------------------------------------------
# Rasterising
# ---------------------------------------------------------------------------------------

def _span(a, b, n):
    """Pixel index range [i0, i1) whose centres (i + 0.5) / n lie in [a, b)."""
    i0 = int(np.ceil(a * n - 0.5))
    i1 = int(np.ceil(b * n - 0.5))
    return max(0, i0), min(n, i1)


def _raster(facade, n):
    """(n, n) class map and element map, painting the rectangles in order."""
    classes = np.zeros((n, n), np.int64)
    elements = np.zeros((n, n), np.int32)
    boxes = []
    for cls, x0, y0, x1, y1, element in facade.rects:
        c0, c1 = _span(x0, x1, n)
        r0, r1 = _span(y0, y1, n)
        boxes.append((r0, r1, c0, c1))
        if r1 > r0 and c1 > c0:
            classes[r0:r1, c0:c1] = cls
            elements[r0:r1, c0:c1] = element
    return classes, elements, boxes


def facade_class_map(facade, size):
    """The (size, size) integer class map of a facade (ids into `FACADE_CLASSES`)."""
    return _raster(facade, size)[0]


def render_labels(facade, size):
    """The CMP-style label map of a facade, uint8 (size, size, 3)."""
    return FACADE_PALETTE[facade_class_map(facade, size)]


@lru_cache(maxsize=None)
def _texture(name):
    import skimage.data

    grey = getattr(skimage.data, name)().astype(np.float64) / 255.0
    return (grey - grey.mean()) / (grey.std() + 1e-8)   # zero mean, unit variance


@lru_cache(maxsize=None)
def _reflection_photo(name):
    from kerasi2i.data.samples import load_source_photo

    photo = load_source_photo(name).astype(np.float64) / 255.0
    return photo


def _tile(texture, shape, offset, scale):
    """A (h, w) window of a texture, tiled, nearest sampled at `scale`."""
    h, w = shape
    rows = ((np.arange(h) * scale).astype(np.int64) + offset[0]) % texture.shape[0]
    cols = ((np.arange(w) * scale).astype(np.int64) + offset[1]) % texture.shape[1]
    return texture[rows[:, None], cols[None, :]]


def _reflection(seed, h, w):
    """A crop of a real photo, resized to (h, w), as what a pane of glass reflects."""
    rng = np.random.RandomState(seed % (1 << 31))
    photo = _reflection_photo(_REFLECTION_PHOTOS[rng.randint(len(_REFLECTION_PHOTOS))])
    ph, pw = photo.shape[:2]
    ch = rng.randint(ph // 3, ph)   # a large crop shrunk into the pane: a blurred, distant reflection
    cw = max(1, int(ch * w / max(h, 1)))
    cw = min(cw, pw)
    top, left = rng.randint(0, ph - ch + 1), rng.randint(0, pw - cw + 1)
    rows = top + (np.arange(h) * ch / max(h, 1)).astype(np.int64)
    cols = left + (np.arange(w) * cw / max(w, 1)).astype(np.int64)
    return photo[rows[:, None], cols[None, :]]


def _local(r0, r1, c0, c1):
    """Coordinates in [0, 1) inside a box, as (v, u) arrays of shape (h, 1) and (1, w)."""
    v = (np.arange(r1 - r0)[:, None] + 0.5) / max(r1 - r0, 1)
    u = (np.arange(c1 - c0)[None, :] + 0.5) / max(c1 - c0, 1)
    return v, u


def _frame_mask(v, u, thickness_v, thickness_u):
    return (v < thickness_v) | (v > 1 - thickness_v) | (u < thickness_u) | (u > 1 - thickness_u)


def _shade_element(el, box, n, style, night, rng, out, emit):
    """Colour one element's box in `out` (n, n, 3); add its own light to `emit` at night."""
    r0, r1, c0, c1 = box
    h, w = r1 - r0, c1 - c0
    if h <= 0 or w <= 0:
        return
    kind = el["kind"]
    v, u = _local(r0, r1, c0, c1)
    region = out[r0:r1, c0:c1]
    px = 1.0 / n   # one pixel in image units

    if kind == "sky":
        yy = (np.arange(r0, r1)[:, None] + 0.5) / n
        top = style["sky_top"] if not night else np.array([0.02, 0.03, 0.08])
        horizon = np.array([0.85, 0.88, 0.92]) if not night else np.array([0.10, 0.09, 0.12])
        t = np.clip(yy / 0.5, 0, 1)[..., None]
        region[:] = top * (1 - t) + horizon * t
    elif kind == "neighbour":
        tex = _tile(_texture("gravel"), (h, w), (r0, c0 + 100), 1.0)
        region[:] = style["neighbour"] * (0.9 + 0.05 * tex)[..., None] * 0.85
    elif kind == "street":
        tex = _tile(_texture("gravel"), (h, w), (r0, c0), 1.0)
        region[:] = np.array([0.35, 0.35, 0.36]) * (1 + 0.12 * tex)[..., None]
    elif kind == "wall":
        scale = style["texture_scale"] * 512 / (2 * n) * 2
        if style["material"] == "brick":
            tex = _tile(_texture("brick"), (h, w), style["texture_offset"], scale)
            region[:] = style["wall"] * (1 + 0.18 * tex)[..., None]
        elif style["material"] == "stone":
            tex = _tile(_texture("gravel"), (h, w), style["texture_offset"], scale)
            region[:] = style["wall"] * (1 + 0.07 * tex)[..., None]
        else:
            tex = _tile(_texture("gravel"), (h, w), style["texture_offset"], scale * 0.5)
            region[:] = style["wall"] * (1 + 0.035 * tex)[..., None]
    elif kind == "pillar":
        # a pilaster: lit on the side facing the sun, shaded on the other, edged by a groove
        side = (u - 0.5) * np.sign(style["light_dir"] + 1e-9)
        shade = 1.0 + 0.25 * side
        shade = np.where((u < 0.12) | (u > 0.88), 0.7, shade)
        region[:] = _accent(style) * shade[..., None] * np.ones((h, 1, 1))
    elif kind in ("course", "roof"):
        top_light = np.where(v < 0.3, 1.08, 0.92)
        region[:] = style["stone"] * top_light[..., None] * np.ones((1, w, 1))
    elif kind == "molding":
        # a bevelled frame: a dark outer groove, then a lit profile
        inner = np.minimum(np.minimum(v, 1 - v), np.minimum(u, 1 - u))
        bevel = np.where(inner < 0.03, 0.62, 1.12 - 0.25 * np.clip(inner * 6, 0, 1))
        region[:] = _accent(style) * bevel[..., None]
    elif kind == "pediment":
        # a triangular pediment in relief over a dark shadowed band, with carved texture
        tri = np.abs(u - 0.5) * 2 < (v * 1.2 + 0.2)
        base = np.where(tri, 1.15, 0.7)
        base = np.where(v > 0.8, 0.55, base)
        tex = _tile(_texture("gravel"), (h, w), (r0, c0), 1.0)
        region[:] = _accent(style) * (base * (1 + 0.12 * tex))[..., None]
    elif kind == "sill":
        region[:] = style["stone"] * np.where(v < 0.4, 1.1, 0.9)[..., None] * np.ones((1, w, 1))
    elif kind == "shutter":
        slats = 0.85 + 0.15 * (np.sin(v * np.pi * 2 * max(3, h // 3)) > 0)
        edge = _frame_mask(v, u, 0.04, 0.1)
        colour = style["shutter"] * np.where(edge, 0.8, slats)[..., None]
        region[:] = colour
    elif kind == "roller":
        slats = 0.92 + 0.08 * (np.sin(v * np.pi * 2 * max(2, h // 3)) > 0)
        region[:] = np.array([0.78, 0.76, 0.72]) * slats[..., None] * np.ones((1, w, 1))
    elif kind in ("window", "shop"):
        refl = _reflection(el["reflection"], h, w)
        grey = refl.mean(axis=-1, keepdims=True)
        refl = grey + 0.5 * (refl - grey)
        if kind == "shop":
            sign_h = 0.22
            glass_v = np.clip((v - sign_h) / (1 - sign_h), 0, 1)
        else:
            glass_v = v
        if night:
            if el.get("lit"):
                warm = np.array([0.985, 0.798, 0.477])  # one warm indoor light for every window
                glow = (0.75 + 0.25 * (1 - np.abs(u - 0.5) * 2)) * (0.8 + 0.2 * glass_v)
                glass = warm * glow[..., None]
            else:
                glass = 0.04 + 0.06 * refl
        else:
            glass = 0.08 + 0.36 * refl * (0.6 + 0.4 * (1 - glass_v))[..., None]
            glass = glass * np.array([0.92, 0.97, 1.05])
        colour = np.broadcast_to(glass, (h, w, 3)).copy()
        frame_u = max(1.5 * px / max(el["box"][2] - el["box"][0], 1e-6), 0.07)
        frame_v = max(1.5 * px / max(el["box"][3] - el["box"][1], 1e-6), 0.05)
        frame = _frame_mask(v, u, frame_v, frame_u)
        if kind == "window":
            m = el.get("muntins", 0)
            if m >= 1:
                frame |= np.abs(u - 0.5) < frame_u * 0.5
            if m >= 2:
                frame |= np.abs(v - 0.45) < frame_v * 0.5
            frame_colour = style["frame"] * (0.25 if night else 1.0)
        else:
            sign = v < 0.22
            frame_colour = np.array([0.15, 0.15, 0.16]) * (0.5 if night else 1.0)
            sign_colour = el["sign"] * (1.1 if night and el.get("lit") else (0.3 if night else 1.0))
            colour[np.broadcast_to(sign, (h, w))] = sign_colour
            frame &= ~sign
        colour[frame] = frame_colour
        # recess shadow along the top and the side away from the light
        recess = np.clip(1 - v / 0.12, 0, 1) * 0.35
        colour *= (1 - recess)[..., None]
        region[:] = colour
        if night and el.get("lit"):
            emit[r0:r1, c0:c1] = np.maximum(emit[r0:r1, c0:c1], 0.8 if kind == "window" else 1.0)
    elif kind == "door":
        base = el["colour"]
        panel = (np.abs(u - 0.5) > 0.06) & (_frame_mask(v, u, 0.08, 0.14) == False)  # noqa: E712
        if el.get("glass"):
            colour = np.where(panel[..., None] & (v < 0.6)[..., None], 0.12, base)
        else:
            colour = base * np.where(panel, 0.8, 1.05)[..., None]
        region[:] = np.broadcast_to(colour, (h, w, 3)) * np.clip(0.7 + 0.3 * v, 0, 1)[..., None]
    elif kind == "balcony":
        behind = region * 0.55
        bar_every = max(3, int(round(0.012 * n)))
        cols = np.arange(c0, c1)[None, :]
        bars = (cols % bar_every) == 0
        rail = (v < 0.12) | (v > 0.85)
        metal = np.array([0.12, 0.12, 0.13])
        mask = bars | rail
        region[:] = np.where(mask[..., None], metal, behind)
    else:  # pragma: no cover - every kind above is generated
        raise ValueError(f"Unknown facade element kind {kind!r}.")


def _accent(style):
    """The stone of mouldings, pilasters and ornaments, kept visibly apart from the wall."""
    stone, wall = style["stone"], style["wall"]
    if np.abs(stone - wall).mean() < 0.12:
        return np.clip(stone * 0.8 if wall.mean() > 0.6 else stone * 1.15, 0, 1)
    return stone


def _soft_shadow(casters, length):
    """Darkening below every caster pixel, falling off over `length` pixels."""
    shadow = np.zeros(casters.shape, np.float64)
    for k in range(1, length + 1):
        weight = (1 - (k - 1) / length) ** 2
        shadow[k:] = np.maximum(shadow[k:], casters[:-k] * weight)
    return shadow


def _box_down(image, factor):
    h, w = image.shape[:2]
    return image.reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def render_photo(facade, size, night=False, supersample=2, jpeg_quality=80):
    """A photo-like render of `facade`, uint8 (size, size, 3); `night=True` for night."""
    # The geometry is rasterised once, at the label map's resolution, and every box is
    # scaled up by `supersample` for shading: each photo pixel shows exactly the class of
    # its label-map pixel (the agreement is by construction), while the shading inside
    # the boxes (frames, muntins, slats, textures) is computed at the finer resolution.
    n = size * supersample
    coarse, _, coarse_boxes = _raster(facade, size)
    classes = np.repeat(np.repeat(coarse, supersample, axis=0), supersample, axis=1)
    boxes = [tuple(supersample * b for b in box) for box in coarse_boxes]
    style = facade.style
    rng = np.random.RandomState((facade.seed * 2 + int(night)) % (1 << 31))
    out = np.zeros((n, n, 3), np.float64)
    emit = np.zeros((n, n), np.float64)
    for (cls, *_rest), box, el in zip(facade.rects, boxes, facade.elements):
        _shade_element(el, box, n, style, night, rng, out, emit)

    building = classes != BG
    yy = (np.arange(n)[:, None] + 0.5) / n
    xx = (np.arange(n)[None, :] + 0.5) / n
    # Soft shadows under cornices, sills and balconies (their bottom rows cast).
    casters = np.isin(classes, (CORNICE, SILL, BALCONY, DECO)).astype(np.float64)
    casters[1:] *= 1 - casters[:-1] * 0  # keep the whole caster (cheap, and looks right)
    edge = casters.copy()
    edge[:-1] = casters[:-1] * (1 - casters[1:])  # the bottom row of each caster
    shadow = _soft_shadow(edge, max(2, int(0.025 * n)))
    shadow *= (classes != CORNICE) & (classes != SILL)
    if night:
        # Ambient moonlight, street light falling off with height, window light spilling out.
        street = np.exp(-(1.0 - yy) / 0.22)
        light = 0.07 + 0.55 * street * np.ones_like(xx)
        spill = _blur(emit, max(2, n // 40))
        light = light + 0.6 * spill
        tint = np.array([0.9, 0.85, 1.15]) * 0.35 + np.array([1.0, 0.75, 0.45]) * 0.65
        lit = out * (light[..., None] * tint) * (1 - 0.5 * shadow[..., None])
        lit = np.where(emit[..., None] > 0, out, lit)              # lit windows emit, not reflect
        lit = np.where(building[..., None], lit, out * (0.6 + 0.4 * street[..., None]))
        out = lit
    else:
        sun = 1.0 + 0.08 * style["light_dir"] * (xx - 0.5) * 2 - 0.05 * (yy - 0.5)
        out = out * (sun * (1 - 0.45 * shadow))[..., None] * np.where(building, 1.0, 1.0)[..., None]
    image = _box_down(out, supersample)
    image = image + rng.normal(0.0, 0.012 if not night else 0.02, image.shape)
    image = np.round(np.clip(image, 0, 1) ** (1 / 1.1) * 255).astype(np.uint8)
    if jpeg_quality:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=jpeg_quality, subsampling=0)
        image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return image


def _blur(image, radius):
    """Separable box blur applied twice (a cheap soft glow)."""
    from scipy.ndimage import uniform_filter

    return uniform_filter(uniform_filter(image, size=2 * radius + 1, mode="constant"), size=2 * radius + 1,
                          mode="constant")


def day_night_pairs(seeds, size):
    """Day and night renders of the same buildings: two uint8 arrays (n, size, size, 3).

    The paired training data that an unpaired task withholds, for a supervised upper bound
    (pix2pix on day -> night). Use seeds that the test split does not use, e.g.
    `kerasi2i.data.samples.facade_seeds("trainA", size)`: the day photos CycleGAN trains on,
    now with their own night. About 10 s for 500 buildings at 64 px on 2 CPU cores (notebook
    03 measures it).
    """
    days, nights = [], []
    for seed in seeds:
        building = generate_facade(seed)
        days.append(render_photo(building, size))
        nights.append(render_photo(building, size, night=True))
    if not days:
        raise ValueError(f"`seeds` must name at least one building; received {seeds!r}")
    return np.stack(days), np.stack(nights)
