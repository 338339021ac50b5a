"""OpenAPI descriptions of the list's ordering and pagination parameters."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from query.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ORDERINGS, RELEVANCE

LIST_PARAMETERS = [
    OpenApiParameter("ordering", OpenApiTypes.STR, enum=[*ORDERINGS, RELEVANCE], default="-executed_at", description=(
        "Sort key; ties are broken by id. Logs without an execution time sort as the smallest value. "
        "`relevance` (with `q` only, page mode): best match first (ticket, category and error count most, then "
        "the final response, the trace, the private note and metadata). With `q`, cursor mode is newest first "
        "only.")),
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "default": 1},
                     description="Page number (>= 1); ignored in cursor mode."),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                   "default": DEFAULT_PAGE_SIZE},
                     description=f"Rows per page, 1-{MAX_PAGE_SIZE} (outside that: 400)."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description=(
        "Cursor mode: pass it empty for the first page, then the previous response's `next_cursor` "
        "(an opaque token issued by the server, valid only with the same `ordering`; anything else is a 400). "
        "No count is computed (`total`/`pages` null); fast at any depth.")),
]

