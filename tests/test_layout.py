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
