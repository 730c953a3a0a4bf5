"""The sample corpus of the fictional author Iris Calder, turned into the sources the ETL crawls.

The corpus is checked in as plain files; a git repository and a Medium export .zip cannot be, so
they are built from it, deterministically: rebuilding yields the same commit and the same zip bytes.
"""

import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from tempfile import TemporaryDirectory

from pydantic import BaseModel, ConfigDict

DEFAULT_SAMPLES_DIR = Path("samples") / "iris-calder"
REPOSITORY_NAME = "iris-calder-pipelines"
SAMPLE_AUTHOR = "Iris Calder"
# Fixed identity and dates make the commit hash a function of the files alone.
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": SAMPLE_AUTHOR,
    "GIT_AUTHOR_EMAIL": "iris.calder@example.com",
    "GIT_COMMITTER_NAME": SAMPLE_AUTHOR,
    "GIT_COMMITTER_EMAIL": "iris.calder@example.com",
    "GIT_AUTHOR_DATE": "2024-05-04T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-05-04T10:00:00+00:00",
    # The user's own git config (signing, hooks, autocrlf) must not change what gets committed.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".DS_Store"})


class SampleSources(BaseModel):
    """Absolute paths of every source of the sample corpus, ready to crawl."""

    model_config = ConfigDict(frozen=True)

    repository: Path
    medium_zip: Path
    substack_dir: Path
    linkedin_dir: Path
    notes_dir: Path


def build_sample_sources(samples_dir: Path, out_dir: Path) -> SampleSources:
    """Build the git repository and the Medium .zip under `out_dir` from the corpus in `samples_dir`.

    `samples_dir` is the corpus folder (`samples/iris-calder`). Outputs that already match are left untouched.
    """
    samples_dir, out_dir = samples_dir.resolve(), out_dir.resolve()
    if not (samples_dir / "repository").is_dir():
        raise FileNotFoundError(
            f"{samples_dir} is not the sample corpus; pass the path of samples/iris-calder."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    repository = out_dir / REPOSITORY_NAME
    build_repository(samples_dir / "repository", repository)
    medium_zip = out_dir / "medium-export.zip"
    pack_folder(samples_dir / "medium-export", medium_zip)
    return SampleSources(
        repository=repository,
        medium_zip=medium_zip,
        substack_dir=samples_dir / "substack-export",
        linkedin_dir=samples_dir / "linkedin-export",
        notes_dir=samples_dir / "notes",
    )


def sample_links(sources: SampleSources) -> list[str]:
    """The ETL links that crawl the whole sample corpus."""
    return [
        str(sources.repository),
        f"medium-export:{sources.medium_zip}",
        f"substack-export:{sources.substack_dir}?publication=iriscalder",
        f"linkedin-export:{sources.linkedin_dir}",
        f"folder:{sources.notes_dir}",
    ]


def corpus_files(folder: Path) -> list[Path]:
    """Files under `folder` in sorted order, without caches a local test run may have left."""
    files = (p for p in folder.rglob("*") if p.is_file() and not IGNORED_NAMES.intersection(p.parts))
    return sorted(p for p in files if p.suffix != ".pyc")


def build_repository(source: Path, target: Path) -> str:
    """Commit the files of `source` as the only commit of a repository at `target`; returns its hash."""
    with TemporaryDirectory(prefix=".building-", dir=target.parent) as scratch:
        fresh = Path(scratch) / target.name
        fresh.mkdir()
        for path in corpus_files(source):
            destination = fresh / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            # copyfile, not copy2: file modes and times must not leak into the commit.
            shutil.copyfile(path, destination)
        run_git(fresh, "init", "--quiet", "--initial-branch=main")
        run_git(fresh, "add", "--all")
        run_git(fresh, "commit", "--quiet", "--no-gpg-sign", "-m", "Document pipeline helpers")
        commit = run_git(fresh, "rev-parse", "HEAD")
        if is_clean_checkout_of(target, commit):
            return commit
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
    return commit


def is_clean_checkout_of(repository: Path, commit: str) -> bool:
    """Whether `repository` is a git repository at `commit` with nothing changed or added."""
    if not (repository / ".git").is_dir():
        return False
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=False
    )
    return head.stdout.strip() == commit and not run_git(repository, "status", "--porcelain", "--ignored")


def run_git(repository: Path, *arguments: str) -> str:
    """Run git in `repository` with the fixed sample identity; its stripped stdout."""
    result = subprocess.run(
        ["git", *arguments],
        cwd=repository,
        env={**os.environ, **COMMIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`git {' '.join(arguments)}` failed in {repository}: {result.stderr.strip()}. "
            "Building the sample repository needs git 2.28 or newer on PATH."
        )
    return result.stdout.strip()


def pack_folder(folder: Path, archive: Path) -> None:
    """Zip `folder` with sorted members and fixed dates; an identical existing archive is left as is."""
    with TemporaryDirectory(prefix=".packing-", dir=archive.parent) as scratch:
        packed = Path(scratch) / archive.name
        with zipfile.ZipFile(packed, "w") as zipped:
            for path in corpus_files(folder):
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zipped.writestr(info, path.read_bytes(), compresslevel=9)
        if archive.is_file() and archive.read_bytes() == packed.read_bytes():
            return
        packed.replace(archive)
