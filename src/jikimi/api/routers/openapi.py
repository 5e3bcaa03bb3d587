"""The OpenAPI schema of the JSON API, for signed-in users only (the reference page is `pages.home`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from jikimi.api.deps import Principal, require
from jikimi.api.roles import Perm

router = APIRouter()


@router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi_schema(
    request: Request, principal: Annotated[Principal, Depends(require(Perm.TOKEN_SELF))]
) -> Response:
    """The OpenAPI schema, for signed-in users and API tokens only (the API's shape is not public)."""
    if not request.app.state.settings.docs:
        raise HTTPException(status_code=404)
    return JSONResponse(request.app.openapi())
