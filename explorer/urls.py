from django.urls import path

from . import review_views, views
from .api import api

urlpatterns = [
    path("", views.playground, name="playground"),
    path("compile", views.compile_view, name="compile"),
    path("format", views.format_view, name="format"),
    path("s/<str:compilation_id>", views.permalink, name="permalink"),
    path("s/<str:compilation_id>/result", views.result_fragment, name="result-fragment"),
    path("s/<str:compilation_id>/raw", views.raw_output, name="raw-output"),
    # A function's symbol name may hold "/" (a generic's shape types): the raw route first.
    path("s/<str:compilation_id>/ssa/<path:function>/raw", views.ssa_raw, name="ssa-raw"),
    path("s/<str:compilation_id>/ssa/<path:function>", views.ssa_page, name="ssa"),
    path("kinds", views.kinds, name="kinds"),
    path("compare", review_views.compare_form, name="compare"),
    path("c/<str:a>/<str:b>", review_views.compare_page, name="compare-page"),
    path("c/<str:a>/<str:b>/result", review_views.compare_fragment, name="compare-fragment"),
    path("api/v1/", api.urls),
]
