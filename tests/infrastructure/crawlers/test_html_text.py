"""HTML to title, subtitle and Markdown body: main content, junk removal, code blocks, fallbacks."""

import pytest

from llm_engineering.infrastructure.crawlers.html_text import extract_article

BLOG = """<!doctype html><html><head><title>Iris writes | Blog</title>
<meta name="description" content="Meta description of the post"></head><body>
<header class="site-header"><nav><a href="/">Home</a><a href="/about">About</a></nav></header>
<main><article>
  <header><h1>Chunking <em>with</em> overlap</h1><h2>Why windows should share a sentence</h2>
  <p class="byline">By Iris Calder, 3 March</p></header>
  <p>Retrieval works on chunks, and my_chunker splits on sentences.</p>
  <p>Overlap keeps an idea whole when it spans two chunks.</p>
  <h2>The code</h2>
  <pre><code class="language-python">def chunk(text, size):
    words = text.split()


    return [words[i:i + size] for i in range(0, len(words), size)]</code></pre>
  <div class="share-buttons"><a href="#">Share on Mastodon</a></div>
  <figure><img src="diagram.png" alt="a diagram">
    <figcaption>Windows overlap by one sentence.</figcaption></figure>
  <ul><li>small chunks</li><li>big overlap</li></ul>
  <form class="newsletter"><input name="email"><button>Subscribe</button></form>
</article></main>
<aside><p>Other posts you may like</p></aside>
<footer><p>Copyright Iris</p></footer><script>track("view")</script></body></html>"""


def test_blog_post_becomes_title_subtitle_and_markdown() -> None:
    article = extract_article(BLOG)
    assert article.title == "Chunking with overlap"
    assert article.subtitle == "Why windows should share a sentence"
    assert article.body.startswith("Retrieval works on chunks, and my_chunker splits on sentences.\n\n")
    assert "\n\nOverlap keeps an idea whole when it spans two chunks.\n\n## The code\n\n" in article.body
    assert "- small chunks\n- big overlap" in article.body
    assert "Windows overlap by one sentence." in article.body


def test_code_blocks_stay_fenced_with_their_blank_lines() -> None:
    body = extract_article(BLOG).body
    fence = (
        "```python\ndef chunk(text, size):\n    words = text.split()\n\n\n"
        "    return [words[i:i + size] for i in range(0, len(words), size)]\n```"
    )
    assert fence in body


def test_page_furniture_is_dropped() -> None:
    body = extract_article(BLOG).body
    for junk in (
        "Home",
        "Share on Mastodon",
        "Subscribe",
        "Other posts",
        "Copyright",
        "track(",
        "By Iris",
        "![",
    ):
        assert junk not in body
    assert "Chunking" not in body  # the title is kept apart, not repeated in the body


def test_without_article_or_main_the_densest_block_is_the_content() -> None:
    html = """<html><head><meta property="og:title" content="Notes from the train">
    <meta property="og:description" content="Short thoughts"></head><body>
    <div class="menu"><p>Home</p><p>Tags</p></div>
    <div class="content"><p>The first long paragraph of the note, well over the menu's length.</p>
    <p>A second paragraph with more to say about trains and text.</p></div></body></html>"""
    article = extract_article(html)
    assert article.title == "Notes from the train"
    assert article.subtitle == ""  # og:description is no subtitle
    assert article.body.startswith("The first long paragraph")
    assert "Tags" not in article.body


def test_title_falls_back_to_the_title_tag_and_the_description_is_no_subtitle() -> None:
    html = """<html><head><title>Plain page</title><meta name="description" content="What it is about">
    </head><body><main><p>Only text.</p></main></body></html>"""
    article = extract_article(html)
    assert (article.title, article.subtitle, article.body) == ("Plain page", "", "Only text.")


def test_a_subtitle_named_by_class_is_found_away_from_the_title() -> None:
    html = """<article><div><h1>Vectors</h1></div><p class="pw-subtitle-paragraph">A gentle tour</p>
    <p>Body text.</p></article>"""
    article = extract_article(html)
    assert (article.title, article.subtitle, article.body) == ("Vectors", "A gentle tour", "Body text.")


def test_line_breaks_inside_code_become_newlines() -> None:
    html = "<article><h1>T</h1><p>Intro.</p><pre><span>x = 1<br>y = 2</span></pre></article>"
    assert extract_article(html).body == "Intro.\n\n```\nx = 1\ny = 2\n```"


def test_the_longest_of_several_articles_wins() -> None:
    html = """<body><article><p>Teaser.</p></article>
    <article><h1>Main</h1><p>The real post has by far the most text on the page.</p></article></body>"""
    article = extract_article(html)
    assert article.title == "Main"
    assert article.body == "The real post has by far the most text on the page."


def test_a_page_without_text_has_an_empty_body() -> None:
    article = extract_article("<html><head><title>Empty</title></head><body><nav>Menu</nav></body></html>")
    assert article.title == "Empty"
    assert article.body == ""


LEDE = (
    "Most of my retrieval bugs were chunking bugs. A chunk that cuts a sentence in half answers nothing, "
    "and one that holds three ideas answers all of them badly."
)


def test_a_meta_description_that_repeats_the_opening_is_no_subtitle() -> None:
    html = f"""<html><head><meta name="description" content="{LEDE[:120]}…">
    <meta property="og:description" content="{LEDE}"></head><body><article><h1>Chunking bugs</h1>
    <p>{LEDE}</p><p>Here is how I find them.</p></article></body></html>"""
    article = extract_article(html)
    assert article.subtitle == ""
    assert article.body == f"{LEDE}\n\nHere is how I find them."


def test_a_subtitle_that_repeats_the_lede_is_dropped() -> None:
    html = f"""<article><h1>Chunking bugs</h1><h2 class="subtitle">{LEDE[:60]}…</h2>
    <p>{LEDE}</p></article>"""
    article = extract_article(html)
    assert (article.subtitle, article.body) == ("", LEDE)


TOC_LIST = """<ul><li><a href="#why">Why chunks</a></li><li><a href="#how">How to cut</a>
  <ul><li><a href="#overlap">Overlap</a></li></ul></li></ul>"""


@pytest.mark.parametrize(
    "toc",
    [
        f"<h2>Table of contents</h2>{TOC_LIST}",
        f"<p><strong>Contents:</strong></p>{TOC_LIST}",
        TOC_LIST,
        # Named as a table of contents, with links that spell out the page's own address.
        """<div class="ez-toc-container"><p>Jump to</p><ol>
        <li><a href="https://iris.dev/posts/chunking#why">Why chunks</a></li>
        <li><a href="https://iris.dev/posts/chunking#how">How to cut</a></li></ol></div>""",
        """<div id="TableOfContents"><ol><li><a href="/posts/chunking#why">Why chunks</a></li></ol></div>""",
    ],
    ids=[
        "heading and anchors",
        "label and anchors",
        "anchors alone",
        "named ez-toc",
        "named TableOfContents",
    ],
)
def test_a_table_of_contents_is_dropped(toc: str) -> None:
    html = f"""<article><h1>Chunking</h1><p>Intro.</p>{toc}<h2 id="why">Why chunks</h2>
    <p>Because context is finite.</p><h2 id="how">How to cut</h2><p>On sentences.</p></article>"""
    body = extract_article(html).body
    assert body == "Intro.\n\n## Why chunks\n\nBecause context is finite.\n\n## How to cut\n\nOn sentences."


NAVIGATION_LABELS = ["<h3>Read next</h3>", "<p><b>More posts:</b></p>", "<h2>Related posts</h2>",
                     "<h4>You might also like</h4>", "<p>More from Iris</p>"]  # fmt: skip


@pytest.mark.parametrize("label", NAVIGATION_LABELS)
def test_lists_of_links_to_other_posts_are_dropped(label: str) -> None:
    html = f"""<article><h1>Chunking</h1><p>Because context is finite.</p>{label}
    <ul><li><a href="/posts/rerankers">Rerankers earn their latency</a></li>
    <li><a href="https://iris.dev/posts/evals">Evaluating a twin</a> (March)</li></ul></article>"""
    assert extract_article(html).body == "Because context is finite."


def test_lists_the_author_wrote_are_kept() -> None:
    html = """<article><h1>Chunking</h1><p>Because context is finite.<sup><a href="#fn1">1</a></sup></p>
    <h2>Further reading</h2><ul><li><a href="https://arxiv.org/abs/2312.10997">A survey of RAG</a></li></ul>
    <ul><li><a href="#setup">Set up</a> the index before anything else, then load the documents.</li></ul>
    <ol><li id="fn1">Even a million tokens run out. <a href="#ref1">↩</a></li></ol></article>"""
    body = extract_article(html).body
    assert "[A survey of RAG](https://arxiv.org/abs/2312.10997)" in body
    assert "the index before anything else" in body
    assert "1. Even a million tokens run out." in body
