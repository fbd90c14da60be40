"""The local server's HTML pages over real HTTP: lists, paging, filters, pictures, 404s.

Pages are read while the API works: they take no token, draw no faults and are not
counted in the API's stats, and an upload goes on while they are read.
"""

from __future__ import annotations

import io
import re
import signal
import threading
import time
from html import escape
from pathlib import Path

import requests
from PIL import Image

from osai_import.emulator import EmulatorSettings, LocalServer
from osai_import.emulator.store import StagedImage, Store
from osai_import.emulator.voc import VocObject

from .support import Api, Img, b64, make_image, voc_xml
from .test_emulator_cli import read_banner, start

SCRIPT = "<script>window.pwned=1</script>"


def page(server: LocalServer, path: str, status: int = 200) -> str:
    """GET a page, check it is HTML with the pages' headers, return its text."""
    answer = requests.get(f"{server.root_url}{path}", timeout=30)
    assert answer.status_code == status, (path, answer.status_code, answer.text[-500:])
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'sha256-" in answer.headers["Content-Security-Policy"]
    return answer.text


def names_shown(html: str) -> list[str]:
    """Return the data-name of every figure of a page, in page order."""
    return re.findall(r'<figure class="item" data-name="([^"]*)"', html)


def boxed(name: str, boxes: list[tuple[str, int, int, int, int]], category: int | None = None,
          width: int = 32, height: int = 24) -> Img:
    """Return an image with a VOC annotation of ``boxes``."""
    return Img(name, make_image(width=width, height=height),
               annotation=b64(voc_xml(name, width, height, boxes)), category=category)


def upload(api: Api, dataset: int, *chunks: list[Img], finish: bool = True) -> int:
    """Send each list of images as one chunk of one session; return the session id."""
    session = api.start(dataset)
    for images in chunks:
        answer = api.chunk(dataset, session, images)
        assert answer.status_code == 200, answer.text
    if finish:
        assert api.finish(dataset, session).status_code == 200
    return session


def test_an_empty_server_says_how_to_upload(server: LocalServer) -> None:
    html = page(server, "/")
    assert "No datasets yet" in html
    assert "osai-import run configs/quickstart.yaml" in html
    assert f"server: {{url: {server.root_url}/api}}" in html
    assert server.token not in html  # the access token is never shown


def test_the_list_shows_each_dataset_with_its_counts_and_lock(api: Api,
                                                              server: LocalServer) -> None:
    fruit = api.dataset("fruit")
    apple = api.category(fruit, "apple")
    api.category(fruit, "pear")
    first = [boxed("a.jpg", [("apple", 1, 1, 9, 9)], apple), boxed("b.jpg", [])]
    upload(api, fruit, first, [boxed("a.jpg", [("apple", 2, 2, 8, 8)], apple)])
    empty = api.dataset("empty")
    held = upload(api, empty, [Img("x.jpg")], finish=False)  # left locked, as by a killed run

    html = page(server, "/")
    rows = dict(re.findall(r'<tr data-id="(\d+)" data-locked="(true|false)">', html))
    assert rows == {str(fruit): "false", str(empty): "true"}
    fruit_row = html[html.index(f'<tr data-id="{fruit}"'):html.index(f'<tr data-id="{empty}"')]
    assert f'<a href="/datasets/{fruit}">fruit</a>' in fruit_row
    assert '<td class="images">3</td>' in fruit_row
    assert '<td class="categories">2</td>' in fruit_row
    assert '<td class="duplicates">1</td>' in fruit_row
    assert '<td class="sessions">1</td>' in fruit_row
    empty_row = html[html.index(f'<tr data-id="{empty}"'):]
    assert f"locked by upload session {held} until " in empty_row
    assert '<td class="sessions">1, 1 active</td>' in empty_row
    # The same lock on the dataset's page, then gone once the session idles out.
    assert f"locked by upload session {held} until" in page(server, f"/datasets/{empty}")
    server.settings.unlock_after = 0
    rows = dict(re.findall(r'<tr data-id="(\d+)" data-locked="(true|false)">', page(server, "/")))
    assert rows == {str(fruit): "false", str(empty): "false"}
    dataset = page(server, f"/datasets/{empty}")
    assert '<span class="unlocked">unlocked</span>' in dataset
    assert f'<tr data-session="{held}" data-state="expired">' in dataset


def test_user_names_are_shown_as_text(api: Api, server: LocalServer) -> None:
    dataset = api.dataset(f"evil {SCRIPT}")
    category = api.category(dataset, f"cat {SCRIPT}")
    upload(api, dataset, [boxed(f"{SCRIPT}.jpg", [(f"box {SCRIPT}", 1, 1, 9, 9)], category)])
    for html in (page(server, "/"), page(server, f"/datasets/{dataset}"),
                 page(server, f"/datasets/{dataset}?category=cat+{SCRIPT}")):
        assert SCRIPT not in html
        assert escape(SCRIPT) in html
    html = page(server, f"/datasets/{dataset}")
    assert f'<h1>evil {escape(SCRIPT)} ' in html
    assert names_shown(html) == [escape(f"{SCRIPT}.jpg")]
    # A query is user data too.
    assert SCRIPT not in page(server, f"/datasets/{dataset}?page={SCRIPT}", 400)
    assert SCRIPT not in page(server, f"/datasets/{SCRIPT}", 404)


def test_pages_follow_arrival_order_and_refuse_pages_that_are_not(api: Api,
                                                                  server: LocalServer) -> None:
    dataset = api.dataset("seven")
    upload(api, dataset, [Img(f"{n}.jpg") for n in "abc"], [Img(f"{n}.jpg") for n in "defg"])
    shown = [names_shown(page(server, f"/datasets/{dataset}?per_page=3&page={n}"))
             for n in (1, 2, 3)]
    assert shown == [["a.jpg", "b.jpg", "c.jpg"], ["d.jpg", "e.jpg", "f.jpg"], ["g.jpg"]]
    second = page(server, f"/datasets/{dataset}?per_page=3&page=2")
    assert '<nav class="pager" data-page="2" data-pages="3">' in second
    nearby = f'href="/datasets/{dataset}?per_page=3&amp;page=3#pictures" data-page="3" '
    assert nearby + 'rel="next"' in second
    assert f'href="/datasets/{dataset}?per_page=3#pictures" data-page="1" rel="prev"' in second
    assert names_shown(page(server, f"/datasets/{dataset}")) == [f"{n}.jpg" for n in "abcdefg"]
    assert '<nav class="pager"' not in page(server, f"/datasets/{dataset}")

    beyond = page(server, f"/datasets/{dataset}?per_page=3&page=4", 404)
    assert "7 images make 3 pages of 3" in beyond
    assert f'href="/datasets/{dataset}?per_page=3&amp;page=3"' in beyond
    for query in ("page=0", "page=two", "per_page=0", "per_page=501", "problem=bogus"):
        assert "Wrong query" in page(server, f"/datasets/{dataset}?{query}", 400)


def test_filters_and_problems_page_in_sql(api: Api, server: LocalServer) -> None:
    dataset = api.dataset("problems")
    cat = api.category(dataset, "cat")
    dog = api.category(dataset, "dog")
    upload(api, dataset, [
        boxed("fine.jpg", [("cat", 1, 1, 9, 9)], cat),
        boxed("twice.jpg", [], dog),
        boxed("stray.jpg", [("cat", 1, 1, 9, 9), ("fox", 2, 2, 5, 5)]),
        boxed("edge.jpg", [("dog", 20, 10, 40, 30)], dog),  # the image is 32x24
    ], [boxed("twice.jpg", [], dog)])
    base = f"/datasets/{dataset}"
    wanted = {
        "category=cat": ["fine.jpg", "stray.jpg"],
        "category=dog": ["twice.jpg", "edge.jpg", "twice.jpg"],
        "category=fox": ["stray.jpg"],
        "problem=stored-twice": ["twice.jpg", "twice.jpg"],
        "problem=object-without-category": ["stray.jpg"],
        "problem=box-outside-image": ["edge.jpg"],
        "problem=*": ["twice.jpg", "stray.jpg", "edge.jpg", "twice.jpg"],
        "problem=-": ["fine.jpg"],
        "category=cat&problem=-": ["fine.jpg"],
        "category=dog&problem=stored-twice&per_page=1&page=2": ["twice.jpg"],
    }
    for query, names in wanted.items():
        assert names_shown(page(server, f"{base}?{query}")) == names, query
    html = page(server, base)
    assert re.search(r'data-name="stray.jpg" [^>]*data-problems="object-without-category"', html)
    assert re.search(r'data-name="twice.jpg" [^>]*data-problems="stored-twice"', html)
    assert "box label &#x27;fox&#x27;: no category of the dataset has that name" in html
    assert "1 box reaches outside the 32×24 image (first: &#x27;dog&#x27;)" in html
    assert "1 image with a name stored before; 1 name stored more than once" in html
    assert "1 box with a label that is no category of the dataset" in html
    assert "1 box reaching past the image's edge" in html
    # The charts: images per category or label (an image counted once), boxes per label.
    images = dict(re.findall(r'<tr data-name="(\w+)" data-count="(\d+)">',
                             html.split('id="images-per-category"')[1].split("</table>")[0]))
    assert images == {"cat": "2", "dog": "3", "fox": "1"}
    boxes = dict(re.findall(r'<tr data-name="(\w+)" data-count="(\d+)">',
                            html.split('id="boxes-per-label"')[1].split("</table>")[0]))
    assert boxes == {"cat": "2", "dog": "1", "fox": "1"}
    assert "2 of 5 images with problem <code>stored-twice</code>" in page(
        server, f"{base}?problem=stored-twice")


def test_unknown_things_are_html_404s(api: Api, server: LocalServer) -> None:
    one = api.dataset("one")
    two = api.dataset("two")
    upload(api, one, [Img("a.jpg")])
    image = api.inspect(one)["images"][0]["id"]
    assert "Dataset 99 does not exist" in page(server, "/datasets/99", 404)
    assert "Dataset 99 does not exist" in page(server, f"/datasets/99/images/{image}", 404)
    assert f"Dataset {one} has no image 12345" in page(
        server, f"/datasets/{one}/images/12345/thumbnail", 404)
    assert f"Dataset {two} has no image {image}" in page(
        server, f"/datasets/{two}/images/{image}", 404)
    assert "no page at /datasets/1/nothing" in page(server, f"/datasets/{one}/nothing", 404)
    assert requests.post(f"{server.root_url}/", timeout=10).status_code == 405
    # Paths outside the pages are the API's, as before.
    assert requests.get(f"{server.root_url}/nothing", timeout=10).headers[
        "Content-Type"].startswith("application/problem+json")


def _rotated_photo(width: int, height: int) -> bytes:
    """Return a JPEG whose EXIF says to turn it (orientation 6), as phones write them."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (width, height), (10, 150, 90)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_pictures_are_the_stored_bytes_and_thumbnails_of_the_stored_frame(
        api: Api, server: LocalServer) -> None:
    dataset = api.dataset("pictures")
    photo, png = _rotated_photo(1200, 300), make_image("png", 64, 48)
    upload(api, dataset, [Img("photo.jpg", photo), Img("small.png", png)])
    ids = {i["name"]: i["id"] for i in api.inspect(dataset)["images"]}
    base = f"{server.root_url}/datasets/{dataset}/images"

    full = requests.get(f"{base}/{ids['photo.jpg']}", timeout=10)
    assert full.status_code == 200 and full.content == photo
    assert full.headers["Content-Type"] == "image/jpeg"
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert "photo.jpg" in full.headers["Content-Disposition"]
    same = requests.get(f"{base}/{ids['small.png']}/file", timeout=10)
    assert same.content == png and same.headers["Content-Type"] == "image/png"

    thumb = requests.get(f"{base}/{ids['photo.jpg']}/thumbnail", timeout=10)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert small.format == "JPEG"
        assert small.size == (480, 120)  # the stored 1200x300 frame, not turned
        assert small.getexif().get(0x0112) is None
    with Image.open(io.BytesIO(requests.get(f"{base}/{ids['small.png']}/thumbnail",
                                            timeout=10).content)) as small:
        assert (small.format, small.size) == ("JPEG", (64, 48))  # never enlarged

    cache = server.app.pages.thumbnails
    assert cache.counts.decoded == 2
    again = requests.get(f"{base}/{ids['photo.jpg']}/thumbnail", timeout=10)
    assert again.content == thumb.content
    assert (cache.counts.decoded, cache.counts.hits) == (2, 1)  # a reload decodes nothing
    asked = requests.get(f"{base}/{ids['photo.jpg']}/thumbnail", timeout=10,
                         headers={"If-None-Match": thumb.headers["ETag"]})
    assert asked.status_code == 304 and not asked.content
    assert requests.get(f"{base}/{ids['photo.jpg']}", timeout=10, headers={
        "If-None-Match": full.headers["ETag"]}).status_code == 304

    # A stored file removed behind the server's back is said so, in a page.
    (server.settings.data_dir / "images" / api.inspect(dataset)["images"][1]["file"]).unlink()
    assert "is missing from" in page(server, f"/datasets/{dataset}/images/{ids['small.png']}",
                                     404)


def test_reading_pages_leaves_the_api_as_it_is(api: Api, server: LocalServer) -> None:
    dataset = api.dataset("busy")
    category = api.category(dataset, "cat")
    upload(api, dataset, [boxed("first.jpg", [("cat", 1, 1, 9, 9)], category)])
    image = api.inspect(dataset)["images"][0]["id"]
    before = api.stats()
    server.settings.fail_rate = 1.0  # every /api request fails; pages do not
    for path in ("/", f"/datasets/{dataset}", f"/datasets/{dataset}/images/{image}",
                 f"/datasets/{dataset}/images/{image}/thumbnail", "/favicon.ico"):
        assert requests.get(f"{server.root_url}{path}", timeout=10).status_code in (200, 204)
    assert api.stats()["requests"] == before["requests"]  # no page is counted
    assert api.post("/Datasets", json={"name": "x"}).status_code == 503
    server.settings.fail_rate = 0.0

    # An upload goes on, answer for answer, while pages and thumbnails are read.
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                for path in ("/", f"/datasets/{dataset}",
                             f"/datasets/{dataset}/images/{image}/thumbnail"):
                    seen.append(http.get(f"{server.root_url}{path}", timeout=30).status_code)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        session = api.start(dataset)
        for n in range(10):
            images = [boxed(f"{n}-{k}.jpg", [("cat", 1, 1, 9, 9)], category) for k in range(5)]
            answer = api.chunk(dataset, session, images)
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["imageIds"]) == 5
        assert api.finish(dataset, session).status_code == 200
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) == {200}
    assert len(api.inspect(dataset)["images"]) == 51
    assert names_shown(page(server, f"/datasets/{dataset}?per_page=1&page=51")) == ["9-4.jpg"]


def test_the_pages_take_the_guid_an_api_showed(api: Api, server: LocalServer) -> None:
    server.settings.variants.ids = "guid"
    guid = api.post("/Datasets", json={"name": "guids"}).json()["id"]
    html = page(server, f"/datasets/{guid}")
    assert "<h1>guids " in html and f"API id {guid}" in html
    assert guid in page(server, "/")
    assert "does not exist" in page(server, "/datasets/00000000-0000-0000-0000-000000000000",
                                    404)


def test_any_page_of_a_100000_image_dataset_shows_its_own_images(tmp_path: Path) -> None:
    data = tmp_path / "big"
    store = Store(data)
    now = time.time()
    dataset = store.create_dataset("big", now)["id"]
    categories = [store.create_category(dataset, f"c{k}", now, 300)["id"] for k in range(10)]
    session = store.start_session(dataset, now, 300)
    for first in range(0, 100_000, 2_000):
        store.commit_chunk(dataset, session, [StagedImage(
            index=i, name=f"{first + i:06d}.jpg", data=b"", sha256="0" * 64, format="jpeg",
            width=640, height=480, classify_category_id=categories[(first + i) % 10],
            annotation_type=0, annotation=None, file=f"{dataset}/none.jpg",
            objects=[VocObject(f"c{(first + i + k) % 10}", 10, 10, 100, 100, 0, 0)
                     for k in range(3)]) for i in range(2_000)], now, 300)
    store.finish_session(dataset, session, now, 300)
    store.close()

    with LocalServer(EmulatorSettings(data_dir=data)) as server:
        html = page(server, f"/datasets/{dataset}")
        assert "100,000 images, 48 per page." in html
        assert '<tr data-fact="boxes"><th>boxes</th><td>300,000</td></tr>' in html
        assert names_shown(html) == [f"{n:06d}.jpg" for n in range(48)]
        for number in (2, 1000, 2084):
            html = page(server, f"/datasets/{dataset}?page={number}")
            assert names_shown(html) == [f"{n:06d}.jpg" for n in
                                         range((number - 1) * 48, min(number * 48, 100_000))]
        filtered = page(server, f"/datasets/{dataset}?category=c3&page=500")
        assert "30,000 of 100,000 images with category or box label <b>c3</b>" in filtered
        # c3 is the category of every tenth image and a box label of three in ten.
        kept = [f"{n:06d}.jpg" for n in range(100_000) if n % 10 in (1, 2, 3)]
        assert names_shown(filtered) == kept[499 * 48:500 * 48]


def test_serve_prints_where_the_pages_are(tmp_path: Path) -> None:
    child = start(tmp_path, "--quiet")
    try:
        banner, url, _ = read_banner(child)
        root = url.removesuffix("/api")
        assert f"see what arrived: {root}/\n" in banner
        assert f"as JSON: {root}/_emulator/datasets\n" in banner
        answer = requests.get(f"{root}/", timeout=10)
        assert answer.status_code == 200 and "No datasets yet" in answer.text
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=15)
    finally:
        child.kill()
        child.wait()
