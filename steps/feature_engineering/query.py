from collections import Counter
from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import features
from llm_engineering.domain.documents import RawDocuments
from llm_engineering.infrastructure.container import get_warehouse


# Never cached: the warehouse changes between runs while the author names stay the same.
@step(enable_cache=False)
def query_data_warehouse(author_full_names: list[str]) -> Annotated[RawDocuments, "raw_documents"]:
    """Read every document of the named authors from the warehouse."""
    raw = features.query_data_warehouse(get_warehouse(), author_full_names)
    per_author = Counter(document.author_full_name for document in raw.all())
    log_metadata(
        metadata={
            "documents": {
                "articles": len(raw.articles),
                "posts": len(raw.posts),
                "repositories": len(raw.repositories),
            },
            "per_author": dict(per_author),
        }
    )
    return raw
