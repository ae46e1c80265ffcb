"""Print figures about the code's structure (issue 16): which apps import
which, import cycles between modules, and imports inside functions.

    .venv/bin/python scripts/structure.py

Only production code counts: tests, migrations, scripts and devtools are
left out (devtools is counted apart).
An import inside a function counts like one at the top (a cycle dodged by a
late import is still a cycle).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("penpals", "profiles", "messaging", "moderation")


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            name = ".".join(relative.with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> tuple[set[str], int]:
    """Modules of ours that `path` imports, and how many imports sit in functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    targets: set[str] = set()
    local = 0
    functions = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        ours = [n for n in names if n.split(".")[0] in APPS]
        if not ours:
            continue
        if id(node) in inside:
            local += 1
        for candidate in ours:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets, local


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> None:
    found = modules()
    graph: dict[str, set[str]] = {}
    local_total = 0
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for name, path in found.items():
        targets, local = imports(path, name, set(found))
        graph[name] = targets
        local_total += local
        for target in targets:
            source_app, target_app = name.split(".")[0], target.split(".")[0]
            if source_app != target_app:
                pairs[source_app, target_app] += 1
    components = cycles(graph)
    print(f"apps.directed_pairs {len(pairs)} of {len(APPS) * (len(APPS) - 1)}")
    for (source, target), count in sorted(pairs.items()):
        print(f"  {source} -> {target} ({count} modules)")
    print(f"modules.import_cycles {len(components)} over {sum(map(len, components))} modules")
    for component in components:
        print("  " + ", ".join(component))
    print(f"imports.inside_functions {local_total}")
    production = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in found.values())
    print(f"lines.production_apps {production} (Python, migrations excepted)")
    devtools = sum(
        len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "devtools").rglob("*.py")
    )
    print(f"lines.devtools {devtools} (not in the production image)")


if __name__ == "__main__":
    main()
