"""Reading platform exports, zipped or unpacked, in memory and within limits."""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl

from markdownify import markdownify

from llm_engineering.domain.exceptions import CrawlError

MAX_MEMBER_BYTES = 20_000_000


class ExportFiles:
    """The files of one export: members of a .zip archive or files under a folder, by POSIX path."""

    def __init__(self, location: Path, archive: zipfile.ZipFile | None = None) -> None:
        self.location = location
        self._archive = archive
        if archive is None:
            paths = (p for p in location.rglob("*") if p.is_file() and not p.is_symlink())
            self.names = sorted(p.relative_to(location).as_posix() for p in paths)
        else:
            # Members that would land outside the archive are never read, only refused.
            self.names = sorted(i.filename for i in archive.infolist() if is_safe_member(i))

    def read_bytes(self, name: str) -> bytes:
        """The bytes of one file, refused when over MAX_MEMBER_BYTES."""
        if self._archive is None:
            path = self.location / name
            too_big = path.stat().st_size > MAX_MEMBER_BYTES
            data = b"" if too_big else path.read_bytes()
        else:
            info = self._archive.getinfo(name)
            data = b""
            if info.file_size <= MAX_MEMBER_BYTES:
                with self._archive.open(info) as member:
                    # The size in the header can lie, so the read itself is bounded too.
                    data = member.read(MAX_MEMBER_BYTES + 1)
            too_big = info.file_size > MAX_MEMBER_BYTES or len(data) > MAX_MEMBER_BYTES
        if too_big:
            raise CrawlError(
                f"{name} in {self.location} is over {MAX_MEMBER_BYTES} bytes; refusing to read it."
            )
        return data

    def read_text(self, name: str) -> str:
        """One file decoded as UTF-8, a leading byte-order mark dropped."""
        try:
            return self.read_bytes(name).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise CrawlError(f"{name} in {self.location} is not UTF-8 text; re-export it.") from error

    def find(self, filename: str) -> str:
        """The shallowest file called `filename`, wherever the export nests it."""
        matches = [name for name in self.names if PurePosixPath(name).name == filename]
        if not matches:
            raise CrawlError(f"{self.location} has no {filename}; is it the right export, unmodified?")
        return min(matches, key=lambda name: (name.count("/"), name))

    def in_folder(self, folder: str, suffixes: tuple[str, ...]) -> list[str]:
        """Files directly inside the shallowest folder called `folder` whose names end in `suffixes`."""
        parents = {str(PurePosixPath(name).parent) for name in self.names}
        candidates = [p for p in parents if PurePosixPath(p).name == folder]
        if not candidates:
            raise CrawlError(f"{self.location} has no {folder}/ folder; is it the right export, unmodified?")
        chosen = min(candidates, key=lambda p: (p.count("/"), p))
        return [n for n in self.names if str(PurePosixPath(n).parent) == chosen and n.endswith(suffixes)]


def is_safe_member(info: zipfile.ZipInfo) -> bool:
    """Whether a zip member is a plain file whose path stays inside the archive."""
    path = PurePosixPath(info.filename.replace("\\", "/"))
    return not info.is_dir() and not path.is_absolute() and ".." not in path.parts


def parse_export_link(link: str, prefix: str) -> tuple[Path, dict[str, str]]:
    """The resolved path and the `?name=value` options of an export link such as `folder:notes`."""
    rest = link.strip().removeprefix(prefix)
    options: dict[str, str] = {}
    if re.search(r"\?[\w-]+=[^/]*$", rest):
        rest, _, query = rest.rpartition("?")
        options = dict(parse_qsl(query))
    if not rest:
        raise CrawlError(f"{link!r} names no path; write it as {prefix}<path to a .zip or folder>.")
    return Path(rest).expanduser().resolve(), options


@contextmanager
def open_export(location: Path) -> Iterator[ExportFiles]:
    """The export at `location`, a .zip file or a folder; the archive stays open inside the block."""
    if location.is_dir():
        yield ExportFiles(location)
        return
    if not location.is_file():
        raise CrawlError(
            f"No export at {location}; check the path (relative paths start at the working dir)."
        )
    try:
        archive = zipfile.ZipFile(location)
    except zipfile.BadZipFile as error:
        raise CrawlError(f"{location} is not a readable .zip archive; download the export again.") from error
    with archive:
        yield ExportFiles(location, archive)


def read_csv(files: ExportFiles, name: str, required: set[str]) -> list[dict[str, str]]:
    """The rows of a CSV in the export, failing when a required column is missing."""
    # newline="" semantics: quoted fields keep their own line breaks as written.
    reader = csv.DictReader(io.StringIO(files.read_text(name), newline=""))
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise CrawlError(
            f"{name} in {files.location} lacks the columns {', '.join(sorted(missing))}; "
            "it may come from another export or have been edited."
        )
    return [{key: value or "" for key, value in row.items() if key is not None} for row in reader]


def html_to_markdown(html: str) -> str:
    """Markdown of an HTML fragment, with ATX headings, fenced code and no runs of blank lines."""
    text = markdownify(
        html,
        heading_style="ATX",
        bullets="-",
        code_language_callback=lambda element: (
            element.get("data-code-block-lang") or element.get("data-lang")
        ),
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse_timestamp(value: str) -> datetime | None:
    """An export's ISO 8601 or `YYYY-MM-DD HH:MM:SS` time, in UTC when it names no zone; None if blank."""
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise CrawlError(f"Unreadable date {value!r} in the export; expected ISO 8601.") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
