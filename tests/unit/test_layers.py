"""The one-way import rule (docs/architecture.md), checked on the source: every import, lazy ones inside
functions included, goes down the layers (entry → composition root → transports → domain → stores →
base), and no two packages import each other, however far round the loop."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("backend", "graph", "dashboard")

# lowest first; a module belongs to the longest prefix that names it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "backend.settings",
            "backend.errors",
            "backend.metrics",
            "backend.logs",
            "backend.periodic",
            "backend.failpoints",
        ),
    ),
    ("stores", ("backend.db", "backend.storage", "backend.streams", "backend.park", "graph")),
    ("domain", ("backend.domain", "backend.flow", "backend.batch", "backend.exports", "backend.demo")),
    ("transports", ("backend.api", "backend.grpc", "backend.worker", "dashboard")),
    ("composition root", ("backend.bootstrap",)),
    ("entry", ("backend.cli", "backend.cli_backup", "backend.cli_export", "backend.__main__")),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}
PACKAGE_DEPTH = {"backend": 2, "graph": 1, "dashboard": 1}  # backend.api, backend.db, ...; graph; dashboard


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for source in SOURCES:
        for path in (ROOT / source).rglob("*.py"):
            if "migrations" in path.parts or path.name.endswith("_pb2.py") or path.name.endswith("_pb2_grpc.py"):
                continue
            found[module_name(path)] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """Every module of ours this one imports, at top level or inside a function."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".")[0] in SOURCES}


def layer(module: str) -> str:
    best = ""
    found = ""
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, found = prefix, name
    return found


def package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[: PACKAGE_DEPTH[parts[0]]])


def known(module: str, mods: dict[str, Path]) -> str | None:
    """The module an import names (`from a.b import c` may name module a.b.c or attribute c of a.b)."""
    while module and module not in mods:
        module = module.rsplit(".", 1)[0] if "." in module else ""
    return module or None


def graph_of_imports() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges[name] = {target for m in imports(path, name) if (target := known(m, mods)) and target != name}
    return edges


def test_every_module_has_a_layer_and_every_package_an_init() -> None:
    assert [m for m in modules() if not layer(m) and m not in SOURCES] == []
    bare = [
        str(d.relative_to(ROOT))
        for source in SOURCES
        for d in [ROOT / source, *(ROOT / source).rglob("*")]
        if d.is_dir()
        and d.name not in ("__pycache__", "migrations", "versions", "assets")
        and "migrations" not in d.parts
        and any(d.glob("*.py"))
        and not (d / "__init__.py").exists()
    ]
    assert bare == []  # a package without __init__ hides its imports from this checker


def test_imports_never_go_up_a_layer() -> None:
    upward = [
        f"{src} ({layer(src)}) imports {dst} ({layer(dst)})"
        for src, targets in graph_of_imports().items()
        for dst in sorted(targets)
        if layer(src) and layer(dst) and RANK[layer(dst)] > RANK[layer(src)]
    ]
    assert upward == []


def test_no_packages_import_each_other_even_round_a_loop() -> None:
    deps: dict[str, set[str]] = defaultdict(set)
    for src, targets in graph_of_imports().items():
        for dst in targets:
            if package(src) != package(dst):
                deps[package(src)].add(package(dst))
    cycles = _cycles(deps)
    assert cycles == [], "package cycles: " + "; ".join(" → ".join(c) for c in cycles)


def _cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(deps.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(deps):
        if node not in index:
            visit(node)
    return found


CONSTRUCTORS = {  # what only the composition root may build: engines, graph stores, Redis clients, object stores
    "create_engine",
    "EmbeddedGraphStore",
    "Neo4jGraphStore",
    "LocalObjectStore",
    "S3ObjectStore",
    "EmbeddedRedis",
    "from_url",
    "Redis",
    "StrictRedis",
}


def test_only_the_composition_root_constructs_stores_and_clients() -> None:
    found = []
    for name, path in modules().items():
        if layer(name) == "composition root":  # backend.bootstrap and its adapters module
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if called in CONSTRUCTORS:
                    found.append(f"{name}:{node.lineno} {called}(...)")
    assert found == []


def test_the_checker_sees_an_upward_import_a_lazy_one_and_a_cycle() -> None:
    """The rules above can fail: a store importing the domain inside a function is caught, and so is a
    two-package loop."""
    code = "def f():\n    from backend.domain.ingest import Ingest\n"
    tree_imports = {n.module for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ImportFrom)}
    assert tree_imports == {"backend.domain.ingest"}
    assert RANK[layer("backend.domain.ingest")] > RANK[layer("backend.db.events")]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
