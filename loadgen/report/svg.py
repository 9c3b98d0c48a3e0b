"""Inline SVG charts: the report is one self-contained HTML file, with no scripts or network.

Each function returns an ``<svg>`` element string with ``class="plot"`` and a ``data-plot`` name,
so a browser test can check that every plot rendered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
PALETTE += ["#bcbd22", "#7f7f7f", "#393b79", "#e7969c"]
Series = tuple[str, Sequence[tuple[float, float]]]
W, H, LEFT, RIGHT, TOP, BOTTOM = 560, 300, 60, 190, 28, 44


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    css = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css}>{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def _hline(y: float, cls: str) -> str:
    return f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="{cls}"/>'


def _legend_and_axes(labels: Sequence[str], x_label: str, y_label: str) -> list[str]:
    body = []
    for i, label in enumerate(labels):
        ly = TOP + 12 + i * 15
        body.append(_rect(W - RIGHT + 8, ly - 8, 10, 10, PALETTE[i % len(PALETTE)]))
        shown = fit(label, RIGHT - 26, 11)
        text = _text(W - RIGHT + 22, ly + 1, shown)
        if shown != label:  # the whole label on hover
            text = text.replace("</text>", f"<title>{escape(label)}</title></text>")
        body.append(text)
    body.append(_text(LEFT + (W - LEFT - RIGHT) / 2, H - 8, x_label, "middle"))
    mid = TOP + (H - TOP - BOTTOM) / 2
    body.append(
        f'<text transform="translate(14,{mid}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    return body


def text_width(text: str, px: float) -> float:
    """A generous estimate of rendered width (system-ui averages ~0.55 em per character; bold
    digits and capitals run wider), so boxes are sized to what they hold."""
    return len(text) * px * 0.62


def fit(text: str, width: float, px: float) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels at font size ``px``."""
    if text_width(text, px) <= width:
        return text
    keep = max(1, int(width / text_width("x", px)) - 1)
    return text[:keep] + "\u2026"


def _frame(name: str, title: str, body: list[str], width: float = W, height: float = H) -> str:
    return (
        f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'role="img">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" class="t">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def line_chart(
    name: str,
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    log_x: bool = False,
    markers: bool = True,
    y_ref: float | None = None,
    dots: Sequence[Sequence[tuple[float, float]]] = (),
) -> str:
    """Lines with markers; ``log_x`` spaces concurrencies evenly; ``y_ref`` draws e.g. 1.0;
    ``dots[i]``: points drawn as hollow circles in series i's colour (e.g. measured points on a
    predicted line)."""
    points = [p for _, pts in series for p in pts] + [p for pts in dots for p in pts]
    if not points:
        return _frame(name, title, [_text(40, 60, "no data")])
    fx = (lambda v: math.log2(max(v, 1e-9))) if log_x else (lambda v: v)
    xs, ys = [fx(x) for x, _ in points], [y for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(ys + ([y_ref] if y_ref else [])) * 1.08 or 1.0
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(v: float) -> float:
        return LEFT + (fx(v) - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return TOP + ph - (v - y0) / (y1 - y0) * ph

    body = [f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" class="bg"/>']
    for t in _ticks(y0, y1):
        body += [_hline(sy(t), "g"), _text(LEFT - 4, sy(t) + 4, _num(t), "end")]
    raw_x = [x for x, _ in points]
    x_ticks = sorted(set(raw_x)) if log_x else _ticks(min(raw_x), max(raw_x))
    body += [_text(sx(t), TOP + ph + 14, _num(t), "middle") for t in x_ticks[:12]]
    if y_ref is not None:
        body.append(_hline(sy(y_ref), "ref"))
    for i, (_, pts) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
        if markers:
            body += [
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>' for x, y in pts
            ]
    for i, pts in enumerate(dots):
        color = PALETTE[i % len(PALETTE)]
        body += [
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4.5" fill="none" stroke="{color}" '
            f'stroke-width="1.8" class="dot"/>'
            for x, y in pts
        ]
    body += _legend_and_axes([label for label, _ in series], x_label, y_label)
    return _frame(name, title, body)


def heatmap(
    name: str,
    title: str,
    rows: Sequence[str],
    cols: Sequence[str],
    cells: dict[tuple[str, str], tuple[float, str, bool]],
) -> str:
    """``cells[(row, col)] = (value, caption, significant)``; > 1 green, < 1 red, but only when
    ``significant`` (its interval excludes 1), else white. The box is as wide as its widest
    part: the cells (each as wide as its column label) or the title."""
    ch, left, top = 40, 70, 40
    cw = max([110.0] + [text_width(c, 11) + 12 for c in cols])
    width = max(left + cw * max(len(cols), 1) + 10, text_width(title, 13) + 24)
    height = top + ch * max(len(rows), 1) + 24
    body = [_text(left + j * cw + cw / 2, top - 6, col, "middle") for j, col in enumerate(cols)]
    for i, row in enumerate(rows):
        body.append(_text(left - 6, top + i * ch + ch / 2 + 4, row, "end"))
        for j, col in enumerate(cols):
            value, caption, significant = cells.get((row, col), (math.nan, "n/a", False))
            x, y = left + j * cw, top + i * ch
            label = "n/a" if math.isnan(value) else f"{value:.2f}x"
            body += [
                _rect(x, y, cw - 2, ch - 2, _diverging(value if significant else 1.0)),
                _text(x + cw / 2, y + 16, label, "middle", "b"),
                _text(x + cw / 2, y + 30, caption, "middle", "s"),
            ]
    return _frame(name, title, body, width, height)


def _diverging(value: float) -> str:
    if math.isnan(value):
        return "#eeeeee"
    strength = min(abs(math.log2(value)), 1.0) if value > 0 else 1.0
    fade = int(255 - 140 * strength)
    return f"rgb({fade},255,{fade})" if value >= 1 else f"rgb(255,{fade},{fade})"


def bar_chart(
    name: str,
    title: str,
    slots: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    x_label: str,
    y_label: str,
) -> str:
    """Grouped bars: one value per slot per series (None: no bar); series labels in the legend."""
    values = [v for _, vals in series for v in vals if v is not None]
    if not values or not slots:
        return _frame(name, title, [_text(40, 60, "no data")])
    y1 = max(values) * 1.1 or 1.0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot_w = pw / len(slots)
    bar_w = slot_w * 0.8 / len(series)
    body = [f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" class="bg"/>']
    for t in _ticks(0, y1):
        y = TOP + ph - t / y1 * ph
        body += [_hline(y, "g"), _text(LEFT - 4, y + 4, _num(t), "end")]
    body += [
        _text(LEFT + (k + 0.5) * slot_w, TOP + ph + 14, slot[:14], "middle")
        for k, slot in enumerate(slots)
    ]
    for i, (_, vals) in enumerate(series):
        for k, v in enumerate(vals):
            if v is not None:
                bx = LEFT + k * slot_w + slot_w * 0.1 + i * bar_w
                body.append(
                    _rect(bx, TOP + ph - v / y1 * ph, bar_w, v / y1 * ph, PALETTE[i % len(PALETTE)])
                )
    body += _legend_and_axes([label for label, _ in series], x_label, y_label)
    return _frame(name, title, body)
