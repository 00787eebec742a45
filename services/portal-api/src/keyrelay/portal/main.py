"""portal-api entrypoint: settings, then uvicorn serving the app built by create_app."""

from __future__ import annotations

import uvicorn

from keyrelay.common.logging import configure_logging
from keyrelay.portal.app import create_app
from keyrelay.portal.config import PortalSettings


def main() -> None:
    settings = PortalSettings()
    configure_logging("portal", settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.portal_host,
        port=settings.portal_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",  # the C HTTP parser; uvicorn would otherwise pick h11, pure Python
    )


if __name__ == "__main__":
    main()
