from typing import Annotated
from uuid import UUID

from zenml import log_metadata, step

from llm_engineering.application import etl
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.container import get_warehouse


# Never cached: the user must exist in the warehouse as it is now, not as it was.
@step(enable_cache=False)
def get_or_create_user(user_full_name: str, user_id: UUID | None = None) -> Annotated[UserDocument, "user"]:
    """Find the author in the warehouse (by id when given, else by name), creating them on the first run."""
    user = etl.get_or_create_user(get_warehouse(), user_full_name, user_id)
    log_metadata(metadata={"user": {"id": str(user.id), "full_name": user.full_name}})
    return user
