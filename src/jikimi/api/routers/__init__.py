"""One router per area of the API and the pages."""
