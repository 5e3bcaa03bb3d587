"""A python-threatexchange extension: Jikimi's partner feed as a pytx ``SignalExchangeAPI``.

A platform on pytx (its CLI, or HMA, which fetches through pytx exchanges) adds this module as an
extension and configures a collaboration with the centre's URL and its partner token::

    threatexchange config extensions add jikimi.exchange.pytx_ext
    threatexchange config collab edit jikimi my_centre --url https://centre.example --token TOKEN
    threatexchange fetch

It pulls ``GET /api/v1/feed`` page by page from the last checkpoint (a change sequence number). Records are
keyed by entry id; a withdrawn entry arrives as ``None`` and pytx drops it. An entry's hashes arrive under
their python-threatexchange names (``signals``: ``pdq``, ``video_md5`` of videos...), and each is offered to
the signal type of that name the caller supports. Only the standard library and pytx are used here, so that
the module loads wherever pytx does.
"""

# No ``from __future__ import annotations``: pytx reads the config dataclass's field types at runtime.
import json
import os
import time
import typing as t
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.signal_base import SignalType

API_NAME = "jikimi"
TOKEN_ENV = "JIKIMI_FEED_TOKEN"
PAGE_SIZE = 1000


@dataclass
class _JikimiCollabRequired:
    url: str = field(metadata={"help": "the centre's Jikimi server, e.g. https://jikimi.centre.example"})


@dataclass
class JikimiCollabConfig(CollaborationConfigWithDefaults, _JikimiCollabRequired):
    """A subscription to one centre's feed."""

    token: str = field(
        default="",
        metadata={"help": f"a platform partner's API token (else ${TOKEN_ENV})", "metavar": "TOKEN"},
    )
    page_size: int = field(default=PAGE_SIZE, metadata={"help": "entries per request"})


@dataclass
class JikimiCheckpoint(state.FetchCheckpointBase):
    #: The last change sequence number fetched.
    seq: int = 0
    fetched_at: int = 0

    def get_progress_timestamp(self) -> int | None:
        return self.fetched_at or None


@dataclass
class JikimiSignalMetadata(state.FetchedSignalMetadata):
    """A banked entry as a match reports it: the centre's entry id, its bank and labels."""

    entry_id: int
    bank: str
    labels: tuple[str, ...] = ()

    def get_as_opinions(self) -> Sequence[state.SignalOpinion]:
        tags = {self.bank, *self.labels}
        return [state.SignalOpinion(False, state.SignalOpinionCategory.POSITIVE_CLASS, tags)]


@dataclass
class JikimiEntry:
    """One entry of a shared bank, as the feed serves it (the record pytx stores per key)."""

    entry_id: int
    bank: str
    #: ``{python-threatexchange signal type name: hash}``.
    hashes: dict[str, str] = field(default_factory=dict)
    video: bool = False
    labels: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, t.Any]) -> "JikimiEntry":
        return cls(
            entry_id=int(d["id"]),
            bank=str(d["bank"]),
            hashes={str(k): str(v) for k, v in (d.get("signals") or {}).items() if v},
            video=bool(d.get("video")),
            labels=tuple(d.get("labels") or ()),
        )

    def signals(self, signal_types: Sequence[type[SignalType]]) -> list[tuple[type[SignalType], str]]:
        """The entry's hashes for each of ``signal_types`` it has one of (matched by ``get_name()``)."""
        return [(s, self.hashes[s.get_name()]) for s in signal_types if s.get_name() in self.hashes]


_Delta = state.FetchDelta[str, JikimiEntry, JikimiCheckpoint]


class JikimiSignalExchangeAPI(
    SignalExchangeAPI[JikimiCollabConfig, JikimiCheckpoint, JikimiSignalMetadata, str, JikimiEntry]
):
    """Tails a Jikimi centre's feed of the banks shared with the caller's platform."""

    def __init__(self, collab: JikimiCollabConfig, token: str) -> None:
        self.collab = collab
        self.token = token

    @classmethod
    def for_collab(cls, collab: JikimiCollabConfig) -> "JikimiSignalExchangeAPI":
        token = collab.token or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise ValueError(f"no token for {collab.name}: set the collab's token or ${TOKEN_ENV}")
        return cls(collab, token)

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[JikimiCollabConfig]:
        return JikimiCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[JikimiCheckpoint]:
        return JikimiCheckpoint

    @staticmethod
    def get_record_cls() -> type[JikimiSignalMetadata]:
        return JikimiSignalMetadata

    def _get(self, after: int) -> dict[str, t.Any]:
        query = urllib.parse.urlencode({"after": after, "limit": self.collab.page_size})
        req = urllib.request.Request(
            f"{self.collab.url.rstrip('/')}/api/v1/feed?{query}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            body: dict[str, t.Any] = json.load(resp)
        return body

    def fetch_iter(
        self,
        supported_signal_types: Sequence[type[SignalType]],
        checkpoint: JikimiCheckpoint | None,
    ) -> Iterator[_Delta]:
        after = checkpoint.seq if checkpoint is not None else 0
        while True:
            body = self._get(after)
            updates: dict[str, JikimiEntry | None] = {}
            for change in body["changes"]:
                entry = change.get("entry")
                updates[str(change["id"])] = None if entry is None else JikimiEntry.from_json(entry)
            after = int(body["checkpoint"])
            yield _Delta(updates, JikimiCheckpoint(seq=after, fetched_at=int(time.time())))
            if not body.get("more"):
                return

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: Sequence[type[SignalType]],
        collab: JikimiCollabConfig,
        fetched: Mapping[str, JikimiEntry],
    ) -> dict[type[SignalType], dict[str, JikimiSignalMetadata]]:
        out: dict[type[SignalType], dict[str, JikimiSignalMetadata]] = {}
        for entry in fetched.values():
            if entry is None:
                continue
            meta = JikimiSignalMetadata(entry.entry_id, entry.bank, entry.labels)
            for s_type, value in entry.signals(signal_types):
                out.setdefault(s_type, {})[value] = meta
        return out


TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(JikimiSignalExchangeAPI,))
