"""Chart geometry for server-rendered SVG: the numbers in, rectangles and labels out.

The templates in ``staff/charts.html`` draw these with presentation
attributes and CSS classes only (the Content-Security-Policy forbids inline
styles), and every chart sits beside a table of the same numbers.
"""

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    css: str  # the class that colours its bars, e.g. "series-1"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    gridlines: list[Label] = field(default_factory=list)  # y and its value
    legend: list[Series] = field(default_factory=list)
    empty: bool = False


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)


def format_number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def column_chart(labels: list[str], series: list[Series], *, width=720, height=240) -> Chart:
    """Vertical columns over categories (e.g. days), one column per series in each group."""
    left, right, top, bottom = 44, 8, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values), default=0)
    scale_max = nice_ceiling(peak)
    chart = Chart(width, height, legend=series if len(series) > 1 else [], empty=peak == 0)
    for i in range(5):
        value = scale_max * i / 4
        y = top + plot_h - plot_h * i / 4
        chart.gridlines.append(Label(left - 6, round(y, 1), format_number(value), "end"))
    groups = max(len(labels), 1)
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(len(series), 1)
    label_every = max(1, math.ceil(groups / 12))
    for g_index, label in enumerate(labels):
        x0 = left + g_index * group_w + group_w * 0.1
        for s_index, s in enumerate(series):
            value = s.values[g_index]
            h = plot_h * value / scale_max
            chart.rects.append(
                Rect(
                    round(x0 + s_index * bar_w, 1),
                    round(top + plot_h - h, 1),
                    round(max(bar_w - 1, 1), 1),
                    round(h, 1),
                    s.css,
                    f"{label}: {value} {s.name}",
                )
            )
        if g_index % label_every == 0:
            chart.labels.append(Label(round(left + g_index * group_w + group_w / 2, 1), height - bottom + 16, label))
    return chart


def bar_list(rows: list[tuple[str, float]], *, unit: str = "", maximum: float | None = None, width=480) -> Chart:
    """Horizontal bars, one per row, labelled on the left and valued on the right.

    ``maximum`` fixes the full width (100 for percentages); by default it is
    the largest value.
    """
    row_h, label_w, value_w = 26, 200, 60
    height = max(len(rows), 1) * row_h + 4
    peak = maximum if maximum is not None else max((v for _, v in rows), default=0)
    plot_w = width - label_w - value_w
    chart = Chart(width, height, empty=not rows)
    for index, (label, value) in enumerate(rows):
        y = 2 + index * row_h
        w = plot_w * value / peak if peak else 0
        shown = label if len(label) <= 30 else label[:29] + "…"
        text = f"{format_number(round(value, 1))}{unit}"
        chart.labels.append(Label(label_w - 8, y + 17, shown, "end"))
        chart.rects.append(Rect(label_w, y + 3, round(max(w, 0.5), 1), row_h - 8, "series-1", f"{label}: {text}"))
        chart.labels.append(Label(round(label_w + w + 6, 1), y + 17, text, "start"))
    return chart
