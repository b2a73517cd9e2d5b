"""The API documents itself, and its docs page works offline (no CDN)."""

import re


def test_openapi_schema_describes_compilations(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/compile" in paths and "/api/v1/compilations/{compilation_id}" in paths
    diagnostic = schema["components"]["schemas"]["Diagnostic"]["properties"]
    assert {"file", "line", "column", "kind", "message", "flow"} <= set(diagnostic)


def test_docs_page_loads_its_assets_from_this_server(client):
    html = client.get("/api/v1/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
