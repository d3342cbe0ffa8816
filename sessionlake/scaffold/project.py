"""What `sessionlake add-source` changes in a project checkout: a plan of file changes, shown as a diff and
applied all or nothing. A new source's files are never written over; an existing source's schema change
is proposed as edits to its files, following the schema-drift rules (docs/ingest.md, "Schema drift")."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sessionlake.core.errors import ConfigurationError, InputError
from sessionlake.scaffold import render
from sessionlake.scaffold.pii import PiiCandidate, pii_candidates
from sessionlake.scaffold.render import SourceSpec
from sessionlake.scaffold.sample import Field, Sample, spark_type

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(ConfigurationError):
    """The scaffold refuses: a name is invalid, a file exists, the project is not where it was expected."""


@dataclass(frozen=True)
class Change:
    path: str  # relative to the project
    before: str | None  # None: a new file
    after: str


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    pii: tuple[PiiCandidate, ...] = ()
    notes: tuple[str, ...] = ()

    def diff(self) -> str:
        out = []
        for change in self.changes:
            before = (change.before or "").splitlines(keepends=True)
            fromfile = "/dev/null" if change.before is None else f"a/{change.path}"
            out += difflib.unified_diff(before, change.after.splitlines(keepends=True), fromfile, f"b/{change.path}")
        return "".join(out)

    def apply(self, root: Path) -> list[str]:
        """Write every change, or none: new files must not exist, edited ones must be as planned."""
        for change in self.changes:
            path = root / change.path
            if change.before is None and path.exists():
                raise ScaffoldError(f"{change.path} exists: add-source never overwrites a file")
            if change.before is not None and path.read_text() != change.before:
                raise ScaffoldError(f"{change.path} changed since the plan was made: run add-source again")
        for change in self.changes:
            path = root / change.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(change.after)
        return [c.path for c in self.changes]


def _check_project(root: Path) -> None:
    missing = [p for p in ("dbt_project.yml", "ingest/sources", "models/staging") if not (root / p).exists()]
    if missing:
        raise ScaffoldError(f"{root} is not a sessionlake project checkout (no {', '.join(missing)})")


def new_source(root: Path, spec: SourceSpec) -> Plan:
    """Every file a new source needs; refuses up front when any of them exists."""
    _check_project(root)
    for name, value in (("source name", spec.name), ("service", spec.service)):
        if not NAME.match(value):
            raise ScaffoldError(f"{name} {value!r}: expected lower_snake_case (a-z, 0-9, _)")
    for required in ("event_id", "session_id"):
        if spec.sample.get(required) is None:
            raise InputError(
                f"the sample has no `{required}` field: every event needs an `event_id` (silver deduplicates on it)"
                " and a `session_id` (gold groups by it)"
            )
    staging = f"models/staging/{spec.service}"
    files = {
        f"ingest/sources/{spec.name}.yml": render.source_yaml(spec),
        f"{staging}/_{spec.service}__sources.yml": render.dbt_sources_yaml(spec),
        f"{staging}/_{spec.service}__models.yml": render.dbt_models_yaml(spec),
        f"{staging}/{spec.staging_model}.sql": render.staging_sql(spec),
    }
    if spec.session_metrics:
        files[f"models/intermediate/{spec.intermediate_model}.sql"] = render.intermediate_sql(spec)
        files[f"models/intermediate/_int_{spec.service}__models.yml"] = render.intermediate_yaml(spec)
    taken = [path for path in files if (root / path).exists()]
    if taken:
        raise ScaffoldError(f"add-source never overwrites a file; these exist: {', '.join(taken)}")
    changes = [Change(path, None, text) for path, text in files.items()]
    if spec.session_metrics:
        project = (root / "dbt_project.yml").read_text()
        changes.append(Change("dbt_project.yml", project, register_session_metrics(project, spec)))
        marts = (root / GOLD_YAML).read_text()
        changes.append(Change(GOLD_YAML, marts, add_gold_columns(marts, spec)))
    return Plan(changes=tuple(changes), pii=spec.pii)


GOLD_YAML = "models/marts/_marts__models.yml"


def add_gold_columns(text: str, spec: SourceSpec) -> str:
    """The sessions contract with the aggregate's new columns (before `updated_at`, gold's last column)."""
    sessions = next((m for m in (yaml.safe_load(text) or {}).get("models", []) if m["name"] == "sessions"), None)
    if sessions is None:
        raise ScaffoldError(f"{GOLD_YAML}: no `sessions` model to add the aggregate's columns to")
    existing = {c["name"] for c in sessions.get("columns", [])}
    new = [c for c in render.metric_columns(spec) if c.name not in existing]
    if not new:
        return text
    lines = []
    for column in new:
        lines += [f"      - name: {column.name}", f"        description: {render.quote(column.description)}",
                  f"        data_type: {column.data_type}"]  # fmt: skip
    return _insert_before(text, r"^      - name: updated_at\s*$", lines, GOLD_YAML)


def register_session_metrics(project: str, spec: SourceSpec) -> str:
    """dbt_project.yml with the service's aggregate appended to vars.session_metrics (comments kept)."""
    lines = project.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s+session_metrics:\s*$", line)), None)
    if start is None:
        raise ScaffoldError("dbt_project.yml: no vars.session_metrics list to register the aggregate in")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    item = " " * (indent + 2)
    entry = [f"{item}- model: {spec.intermediate_model}\n", f"{item}  silver: {spec.staging_model}\n"]
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    updated = "".join(lines[:end] + entry + lines[end:])
    registered = yaml.safe_load(updated)["vars"]["session_metrics"]
    if registered[-1] != {"model": spec.intermediate_model, "silver": spec.staging_model}:
        raise ScaffoldError("dbt_project.yml: could not append to vars.session_metrics; add the entry by hand")
    if any(e.get("model") == spec.intermediate_model for e in registered[:-1]):
        raise ScaffoldError(f"dbt_project.yml: {spec.intermediate_model} is registered already")
    return updated


# --- an existing source: new fields proposed as a diff ------------------------------------------------


def _ddl_columns(ddl: str) -> dict[str, str]:
    """Column name -> type text of a Spark DDL schema (top-level commas only)."""
    columns, depth, current = {}, 0, ""
    for char in ddl + ",":
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            name, _, kind = current.strip().partition(" ")
            if name:
                columns[name.strip("`")] = kind.strip().lower()
            current = ""
        else:
            current += char
    return columns


def _insert_before(text: str, pattern: str, new_lines: list[str], path: str) -> str:
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if re.match(pattern, line)), None)
    if at is None:
        raise ScaffoldError(f"{path}: cannot find where new columns go (a line like {pattern!r}); edit it by hand")
    return "".join(lines[:at] + [line + "\n" for line in new_lines] + lines[at:])


def _declared_pii(root: Path, table: str) -> list[dict[str, Any]]:
    """The `meta: {pii: ...}` declarations of the bronze table's dbt source columns (their pseudonymous
    columns are taken in its staging model)."""
    found = []
    for path in (root / "models" / "staging").glob("*/_*__sources.yml"):
        for dbt_source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            for declared in dbt_source.get("tables", []):
                if declared.get("name") == table:
                    metas = [c.get("meta") or {} for c in declared.get("columns", [])]
                    found += [meta["pii"] for meta in metas if "pii" in meta]
    return found


def _find_dbt_source(root: Path, table: str) -> tuple[Path, str] | None:
    """The staging folder and dbt source name whose sources YAML declares the bronze table."""
    for path in sorted((root / "models" / "staging").glob("*/_*__sources.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for source in doc.get("sources", []):
            if any(t.get("name") == table for t in source.get("tables", [])):
                return path.parent, source["name"]
    return None


def schema_change(root: Path, name: str, sample: Sample, sample_name: str) -> Plan:
    """New sample fields of an existing source as edits to its ingest YAML, dbt source, staging model and its
    docs. A field whose type changed is reported, not changed: ingest refuses a column type change."""
    _check_project(root)
    source_path = f"ingest/sources/{name}.yml"
    source_text = (root / source_path).read_text()
    source = yaml.safe_load(source_text) or {}
    schema = source.get("schema")
    if isinstance(schema, dict):
        existing = {k: spark_type(v) for k, v in schema.get("properties", {}).items()}
    elif isinstance(schema, str):
        existing = _ddl_columns(schema)
    else:
        raise ScaffoldError(f"{source_path}: schema: expected a JSON schema mapping or a Spark DDL string")
    notes = []
    for entry in sample.fields:
        if entry.name in existing and spark_type(entry.schema) != existing[entry.name] and entry.present:
            notes.append(
                f"{entry.name}: the sample has {spark_type(entry.schema)}, the source declares {existing[entry.name]};"
                ' a column\'s type cannot change (docs/ingest.md, "Schema drift"): a new field name is the way'
            )
    new_fields = [f for f in sample.fields if f.name not in existing]
    if not new_fields:
        return Plan(changes=(), notes=tuple(notes))
    targets = [t["table"] for t in source.get("targets", []) if isinstance(t, dict) and "table" in t]
    taken = set(existing) | {m.get("as", "") for table in targets or [name] for m in _declared_pii(root, table)}
    clashes = [f.name for f in new_fields if f.name.lower() in {e.lower() for e in existing}]
    if clashes:
        raise ScaffoldError(f"{source_path}: sample fields {', '.join(clashes)} differ from declared ones only in case")
    candidates = tuple(pii_candidates(new_fields, taken))
    tables = [t["table"] for t in source.get("targets", []) if isinstance(t, dict) and "table" in t]
    table = tables[0] if tables else name
    found = _find_dbt_source(root, table)
    service = found[1] if found else name
    spec = SourceSpec(name=table, service=service, kind=source["kind"], sample=sample,
                      sample_name=sample_name, pii=candidates)  # fmt: skip
    changes = [Change(source_path, source_text, _with_new_properties(source_text, schema, new_fields, candidates))]
    if found is None:
        notes.append(f"no dbt source declares bronze table {table}: only {source_path} is changed")
        return Plan(changes=tuple(changes), pii=candidates, notes=tuple(notes))
    folder = found[0]
    rel = folder.relative_to(root).as_posix()
    sources_path = next(folder.glob("_*__sources.yml"))
    metadata = rf"^\s+- name: {spec.template.version_column}\s*$"
    sources_text = sources_path.read_text()
    metadata = rf"^\s+- name: {spec.template.version_column}\s*$"
    edited = _insert_before(sources_text, metadata, render.source_columns(spec, new_fields), sources_path.name)
    changes.append(Change(f"{rel}/{sources_path.name}", sources_text, edited))
    model = folder / f"stg_{service}__{table}.sql"
    models_path = next(iter(folder.glob("_*__models.yml")), None)
    if not model.exists():
        notes.append(f"no staging model {model.name} in {rel}: select the new columns in the model that reads {table}")
        return Plan(changes=tuple(changes), pii=candidates, notes=tuple(notes))
    sql = model.read_text()
    edited = _insert_before(sql, r"^\s+_ingested_at,\s*$", render.staging_select(spec, new_fields), model.name)
    changes.append(Change(f"{rel}/{model.name}", sql, edited))
    if models_path is not None:
        text = models_path.read_text()
        columns = render.model_columns(spec, new_fields)
        edited = _insert_before(text, r"^\s+- name: _ingested_at\s*$", columns, models_path.name)
        changes.append(Change(f"{rel}/{models_path.name}", text, edited))
    return Plan(changes=tuple(changes), pii=candidates, notes=tuple(notes))


def _with_new_properties(text: str, schema: Any, fields: list[Field], pii: tuple[PiiCandidate, ...]) -> str:
    lines = text.splitlines(keepends=True)
    if isinstance(schema, dict):
        props = next((i for i, line in enumerate(lines) if re.match(r"^\s+properties:\s*$", line)), None)
        if props is None:
            raise ScaffoldError("schema.properties is not a block mapping: add the new fields by hand")
        indent = len(lines[props]) - len(lines[props].lstrip()) + 2
        end = props + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent):
            end += 1
        added = [f"{' ' * indent}{render.quote(f.name)}: {render.flow(f.schema)}\n" for f in fields]
        lines[end:end] = added
    else:
        start = next(i for i, line in enumerate(lines) if line.startswith("schema:"))
        end = start + 1
        while end < len(lines) and lines[end].startswith((" ", "\t")):
            end += 1
        last = lines[end - 1].rstrip("\n")
        addition = ", ".join(f"{render.sql_name(f.name)} {spark_type(f.schema)}" for f in fields)
        closing = last[-1] if end - 1 == start and last[-1:] in ("'", '"') else ""  # schema: "a int, b string"
        lines[end - 1] = f"{last[: len(last) - len(closing)]}, {addition}{closing}\n"
    updated = "".join(lines)
    if pii:
        names = [c.field for c in pii]
        data = yaml.safe_load(updated)
        listed = list(data.get("pii") or [])
        if "pii" in data:
            updated = re.sub(r"(?m)^pii: \[(.*)\]$", lambda m: f"pii: [{', '.join(listed + names)}]", updated)
        else:
            updated += f"pii: [{', '.join(names)}]  # PII candidates: confirm (docs/pii.md)\n"
    return updated
