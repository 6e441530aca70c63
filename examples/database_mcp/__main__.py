"""python -m examples.database_mcp [--transport stdio|http] [--host 127.0.0.1] [--port 8300]"""

from __future__ import annotations

import logging

from ..serving import serving_configure_logging, serving_parse_args, serving_run
from .config import config_load
from .server import server_build
from .trends import Sampler, sample_interval, store_open

logger = logging.getLogger("examples.database_mcp")


def main(argv: list[str] | None = None) -> None:
    args = serving_parse_args(prog="database_mcp", default_port=8300, argv=argv)
    serving_configure_logging(level=args.log_level)
    config = config_load()
    store = store_open()
    if not config.configured:
        logger.warning("database_mcp is not configured: %s", config.problem)
    elif sample_interval() > 0:
        Sampler(config=config, store=store, interval=sample_interval()).start()
    logger.info(
        "database_mcp: %d database(s) usable; samples in %s", len(config.databases), store.location
    )
    serving_run(
        server=server_build(config=config, store=store), args=args, token_env="DATABASE_MCP_TOKEN"
    )


if __name__ == "__main__":
    main()
