"""Pages that belong to no single area: the dashboard, my account, and the API reference."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from jikimi.api.deps import DB, Principal, User, optional_principal, require
from jikimi.api.roles import Perm
from jikimi.api.ui import render

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(
    request: Request, s: DB, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Response:
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if not principal.can(Perm.REPORT_READ):
        target = (
            "/my-case"
            if principal.can(Perm.CASE_OWN)
            else "/notices"
            if principal.can(Perm.NOTICE_OWN)
            else "/account"
        )
        return RedirectResponse(target, status_code=303)
    from jikimi.api import dashboard

    return render(request, "dashboard.html", principal, figures=dashboard.figures(s))


@router.get("/account", include_in_schema=False)
def account(request: Request, principal: User) -> Response:
    return render(request, "account.html", principal)


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = [
                {"name": p.get("name"), "in": p.get("in"), "required": p.get("required", False)}
                for p in op.get("parameters", [])
            ]
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "tag": (op.get("tags") or ["other"])[0],
                    "params": params,
                    "body": "requestBody" in op,
                }
            )
    ops.sort(key=lambda o: (o["tag"], o["path"], o["method"]))
    return ops


@router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi_schema(
    request: Request, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> Response:
    """The OpenAPI schema, for signed-in users and API tokens only (the API's shape is not public)."""
    if not request.app.state.settings.docs:
        raise HTTPException(status_code=404)
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def api_docs(
    request: Request, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> Response:
    return render(request, "api_docs.html", principal, operations=_operations(request.app.openapi()))
