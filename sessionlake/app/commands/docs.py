"""`sessionlake docs`: the dbt docs for analysts, every model and column with the lineage from the Kafka and
S3 sources to the search index and BI exposures, generated (the catalog is read from the metastore:
`sessionlake stack up`) and served on http://127.0.0.1:PORT until Ctrl-C. `--no-serve` only generates
(CI, a docs site); `--serve-only` serves what was generated last."""

from __future__ import annotations

import argparse

from sessionlake.core.errors import ConfigurationError, ExitCode
from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("docs", help="generate and serve the dbt docs", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-serve", action="store_true", help="generate only")
    mode.add_argument("--serve-only", action="store_true", help="serve the docs generated last")
    parser.add_argument("--port", type=int, default=8080, help="the docs server's port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on (default 127.0.0.1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.dbt import dbt_project, invoke
    from sessionlake.transform import maintenance

    target = dbt_project(settings).target_path
    if not args.serve_only:
        from sessionlake.core.spark import get_session

        get_session(settings, "sessionlake-docs")  # dbt's `session` target runs on it
        maintenance.generate_docs(settings)
        print(f"generated the dbt docs in {target}")
    if args.no_serve:
        return ExitCode.OK
    if not (target / "catalog.json").exists():
        raise ConfigurationError(f"no generated docs in {target}: run `sessionlake docs` without --serve-only")
    print(f"serving the dbt docs on http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    result = invoke(settings, ["docs", "serve", "--port", str(args.port), "--host", args.host, "--no-browser"])
    return ExitCode.OK if result.success else ExitCode.FAILED
