"""Measured allocations in the page: the Measure button, the measured column beside the
decisions, the benchmark table, the disagreements and the per-function column. Real
Chromium, a real web server, real Celery workers (compile and run lanes), real Go."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_playground import open_playground, set_source
from tests.test_measure_e2e import POOL

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_measure_button_shows_measured_allocations_beside_the_decisions(page, live_server_url, screenshot):
    open_playground(page, live_server_url)
    set_source(page, POOL)
    page.click("#measure-submit")
    page.wait_for_selector("#result .benchmark-table", timeout=90_000)

    put = page.locator("#L11 .measured-line")  # arrayPool.Put(buf)
    expect(put).to_contain_text("1 alloc/op, 4096 B/op")
    expect(put).to_have_attribute("data-verdict", "agree")
    assert page.locator("#L11 .decisions").count() == 1  # the compiler's decisions stay as they were

    never = page.locator("#L21 .measured-line")  # x := 42 in neverCalled: predicted, never ran
    expect(never).to_have_attribute("data-verdict", "predicted-not-measured")
    expect(never).to_contain_text("no allocation was measured")

    table = page.locator(".benchmark-table")
    expect(table.locator('tr[data-benchmark="BenchmarkPoolArray"] td').nth(3)).to_have_text("1")
    expect(table.locator('tr[data-benchmark="BenchmarkPoolPointer"] td').nth(3)).to_have_text("0")
    expect(page.locator(".disagreements")).to_contain_text("main.go:21")
    expect(page.locator(".summary-table th.measured-col")).to_have_text("Measured")
    with_array = page.locator(".summary-table tr", has_text="main.withArray").locator("td.measured-col")
    expect(with_array).to_contain_text("1 alloc/op")
    page.locator("#L11").scroll_into_view_if_needed()
    screenshot("measured-column")

    # The permalink shows the same, read-only; measuring again is an explicit POST.
    page.goto(page.url)
    expect(page.locator("#L11 .measured-line")).to_contain_text("1 alloc/op")
    expect(page.locator("#measure-button")).to_have_text("Measure again")
    screenshot("measured-section", page.locator("#measured"))


def test_no_measure_button_when_running_is_off(page, live_server_url, settings):
    settings.RUN_ENABLED = False
    open_playground(page, live_server_url)
    assert page.locator("#measure-submit").count() == 0
    assert page.locator("#compile-button").count() == 1


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_measured_page_has_no_accessibility_violations(browser, live_server_url, scheme):
    from tests.browser.test_accessibility import violations
    from tests.test_measure_e2e import measured

    result = measured(live_server_url, {"source": POOL})
    assert result["measurements"]["result"] == "ok"
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(result["url"])
        page.wait_for_load_state("networkidle")
        assert page.locator(".measured-line").count() > 0
        assert violations(page) == [], scheme
    finally:
        context.close()
