"""Run one of Thoth's FastAPI apps under uvicorn, the same way for both services: the
project's log format for every line (uvicorn's own included), no access log (a request-log
middleware or the app's own logging does that), host and port from settings unless given, and
proxy headers believed from the addresses settings name."""

from __future__ import annotations

import logging

import uvicorn

from thoth import cpus
from thoth.config import get_settings
from thoth.logs import configure_logging

log = logging.getLogger(__name__)


def run_http(app_factory: str, host: str | None = None, port: int | None = None) -> None:
    """Serve `app_factory` ("module:function" returning the app) until interrupted."""
    settings = get_settings()
    configure_logging(settings)
    log.info(cpus.describe())
    uvicorn.run(
        app_factory,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # keep configure_logging's handlers
    )
