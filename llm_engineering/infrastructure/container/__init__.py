"""The composition root: every adapter is built here, once, on first use, from the settings.

Steps, the CLI and the service ask this package for what they need and never construct an adapter
themselves. `models` builds the model registry, the serving policy's choice and an evaluation's setup;
`service` builds the inference service's parts.
"""

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from llm_engineering.application.ports import ChatModel, Crawler, DocumentStore, Embedder, VectorIndex
from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.infrastructure.hub import HubPublisher
    from llm_engineering.infrastructure.monitoring.feedback_store import MongoFeedbackStore
    from llm_engineering.infrastructure.warehouse.connection import WarehouseStores


@cache
def get_settings() -> Settings:
    return Settings()


def _warehouse() -> "WarehouseStores":
    settings = get_settings()
    return _warehouse_at(settings.warehouse_dir.resolve(), settings.database_host, settings.database_name)


@cache
def _warehouse_at(directory: Path, host: SecretStr | None, name: str) -> "WarehouseStores":
    """One connection per process and location, however often the settings are re-read."""
    from llm_engineering.infrastructure.warehouse.connection import open_warehouse

    return open_warehouse(get_settings())


def get_warehouse() -> DocumentStore:
    """The warehouse's documents and users."""
    return _warehouse().documents


def get_feedback_store() -> "MongoFeedbackStore":
    """The warehouse's traces and the users' feedback on answers."""
    return _warehouse().feedback


def crawler_factories(config: CrawlConfig, settings: Settings) -> dict[str, Callable[[], Crawler]]:
    """How to build each crawler named in `LINK_PATTERNS`; imports stay lazy so unused drivers never load."""
    from llm_engineering.infrastructure.crawlers import article, exports, git, medium
    from llm_engineering.infrastructure.crawlers.browser import BrowserPaths
    from llm_engineering.infrastructure.crawlers.linkedin.crawler import LinkedInCrawler

    browser = BrowserPaths(chromium=settings.chromium_binary, chromedriver=settings.chromedriver_path)
    return {
        "git": lambda: git.GitCrawler(config),
        "article": lambda: article.ArticleCrawler(config),
        "medium": lambda: medium.MediumCrawler(config, browser),
        "linkedin": lambda: LinkedInCrawler.from_settings(config, browser, settings),
        "medium_export": lambda: exports.MediumExportCrawler(),
        "linkedin_export": lambda: exports.LinkedInExportCrawler(),
        "substack_export": lambda: exports.SubstackExportCrawler(),
        "folder": lambda: exports.FolderCrawler(),
    }


def crawler_lookup(config: CrawlConfig, settings: Settings | None = None) -> Callable[[str], Crawler]:
    """A function from crawler name to crawler, building each at most once."""
    factories = crawler_factories(config, settings or get_settings())
    built: dict[str, Crawler] = {}

    def crawler_for(name: str) -> Crawler:
        if name not in factories:
            raise CrawlError(f"No crawler named {name!r}; known: {', '.join(sorted(factories))}.")
        if name not in built:
            built[name] = factories[name]()
        return built[name]

    return crawler_for


@cache
def get_vector_index() -> VectorIndex:
    from llm_engineering.infrastructure.vector_index import open_vector_index

    return open_vector_index(get_settings())


@cache
def get_embedder() -> Embedder:
    from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder

    settings = get_settings()
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    return SentenceTransformerEmbedder(settings.embedding_model_id, device=settings.embedding_device)


@cache
def get_chat_model() -> ChatModel:
    """The LLM_BACKEND model: it writes datasets, judges, and answers while no twin version serves."""
    from llm_engineering.infrastructure.llm import build_chat_model

    return build_chat_model(get_settings())


def prepare_local_engine(model_dir: Path) -> Path | None:
    """The engine files of a new model folder, converted now so the first answer need not wait; None when
    LLM_ENGINE=transformers runs the folder as it is."""
    if get_settings().llm_engine == "transformers":
        return None
    from llm_engineering.infrastructure.llm.local.engine_files import ensure_engine_files

    return ensure_engine_files(model_dir)


def get_hub_publisher() -> "HubPublisher":
    """Pushes to the Hub of the settings with their token; checks happen when a push starts."""
    from llm_engineering.infrastructure.hub import HubPublisher

    settings = get_settings()
    return HubPublisher(settings.huggingface_access_token, settings.huggingface_endpoint)


def clear() -> None:
    """Forget what was built, so the next call reads the settings again (tests change them). Warehouse
    connections stay open, one per location; the embedding model stays loaded."""
    for cached in (get_settings, get_vector_index, get_chat_model):
        cached.cache_clear()
