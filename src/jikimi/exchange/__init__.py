"""Bank exchange formats: python-threatexchange signal files and CSV, StopNCII records, NCMEC entries."""

from jikimi.exchange.formats import EXPORT_FORMATS, FORMATS, ImportReport, RowError, export_bank, import_bank

__all__ = ["EXPORT_FORMATS", "FORMATS", "ImportReport", "RowError", "export_bank", "import_bank"]
