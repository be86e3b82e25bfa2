"""The HTML report of a conformance run: ``pytest --impl PATH --report-html report.html``.

One self-contained page (inline CSS, every image a base64 PNG data URI, no
external resource; a Content-Security-Policy forbids loading any, and lets only
the page's own script run: a copy button for each reproducer). It shows the
run's header, the verdict table (system x check), and for every failed system its
failures: the diagnosis in words first, the loss, the gradient tensor by tensor,
the failure message and the reproducer.

The heat map of a failure draws every parameter tensor of its gradient as a grid
(a vector or a scalar as one row; the scalars of a graph together in one row) and
colours each entry by

    ratio = |received - expected| / atol

on a log scale: grey where ratio <= 1 (within the tolerance the harness applied,
lighter the smaller), warm beyond it (orange at the tolerance to dark red), purple
where the received entry is not finite. One colour scale per failure, since its
tensors share one atol. Small grids carry every entry's received and expected
value in their cells; in every grid the worst entries beyond tolerance are ringed
and numbered as in the table of worst entries under the image. A grid too large to
show one cell per entry (a 512 x 256 weight) is drawn in blocks, each block
coloured by the *worst* entry in it, so one wrong entry among 131,072 still shows.

``render(doc)`` takes the conformance document (docs/conformance-schema.md) with
each system's ``failures`` (conftest.py) and returns the page; ``write`` writes it
atomically. Anything that came from the implementation or from a failure message
is HTML-escaped.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backprop_harness import write_atomically
from backprop_harness.protocol import CHECKS
from fixtures import SYSTEMS

__all__ = ["render", "write", "MAX_PLOTTED", "MAX_DETAILED"]

# Caps that keep the page small and its rendering fast however broken the
# implementation: per system, heat maps for the first MAX_PLOTTED failures whose
# gradients differ from an earlier failure's (an image is 10-70 kB and 30-60 ms; a
# system's failures mostly share one bug, whose pattern a few maps show); a failure
# with the same gradients as an earlier one links to its map. Full details for the
# first MAX_DETAILED failures, the rest listed by test id.
MAX_PLOTTED = 6
MAX_DETAILED = 40
MAX_TEXT = 20_000          # characters of one message or reproducer shown
TOP = 6                    # worst entries per failure: numbered in the image and tabled

STATUS_CLASS = {"pass": "pass", "fail": "fail", "not provided": "np", "not tested": "nt"}
EXIT_MEANING = {0: "every provided system passed", 1: "some test failed", 2: "interrupted",
                3: "internal error", 4: "usage error", 5: "no tests collected"}

# The colour scale, in log10(ratio). Below LO (a thousandth of the tolerance, exact
# equality included) every entry gets the lightest grey.
LO = -3.0
GREYS = ((0.965, 0.965, 0.965), (0.74, 0.75, 0.77))                      # ratio 1e-3 .. 1
WARM = ((0.0, (0.996, 0.722, 0.388)), (0.35, (0.957, 0.427, 0.263)),    # ratio 1 .. 10^hi
        (0.7, (0.843, 0.188, 0.153)), (1.0, (0.40, 0.0, 0.05)))
NONFINITE = (0.37, 0.24, 0.60)
DPI = 120


# ---------------------------------------------------------------- the numbers

def _array(obj) -> np.ndarray | None:
    """A report array ({"shape", "data"}, row-major, non-finite numbers as "nan",
    "inf", "-inf") as float64; None when absent or malformed."""
    if not isinstance(obj, dict):
        return None
    try:
        shape = tuple(int(n) for n in obj.get("shape", ()))
        return np.asarray(obj.get("data"), dtype=float).reshape(shape)
    except (TypeError, ValueError):
        return None


def _number(x) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


@dataclass
class Tensor:
    """One parameter's gradient, received against expected. ``shown`` is the
    received tensor brought to the expected shape when it can be (transposed,
    reshaped), ``ratio`` = |shown - expected| / atol (inf where either is not finite)."""
    name: str
    expected: np.ndarray | None
    received: np.ndarray | None
    shown: np.ndarray | None = None
    note: str = ""
    ratio: np.ndarray | None = None
    nonfinite: np.ndarray | None = None

    @property
    def beyond(self) -> int:
        return 0 if self.ratio is None else int(np.count_nonzero(self.ratio > 1))

    @property
    def max_abs(self) -> float | None:
        if self.ratio is None:
            return None
        diff = np.abs(self.shown - self.expected)
        finite = diff[np.isfinite(diff)]
        return float(finite.max()) if finite.size else None

    @property
    def max_ratio(self) -> float | None:
        return None if self.ratio is None or not self.ratio.size else float(self.ratio.max())


def _shape(shape) -> str:
    return "scalar" if len(shape) == 0 else str(tuple(int(n) for n in shape))


def _compare(name: str, expected, received, atol: float) -> Tensor:
    """Bring the received tensor to the expected one's shape where that is
    meaningful and measure every entry's error against atol."""
    t = Tensor(name, expected, received)
    if expected is None:
        t.note = "no expected value recorded"
        return t
    if received is None:
        t.note = "received: not a numeric array (missing, None or not numbers); not drawn"
        return t
    es, rs = expected.shape, received.shape
    if rs == es:
        t.shown = received
    elif expected.ndim == 2 and rs == es[::-1]:
        t.shown = received.T
        t.note = (f"received shape {_shape(rs)}, expected {_shape(es)}: exactly the transpose; "
                  f"compared and drawn transposed back")
    elif received.size == expected.size:
        t.shown = received.reshape(es)
        t.note = (f"received shape {_shape(rs)}, expected {_shape(es)}: the same number of entries, "
                  f"compared in row-major order")
    else:
        t.note = (f"received shape {_shape(rs)}, expected {_shape(es)}: "
                  f"cannot be compared entry by entry; not drawn")
        return t
    t.nonfinite = ~np.isfinite(t.shown) | ~np.isfinite(expected)
    with np.errstate(all="ignore"):
        diff = np.abs(t.shown - expected)
        if atol > 0 and math.isfinite(atol):
            ratio = diff / atol
        else:                                  # no usable tolerance: any difference is beyond it
            ratio = np.where(diff > 0, np.inf, 0.0)
    t.ratio = np.where(t.nonfinite, np.inf, ratio)
    return t


@dataclass
class Worst:
    """One entry beyond tolerance: its rank among the failure's worst, tensor, index."""
    rank: int
    tensor: Tensor
    flat: int

    @property
    def index(self) -> tuple:
        return tuple(int(i) for i in np.unravel_index(self.flat, self.tensor.expected.shape))

    @property
    def label(self) -> str:
        idx = self.index
        return f"dL/d{self.tensor.name}" + (f"[{', '.join(map(str, idx))}]" if idx else "")


def _worst(tensors: list[Tensor], top: int = TOP) -> list[Worst]:
    """The failure's worst entries beyond tolerance, non-finite first, then by ratio."""
    found = []
    for t in tensors:
        if t.ratio is None or not t.ratio.size:
            continue
        flat = t.ratio.ravel()
        beyond = np.flatnonzero(flat > 1)
        if beyond.size > top:
            beyond = beyond[np.argpartition(-flat[beyond], top - 1)[:top]]
        found += [(float(flat[k]), t, int(k)) for k in beyond]
    found.sort(key=lambda e: -e[0])           # stable: ties keep the parameters' order
    return [Worst(i + 1, t, k) for i, (_, t, k) in enumerate(found[:top])]


# ---------------------------------------------------------------- the colours

def _ramp(stops, t: np.ndarray) -> np.ndarray:
    at = [s for s, _ in stops]
    return np.stack([np.interp(t, at, [c[i] for _, c in stops]) for i in range(3)], axis=-1)


def _rgb(log_ratio: np.ndarray, hi: float) -> np.ndarray:
    """Colour of log10(ratio): greys up to 0 (the tolerance), warm above, up to hi."""
    v = np.clip(np.nan_to_num(log_ratio, nan=hi, posinf=hi, neginf=LO), LO, hi)
    grey = _ramp(((0.0, GREYS[0]), (1.0, GREYS[1])), (np.minimum(v, 0) - LO) / -LO)
    warm = _ramp(WARM, np.maximum(v, 0) / hi)
    return np.where((v > 0)[..., None], warm, grey)


def _log_ratio(ratio: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(ratio)


def _dark(rgb) -> bool:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] < 0.45


def _num(x: float, digits: int = 4) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def _full(x) -> str:
    """Every digit of a float (repr), as the reproducer prints it."""
    x = _number(x)
    if x is None:
        return "—"
    return _num(x) if not math.isfinite(x) else repr(x)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(k: int) -> str:
    return "1" if k == 0 else "10" + str(k).translate(_SUPERSCRIPT)


# ---------------------------------------------------------------- the heat map
#
# Each image is one bare matplotlib Axes measured in inches from the top-left corner,
# every grid, mark and the colour bar placed by hand, and its labels set by Pillow
# on the finished pixels (Pillow is what matplotlib writes its PNGs with). Why:
# matplotlib 3.11 lays out and renders text glyph by glyph, 2-3 ms a label; the 49
# labels of a small failure (two 2x3 weights, two biases) took 130 of its 165 ms,
# Pillow sets them in 15 ms. An Axes with ticks would cost another 30-45 ms a grid.

MAX_PLOT_W, MAX_PLOT_H = 6.0, 3.0       # inches of one grid
MIN_CELL_PX = 3                         # a display cell of a large grid is never thinner
MAX_LABELLED = 16                       # grids up to this many entries carry every value
CELL_LABELLED = (0.9, 0.46)             # inches of a cell that carries two values
CALLOUT = 0.19                          # inches of one line naming a worst entry under a large grid
TEXT, MUTED = "#1f2328", "#57606a"


@dataclass
class Panel:
    """One grid of the heat map: a tensor, or the scalars together, as rows x cols
    entries (``ratio`` NaN where no received value exists), drawn in cells of
    ``block`` entries (rows, cols) each."""
    title: str
    tensors: list[Tensor]
    ratio: np.ndarray
    nonfinite: np.ndarray
    shown: np.ndarray
    expected: np.ndarray
    col_labels: list[str] | None = None
    block: tuple = (1, 1)
    labelled: bool = False
    cell: tuple = (0.0, 0.0)              # inches of a display cell
    margins: tuple = (0.0, 0.0, 0.0)      # left, top, bottom, inches
    width: float = 0.0                    # inches of the whole box, title included
    callouts: list = field(default_factory=list)

    @property
    def cells(self) -> tuple[int, int]:
        (rows, cols), (br, bc) = self.ratio.shape, self.block
        return math.ceil(rows / br), math.ceil(cols / bc)

    @property
    def height(self) -> float:
        return self.margins[1] + self.cells[0] * self.cell[1] + self.margins[2]

    def position(self, w: Worst) -> tuple[int, int] | None:
        """Row and column (entries) of one of the failure's worst entries, if in this grid."""
        for i, t in enumerate(self.tensors):
            if t is w.tensor:
                return (0, i) if self.col_labels is not None else divmod(w.flat, self.ratio.shape[1])
        return None


def _panels(tensors: list[Tensor], worst: list[Worst]) -> list[Panel]:
    """The grids to draw: a matrix as it is, a vector or an (n, 1) column as one
    row, a tensor of three or more axes as shape[0] rows, the scalars together as
    one row named by their parameters (the leaves of a graph)."""
    panels, scalars = [], []
    for t in tensors:
        if t.expected is not None and t.expected.ndim == 0:
            if not scalars:
                panels.append(None)               # the scalars' row goes where the first scalar is
            scalars.append(t)
            continue
        if t.ratio is None or not t.ratio.size:
            continue
        shape = t.expected.shape
        if t.expected.ndim == 1 or (t.expected.ndim == 2 and shape[1] == 1):
            rows, how = 1, "" if t.expected.ndim == 1 or shape[0] == 1 else ", as a row"
        else:
            rows, how = shape[0], "" if t.expected.ndim == 2 else f", as {shape[0]} rows"
        if t.received is not None and t.received.shape != shape:
            how += ", received transposed back" if t.expected.ndim == 2 and t.received.shape == shape[::-1] \
                else f", received {_shape(t.received.shape)} reshaped"
        grid = {k: getattr(t, k).reshape(rows, -1) for k in ("ratio", "nonfinite", "shown", "expected")}
        panels.append(Panel(f"dL/d{t.name}  {_shape(shape)}{how}", [t], **grid))
    if scalars:
        def row(what):
            return np.array([[np.nan if getattr(t, what) is None else float(getattr(t, what)) for t in scalars]])
        panels[panels.index(None)] = Panel(
            "scalars", scalars, row("ratio"), row("nonfinite") == 1, row("shown"), row("expected"),
            col_labels=[t.name for t in scalars])
    for p in panels:
        _layout(p, worst)
    return panels


def _layout(p: Panel, worst: list[Worst]):
    rows, cols = p.ratio.shape
    bc = math.ceil(cols / int(MAX_PLOT_W * DPI / MIN_CELL_PX))
    br = math.ceil(rows / int(MAX_PLOT_H * DPI / MIN_CELL_PX))
    # a matrix keeps its aspect: one block size for both axes
    p.block = (1, bc) if rows == 1 else (max(br, bc),) * 2
    r, c = p.cells
    p.labelled = p.block == (1, 1) and r * c <= (12 if p.col_labels else MAX_LABELLED)
    if p.labelled:
        p.cell = CELL_LABELLED
    else:
        side = min(MAX_PLOT_W / c, MAX_PLOT_H / r, 0.3)
        p.cell = (side, max(side, 0.24) if r <= 3 else side)
    if p.block != (1, 1):
        p.title += " · a cell: the worst of " + (f"{p.block[1]} entries" if rows == 1 else
                                                f"{p.block[0]}×{p.block[1]}")
    p.callouts = [] if p.labelled else [w for w in worst if p.position(w) is not None]
    turned = p.col_labels and not p.labelled      # names too many for the cells: written turned
    longest = max(len(s) for s in p.col_labels) if p.col_labels else 0
    p.margins = (0.36 if rows > 1 else 0.08, 0.3, 0.1 + (0.07 * longest if turned else 0.17)
                 + CALLOUT * len(p.callouts))
    p.width = max(p.margins[0] + c * p.cell[0] + 0.15, 0.075 * len(p.title) + 0.2,
                  max((0.062 * len(_callout(w)) + 0.3 for w in p.callouts), default=0))


def _callout(w: Worst) -> str:
    t = w.tensor
    return (f"{w.rank}  {w.label}: received {_num(float(t.shown.ravel()[w.flat]))}, "
            f"expected {_num(float(t.expected.ravel()[w.flat]))}")


def _pool(p: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ratio, non-finite and missing per display cell: the worst of its block."""
    missing = np.isnan(p.ratio) & ~p.nonfinite
    if p.block == (1, 1):
        return p.ratio, p.nonfinite, missing
    (br, bc), (rows, cols), (r, c) = p.block, p.ratio.shape, p.cells

    def blocks(a, fill):
        padded = np.full((r * br, c * bc), fill, dtype=a.dtype)
        padded[:rows, :cols] = a
        return padded.reshape(r, br, c, bc)
    return (blocks(np.nan_to_num(p.ratio, nan=0.0), 0.0).max(axis=(1, 3)),
            blocks(p.nonfinite, False).any(axis=(1, 3)), blocks(missing, False).any(axis=(1, 3)))


def _ticks(n: int, block: int) -> list[int]:
    """Indices to write along an axis of n entries: every one when each has its cell, else a few."""
    if block == 1 and n <= 12:
        return list(range(n))
    step = max(1, n // 4)
    return sorted({*range(0, n - step // 2, step), n - 1})


class _Sheet:
    """A figure measured in inches from its top-left corner: matplotlib draws the
    grids and marks, Pillow the labels, on the same pixels (x_px = x * DPI)."""

    ANCHOR = {"left": "l", "center": "m", "right": "r", "top": "a", "bottom": "d"}

    def __init__(self, width: float, height: float):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)   # the object API: no pyplot state, thread-safe, nothing to close
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(height, 0)
        self.labels = []

    def image(self, rgb: np.ndarray, x: float, y: float, w: float, h: float):
        self.ax.imshow(rgb, extent=(x, x + w, y + h, y), interpolation="nearest", aspect="auto")

    def box(self, x: float, y: float, w: float, h: float, **kw):
        from matplotlib.patches import Rectangle
        # added to the figure, not the Axes: clipping each artist to an Axes costs ~0.7 ms
        self.fig.add_artist(Rectangle((x, y), w, h, transform=self.ax.transData, **kw))

    def line(self, xs, ys, **kw):
        from matplotlib.lines import Line2D
        self.fig.add_artist(Line2D(xs, ys, transform=self.ax.transData, **kw))

    def text(self, x: float, y: float, s: str, size: float = 7, color=TEXT, ha: str = "left", va: str = "center",
             bold: bool = False, turned: bool = False, boxed: str | None = None, linespacing: float = 1.2):
        """A label at (x, y) inches, aligned by ha and va; boxed: "round" (a white box
        with a black edge) or "plain" (a white box)."""
        self.labels.append((x, y, s, size, color, ha, va, bold, turned, boxed, linespacing))

    def png(self) -> bytes:
        from PIL import Image, ImageDraw
        self.canvas.draw()
        picture = Image.fromarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
        draw = ImageDraw.Draw(picture)
        for x, y, s, size, color, ha, va, bold, turned, boxed, linespacing in self.labels:
            font = _font(size, bold)
            fill = _rgb255(color)
            at = (x * DPI, y * DPI)
            anchor = self.ANCHOR[ha] + self.ANCHOR.get(va, "m")
            spacing = round((linespacing - 1) * size * DPI / 72 + 1)
            if turned:                             # a name read upwards, its end at (x, y)
                w, h = draw.textbbox((0, 0), s, font=font)[2:]
                stamp = Image.new("L", (w + 2, h + 2), 0)
                ImageDraw.Draw(stamp).text((1, 1), s, font=font, fill=255)
                stamp = stamp.rotate(90, expand=True)
                corner = (round(at[0] - stamp.width / 2), round(at[1]))
                picture.paste(Image.new("RGB", stamp.size, fill), corner, stamp)
                continue
            if boxed:
                left, top, right, bottom = draw.multiline_textbbox(at, s, font=font, anchor=anchor, spacing=spacing)
                pad = 2
                draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill="white",
                               outline="black" if boxed == "round" else None)
            draw.multiline_text(at, s, font=font, fill=fill, anchor=anchor, align=ha, spacing=spacing)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return buffer.getvalue()


_FONTS: dict = {}


def _font(size: float, bold: bool):
    """matplotlib's own DejaVu Sans, at size points for DPI."""
    key = (size, bold)
    if key not in _FONTS:
        import matplotlib
        from PIL import ImageFont
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        _FONTS[key] = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name),
                                         size * DPI / 72, layout_engine=ImageFont.Layout.BASIC)
    return _FONTS[key]


def _rgb255(color) -> tuple:
    if isinstance(color, str):
        if color == "white":
            return (255, 255, 255)
        if color == "black":
            return (0, 0, 0)
        return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(round(255 * float(c))) for c in color[:3])


def _draw_panel(sheet: _Sheet, x0: float, y0: float, p: Panel, hi: float, worst: list[Worst]):
    """Draw one grid with its box's top-left corner at (x0, y0) inches, its title above."""
    left, top, _ = p.margins
    gx, gy = x0 + left, y0 + top
    (r, c), (cw, ch), (br, bc) = p.cells, p.cell, p.block
    rows, cols = p.ratio.shape
    ratio, nonfinite, missing = _pool(p)
    rgb = _rgb(_log_ratio(ratio), hi)
    rgb[nonfinite] = NONFINITE
    rgb[missing] = (1.0, 1.0, 1.0)
    sheet.image(rgb, gx, gy, c * cw, r * ch)
    sheet.box(gx, gy, c * cw, r * ch, fill=False, edgecolor="#8c959f", linewidth=0.6)
    sheet.text(gx, y0 + 0.06, p.title, size=8.5, va="top", ha="left")
    turned = bool(p.col_labels) and not p.labelled
    for k in range(cols) if p.col_labels else _ticks(cols, bc):
        sheet.text(gx + (k + 0.5) / bc * cw, gy + r * ch + 0.04, p.col_labels[k] if p.col_labels else str(k),
                   ha="center", va="top", color=MUTED, turned=turned)
    if rows > 1:
        for k in _ticks(rows, br):
            sheet.text(gx - 0.05, gy + (k + 0.5) / br * ch, str(k), ha="right", va="center", color=MUTED)
    for i, j in zip(*np.nonzero(missing)):
        sheet.box(gx + j * cw, gy + i * ch, cw, ch, fill=False, hatch="////", edgecolor="#8c959f", linewidth=0)
    if p.labelled:
        for i in range(rows):
            for j in range(cols):
                if missing[i, j]:
                    text, colour = "no value", TEXT
                else:
                    text = f"{_num(p.shown[i, j])}\n({_num(p.expected[i, j])})"
                    colour = "white" if nonfinite[i, j] or _dark(rgb[i, j]) else TEXT
                sheet.text(gx + (j + 0.5) * cw, gy + (i + 0.5) * ch, text, size=7.5, ha="center", va="center",
                           color=colour, linespacing=1.2)
    for w in worst:                             # ring (or box) and number the failure's worst entries
        at = p.position(w)
        if at is None:
            continue
        i, j = at[0] // br, at[1] // bc
        if p.labelled:
            sheet.box(gx + j * cw, gy + i * ch, cw, ch, fill=False, edgecolor="black", linewidth=1.5)
            sheet.text(gx + j * cw + 0.05, gy + i * ch + 0.05, str(w.rank), size=6.5, bold=True, ha="left",
                       va="top", boxed="plain")
        else:
            cx, cy = gx + (j + 0.5) * cw, gy + (i + 0.5) * ch
            sheet.line([cx], [cy], marker="o", markersize=8, markerfacecolor="none", markeredgecolor="black",
                       markeredgewidth=1.2)
            sheet.text(cx + 0.08, cy - 0.08, str(w.rank), bold=True, ha="left", va="bottom", boxed="round")
    y = gy + r * ch + p.margins[2] - CALLOUT * len(p.callouts)
    for w in p.callouts:                         # a large grid: its worst entries' values written under it
        sheet.text(gx, y, _callout(w), ha="left", va="top")
        y += CALLOUT


def _draw_colour_bar(sheet: _Sheet, x0: float, y0: float, height: float, hi: float, nonfinite: bool,
                     missing: bool):
    width = 0.16
    sheet.text(x0, y0, "|received − expected|\n/ atol", size=7.5, va="top", ha="left", linespacing=1.15)
    top = y0 + 0.36
    sheet.image(_rgb(np.linspace(hi, LO, 128)[:, None], hi), x0, top, width, height)
    sheet.box(x0, top, width, height, fill=False, edgecolor="#8c959f", linewidth=0.6)

    def at(k):
        return top + (hi - k) / (hi - LO) * height
    # the ends and the tolerance, and a decade half-way up the warm side when there is room
    for k in sorted({int(LO), 0, int(hi)} | ({int(hi) // 2} if hi >= 4 else set())):
        sheet.line([x0 + width, x0 + width + 0.05], [at(k)] * 2, color=MUTED, linewidth=0.6)
        sheet.text(x0 + width + 0.08, at(k), _decade(k) + (" = atol" if k == 0 else ""), va="center", ha="left",
                   bold=k == 0)
    sheet.line([x0 - 0.04, x0 + width + 0.05], [at(0)] * 2, color="black", linewidth=1.2)
    y = top + height + 0.14
    for show, face, hatch, label in ((nonfinite, NONFINITE, None, "not finite"),
                                     (missing, "white", "////", "no value")):
        if show:
            sheet.box(x0, y, width, 0.14, facecolor=face, hatch=hatch, edgecolor="#8c959f", linewidth=0.6)
            sheet.text(x0 + width + 0.08, y + 0.07, label, va="center", ha="left")
            y += 0.22


def heat_map_png(tensors: list[Tensor], worst: list[Worst]) -> bytes | None:
    """The failure's heat map as PNG bytes; None when no tensor can be drawn."""
    panels = _panels(tensors, worst)
    if not panels:
        return None
    top = max((float(t.ratio[np.isfinite(t.ratio)].max(initial=0.0)) for t in tensors if t.ratio is not None),
              default=0.0)
    hi = float(min(max(1, math.ceil(math.log10(top))), 20) if top > 1 else 1)
    # flow layout: grids left to right, wrapping at row_width; the colour bar on the right
    row_width, bar_width, gap = 6.6, 1.6, 0.12
    lines, line, used = [], [], 0.0
    for p in panels:
        if line and used + p.width > row_width:
            lines.append(line)
            line, used = [], 0.0
        line.append(p)
        used += p.width + gap
    lines.append(line)
    heights = [max(p.height for p in ln) for ln in lines]
    missing = any(np.isnan(p.ratio).any() for p in panels)
    nonfinite = any(p.nonfinite.any() for p in panels)
    legend = 0.14 + 0.22 * (missing + nonfinite)
    bar_height = min(max(sum(heights) - 0.5 - legend, 0.9), 2.2)
    width = 0.1 + max(sum(p.width + gap for p in ln) for ln in lines) + bar_width
    height = max(sum(heights), bar_height + 0.5 + legend) + 0.1
    sheet = _Sheet(width, height)
    y = 0.08
    for ln, h in zip(lines, heights):
        x = 0.1
        for p in ln:
            _draw_panel(sheet, x, y, p, hi, worst)
            x += p.width + gap
        y += h
    _draw_colour_bar(sheet, width - bar_width + 0.05, 0.1, bar_height, hi, nonfinite, missing)
    return sheet.png()


# ---------------------------------------------------------------- the page

def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters: the whole text is in pytest's output)"


def _cell(counts) -> tuple[str, str, str]:
    """A verdict-table cell: css class, main text, detail."""
    if not isinstance(counts, dict) or not counts:
        return "none", "–", ""
    passed, failed = int(counts.get("passed", 0)), int(counts.get("failed", 0))
    extra = ", ".join(f"{int(counts[k])} {k}" for k in ("not provided", "not run", "skipped")
                      if counts.get(k) and (passed or failed or k != "not provided"))
    if failed:
        return "fail", f"{failed} of {passed + failed} failed", extra
    if passed:
        return "pass", f"{passed}/{passed} passed", extra
    if counts.get("not provided"):
        return "np", "not provided", extra
    return "nt", "not run", extra


def _ok(doc: dict) -> bool:
    """The run's verdict: no failed system, no load error, and a clean exit where one is known."""
    systems = doc.get("systems") or {}
    failed = any(isinstance(v, dict) and v.get("status") == "fail" for v in systems.values())
    loaded = not (doc.get("implementation") or {}).get("load_error")
    return loaded and not failed and doc.get("exit_status") in (0, None)


def _header(doc: dict) -> str:
    impl = doc.get("implementation") or {}
    exit_status = doc.get("exit_status")
    systems = doc.get("systems") or {}
    failed = [s for s, v in systems.items() if isinstance(v, dict) and v.get("status") == "fail"]
    passed = [s for s, v in systems.items() if isinstance(v, dict) and v.get("status") == "pass"]
    unchanged = doc.get("fixtures_unchanged")
    ok = _ok(doc)
    if impl.get("load_error"):
        verdict = "the implementation could not be loaded"
    elif failed:
        verdict = f"{len(failed)} of {len(systems)} systems fail: " + ", ".join(failed)
    elif not ok and unchanged is not False:
        verdict = f"the run did not finish cleanly (exit status {exit_status})"
    elif passed:
        verdict = "every provided system passes: " + ", ".join(passed)
    else:
        verdict = "no system was checked"
    if unchanged is False:
        verdict += "; the run changed fixtures/"
    rows = [("implementation", impl.get("label")), ("file", impl.get("file")), ("version", impl.get("version")),
            ("provides", ", ".join(map(str, impl.get("provides") or [])) or None),
            ("generated", doc.get("generated")), ("Hypothesis profile", doc.get("hypothesis_profile")),
            ("oracles", ", ".join(map(str, doc.get("oracles") or [])) or None)]
    if exit_status is not None:
        rows.append(("exit status", f"{exit_status} ({EXIT_MEANING.get(exit_status, 'see pytest')})"))
    if unchanged is not None:
        changes = doc.get("fixture_changes") or []
        rows.append(("fixtures", "unchanged" if unchanged else "CHANGED by the run and restored: "
                     + "; ".join(map(str, changes))))
    items = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v) if v not in (None, '') else '<span class=muted>—</span>'}"
                    f"</td></tr>" for k, v in rows)
    out = (f'<header class="banner {"pass" if ok else "fail"}"><p class="kicker">backprop-harness conformance '
           f'report</p><h1>{"PASS" if ok else "FAIL"}: {_e(verdict)}</h1>'
           f'<table class="facts">{items}</table>')
    if impl.get("load_error"):
        out += f'<h3 class="bad">Load error</h3><pre class="error">{_e(_clip(str(impl["load_error"])))}</pre>'
    return out + "</header>"


def _verdict_table(doc: dict, checks: tuple) -> str:
    systems = doc.get("systems") or {}
    names = [s for s in SYSTEMS if s in systems] + [s for s in systems if s not in SYSTEMS]
    extra = sorted({c for s in names if isinstance(systems[s], dict)
                    for c in (systems[s].get("checks") or {}) if c not in checks})
    columns = list(checks) + extra
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for s in names:
        info = systems[s] if isinstance(systems[s], dict) else {}
        status = str(info.get("status", "not tested"))
        link = f'<a href="#sys-{_e(s)}">{_e(s)}</a>' if status == "fail" else _e(s)
        cells = []
        for c in columns:
            cls, main, detail = _cell((info.get("checks") or {}).get(c))
            cells.append(f'<td class="c-{cls}">{_e(main)}' + (f'<small>{_e(detail)}</small>' if detail else "")
                         + "</td>")
        body.append(f'<tr><th class="sys">{link}</th><td><span class="badge {STATUS_CLASS.get(status, "nt")}">'
                    f'{_e(status)}</span></td>{"".join(cells)}</tr>')
    notes = []
    ops = systems["scalar_graph"].get("operations") if isinstance(systems.get("scalar_graph"), dict) \
        else None
    if isinstance(ops, dict):
        missing = ops.get("missing") or {}
        notes.append("scalar_graph: Value operations tested: " + _e(", ".join(map(str, ops.get("tested") or [])))
                     + "; missing: " + (_e("; ".join(f"{k} ({v})" for k, v in missing.items())) or "none"))
    return (f'<section><h2>Verdict per system</h2><div class="scroll"><table class="verdicts"><thead><tr>'
            f'<th>system</th><th>verdict</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="legend">Each cell: the tests of that check by outcome. A failed system is a link to its '
            f'failures. – : no such check for the system.</p>'
            + "".join(f'<p class="note">{n}</p>' for n in notes) + "</section>")


def _diagnosis_box(diagnosis, words: dict) -> str:
    if not isinstance(diagnosis, dict):
        return ('<div class="diagnosis none">No diagnosis for this failure: the harness names a cause when an '
                'answer is a wrong number, not for a crash, a wrong type or shape, or a fixture problem.</div>')
    codes = [str(c) for c in diagnosis.get("codes") or []]
    text = diagnosis.get("words") or "; ".join(f"{c}: {words.get(c, '')}" for c in codes)
    cls = "unknown" if codes == ["unknown"] else ""
    chips = "".join(f'<code class="chip">{_e(c)}</code>' for c in codes)
    return (f'<div class="diagnosis {cls}"><div class="label">Diagnosis</div><p class="words">{_e(text)}</p>'
            f'<div class="codes">{chips}</div></div>')


def _loss_line(g: dict, atol: float) -> str:
    loss = g.get("loss") if isinstance(g.get("loss"), dict) else {}
    what = "output" if g.get("case") == "GraphCase" else "loss"
    expected, received = _number(loss.get("expected")), loss.get("received")
    received_n = _number(received)
    if received is None:
        verdict, cls = "no number received", "bad"
    elif received_n is None or not math.isfinite(received_n):
        verdict, cls = "not a finite number", "bad"
    elif expected is None:
        verdict, cls = "", ""
    else:
        err = abs(received_n - expected)
        within = err <= atol if atol > 0 else err == 0
        verdict = (f"abs err {_num(err, 3)}, " if err else "identical, ") + \
            ("within tolerance" if within else f"{_num(err / atol if atol > 0 else math.inf, 3)} × atol")
        cls = "ok" if within else "bad"
    return (f'<p class="loss"><b>{what}</b>: expected <code>{_e(_full(loss.get("expected")))}</code>, received '
            f'<code>{_e(_full(received) if received_n is not None or received is None else received)}</code>'
            f' <span class="{cls}">{_e(verdict)}</span></p>')


def _tensor_table(tensors: list[Tensor]) -> str:
    rows = []
    for t in tensors:
        es = _shape(t.expected.shape) if t.expected is not None else "—"
        rs = _shape(t.received.shape) if t.received is not None else "—"
        if t.ratio is None:
            beyond, worst_abs, worst_ratio, cls = "—", "—", "—", "bad"
        else:
            n_nonfinite = int(t.nonfinite.sum())
            beyond = f"{t.beyond} of {t.ratio.size}" + (f" ({n_nonfinite} non-finite)" if n_nonfinite else "")
            worst_abs = _num(t.max_abs, 3)
            worst_ratio = _num(t.max_ratio, 3)
            cls = "bad" if t.beyond else "ok"
        rows.append(f'<tr class="{cls}{" noted" if t.note else ""}"><td><code>dL/d{_e(t.name)}</code></td>'
                    f'<td>{_e(es)}</td><td>{_e(rs)}</td><td>{_e(beyond)}</td><td>{_e(worst_abs)}</td>'
                    f'<td>{_e(worst_ratio)}</td></tr>')
        if t.note:                             # how the shapes relate, on a line of its own
            rows.append(f'<tr class="{cls} note-row"><td></td><td colspan="5">{_e(t.note)}</td></tr>')
    return ('<table class="tensors"><thead><tr><th>gradient</th><th>expected shape</th><th>received shape</th>'
            '<th>beyond tolerance</th><th>max |err|</th><th>max |err| / atol</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _worst_table(worst: list[Worst]) -> str:
    if not worst:
        return ""
    rows = []
    for w in worst:
        t = w.tensor
        e, r = float(t.expected.ravel()[w.flat]), float(t.shown.ravel()[w.flat])
        err = abs(r - e) if math.isfinite(r) and math.isfinite(e) else math.nan
        ratio = float(t.ratio.ravel()[w.flat])
        rows.append(f'<tr><td class="rank">{w.rank}</td><td><code>{_e(w.label)}</code></td>'
                    f'<td><code>{_e(_full(e))}</code></td><td><code>{_e(_full(r))}</code></td>'
                    f'<td>{_e(_num(err, 3))}</td><td>{_e("non-finite" if not math.isfinite(r) else _num(ratio, 3))}'
                    f'</td></tr>')
    return ('<table class="worst"><caption>Worst entries (numbered as in the heat map)</caption><thead><tr><th>#</th>'
            '<th>entry</th><th>expected</th><th>received</th><th>|err|</th><th>|err| / atol</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _fingerprint(tensors: list[Tensor], atol: float) -> str:
    """Equal for failures with the same gradients (the posts' worked examples often share one)."""
    h = hashlib.sha256(repr(atol).encode())
    for t in tensors:
        for a in (t.expected, t.received):
            h.update(b"-" if a is None else repr(a.shape).encode() + a.tobytes())
    h.update(repr([t.name for t in tensors]).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass
class _Budget:
    """Heat maps drawn so far in one system, and the images already made (by gradients)."""
    seen: dict = field(default_factory=dict)      # _fingerprint -> anchor of the failure that drew them


def _gradients(g: dict, anchor: str, budget: _Budget) -> str:
    atol = _number(g.get("atol"))
    atol = atol if atol is not None else 0.0
    tensors = []
    for p in g.get("parameters") or []:
        if isinstance(p, dict):
            tensors.append(_compare(str(p.get("name", "?")), _array(p.get("expected")), _array(p.get("received")),
                                    atol))
    worst = _worst(tensors)
    out = [f'<div class="gradients"><p class="atol">Gradients ({_e(g.get("case"))}, '
           f'<code>{_e(g.get("fn"))}</code>), against the tolerance applied: atol = '
           f'<code>{_e(_num(atol, 3))}</code>'
           + (f'; received: {_e(g["received_is"])}' if g.get("received_is") else "") + '</p>', _loss_line(g, atol)]
    if tensors:
        out.append(_tensor_table(tensors))
        if all(t.ratio is not None and not t.beyond for t in tensors):
            out.append('<p class="note">Every entry shown is within tolerance: this test failed on something '
                       'the gradient alone does not show (see the message).</p>')
    drawable = any(t.ratio is not None for t in tensors)
    key = _fingerprint(tensors, atol)
    if drawable and key in budget.seen:
        first = budget.seen[key]
        out.append(f'<p class="note">The same gradients as <a href="#{_e(first)}">an earlier failure</a>: '
                   f'its heat map applies.</p>')
    elif drawable and len(budget.seen) >= MAX_PLOTTED:
        out.append(f'<p class="note">No heat map: the page draws the first {MAX_PLOTTED} distinct gradients '
                   f'of each system.</p>')
    elif drawable:
        try:
            png = heat_map_png(tensors, worst)
        except Exception as exc:               # noqa: BLE001 - the tables above still say it
            png = None
            out.append(f'<p class="note bad">The heat map could not be drawn: {_e(type(exc).__name__)}: '
                       f'{_e(exc)}</p>')
        if png:
            budget.seen[key] = anchor
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<figure><img alt="heat map of |received - expected| / atol per gradient entry" '
                       f'src="data:image/png;base64,{data}"><figcaption>Colour: |received − expected| / atol on a '
                       f'log scale: grey within tolerance, orange to dark red beyond it, purple where an entry '
                       f'is not finite. A grid of up to {MAX_LABELLED} entries shows each received value with '
                       f'the expected one in brackets below it; the boxed or ringed numbers are the worst '
                       f'entries, tabled below.</figcaption>'
                       f'</figure>')
    out.append(_worst_table(worst))
    out.append("</div>")
    return "".join(out)


def _failure(system: str, i: int, f: dict, words: dict, budget: _Budget) -> str:
    anchor = f"f-{system}-{i}"
    check = f.get("check") or "harness"
    out = [f'<article class="failure" id="{_e(anchor)}"><h3><span class="num">{i}</span>'
           f'<span class="check">{_e(check)}</span><code class="test">{_e(f.get("test"))}</code></h3>',
           _diagnosis_box(f.get("diagnosis"), words)]
    g = f.get("gradients")
    if isinstance(g, dict):
        out.append(_gradients(g, anchor, budget))
    message = f.get("message")
    if message:
        out.append(f'<h4>Failure message</h4><pre class="message">{_e(_clip(str(message)))}</pre>')
    snippet = f.get("reproducer")
    if snippet:
        out.append(f'<h4>Reproducer <button type="button" class="copy" data-target="{_e(anchor)}-repro">Copy'
                   f'</button></h4><pre class="repro" id="{_e(anchor)}-repro">{_e(_clip(str(snippet)))}</pre>')
    out.append("</article>")
    return "".join(out)


def _system(system: str, info: dict, words: dict) -> str:
    failures = [f for f in info.get("failures") or [] if isinstance(f, dict)]
    codes = [str(c) for c in info.get("diagnosis") or []]
    out = [f'<section class="system" id="sys-{_e(system)}"><h2>{_e(system)} <span class="badge fail">fail</span>'
           f'</h2>']
    if codes:
        items = "".join(f'<li><code class="chip">{_e(c)}</code> {_e(words.get(c, ""))}</li>' for c in codes)
        out.append(f'<div class="diagnosis system-level"><div class="label">Diagnosis of {_e(system)}</div>'
                   f'<ul>{items}</ul></div>')
    failed = sum(int((c or {}).get("failed", 0)) for c in (info.get("checks") or {}).values()
                 if isinstance(c, dict))
    if failures:
        index = "".join(f'<li><a href="#f-{_e(system)}-{i}">{i}. {_e(f.get("check") or "harness")}</a>: '
                        f'<code>{_e(f.get("test"))}</code></li>' for i, f in enumerate(failures, 1))
        out.append(f'<details class="index" {"open" if len(failures) <= 12 else ""}><summary>{len(failures)} '
                   f'failure{"s" if len(failures) != 1 else ""}; heat maps for the first {MAX_PLOTTED} distinct '
                   f'gradients, full details for the first {MAX_DETAILED} failures</summary><ol>{index}</ol>'
                   f'</details>')
    if failed > len(failures):
        out.append(f'<p class="note">{failed - len(failures)} failed test(s) of this system carry no details '
                   f'here (see pytest\'s output).</p>')
    if not failures and isinstance(info.get("first_failure"), dict):
        ff = info["first_failure"]
        out.append(f'<article class="failure"><h3><span class="check">{_e(ff.get("check") or "harness")}</span>'
                   f'<code class="test">{_e(ff.get("test"))}</code></h3><pre class="message">'
                   f'{_e(_clip(str(ff.get("message", ""))))}</pre></article>')
    budget = _Budget()
    for i, f in enumerate(failures[:MAX_DETAILED], 1):
        try:
            out.append(_failure(system, i, f, words, budget))
        except Exception as exc:               # noqa: BLE001 - one odd failure never costs the page
            out.append(f'<article class="failure" id="f-{_e(system)}-{i}"><h3><span class="num">{i}</span>'
                       f'<code class="test">{_e(f.get("test"))}</code></h3><p class="note bad">This failure could '
                       f'not be shown: {_e(type(exc).__name__)}: {_e(exc)}</p></article>')
    rest = failures[MAX_DETAILED:]
    if rest:
        items = "".join(f'<li id="f-{_e(system)}-{i}"><b>{_e(f.get("check") or "harness")}</b> '
                        f'<code>{_e(f.get("test"))}</code>'
                        + (f' — {_e(", ".join(map(str, (f.get("diagnosis") or {}).get("codes") or [])))}'
                           if isinstance(f.get("diagnosis"), dict) else "") + "</li>"
                        for i, f in enumerate(rest, MAX_DETAILED + 1))
        out.append(f'<h3>{len(rest)} more failures (details cut to keep the page small; all are in pytest\'s '
                   f'output)</h3><ol start="{MAX_DETAILED + 1}" class="rest">{items}</ol>')
    out.append("</section>")
    return "".join(out)


CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#c4122f;--fail-bg:#ffebe9;--np:#59636e;--np-bg:#eef1f4;
--nt:#7d4e00;--nt-bg:#fff5c2;--ink:#1f2328;--muted:#636c76;--line:#d0d7de;--warm:#c2410c;--warm-bg:#fff3e8}
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 24px 64px}
h1{font-size:1.55em;margin:.1em 0 .5em;line-height:1.25}
h2{font-size:1.3em;margin:1.6em 0 .6em}
h3{font-size:1.02em;margin:0 0 .7em;display:flex;flex-wrap:wrap;gap:.5em;align-items:center}
h4{font-size:.92em;margin:1.2em 0 .4em;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,pre{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
code{font-size:.9em}
pre{font-size:12.5px;line-height:1.45;background:#f6f8fa;border:1px solid var(--line);border-radius:6px;
padding:10px 12px;overflow:auto;max-height:30em;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
.banner{background:#fff;border:1px solid var(--line);border-left:8px solid var(--np);border-radius:8px;
padding:18px 22px}
.banner.pass{border-left-color:var(--pass)}.banner.fail{border-left-color:var(--fail)}
.banner.pass h1{color:var(--pass)}.banner.fail h1{color:var(--fail)}
.kicker{margin:0;color:var(--muted);font-size:.85em;text-transform:uppercase;letter-spacing:.06em}
table{border-collapse:collapse}
.facts th{text-align:left;font-weight:600;color:var(--muted);padding:2px 18px 2px 0;vertical-align:top;
white-space:nowrap}
.facts td{padding:2px 0;word-break:break-all}
.scroll{overflow-x:auto}
.verdicts{background:#fff;border:1px solid var(--line);border-radius:8px;font-size:.9em;width:100%}
.verdicts th,.verdicts td{border-bottom:1px solid var(--line);padding:7px 8px;text-align:center;
vertical-align:middle}
.verdicts td{white-space:nowrap}
.verdicts thead th{font-weight:600;color:var(--muted);font-size:.88em}
.verdicts th.sys{text-align:left;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:600}
.verdicts small{display:block;color:var(--muted);font-size:.8em}
td.c-fail{background:var(--fail-bg);color:var(--fail);font-weight:600}
td.c-pass{color:var(--pass)}
td.c-np,td.c-nt,td.c-none{color:var(--np)}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:.82em;font-weight:700;
text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
.badge.pass{background:var(--pass-bg);color:var(--pass)}.badge.fail{background:var(--fail-bg);color:var(--fail)}
.badge.np{background:var(--np-bg);color:var(--np)}.badge.nt{background:var(--nt-bg);color:var(--nt)}
.legend,.note{color:var(--muted);font-size:.88em;margin:.5em 0}
.bad{color:var(--fail)}.ok{color:var(--pass)}.muted{color:var(--muted)}
.system{margin-top:2.2em}
.failure{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:14px 0}
.failure .num{background:var(--ink);color:#fff;border-radius:999px;min-width:1.7em;text-align:center;
font-size:.85em;padding:0 .5em}
.failure .check{background:var(--fail-bg);color:var(--fail);border-radius:4px;padding:0 8px;font-size:.88em}
.failure .test{font-weight:400;color:var(--muted);word-break:break-all}
.diagnosis{background:var(--warm-bg);border-left:6px solid var(--warm);border-radius:4px;padding:10px 16px;
margin:0 0 12px}
.diagnosis .label{font-size:.78em;text-transform:uppercase;letter-spacing:.06em;color:var(--warm);font-weight:700}
.diagnosis .words{font-size:1.18em;font-weight:600;margin:.2em 0 .4em;line-height:1.4}
.diagnosis.unknown{background:#f6f8fa;border-left-color:var(--np)}
.diagnosis.unknown .label{color:var(--np)}
.diagnosis.none{background:#f6f8fa;border-left-color:var(--np);color:var(--muted);font-size:.92em}
.diagnosis.system-level ul{margin:.3em 0;padding-left:1.2em;font-size:1.08em}
.chip{display:inline-block;background:#fff;border:1px solid #e8b28f;color:var(--warm);border-radius:4px;
padding:0 6px;margin-right:6px;font-weight:600}
.loss{margin:.4em 0}.atol{margin:.2em 0;color:var(--muted);font-size:.92em}
.tensors,.worst{font-size:.86em;margin:.6em 0;width:100%}
.tensors th,.tensors td,.worst th,.worst td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left}
.tensors thead th,.worst thead th{color:var(--muted);font-weight:600}
.tensors tr.noted td{border-bottom:0}
.tensors tr.note-row td{padding-top:0;font-size:.95em;color:var(--ink);font-style:italic}
.tensors tr.bad td:first-child{border-left:3px solid var(--fail)}
.tensors tr.ok td:first-child{border-left:3px solid var(--pass)}
.worst caption{text-align:left;font-weight:600;color:var(--muted);font-size:.95em;padding:4px 0}
.worst td.rank{font-weight:700}
figure{margin:12px 0;overflow-x:auto}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{color:var(--muted);font-size:.84em;margin-top:4px}
.index ol,.rest{font-size:.9em}
.index summary{cursor:pointer;color:var(--muted)}
button.copy{font:inherit;font-size:.8em;text-transform:none;letter-spacing:0;border:1px solid var(--line);
background:#fff;border-radius:5px;padding:1px 10px;cursor:pointer;margin-left:8px}
button.copy:hover{background:#f3f4f6}
footer{color:var(--muted);font-size:.82em;margin-top:3em}
"""

# copy a reproducer: the Clipboard API where the page is a secure context, else select and
# execCommand; data-copy="ready" on <body> says the script ran (the policy admits it by its hash)
SCRIPT = """
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var pre = document.getElementById(button.dataset.target);
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    var select = function () {
      var range = document.createRange(); range.selectNodeContents(pre);
      var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { button.textContent = "Selected: press Ctrl+C"; }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(pre.textContent).then(done, select);
    } else {
      select();
    }
  });
});
document.body.dataset.copy = "ready";
"""


def render(doc: dict) -> str:
    """The report of one conformance run as one self-contained HTML page.

    Args:
      doc: the conformance document (docs/conformance-schema.md), each system with
        its ``failures`` (conftest.py). Optional fields may be absent.

    Returns:
      The page. Raises nothing for a document that follows the schema; a failure
      whose details cannot be shown is named in its place.
    """
    doc = doc if isinstance(doc, dict) else {}
    from backprop_harness.diagnosis import CODES as words     # 0.1 s: only when a page is made
    checks = tuple(CHECKS)
    systems = doc.get("systems") if isinstance(doc.get("systems"), dict) else {}
    impl = doc.get("implementation") if isinstance(doc.get("implementation"), dict) else {}
    doc = {**doc, "systems": systems, "implementation": impl}
    sections = [_system(s, info, words) for s, info in systems.items()
                if isinstance(info, dict) and info.get("status") == "fail"]
    # only the page's own script may run: an injected one (were escaping ever to fail) is blocked
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    policy = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    title = f"{'PASS' if _ok(doc) else 'FAIL'} · {impl.get('label') or 'conformance report'} · backprop-harness"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            + _header(doc) + _verdict_table(doc, checks)
            + "".join(sections)
            + f'<footer>schema {_e(doc.get("schema"))} · fixtures sha256 {_e(doc.get("fixtures_sha256"))}</footer>'
            + f"</main><script>{SCRIPT}</script></body></html>\n")
    # a lone surrogate (JSON can carry one from the implementation's output) cannot be
    # written as UTF-8: shown as U+FFFD rather than failing the write
    return page.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def write(doc: dict, path) -> Path:
    """Render ``doc`` and write the page to ``path`` whole or not at all."""
    return write_atomically(Path(path), render(doc))
