"""Imports only point downwards: widgets/ -> app/ -> connectors/.

connectors/ must run with no Qt at all, widgets/ must never talk to libvirt itself, and
app/ stays free of QtWidgets (but for the composition root, app/cli.py, which imports
widgets lazily to open the window). Every import statement counts, including ones inside
functions, since a lazy import still ties the layers together.
"""
from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "qasync",
              "pyqtgraph")
LIBVIRT_MODULES = ("libvirt", "libvirt_qemu", "libvirt_lxc", "libvirtaio", "libvirtmod")
COMPOSITION_ROOTS = {"app/cli.py", "app/__main__.py"}


def parse(path: Path) -> ast.Module:
    """ast.parse with the garbage collector held off. CPython 3.11.7 (gh-106905): when a
    collection during the parse finalizes an object whose finalizer formats a traceback
    (3.11 parses source for its ^^^ markers), the nested parse corrupts the AST
    recursion counter and this parse fails with "AST constructor recursion depth
    mismatch", although the file is fine."""
    source = path.read_text(encoding="utf-8")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename=str(path))
    finally:
        if was_enabled:
            gc.enable()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = parse(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def python_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def is_within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def offences(layer: str, forbidden, skip: set[str] = frozenset()) -> list[str]:
    out = []
    for path in python_files(layer):
        rel = path.relative_to(ROOT).as_posix()
        if rel in skip:
            continue
        for line, module in imported_modules(path):
            if forbidden(module):
                out.append(f"{rel}:{line} imports {module}")
    return out


def test_the_layers_exist():
    for layer in ("connectors", "app", "widgets"):
        assert python_files(layer), f"no Python files under {layer}/"


def test_connectors_import_no_qt():
    bad = offences("connectors", lambda m: is_within(m, QT_MODULES)
                   or is_within(m, ("app", "widgets")))
    assert not bad, "connectors/ must not use Qt or the layers above:\n" + "\n".join(bad)


def test_widgets_never_import_libvirt():
    bad = offences("widgets", lambda m: is_within(m, LIBVIRT_MODULES))
    assert not bad, "widgets/ must ask app/ instead of calling libvirt:\n" + "\n".join(bad)


def test_app_uses_no_qtwidgets_outside_the_composition_root():
    bad = offences("app", lambda m: is_within(m, ("PySide6.QtWidgets", "widgets")),
                   skip=COMPOSITION_ROOTS)
    assert not bad, "app/ may use QtCore/QtGui only:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, module", [
    ("import PySide6.QtCore", "PySide6.QtCore"),
    ("from PySide6 import QtWidgets", "PySide6.QtWidgets"),
    ("def f():\n    import libvirt\n", "libvirt"),
    ("__import__('qasync')", "qasync"),
])
def test_the_scanner_sees_every_kind_of_import(tmp_path, source, module):
    path = tmp_path / "sample.py"
    path.write_text(source)
    assert module in [m for _, m in imported_modules(path)]


def test_connectors_import_in_a_python_without_qt():
    """Stronger than reading the source: import every connector module with Qt made
    unimportable, in a fresh interpreter."""
    import subprocess
    import sys

    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                     for p in python_files("connectors") if p.name != "__init__.py")
    code = ("import sys\n"
            f"for name in {QT_MODULES!r}: sys.modules[name] = None\n"
            f"for name in {modules!r}: __import__(name)\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ---- no import cycles --------------------------------------------------------------------

PACKAGES = ("app", "widgets", "connectors", "resources")


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the project: dotted name -> (file, is a package's __init__)."""
    found = {}
    for package in PACKAGES:
        for path in python_files(package):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _runtime_imports(tree: ast.Module):
    """Import statements that run: those under ``if TYPE_CHECKING:`` only tell the type
    checker and cannot make a cycle at run time."""
    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) \
                    and child.test.id == "TYPE_CHECKING":
                yield from (walk_list(child.orelse))
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from walk(child)

    def walk_list(nodes):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            yield from walk(node)
    yield from walk(tree)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        for node in _runtime_imports(parse(path)):
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package[:len(package) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [known(f"{base}.{alias.name}") or known(base)
                           for alias in node.names]
            graph[name].update(t for t in targets if t and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_about():
    """A cycle ties modules so that neither can change or be tested alone (the About box
    once imported the composition root, which imports the whole window). Lazy imports
    inside functions count; ``if TYPE_CHECKING:`` imports do not (they never run)."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
