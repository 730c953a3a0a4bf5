from uuid import UUID

from zenml import pipeline

from llm_engineering.domain.crawling import CrawlConfig
from steps.etl import crawl_links, get_or_create_user


@pipeline
def digital_data_etl(
    user_full_name: str,
    links: list[str],
    crawl: CrawlConfig = CrawlConfig(),  # noqa: B008 - frozen, so one shared default is safe
    max_failure_rate: float = 0.2,
    user_id: UUID | None = None,
) -> None:
    """Crawl an author's links into the warehouse; `user_id` keeps apart two authors with one name.

    Steps: get_or_create_user → crawl_links.
    """
    user = get_or_create_user(user_full_name=user_full_name, user_id=user_id)
    crawl_links(user=user, links=links, crawl=crawl, max_failure_rate=max_failure_rate)
