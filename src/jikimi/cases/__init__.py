"""Cases: one per enrolled person (created on the first finding) plus the unidentified queue; running scans
into them (``runner.run_scan``), their priority, the review of findings and evidence packages.
"""

from __future__ import annotations

from jikimi.cases.review import confirm_finding, dismiss_finding, reopen_finding
from jikimi.cases.runner import ScanReport, run_scan

__all__ = [
    "ScanReport",
    "confirm_finding",
    "dismiss_finding",
    "reopen_finding",
    "run_scan",
]
