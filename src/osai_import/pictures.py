"""Draw images with their boxes as HTML: one way for ``preview`` and the local server's pages.

An image is an inline ``<svg class="picture">`` whose ``viewBox`` is the image's stored
pixel frame (``0 0 width height``, before any EXIF rotation: the frame boxes are in and
OSAI receives). The picture is an ``<image>`` filling that frame; each box is a
``<rect class="box" data-label=...>`` in the same pixel coordinates, followed by a
``<text>`` with its label. The browser scales the whole frame, so a box sits where its
numbers say on any screen size, and tests can read the coordinates back from the DOM.

Every item is a ``<figure class="item">`` with ``data-name``, ``data-category``,
``data-labels`` (its box labels) and ``data-problems`` (problem codes), space-separated
lists URL-quoted so a label with a space stays one token; the page's filters
(``select#filter-category`` and ``select#filter-problem``) hide the figures that do not
match by setting ``hidden``. Thumbnails are re-encoded without EXIF (``thumbnail``),
so the picture shows the stored frame whatever the viewer does with EXIF orientation.
"""

from __future__ import annotations

import hashlib
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from PIL import Image

# Thumbnails are at most this many pixels on their longer side: sharp enough to judge a
# box on a laptop screen, about 10-25 KB as JPEG.
THUMBNAIL_SIDE = 480


@dataclass(frozen=True)
class DrawnBox:
    """One box to draw, in stored pixels (``records.Box``'s convention)."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class DrawnProblem:
    """One problem shown under an item."""

    code: str
    severity: str  # "warning" or "error"
    message: str


@dataclass(frozen=True)
class Figure:
    """One image as a page shows it."""

    name: str  # the remote name
    href: str  # where the picture comes from: a data: URI or a URL
    width: int  # the stored frame, which boxes are in
    height: int
    boxes: Sequence[DrawnBox] = ()
    category: str | None = None  # the image-level category
    problems: Sequence[DrawnProblem] = ()
    facts: Mapping[str, str] = field(default_factory=dict)  # shown under the name
    link: str | None = None  # where a click on the picture goes (the full image)


def thumbnail(data: bytes, side: int = THUMBNAIL_SIDE) -> tuple[bytes, int, int]:
    """Return a JPEG of ``data`` at most ``side`` pixels long, with the stored size.

    The pixels keep the stored frame (EXIF orientation is not applied, and the EXIF
    block is not copied), so boxes in stored pixels fit the thumbnail scaled. Raises
    OSError or ValueError when Pillow cannot decode the image.
    """
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: a 12 MP photo
        # becomes a thumbnail in a few milliseconds instead of a full decode.
        image.draft("RGB", (side, side))
        small = image.convert("RGB")
        small.thumbnail((side, side), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        small.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue(), width, height


def label_color(label: str) -> str:
    """Return a stable, well-saturated colour for a label (the same on every page)."""
    hue = int.from_bytes(hashlib.sha1(label.encode("utf-8")).digest()[:2], "big") % 360
    return f"hsl({hue} 85% 45%)"


def tokens(values: Iterable[str]) -> str:
    """Return values as one ``data-*`` attribute value: URL-quoted, space-separated."""
    return " ".join(sorted({quote(v, safe="") for v in values}))


def _num(value: float) -> str:
    return f"{value:.6g}"


def picture_svg(figure: Figure) -> str:
    """Return the ``<svg class="picture">`` of one figure: the image and its boxes."""
    w, h = figure.width, figure.height
    # Labels and strokes are sized for the frame, so they read the same on a 64 px icon
    # and on a 6,000 px photo once the browser scales the frame to the page.
    font = max(w, h) / 32
    svg = (f'<svg class="picture" viewBox="0 0 {w} {h}" data-width="{w}" data-height="{h}" '
           f'preserveAspectRatio="xMidYMid meet" role="img" '
           f'aria-label="{html.escape(figure.name)}">')
    image = (f'<image href="{html.escape(figure.href)}" x="0" y="0" width="{w}" height="{h}" '
             f'preserveAspectRatio="none"/>')
    parts = [svg, image]
    for box in figure.boxes:
        color = label_color(box.label)
        label = html.escape(box.label)
        parts.append(
            f'<rect class="box" data-label="{label}" x="{_num(box.xmin)}" '
            f'y="{_num(box.ymin)}" width="{_num(box.xmax - box.xmin)}" '
            f'height="{_num(box.ymax - box.ymin)}" stroke="{color}"><title>{label} '
            f'({_num(box.xmin)}, {_num(box.ymin)}, {_num(box.xmax)}, {_num(box.ymax)})'
            f'</title></rect>')
        # Written inside the box's top edge when there is room above it, else below it.
        y = box.ymin - font * 0.25 if box.ymin > font else box.ymin + font
        # A box near the right edge gets its label ending at its right side, so the
        # label stays inside the frame.
        x, anchor = (box.xmax, "end") if box.xmin > w * 0.6 else (box.xmin, "start")
        parts.append(
            f'<text class="box-label" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" '
            f'font-size="{_num(font)}" fill="{color}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def figure_html(figure: Figure) -> str:
    """Return one ``<figure class="item">``: the picture, its name, category and problems."""
    labels = [box.label for box in figure.boxes]
    codes = [problem.code for problem in figure.problems]
    category = figure.category or ""
    picture = picture_svg(figure)
    if figure.link:
        picture = f'<a href="{html.escape(figure.link)}">{picture}</a>'
    caption = [f'<div class="name">{html.escape(figure.name)}</div>']
    if figure.category is not None:
        caption.append(f'<div class="category" style="border-color:'
                       f'{label_color(figure.category)}">{html.escape(figure.category)}</div>')
    facts = [f"{figure.width}\u00d7{figure.height}", f"{len(figure.boxes)} boxes"]
    facts += [f"{html.escape(k)}: {html.escape(v)}" for k, v in figure.facts.items()]
    caption.append(f'<div class="facts">{" · ".join(facts)}</div>')
    if figure.problems:
        caption.append('<ul class="problems">' + "".join(
            f'<li class="problem {html.escape(p.severity)}" data-code="{html.escape(p.code)}">'
            f'<code>{html.escape(p.code)}</code> {html.escape(p.message)}</li>'
            for p in figure.problems) + "</ul>")
    return (
        f'<figure class="item" data-name="{html.escape(figure.name)}" '
        f'data-category="{html.escape(tokens([category] if category else []))}" '
        f'data-labels="{html.escape(tokens(labels))}" '
        f'data-problems="{html.escape(tokens(codes))}">'
        f'{picture}<figcaption>{"".join(caption)}</figcaption></figure>')


def filters_html(categories: Iterable[str], problem_codes: Iterable[str]) -> str:
    """Return the two filter menus (by category or box label, by problem code)."""
    def options(values: Iterable[str], everything: str) -> str:
        return f'<option value="">{everything}</option>' + "".join(
            f'<option value="{html.escape(quote(v, safe=""))}">{html.escape(v)}</option>'
            for v in sorted(set(values)))
    return (
        '<div class="filters">'
        '<label>Category <select id="filter-category">'
        f'{options(categories, "all categories")}</select></label> '
        '<label>Problem <select id="filter-problem">'
        f'{options(problem_codes, "any or none")}'
        '<option value="*">with a problem</option>'
        '<option value="-">without problems</option></select></label> '
        '<span id="filter-count"></span></div>')


def bar_chart(counts: Mapping[str, int], *, css_class: str = "bars") -> str:
    """Return a horizontal bar chart of ``counts`` as a table (largest first)."""
    if not counts:
        return f'<table class="{css_class}"><tr><td>none</td></tr></table>'
    top = max(counts.values()) or 1
    rows = []
    for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        width = 100 * count / top
        color = label_color(name)
        rows.append(
            f'<tr data-name="{html.escape(name)}" data-count="{count}"><th>{html.escape(name)}'
            f'</th><td class="count">{count:,}</td><td class="bar"><span style="width:'
            f'{width:.1f}%;background:{color}"></span></td></tr>')
    return f'<table class="{css_class}">{"".join(rows)}</table>'


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse}th,td{padding:.15rem .5rem;text-align:left;
vertical-align:top}table.facts th{font-weight:600;color:#555}
table.listing th,table.listing td{border-bottom:1px solid #ddd}
table.bars td.count{text-align:right;font-variant-numeric:tabular-nums}
table.bars td.bar{width:18rem}table.bars td.bar span{display:block;height:.9rem}
.summary{display:flex;flex-wrap:wrap;gap:2rem}.filters{margin:1rem 0}
.grid{display:flex;flex-wrap:wrap;gap:1rem}
figure.item{margin:0;width:22rem;background:#fff;border:1px solid #ddd;padding:.5rem}
figure.item[hidden]{display:none}
svg.picture{display:block;width:100%;height:auto;max-height:22rem;background:#eee}
svg.picture image{image-orientation:none}
svg.picture rect.box{fill:none;stroke-width:2.5;vector-effect:non-scaling-stroke}
svg.picture text.box-label{font-weight:700;paint-order:stroke;stroke:#fff;
stroke-width:3px;stroke-linejoin:round}
figcaption{font-size:.85rem;margin-top:.4rem;overflow-wrap:anywhere}
figcaption .name{font-weight:600}figcaption .facts{color:#555}
figcaption .category{display:inline-block;border-left:.4rem solid;padding-left:.3rem}
ul.problems{margin:.3rem 0 0;padding-left:1rem}li.problem.error{color:#b00020}
li.problem.warning{color:#8a5a00}.locked{color:#b00020;font-weight:600}
.pager a,.pager span{margin-right:.6rem}
"""

# Hides the figures that do not match both menus; keeps the URL's #hash in step so a
# filtered view can be shared.
SCRIPT = """
(function(){
  var cat=document.getElementById('filter-category'),
      pro=document.getElementById('filter-problem'),
      out=document.getElementById('filter-count');
  if(!cat||!pro)return;
  function has(list,v){return (' '+(list||'')+' ').indexOf(' '+v+' ')>=0;}
  function apply(){
    var c=cat.value,p=pro.value,shown=0,all=document.querySelectorAll('figure.item');
    all.forEach(function(f){
      var ok=(!c||has(f.dataset.category,c)||has(f.dataset.labels,c));
      var codes=f.dataset.problems||'';
      if(p==='*')ok=ok&&codes!=='';else if(p==='-')ok=ok&&codes==='';
      else if(p)ok=ok&&has(codes,p);
      f.hidden=!ok;if(ok)shown++;
    });
    if(out)out.textContent=shown+' of '+all.length+' shown';
  }
  cat.addEventListener('change',apply);pro.addEventListener('change',apply);apply();
})();
"""


def page_html(title: str, body: str, *, script: bool = True) -> str:
    """Return a whole HTML page: no external resources, so it works offline."""
    tail = f"<script>{SCRIPT}</script>" if script else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}{tail}</body></html>")
