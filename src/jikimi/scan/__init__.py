"""The scan pipeline: decode each item once, run every registered signal in worker processes (local pool or
Ray), then match and decide findings in the parent (``decide``). Persistence is the caller's
(``jikimi.cases``)."""

from __future__ import annotations

from jikimi.scan.decide import Decision, Thresholds, decide
from jikimi.scan.executors import InlineExecutor, LocalExecutor, RayExecutor, default_workers, make_executor
from jikimi.scan.pipeline import Analyser, Analysis, Task, analyse_items

__all__ = [
    "Analyser",
    "Analysis",
    "Decision",
    "InlineExecutor",
    "LocalExecutor",
    "RayExecutor",
    "Task",
    "Thresholds",
    "analyse_items",
    "decide",
    "default_workers",
    "make_executor",
]
