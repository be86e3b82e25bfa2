"""The heat map of a failure's gradients, as a PNG.

Every parameter tensor is drawn as a grid (a vector or a scalar as one row; the scalars
of a graph together in one row), each entry coloured by ``ratio`` = |received -
expected| / atol (``record.TensorDiff``) on a log scale: grey where ratio <= 1 (within
the tolerance the harness applied, lighter the smaller), warm beyond it (orange at the
tolerance to dark red), purple where the received entry is not finite. One colour
scale per failure, since its tensors share one atol. Small grids carry every entry's
received and expected value in their cells; in every grid the worst entries beyond
tolerance are ringed and numbered as in the report's table of worst entries. A grid
too large to show one cell per entry (a 512 x 256 weight) is drawn in blocks, each
block coloured by the *worst* entry in it, so one wrong entry among 131,072 still shows.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backprop_harness.record import TensorDiff, Worst, decode_number, shape_text

__all__ = ["heat_map_png", "panels", "pool", "Panel", "NONFINITE", "num", "full", "MAX_LABELLED"]

# The colour scale, in log10(ratio). Below LO (a thousandth of the tolerance, exact
# equality included) every entry gets the lightest grey.
LO = -3.0
GREYS = ((0.965, 0.965, 0.965), (0.74, 0.75, 0.77))                      # ratio 1e-3 .. 1
WARM = ((0.0, (0.996, 0.722, 0.388)), (0.35, (0.957, 0.427, 0.263)),    # ratio 1 .. 10^hi
        (0.7, (0.843, 0.188, 0.153)), (1.0, (0.40, 0.0, 0.05)))
NONFINITE = (0.37, 0.24, 0.60)
DPI = 120


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


def num(x: float, digits: int = 4) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def full(x) -> str:
    """Every digit of a float (repr), as the reproducer prints it."""
    x = decode_number(x)
    if x is None:
        return "—"
    return num(x) if not math.isfinite(x) else repr(x)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(k: int) -> str:
    return "1" if k == 0 else "10" + str(k).translate(_SUPERSCRIPT)


# ---------------------------------------------------------------- the heat map
#
# Each image is one bare matplotlib Axes measured in inches from the top-left corner,
# every grid, mark and the colour bar placed by hand, and its labels set by Pillow
# on the finished pixels (Pillow is what matplotlib writes its PNGs with): matplotlib
# lays out and renders text glyph by glyph, several times slower per label than Pillow,
# and an Axes with ticks would add a layout pass per grid.

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
    tensors: list[TensorDiff]
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


def panels(tensors: list[TensorDiff], worst: list[Worst]) -> list[Panel]:
    """The grids to draw: a matrix as it is, a vector or an (n, 1) column as one
    row, a tensor of three or more axes as shape[0] rows, the scalars together as
    one row named by their parameters (the leaves of a graph)."""
    grids, scalars = [], []
    for t in tensors:
        if t.expected is not None and t.expected.ndim == 0:
            if not scalars:
                grids.append(None)               # the scalars' row goes where the first scalar is
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
                else f", received {shape_text(t.received.shape)} reshaped"
        grid = {k: getattr(t, k).reshape(rows, -1) for k in ("ratio", "nonfinite", "shown", "expected")}
        grids.append(Panel(f"dL/d{t.name}  {shape_text(shape)}{how}", [t], **grid))
    if scalars:
        def row(what):
            return np.array([[np.nan if getattr(t, what) is None else float(getattr(t, what)) for t in scalars]])
        grids[grids.index(None)] = Panel(
            "scalars", scalars, row("ratio"), row("nonfinite") == 1, row("shown"), row("expected"),
            col_labels=[t.name for t in scalars])
    for p in grids:
        _layout(p, worst)
    return grids


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
    return (f"{w.rank}  {w.label}: received {num(float(t.shown.ravel()[w.flat]))}, "
            f"expected {num(float(t.expected.ravel()[w.flat]))}")


def pool(p: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    ratio, nonfinite, missing = pool(p)
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
                    text = f"{num(p.shown[i, j])}\n({num(p.expected[i, j])})"
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


def heat_map_png(tensors: list[TensorDiff], worst: list[Worst]) -> bytes | None:
    """The failure's heat map as PNG bytes; None when no tensor can be drawn."""
    grids = panels(tensors, worst)
    if not grids:
        return None
    top = max((float(t.ratio[np.isfinite(t.ratio)].max(initial=0.0)) for t in tensors if t.ratio is not None),
              default=0.0)
    hi = float(min(max(1, math.ceil(math.log10(top))), 20) if top > 1 else 1)
    # flow layout: grids left to right, wrapping at row_width; the colour bar on the right
    row_width, bar_width, gap = 6.6, 1.6, 0.12
    lines, line, used = [], [], 0.0
    for p in grids:
        if line and used + p.width > row_width:
            lines.append(line)
            line, used = [], 0.0
        line.append(p)
        used += p.width + gap
    lines.append(line)
    heights = [max(p.height for p in ln) for ln in lines]
    missing = any(np.isnan(p.ratio).any() for p in grids)
    nonfinite = any(p.nonfinite.any() for p in grids)
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


