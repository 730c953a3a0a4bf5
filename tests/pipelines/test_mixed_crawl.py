"""A crawl of a mixed list, as a new user's first run sees it: good pages and every kind of bad link.

The real `digital_data_etl` pipeline crawls pages served on 127.0.0.1 plus a folder of notes. It must store
exactly the good documents, each once, with the right text, and report every bad link with its reason.
"""

from pathlib import Path

from zenml.client import Client
from zenml.enums import ExecutionStatus

from llm_engineering.domain.documents import DataCategory, Document
from llm_engineering.infrastructure.container import get_warehouse
from pipelines import digital_data_etl
from tests.infrastructure.crawlers.test_walls import CLOUDFLARE, CLOUDFLARE_MARKUP_ONLY, PERIMETERX
from tests.support.http_server import LocalServer, Route

LEDE = "Boring pipelines are the ones that page nobody at night, and that is the whole point of them."
ARTICLE = f"""<html><head><title>Boring pipelines | Iris writes</title>
<meta name="description" content="{LEDE} They retry, they log, they stop."></head><body>
<article><h1>Boring pipelines</h1>
<nav class="toc"><ul><li><a href="#why">Why</a></li><li><a href="#how">How</a></li></ul></nav>
<p>{LEDE}</p><h2 id="why">Why</h2><p>A retry with a limit, one log line per failure, and a test for each.</p>
<h2 id="how">How</h2><p>Every step writes what it did, so the next run can skip it.</p>
<h3>More posts</h3><ul><li><a href="/blog/cafe">Café notes</a></li><li><a href="/blog/x">Another</a></li></ul>
</article></body></html>"""
CAFE = (
    "<html><head><title>Café notes</title></head><body><article><h1>Café notes</h1>"
    "<p>My usual order is a café crème and a crème brûlée, and the waiter knows it by now.</p>"
    "<p>Writing in cafés keeps my sentences short.</p></article></body></html>"
)
NOTE = """---
title: Notes on chunking
date: 2024-05-01
tags: [chunking, rag]
---
Chunk by paragraph first, and only split a paragraph when it is too long for the model.
"""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200


def serve() -> LocalServer:
    return LocalServer(
        {
            "/blog/boring-pipelines": (200, "text/html; charset=utf-8", ARTICLE),
            # windows-1252 bytes and no charset anywhere: the encoding has to be detected.
            "/blog/cafe": Route(body=CAFE.encode("cp1252"), content_type="text/html"),
            "/challenge/cloudflare": (200, "text/html", CLOUDFLARE),
            "/challenge/own-title": (200, "text/html", CLOUDFLARE_MARKUP_ONLY),
            "/challenge/perimeterx": (200, "text/html", PERIMETERX),
            "/image": Route(body=PNG, content_type="text/html"),
            "/gone": (404, "text/html", "<h1>Not found</h1>"),
        }
    )


def stored() -> list[Document]:
    store = get_warehouse()
    return [
        document
        for category in (DataCategory.ARTICLES, DataCategory.POSTS)
        for document in store.iter_documents(category)
    ]


def test_a_mixed_list_stores_exactly_the_good_documents_and_reports_every_bad_link(
    data_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "2024-05-01-chunking.md").write_text(NOTE)
    with serve() as server:
        article = server.url("/blog/boring-pipelines")
        good = [article, server.url("/blog/cafe"), f"folder:{notes}"]
        same_page = [f"{article}?utm_source=newsletter", f"{article}#why", f"{article}/"]
        bad = {
            "http://[::1/post": "not a well-formed URL",
            server.url("/challenge/cloudflare"): "bot check (Cloudflare)",
            server.url("/challenge/own-title"): "bot check (Cloudflare)",
            server.url("/challenge/perimeterx"): "bot check (PerimeterX)",
            server.url("/image"): "PNG",
            server.url("/gone"): "HTTP 404",
        }
        digital_data_etl.with_options(enable_cache=False)(
            user_full_name="Iris Calder", links=[*good, *same_page, *bad], max_failure_rate=1.0
        )

    run = Client().get_pipeline("digital_data_etl").last_run
    assert run.status is ExecutionStatus.COMPLETED
    metadata = run.steps["crawl_links"].run_metadata
    assert set(metadata["failures"]) == set(bad)
    for link, reason in bad.items():
        assert reason in metadata["failures"][link], (link, metadata["failures"][link])

    documents = {document.content["title"]: document for document in stored()}
    assert sorted(documents) == ["Boring pipelines", "Café notes", "Notes on chunking"]
    assert metadata["documents_stored"] == 3
    boring = documents["Boring pipelines"]
    assert boring.link == article and boring.content["subtitle"] == ""
    assert "More posts" not in boring.content["body"] and "(#why)" not in boring.content["body"]
    assert "café crème and a crème brûlée" in documents["Café notes"].content["body"]
    note = documents["Notes on chunking"]
    assert note.content["body"].startswith("Chunk by paragraph") and note.tags == ["chunking", "rag"]
