"""The JSON API, one router per area: `/api/v1/...` and the HMA-compatible `/m/ /h/ /c/`.

The HTML pages of each area are in `jikimi.api.pages`."""
