"""The clause map against reality: every clause, test, route, module and function it names exists.

Every named test is also collected by a real pytest run, and must assert
something: a test that checks nothing would prove nothing for its clause.
"""

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.support.apps import TEST_KEY
from webshop import create_app
from webshop.policy_text import CLAUSE_IDS
from webshop.privacy import p3p
from webshop.privacy.practice import PRACTICES, as_json

ROOT = Path(__file__).resolve().parent.parent
ALL_TESTS = sorted({t for p in PRACTICES.values() for t in p.tests})
ALL_CODE = sorted({(ref.path, ref.name) for p in PRACTICES.values() for ref in p.code})


@cache
def parsed(path: str) -> ast.Module:
    return ast.parse((ROOT / path).read_text(), filename=path)


def defined_names(body) -> dict[str, ast.AST]:
    """Top-level functions, classes and assigned names of a module or class body."""
    names = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            names.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def find(path: str, dotted: str) -> ast.AST | None:
    node = parsed(path)
    for part in dotted.split("."):
        node = defined_names(node.body).get(part)
        if node is None:
            return None
    return node


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    """The app as built, for its URL map; no database needed."""
    return create_app(
        {
            "SECRET_KEY": TEST_KEY,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "VISITS_ENABLED": False,
            "RDNS_ENABLED": False,
        },
        instance_path=str(tmp_path_factory.mktemp("instance")),
    )


def test_every_clause_has_an_entry_with_features_code_and_at_least_one_test():
    assert list(PRACTICES) == CLAUSE_IDS
    for clause, practice in PRACTICES.items():
        assert practice.clause == clause
        assert practice.features and practice.code and practice.routes, clause
        assert practice.tests, f"{clause} names no test"


@pytest.mark.parametrize("node_id", ALL_TESTS)
def test_every_named_test_exists(node_id):
    path, *names = node_id.split("::")
    assert path.startswith("tests/") and Path(path).name.startswith("test_"), node_id
    assert (ROOT / path).is_file(), f"{path} does not exist"
    assert 1 <= len(names) <= 2 and names[-1].startswith("test_"), node_id
    node = find(path, ".".join(names))
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)), f"{node_id} is not a test function"


def module_functions(path: str) -> dict[str, ast.AST]:
    return {
        name: node
        for name, node in defined_names(parsed(path).body).items()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def checks_something(path: str, function: ast.AST, seen: frozenset = frozenset()) -> bool:
    """Whether ``function`` asserts: ``assert``, ``pytest.raises``, Playwright's ``expect``, or a helper that does.

    Helpers are followed within the test's own module and into ``tests/`` modules it imports them from.
    """
    helpers = {**imported_helpers(path), **{name: (path, node) for name, node in module_functions(path).items()}}
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "raises":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "expect":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
            where, helper = helpers[node.func.id]
            key = (where, node.func.id)
            if key not in seen and helper is not function and checks_something(where, helper, seen | {key}):
                return True
    return False


@cache
def imported_helpers(path: str) -> dict[str, tuple[str, ast.AST]]:
    """Functions this test module imports from other modules under ``tests/``."""
    found = {}
    for node in parsed(path).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
            source = node.module.replace(".", "/") + ".py"
            if (ROOT / source).is_file():
                functions = module_functions(source)
                for alias in node.names:
                    if alias.name in functions:
                        found[alias.asname or alias.name] = (source, functions[alias.name])
    return found


@pytest.mark.parametrize("node_id", ALL_TESTS)
def test_every_named_test_asserts_something(node_id):
    path, *names = node_id.split("::")
    node = find(path, ".".join(names))
    assert node is not None, f"{node_id} does not exist"
    assert checks_something(path, node), f"{node_id} asserts nothing"


def test_pytest_collects_every_named_test():
    """A real collection run: each name is a test pytest finds and would run, not shadowed or skipped away."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider", *ALL_TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = {line.split("[")[0] for line in result.stdout.splitlines() if "::" in line}
    missing = [node_id for node_id in ALL_TESTS if node_id not in collected]
    assert not missing, f"not collected: {missing}"


@pytest.mark.parametrize(("path", "name"), ALL_CODE, ids=[f"{p}:{n}" for p, n in ALL_CODE])
def test_every_named_module_and_function_exists(path, name):
    assert path.startswith("webshop/") and path.endswith(".py")
    assert (ROOT / path).is_file(), f"{path} does not exist"
    assert find(path, name) is not None, f"{path} defines no {name}"


def test_every_named_route_exists(bare_app):
    rules = {rule.rule for rule in bare_app.url_map.iter_rules()}
    for clause, practice in PRACTICES.items():
        for route in practice.routes:
            assert route in rules, f"{clause}: no route {route}"


def test_the_forms_named_are_exactly_the_registered_forms(bare_app):
    from webshop.submissions import FORM_KINDS

    with bare_app.test_request_context():
        from flask import url_for

        form_urls = {url_for(kind.endpoint) for kind in FORM_KINDS.values()}
    assert set(PRACTICES["where-submitted"].routes) == form_urls
    assert len(form_urls) == 7


def test_practice_json_is_served_as_json_and_mirrors_the_map(client):
    response = client.get("/privacy/practice.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data == as_json()
    assert sorted(data["clauses"]) == sorted(CLAUSE_IDS)
    for clause, entry in data["clauses"].items():
        assert set(entry) == {"anchor", "features", "routes", "modules", "code", "tests"}
        assert entry["anchor"] == f"/privacy#{clause}"
        assert entry["tests"] and all("::" in t for t in entry["tests"])
        assert all((ROOT / m).is_file() for m in entry["modules"])
        assert all(": " in ref for ref in entry["code"])
    assert data["signals"]["gpc"] == "/.well-known/gpc.json"


def test_each_clause_of_the_policy_page_links_its_code_and_tests(client):
    page = client.get("/privacy").get_data(as_text=True)
    for clause, practice in PRACTICES.items():
        section = page[page.index(f'<section id="{clause}"') :]
        section = section[: section.index("</section>")]
        assert "See it in practice" in section
        for ref in practice.code:
            assert f"<code>{ref}</code>" in section
        for test in practice.tests:
            assert f"<code>{test}</code>" in section


def test_p3p_header_is_off_by_default(client):
    assert "P3P" not in client.get("/").headers


@pytest.mark.parametrize("app_config", [{"P3P_COMPACT_POLICY": True}])
def test_p3p_compact_policy_when_switched_on_describes_the_practices(client, app_config):
    header = client.get("/").headers["P3P"]
    assert header == f'CP="{p3p.COMPACT_POLICY}"'
    tokens = header[4:-1].split()
    assert len(tokens) == len(set(tokens)) == len(p3p.TOKENS)
    assert all(why for _, why in p3p.TOKENS)
    # Identified data is collected, so "no identified data" would be untrue; sharing is opt-out.
    assert "NOI" not in tokens and "NID" not in tokens
    assert {"OTRo", "UNRo", "STA", "COM", "NAV", "ONL"} <= set(tokens)


def test_practice_json_lists_the_clauses_in_the_order_of_the_policy(client):
    response = client.get("/privacy/practice.json")
    assert response.mimetype == "application/json"
    assert list(response.get_json()["clauses"]) == CLAUSE_IDS
