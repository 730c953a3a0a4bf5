"""Cleaning one Markdown text: page noise, markup, tracking and pictographs go; code blocks stay whole."""

import html
import re
import unicodedata

from llm_engineering.domain.fences import fence_closes, fence_opening

# Any change to a rule here changes cleaned text: bump cleaning.CLEANING_VERSION with it.

# Whole short lines that are page furniture, matched case-insensitively after Markdown
# decoration (#, >, *, _, -) and end punctuation are stripped. Prose that merely mentions
# "share" or "follow" is longer or worded otherwise, so it never matches a whole line.
BOILERPLATE_PATTERNS = (
    r"(please )?subscribe( now| today| here| for free| for (more|updates)\b.*)?",
    r"subscribe (for free )?to (my|our|this) [\w' ]{0,40}",
    r"subscribe (for free )?to ([\w' ]+'s|the) (substack|newsletter|blog|channel|podcast)",
    r"subscribe (for free )?to (receive|get) .*",
    r"(sign up|join) (for|to) (my|our|the) (free )?newsletter\b.*",
    r"share( this( post| article| story| page)?)?( on [\w ]{1,20})?",
    r"share [\w' ]{0,40}(substack|newsletter)",
    r"follow (me|us)( on [\w.' ]{1,40})?( for more\b.*)?",
    r"thanks?( you)?( so much)? for reading\b.*",
    r"(this (post|article|story) was )?originally published (at|on|in)\b.*",
    r"(\d+(\.\d+)?k? )?claps?",
    r"(if you (liked|enjoyed) (this|it)\W* )?(please )?(give|leave) (it|this( \w+)?|me) (a|some) claps?\b.*",
    r"(we|this (site|website)) uses? cookies\b.*",
    r"(accept|reject|allow|decline|manage)( all)? cookies",
    r"cookie (settings|preferences|policy|notice)",
)
BOILERPLATE = re.compile("|".join(f"(?:{pattern})" for pattern in BOILERPLATE_PATTERNS), re.IGNORECASE)
MAX_BOILERPLATE_CHARS = 160
DECORATION = " \t#>*_-+|.!:…"

TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid", "si"})
# A URL ends on a character that is not sentence punctuation, so "see https://x.io/a." keeps its full stop.
URL = re.compile(r"https?://[^\s<>\"'`\x00]*[^\s<>\"'`\x00.,;:!?)\]]")
AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
LINK_TARGET = r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
IMAGE = re.compile(r"!\[[^\[\]]*\]" + LINK_TARGET)
LINK = re.compile(r"\[([^\[\]]*)\]" + LINK_TARGET)
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
INLINE_TAGS = "a|abbr|b|code|del|em|font|i|ins|kbd|mark|s|small|span|strike|strong|sub|sup|u"
BLOCK_TAGS = (
    "article|aside|audio|blockquote|body|br|button|center|dd|details|div|dl|dt|figcaption|figure|footer"
    "|form|h[1-6]|head|header|hr|html|iframe|img|input|label|li|link|meta|nav|noscript|ol|p|path|picture"
    "|pre|script|section|source|style|summary|svg|table|tbody|td|tfoot|th|thead|tr|ul|video|wbr"
)
# Only known HTML tag names, so generics such as List<String> or Vec<u8> survive.
TAG = re.compile(rf"<!--.*?-->|</?(?:({INLINE_TAGS})|{BLOCK_TAGS})\b[^<>\x00]*>", re.IGNORECASE)
LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c]")
CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f-\x9f]")
SPACE_RUN = re.compile(r"[ \t]+")

# Emoji and pictograph blocks; math symbols (category Sm) inside them are kept.
PICTOGRAPHS = (
    (0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x231A, 0x231B), (0x2328, 0x2328),
    (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x25AA, 0x25AB), (0x25B6, 0x25B6),
    (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297),
    (0x3299, 0x3299), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF), (0x20E3, 0x20E3), (0xFFFC, 0xFFFD),
)  # fmt: skip
# Format (zero-width, bidi, tags), control, private-use and surrogate characters.
DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs"})
# Joiners shape words in Persian and Indic scripts, so they stay between two letters.
JOINERS = frozenset({"\u200c", "\u200d"})


def clean_text(text: str) -> str:
    """Prose Markdown without page noise; paragraphs, headings, list items and fenced code blocks kept."""
    lines: list[str] = []
    fence: str | None = None  # the fence of the code block being copied, if inside one
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if fence is not None:
            lines.append(raw)
            fence = None if fence_closes(raw, fence) else fence
            continue
        line = _clean_line(raw)
        fence = fence_opening(line)
        if fence is not None and fence_opening(raw) is None:
            # Cleaning made the fence (`&#96;&#96;&#96;` decoded): in Markdown an entity is never structure,
            # so the line stays prose, its first backtick or tilde escaped; later blocks keep their fences.
            start = len(line) - len(line.lstrip(" "))
            line, fence = f"{line[:start]}\\{line[start:]}", None
        if (not line and (not lines or not lines[-1])) or _is_boilerplate(line):
            continue
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _clean_line(line: str) -> str:
    """Apply the line rules until nothing changes, which makes clean_text idempotent.

    Every pass that changes the line shortens it or turns odd spaces into plain ones, so this ends.
    """
    while (cleaned := _clean_line_once(line)) != line:
        line = cleaned
    return line


def _clean_line_once(line: str) -> str:
    # Leading indentation nests list items, so it is kept; spaces left where rules removed things are not.
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    line = _controls(line.replace("\x00", ""))
    # Inline code is set aside so that the rules below leave `<div>` or `?utm_source=` in it alone.
    spans: list[str] = []
    line = INLINE_CODE.sub(lambda match: _set_aside(spans, match.group()), line)
    line = _controls(html.unescape(line))  # entities may stand for control characters too
    line = IMAGE.sub("", line)
    line = LINK.sub(lambda match: match.group(1), line)
    line = AUTOLINK.sub(lambda match: match.group(1), line)
    line = TAG.sub(lambda match: "" if match.group().startswith("<!") or match.group(1) else " ", line)
    line = _drop_symbols(line)
    line = URL.sub(lambda match: _without_tracking(match.group()), line)
    body = SPACE_RUN.sub(" ", line.strip(" \t"))
    line = indent + body if body else ""
    return PLACEHOLDER.sub(lambda match: spans[int(match.group(1))], line) if spans else line


def _controls(line: str) -> str:
    """Line breaks that slipped into a line become spaces; other control characters but tab go."""
    return CONTROL.sub("", LINE_BREAKS.sub(" ", line))


def _set_aside(spans: list[str], code: str) -> str:
    spans.append(code)
    return f"\x00{len(spans) - 1}\x00"


def _drop_symbols(line: str) -> str:
    """Drop emoji, pictographs, zero-width and control characters; odd spaces become plain spaces."""
    if line.isascii():
        return line
    kept: list[str] = []
    for index, char in enumerate(line):
        category = unicodedata.category(char)
        if char in JOINERS:
            if _is_letter(line[index - 1 : index]) and _is_letter(line[index + 1 : index + 2]):
                kept.append(char)
        elif category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif char in "\t\x00" or not (category in DROPPED_CATEGORIES or _is_pictograph(char, category)):
            kept.append(char)
    return "".join(kept)


def _is_letter(char: str) -> bool:
    return bool(char) and unicodedata.category(char)[0] in "LM"


def _is_pictograph(char: str, category: str) -> bool:
    code = ord(char)
    return category != "Sm" and any(low <= code <= high for low, high in PICTOGRAPHS)


def _without_tracking(url: str) -> str:
    """The URL without utm_*, fbclid and other tracking query parameters."""
    base, hash_mark, fragment = url.partition("#")
    address, question_mark, query = base.partition("?")
    if not question_mark:
        return url
    kept = [part for part in query.split("&") if part and not _is_tracking(part.partition("=")[0])]
    return address + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def _is_tracking(parameter: str) -> bool:
    name = parameter.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def _is_boilerplate(line: str) -> bool:
    core = line.strip(DECORATION)
    return 0 < len(core) <= MAX_BOILERPLATE_CHARS and BOILERPLATE.fullmatch(core) is not None
