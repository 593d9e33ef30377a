"""Fail if the package has an import cycle among module-level imports.

Reads every module of posebench (methods/ and studies/ as posebench.methods/.studies) with
``ast``, keeps the imports executed at import time (module level, not inside functions or
``if TYPE_CHECKING``; with ``--strict`` also those inside functions and classes), and looks for a cycle with a depth-first search. Prints the cycle or
"no import cycle among N modules".
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"posebench": ROOT / "posebench", "posebench.methods": ROOT / "methods", "posebench.studies": ROOT / "studies"}


def modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in PACKAGES.items():
        for p in folder.rglob("*.py"):
            rel = p.relative_to(folder).with_suffix("")
            parts = [x for x in rel.parts if x != "__init__"]
            out[".".join([pkg, *parts])] = p
    return out


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


STRICT = "--strict" in sys.argv  # also count imports inside functions (lazy imports)


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif STRICT and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.With, ast.For)):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = base.split(".")
                    mod = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in node.names)

    visit(tree.body)
    out = set()
    for m in found:  # a module depends on the modules it names, and on their packages
        while m:
            if m in known and m != name:
                out.add(m)
            m = m.rpartition(".")[0]
    return out


def main() -> int:
    mods = modules()
    graph = {m: imports(m, p, set(mods)) for m, p in mods.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if m.startswith(d + "."):
                continue  # importing a submodule runs its package first: not a cycle
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                cyc = dfs(d)
                if cyc:
                    return cyc
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            cyc = dfs(m)
            if cyc:
                print("import cycle: " + " -> ".join(cyc))
                return 1
    print(f"no import cycle among {len(graph)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
