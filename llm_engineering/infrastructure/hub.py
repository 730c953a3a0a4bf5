"""Publishing folders to the Hugging Face Hub (or any server speaking its API): merged models and datasets.

Uploads go through `huggingface_hub`'s commit API: create the repository if needed, ask the Hub how
each file travels (inline, or by large-file storage), then one commit with every file. Models load
from local folders everywhere else, so the project runs with `HF_HUB_OFFLINE=1`; a push is the one
place that needs the network, and asks for `HF_HUB_OFFLINE=0` instead of failing deep in a request.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loguru import logger
from pydantic import SecretStr

from llm_engineering.domain.exceptions import TwinError


class HubError(TwinError):
    """The Hub refused or could not take a push; nothing in the local stores changed."""


@dataclass(frozen=True)
class HubRepo:
    """Where a push goes: `namespace/name`, or a bare name the Hub puts under the token's user."""

    repo_id: str
    repo_type: Literal["model", "dataset"]
    private: bool = True  # only used when the push creates the repository


@dataclass(frozen=True)
class PublishedCommit:
    """Where a push landed: the repository (as the Hub resolved its id), its page and the commit."""

    repo_id: str
    repo_url: str
    commit_oid: str
    files: int


class HubPublisher:
    """Uploads a local folder as one commit to a repository on the Hub at `endpoint`."""

    def __init__(self, token: SecretStr | None, endpoint: str) -> None:
        self.token = token
        self.endpoint = endpoint.rstrip("/")

    def check(self, repo_id: str) -> str:
        """The token, once a push to `repo_id` is known to be possible; HubError (before any work) when the
        token is missing, offline mode is on, or the id is not a valid repository id."""
        from huggingface_hub import constants
        from huggingface_hub.errors import HFValidationError
        from huggingface_hub.utils import validate_repo_id

        if self.token is None or not self.token.get_secret_value():
            raise HubError(
                f"Pushing {repo_id} to the Hugging Face Hub needs HUGGINGFACE_ACCESS_TOKEN (a token with "
                "write access); set it in .env, or turn the push off."
            )
        if constants.is_offline_mode():
            raise HubError(
                f"Pushing {repo_id} needs the network, but HF_HUB_OFFLINE=1 (set by default so that models "
                "never load from the Hub); run the command with HF_HUB_OFFLINE=0."
            )
        try:
            validate_repo_id(repo_id)
        except HFValidationError as error:
            raise HubError(
                f"{repo_id!r} is not a Hub repository id ({error}); use e.g. you/llm-twin."
            ) from error
        return self.token.get_secret_value()

    def publish_folder(
        self, folder: Path, repo: HubRepo, message: str, extra_files: Mapping[str, bytes] | None = None
    ) -> PublishedCommit:
        """Create `repo` if it does not exist and commit every file of `folder`, plus `extra_files` (path in
        the repository → content, e.g. a README.md card), in one commit."""
        import httpx2  # huggingface_hub's HTTP client: what it raises once its own retries are spent
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        token = self.check(repo.repo_id)
        operations = _additions(folder, extra_files or {})
        api = HfApi(endpoint=self.endpoint, token=token)
        logger.info(
            "Pushing {} files from {} to {} on {}", len(operations), folder, repo.repo_id, self.endpoint
        )
        try:
            url = api.create_repo(repo.repo_id, repo_type=repo.repo_type, private=repo.private, exist_ok=True)
            # A bare name resolves to the token's user: commit to the id the Hub answered with.
            commit = api.create_commit(
                url.repo_id, operations, commit_message=message, repo_type=repo.repo_type
            )
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            hint = (
                "check that HUGGINGFACE_ACCESS_TOKEN is valid and has write access to the namespace"
                if status in (401, 403)
                else "check the repository id and try again"
            )
            raise HubError(
                f"The Hub at {self.endpoint} refused the push to {repo.repo_id} ({error}); {hint}."
            ) from error
        except httpx2.HTTPError as error:
            raise HubError(
                f"Could not reach the Hub at {self.endpoint} to push {repo.repo_id}: {error}; check the "
                "network and HUGGINGFACE_ENDPOINT, then push again."
            ) from error
        return PublishedCommit(url.repo_id, str(url), commit.oid, len(operations))


def _additions(folder: Path, extra_files: Mapping[str, bytes]) -> list:  # type: ignore[type-arg]
    """One CommitOperationAdd per file of `folder` (an extra file of the same path wins) and per extra."""
    from huggingface_hub import CommitOperationAdd

    files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
    if not files:
        raise HubError(f"{folder} holds no files; there is nothing to push.")
    in_repo = {path.relative_to(folder).as_posix(): path for path in files}
    return [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
        for name, path in in_repo.items()
        if name not in extra_files
    ] + [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=content)
        for name, content in extra_files.items()
    ]
