"""The opik SDK, imported on first use with its own reporting switched off: it talks to OPIK_URL alone.

Left to itself, opik starts sending its errors to Sentry when it is imported and reports which of its
features are used on first use. The first is read from the environment at import, so OPIK_SENTRY_ENABLE is
set before it; the rest are session settings, which outrank the environment and ~/.opik.config.
"""

import os
import sys
from types import ModuleType

from llm_engineering.domain.exceptions import TwinError

FLUSH_TIMEOUT_S = 5
"""The longest the SDK waits, at process exit, for messages an unresponsive Opik does not take."""

SESSION_SETTINGS: dict[str, object] = {
    "sentry_enable": False,  # error reports to Sentry
    "analytics_enable": False,  # feature-usage events to Comet's collector
    "analytics_url": "",  # and nowhere to send them, should anything turn them back on
    "default_flush_timeout": FLUSH_TIMEOUT_S,  # opik's own exit hook would otherwise wait without limit
}


def import_opik() -> ModuleType:
    """The opik package, configured by `SESSION_SETTINGS`; a TwinError says what to do when it cannot be."""
    already_imported = "opik" in sys.modules
    os.environ["OPIK_SENTRY_ENABLE"] = "false"
    try:
        import opik
        import opik.config
    except ImportError as error:
        raise TwinError(
            "OPIK_URL is set but the opik SDK is not installed: `pip install -c requirements.lock -e "
            "'.[monitoring]'`, or unset OPIK_URL to keep traces in the warehouse only."
        ) from error
    for key, value in SESSION_SETTINGS.items():
        opik.config.update_session_config(key, value)
    if already_imported:
        _refuse_opiks_sentry(opik)
    return opik


def _refuse_opiks_sentry(opik: ModuleType) -> None:
    """Raise when something imported opik before this module could switch its Sentry reporting off."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    if client.is_active() and client.dsn == opik.config.OpikConfig().sentry_dsn:
        raise TwinError(
            "opik was imported before the Opik sink, with its Sentry error reporting on; set "
            "OPIK_SENTRY_ENABLE=false in the environment of the process."
        )
