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

RepoType = Literal["model", "dataset"]
DEFAULT_ENDPOINT = "https://huggingface.co"


class HubError(TwinError):
    """The Hub refused or could not take a push; nothing in the local stores changed."""


@dataclass(frozen=True)
class PublishedCommit:
    """Where a push landed: the repository page and the commit it made."""

    repo_url: str
    commit_oid: str
    files: int


def check_can_push(token: SecretStr | None, what: str) -> None:
    """Raise HubError before any work when a push could not happen: no token, or offline mode."""
    from huggingface_hub import constants

    if token is None or not token.get_secret_value():
        raise HubError(
            f"Pushing {what} to the Hugging Face Hub needs HUGGINGFACE_ACCESS_TOKEN (a token with write "
            "access); set it in .env, or turn the push off."
        )
    if constants.is_offline_mode():
        raise HubError(
            f"Pushing {what} needs the network, but HF_HUB_OFFLINE=1 (set by default so that models never "
            "load from the Hub); run the command with HF_HUB_OFFLINE=0."
        )


class HubPublisher:
    """Uploads a local folder as one commit to a repository on the Hub at `endpoint`."""

    def __init__(self, token: SecretStr | None, endpoint: str = DEFAULT_ENDPOINT) -> None:
        self.token = token
        self.endpoint = endpoint.rstrip("/")

    def check(self, what: str) -> None:
        """Raise HubError now, before any work, when pushing `what` could not happen."""
        check_can_push(self.token, what)

    def publish_folder(
        self,
        folder: Path,
        repo_id: str,
        repo_type: RepoType,
        message: str,
        private: bool = True,
        extra_files: Mapping[str, bytes] | None = None,
    ) -> PublishedCommit:
        """Create `repo_id` if it does not exist (private by default) and commit every file of `folder`,
        plus `extra_files` (path in the repository → content, e.g. a README.md card) in the same commit."""
        import httpx2
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.errors import HfHubHTTPError

        self.check(f"{folder} to {repo_id}")
        assert self.token is not None  # checked above
        files = sorted(path for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else []
        if not files:
            raise HubError(f"{folder} holds no files; there is nothing to push to {repo_id}.")
        extra = dict(extra_files or {})
        operations = [
            CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
            for path in files
            if path.relative_to(folder).as_posix() not in extra
        ] + [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=content) for name, content in extra.items()
        ]
        api = HfApi(endpoint=self.endpoint, token=self.token.get_secret_value())
        logger.info("Pushing {} files from {} to {} on {}", len(operations), folder, repo_id, self.endpoint)
        try:
            repo = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
            commit = api.create_commit(repo_id, operations, commit_message=message, repo_type=repo_type)
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            hint = (
                "check that HUGGINGFACE_ACCESS_TOKEN is valid and has write access to the namespace"
                if status in (401, 403)
                else "check the repository id and try again"
            )
            raise HubError(
                f"The Hub at {self.endpoint} refused the push to {repo_id} ({error}); {hint}."
            ) from error
        except httpx2.HTTPError as error:  # after huggingface_hub's own retries
            raise HubError(
                f"Could not reach the Hub at {self.endpoint} to push {repo_id}: {error}; check the network "
                "and HUGGINGFACE_ENDPOINT, then push again."
            ) from error
        return PublishedCommit(repo_url=str(repo), commit_oid=commit.oid, files=len(operations))
