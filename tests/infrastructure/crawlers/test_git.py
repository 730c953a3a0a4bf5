import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.git import GitCrawler, platform_of, repository_name

AUTHOR = UserDocument(first_name="Iris", last_name="Calder")
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
KEPT = {
    "README.md": b"# Tool\r\nWindows line endings stay.\r\n",
    "src/tool/deep/nested/module.py": 'print("café ✓")\n\tindented\n'.encode(),
    "src/tool/__init__.py": b"",
    "docs/guide.txt": b"No trailing newline",
}
SKIPPED = {
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "latin1.txt": "caf\xe9".encode("latin-1"),
    "package-lock.json": b'{"lockfileVersion": 3}',
    "poetry.lock": b"# locked",
    "deps/custom.lock": b"pinned",
    "go.sum": b"example.com/mod v1.0.0 h1:abc=",
    "node_modules/left-pad/index.js": b"module.exports = 1;",
    "vendor/lib.go": b"package lib",
    "src/tool/__pycache__/module.txt": b"cached",
    "web/dist/app.js": b"minified();",
    "large.txt": b"x" * 1_001,
}


def git(cwd: Path, *arguments: str) -> None:
    subprocess.run(["git", *arguments], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def make_repository(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "--all", "--force")
    git(path, "commit", "--quiet", "-m", "Initial commit")
    return path


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repository(tmp_path_factory.mktemp("repos") / "tool.git", KEPT | SKIPPED)


@pytest.fixture
def crawler() -> GitCrawler:
    return GitCrawler(CrawlConfig(max_file_bytes=1_000, git_timeout_s=30))


def crawl_one(crawler: GitCrawler, link: str) -> RepositoryDocument:
    documents = crawler.crawl(link, AUTHOR)
    assert len(documents) == 1
    assert isinstance(documents[0], RepositoryDocument)
    return documents[0]


def test_keeps_text_files_exactly_and_leaves_out_binary_lock_vendored_and_large(
    crawler: GitCrawler, repository: Path
) -> None:
    document = crawl_one(crawler, str(repository))

    assert document.content == {name: data.decode("utf-8") for name, data in KEPT.items()}
    assert document.name == "tool"
    assert document.platform == "git"
    assert document.link == repository.resolve().as_uri()
    assert document.author_id == AUTHOR.id
    assert document.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_file_url_and_relative_paths_leave_the_working_directory_alone(
    crawler: GitCrawler, repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repository.parent)
    before = Path.cwd()

    by_url = crawl_one(crawler, repository.as_uri())
    by_relative = crawl_one(crawler, "./tool.git")
    (repository.parent / "elsewhere").mkdir(exist_ok=True)
    monkeypatch.chdir(repository.parent / "elsewhere")
    by_parent = crawl_one(crawler, "../tool.git/")

    assert Path.cwd() == repository.parent / "elsewhere"
    assert before == repository.parent
    assert by_url.link == repository.as_uri()
    assert by_relative.link == by_parent.link == repository.resolve().as_uri()
    assert by_url.content == by_relative.content == by_parent.content


def test_missing_path_fails_with_a_reason(crawler: GitCrawler, tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match="No folder at"):
        crawler.crawl(str(tmp_path / "missing"), AUTHOR)


def test_missing_repository_url_fails_with_gits_complaint(crawler: GitCrawler, tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match=r"git clone of .* failed \(.*(does not exist|not appear).*\)"):
        crawler.crawl((tmp_path / "missing.git").as_uri(), AUTHOR)


def test_folder_that_is_not_a_repository_fails(crawler: GitCrawler, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("not a repository")
    with pytest.raises(CrawlError, match=r"failed \(.*git repository.*\).*exists and is public"):
        crawler.crawl(str(tmp_path), AUTHOR)


def test_repository_without_text_files_fails(crawler: GitCrawler, tmp_path: Path) -> None:
    repository = make_repository(tmp_path / "assets", {"logo.png": SKIPPED["logo.png"], "yarn.lock": b"x"})
    with pytest.raises(CrawlError, match="no text files"):
        crawler.crawl(str(repository), AUTHOR)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A localhost port that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_clone_that_hangs_is_stopped_at_the_timeout(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    crawler = GitCrawler(CrawlConfig(git_timeout_s=1))
    started = datetime.now(UTC)
    with pytest.raises(CrawlError, match="took longer than 1 s"):
        crawler.crawl(f"http://127.0.0.1:{silent_server}/iris/pipelines.git", AUTHOR)
    assert (datetime.now(UTC) - started).total_seconds() < 10


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def test_a_token_in_the_url_never_reaches_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    with ThreadingHTTPServer(("127.0.0.1", 0), NotFound) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        link = f"http://iris:s3cret-token@127.0.0.1:{server.server_port}/iris/private.git"
        with pytest.raises(CrawlError) as failure:
            GitCrawler(CrawlConfig(git_timeout_s=10)).crawl(link, AUTHOR)
        server.shutdown()
    assert "s3cret-token" not in str(failure.value)
    assert f"127.0.0.1:{server.server_port}/iris/private.git" in str(failure.value)


@pytest.mark.parametrize(
    ("link", "name", "platform"),
    [
        ("https://github.com/iris/pipelines", "pipelines", "github"),
        ("https://www.github.com/iris/pipelines/", "pipelines", "github"),
        ("git@gitlab.com:iris/evals.git", "evals", "gitlab"),
        ("ssh://git@codeberg.org/iris/notes.git", "notes", "codeberg"),
        ("https://git.example.org/team/tool.git", "tool", "git"),
        ("file:///srv/repos/tool", "tool", "git"),
    ],
)
def test_names_and_platforms_come_from_the_link(link: str, name: str, platform: str) -> None:
    assert repository_name(link) == name
    assert platform_of(link) == platform
