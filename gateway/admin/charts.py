"""Charts for the admin dashboard, drawn on the server as inline SVG: no script, no CDN, nothing fetched.

`stacked_bars(days, series, ...)` draws one bar per day, each split into its series (a model or a provider, the
rest folded into "other"); `bars_with_overlay` draws requests per day with the errors of each day over them. Each
bar part has a <title>, so hovering shows its exact value. Values may be Decimal (money) or int; the scale's
ticks are round numbers. Everything put into the markup is escaped.
"""
import math
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

# Okabe-Ito: distinguishable by colour-blind readers; "other" is grey
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER = "#999999"
ERROR = "#D55E00"
W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 8, 10, 28


def _nice_ceiling(value: float) -> float:
    """The top of the scale: four ticks of a round step (1, 2, 2.5 or 5 x 10^n) reaching at least value."""
    if value <= 0:
        return 1.0
    rough = value / 4
    exp = 10.0 ** math.floor(math.log10(rough))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= rough:
            return 4 * step * exp
    return 40 * exp


def _label(value: float, money: bool) -> str:
    if money:
        if value >= 1000:
            return f"${value / 1000:,.1f}k"
        if value >= 100:
            return f"${value:,.0f}"
        if value >= 1 or value == 0:
            return f"${value:,.2f}"
        return "$" + format(Decimal(f"{value:.3g}").normalize(), "f")     # small amounts: 3 significant digits
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.1f}M"
    if value >= 1000:
        return f"{value / 1000:,.1f}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2g}"


def _exact(value, money: bool) -> str:
    if money:
        return "$" + format(Decimal(str(value)).quantize(Decimal("0.000001")).normalize(), "f")
    return f"{int(value):,}"


def _frame(days: list[date], top: float, money: bool, title: str) -> list[str]:
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>"]
    plot_h = H - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#666">'
                     f"{escape(_label(value, money))}</text>")
    step = max(1, len(days) // 8)
    slot = (W - LEFT - RIGHT) / max(1, len(days))
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            x = LEFT + slot * (i + 0.5)
            parts.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle" font-size="11" fill="#666">'
                         f"{day:%m-%d}</text>")
    return parts


def stacked_bars(days: list[date], series: dict[str, dict[date, object]], title: str, money: bool = False) -> Markup:
    """One bar per day, stacked by series in the order given (the first at the bottom)."""
    totals = [sum((float(s.get(d, 0) or 0) for s in series.values()), 0.0) for d in days]
    top = _nice_ceiling(max(totals, default=0))
    parts = _frame(days, top, money, title)
    plot_h = H - TOP - BOTTOM
    slot = (W - LEFT - RIGHT) / max(1, len(days))
    width = max(1.0, slot * 0.72)
    colours = _colours(series)
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - width) / 2
        base = TOP + plot_h
        for name, values in series.items():
            value = values.get(day, 0) or 0
            if not value:
                continue
            h = plot_h * float(value) / top
            base -= h
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{max(h, 0.5):.1f}" '
                         f'fill="{colours[name]}"><title>{escape(f"{day}  {name}: {_exact(value, money)}")}'
                         f"</title></rect>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bars_with_overlay(days: list[date], total: dict[date, int], overlay: dict[date, int], title: str,
                      overlay_name: str = "errors") -> Markup:
    """Requests per day as bars, the errors of each day drawn over the bottom of its bar."""
    top = _nice_ceiling(max((total.get(d, 0) for d in days), default=0))
    parts = _frame(days, top, False, title)
    plot_h = H - TOP - BOTTOM
    slot = (W - LEFT - RIGHT) / max(1, len(days))
    width = max(1.0, slot * 0.72)
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - width) / 2
        n, bad = total.get(day, 0), overlay.get(day, 0)
        for value, colour, name in ((n, PALETTE[0], "requests"), (bad, ERROR, overlay_name)):
            if not value:
                continue
            h = plot_h * value / top
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" '
                         f'height="{max(h, 0.5):.1f}" fill="{colour}"><title>'
                         f'{escape(f"{day}  {name}: {value:,}")}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _colours(series: dict) -> dict[str, str]:
    out, i = {}, 0
    for name in series:
        if name == "other":
            out[name] = OTHER
        else:
            out[name] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def legend(series: dict) -> Markup:
    """The names of a stacked chart's series with their colours."""
    return _legend(_colours(series))


def overlay_legend(overlay_name: str = "errors") -> Markup:
    return _legend({"requests": PALETTE[0], overlay_name: ERROR})


def _legend(colours: dict[str, str]) -> Markup:
    items = [Markup('<span class="legend-item"><span class="swatch" style="background:{}"></span>{}</span>')
             .format(colour, name) for name, colour in colours.items()]
    return Markup(" ").join(items)


def money_text(value) -> str:
    """Dollars for a person: cents from $1, else enough digits that a small spend never reads as $0.00."""
    d = Decimal(str(value or 0))
    if d == 0:
        return "$0"
    if abs(d) >= 1:
        return f"${d:,.2f}"
    return "$" + format(d.quantize(Decimal("0.00000001")).normalize(), "f")
