"""What the artifact store remembers of how an artifact was made: its latest version and the inputs its step
read."""

from typing import TYPE_CHECKING

from llm_engineering.domain.features import CleanedDocument, CleanedDocuments

if TYPE_CHECKING:
    from zenml.models import ArtifactVersionResponse


def latest_artifact(name: str) -> "ArtifactVersionResponse | None":
    """The newest version of artifact `name`; None when no run produced one yet."""
    from zenml.client import Client

    try:
        return Client().get_artifact_version(name)
    except KeyError:
        return None


def sources_input(artifact: "ArtifactVersionResponse") -> "ArtifactVersionResponse | None":
    """The `cleaned_documents` artifact the step that produced `artifact` read, unloaded; None when that step
    read none (an artifact saved by hand, or made by a step that took no documents)."""
    from zenml.client import Client

    if artifact.producer_step_run_id is None:
        return None
    inputs = Client().get_run_step(artifact.producer_step_run_id).inputs.get("cleaned_documents")
    return inputs[0] if inputs else None


def documents_built_from(artifact: "ArtifactVersionResponse") -> list[CleanedDocument] | None:
    """The documents of `sources_input(artifact)`; None when there is none."""
    source = sources_input(artifact)
    if source is None:
        return None
    documents = source.load()
    if not isinstance(documents, CleanedDocuments):
        raise TypeError(f"The cleaned_documents that made {artifact.name} are a {type(documents).__name__}.")
    return documents.documents
