"""The package's imports point one way: core → features → privacy pages → staff.

A module may import from its own layer or a lower one, never a higher one;
there is no import cycle; and nothing imports inside a function to dodge one
(the factory, ``create_app``, imports its parts inside itself, as flaskr does).
See docs/architecture.md.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webshop"

CORE = {
    "config",
    "db",
    "models",
    "signing",
    "cookies",
    "mail",
    "links",
    "rules",
    "stats",
    "responses",
    "private_files",
    "proof",
    "ledger",
    "policy_text",
    "shorten",
    "receipt_signatures",
    "signing_keys",
    "text",
    "templating",
}
LAYERS = ["core", "features", "privacy", "staff"]


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "factory"
    if parts[0] in ("privacy", "staff"):
        return parts[0]
    return "core" if parts[0] in CORE else "features"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.relative_to(PACKAGE).parts:
            continue
        parts = ("webshop", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def imported(module: str, node) -> list[str]:
    """The webshop modules an import statement in ``module`` reaches."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    reached = []
    for alias in node.names:
        if f"{target}.{alias.name}" in MODULES:
            reached.append(f"{target}.{alias.name}")
        elif target in MODULES:
            reached.append(target)
    return reached


def imports_of(module: str) -> tuple[set[str], list[tuple[str, int]]]:
    """(modules imported at module level, (module, line) imported inside functions)."""
    tree = ast.parse(MODULES[module].read_text())
    top, inner = set(), []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in imported(module, child):
                    if target == module:
                        continue
                    (inner.append((target, child.lineno)) if in_function else top.add(target))
            is_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, in_function or is_function)

    visit(tree, False)
    return top, inner


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    assert {layer_of(m) for m in MODULES} <= {"factory", *LAYERS}
    assert len(MODULES) > 40  # the walk found the package


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "webshop"))
def test_imports_point_down(module):
    rank = LAYERS.index(layer_of(module))
    upward = sorted(
        f"{target} ({layer_of(target)})"
        for target in GRAPH[module][0]
        if target == "webshop" or LAYERS.index(layer_of(target)) > rank
    )
    assert not upward, f"{module} ({layer_of(module)}) imports a higher layer: {', '.join(upward)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "webshop"))
def test_no_import_inside_a_function(module):
    assert not GRAPH[module][1], f"{module} imports inside a function: {GRAPH[module][1]}"


def test_no_import_cycle():
    edges = {module: top for module, (top, _) in GRAPH.items()}
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                connect(target)
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
                cycles.append(sorted(component))

    for module in edges:
        if module not in index:
            connect(module)
    assert not cycles
