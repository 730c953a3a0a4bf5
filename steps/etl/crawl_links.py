from typing import Annotated

from zenml import log_metadata, step

from llm_engineering.application import etl
from llm_engineering.domain.crawling import CrawlConfig, CrawlReport, in_data_dir
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.container import crawler_lookup, get_settings, get_warehouse


# Never cached: crawling reads the outside world and writes the warehouse.
@step(enable_cache=False)
def crawl_links(
    user: UserDocument, links: list[str], crawl: CrawlConfig, max_failure_rate: float
) -> Annotated[CrawlReport, "crawl_report"]:
    """Crawl every link (`$DATA_DIR` in one is the data folder) into the warehouse; fail the run when too
    many links failed."""
    links = in_data_dir(links, get_settings().data_dir.resolve())
    report = etl.crawl_links(links, user, crawler_lookup(crawl), get_warehouse())
    log_metadata(
        metadata={
            "documents_stored": report.documents_stored,
            "failure_rate": report.failure_rate,
            "per_domain": report.per_domain(),
            "failures": report.failures(),
        }
    )
    etl.ensure_failure_rate(report, max_failure_rate)
    return report
