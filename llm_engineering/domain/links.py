"""Link identity: the variants under which one page or repository is seen fold to one canonical link.

A document keeps the link its crawler saw (for citations); the warehouse is unique by this
canonical form instead, so `?utm_source=…`, `#section`, a trailing `/` or `http` do not store
a page twice. The rule is ours (no URL standard folds http into https, trailing slashes or
tracking parameters), written with the standard library so the domain stays free of drivers.
"""

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Query parameters that say how a reader arrived, never which page they read.
TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid"}
    | {"ref", "ref_src", "ref_url"}
)
TRACKING_PREFIXES = ("utm_",)
# Both, whatever the scheme: http folds into https, so `http://x:443` and `https://x:80` are that host too.
DEFAULT_PORTS = {80, 443}
WEB_SCHEMES = {"http", "https"}
GIT_SCHEMES = {"git", "ssh", "git+ssh"}
# `git@github.com:iris/pipelines.git`: the scp-like form git accepts for ssh.
SCP_LIKE = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>.+)$")
# Characters a path keeps as they are; anything else (spaces, non-ASCII) is percent-encoded.
PATH_SAFE = "/:@!$&'()*+,;=~%-._"
TRAILING = re.compile(r"/*(\.git)?/*$")


def canonical_link(link: str) -> str:
    """The identity of a link: web and git URLs normalised, any other link (exports, folders) as written.

    >>> canonical_link("HTTP://Iris.dev:80/posts/batch-sizes/?utm_source=rss&b=2&a=1#notes")
    'https://iris.dev/posts/batch-sizes?a=1&b=2'
    >>> canonical_link("git@github.com:iris/pipelines.git")
    'https://github.com/iris/pipelines'
    """
    text = link.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket: nothing to fold, the text is the identity
        return text
    scheme = parts.scheme.lower()
    if scheme in WEB_SCHEMES and parts.netloc:
        return canonical_web_link(text)
    if scheme in GIT_SCHEMES and parts.hostname:
        return canonical_web_link(urlunsplit(("https", parts.hostname, parts.path, "", "")))
    scp = SCP_LIKE.match(text) if "://" not in text else None
    if scp:
        return canonical_web_link(f"https://{scp['host']}/{scp['path'].lstrip('/')}")
    return text


def canonical_web_link(url: str) -> str:
    """An http(s) URL folded: https, lower-case host, no credentials, default port, fragment or tracking.

    A trailing `/` or `.git` goes too: `…/pipelines.git` is the repository whose page is `…/pipelines`.
    What is left of the query is sorted by name, then value.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: nothing to fold, the text is the identity
        return url
    host = (parts.hostname or "").rstrip(".")
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    if port is not None and port not in DEFAULT_PORTS:
        host = f"{host}:{port}"
    path = TRAILING.sub("", normalise_escapes(quote(parts.path, safe=PATH_SAFE)), count=1)
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() not in TRACKING_PARAMETERS and not name.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit(("https", host, path, urlencode(query), ""))


def normalise_escapes(text: str) -> str:
    """Percent-escapes in upper case, as RFC 3986 prefers: `%c3%a9` and `%C3%A9` are the same bytes."""
    return re.sub(r"%[0-9a-fA-F]{2}", lambda match: match.group().upper(), text)
