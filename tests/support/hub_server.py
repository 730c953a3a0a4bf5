"""A stand-in for the Hugging Face Hub's repository API on 127.0.0.1: create, preupload, commit.

    with HubServer(token="hf_w") as hub:
        HubPublisher(SecretStr("hf_w"), hub.origin).publish_folder(folder, HubRepo("twin", "model"), "v1")
        assert hub.repos["model", "iris/twin"].files["config.json"] == b"{...}"

It answers what `huggingface_hub` sends for a push: `POST /api/repos/create` (409 when the repository
exists), `POST /api/validate-yaml` (a README card's front matter), `POST /api/{type}s/{id}/preupload/
{revision}` and the NDJSON `POST /api/{type}s/{id}/commit/{revision}`. Like the Hub, it asks files over
10 MB to travel by Git LFS: the batch API (`POST /{id}.git/info/lfs/objects/batch`, basic transfer), a
`PUT` of the bytes and a verify call. Such files are kept as (sha256, size) in `lfs`, not in memory.
The Hub's newer Xet transfer is not stood in: clients must run with HF_HUB_DISABLE_XET=1 here.
Requests without `Authorization: Bearer <token>` get 401; a commit to a missing repository gets 404.
The token belongs to the user `user` ("iris"): a repository created by bare name lands in that namespace.
"""

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import huggingface_hub.constants
import pytest
import yaml

from tests.support.http_server import ThreadedServer

LFS_THRESHOLD = 10 * 1024 * 1024
LFS_BATCH = re.compile(r"^/(?:datasets/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$")
REPO_ROUTE = re.compile(
    r"^/api/(?P<type>models|datasets)/(?P<repo>[^/]+/[^/]+)/(?P<op>preupload|commit)/(?P<rev>.+)$"
)


@dataclass
class StoredRepo:
    """One repository as the stand-in holds it: visibility, files and commit summaries."""

    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    lfs: dict[str, tuple[str, int]] = field(default_factory=dict)  # path → (sha256, size)
    commits: list[str] = field(default_factory=list)


class HubServer(ThreadedServer):
    """The Hub's push endpoints over in-memory repositories, keyed by (type, id)."""

    def __init__(self, token: str, user: str = "iris") -> None:
        self.token = token
        self.user = user
        self.repos: dict[tuple[str, str], StoredRepo] = {}
        self.paths: list[str] = []
        self.uploads: dict[str, int] = {}  # sha256 → size of each object PUT through LFS
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.origin}/{repo_id}" if repo_type == "model" else f"{self.origin}/{repo_type}s/{repo_id}"

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        with self._lock:
            self.paths.append(f"{method} {path}")
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        if path == "/api/repos/create":
            return self._create(json.loads(body))
        if path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body)["content"])
        if LFS_BATCH.match(path):
            return self._lfs_batch(json.loads(body))
        if path.startswith("/lfs-verify/"):
            oid, size = path.removeprefix("/lfs-verify/"), json.loads(body)["size"]
            return (
                (200, {}) if self.uploads.get(oid) == size else (404, {"error": f"object {oid} not uploaded"})
            )
        match = REPO_ROUTE.match(path)
        if method != "POST" or match is None:
            return 404, {"error": f"no route {method} {path}"}
        key = (match["type"].removesuffix("s"), match["repo"])
        repo = self.repos.get(key)
        if repo is None:
            return 404, {"error": "Repository not found"}
        if match["op"] == "preupload":
            files = json.loads(body)["files"]
            return 200, {
                "files": [
                    {"path": f["path"], "uploadMode": _mode(f["size"]), "shouldIgnore": False} for f in files
                ]
            }
        return self._commit(key, repo, body)

    def _create(self, payload: dict[str, Any]) -> tuple[int, Any]:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.user}/{payload['name']}"
        with self._lock:
            if (repo_type, repo_id) in self.repos:
                return 409, {
                    "error": f"You already created this {repo_type} repo",
                    "url": self.repo_url(repo_type, repo_id),
                }
            self.repos[repo_type, repo_id] = StoredRepo(
                private=payload.get("visibility", "public") == "private"
            )
        return 200, {"url": self.repo_url(repo_type, repo_id)}

    def _lfs_batch(self, payload: dict[str, Any]) -> tuple[int, Any]:
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", []):
            return 422, {"message": "this server only takes basic LFS uploads"}
        objects = []
        for item in payload["objects"]:
            actions = {
                "upload": {"href": f"{self.origin}/lfs-upload/{item['oid']}"},
                "verify": {"href": f"{self.origin}/lfs-verify/{item['oid']}"},
            }
            known = self.uploads.get(item["oid"]) == item["size"]
            objects.append(
                {"oid": item["oid"], "size": item["size"], **({} if known else {"actions": actions})}
            )
        return 200, {"transfer": "basic", "objects": objects}

    def store_upload(self, oid: str, chunks: Iterator[bytes]) -> tuple[int, Any]:
        """The `PUT` of an LFS object: hashed as it streams in, refused when the bytes do not match `oid`."""
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != oid:
            return 400, {"error": "the uploaded bytes do not match the object id"}
        with self._lock:
            self.paths.append(f"PUT /lfs-upload/{oid}")
            self.uploads[oid] = size
        return 200, {}

    @staticmethod
    def _validate_yaml(content: str) -> tuple[int, Any]:
        front = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        try:
            metadata = yaml.safe_load(front.group(1)) if front else {}
        except yaml.YAMLError as error:
            return 400, {"errors": [{"message": f"invalid YAML: {error}"}], "warnings": []}
        if not isinstance(metadata, dict):
            return 400, {"errors": [{"message": "metadata must be a mapping"}], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    def _commit(self, key: tuple[str, str], repo: StoredRepo, body: bytes) -> tuple[int, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return 400, {"error": "the first line of a commit must be its header"}
        added: dict[str, bytes] = {}
        pointers: dict[str, tuple[str, int]] = {}
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "lfsFile":
                if self.uploads.get(value["oid"]) != value["size"]:
                    return 422, {"error": f"LFS object {value['oid']} of {value['path']} was never uploaded"}
                pointers[value["path"]] = (value["oid"], value["size"])
            elif line["key"] == "file" and value.get("encoding") == "base64":
                added[value["path"]] = base64.b64decode(value["content"])
            else:
                return 400, {"error": f"unsupported commit operation {line['key']!r}"}
        oid = hashlib.sha1(body).hexdigest()
        with self._lock:
            repo.files.update(added)
            repo.lfs.update(pointers)
            repo.commits.append(lines[0]["value"]["summary"])
        commit_url = f"{self.repo_url(*key)}/commit/{oid}"
        return 200, {"commitUrl": commit_url, "commitOid": oid, "pullRequestUrl": None}


def client_for_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let huggingface_hub reach the stand-in: online (HF_HUB_OFFLINE=0), large files by LFS, not Xet."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)


def _mode(size: int) -> str:
    return "lfs" if size > LFS_THRESHOLD else "regular"


def _handler(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:  # answered alike: a stray GET gets a clear 404
            self._serve()

        def do_PUT(self) -> None:
            """An LFS object to a pre-signed upload URL: no Authorization header, as on the Hub's storage."""
            path = self.path.split("?")[0]
            if not path.startswith("/lfs-upload/"):
                self._reply(404, {"error": f"no route PUT {path}"})
                return
            self._reply(*server.store_upload(path.removeprefix("/lfs-upload/"), self._body_chunks()))

        def _body_chunks(self) -> Iterator[bytes]:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    yield self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                left -= len(chunk)
                yield chunk

        def _serve(self) -> None:
            body = b"".join(self._body_chunks())
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._reply(*server.answer(self.command, self.path.split("?")[0], headers, body))

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
