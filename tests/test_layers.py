"""The code's shape: one-direction layers between the packages, one top-level name installed, the
environment read in one place, one registry per pluggable thing."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tomllib

from sessionlake.core.settings import REPO_ROOT

# The folders the packages live in (pyproject.toml maps ingest/ and exporters/ under sessionlake).
PACKAGE_DIRS = {"sessionlake": REPO_ROOT / "sessionlake", "sessionlake.ingest": REPO_ROOT / "ingest"}
PACKAGE_DIRS["sessionlake.exporters"] = REPO_ROOT / "exporters"

FOUNDATION = {"core"}
STAGES = {"ingest", "transform", "exporters", "privacy"}
TOOLING = {"stack", "generator", "scaffold", "check"}
APPLICATION = {"app"}
# Which layers each layer may import: the foundation nothing above it, a stage only the foundation, the
# developer tooling the foundation, the stages and itself, the application everything.
ALLOWED = {
    **{p: FOUNDATION for p in FOUNDATION},
    **{p: FOUNDATION for p in STAGES},
    **{p: FOUNDATION | STAGES | TOOLING for p in TOOLING},
    **{p: FOUNDATION | STAGES | TOOLING for p in APPLICATION},
}


def modules() -> dict[str, Path]:
    """Every module of the installed code, by its dotted name."""
    found = {}
    for prefix, root in PACKAGE_DIRS.items():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join((prefix, *parts)).removesuffix(".__init__")
            if prefix == "sessionlake" and parts[0] in ("ingest", "exporters"):
                continue
            found[name] = path
    return found


def imports(path: Path, module: str) -> set[str]:
    """The sessionlake modules a module imports, at top level or inside functions (TYPE_CHECKING too)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names |= {base} | {f"{base}.{a.name}" for a in node.names}
    return {n for n in names if n == "sessionlake" or n.startswith("sessionlake.")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        for target in imports(path, module):
            if target in known or any(k.startswith(target + ".") for k in known):
                source, dest = layer(module), layer(target)
                if source and dest and source != dest:
                    graph[source].add(dest)
    return graph


def test_every_package_is_in_a_layer() -> None:
    packages = {layer(m) for m in modules()} - {None}
    assert packages == FOUNDATION | STAGES | TOOLING | APPLICATION


def violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs against the layers."""
    return sorted((s, d) for s, targets in graph.items() for d in targets if d not in ALLOWED[s])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path (its first node repeated at the end), or None."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*trail, node])):
                return cycle
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_the_packages_import_each_other_in_one_direction() -> None:
    assert violations(package_graph()) == []


def test_the_package_graph_has_no_cycle() -> None:
    assert find_cycle(package_graph()) is None


def test_the_checks_see_a_wrong_import_and_a_cycle() -> None:
    assert violations({"core": {"ingest"}, "ingest": {"core"}}) == [("core", "ingest")]
    assert find_cycle({"ingest": {"core", "privacy"}, "privacy": {"exporters"}, "exporters": {"ingest"}}) == [
        "exporters",
        "ingest",
        "privacy",
        "exporters",
    ]
    assert find_cycle({"app": {"core", "ingest"}, "ingest": {"core"}}) is None
    relative = REPO_ROOT / "ingest" / "readers" / "__init__.py"
    assert "sessionlake.ingest.readers.kafka" in imports(relative, "sessionlake.ingest.readers")


def test_everything_installs_under_one_top_level_name() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    assert {p.split(".")[0] for p in listed} == {"sessionlake"}
    on_disk = {m for m, path in modules().items() if path.name == "__init__.py"}
    assert listed == on_disk, "pyproject.toml [tool.setuptools] packages must list every package folder"
    assert config["package-dir"] == {
        "sessionlake": "sessionlake",
        "sessionlake.ingest": "ingest",
        "sessionlake.exporters": "exporters",
    }


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv", "environ.get"):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) in ("os.environ", "environ")
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    settings_module = REPO_ROOT / "sessionlake" / "core" / "settings.py"
    readers = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in modules().values()
        if path != settings_module and (lines := _environment_reads(path))
    }
    assert readers == {}, f"read the environment outside sessionlake/core/settings.py: {readers}"


def test_reader_kinds_and_search_engines_have_one_registry_each() -> None:
    from sessionlake.exporters.engines import ENGINES
    from sessionlake.ingest.config import KINDS
    from sessionlake.ingest.readers import READERS

    assert set(READERS) == set(KINDS) == {"kafka", "s3-sqs"}
    assert set(ENGINES) == {"elasticsearch", "opensearch"}
    strings = {'"kafka"', '"s3-sqs"', "'kafka'", "'s3-sqs'", '"elasticsearch"', '"opensearch"'}
    registries = {"ingest/config.py", "ingest/readers/kafka.py", "ingest/readers/s3.py", "exporters/engines.py"}
    registries |= {"sessionlake/core/settings.py", "sessionlake/stack/search.py"}  # the default; the stack's build
    compared = []
    for path in modules().values():
        relative = str(path.relative_to(REPO_ROOT))
        if relative in registries:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(ast.unparse(c) in strings for c in node.comparators):
                compared.append(f"{relative}:{node.lineno}")
    assert compared == [], f"kind or engine compared by string outside its registry: {compared}"
