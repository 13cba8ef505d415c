"""The dependency rules between the three packages, checked in fresh interpreters."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_labels_pulls_in_neither_reportlab_nor_opencv():
    loaded = _modules_after_import("labels")
    heavy = {m for m in loaded if m.split(".")[0] in {"reportlab", "cv2", "numpy", "flask"}}
    assert heavy == set()


def _imported_packages(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_scanner_and_server_never_import_each_other():
    assert "server" not in _imported_packages("scanner")
    assert "scanner" not in _imported_packages("server")
    assert not {"server", "scanner"} & _imported_packages("labels")


# --- server/: feature packages, imports one way ----------------------------------------

DOMAIN = ("server.ingest", "server.reconcile", "server.ledger", "server.importers",
          "server.shipments", "server.photos")
WEB_OR_COMMAND = {"flask", "flask_babel", "click", "werkzeug"}
# Only optional heavy dependencies may be imported inside a function (with a comment why).
LAZY_ALLOWED = ("reportlab", "alembic", "openpyxl", "psycopg", "zipfile", "labels.render",
                "labels.templates", "labels.qr", "labels.cli")


def _server_modules() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / "server").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    return modules


def _imports(path: Path):
    """Yield (node, imported module names, inside a function) for every import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested.update(id(n) for n in ast.walk(fn))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [a.name for a in node.names], id(node) in nested
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            yield node, [node.module] + [f"{node.module}.{a.name}" for a in node.names], \
                id(node) in nested


def _server_graph() -> dict[str, set[str]]:
    modules = _server_modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node, names, _ in _imports(path):
            if isinstance(node, ast.ImportFrom):
                # `from a.b import c`: an edge to a.b.c when c is a module, else to a.b
                subs = [n for n in names[1:] if n in modules]
                targets = subs if subs else [names[0]] if names[0] in modules else []
                if subs and len(subs) < len(names) - 1 and names[0] in modules:
                    targets.append(names[0])
            else:
                targets = [n for n in names if n in modules]
            graph[name].update(t for t in targets if t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_server_modules_import_each_other_one_way_only():
    assert _cycles(_server_graph()) == []


def test_cycle_finder_sees_a_cycle():
    # The check above must be able to fail: a two-module loop is found.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_domain_packages_import_neither_flask_nor_click():
    offenders = []
    for name, path in _server_modules().items():
        if not name.startswith(DOMAIN):
            continue
        for node, names, _ in _imports(path):
            if names[0].split(".")[0] in WEB_OR_COMMAND:
                offenders.append(f"{name}:{node.lineno} imports {names[0]}")
    assert offenders == []


def test_imports_inside_functions_are_only_optional_heavy_ones_with_a_reason():
    offenders = []
    for name, path in _server_modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, names, nested in _imports(path):
            if not nested:
                continue
            why = "#" in lines[node.lineno - 1] or any(
                line.strip().startswith("#") for line in lines[max(0, node.lineno - 6):node.lineno - 1])
            if not names[0].startswith(LAZY_ALLOWED) or not why:
                offenders.append(f"{name}:{node.lineno} imports {names[0]} inside a function")
    assert offenders == []
