"""Read and write xapi's database file (state.db) so a real pool's dump can be served.

The format, as xapi's db_xml writes it::

    <database><manifest><pair key="schema_major_vsn" value="5"/>...</manifest>
    <table name="VM"><row ref="OpaqueRef:..." __ctime="1" __mtime="9" uuid="..."
        name__label="web%.server" other_config="(('k' 'v'))" .../></table></database>

A namespaced field is spelled with ``__`` (``name__label`` is the API's name_label), every
value is a string, sets and maps are S-expressions (sexpr.py), and whitespace inside a
value is "space protected" (sexpr.protect). Values are typed with schema.py on reading;
a field or table the schema does not know is kept as the string it was, under its own
spelling, so load -> write -> load gives back the same database."""
from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import quoteattr

from . import schema, sexpr

# API fields xapi keeps in a namespace (name.label is stored as name__label).
_NAMESPACED = {
    "name_label", "name_description", "memory_target", "memory_static_max",
    "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
    "VCPUs_params", "VCPUs_max", "VCPUs_at_startup", "VCPUs_number",
    "VCPUs_utilisation", "VCPUs_CPU", "VCPUs_flags", "actions_after_shutdown",
    "actions_after_reboot", "actions_after_crash", "PV_bootloader", "PV_kernel",
    "PV_ramdisk", "PV_args", "PV_bootloader_args", "PV_legacy_args", "HVM_boot_policy",
    "HVM_boot_params", "HVM_shadow_multiplier", "API_version_major", "API_version_minor",
    "API_version_vendor", "memory_total", "memory_free", "memory_actual",
    "qos_algorithm_type", "qos_algorithm_params", "qos_supported_algorithms",
}
# Tables xapi keeps in memory only (its schema marks them not persistent).
TRANSIENT = {"session", "task", "message"}
SCHEMA_VERSION = ("5", "786")


class StateDbError(ValueError):
    """The file is not a database xapi would have written."""


@dataclass
class Database:
    """Tables of records by class and reference, plus what the file said about itself."""

    tables: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    manifest: dict[str, str] = field(default_factory=dict)
    # Per class, API field name -> the spelling a loaded file used (for fields we do not know).
    spellings: dict[str, dict[str, str]] = field(default_factory=dict)


def db_name(cls: str, api_name: str, spellings: dict[str, dict[str, str]]) -> str:
    known = spellings.get(cls, {}).get(api_name)
    if known is not None:
        return known
    return _spelt(api_name)


@functools.lru_cache(maxsize=4096)
def _spelt(api_name: str) -> str:
    return api_name.replace("_", "__", 1) if api_name in _NAMESPACED else api_name


def parse_value(kind: str | None, raw: str) -> object:
    """A state.db string as the typed value its schema type says."""
    if kind is None or kind in ("string", "ref", "enum"):
        return raw
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        if raw not in ("true", "false"):
            raise StateDbError(f"not a bool: {raw!r}")
        return raw == "true"
    if kind == "datetime":
        return schema.DateTime(raw)
    if kind == "set":
        return sexpr.load_set(raw)
    if kind == "map":
        return sexpr.load_map(raw)
    raise StateDbError(f"unknown type {kind}")


def format_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return sexpr.dump_set([str(v) for v in value])
    if isinstance(value, dict):
        return sexpr.dump_map({str(k): str(v) for k, v in value.items()})
    return str(value)


def load(path: str | os.PathLike[str]) -> Database:
    """Read a state.db file (any size: it is streamed)."""
    db = Database()
    table: dict[str, dict[str, object]] | None = None
    cls = ""
    try:
        for event, elem in ET.iterparse(str(path), events=("start", "end")):
            if event == "start" and elem.tag == "table":
                name = elem.get("name")
                if not name:
                    raise StateDbError("a table without a name")
                cls = schema.canonical_class(name) or name
                table = db.tables.setdefault(cls, {})
            elif event == "end" and elem.tag == "row":
                if table is None:
                    raise StateDbError("a row outside a table")
                ref = elem.get("ref")
                if not ref:
                    raise StateDbError(f"a {cls} row without a ref")
                table[ref] = _read_row(db, cls, elem.attrib)
                elem.clear()
            elif event == "end" and elem.tag == "pair":
                db.manifest[elem.get("key", "")] = elem.get("value", "")
            elif event == "end" and elem.tag == "table":
                table = None
            elif event == "start" and elem.tag not in ("database", "manifest", "table",
                                                       "row", "pair"):
                raise StateDbError(f"unexpected tag <{elem.tag}>")
    except ET.ParseError as err:
        raise StateDbError(f"{path}: {err}") from err
    except (ValueError, sexpr.SExprError) as err:
        raise StateDbError(f"{path}: {cls}: {err}") from err
    finally:
        _READING.pop(id(db), None)
    if "schema_major_vsn" not in db.manifest:
        raise StateDbError(f"{path}: no manifest (schema_major_vsn)")
    return db


def _read_row(db: Database, cls: str, attrs: dict[str, str]) -> dict[str, object]:
    names = _reading_names(db, cls)
    row: dict[str, object] = {}
    for key, raw in attrs.items():
        known = names.get(key)
        if known is None:
            known = names[key] = _name_of(db, cls, key)
        api, kind = known
        if api == "ref":
            continue
        if "%" in raw:
            raw = sexpr.unprotect(raw)
        row[api] = raw if kind is None else parse_value(kind, raw)
    return row


_READING: dict[int, dict[str, dict[str, tuple[str, str | None]]]] = {}


def _reading_names(db: Database, cls: str) -> dict[str, tuple[str, str | None]]:
    return _READING.setdefault(id(db), {}).setdefault(cls, {})


def _name_of(db: Database, cls: str, key: str) -> tuple[str, str | None]:
    """A state.db attribute as (API field name, schema type or None); remembers a spelling
    that the API name would not give back (a namespaced field we do not know)."""
    if key == "ref":
        return "ref", None
    api = key.replace("__", "_") if not key.startswith("_") else key
    if db_name(cls, api, {}) != key:
        db.spellings.setdefault(cls, {})[api] = key
    kind = schema.TYPES.get(cls, {}).get(api)
    return api, None if kind in (None, "string", "ref", "enum") else kind


# Space protection and XML attribute escaping in one pass (their characters differ).
_ATTRIBUTE = str.maketrans({" ": "%.", "\t": "%t", "\n": "%n", "\r": "%r", "%": "%%",
                            "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def render_row(db: Database, cls: str, ref: str, row: dict[str, object]) -> str:
    """One <row .../> exactly as dump writes it."""
    names = db.spellings.get(cls, {})
    parts = [f'<row ref="{ref.translate(_ATTRIBUTE)}"']
    for api, value in row.items():
        key = names.get(api) or _spelt(api)
        text = value if isinstance(value, str) else format_value(value)
        parts.append(f' {key}="{sexpr.xml_safe(text).translate(_ATTRIBUTE)}"')
    parts.append("/>")
    return "".join(parts)


def dump(db: Database, path: str | os.PathLike[str],
         render: Callable[[str, str, dict[str, object]], str] | None = None) -> None:
    """Write the database as xapi does, atomically (a crash leaves the old file).
    ``render(cls, ref, row)`` may give a row's text from a cache."""
    draw = render or (lambda cls, ref, row: render_row(db, cls, ref, row))
    tmp = Path(f"{path}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<database><manifest>')
        manifest = {"schema_major_vsn": SCHEMA_VERSION[0],
                    "schema_minor_vsn": SCHEMA_VERSION[1], "generation_count": "0"}
        manifest.update(db.manifest)
        for key, value in manifest.items():
            out.write(f"<pair key={quoteattr(key)} value={quoteattr(value)}/>")
        out.write("</manifest>")
        for cls, rows in db.tables.items():
            if cls in TRANSIENT:
                continue
            out.write(f"<table name={quoteattr(cls)}>")
            out.write("".join(draw(cls, ref, row) for ref, row in rows.items()))
            out.write("</table>")
        out.write("</database>\n")
    os.replace(tmp, path)
