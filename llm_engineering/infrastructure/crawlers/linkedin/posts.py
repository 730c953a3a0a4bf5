"""Reading LinkedIn's activity-page markup: the posts a profile's author wrote, with their permalinks."""

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

POST_SELECTOR = "[data-urn*='urn:li:activity:'], .feed-shared-update-v2"
TEXT_SELECTOR = ".update-components-text, .feed-shared-update-v2__description, .feed-shared-text"
HEADER_SELECTOR = ".update-components-header, .feed-shared-header"
# Activity items that are someone else's writing: reposts, reactions and comments on others' posts.
NOT_AUTHORED = ("reposted this", "likes this", "loves this", "celebrates this", "supports this",
                "finds this", "commented on this", "replied to")  # fmt: skip
PERMALINK_HREF = re.compile(r"/feed/update/|/posts/")


@dataclass(frozen=True)
class LinkedInPost:
    """One post's text and, when the page shows it, its own permalink."""

    text: str
    permalink: str | None


def extract_posts(html: str, page_url: str) -> list[LinkedInPost]:
    """The posts the author wrote on an activity page, skipping reposts and reactions."""
    soup = BeautifulSoup(html, "html.parser")
    found = soup.select(POST_SELECTOR)
    found_ids = {id(post) for post in found}  # by identity: Tag equality compares whole subtrees
    outermost = [post for post in found if not any(id(parent) in found_ids for parent in post.parents)]
    posts = []
    for post in outermost:
        header = post.select_one(HEADER_SELECTOR)
        if header and any(marker in header.get_text(" ").lower() for marker in NOT_AUTHORED):
            continue
        text = post_text(post.select_one(TEXT_SELECTOR) or post)
        if text:
            posts.append(LinkedInPost(text=text, permalink=_permalink(post, page_url)))
    return posts


def post_text(element: Tag) -> str:
    """A post's text with its line breaks, without buttons ("…see more") or screen-reader duplicates."""
    for junk in element.select("button, script, style, .visually-hidden"):
        junk.decompose()
    for br in element.find_all("br"):
        br.replace_with("\n")
    for block in element.find_all(("p", "div", "li")):
        block.append("\n\n" if block.name == "p" else "\n")
    lines = [" ".join(line.split()) for line in element.get_text().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _permalink(post: Tag, page_url: str) -> str | None:
    anchor = post.find("a", href=PERMALINK_HREF)
    if isinstance(anchor, Tag):
        return urljoin(page_url, str(anchor["href"])).split("?")[0]
    urn = re.search(r"urn:li:activity:\d+", str(post.get("data-urn", "")))
    return urljoin(page_url, f"/feed/update/{urn.group(0)}/") if urn else None


def fallback_link(link: str, text: str) -> str:
    """A stable link for a post without a permalink: keyed by its text, so re-crawls find it again."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{link.split('#')[0]}#post-{digest}"
