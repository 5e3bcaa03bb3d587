"""The signal exchange feed a platform's pytx or HMA pulls (``jikimi.exchange.pytx_ext`` is the client),
and which banks are shared with which platform.

- ``GET /api/v1/feed?after=SEQ&limit=N`` (partner token) -> ``{"checkpoint", "more", "changes": [{"seq",
  "id", "entry"}]}``: the changes to entries of banks shared with the partner's platform after ``SEQ``, in
  order; ``entry`` is ``null`` for a withdrawal (entry disabled or deleted, bank disabled, unshared or
  deleted). Resume with ``after=checkpoint``; entries added meanwhile come in a later page.
- ``GET /api/v1/banks/{name}/shares``; ``PUT`` / ``DELETE /api/v1/banks/{name}/shares/{platform}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from jikimi.api.deps import DB, Principal, require
from jikimi.api.roles import Perm
from jikimi.errors import ValidationError
from jikimi.store import banks, feed

router = APIRouter(tags=["feed"])
Subscriber = Annotated[Principal, Depends(require(Perm.FEED_READ))]
Reader = Annotated[Principal, Depends(require(Perm.BANK_READ))]
Writer = Annotated[Principal, Depends(require(Perm.BANK_WRITE))]


class FeedChangeOut(BaseModel):
    seq: int
    id: int
    #: ``None``: withdrawn, drop the entry.
    entry: dict[str, Any] | None


class FeedOut(BaseModel):
    checkpoint: int
    more: bool
    changes: list[FeedChangeOut]


class SharesOut(BaseModel):
    bank: str
    platforms: list[str]


@router.get(
    "/api/v1/feed",
    response_model=FeedOut,
    summary="Changes to the banks shared with your platform, after a checkpoint (a signal exchange)",
    responses={422: {}},
)
def get_feed(
    s: DB,
    principal: Subscriber,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 1000,
    platform: str | None = None,
) -> FeedOut:
    # A partner always gets its own platform's feed; an administrator may look at any platform's.
    who = principal.partner if principal.role == "partner" else (platform or principal.partner)
    if not who:
        raise ValidationError(
            "no platform for this feed", code="api.feed_no_platform", hint="use a platform partner's token"
        )
    p = feed.page(s, who, after=after, limit=limit)
    return FeedOut(
        checkpoint=p.checkpoint,
        more=p.more,
        changes=[FeedChangeOut(seq=seq, id=eid, entry=e) for seq, eid, e in p.changes],
    )


@router.get(
    "/api/v1/banks/{name}/shares",
    response_model=SharesOut,
    tags=["banks"],
    summary="Platforms a bank is shared with",
    responses={404: {}},
)
def list_shares(s: DB, name: str, _: Reader) -> SharesOut:
    bank = banks.get_bank(s, name)
    return SharesOut(bank=bank.name, platforms=feed.shares(s, bank))


@router.put(
    "/api/v1/banks/{name}/shares/{platform}",
    response_model=SharesOut,
    tags=["banks"],
    summary="Share a bank with a platform: its partners' feed serves the bank's entries",
    responses={404: {}},
)
def share(s: DB, name: str, platform: str, principal: Writer) -> SharesOut:
    bank = banks.get_bank(s, name)
    feed.share_bank(s, bank, platform, actor=principal.actor)
    return SharesOut(bank=bank.name, platforms=feed.shares(s, bank))


@router.delete(
    "/api/v1/banks/{name}/shares/{platform}",
    response_model=SharesOut,
    tags=["banks"],
    summary="Stop sharing a bank with a platform: its feed withdraws the bank's entries",
    responses={404: {}},
)
def unshare(s: DB, name: str, platform: str, principal: Writer) -> SharesOut:
    bank = banks.get_bank(s, name)
    feed.unshare_bank(s, bank, platform, actor=principal.actor)
    return SharesOut(bank=bank.name, platforms=feed.shares(s, bank))
