"""The package's structure: import graph, layers, class sizes, and no machine paths.

Every import statement of every module in ``statsmodels_me`` is read with :mod:`ast`, at module
level and inside functions and methods alike (relative imports resolved), and checked against
the rules of the project's guide:

* no import cycle between modules (no strongly connected component of more than one module);
* ``models`` imports nothing from ``postestimation``; ``postestimation`` imports nothing from
  ``results`` or ``models`` (data flows estimator -> results -> postestimation);
* no class over 500 lines, and no class built at run time with ``type(name, bases, dict)``.

Finally no file tracked by git names an absolute path of a build machine (a path under the
work, root, home or tmp directories of a Unix root, or a Windows drive path).
"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "statsmodels_me"
MAX_CLASS_LINES = 500


def _modules():
    """Dotted module name -> source path, for every ``.py`` file of the package."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _imported_names(module, tree, is_package):
    """Every dotted name an import statement of ``module`` names (``from a import b`` gives
    ``a`` and ``a.b``), relative imports resolved against the module's package."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


IMPORTS = {module: _imported_names(module, TREES[module], path.name == "__init__.py")
           for module, path in MODULES.items()}
GRAPH = {module: sorted(n for n in names if n in MODULES and n != module)
         for module, names in IMPORTS.items()}


def _strongly_connected_components(graph):
    """Tarjan's algorithm, iterative (components of more than one node are cycles)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def test_scc_finds_a_planted_cycle():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"]}
    components = sorted(_strongly_connected_components(graph))
    assert ["a", "b", "c"] in components and ["d"] in components


def test_the_import_walk_sees_imports_inside_functions():
    # statsmodels_me.results.base imports its summary module inside MEResults.summary
    assert f"{PACKAGE}.results.summary" in GRAPH[f"{PACKAGE}.results.base"]


def test_relative_imports_are_resolved():
    source = "from ..results import base\nfrom . import estat\n\ndef f():\n    import scipy\n"
    tree = ast.parse(source)
    names = _imported_names(f"{PACKAGE}.postestimation.lrtest", tree, is_package=False)
    assert names == {f"{PACKAGE}.results", f"{PACKAGE}.results.base",
                     f"{PACKAGE}.postestimation", f"{PACKAGE}.postestimation.estat", "scipy"}
    in_package = _imported_names(f"{PACKAGE}.results", ast.parse("from .base import X"),
                                 is_package=True)
    assert in_package == {f"{PACKAGE}.results.base", f"{PACKAGE}.results.base.X"}


def test_no_import_cycles():
    cycles = [c for c in _strongly_connected_components(GRAPH) if len(c) > 1]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _layer_violations(layer, forbidden):
    prefix = f"{PACKAGE}.{layer}"
    bad = []
    for module, names in sorted(IMPORTS.items()):
        if module == prefix or module.startswith(prefix + "."):
            # one line per statement: ``a.b`` for ``from a.b import c`` when a.b is a module
            for name in sorted(n for n in names
                               if n in MODULES or n.rpartition(".")[0] not in MODULES):
                for other in forbidden:
                    target = f"{PACKAGE}.{other}"
                    if name == target or name.startswith(target + "."):
                        bad.append(f"{module} imports {name}")
    return bad


def test_models_do_not_import_postestimation():
    bad = _layer_violations("models", ["postestimation"])
    assert not bad, "\n".join(bad)


def test_postestimation_imports_neither_results_nor_models():
    bad = _layer_violations("postestimation", ["results", "models"])
    assert not bad, "\n".join(bad)


def test_no_class_over_500_lines():
    big = [f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
           for module, tree in TREES.items() for node in ast.walk(tree)
           if isinstance(node, ast.ClassDef)
           and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]
    assert not big, "\n".join(big)


def test_no_class_built_with_type():
    built = [f"{module}:{node.lineno}" for module, tree in TREES.items()
             for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id == "type" and len(node.args) == 3]
    assert not built, "classes built with type(name, bases, dict): " + ", ".join(built)


# a Unix path under /work, /root, /home or /tmp (not inside a URL or a relative path), or a
# Windows drive path (a drive letter, a colon, a separator, a name and a separator)
MACHINE_PATH = re.compile(
    r"(?<![\w.~-])/(?:work|root|home|tmp)/"
    r"|(?<![A-Za-z0-9_])[A-Za-z]:(?:\\\\|\\|/)[\w .-]+(?:\\|/)")


def _tracked_files():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("tests/test_architecture.py needs a git checkout (git ls-files) to know "
                    "the repository's files")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_machine_path_pattern():
    # built from pieces so that this file does not name such a path itself
    slash, back = "/", "\\"
    hits = [f"{slash}work{slash}x", f"see {slash}home{slash}user/data.csv",
            f"'{slash}tmp{slash}run'", f"C:{back}Users{back}me", f"C:{back * 2}Users{back * 2}me",
            f"D:{slash}data{slash}file.csv"]
    misses = ["https://example.org/home/page", "../work/notes", "name:\\s*(.+)",
              "|| id:\"`` or", "workloads/", f"a{slash}tmp{slash}b"]
    assert all(MACHINE_PATH.search(text) for text in hits)
    assert not any(MACHINE_PATH.search(text) for text in misses)


def test_no_machine_paths_in_tracked_files():
    found = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "absolute machine paths:\n" + "\n".join(found)
