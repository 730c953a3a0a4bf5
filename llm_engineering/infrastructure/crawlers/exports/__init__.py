"""Crawlers for files the author downloads from a platform, or keeps locally.

Links: `medium-export:<path>`, `linkedin-export:<path>`, `substack-export:<path>[?publication=name]`
and `folder:<path>`, where <path> is a .zip or a folder; relative paths start at the working directory.
"""

from llm_engineering.infrastructure.crawlers.exports.folder import FolderCrawler
from llm_engineering.infrastructure.crawlers.exports.linkedin import LinkedInExportCrawler
from llm_engineering.infrastructure.crawlers.exports.medium import MediumExportCrawler
from llm_engineering.infrastructure.crawlers.exports.substack import SubstackExportCrawler

__all__ = ["FolderCrawler", "LinkedInExportCrawler", "MediumExportCrawler", "SubstackExportCrawler"]
