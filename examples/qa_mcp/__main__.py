"""python -m examples.qa_mcp [--transport stdio|http] [--host 127.0.0.1] [--port 8301]"""

from __future__ import annotations

import logging

from ..serving import serving_configure_logging, serving_parse_args, serving_run
from .files import data_root, reports_root
from .server import server_build


def main(argv: list[str] | None = None) -> None:
    args = serving_parse_args(prog="qa_mcp", default_port=8301, argv=argv)
    serving_configure_logging(level=args.log_level)
    logging.getLogger("examples.qa_mcp").info(
        "qa_mcp: inputs under %s, reports under %s", data_root(), reports_root()
    )
    serving_run(server=server_build(), args=args, token_env="QA_MCP_TOKEN")


if __name__ == "__main__":
    main()
