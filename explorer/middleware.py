"""Everything every request goes through, outermost first:

RequestLogMiddleware            a request id, and one structured log line per request
ServiceFaultMiddleware          a database or broker fault is a 503 with Retry-After (JSON
                                under /api/, a page elsewhere), never a 500; a body over
                                the limit is a 413; an unknown token a 401
ContentSecurityPolicyMiddleware the CSP of every page (scripts and styles from our origin only)
BodySizeMiddleware              a declared body over the limit is refused before it is read
RateLimitMiddleware             per-client request rates (explorer/ratelimit.py): 429 with
                                Retry-After, JSON under /api/, a friendly page or fragment elsewhere
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DataError, IntegrityError, ProgrammingError
from django.db.utils import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from . import ratelimit
from .clients import UnknownToken, client_of

log = logging.getLogger("explorer.request")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ]
)
EXEMPT = ("/static/", "/healthz", "/favicon.ico")
# POSTs that create work (a compile, a format, an SSA dump, a re-run) and how many each counts.
SUBMIT_COST = {re.compile(r"^/compare$"): 2}


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(request: HttpRequest, status: int, message: str, retry_after: int | None = None) -> HttpResponse:
    """The one error shape: ``{"error": …}`` under /api/, a page (or htmx fragment) elsewhere."""
    if wants_json(request):
        response: HttpResponse = JsonResponse({"error": message}, status=status)
    elif request.headers.get("HX-Request") == "true":
        html = render_to_string(
            "partials/result.html", {"compilation": None, "view": None, "error": message, "busy": True}, request
        )
        response = HttpResponse(html, status=status)
    else:
        context = {"status": status, "message": message, "retry_after": retry_after}
        html = render_to_string("refused.html", context, request)
        response = HttpResponse(html, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        if not request.path.startswith("/static/"):
            client = getattr(request, "_explorer_client", None)
            log.info(
                "%s %s %s",
                request.method,
                request.path[:200],
                response.status_code,
                extra={
                    "request_id": request.request_id,
                    "method": request.method,
                    "path": request.path[:200],
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client.id if client else "",
                },
            )
        return response


class ServiceFaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            wants_json(request)
            and response.status_code in (404, 405)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            # the framework's own plain answers (a wrong method, an unknown path): the API's one shape
            message = "No such endpoint." if response.status_code == 404 else f"{request.method} is not allowed here."
            allow = response.get("Allow")
            response = JsonResponse({"error": message}, status=response.status_code)
            if allow:
                response["Allow"] = allow
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return fault_response(request, exc)


def fault_response(request: HttpRequest, exc: Exception) -> HttpResponse | None:
    """The answer to an exception a fault (not a bug) causes; None for anything else."""
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
        return error_response(request, 413, f"The request is too large: the limit is {limit} KiB.")
    if isinstance(exc, UnknownToken):
        return error_response(request, 401, str(exc))
    if isinstance(exc, DataError):
        return error_response(request, 400, "A value in the request is out of range for this server.")
    if isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError | ProgrammingError):
        log.warning("database unavailable: %s", exc, extra={"request_id": getattr(request, "request_id", "")})
        message = (
            "The database is not available right now (it may be busy, read-only or restarting). "
            "Nothing you submitted was lost; try again in a moment."
        )
        return error_response(request, 503, message, retry_after=10)
    return None


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A fresh nonce per response, for the <style> elements the editor injects
        # (templates/base.html hands it to CodeMirror); scripts need no exception.
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP.format(nonce=request.csp_nonce))
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response


class BodySizeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "The Content-Length header is not a number.")
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
            return error_response(request, 413, f"The request is too large: the limit is {limit} KiB.")
        return self.get_response(request)


def bucket_of(request: HttpRequest) -> tuple[str, int]:
    """Which rate bucket a request counts in, and how many requests it counts as."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return "read", 1
    for pattern, cost in SUBMIT_COST.items():
        if pattern.match(request.path):
            return "submit", cost
    return "submit", 1


class RateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(EXEMPT):
            return self.get_response(request)
        try:
            client = client_of(request)
        except UnknownToken as exc:
            return error_response(request, 401, str(exc))
        bucket, cost = bucket_of(request)
        try:
            ratelimit.check(client.id, bucket, settings.RATE_LIMITS[bucket].times(client.factor), cost)
        except ratelimit.RateLimited as exc:
            log.info(
                "rate limited",
                extra={"client": client.id, "bucket": bucket, "retry_after": exc.retry_after, "path": request.path},
            )
            return error_response(request, 429, str(exc), retry_after=exc.retry_after)
        return self.get_response(request)
