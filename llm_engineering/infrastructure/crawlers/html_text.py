"""Turning an article's HTML into its title, subtitle and a clean Markdown body."""

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

# Page furniture that is never part of what the author wrote.
JUNK_TAGS = (
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed", "video",
    "audio", "form", "button", "input", "select", "textarea", "nav", "footer", "aside", "dialog",
)  # fmt: skip
JUNK_ROLES = ("navigation", "banner", "contentinfo", "complementary", "dialog", "search")
# Matched against single class/id tokens, so "shared-notes" does not match but "share-button" does.
JUNK_NAME = re.compile(
    r"(^|[-_])(share|sharing|social|subscribe|subscription|newsletter|comments?|related(-?posts)?|recommended"
    r"|cookies?|popup|modal|sidebar|promo|advert|ads|byline|meta|author"
    r"|toc|table[-_]?of[-_]?contents|read[-_]?next|more[-_]posts)([-_]|$)",
    re.IGNORECASE,
)
SUBTITLE_NAME = re.compile(r"subtitle|subhead|dek|standfirst", re.IGNORECASE)
# The label of a list that navigates rather than tells: a table of contents or links to other posts.
NAVIGATION_LABEL = re.compile(
    r"(table of )?contents|in this (article|post)|on this page|read next|up next|keep reading"
    r"|related( posts| articles| stories| reading)?|more from .{1,60}|you (might|may) also (like|enjoy)"
    r"|(more|other|recent|popular|latest) (posts|stories|articles)",
    re.IGNORECASE,
)
LEDE_MIN_WORDS = 5  # a shorter subtitle that starts like the body is a coincidence, not a copy
BODY_BLOCKS = ("p", "pre", "blockquote", "ul", "ol", "h2", "h3", "h4", "h5", "h6", "table")


@dataclass(frozen=True)
class ArticleText:
    """What an article page holds, as text: `body` is Markdown."""

    title: str
    subtitle: str
    body: str

    def as_content(self) -> dict[str, str]:
        return {"title": self.title, "subtitle": self.subtitle, "body": self.body}


def extract_article(html: str) -> ArticleText:
    """Title, subtitle and Markdown body of the main content of an HTML page."""
    soup = BeautifulSoup(html, "html.parser")
    drop_junk(soup)
    main = main_content(soup)
    heading = main.find("h1") or soup.find("h1")
    title = _text(heading) if isinstance(heading, Tag) else _meta(soup, "og:title") or _page_title(soup)
    subtitle_tag = find_subtitle_tag(soup, heading if isinstance(heading, Tag) else None)
    # Only the page's own subtitle: a meta description is most often the opening text cut short.
    subtitle = _text(subtitle_tag) if subtitle_tag else ""
    for tag in (heading, subtitle_tag):
        if isinstance(tag, Tag):
            tag.decompose()
    for header in main.find_all("header"):
        header.decompose()  # bylines, dates and site headers; title and subtitle are taken already
    drop_navigation_lists(main)
    if repeats_lede(subtitle, main.get_text(" ")):
        subtitle = ""
    return ArticleText(title=title, subtitle=subtitle, body=to_markdown(main))


def drop_junk(soup: BeautifulSoup) -> None:
    """Remove navigation, scripts, forms, share and subscribe widgets and hidden elements in place."""
    junk = [tag for tag in soup.find_all(True) if _is_junk(tag)]
    for tag in junk:
        if not tag.decomposed:  # an ancestor may have removed it already
            tag.decompose()


def _is_junk(tag: Tag) -> bool:
    if tag.name in JUNK_TAGS or tag.get("role") in JUNK_ROLES or tag.has_attr("hidden"):
        return True
    names = [*tag.get_attribute_list("class"), *tag.get_attribute_list("id")]
    if not any(name and JUNK_NAME.search(name) for name in names):
        return False
    # Names alone are weak evidence: Substack's post is an <article class="newsletter-post">, and a
    # "with-sidebar" layout may wrap the whole story. So never drop by name what holds the title.
    return tag.name not in ("html", "body", "main", "article") and tag.find("h1") is None


def drop_navigation_lists(main: Tag) -> None:
    """Remove tables of contents (lists of in-page #links) and labelled lists of links to other posts."""
    for listing in main.find_all(("ul", "ol")):
        if listing.decomposed:  # inside a list removed already
            continue
        links = listing.find_all("a", href=True)
        if not links or _text_size(links) < 0.8 * _text_size([listing]):
            continue  # not a list of links, e.g. footnotes, whose only link is the way back
        label = listing.find_previous_sibling(True)
        labelled = isinstance(label, Tag) and NAVIGATION_LABEL.fullmatch(_text(label).rstrip(": "))
        if labelled or all(str(link["href"]).startswith("#") for link in links):
            if isinstance(label, Tag) and labelled:
                label.decompose()
            listing.decompose()


def repeats_lede(subtitle: str, body: str) -> bool:
    """Whether the subtitle only repeats the body's opening words (a teaser cut from the lede).

    >>> repeats_lede("Overlap keeps an idea whole when it sp…", "Overlap keeps an idea whole when it spans.")
    True
    >>> repeats_lede("Why windows should share a sentence", "Retrieval works on chunks.")
    False
    """
    words = re.findall(r"\w+", subtitle.lower())
    if subtitle.rstrip().endswith(("…", "...")):
        words = words[:-1]  # the teaser may stop mid-word
    return len(words) >= LEDE_MIN_WORDS and re.findall(r"\w+", body.lower())[: len(words)] == words


def _text_size(tags: list[Tag]) -> int:
    return sum(len("".join(tag.get_text().split())) for tag in tags)


def main_content(soup: BeautifulSoup) -> Tag:
    """The element holding the article: the longest <article>, else <main>, else the densest text block."""
    articles = soup.find_all("article")
    if articles:
        return max(articles, key=lambda tag: len(tag.get_text(" ", strip=True)))
    main = soup.find("main") or soup.select_one("[role=main]")
    if isinstance(main, Tag):
        return main
    return _largest_text_block(soup)


def _largest_text_block(soup: BeautifulSoup) -> Tag:
    """The container whose own paragraphs, code blocks and headings hold the most text."""
    best: Tag | None = None
    best_size = 0
    for container in soup.find_all(("div", "section", "td", "body")):
        blocks = container.find_all(BODY_BLOCKS, recursive=False)
        size = sum(len(block.get_text(strip=True)) for block in blocks)
        if size > best_size:
            best, best_size = container, size
    return best or soup.body or soup


def find_subtitle_tag(soup: BeautifulSoup, heading: Tag | None) -> Tag | None:
    """The subtitle element: an h2/h3 right after the title, else an element named like a subtitle."""
    if heading is not None:
        following = heading.find_next_sibling(True)
        if isinstance(following, Tag) and (following.name in ("h2", "h3") or _named_subtitle(following)):
            return following
    found = soup.find(_named_subtitle)
    return found if isinstance(found, Tag) else None


def _named_subtitle(tag: Tag) -> bool:
    return tag.name != "meta" and any(SUBTITLE_NAME.search(name) for name in tag.get_attribute_list("class"))


class _Converter(MarkdownConverter):
    """Markdown with ATX headings, '-' bullets, fenced code and no images."""

    def __init__(self) -> None:
        # Escaping '_' and '*' would turn `snake_case` into `snake\_case` in the text the twin learns from.
        super().__init__(
            heading_style="ATX",
            bullets="-",
            strip=["img"],
            escape_underscores=False,
            escape_asterisks=False,
            code_language_callback=_code_language,
        )

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        # Some editors (Medium's among them) break code lines with <br>; in a fence that is a plain newline.
        if "pre" in parent_tags:
            return "\n" + text
        return str(super().convert_br(el, text, parent_tags))  # type: ignore[misc]


def to_markdown(tag: Tag) -> str:
    """Markdown of an element: blank lines between blocks, no trailing spaces, at most one blank line."""
    lines: list[str] = []
    in_fence = False
    for line in _Converter().convert_soup(tag).splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence:  # code keeps its blank lines and spacing untouched
            line = line.rstrip()
            if not line and (not lines or not lines[-1]):
                continue
        lines.append(line)
    return "\n".join(lines).strip()


def _code_language(pre: Tag) -> str:
    """The language named by a `language-x` / `lang-x` class on <pre> or its <code>."""
    code = pre.find("code")
    classes = [*pre.get_attribute_list("class"), *(code.get_attribute_list("class") if code else [])]
    for name in classes:
        match = re.match(r"(?:language|lang)-([\w+#.-]+)$", name or "")
        if match:
            return match.group(1)
    return ""


def _meta(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and str(tag.get("content", "")).strip():
            return str(tag["content"]).strip()
    return ""


def _page_title(soup: BeautifulSoup) -> str:
    return soup.title.get_text(strip=True) if soup.title else ""


def _text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ", strip=True).split())
