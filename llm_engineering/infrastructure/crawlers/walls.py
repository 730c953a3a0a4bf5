"""Recognising the pages that stand in for content: bot checks, captchas, checkpoints and sign-in walls.

Every crawler (HTTP articles, Medium, LinkedIn) asks `find_wall` about a page before keeping it, so a
challenge served with HTTP 200 fails with its reason instead of entering the warehouse as an article.

A marker alone is weak evidence: an article may explain captchas, quote "Sign in to continue", or be
served by a CDN whose beacon script shares a path with its challenge. So a wall counts only on a thin
page (under `THIN_WORDS` words outside headers, navigation, forms, buttons and links), and a phrase
counts only as a short run of text of its own (a title, heading, button or notice), never inside a
sentence of prose.
Medium's member-only wall is the exception: it stands beside a public preview of the story.
"""

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup
from bs4.element import NavigableString

from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.html_text import JUNK_TAGS

THIN_WORDS = 120  # a challenge says a few dozen words; the shortest notes say more
SHORT_WORDS = 40  # longer runs of text are prose, where a phrase is a mention, not a notice
HIDDEN_TAGS = frozenset(("script", "style", "noscript", "template", "head"))
FURNITURE_TAGS = frozenset((*JUNK_TAGS, "head", "header", "title", "h1", "a", "label"))
MARKUP_ATTRIBUTES = ("id", "class", "src", "action")
BLOCKED = "the site blocks automated clients, and retrying will not get past it"


@dataclass(frozen=True)
class Wall:
    """A kind of page shown instead of the content, and its markers: regexes on lowercase text."""

    kind: str  # how a failure names it: "a bot check (Cloudflare)"
    why: str
    title: str = ""  # the <title>
    text: str = ""  # a short run of visible text
    markup: str = ""  # lines like `div id=px-captcha`, `script src=…`, `script text=…`
    beside_content: bool = False  # shown next to real text (a preview), so the page need not be thin


MEMBER_ONLY = Wall(
    "a member-only wall",
    "only a preview of the story is public",
    text=r"^member-only story$|available to medium members only|become a member to read",
    beside_content=True,
)
SIGN_IN = Wall(
    "a sign-in wall",
    "the page is shown to signed-in readers only",
    text=r"^(?:please )?(?:sign|log) ?in (?:or (?:sign|join) up )?to (?:continue|read|view|see|access)"
    r"|^(?:sign|join) up to (?:continue|read|view|see)|^create (?:a free |an )?account to (?:continue|read)"
    r"|^you (?:must|need to) (?:be )?(?:signed|logged) in",
    markup=r"\bauthwall",
)
WALLS = (
    MEMBER_ONLY,
    Wall(
        "a bot check (Cloudflare)",
        BLOCKED,
        title=r"^just a moment|^attention required",
        text=r"checking your browser before accessing|^verifying you are human"
        r"|needs to review the security of your connection|^sorry, you have been blocked",
        # The beacon Cloudflare adds to ordinary pages lives under challenge-platform/scripts/jsd/.
        markup=r"cf[-_]chl|challenge-platform/(?!scripts/jsd/)|id=challenge-(?:form|running|stage)|cf-error-details",
    ),
    Wall(
        "a bot check (PerimeterX)",
        BLOCKED,
        title=r"access to this page has been denied",
        text=r"^access to this page has been denied|press (?:&|and) hold to confirm you are a human",
        markup=r"px-captcha|captcha\.px-cdn\.net|captcha\.px-cloud\.net",
    ),
    Wall(
        "a bot check (DataDome)",
        BLOCKED,
        text=r"^please enable js and disable any ad ?blocker",
        markup=r"captcha-delivery\.com|\bdd=\{\s*'rt'",
    ),
    Wall(
        "an access-denied page (Akamai)",
        BLOCKED,
        text=r"^reference #\s*\d+\.[0-9a-f]+|you don't have permission to access .* on this server",
    ),
    Wall(
        "a captcha (hCaptcha/reCAPTCHA)",
        BLOCKED,
        text=r"^i'?m not a robot$|^verify you are (?:a )?human|^please complete the security check",
        markup=r"class=(?:g-recaptcha|h-captcha|cf-turnstile)\b|iframe src=\S*captcha",
    ),
    Wall(
        "a security checkpoint",
        "the site wants a person to confirm the sign-in",
        title=r"security verification|security check|verify your identity",
        text=r"^security verification|quick security check|^verify your identity",
    ),
    SIGN_IN,
)


@dataclass(frozen=True)
class _Page:
    title: str
    runs: list[str]  # short runs of visible text
    markup: str
    words: int  # outside headers, navigation, forms, buttons and links


def find_wall(html: str) -> Wall | None:
    """The wall a page shows instead of its content, or None for an ordinary page.

    >>> find_wall("<title>Just a moment...</title><p>Checking your browser before accessing x.org</p>").kind
    'a bot check (Cloudflare)'
    >>> find_wall("<article><h1>Walls</h1><p>Why Sign in to continue walls annoy me.</p></article>") is None
    True
    """
    page = _read(html)
    thin = page.words < THIN_WORDS
    for wall in WALLS:
        if (thin or wall.beside_content) and _shows(wall, page):
            return wall
    return None


def wall_error(wall: Wall, site: str, link: str, export_hint: str) -> CrawlError:
    """The failure of a link whose page is a wall: what the site showed, and how else to get the text."""
    return CrawlError(
        f"{site} showed {wall.kind} at {link} instead of the content, so nothing was stored "
        f"({wall.why}); {export_hint}"
    )


def _shows(wall: Wall, page: _Page) -> bool:
    return bool(
        (wall.title and re.search(wall.title, page.title))
        or (wall.text and any(re.search(wall.text, run) for run in page.runs))
        or (wall.markup and re.search(wall.markup, page.markup))
    )


def _read(html: str) -> _Page:
    soup = BeautifulSoup(html, "html.parser")
    markup = [
        f"{tag.name} {name}={value}"
        for tag in soup.find_all(True)
        for name in MARKUP_ATTRIBUTES
        for value in tag.get_attribute_list(name)
        if value
    ]
    markup += [f"script text={script.get_text()}" for script in soup.find_all("script")]
    runs, words = [], 0
    for string in soup.find_all(string=True):
        parents = {parent.name for parent in string.parents}
        text = " ".join(string.split()).lower()
        if type(string) is not NavigableString or not text or parents & HIDDEN_TAGS:
            continue  # comments, scripts, styles, the <head>
        count = len(text.split())
        if count <= SHORT_WORDS:
            runs.append(text)
        if not parents & FURNITURE_TAGS:
            words += count
    title = " ".join(soup.title.get_text(" ").split()).lower() if soup.title else ""
    return _Page(title=title, runs=runs, markup="\n".join(markup).lower(), words=words)
