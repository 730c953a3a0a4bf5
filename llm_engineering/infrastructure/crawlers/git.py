"""Crawls a git repository, remote or local, into one document mapping file paths to their text."""

import os
import re
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import Document, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError

# Generated files that say nothing about how the author writes code.
LOCK_FILES = frozenset(
    "package-lock.json yarn.lock pnpm-lock.yaml poetry.lock uv.lock Cargo.lock Pipfile.lock composer.lock "
    "Gemfile.lock go.sum".split()
)
SKIPPED_DIRS = frozenset(
    ".git node_modules vendor third_party .venv venv dist build __pycache__ .tox site-packages".split()
)
PLATFORMS = {"github.com": "github", "gitlab.com": "gitlab", "codeberg.org": "codeberg"}
LOCAL_PREFIXES = ("/", "./", "../", "~")
SCP_LIKE = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):")
USERINFO = re.compile(r"(https?://)[^/@\s]+@")


class GitCrawler:
    """Shallow-clones a repository into a temporary folder and keeps its text files."""

    def __init__(self, config: CrawlConfig) -> None:
        self._config = config

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One RepositoryDocument for the repository at `link` (a git URL or a local path)."""
        source, link = clone_source(link.strip())
        with TemporaryDirectory(prefix="twin-git-") as workdir:
            checkout = Path(workdir) / "checkout"
            self._git(["clone", "--depth", "1", "--quiet", "--", source, str(checkout)], Path(workdir), link)
            last_commit = self._git(["log", "-1", "--format=%cI"], checkout, link).strip()
            content = read_text_files(checkout, self._config.max_file_bytes)
        if not content:
            raise CrawlError(
                f"The repository {link} holds no text files under {self._config.max_file_bytes} bytes "
                "outside lock files and vendored folders; point at a repository with source code."
            )
        logger.info("Read {} text files from {}", len(content), link)
        document = RepositoryDocument(
            name=repository_name(link),
            content=content,
            platform=platform_of(link),
            author_id=author.id,
            author_full_name=author.full_name,
            link=link,
            published_at=datetime.fromisoformat(last_commit) if last_commit else None,
        )
        return [document]

    def _git(self, arguments: list[str], cwd: Path, link: str) -> str:
        """Run git in `cwd` without ever prompting; its stdout, or a CrawlError with git's complaint."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/true"}
        # Host-key or passphrase questions would hang a pipeline run the same way a password prompt does.
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        try:
            returncode, stdout, stderr = run_bounded(
                ["git", *arguments], cwd, env, self._config.git_timeout_s
            )
        except subprocess.TimeoutExpired as error:
            raise CrawlError(
                f"git {arguments[0]} of {link} took longer than {self._config.git_timeout_s:g} s; "
                "check the network or raise CrawlConfig.git_timeout_s for very large repositories."
            ) from error
        except FileNotFoundError as error:
            raise CrawlError("git is not installed; install it (e.g. `apt-get install git`).") from error
        if returncode != 0:
            # git repeats the URL in its complaints; a token in it must not reach logs or reports.
            complaint = USERINFO.sub(r"\1", git_complaint(stderr)) or f"exit status {returncode}"
            raise CrawlError(
                f"git {arguments[0]} of {link} failed ({complaint}). Check that the repository exists "
                "and is public, or that the local path is a git repository with at least one commit."
            )
        return stdout


def run_bounded(command: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> tuple[int, str, str]:
    """Run a command to completion or kill it with its children after `timeout_s`; (status, stdout, stderr).

    git hands network work to helper processes that inherit its pipes; killing only git would leave
    them holding the pipes open, so the command runs in its own process group and the group is killed.
    """
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return process.returncode, stdout, stderr


def git_complaint(stderr: str) -> str:
    r"""The line of git's stderr that says what went wrong.

    git ends with generic advice ("…and the repository exists."), so its first `fatal:` or `error:`
    line is the one that names the cause; without one, its last line.

    >>> git_complaint("fatal: repository 'x' not found\n\nPlease make sure\nthe repository exists.\n")
    "fatal: repository 'x' not found"
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (causes or lines or [""])[0 if causes else -1]


def clone_source(link: str) -> tuple[str, str]:
    """What to hand `git clone` and which link to store: local paths become `file://` URIs.

    Cloning through `file://` keeps `--depth 1` meaningful; git ignores it for plain paths. A token
    in an https URL is used for the clone but never stored or reported.
    """
    if not link.startswith(LOCAL_PREFIXES):
        parts = urlsplit(link)
        if parts.scheme.startswith("http") and "@" in parts.netloc:
            return link, urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        return link, link
    path = Path(link).expanduser().resolve()
    if not path.is_dir():
        raise CrawlError(f"No folder at {path} (from {link!r}); give the path of a local git repository.")
    uri = path.as_uri()
    return uri, uri


def repository_name(link: str) -> str:
    """The last path segment of a repository link, without `.git`.

    >>> repository_name("git@github.com:iris/pipelines.git")
    'pipelines'
    """
    tail = re.split(r"[/:]", link.rstrip("/"))[-1]
    return tail.removesuffix(".git") or link


def platform_of(link: str) -> str:
    """The hosting platform of a repository link, by host; `git` for any other host or a local one."""
    scp = SCP_LIKE.match(link)
    host = scp.group("host") if scp and "://" not in link else urlsplit(link).hostname or ""
    return PLATFORMS.get(host.lower().removeprefix("www."), "git")


def read_text_files(root: Path, max_file_bytes: int) -> dict[str, str]:
    """Map POSIX relative paths to the exact text of every kept file under `root`, in sorted order."""
    content: dict[str, str] = {}
    for folder, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk from descending into vendored and generated trees.
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRS)
        for filename in sorted(filenames):
            path = Path(folder) / filename
            text = read_text_file(path, max_file_bytes)
            if text is not None:
                content[path.relative_to(root).as_posix()] = text
    return content


def read_text_file(path: Path, max_file_bytes: int) -> str | None:
    """The file's text, or None for a file the repository document leaves out by design.

    Left out: lock files, symlinks (they may point outside the clone), files over the size limit,
    and binary files (NUL bytes or not UTF-8).
    """
    if path.name in LOCK_FILES or path.suffix == ".lock" or path.is_symlink() or not path.is_file():
        return None
    if path.stat().st_size > max_file_bytes:
        logger.debug("Skipping {}: larger than {} bytes", path.name, max_file_bytes)
        return None
    data = path.read_bytes()
    if b"\x00" in data:
        return None
    try:
        # Decoding bytes ourselves keeps line endings exactly as committed.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
