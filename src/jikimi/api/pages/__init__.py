"""The HTML pages of the web interface, one module per area, beside the JSON API in ``jikimi.api.routers``."""
