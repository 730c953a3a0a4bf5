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


def documents_built_from(artifact: "ArtifactVersionResponse") -> list[CleanedDocument] | None:
    """The `cleaned_documents` the step that produced `artifact` read; None when that step read none (an
    artifact saved by hand, or made by a step that took no documents)."""
    from zenml.client import Client

    if artifact.producer_step_run_id is None:
        return None
    step = Client().get_run_step(artifact.producer_step_run_id)
    inputs = step.inputs.get("cleaned_documents")
    if not inputs:
        return None
    documents = inputs[0].load()
    if not isinstance(documents, CleanedDocuments):
        raise TypeError(f"{step.name}'s cleaned_documents input is a {type(documents).__name__}.")
    return documents.documents
