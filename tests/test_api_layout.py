"""The web layer stays split: JSON endpoints in ``jikimi.api.routers``, HTML pages in ``jikimi.api.pages``,
each module registered in ``ROUTER_MODULES``; and no endpoint commits (``deps.DB``: one transaction per
request)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from jikimi.api.app import API_PREFIXES, ROUTER_MODULES

API = Path(__file__).resolve().parents[1] / "src" / "jikimi" / "api"
ROUTERS = sorted(p for p in (API / "routers").glob("*.py") if p.stem != "__init__")
PAGES = sorted(p for p in (API / "pages").glob("*.py") if p.stem != "__init__")
#: What renders HTML (``jikimi.api.ui``): a JSON router calls none of these.
HTML_RENDERERS = {"render", "confirm_page"}


def _name(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def _routes(path: Path) -> list[APIRoute]:
    module = importlib.import_module(f"jikimi.api.{_name(path)}")
    return [r for r in module.router.routes if isinstance(r, APIRoute)]


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def commits(tree: ast.Module) -> list[int]:
    """The lines that call ``<anything>.commit()``."""
    return [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "commit"
    ]


def renders(tree: ast.Module) -> list[int]:
    """The lines that import an HTML renderer of ``jikimi.api.ui``, or call one (``render(...)``,
    ``ui.render(...)``; ``thumbs.render`` draws a thumbnail, not a page)."""
    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Name) and f.id in HTML_RENDERERS) or (
                isinstance(f, ast.Attribute)
                and f.attr in HTML_RENDERERS
                and isinstance(f.value, ast.Name)
                and f.value.id == "ui"
            ):
                found.append(n.lineno)
        elif (
            isinstance(n, ast.ImportFrom)
            and n.module == "jikimi.api.ui"
            and {a.name for a in n.names} & HTML_RENDERERS
        ):
            found.append(n.lineno)
    return found


def test_the_checks_see_what_they_look_for() -> None:
    tree = ast.parse("from jikimi.api.ui import render\ndef f(s, r):\n    s.commit()\n    return render(r)\n")
    assert commits(tree) == [3]
    assert renders(tree) == [1, 4]
    assert renders(ast.parse("ui.confirm_page(r)\nthumbs.render(data)\n")) == [1]
    assert commits(ast.parse("def f(s):\n    s.rollback()\n")) == []


def test_both_packages_have_modules() -> None:
    assert len(ROUTERS) > 5 and len(PAGES) > 5


@pytest.mark.parametrize("path", ROUTERS + PAGES, ids=_name)
def test_every_module_is_registered(path: Path) -> None:
    assert _name(path) in ROUTER_MODULES, f"add {_name(path)!r} to ROUTER_MODULES in jikimi/api/app.py"


@pytest.mark.parametrize("path", ROUTERS + PAGES, ids=_name)
def test_no_endpoint_commits(path: Path) -> None:
    """The request's session is committed by ``deps.db_session`` when the endpoint returns (or rolled back
    when it raises); the writes that must not share its fate go through ``deps.own_transaction``."""
    lines = commits(_tree(path))
    assert not lines, (
        f"{_name(path)} calls .commit() on lines {lines}: see jikimi.api.deps (one transaction per request)"
    )


@pytest.mark.parametrize("path", ROUTERS, ids=_name)
def test_json_routers_serve_no_pages(path: Path) -> None:
    routes = _routes(path)
    assert routes
    pages = [r.path for r in routes if not r.path.startswith(API_PREFIXES)]
    assert not pages, f"{_name(path)} serves pages {pages}: they go in jikimi.api.pages.{path.stem}"
    lines = renders(_tree(path))
    assert not lines, f"{_name(path)} renders HTML (lines {lines}): pages go in jikimi.api.pages"


@pytest.mark.parametrize("path", PAGES, ids=_name)
def test_pages_serve_no_json_api(path: Path) -> None:
    routes = _routes(path)
    assert routes
    api = [r.path for r in routes if r.path.startswith(API_PREFIXES)]
    assert not api, f"{_name(path)} serves API routes {api}: they go in jikimi.api.routers.{path.stem}"
    listed = [r.path for r in routes if r.include_in_schema]
    assert not listed, f"{_name(path)}: pages are not part of the OpenAPI schema, but {listed} are"
