from django.urls import path

from . import views
from .api import api

urlpatterns = [
    path("", views.playground, name="playground"),
    path("compile", views.compile_view, name="compile"),
    path("format", views.format_view, name="format"),
    path("s/<str:compilation_id>", views.permalink, name="permalink"),
    path("s/<str:compilation_id>/result", views.result_fragment, name="result-fragment"),
    path("s/<str:compilation_id>/raw", views.raw_output, name="raw-output"),
    path("api/v1/", api.urls),
]
