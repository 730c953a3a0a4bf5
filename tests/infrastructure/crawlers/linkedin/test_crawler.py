"""LinkedInCrawler in headless Chromium against a local login form and activity page."""

from pathlib import Path

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths
from llm_engineering.infrastructure.crawlers.linkedin.crawler import LinkedInCrawler
from llm_engineering.infrastructure.settings import Settings
from tests.support.http_server import LocalServer, Route

SUBMIT_PATH = "/checkpoint/lg/login-submit"
LOGIN = f"""<html><head><title>LinkedIn Login</title></head><body>
<form method="post" action="{SUBMIT_PATH}">
  <input id="username" name="session_key" type="text">
  <input id="password" name="session_password" type="password">
  <button type="submit">Sign in</button>
</form><p class="error">{{error}}</p></body></html>"""

# Marked up like LinkedIn's activity feed: one update per .feed-shared-update-v2, a repost among them,
# and one more post that only loads when the page is scrolled to the bottom.
ACTIVITY = """<html><head><title>Activity | Iris Calder | LinkedIn</title></head><body>
<div id="feed">
  <div class="feed-shared-update-v2" data-urn="urn:li:activity:7100000000000000001">
    <div class="update-components-actor">Iris Calder</div>
    <div class="update-components-text"><span class="break-words">Shipped the twin's first eval.<br><br>
      Judges agree with me 8 times in 10. <span class="visually-hidden">hashtag</span>#evals</span></div>
    <button>…see more</button>
  </div>
  <div class="feed-shared-update-v2" data-urn="urn:li:activity:7100000000000000002">
    <div class="update-components-header"><span>Iris Calder reposted this</span></div>
    <div class="update-components-text"><span>Someone else's words.</span></div>
  </div>
  <div class="feed-shared-update-v2">
    <a href="/posts/iris-calder_chunking-activity-7100000000000000003-abcd?utm_source=share">3d</a>
    <div class="update-components-text"><span>Chunk overlap matters more than chunk size.</span></div>
  </div>
  <div class="feed-shared-update-v2">
    <div class="update-components-text"><span>Notes from the retrieval meetup.</span></div>
  </div>
  <div style="height: 3000px"></div>
</div>
<script>
let loaded = false;
window.addEventListener("scroll", () => {
  if (loaded || window.innerHeight + window.scrollY < document.body.scrollHeight - 50) return;
  loaded = true;
  setTimeout(() => document.getElementById("feed").insertAdjacentHTML("beforeend",
    `<div class="feed-shared-update-v2" data-urn="urn:li:activity:7100000000000000004">
       <div class="update-components-text"><span>Rerankers earn their latency.</span></div></div>
     <div style="height: 3000px"></div>`), 200);
});
</script></body></html>"""

CHECKPOINT = """<html><head><title>Security Verification | LinkedIn</title></head><body>
<h1>Let's do a quick security check</h1><div id="captcha-internal"></div></body></html>"""


def serve_linkedin(server: LocalServer, after_login: Route) -> None:
    server["/login"] = (200, "text/html; charset=utf-8", LOGIN.format(error=""))
    server[SUBMIT_PATH] = after_login
    server["/feed/"] = (
        200,
        "text/html",
        "<html><head><title>Feed | LinkedIn</title></head><body>Hi</body></html>",
    )
    server["/checkpoint/challenge/AgF1"] = (200, "text/html", CHECKPOINT)
    server["/in/iris-calder/recent-activity/all/"] = (200, "text/html; charset=utf-8", ACTIVITY)


def crawler(server: LocalServer, config: CrawlConfig, browser_paths: BrowserPaths) -> LinkedInCrawler:
    return LinkedInCrawler(
        config, browser_paths, "iris@example.com", "s3cret-pass", login_url=server.url("/login")
    )


@pytest.mark.browser
def test_logs_in_and_reads_the_authors_posts(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    serve_linkedin(server, Route(status=303, headers={"Location": "/feed/"}))
    link = server.url("/in/iris-calder/")
    documents = crawler(server, config, browser_paths).crawl(link, author)

    assert server.posts[SUBMIT_PATH] == [b"session_key=iris%40example.com&session_password=s3cret-pass"]
    assert all(isinstance(d, PostDocument) and d.platform == "linkedin" for d in documents)
    assert all(d.author_id == author.id and d.author_full_name == "Iris Calder" for d in documents)
    assert [d.content["text"] for d in documents] == [
        "Shipped the twin's first eval.\n\nJudges agree with me 8 times in 10. #evals",
        "Chunk overlap matters more than chunk size.",
        "Notes from the retrieval meetup.",
        "Rerankers earn their latency.",
    ]
    links = [d.link for d in documents]
    assert links[0] == server.url("/feed/update/urn:li:activity:7100000000000000001/")
    assert links[1] == server.url("/posts/iris-calder_chunking-activity-7100000000000000003-abcd")
    assert links[2].startswith(f"{link}#post-")
    assert links[3] == server.url("/feed/update/urn:li:activity:7100000000000000004/")


@pytest.mark.browser
def test_a_checkpoint_after_login_fails(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    serve_linkedin(server, Route(status=303, headers={"Location": "/checkpoint/challenge/AgF1"}))
    with pytest.raises(CrawlError, match=r"security check \(checkpoint/captcha\) after logging in"):
        crawler(server, config, browser_paths).crawl(server.url("/in/iris-calder/"), author)
    assert server.requests["/in/iris-calder/recent-activity/all/"] == 0


@pytest.mark.browser
def test_a_rejected_password_fails(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    serve_linkedin(server, Route(body=LOGIN.format(error="Wrong email or password.")))
    with pytest.raises(CrawlError, match=r"did not accept the login for iris@example\.com; check LINKEDIN_"):
        crawler(server, config, browser_paths).crawl(server.url("/in/iris-calder/"), author)


@pytest.mark.browser
def test_a_form_that_never_submits_fails_after_the_timeout(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    serve_linkedin(server, Route(status=303, headers={"Location": "/feed/"}))
    server["/login"] = (
        200,
        "text/html",
        LOGIN.format(error="").replace("<form ", '<form onsubmit="return false" '),
    )
    # Short, but not so short that loading the page itself times out on a busy machine.
    short = config.model_copy(update={"browser_timeout_s": 3.0})
    with pytest.raises(CrawlError, match=r"the login form at .*/login did not submit"):
        crawler(server, short, browser_paths).crawl(server.url("/in/iris-calder/"), author)
    assert server.posts.get(SUBMIT_PATH, []) == []


def test_without_credentials_the_crawler_is_off(
    monkeypatch: pytest.MonkeyPatch, config: CrawlConfig, browser_paths_unchecked: BrowserPaths
) -> None:
    monkeypatch.delenv("LINKEDIN_USERNAME", raising=False)
    monkeypatch.delenv("LINKEDIN_PASSWORD", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(
        CrawlError, match="LinkedIn crawling is off: set LINKEDIN_USERNAME and LINKEDIN_PASSWORD"
    ):
        LinkedInCrawler.from_settings(config, browser_paths_unchecked, settings)


def test_credentials_from_settings_are_used(
    config: CrawlConfig, browser_paths_unchecked: BrowserPaths
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        linkedin_username="iris@example.com",
        linkedin_password="s3cret-pass",  # type: ignore[arg-type]
    )
    linkedin = LinkedInCrawler.from_settings(config, browser_paths_unchecked, settings)
    assert linkedin.username == "iris@example.com"
    assert linkedin.login_url == "https://www.linkedin.com/login"


@pytest.fixture
def browser_paths_unchecked(tmp_path: Path) -> BrowserPaths:
    """Paths that need not exist: building a crawler never starts the browser."""
    return BrowserPaths(chromium=tmp_path / "chromium", chromedriver=tmp_path / "chromedriver")
