"""Write the local server's pages as HTML: the list of datasets and a dataset's page.

Everything a client sent (dataset, category, image and box names) is user data and is
escaped where it is written; the pictures come from ``osai_import.pictures``, so the
pages draw stored boxes exactly as ``preview`` draws the boxes it would send.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote, urlencode

from osai_import.emulator.page_data import (
    NO_CATEGORY,
    OUTSIDE,
    PROBLEM_CODES,
    STORED_TWICE,
    DatasetCounts,
    DatasetFacts,
    DatasetSummary,
    SessionView,
    StoredImage,
)
from osai_import.emulator.views import ImageFilter
from osai_import.pictures import (
    DrawnBox,
    DrawnProblem,
    Figure,
    bar_chart,
    figure_html,
    filters_html,
    page_html,
)

TITLE = "OSAI local server"
# Sets the menus to the filter the server applied, and turns a choice into a request for
# page 1 of that filter: with paging, hiding figures of one page is not enough.
FILTER_SCRIPT = """
(function(){
  var grid=document.getElementById('images'),
      cat=document.getElementById('filter-category'),
      pro=document.getElementById('filter-problem');
  if(!grid||!cat||!pro)return;
  cat.value=grid.dataset.filterCategory||'';
  pro.value=grid.dataset.filterProblem||'';
  function go(){
    var q=new URLSearchParams();
    if(cat.value)q.set('category',decodeURIComponent(cat.value));
    if(pro.value)q.set('problem',pro.value);
    if(grid.dataset.perPage)q.set('per_page',grid.dataset.perPage);
    var s=q.toString();
    location.assign(location.pathname+(s?'?'+s:''));
  }
  cat.addEventListener('change',go);pro.addEventListener('change',go);
})();
"""
_EXTRA_STYLE = ("<style>.about{color:#555}.muted{color:#777}table.listing{margin:.5rem 0}"
                ".pager{margin:.8rem 0}.pager .current{font-weight:700}"
                "code{background:#eee;padding:0 .2rem}</style>")


@dataclass(frozen=True)
class Paging:
    """Which page of a dataset's images is shown, of how many."""

    page: int
    pages: int
    per_page: int
    matching: int  # images the filter keeps
    default_per_page: int


def _n(count: int, one: str, many: str) -> str:
    """Return "1 box" or "2 boxes"."""
    return f"{count:,} {one if count == 1 else many}"


def when(seconds: float) -> str:
    """Return a Unix time as UTC text."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _span(seconds: float) -> str:
    """Return a duration as "4 min 12 s"."""
    whole = max(0, round(seconds))
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def lock_html(lock: SessionView | None, now: float) -> str:
    """Return the lock state of a dataset: by which session and until when."""
    if lock is None or lock.expires_at is None:
        return '<span class="unlocked">unlocked</span>'
    return (f'<span class="locked" data-session="{lock.id}">locked by upload session '
            f'{lock.id} until {when(lock.expires_at)} (in {_span(lock.expires_at - now)}) '
            f'unless a chunk arrives</span>')


def index_page(datasets: Sequence[DatasetSummary], root: str, data_dir: str,
               api_ids: Mapping[int, str], now: float) -> str:
    """Return the list of datasets, or how to upload one when there is none."""
    about = (f'<p class="about">Data folder: <code>{escape(data_dir)}</code>. The same as '
             f'JSON: <a href="/_emulator/datasets">/_emulator/datasets</a>.</p>')
    if not datasets:
        body = (f"<h1>{TITLE}</h1>{about}<p class=\"empty\">No datasets yet. Upload the "
                "quickstart: <code>osai-import run configs/quickstart.yaml</code> sends it to "
                "the embedded local server, whose data is in <code>configs/.osai-local</code>;"
                " look at it with <code>osai-import serve --data configs/.osai-local</code>. "
                "Or point a config at this server: <code>server: {url: "
                f"{escape(root)}/api}}</code>, with the access token <code>serve</code> "
                "printed at start in <code>OSAI_TOKEN</code>.</p>")
        return page_html(TITLE, _EXTRA_STYLE + body, script=False)
    rows = []
    for d in datasets:
        shown_id = f"{d.id}" + (f' <span class="muted">({escape(api_ids[d.id])})</span>'
                                if d.id in api_ids else "")
        active = f", {d.active_sessions} active" if d.active_sessions else ""
        rows.append(
            f'<tr data-id="{d.id}" data-locked="{str(d.lock is not None).lower()}">'
            f'<td>{shown_id}</td><td><a href="/datasets/{d.id}">{escape(d.name)}</a></td>'
            f'<td class="images">{d.images:,}</td><td class="categories">{d.categories:,}</td>'
            f'<td class="lock">{lock_html(d.lock, now)}</td>'
            f'<td class="sessions">{d.sessions:,}{active}</td>'
            f'<td class="duplicates">{d.duplicates:,}</td></tr>')
    table = ('<table class="listing" id="datasets"><tr><th>id</th><th>dataset</th>'
             '<th>images</th><th>categories</th><th>lock</th><th>upload sessions</th>'
             f'<th>duplicates</th></tr>{"".join(rows)}</table>')
    count = f"{len(datasets)} dataset" + ("s" if len(datasets) != 1 else "")
    return page_html(TITLE, f"{_EXTRA_STYLE}<h1>{TITLE}: {count}</h1>{about}{table}",
                     script=False)


def dataset_page(facts: DatasetFacts, images: Sequence[StoredImage],
                 categories: Mapping[int, str], wanted: ImageFilter, paging: Paging,
                 api_id: str | None, now: float) -> str:
    """Return a dataset's page: its facts, charts, sessions, filters and one page of images."""
    shown_id = f"id {facts.id}" + (f", API id {escape(api_id)}" if api_id else "")
    head = (f'<p><a href="/">All datasets</a></p><h1>{escape(facts.name)} '
            f'<span class="muted">({shown_id})</span></h1>')
    body = [_EXTRA_STYLE, head, _facts_table(facts, now), _charts(facts.counts),
            _sessions_table(facts), '<h2 id="pictures">Images</h2>',
            filters_html([c.name for c in facts.counts.labels], PROBLEM_CODES),
            _filter_note(wanted, paging, facts.counts.images, facts.id)]
    pager = _pager(facts.id, wanted, paging)
    figures = "".join(figure_html(_figure(facts.id, image, categories)) for image in images)
    per_page = (f' data-per-page="{paging.per_page}"'
                if paging.per_page != paging.default_per_page else "")
    grid = (f'<div class="grid" id="images" data-page="{paging.page}" '
            f'data-filter-category="{escape(quote(wanted.label, safe=""))}" '
            f'data-filter-problem="{escape(wanted.problem)}"{per_page}>{figures}</div>')
    body += [pager, grid, pager, f"<script>{FILTER_SCRIPT}</script>"]
    return page_html(f"{facts.name} ({TITLE})", "".join(body))


def message_page(title: str, message_html: str) -> str:
    """Return a page that only says something (not found, a wrong query)."""
    return page_html(title, f'{_EXTRA_STYLE}<p><a href="/">All datasets</a></p>'
                     f'<h1>{escape(title)}</h1><p class="message">{message_html}</p>',
                     script=False)


def _facts_table(facts: DatasetFacts, now: float) -> str:
    """Return the dataset's counts, lock and problems as a table."""
    def problem(count: int, code: str, text: str) -> str:
        if not count:
            return "none"
        return f'{text} (<a href="?{urlencode({"problem": code})}#pictures">show them</a>)'

    counts = facts.counts
    active = sum(1 for s in facts.sessions if s.state == "active")
    rows = [
        ("images", f"{counts.images:,}"),
        ("categories", f"{sum(1 for c in counts.labels if c.category_id is not None):,}"),
        ("boxes", f"{sum(c.boxes for c in counts.labels):,}"),
        ("lock", lock_html(facts.lock, now)),
        ("upload sessions", f"{facts.session_count:,}" + (f", {active} active" if active
                                                          else "")),
        ("duplicates", problem(counts.duplicates, STORED_TWICE, (
            f"{_n(counts.duplicates, 'image', 'images')} with a name stored before; "
            f"{_n(counts.names_stored_twice, 'name', 'names')} stored more than once"))),
        ("objects without category", problem(
            counts.objects_without_category, NO_CATEGORY,
            f"{_n(counts.objects_without_category, 'box', 'boxes')} with a label that is no "
            "category of the dataset")),
        ("boxes outside their image", problem(
            counts.boxes_outside, OUTSIDE,
            f"{_n(counts.boxes_outside, 'box', 'boxes')} reaching past the image's edge")),
        ("as JSON", f'<a href="/_emulator/datasets/{facts.id}">/_emulator/datasets/{facts.id}</a>'),
    ]
    return '<table class="facts" id="facts">' + "".join(
        f'<tr data-fact="{escape(name)}"><th>{escape(name)}</th><td>{value}</td></tr>'
        for name, value in rows) + "</table>"


def _charts(counts: DatasetCounts) -> str:
    """Return the categories as a table and two bar charts (images, boxes per name)."""
    rows = "".join(
        f'<tr data-name="{escape(c.name)}"><td>{escape(c.name)}</td><td>'
        f'{c.category_id if c.category_id is not None else "no category"}</td>'
        f'<td>{c.image_level:,}</td><td>{c.images:,}</td><td>{c.boxes:,}</td>'
        f'<td>{c.uncategorized:,}</td></tr>' for c in counts.labels)
    table = ('<table class="listing" id="categories"><tr><th>category or box label</th>'
             '<th>category id</th><th>image-level</th><th>images</th><th>boxes</th>'
             f'<th>boxes without category</th></tr>{rows}</table>')
    images = bar_chart({c.name: c.images for c in counts.labels})
    boxes = bar_chart({c.name: c.boxes for c in counts.labels if c.boxes})
    return (f'<h2>Categories</h2>{table}<div class="summary">'
            f'<div id="images-per-category"><h2>Images per category</h2>{images}</div>'
            f'<div id="boxes-per-label"><h2>Boxes per label</h2>{boxes}</div></div>')


def _sessions_table(facts: DatasetFacts) -> str:
    """Return the upload sessions, the latest first."""
    if not facts.sessions:
        return "<h2>Upload sessions</h2><p>none</p>"
    rows = []
    for s in facts.sessions:
        end = (f"unlocks {when(s.expires_at)}" if s.expires_at is not None
               else when(s.ended) if s.ended is not None else "")
        rows.append(f'<tr data-session="{s.id}" data-state="{escape(s.state)}"><td>{s.id}</td>'
                    f'<td>{escape(s.state)}</td><td>{when(s.started)}</td>'
                    f'<td>{when(s.last_activity)}</td><td>{end}</td><td>{s.chunks:,}</td>'
                    f'<td>{s.images:,}</td></tr>')
    more = (f'<p class="muted">The latest {len(facts.sessions)} of {facts.session_count:,}.</p>'
            if facts.session_count > len(facts.sessions) else "")
    return ('<h2>Upload sessions</h2><table class="listing" id="sessions"><tr><th>id</th>'
            '<th>state</th><th>started</th><th>last chunk</th><th>ended</th><th>chunks</th>'
            f'<th>images</th></tr>{"".join(rows)}</table>{more}')


def _filter_note(wanted: ImageFilter, paging: Paging, total: int, dataset_id: int) -> str:
    """Say which images the page shows, and how to see them all."""
    if not total:
        return '<p class="note">No images are stored in this dataset yet.</p>'
    parts = []
    if wanted.label:
        parts.append(f"with category or box label <b>{escape(wanted.label)}</b>")
    if wanted.problem == "*":
        parts.append("with a problem")
    elif wanted.problem == "-":
        parts.append("without problems")
    elif wanted.problem:
        parts.append(f"with problem <code>{escape(wanted.problem)}</code>")
    if not parts:
        return f'<p class="note">{total:,} images, {paging.per_page} per page.</p>'
    return (f'<p class="note">{paging.matching:,} of {total:,} images {" and ".join(parts)} '
            f'(<a href="/datasets/{dataset_id}#pictures">show all</a>).</p>')


def page_link(dataset_id: int, wanted: ImageFilter, page: int, per_page: int,
              default_per_page: int) -> str:
    """Return the URL of one page of a dataset's images, keeping the filter."""
    query: dict[str, str | int] = {}
    if wanted.label:
        query["category"] = wanted.label
    if wanted.problem:
        query["problem"] = wanted.problem
    if per_page != default_per_page:
        query["per_page"] = per_page
    if page != 1:
        query["page"] = page
    return f"/datasets/{dataset_id}" + (f"?{urlencode(query)}" if query else "")


def _pager(dataset_id: int, wanted: ImageFilter, paging: Paging) -> str:
    """Return links to the first, previous, nearby, next and last pages."""
    if paging.pages <= 1:
        return ""

    def link(page: int, text: str, rel: str = "") -> str:
        if page == paging.page:
            return f'<span class="current">{text}</span>'
        url = page_link(dataset_id, wanted, page, paging.per_page, paging.default_per_page)
        rel_attr = f' rel="{rel}"' if rel else ""
        return f'<a href="{escape(url)}#pictures" data-page="{page}"{rel_attr}>{text}</a>'

    near = range(max(1, paging.page - 3), min(paging.pages, paging.page + 3) + 1)
    parts = [link(1, "« first")] if paging.page > 1 else []
    if paging.page > 1:
        parts.append(link(paging.page - 1, "‹ previous", "prev"))
    parts += [link(page, str(page)) for page in near]
    if paging.page < paging.pages:
        parts += [link(paging.page + 1, "next ›", "next"), link(paging.pages, "last »")]
    return (f'<nav class="pager" data-page="{paging.page}" data-pages="{paging.pages}">'
            f'page {paging.page} of {paging.pages}: {"".join(parts)}</nav>')


def _figure(dataset_id: int, image: StoredImage, categories: Mapping[int, str]) -> Figure:
    """Return how the pictures module draws a stored image: stored frame, stored boxes."""
    base = f"/datasets/{dataset_id}/images/{image.id}"
    return Figure(
        name=image.name, href=f"{base}/thumbnail", width=image.width, height=image.height,
        boxes=[DrawnBox(o.name, o.xmin, o.ymin, o.xmax, o.ymax) for o in image.objects],
        category=None if image.category_id is None else categories.get(image.category_id),
        problems=_problems(image), link=base,
        facts={"id": str(image.id), "session": str(image.session_id),
               "file": f"{image.format.upper()}, {image.size / 1000:,.1f} kB"})


def _problems(image: StoredImage) -> list[DrawnProblem]:
    """Say what the server knows is wrong with an image, and what to do about it."""
    found = []
    for code in image.problems():
        if code == STORED_TWICE:
            found.append(DrawnProblem(code, "warning", (
                f"{image.copies} images of this dataset are named {image.name!r}, as when "
                "a chunk is sent again after its answer was lost; keep one of them")))
        elif code == NO_CATEGORY:
            labels = sorted({o.name for o in image.objects if o.category_id is None})
            found.append(DrawnProblem(code, "error", (
                f"box {'label' if len(labels) == 1 else 'labels'} "
                f"{', '.join(map(repr, labels))}: no category of the dataset has that name; "
                "create the category before uploading, or map the label to one")))
        else:
            outside = [o for o in image.objects if o.xmin < 0 or o.ymin < 0
                       or o.xmax > image.width or o.ymax > image.height]
            found.append(DrawnProblem(code, "warning", (
                f"{_n(len(outside), 'box reaches', 'boxes reach')} outside the "
                f"{image.width}\u00d7{image.height} image (first: {outside[0].name!r}); clip "
                "boxes to the image before uploading")))
    return found
