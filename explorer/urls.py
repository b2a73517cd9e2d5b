from django.urls import path, register_converter

from . import bigpage_views, health, review_views, views
from .api import api


class CompilationId:
    """A compilation id is 16 characters of lower-case base32: anything else is a 404 at once."""

    regex = "[a-z2-7]{16}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CompilationId, "cid")

urlpatterns = [
    path("", views.playground, name="playground"),
    path("healthz", health.healthz, name="healthz"),
    path("compile", views.compile_view, name="compile"),
    path("format", views.format_view, name="format"),
    path("s/<cid:compilation_id>", views.permalink, name="permalink"),
    path("s/<cid:compilation_id>/result", views.result_fragment, name="result-fragment"),
    path("s/<cid:compilation_id>/rerun", views.rerun_view, name="rerun"),
    path("s/<cid:compilation_id>/measure", views.measure_view, name="measure"),
    path("s/<cid:compilation_id>/raw", views.raw_output, name="raw-output"),
    # A big program's page: its parts, loaded when needed (explorer/bigpage.py)
    path("s/<cid:compilation_id>/lines", bigpage_views.lines, name="lines"),
    path("s/<cid:compilation_id>/asm/<int:index>", bigpage_views.asm_function, name="asm-function"),
    path("s/<cid:compilation_id>/functions", bigpage_views.functions, name="functions"),
    path("s/<cid:compilation_id>/decisions", bigpage_views.decisions, name="decisions"),
    # A function's symbol name may hold "/" (a generic's shape types): the raw route first.
    path("s/<cid:compilation_id>/ssa/<path:function>/raw", views.ssa_raw, name="ssa-raw"),
    path("s/<cid:compilation_id>/ssa/<path:function>", views.ssa_page, name="ssa"),
    path("s/<cid:compilation_id>/graph/<path:function>", views.graph_page, name="graph"),
    path("kinds", views.kinds, name="kinds"),
    path("compare", review_views.compare_form, name="compare"),
    path("c/<cid:a>/<cid:b>", review_views.compare_page, name="compare-page"),
    path("c/<cid:a>/<cid:b>/result", review_views.compare_fragment, name="compare-fragment"),
    path("api/v1/", api.urls),
]
