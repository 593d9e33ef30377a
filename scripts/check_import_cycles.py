"""Fail (exit 1) on an import cycle or an import that climbs into the command-line layer.

Reads every module of posebench (methods/ and studies/ as posebench.methods/.studies) with
``ast`` and keeps EVERY import statement wherever it stands: module level, ``try``/``except``/
``else``/``finally``, ``if``/``else``, ``with``, loops, functions, methods and classes, and
``importlib.import_module("...")`` with a literal name. A lazy
import is a dependency all the same (once both modules are loaded either may call the other),
and an import in an ``except`` block runs exactly when something went wrong. The one exception:
imports under ``if TYPE_CHECKING:`` never run and are left out.

Two rules, each finding printed on its own line with the file and line of the import:

* **no cycle**: no module reaches itself through imports (a module importing its own package is
  not a cycle: the package runs first anyway);
* **layers**: the command-line layer (:data:`CLI_LAYER`: ``posebench.entry``, ``posebench.__main__``,
  ``posebench.cli``, ``posebench.commands.*``) sits on top of the library; no library module
  imports it. What library code needs from a command lives in a library module the command
  re-uses.

Prints "no import cycle and no upward import among N modules" and exits 0 when both hold.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"posebench": ROOT / "posebench", "posebench.methods": ROOT / "methods", "posebench.studies": ROOT / "studies"}
#: Modules (and packages, with everything under them) of the command-line layer.
CLI_LAYER = ("posebench.entry", "posebench.__main__", "posebench.cli", "posebench.commands")

#: One edge of the import graph: importer -> imported, where (``file:line``).
Edges = dict[str, dict[str, str]]


def modules(packages: dict[str, Path]) -> dict[str, Path]:
    """Module name -> source file, for every ``*.py`` under each package folder."""
    out = {}
    for pkg, folder in packages.items():
        for p in sorted(folder.rglob("*.py")):
            rel = p.relative_to(folder).with_suffix("")
            parts = [x for x in rel.parts if x != "__init__"]
            out[".".join([pkg, *parts])] = p
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _is_import_module(node: ast.AST) -> bool:
    """``importlib.import_module("a.b")`` (or ``import_module("a.b")``) with a literal name."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or (isinstance(f, ast.Name) and f.id == "import_module")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node in ``tree`` except those under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _is_import_module(node):
            yield node
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                todo.extend(child.orelse)  # the else branch runs
            else:
                todo.append(child)


def imports(name: str, path: Path, known: set[str], where: Path = ROOT) -> dict[str, str]:
    """The known modules that module ``name`` (source ``path``) imports -> ``file:line`` of the
    first such import. Naming ``a.b.c`` depends on ``a.b.c`` and on its packages ``a.b``, ``a``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    try:
        shown = path.relative_to(where)
    except ValueError:
        shown = path
    found: dict[str, int] = {}
    for node in _import_nodes(tree):
        if isinstance(node, ast.Call):
            names = [node.args[0].value]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if node.level:
                parts = base.split(".")
                mod = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod, *(f"{mod}.{a.name}" for a in node.names)]
        for m in names:
            found[m] = min(found.get(m, node.lineno), node.lineno)
    out: dict[str, str] = {}
    for m, line in sorted(found.items(), key=lambda kv: kv[1]):
        while m:
            if m in known and m != name and m not in out:
                out[m] = f"{shown}:{line}"
            m = m.rpartition(".")[0]
    return out


def import_graph(packages: dict[str, Path], where: Path = ROOT) -> Edges:
    mods = modules(packages)
    known = set(mods)
    graph = {m: imports(m, p, known, where) for m, p in mods.items()}
    for m, deps in graph.items():  # importing a submodule runs its package first: not a cycle
        for d in [d for d in deps if m.startswith(d + ".")]:
            del deps[d]
    return graph


def cycles(graph: Edges) -> list[list[str]]:
    """One cycle (first module repeated at the end) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm (the graph has ~100 modules: recursion is fine)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    out = []
    for group in sorted(groups):
        members, start = set(group), group[0]
        paths = {start: [start]}
        todo = [start]
        while todo:  # breadth first: the shortest way back to start inside the group
            v = todo.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    out.append(paths[v] + [start])
                    todo = []
                    break
                if w in members and w not in paths:
                    paths[w] = paths[v] + [w]
                    todo.append(w)
    return out


def in_layer(module: str, layer: tuple[str, ...]) -> bool:
    return any(module == top or module.startswith(top + ".") for top in layer)


def check(packages: dict[str, Path] = PACKAGES, cli_layer: tuple[str, ...] = CLI_LAYER, where: Path = ROOT) -> tuple[list[str], int]:
    """(findings, one line each; number of modules read)."""
    graph = import_graph(packages, where)
    findings = []
    for cyc in cycles(graph):
        steps = [f"{a} -> {b} ({graph[a][b]})" for a, b in zip(cyc, cyc[1:])]
        findings.append("import cycle: " + " -> ".join(cyc) + "; " + ", ".join(steps))
    for m in sorted(graph):
        if in_layer(m, cli_layer):
            continue
        deps = graph[m]
        for d, at in sorted(deps.items()):
            if any(e.startswith(d + ".") and deps[e] == at for e in deps):
                continue  # the same import, said once: by its deepest module
            if in_layer(d, cli_layer):
                findings.append(f"upward import: {m} imports the command-line layer's {d} ({at})")
    return findings, len(graph)


def main() -> int:
    findings, n = check(PACKAGES, CLI_LAYER, ROOT)
    for line in findings:
        print(line)
    if findings:
        return 1
    print(f"no import cycle and no upward import among {n} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
