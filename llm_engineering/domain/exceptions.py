"""Errors the system raises on purpose; each message says how to fix the cause."""


class TwinError(Exception):
    """Base class of every error raised on purpose by LLM Twin."""


class CrawlError(TwinError):
    """A link could not be crawled; the message is the reason recorded for it."""


class UnsupportedLinkError(CrawlError):
    """No crawler is registered for a link."""


class WarehouseUnavailableError(TwinError):
    """The configured warehouse cannot be reached."""


class ImportFormatError(TwinError):
    """A warehouse export to import is malformed."""


class FailureRateExceededError(TwinError):
    """More links failed than the run allows."""


class FeatureStoreUnavailableError(TwinError):
    """The configured feature store cannot be reached."""


class CollectionNotFoundError(FeatureStoreUnavailableError):
    """A feature store collection has not been created yet."""


class LLMError(TwinError):
    """A language model call failed."""


class RegistryError(TwinError):
    """A model version or stage asked for does not exist."""


class WarehouseDamagedError(WarehouseUnavailableError):
    """A file of the embedded warehouse is damaged; it is refused rather than read as an empty collection."""


class MassRemovalError(TwinError):
    """A feature run would remove more of an author's indexed documents than it may."""
