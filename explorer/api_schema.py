"""What every API operation may answer besides its own results, in one place.

Every error has one shape, ``{"error": "<a message for a person>"}``: 400 (the request
is invalid), 401 (an unknown API token), 404, 413 (the body is too large), 429 (this
client's rate or share of the queue; with Retry-After) and 503 (the service is full or
its database or broker unreachable; with Retry-After). Any operation may be rate
limited or meet a fault, so each documents 400, 401, 429 and 503; those with a body 413.
"""

from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    error: str


ALWAYS = (400, 401, 429, 503)


def errors(*extra: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys(sorted({*ALWAYS, *extra}), ErrorOut)


def links_to_compilation(*statuses: int) -> dict:
    """OpenAPI links from a response holding a compilation's ``id`` to what reads it."""
    links = {
        "GetCompilation": {
            "operationId": "explorer_api_get_compilation",
            "parameters": {"compilation_id": "$response.body#/id"},
        },
        "GetSarif": {
            "operationId": "explorer_review_api_compilation_sarif",
            "parameters": {"compilation_id": "$response.body#/id"},
        },
        "Rerun": {
            "operationId": "explorer_api_rerun_compilation",
            "parameters": {"compilation_id": "$response.body#/id"},
        },
    }
    return {"responses": {str(status): {"links": links} for status in statuses}}
