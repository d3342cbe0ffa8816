"""`sessionlake check`: the pull-request checks, in seconds and without the stack: ruff, every source YAML
(and its PII declarations against the dbt sources), `dbt parse`, raw PII in models, sqlfluff over the
models. `--changed` looks only at the files changed against a git ref (default: origin/main, else main),
and at every model that reads a source when a source's YAML changed; dbt parses the whole project either
way. Exit 1 when anything is wrong, each problem on a line naming its file and line."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from sessionlake.core.errors import ConfigurationError, ExitCode
from sessionlake.core.settings import REPO_ROOT, Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="the pull-request checks, without the stack", description=__doc__)
    parser.add_argument(
        "--changed", nargs="?", const="", metavar="REF", help="only files changed against REF (and uncommitted ones)"
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def changed_files(root: Path, ref: str) -> frozenset[str]:
    """Files changed against `ref` (its merge base with HEAD), committed or not, and untracked ones."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        if done.returncode:
            raise ConfigurationError(f"--changed: git {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    if not ref:
        known = git("for-each-ref", "--format=%(refname)", "refs/remotes/origin/main", "refs/heads/main").split()
        preferred = [r for r in ("refs/remotes/origin/main", "refs/heads/main") if r in known]
        if not preferred:
            raise ConfigurationError("--changed: no origin/main or main to compare with; name a ref")
        ref = preferred[0]
    base = git("merge-base", ref, "HEAD").strip()
    files = git("diff", "-z", "--name-only", base) + git("ls-files", "-z", "--others", "--exclude-standard")
    return frozenset(f for f in files.split("\0") if f)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.check import Scope, StepResult, default_steps, run_steps

    root: Path = args.project_dir
    changed = None if args.changed is None else changed_files(root, args.changed)
    scope = Scope(root=root, work_dir=settings.home / "check", changed=changed)

    def progress(result: StepResult) -> None:
        state = "ok" if not result.problems else f"{len(result.problems)} problem(s)"
        print(f"{result.name:<28} {state:<14} {result.seconds:5.1f}s", flush=True)
        for problem in result.problems:
            print(f"  {problem}", flush=True)

    if changed is not None:
        print(f"checking {len(changed)} changed file(s)")
    results = run_steps(default_steps(), scope, progress)
    total = sum(len(r.problems) for r in results)
    print(
        f"{'check':<28} {'passed' if not total else f'{total} problem(s)':<14} {sum(r.seconds for r in results):5.1f}s"
    )
    return ExitCode.FAILED if total else ExitCode.OK
