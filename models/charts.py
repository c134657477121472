"""Bar charts as PNG bytes, drawn headless (matplotlib's Agg canvas; no display, no pyplot global state)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOURS = ("#2e7d32", "#f9a825", "#1565c0", "#6a1b9a", "#c62828", "#00838f")
LABEL_WIDTH = 26


@dataclass(frozen=True)
class Panel:
    """One bar chart: a title, the labels (already in the reader's language) and their values."""

    title: str
    labels: Sequence[str]
    values: Sequence[float]
    horizontal: bool = False  # for long labels (regions, events)
    empty: str = "—"  # shown when there is nothing to draw


def bar_panels_png(title: str, panels: Sequence[Panel], *, columns: int = 2, dpi: int = 100) -> bytes:
    """One PNG with a grid of bar charts."""
    if not panels:
        raise ValueError("nothing to draw")
    # matplotlib takes most of a second to import: only processes that draw a chart pay for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(6.0 * columns, 3.6 * rows), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=15, fontweight="bold")
    for number, panel in enumerate(panels):
        axes = figure.add_subplot(rows, columns, number + 1)
        _draw(axes, panel, COLOURS[number % len(COLOURS)])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw(axes: Any, panel: Panel, colour: str) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_title(panel.title, fontsize=11)
    if not panel.labels or not any(panel.values):
        axes.text(0.5, 0.5, panel.empty, ha="center", va="center", fontsize=12, color="#777777",
                  transform=axes.transAxes)
        axes.set_axis_off()
        return
    labels = ["\n".join(textwrap.wrap(label, LABEL_WIDTH)) or " " for label in panel.labels]
    positions = range(len(labels))
    if panel.horizontal:
        bars = axes.barh(positions, panel.values, color=colour)
        axes.set_yticks(list(positions), labels, fontsize=8)
        axes.invert_yaxis()
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        bars = axes.bar(positions, panel.values, color=colour)
        axes.set_xticks(list(positions), labels, fontsize=8)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.bar_label(bars, labels=[_number(v) for v in panel.values], fontsize=8, padding=2)
    if panel.horizontal:
        axes.margins(x=0.15)
    else:
        axes.margins(y=0.15)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{int(value)}"


def bar_svg(panel: Panel, *, colour: int = 0, width: float = 4.0, height: float = 2.6) -> str:
    """One bar chart as an inline SVG element (text kept as text, sized by its viewBox: it scales to its box).
    Drawing takes a tenth of a second or more: the same figures are drawn once (kept for the process, by value)."""
    return _bar_svg(panel.title, tuple(panel.labels), tuple(panel.values), panel.horizontal, panel.empty, colour,
                    width, height)


@lru_cache(maxsize=256)
def _bar_svg(title: str, labels: tuple[str, ...], values: tuple[float, ...], horizontal: bool, empty: str,
             colour: int, width: float, height: float) -> str:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    panel = Panel(title, labels, values, horizontal, empty)
    tall = max(height, 0.9 + 0.32 * max(len(labels), 1)) if horizontal else height
    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": "sans-serif"}):
        figure = Figure(figsize=(width, tall), layout="constrained")
        FigureCanvasSVG(figure)
        _draw(figure.add_subplot(), panel, COLOURS[colour % len(COLOURS)])
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # without the XML prolog and doctype, to sit inside HTML
