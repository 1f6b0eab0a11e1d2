"""Colours people read: every label on its fill in the graph's stylesheet, every text colour of the page
CSS on its background and every pair pages_css.py names reach WCAG AA (4.5:1 for text), and the status
fills tell apart at a glance."""

from __future__ import annotations

import itertools
import re

import pytest

from dashboard.pages_css import PAGES_CSS, PALETTE, READABLE
from dashboard.styles import (
    GROUP_TEXT,
    PAGE_CSS,
    STATUS_COLOURS,
    STATUS_TEXT,
    TRACE_TINTS,
    cytoscape_stylesheet,
)

AA_TEXT = 4.5
WHITE = "#ffffff"


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb (or #rgb)."""
    h = colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, for telling fills apart."""
    h = colour.lstrip("#")
    rgb = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: str, b: str) -> float:
    return float(sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5)


# -- the graph -----------------------------------------------------------------------------------


def graph_text_pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, fill) for every rule that gives a label a fill, as cytoscape cascades
    them: a rule's own `color`, else the base node rule's. Fills mapped from data (the lineage groups'
    tints) are expanded to every tint; edge labels sit on their text background."""
    sheet = cytoscape_stylesheet()
    base = next(r["style"] for r in sheet if r["selector"] == "node")
    pairs = []
    for rule in sheet:
        style = rule["style"]
        if rule["selector"] == "edge" or "text-background-color" in style:
            pairs.append((rule["selector"], style["color"], style["text-background-color"]))
            continue
        fill = style.get("background-color")
        if fill is None:
            continue
        text = style.get("color", base["color"])
        fills = [*TRACE_TINTS, WHITE] if fill == "data(tint)" else [fill]
        pairs += [(rule["selector"], text, f) for f in fills]
    return pairs


@pytest.mark.parametrize(("selector", "text", "fill"), graph_text_pairs())
def test_every_graph_label_reaches_aa_on_its_fill(selector: str, text: str, fill: str) -> None:
    assert contrast(text, fill) >= AA_TEXT, f"{selector}: {text} on {fill} is {contrast(text, fill):.2f}:1"


def test_the_table_covers_every_status_and_the_lineage_groups() -> None:
    pairs = {(text, fill) for _, text, fill in graph_text_pairs()}
    assert {(STATUS_TEXT[s], c) for s, c in STATUS_COLOURS.items()} <= pairs
    assert {(GROUP_TEXT, tint) for tint in TRACE_TINTS} <= pairs


def test_status_fills_are_told_apart_at_a_glance() -> None:
    for (a, ca), (b, cb) in itertools.combinations(STATUS_COLOURS.items(), 2):
        assert delta_e(ca, cb) >= 20, f"{a} {ca} and {b} {cb} differ by ΔE {delta_e(ca, cb):.1f}"
    # received (not stored yet) and stored differ in lightness too, not only in hue
    assert contrast(STATUS_COLOURS["received"], STATUS_COLOURS["stored"]) >= 3


# -- the page CSS --------------------------------------------------------------------------------


def css_rules(css: str = PAGE_CSS, resolve_vars: bool = True) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, one per selector of a group; var(--x) resolved by :root."""
    variables: dict[str, str] = {}
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = {}
        for decl in body.split(";"):
            if ":" in decl:
                name, value = decl.split(":", 1)
                decls[name.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.append((" ".join(selector.split()), decls))
        if selectors.strip() == ":root":
            variables = {k: v for k, v in decls.items() if k.startswith("--")}

    def resolve(value: str) -> str:
        m = re.fullmatch(r"var\((--[\w-]+)\)", value)
        return variables[m.group(1)] if m else value

    if not resolve_vars:
        return rules
    return [(s, {k: resolve(v) for k, v in d.items()}) for s, d in rules]


def css_text_pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets a text colour or a background. What a
    rule leaves out comes from the rule of its nearest ancestor selector (`header.topbar a:hover` takes
    its colour from `header.topbar a`, its background from itself), else the body's text on both the
    page's and a card's background."""
    rules = css_rules()
    by_selector: dict[str, dict[str, str]] = {}
    for selector, decls in rules:
        by_selector.setdefault(selector, {}).update(decls)
    body = by_selector["body"]
    root = by_selector[":root"]

    def inherited(selector: str, prop: str) -> str | None:
        words = re.sub(r":[\w-]+", "", selector).split()
        while words:
            found = by_selector.get(" ".join(words), {}).get(prop)
            if found and found.startswith("#"):
                return found
            words.pop()
        return None

    pairs = []
    for selector, decls in rules:
        own_text = decls.get("color")
        own_fill = decls.get("background") or decls.get("background-color")
        if selector in (":root", "body") or not (own_text or own_fill):
            continue
        if own_fill and not own_fill.startswith("#"):
            continue
        text = own_text if own_text else inherited(selector, "color") or body["color"]
        fill = own_fill or inherited(selector, "background")
        for f in [fill] if fill else [root["--bg"], WHITE]:
            pairs.append((selector, text, f))
    return pairs


@pytest.mark.parametrize(("selector", "text", "fill"), css_text_pairs())
def test_every_page_text_colour_reaches_aa(selector: str, text: str, fill: str) -> None:
    assert contrast(text, fill) >= AA_TEXT, f"{selector}: {text} on {fill} is {contrast(text, fill):.2f}:1"


def test_the_css_table_holds_the_log_levels_and_the_top_bar() -> None:
    seen = {selector: (text, fill) for selector, text, fill in css_text_pairs()}
    assert seen["header.topbar a"] == ("#eceff1", "#263238")
    assert {".log-warn td", ".log-error td", ".log-debug td", ".muted", ".drop-reason"} <= set(seen)


# -- the CSS of the navigation pages (pages_css.py): named colours, their pairs listed ---------------


def named_colours() -> dict[str, str]:
    """Every CSS variable the pages can use: styles.PAGE_CSS's :root, then pages_css.PALETTE."""
    root = dict(css_rules(resolve_vars=False))[":root"]
    return {**{k: v for k, v in root.items() if k.startswith("--")}, **PALETTE}


@pytest.mark.parametrize(("text", "fill"), READABLE)
def test_every_text_colour_of_the_navigation_pages_reaches_aa_on_its_background(text: str, fill: str) -> None:
    colours = named_colours()
    ratio = contrast(colours[text], colours[fill])
    assert ratio >= AA_TEXT, f"{text} {colours[text]} on {fill} {colours[fill]} is {ratio:.2f}:1"


def test_the_navigation_pages_css_uses_only_named_colours_and_pairs_each_it_draws() -> None:
    """A colour written into a rule, or a text colour or background no READABLE pair holds, escapes the
    check above: both fail here."""
    colours = named_colours()
    texts = {text for text, _ in READABLE}
    fills = {fill for _, fill in READABLE}
    for selector, decls in css_rules(PAGES_CSS, resolve_vars=False):
        if selector == ":root":
            continue
        for prop, value in decls.items():
            assert not re.search(r"#[0-9a-fA-F]{3,8}\b", value), f"{selector} {prop}: {value} is not a named colour"
            for name in re.findall(r"var\((--[\w-]+)\)", value):
                assert name in colours, f"{selector} {prop}: {name} is not defined"
                if prop == "color":
                    assert name in texts, f"{selector}: text colour {name} is on no background in READABLE"
                elif prop in ("background", "background-color"):
                    assert name in fills, f"{selector}: background {name} carries no text in READABLE"


def test_the_palette_matches_the_page_css_it_sits_on() -> None:
    page = dict(css_rules())
    assert PALETTE["--topbar"] == page["header.topbar"]["background"]
    assert PALETTE["--surface"] == WHITE
