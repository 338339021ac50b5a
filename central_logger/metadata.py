"""The answer to `OPTIONS` on API endpoints."""
from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request


class ApiMetadata(SimpleMetadata):
    """DRF's `OPTIONS` answer (name, description, renders, parses, `Allow`) without the per-field
    `actions` listing.

    DRF builds `actions` by instantiating the view's serializer for POST/PUT. Our ingestion
    endpoints read bodies through their own strict parser and validation (there is no input
    serializer), so DRF's default crashed with a 500 on `OPTIONS /api/v1/logs` (found by contract
    fuzzing). The machine-readable description of every input is the OpenAPI schema at
    `/api/schema/`, which this answer points to.
    """

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        metadata = super().determine_metadata(request, view)
        metadata["schema"] = "/api/schema/"
        return metadata

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        return {}
