"""Form bodies read strictly: invalid UTF-8 is refused, never silently replaced.

Django decodes form fields with errors="replace", so a byte sequence that is not UTF-8
would reach the compiler altered (U+FFFD) without a word. Pages call
:func:`check_utf8` before reading ``request.POST``.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpRequest

from worker.inputs import InvalidInput


def check_utf8(request: HttpRequest) -> None:
    """Raise InvalidInput when a field of a URL-encoded body is not valid UTF-8."""
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        return
    for pair in request.body.split(b"&"):
        name, _, value = pair.partition(b"=")
        for part in (name, value):
            raw = unquote_to_bytes(part.replace(b"+", b" "))
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                field = unquote_to_bytes(name).decode("utf-8", "replace")[:40]
                raise InvalidInput(
                    f"The form field {field!r} is not valid UTF-8 (bad byte at offset {exc.start}). "
                    "Go source files must be UTF-8 text."
                ) from None
