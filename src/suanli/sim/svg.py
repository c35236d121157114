"""Tiny inline-SVG charts for the report: line charts, grouped bars and a site map.

Written here so the report is one self-contained file: no JavaScript, no external assets.
The map uses the dashboard's projection, outline, colour classes and clustering
(:mod:`suanli.catalog.cartography`). Every text element is kept inside its chart's box:
labels near an edge are anchored inwards, and a label longer than its room is condensed
to fit (``textLength``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from suanli.catalog.cartography import (
    INSET_BOUNDS,
    MAP_BOUNDS,
    fit,
    outline,
    project,
    util_colour,
    util_legend,
)

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

FONT = 11.0  # px, the report's chart text (svg text{font-size:11px})
SMALL = 10.0  # px, class "s"
TITLE = 13.0  # px, class "t"
REF = 'class="ref" stroke="#555" stroke-dasharray="4 3"'  # reference lines, drawn without CSS


def text_width(s: str, size: float = FONT) -> float:
    """An upper estimate of the rendered width of ``s`` (CJK glyphs are one em wide)."""
    w = 0.0
    for ch in s:
        if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef":
            w += size
        elif ch in "mwMW%@":
            w += 0.9 * size
        else:
            w += 0.62 * size
    return w


def svg_text(
    x: float,
    y: float,
    s: str,
    *,
    size: float = FONT,
    anchor: str = "start",
    lo: float = 0.0,
    hi: float = math.inf,
    cls: str = "",
    extra: str = "",
) -> str:
    """A ``<text>`` whose box stays within [lo, hi] horizontally: moved inwards if it would
    cross an edge, condensed (textLength) if it is wider than the room."""
    w = text_width(s, size)
    room = hi - lo
    length = ""
    if w > room:
        w = room
        length = f' textLength="{room:.1f}" lengthAdjust="spacingAndGlyphs"'
    x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
    x0 = min(max(x0, lo), hi - w)
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<text x="{x0:.1f}" y="{y:.1f}"{cls_attr}{length}{extra}>{escape(s)}</text>'


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a label, x and y values (NaN breaks the line) and a colour."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Frame:
    """Plot area and axis ranges."""

    width: int = 560
    height: int = 300
    left: int = 56
    right: int = 16
    top: int = 28
    bottom: int = 44
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    extra: list[str] = field(default_factory=list)

    def px(self, x: float) -> float:
        lo, hi = self.x_range
        return self.left + (x - lo) / ((hi - lo) or 1.0) * (self.width - self.left - self.right)

    def py(self, y: float) -> float:
        lo, hi = self.y_range
        return (
            self.height
            - self.bottom
            - (y - lo) / ((hi - lo) or 1.0) * (self.height - self.top - self.bottom)
        )


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _axes(f: Frame, title: str, x_label: str, y_label: str, y_percent: bool) -> list[str]:
    out = [
        svg_text(f.width / 2, 16, title, size=TITLE, anchor="middle", lo=2, hi=f.width - 2, cls="t")
    ]
    for y in nice_ticks(*f.y_range):
        py = f.py(y)
        label = f"{y * 100:.0f}%" if y_percent else _fmt(y)
        out.append(
            f'<line x1="{f.left}" x2="{f.width - f.right}" y1="{py:.1f}" y2="{py:.1f}" class="g"/>'
        )
        out.append(svg_text(f.left - 4, py + 4, label, anchor="end", lo=14, hi=f.left - 4))
    xticks = nice_ticks(*f.x_range, count=max(2, min(6, (f.width - f.left - f.right) // 60)))
    for x in xticks:
        px = f.px(x)
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{f.top}" y2="{f.height - f.bottom}" class="g"/>'
        )
        out.append(
            svg_text(px, f.height - f.bottom + 14, _fmt(x), anchor="middle", lo=2, hi=f.width - 2)
        )
    mid_y = (f.top + f.height - f.bottom) / 2
    plot_h = f.height - f.top - f.bottom
    out.append(
        svg_text(
            (f.left + f.width - f.right) / 2, f.height - 8, x_label, anchor="middle", lo=2,
            hi=f.width - 2,
        )
    )  # fmt: skip
    # the rotated y label: centred on the plot's height, condensed if longer than it
    w = min(text_width(y_label), plot_h)
    squeeze = (
        f' textLength="{plot_h:.1f}" lengthAdjust="spacingAndGlyphs"'
        if text_width(y_label) > plot_h
        else ""
    )
    out.append(
        f'<text transform="translate(12 {mid_y + w / 2:.0f}) rotate(-90)"{squeeze}>'
        f"{escape(y_label)}</text>"
    )
    return out


def _legend(
    items: Sequence[tuple[str, str, bool]], *, left: float, width: float, y0: float, columns: int
) -> tuple[list[str], int]:
    """Legend rows under a chart: (label, colour, dashed) per entry. Returns (svg, rows)."""
    cols = max(1, min(columns, len(items)))
    col_w = (width - left - 4) / cols
    out = []
    for i, (label, colour, dashed) in enumerate(items):
        lx = left + (i % cols) * col_w
        ly = y0 + (i // cols) * 16
        dash = ' stroke-dasharray="4 2"' if dashed else ""
        out.append(
            f'<line x1="{lx:.0f}" x2="{lx + 12:.0f}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="3"{dash}/>'
        )
        out.append(svg_text(lx + 16, ly, label, lo=lx + 16, hi=lx + col_w - 4))
    return out, math.ceil(len(items) / cols)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None,
    y_percent: bool = False,
    hlines: Sequence[tuple[float, str]] = (),
    vlines: Sequence[tuple[float, str]] = (),
    width: int = 560,
    height: int = 300,
    legend_columns: int = 2,
) -> str:
    """An SVG line chart with a legend below the plot."""
    xs = [x for s in series for x in s.x if math.isfinite(x)]
    ys = [y for s in series for y in s.y if math.isfinite(y)]
    refs = [v for v, _ in hlines if math.isfinite(v)]
    xr = x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
    yr = y_range or ((0.0, max([*ys, *refs]) * 1.1) if ys or refs else (0.0, 1.0))
    rows = math.ceil(len(series) / max(1, legend_columns))
    f = Frame(width=width, height=height, x_range=xr, y_range=yr)
    total_h = height + rows * 16 + 12
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" aria-label="{escape(title)}">'
    ]
    out += _axes(f, title, x_label, y_label, y_percent)
    for value, label in hlines:
        if not yr[0] <= value <= yr[1]:
            continue
        py = f.py(value)
        out.append(
            f'<line x1="{f.left}" x2="{width - f.right}" y1="{py:.1f}" y2="{py:.1f}" {REF}/>'
        )
        # above the line, or below it when the line runs along the top of the plot
        ly = py - 4 if py - 4 - SMALL >= f.top else py + SMALL + 2
        out.append(
            svg_text(width - f.right - 2, ly, label, size=SMALL, anchor="end", lo=f.left + 2,
                     hi=width - f.right - 2, cls="reft")
        )  # fmt: skip
    for value, label in vlines:
        if not xr[0] <= value <= xr[1]:
            continue
        px = f.px(value)
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{f.top}" y2="{height - f.bottom}" {REF}/>'
        )
        right_room = width - f.right - px
        anchor, lx = (
            ("start", px + 3) if right_room > text_width(label, SMALL) + 6 else ("end", px - 3)
        )
        out.append(
            svg_text(lx, height - f.bottom - 4, label, size=SMALL, anchor=anchor, lo=f.left + 2,
                     hi=width - f.right - 2, cls="reft")
        )  # fmt: skip
    for s in series:
        parts: list[str] = []
        pen_up = True
        for x, y in zip(s.x, s.y, strict=True):
            if not (math.isfinite(x) and math.isfinite(y)):
                pen_up = True
                continue
            y_clipped = min(max(y, yr[0]), yr[1])
            x_clipped = min(max(x, xr[0]), xr[1])
            parts.append(f"{'M' if pen_up else 'L'}{f.px(x_clipped):.1f},{f.py(y_clipped):.1f}")
            pen_up = False
        if parts:
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            out.append(
                f'<path d="{" ".join(parts)}" fill="none" stroke="{s.color}" '
                f'stroke-width="1.6"{dash}><title>{escape(s.label)}</title></path>'
            )
    legend, _ = _legend(
        [(s.label, s.color, s.dashed) for s in series],
        left=f.left, width=width, y0=height + 10, columns=legend_columns,
    )  # fmt: skip
    out += legend
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    groups: Sequence[str],
    bars: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    y_label: str,
    width: int = 560,
    height: int = 300,
) -> str:
    """Grouped bars: for each group, one bar per (label, values, colour) entry."""
    values = [v for _, vs, _ in bars for v in vs if math.isfinite(v)]
    top = max(values) * 1.15 if values else 1.0
    f = Frame(width=width, height=height, x_range=(0, len(groups)), y_range=(0, top))
    cols = max(1, min(len(bars), 3))
    legend_rows = math.ceil(len(bars) / cols)
    total_h = height + 8 + legend_rows * 16
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" aria-label="{escape(title)}">'
    ]
    out.append(svg_text(width / 2, 16, title, size=TITLE, anchor="middle", lo=2, hi=width - 2,
                        cls="t"))  # fmt: skip
    for y in nice_ticks(0, top):
        py = f.py(y)
        out.append(
            f'<line x1="{f.left}" x2="{width - f.right}" y1="{py:.1f}" y2="{py:.1f}" class="g"/>'
        )
        out.append(svg_text(f.left - 4, py + 4, _fmt(y), anchor="end", lo=14, hi=f.left - 4))
    plot_h = height - f.top - f.bottom
    w = min(text_width(y_label), plot_h)
    out.append(
        f'<text transform="translate(12 {(f.top + height - f.bottom) / 2 + w / 2:.0f}) '
        f'rotate(-90)">{escape(y_label)}</text>'
    )
    group_w = f.px(1) - f.px(0)
    slot = group_w * 0.8 / max(len(bars), 1)
    for gi, group in enumerate(groups):
        x0 = f.px(gi) + group_w * 0.1
        for bi, (label, vals, color) in enumerate(bars):
            v = vals[gi]
            if not math.isfinite(v):
                continue
            y = f.py(v)
            out.append(
                f'<rect x="{x0 + bi * slot:.1f}" y="{y:.1f}" width="{slot - 2:.1f}" '
                f'height="{f.py(0) - y:.1f}" fill="{color}"><title>{escape(label)}: '
                f"{v:.3g}</title></rect>"
            )
            cx = x0 + (bi + 0.5) * slot
            out.append(
                svg_text(cx, y - 3, f"{v:.3g}", size=SMALL, anchor="middle", lo=cx - slot / 2,
                         hi=cx + slot / 2, cls="s")
            )  # fmt: skip
        cx = f.px(gi + 0.5)
        out.append(
            svg_text(cx, height - f.bottom + 16, group, anchor="middle",
                     lo=max(2, cx - group_w / 2 + 2), hi=min(width - 2, cx + group_w / 2 - 2))
        )  # fmt: skip
    legend, _ = _legend(
        [(label, color, False) for label, _, color in bars],
        left=f.left, width=width, y0=height + 10, columns=cols,
    )  # fmt: skip
    out += legend
    out.append("</svg>")
    return "".join(out)


# ---------- the map ----------

# presentation attributes, so a map is drawn right even without the report's CSS
LAND = 'fill="#eef0ea" stroke="#9aa39a" stroke-width="0.8"'
OTHER = 'fill="#f7f7f4" stroke="#e3e6ea" stroke-width="0.6"'
ISLE = 'fill="#9aa39a"'
FRAME = 'fill="#f3f7fb" stroke="#9aa39a"'


def _ring_path(
    rings: Sequence[Sequence[Sequence[float]]],
    xy: Callable[[float, float], tuple[float, float]],
    close: bool = True,
) -> str:
    parts = []
    for ring in rings:
        pts = [xy(lon, lat) for lon, lat in ring]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + ("Z" if close else ""))
    return "".join(parts)


def _radius(gpus: float, biggest: float, width: float) -> float:
    rmax = max(10.0, min(20.0, width / 40))
    return 4 + rmax * math.sqrt(gpus / biggest) if biggest > 0 and gpus > 0 else 4.0


@dataclass
class _Group:
    x: float
    y: float
    r: float
    names: list[str]
    gpus: float
    used: float


def cluster_sites(
    sites: Sequence[tuple[str, float, float, float, float]], width: float, height: float
) -> list[_Group]:
    """Sites whose circles would overlap at this size, merged biggest first (as the page)."""
    biggest = max((s[3] for s in sites), default=1.0) or 1.0
    groups: list[_Group] = []
    for name, lat, lon, gpus, util in sorted(sites, key=lambda s: (-s[3], s[0])):
        x, y = project(lon, lat, width, height)
        r = _radius(gpus, biggest, width)
        near = next((g for g in groups if math.hypot(g.x - x, g.y - y) < (g.r + r) * 0.8), None)
        if near is None:
            groups.append(_Group(x, y, r, [name], gpus, gpus * util))
        else:
            near.names.append(name)
            near.gpus += gpus
            near.used += gpus * util
            near.r = _radius(near.gpus, biggest, width) + 2
    return groups


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def site_map(
    sites: Sequence[tuple[str, float, float, float, float]],
    cities: Sequence[tuple[str, float, float]],
    *,
    title: str,
    width: int = 620,
    height: int = 460,
    inset_title: str = "South China Sea Islands",
    legend_title: str = "utilization",
) -> str:
    """Sites as circles (area ∝ GPUs, colour = utilization class) and cities as labelled
    squares on China's outline, with the South China Sea inset; sites that would overlap are
    one numbered circle. ``sites`` are (label, lat, lon, GPUs, utilization)."""
    top = 24  # the title's band
    legend = util_legend()
    legend_h = 34
    map_h = height - top - legend_h
    total_h = height

    def xy(lon: float, lat: float) -> tuple[float, float]:
        x, y = project(lon, lat, width, map_h)
        return x, y + top

    o = outline()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" aria-label="{escape(title)}">',
        svg_text(width / 2, 16, title, size=TITLE, anchor="middle", lo=2, hi=width - 2, cls="t"),
        f'<clipPath id="mapclip-{id(sites)}"><rect x="0" y="{top}" width="{width}" '
        f'height="{map_h}"/></clipPath>',
        f'<g clip-path="url(#mapclip-{id(sites)})">'
        f'<rect x="0" y="{top}" width="{width}" height="{map_h}" class="sea" fill="#f3f7fb"/>'
        f'<path d="{_ring_path(o["neighbours"], xy)}" class="other" {OTHER}/>'
        f'<path d="{_ring_path(o["china"], xy)}" class="land" {LAND}/>'
        f'<path d="{_ring_path(o["islands"], xy)}" class="isl" {ISLE}/></g>',
    ]
    # South China Sea inset, bottom right, title above its frame
    b = INSET_BOUNDS
    iw = max(72.0, round(width * 0.16))
    k, _, _ = fit(b, iw, 10_000, margin=2)
    ih = round((b["lat_max"] - b["lat_min"]) * k + 4)
    ix, iy = width - iw - 6, top + map_h - ih - 6

    def ixy(lon: float, lat: float) -> tuple[float, float]:
        x, y = project(lon, lat, iw, ih, b)
        return x + ix, y + iy

    clip = f"insetclip-{id(sites)}"
    out.append(
        f'<clipPath id="{clip}"><rect x="{ix}" y="{iy}" width="{iw}" height="{ih}"/></clipPath>'
        f'<rect x="{ix}" y="{iy}" width="{iw}" height="{ih}" class="frame" {FRAME}/>'
        f'<g clip-path="url(#{clip})">'
        f'<path d="{_ring_path(o["neighbours"], ixy)}" class="other" {OTHER}/>'
        f'<path d="{_ring_path(o["china"], ixy)}" class="land" {LAND}/>'
        f'<path d="{_ring_path(o["islands"], ixy)}" class="isl" {ISLE}/></g>'
        f'<rect x="{ix}" y="{iy}" width="{iw}" height="{ih}" fill="none" stroke="#9aa39a"/>'
    )
    # the inset's title inside its frame, at the bottom (open sea), wrapped to its width
    lines: list[str] = []
    for word in inset_title.split(" "):
        if lines and text_width(f"{lines[-1]} {word}", SMALL) <= iw - 6:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    for n, line in enumerate(lines):
        ty = iy + ih - 5 - (len(lines) - 1 - n) * (SMALL + 2)
        out.append(
            svg_text(ix + iw / 2, ty, line, size=SMALL, anchor="middle", lo=ix + 2,
                     hi=ix + iw - 2, cls="s")
        )  # fmt: skip
    boxes: list[tuple[float, float, float, float]] = [(ix, iy, ix + iw, iy + ih)]
    circles: list[tuple[float, float, float]] = []
    labels: list[tuple[int, float, float, float, str, float]] = []  # priority, x, y, r, text, size
    squares: list[str] = []  # drawn over the circles, so a city inside a circle still shows
    for name, lat, lon in cities:
        x, y = xy(lon, lat)
        squares.append(
            f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" class="city" fill="#333">'
            f"<title>{escape(name)}</title></rect>"
        )
        circles.append((x, y, 3.5))
        labels.append((0, x, y, 3.5, name, SMALL))
    for g in cluster_sites(sites, width, map_h):
        g.y += top
        util = g.used / g.gpus if g.gpus else 0.0
        names = ", ".join(g.names)
        out.append(
            f'<circle cx="{g.x:.1f}" cy="{g.y:.1f}" r="{g.r:.1f}" fill="{util_colour(util)}" '
            f'fill-opacity="0.9" stroke="#222" stroke-width="0.6"><title>{escape(names)}: '
            f"{g.gpus:,.0f} GPUs, {util * 100:.1f}% used</title></circle>"
        )
        if len(g.names) > 1:
            out.append(
                f'<text x="{g.x:.1f}" y="{g.y + 4:.1f}" text-anchor="middle" class="n">'
                f"{len(g.names)}</text>"
            )
        circles.append((g.x, g.y, g.r))
        label = g.names[0] if len(g.names) == 1 else f"{g.names[0]} +{len(g.names) - 1}"
        labels.append((1, g.x, g.y, g.r, f"{label} {util * 100:.0f}%", FONT))
    out += squares
    placed = _place_labels(labels, circles, boxes, width, top, top + map_h)
    out += placed
    # the colour classes, as on the dashboard
    lx = 6.0
    ly = top + map_h + 14
    out.append(svg_text(lx, ly, legend_title, size=SMALL, lo=2, hi=width - 2, cls="s"))
    lx += text_width(legend_title, SMALL) + 8
    for text, colour in legend:
        w = 12 + 4 + text_width(text, SMALL) + 10
        if lx + w > width - 4:
            lx, ly = 6.0, ly + 16
        out.append(
            f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="12" height="10" fill="{colour}" '
            'stroke="#999" stroke-width="0.4"/>'
        )
        out.append(svg_text(lx + 16, ly, text, size=SMALL, lo=2, hi=width - 2, cls="s"))
        lx += w
    out.append("</svg>")
    return "".join(out)


def _place_labels(
    labels: Sequence[tuple[int, float, float, float, str, float]],
    circles: Sequence[tuple[float, float, float]],
    boxes: list[tuple[float, float, float, float]],
    width: float,
    y_min: float,
    y_max: float,
) -> list[str]:
    """Greedy placement, sites before cities: the first of eight spots around the point that
    stays in the map and covers no circle, box or earlier label; none free, no label."""
    out = []
    for _, x, y, r, text, size in sorted(labels, key=lambda lab: (-lab[0], -lab[3])):
        w = text_width(text, size) + 2
        cjk = any("\u2e80" <= ch <= "\u9fff" for ch in text)
        up, down = size * (1.1 if cjk else 0.95), size * (0.35 if cjk else 0.3)
        d = r + 3
        spots = [
            (x + d, y + size / 2 - 1), (x - d - w, y + size / 2 - 1),
            (x - w / 2, y - d - 2), (x - w / 2, y + d + size),
            (x + d * 0.75, y - d * 0.75), (x - d * 0.75 - w, y - d * 0.75),
            (x + d * 0.75, y + d * 0.75 + size - 2), (x - d * 0.75 - w, y + d * 0.75 + size - 2),
        ]  # fmt: skip
        for lx, ly in spots:
            box = (lx, ly - up, lx + w, ly + down)
            inside = box[0] >= 2 and box[2] <= width - 2 and box[1] >= y_min and box[3] <= y_max
            hits_circle = any(
                (min(max(cx, box[0]), box[2]) - cx) ** 2 + (min(max(cy, box[1]), box[3]) - cy) ** 2
                < (cr + 1) ** 2
                for cx, cy, cr in circles  # its own too: the spots clear it
            )
            if inside and not hits_circle and not any(_overlap(box, o) for o in boxes):
                boxes.append(box)
                cls = "s" if size == SMALL else "m"
                out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" class="{cls}">{escape(text)}</text>')
                break
    return out


def heat(u: float) -> str:
    """Colour for a utilization in [0, 1]: the dashboard's classes."""
    return util_colour(u)


__all__ = [
    "MAP_BOUNDS",
    "PALETTE",
    "Series",
    "bar_chart",
    "cluster_sites",
    "heat",
    "line_chart",
    "nice_ticks",
    "site_map",
    "svg_text",
    "text_width",
]
