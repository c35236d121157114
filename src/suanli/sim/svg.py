"""Tiny inline-SVG charts for the report: line charts, grouped bars and a site map.

Written here so the report is one self-contained file: no JavaScript, no external assets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


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
    right: int = 12
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
        f'<text x="{f.width / 2:.0f}" y="16" text-anchor="middle" class="t">{escape(title)}</text>'
    ]
    for y in nice_ticks(*f.y_range):
        py = f.py(y)
        label = f"{y * 100:.0f}%" if y_percent else _fmt(y)
        out.append(
            f'<line x1="{f.left}" x2="{f.width - f.right}" y1="{py:.1f}" y2="{py:.1f}" '
            f'class="g"/><text x="{f.left - 4}" y="{py + 4:.1f}" text-anchor="end">{label}</text>'
        )
    for x in nice_ticks(*f.x_range, count=6):
        px = f.px(x)
        # A tick at the right edge ends there, so its label stays inside the chart.
        anchor = "end" if px > f.width - f.right - 16 else "middle"
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{f.top}" y2="{f.height - f.bottom}" class="g"/>'
            f'<text x="{px:.1f}" y="{f.height - f.bottom + 14}" text-anchor="{anchor}">'
            f"{_fmt(x)}</text>"
        )
    out.append(
        f'<text x="{(f.left + f.width - f.right) / 2:.0f}" y="{f.height - 8}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text transform="translate(12 {(f.top + f.height - f.bottom) / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return out


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
    xr = x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
    yr = y_range or ((0.0, max(ys) * 1.1) if ys else (0.0, 1.0))
    rows = math.ceil(len(series) / legend_columns)
    f = Frame(width=width, height=height, x_range=xr, y_range=yr)
    total_h = height + rows * 16 + 12
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img">'
    ]
    out += _axes(f, title, x_label, y_label, y_percent)
    for value, label in hlines:
        py = f.py(value)
        out.append(
            f'<line x1="{f.left}" x2="{width - f.right}" y1="{py:.1f}" y2="{py:.1f}" class="ref"/>'
            f'<text x="{width - f.right - 2}" y="{py - 3:.1f}" text-anchor="end" class="reft">'
            f"{escape(label)}</text>"
        )
    for value, label in vlines:
        px = f.px(value)
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{f.top}" y2="{height - f.bottom}" class="ref"/>'
            f'<text x="{px + 3:.1f}" y="{f.top + 10}" class="reft">{escape(label)}</text>'
        )
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
    col_w = (width - f.left) / legend_columns
    for i, s in enumerate(series):
        lx = f.left + (i % legend_columns) * col_w
        ly = height + 10 + (i // legend_columns) * 16
        out.append(
            f'<rect x="{lx:.0f}" y="{ly - 8}" width="12" height="4" fill="{s.color}"/>'
            f'<text x="{lx + 16:.0f}" y="{ly - 3}">{escape(s.label)}</text>'
        )
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
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 20}" '
        f'width="{width}" height="{height + 20}" role="img">'
    ]
    out.append(
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" class="t">{escape(title)}</text>'
    )
    for y in nice_ticks(0, top):
        py = f.py(y)
        out.append(
            f'<line x1="{f.left}" x2="{width - f.right}" y1="{py:.1f}" y2="{py:.1f}" class="g"/>'
            f'<text x="{f.left - 4}" y="{py + 4:.1f}" text-anchor="end">{_fmt(y)}</text>'
        )
    out.append(
        f'<text transform="translate(12 {(f.top + height - f.bottom) / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    slot = (f.px(1) - f.px(0)) * 0.8 / max(len(bars), 1)
    for gi, group in enumerate(groups):
        x0 = f.px(gi) + (f.px(1) - f.px(0)) * 0.1
        for bi, (label, vals, color) in enumerate(bars):
            v = vals[gi]
            if not math.isfinite(v):
                continue
            y = f.py(v)
            out.append(
                f'<rect x="{x0 + bi * slot:.1f}" y="{y:.1f}" width="{slot - 2:.1f}" '
                f'height="{f.py(0) - y:.1f}" fill="{color}"><title>{escape(label)}: '
                f"{v:.3g}</title></rect>"
                f'<text x="{x0 + (bi + 0.5) * slot:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f'class="s">{v:.3g}</text>'
            )
        out.append(
            f'<text x="{f.px(gi + 0.5):.1f}" y="{height - f.bottom + 16}" text-anchor="middle">'
            f"{escape(group)}</text>"
        )
    for bi, (label, _, color) in enumerate(bars):
        lx = f.left + bi * (width - f.left) / max(len(bars), 1)
        out.append(
            f'<rect x="{lx:.0f}" y="{height + 2}" width="12" height="8" fill="{color}"/>'
            f'<text x="{lx + 16:.0f}" y="{height + 10}">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def site_map(
    sites: Sequence[tuple[str, float, float, float, float]],
    cities: Sequence[tuple[str, float, float]],
    *,
    title: str,
    width: int = 620,
    height: int = 500,
) -> str:
    """Sites as circles (area ∝ GPUs, colour = utilization) and cities as squares, placed by
    longitude/latitude (equirectangular, scaled by cos of the mean latitude)."""
    lats = [s[1] for s in sites] + [c[1] for c in cities]
    lons = [s[2] for s in sites] + [c[2] for c in cities]
    lat_lo, lat_hi = min(lats) - 2, max(lats) + 2
    lon_lo, lon_hi = min(lons) - 3, max(lons) + 3
    k = math.cos(math.radians((lat_lo + lat_hi) / 2))
    scale = min((width - 20) / ((lon_hi - lon_lo) * k), (height - 50) / (lat_hi - lat_lo))

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return 10 + (lon - lon_lo) * k * scale, 30 + (lat_hi - lat) * scale

    biggest = max((s[3] for s in sites), default=1.0) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">'
    ]
    out.append(
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" class="t">{escape(title)}</text>'
    )
    for lat in range(math.ceil(lat_lo / 5) * 5, int(lat_hi) + 1, 5):
        _, y = xy(lat, lon_lo)
        out.append(
            f'<line x1="10" x2="{width - 10}" y1="{y:.0f}" y2="{y:.0f}" class="g"/>'
            f'<text x="12" y="{y - 2:.0f}" class="s">{lat}°N</text>'
        )
    for lon in range(math.ceil(lon_lo / 5) * 5, int(lon_hi) + 1, 5):
        x, _ = xy(lat_lo, lon)
        out.append(
            f'<line x1="{x:.0f}" x2="{x:.0f}" y1="30" y2="{height - 20}" class="g"/>'
            f'<text x="{x + 2:.0f}" y="{height - 22}" class="s">{lon}°E</text>'
        )
    for city_name, city_lat, city_lon in cities:
        x, y = xy(city_lat, city_lon)
        out.append(
            f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="#333">'
            f"<title>{escape(city_name)}</title></rect>"
        )
    ordered = sorted(sites, key=lambda s: -s[3])
    circles = []
    for _, site_lat, site_lon, gpus, _ in ordered:
        x, y = xy(site_lat, site_lon)
        circles.append((x, y, 4 + 18 * math.sqrt(gpus / biggest)))
    placed = [(x - r, y - r, x + r, y + r) for x, y, r in circles]
    labels: list[str] = []
    for (name, _, _, gpus, util), (x, y, r) in zip(ordered, circles, strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{heat(util)}" '
            f'fill-opacity="0.85" stroke="#222" stroke-width="0.6"><title>{escape(name)}: '
            f"{gpus:,.0f} GPUs, {util * 100:.0f}% used</title></circle>"
        )
        text = f"{name} {util * 100:.0f}%"
        w_text, h_text = 5.6 * len(text), 11.0
        # Try label positions around the circle; keep the first that overlaps nothing.
        options = [
            (x + r + 2, y + 4), (x - r - 2 - w_text, y + 4), (x - w_text / 2, y - r - 3),
            (x - w_text / 2, y + r + 11), (x + r + 2, y - r), (x + r + 2, y + r + 8),
            (x - r - 2 - w_text, y - r), (x - r - 2 - w_text, y + r + 8),
        ]  # fmt: skip
        best = options[0]
        for lx, ly in options:
            box = (lx, ly - h_text + 2, lx + w_text, ly + 2)
            inside = box[0] >= 0 and box[2] <= width and box[1] >= 20 and box[3] <= height
            own = (x - r, y - r, x + r, y + r)
            if inside and not any(_overlap(box, o) for o in placed if o != own):
                best = (lx, ly)
                break
        lx, ly = best
        placed.append((lx, ly - h_text + 2, lx + w_text, ly + 2))
        labels.append(f'<text x="{lx:.1f}" y="{ly:.1f}" class="s">{escape(text)}</text>')
    out += labels
    for i, u in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        out.append(
            f'<rect x="{width - 150 + i * 28}" y="26" width="28" height="8" '
            f'fill="{heat(u)}"/><text x="{width - 150 + i * 28}" y="46" class="s">'
            f"{u * 100:.0f}%</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def heat(u: float) -> str:
    """Colour for a utilization in [0, 1]: blue (idle) through yellow to red (full)."""
    u = min(max(u, 0.0), 1.0)
    stops = ((0.0, (49, 54, 149)), (0.5, (254, 224, 144)), (1.0, (215, 48, 39)))
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if u <= b:
            t = (u - a) / (b - a)
            r, g, b_ = (round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True))
            return f"#{r:02x}{g:02x}{b_:02x}"
    return "#d73027"
