import re
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llm_engineering.domain import cleaning
from llm_engineering.domain.cleaning import clean_code, clean_document, content_hash
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument
from llm_engineering.domain.features import Section
from llm_engineering.domain.text_cleaning import clean_text

CASES = [
    # Boilerplate lines: dropped when a whole short line is furniture...
    ("subscribe", "Intro.\n\nSubscribe now!\n\nBody.", "Intro.\n\nBody."),
    ("subscribe-newsletter", "Body.\n**Subscribe to my newsletter**", "Body."),
    (
        "substack-footer",
        "Body.\n\nThanks for reading Ada's Substack! Subscribe for free to receive new posts.",
        "Body.",
    ),
    ("share", "Body.\n\n- Share this post\n\nShare on LinkedIn", "Body."),
    ("follow", "Body.\n\nFollow me on Medium for more articles like this.", "Body."),
    ("originally", "Body.\n\n*Originally published at https://blog.example.com/post.*", "Body."),
    ("clap", "Body.\n\n1.2K claps\n\nIf you liked this, give it a clap!", "Body."),
    ("cookies", "We use cookies to improve your experience.\n\nAccept all cookies\n\nBody.", "Body."),
    # ...and kept when prose only mentions the words.
    ("share-in-prose", "We share the index between workers.", "We share the index between workers."),
    ("follow-in-prose", "Follow the steps below.", "Follow the steps below."),
    (
        "subscribe-in-prose",
        "Subscribe to the event bus before publishing.",
        "Subscribe to the event bus before publishing.",
    ),
    (
        "thanks-in-long-paragraph",
        "Some context first. " * 10 + "Thanks for reading the draft, Ada.",
        ("Some context first. " * 10 + "Thanks for reading the draft, Ada.").strip(),
    ),
    # Tracking parameters.
    ("utm", "See https://x.io/a?utm_source=n&utm_medium=m&id=3 now", "See https://x.io/a?id=3 now"),
    ("all-tracking", "See https://x.io/a?fbclid=1&gclid=2&ref=rss&si=z#part.", "See https://x.io/a#part."),
    ("mailchimp", "https://x.io/?mc_cid=1&mc_eid=2&igshid=3&ref_src=twsrc", "https://x.io/"),
    ("not-tracking", "https://x.io/a?reference=1&page=2&utm=3", "https://x.io/a?reference=1&page=2&utm=3"),
    (
        "utm-in-prose",
        "The utm_source parameter names the referrer.",
        "The utm_source parameter names the referrer.",
    ),
    ("autolink", "Docs: <https://x.io/d?utm_campaign=c>", "Docs: https://x.io/d"),
    # Markdown images and links.
    ("image-line", "Before.\n\n![diagram](https://x.io/d.png)\n\nAfter.", "Before.\n\nAfter."),
    ("image-inline", 'before ![a](b.png "t") after', "before after"),
    ("link", "Read [the docs](https://x.io/docs?utm_source=a) first.", "Read the docs first."),
    ("link-parens", "[Python](https://en.wikipedia.org/wiki/Python_(language)) rocks", "Python rocks"),
    ("linked-image", "[![badge](https://x.io/b.svg)](https://x.io)", ""),
    ("not-a-link", "A claim [citation needed] (really).", "A claim [citation needed] (really)."),
    ("link-in-inline-code", "Call `arr[0](x)` here.", "Call `arr[0](x)` here."),
    # Emoji, pictographs, variation selectors and zero-width characters.
    ("emoji", "Ship it 🚀🔥 now", "Ship it now"),
    ("flag-and-skin-tone", "🇫🇷 Paris 👍🏽", "Paris"),
    ("zwj-family", "family: 👨\u200d👩\u200d👧", "family:"),
    ("keycap-and-selector", "1\ufe0f\u20e3 first \u2764\ufe0f", "1 first"),
    ("zero-width", "zero\u200bwidth\u2060 \ufeffbom soft\u00adhyphen", "zerowidth bom softhyphen"),
    ("private-use-icon", "\uf09b GitHub", "GitHub"),
    ("scripts-kept", "العربية русский 中文 日本語 한국어 हिन्दी", "العربية русский 中文 日本語 한국어 हिन्दी"),
    # Persian "mi-khaham" with a non-joiner, Devanagari "ksha" with a joiner.
    (
        "joiners-in-words-kept",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 क्\u200dष",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 क्\u200dष",
    ),
    ("accents-and-math-kept", "café naïve ∑ x² ≤ ∞ → ∀ © ® ™ 20°C", "café naïve ∑ x² ≤ ∞ → ∀ © ® ™ 20°C"),
    # HTML leftovers.
    ("entities", "a&nbsp;&nbsp;b &amp; c &lt;3", "a b & c <3"),
    ("tags", "<p>one<br/>two</p> <b>bold</b>er <!-- note -->end", "one two bolder end"),
    (
        "generics-kept",
        "List<String> and Vec<u8>, if a < b and c > d",
        "List<String> and Vec<u8>, if a < b and c > d",
    ),
    ("tag-in-inline-code", "Use `<div>` and `&nbsp;` here", "Use `<div>` and `&nbsp;` here"),
    # Whitespace and blank lines.
    ("spaces", "a  \t b   c\u00a0\u2009d   ", "a b c d"),
    ("indentation-kept", "- item\n  - nested\n\t- tabbed", "- item\n  - nested\n\t- tabbed"),
    ("blank-lines", "\n\n  \na\n\n\n\n \nb\n\n\n", "a\n\nb"),
    ("crlf", "a\r\nb\r\rc", "a\nb\n\nc"),
    ("headings-and-lists", "# Title\nText.\n## Part\n- one\n- two", "# Title\nText.\n## Part\n- one\n- two"),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_clean_text(text: str, expected: str) -> None:
    assert clean_text(text) == expected


CODE_BLOCK = (
    "```python\nx = '😀\u200b'   \n\n\n# https://x.io/?utm_source=1  [a](b) &nbsp; <b>\nSubscribe now\n```"
)


def test_fenced_code_survives_byte_for_byte() -> None:
    text = f"Intro 🚀\n\n{CODE_BLOCK}\n\n\n\nOutro."
    assert clean_text(text) == f"Intro\n\n{CODE_BLOCK}\n\nOutro."


def test_tilde_fences_and_unterminated_blocks_are_code() -> None:
    assert clean_text("~~~\na  b 🚀\n~~~\nc  d") == "~~~\na  b 🚀\n~~~\nc d"
    assert clean_text("text\n```\nkeep  this 🚀") == "text\n```\nkeep  this 🚀"


def test_paragraph_boundaries_survive() -> None:
    assert clean_text("First  one.\nSame paragraph.\n\n\nSecond.").split("\n\n") == [
        "First one.\nSame paragraph.",
        "Second.",
    ]


FRAGMENTS = [
    "```", "~~~", "`", "[", "](", ")", "!", "<b>", "</p>", "<!--", "-->", "&amp;", "&nbsp;", "&#96;", "&#10;",
    "\n", "\n\n", " ", "\t", "😀", "\u200d", "\ufe0f", "é", "中", "#", "- ", "Subscribe now", "share",
    "https://x.io/a?utm_source=1&b=2", "?si=1", "a", "Word.",
]  # fmt: skip
texts = st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3)).map("".join))


@settings(max_examples=100, deadline=None)
@given(texts)
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@settings(max_examples=75, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3)).map("".join))
def test_prose_has_no_trailing_spaces_or_extra_blank_lines(text: str) -> None:
    cleaned = clean_text(text.replace("`", "").replace("~", ""))  # no fences: all prose
    assert "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip("\n")
    assert all(line == line.rstrip(" \t") for line in cleaned.split("\n"))
    assert not re.search("[\U0001f000-\U0001faff\u200b\ufe0f]", cleaned)


code_lines = st.text(st.characters(blacklist_characters="\r\n`~")).map(lambda line: line + "`")


@settings(max_examples=75, deadline=None)
@given(st.lists(code_lines | st.just(""), max_size=6).map("\n".join), texts)
@example(body="\n", prose="&#96&#96&#96")  # entities that decode to a fence must not open one
def test_any_code_block_is_kept_byte_for_byte(body: str, prose: str) -> None:
    block, prose = f"```\n{body}\n```", prose.replace("`", "").replace("~", "")
    assert block in clean_text(f"{prose}\n\n{block}\n\n{prose}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def f():\r\n\treturn 1  \r\n", "def f():\n\treturn 1"),
        ("\n\nx = '🚀?utm_source=1'   \n\n  \n", "\n\nx = '🚀?utm_source=1'"),
        ("a\n\n\n\n    b\t\n", "a\n\n\n\n    b"),
        ("", ""),
    ],
    ids=["crlf-and-trailing", "content-and-leading-lines-kept", "blank-lines-and-indentation-kept", "empty"],
)
def test_clean_code(text: str, expected: str) -> None:
    assert clean_code(text) == expected


def _author() -> dict[str, Any]:
    return {
        "platform": "medium",
        "author_id": uuid4(),
        "author_full_name": "Iris Calder",
        "link": "https://x.io/p",
    }


def test_article_is_one_section_of_title_subtitle_and_body() -> None:
    content = {"body": "Body 🚀  text.", "language": "en", "subtitle": "", "title": "A <b>title</b>"}
    document = ArticleDocument(content=content, **_author())
    cleaned = clean_document(document)
    assert cleaned.sections == [Section(name="article", text="A title\n\nBody text.")]
    assert (cleaned.id, cleaned.category, cleaned.link) == (document.id, "articles", document.link)


def test_post_keeps_its_text_but_not_its_image_link() -> None:
    content = {"text": "Hello [world](https://x.io?utm_source=li) 👋", "image": "https://x.io/i.png"}
    cleaned = clean_document(PostDocument(content=content, **_author()))
    assert cleaned.sections == [Section(name="post", text="Hello world")]


def test_repository_has_a_section_per_non_empty_file_sorted_by_path() -> None:
    content = {"src/b.py": "b = 2  \r\n", "README.md": "# R 🚀\n", "empty.txt": " \n\n", "a.py": "a = 1\n"}
    cleaned = clean_document(RepositoryDocument(name="r", content=content, **_author()))
    assert cleaned.sections == [
        Section(name="README.md", text="# R 🚀"),
        Section(name="a.py", text="a = 1"),
        Section(name="src/b.py", text="b = 2"),
    ]


@pytest.mark.parametrize(
    ("document", "section"),
    [
        (
            ArticleDocument(content={"title": "🚀", "body": " "}, **_author()),
            Section(name="article", text=""),
        ),
        (PostDocument(content={}, **_author()), Section(name="post", text="")),
        (RepositoryDocument(name="r", content={"a": "\n"}, **_author()), Section(name=".", text="")),
    ],
    ids=["article", "post", "repository"],
)
def test_an_empty_document_keeps_one_empty_section(document: ArticleDocument, section: Section) -> None:
    assert clean_document(document).sections == [section]


def test_content_hash_is_stable_and_follows_content_and_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ArticleDocument(content={"title": "T", "body": "B"}, **_author())
    same = ArticleDocument(content={"body": "B", "title": "T"}, **_author())
    edited = ArticleDocument(content={"title": "T", "body": "B!"}, **_author())
    assert clean_document(first).content_hash == content_hash(same) == content_hash(first)
    assert re.fullmatch("[0-9a-f]{64}", content_hash(first))
    assert content_hash(edited) != content_hash(first)
    before = content_hash(first)
    monkeypatch.setattr(cleaning, "CLEANING_VERSION", cleaning.CLEANING_VERSION + 1)
    assert content_hash(first) != before
