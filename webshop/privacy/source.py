"""Links from each clause to the code and tests that keep it, and a read-only view of those files.

With ``SOURCE_URL`` set (a repository's blob URL, e.g.
``https://git.example.org/shop/blob/main``) every link points there, at the
line of the definition: ``{SOURCE_URL}/{path}#L{line}``. Without it the
shop serves the files itself under ``/privacy/source/<path>``, with line
numbers and anchors. Only the files the clause map names can be served:
the allow-list is the map, so no path a visitor types reaches anything
else.
"""

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, url_for

from .practice import PRACTICES

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

bp = Blueprint("source", __name__, url_prefix="/privacy/source")

CONFIG = {
    # A repository's blob URL: the policy's code links point there, at the line
    # (None: the shop shows the clause map's files itself).
    "SOURCE_URL": None,
}


@dataclass(frozen=True)
class SourceLink:
    """Where a reviewer reads ``name`` in ``path``: its text and its address."""

    text: str
    href: str | None


def mapped_paths() -> frozenset[str]:
    """Every file the clause map names: the modules of its code and the files of its tests."""
    paths = set()
    for practice in PRACTICES.values():
        paths.update(ref.path for ref in practice.code)
        paths.update(test.split("::", 1)[0] for test in practice.tests)
    return frozenset(paths)


@cache
def definitions(path: str) -> dict[str, int]:
    """The line of each function, class and module-level name in ``path``, by dotted name (``Class.method``)."""
    try:
        tree = ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}
    found: dict[str, int] = {}

    def walk(nodes, prefix=""):
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + node.name
                found.setdefault(name, node.lineno)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, name + ".")
            elif not prefix and isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, node.lineno)

    walk(tree.body)
    return found


@cache
def located(path: str, name: str | None) -> tuple[bool, int | None]:
    """Whether ``path`` is there to show, and the line that defines ``name`` in it."""
    if not (PROJECT_ROOT / path).is_file():
        return False, None
    return True, definitions(path).get(name) if name else None


def link(path: str, name: str | None = None) -> str | None:
    """The address of ``name``'s definition in ``path`` (or of the file), or None if it is not there."""
    there, line = located(path, name)
    if not there:
        return None
    base = current_app.config.get("SOURCE_URL")
    if base:
        return f"{base.rstrip('/')}/{path}" + (f"#L{line}" if line else "")
    return url_for("source.show", path=path, _anchor=f"L{line}" if line else None)


def code_link(ref) -> SourceLink:
    return SourceLink(str(ref), link(ref.path, ref.name))


def test_link(node_id: str) -> SourceLink:
    """A pytest node id (``path::Class::test``) as a link to the test's definition."""
    path, _, name = node_id.partition("::")
    return SourceLink(node_id, link(path, name.replace("::", ".") or None))


@bp.get("/<path:path>")
def show(path):
    """One file of the clause map, read-only, each line numbered and anchored as ``#L<n>``."""
    if path not in mapped_paths():
        abort(404)
    try:
        text = (PROJECT_ROOT / path).read_text(encoding="utf-8")
    except OSError:
        abort(404)
    names = {line: name for name, line in definitions(path).items()}
    return render_template("privacy/source.html", path=path, lines=text.splitlines(), names=names)


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals.update(code_link=code_link, test_link=test_link)
