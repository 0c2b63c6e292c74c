"""Regenerate on a quantized LCM in a real headless Chromium: its own app server on a toy
Quant-LCM-d with random weights. The Temperature slider is there (and absent on a
diffusion LCM's page); at 0 every draw is one concept, listed once with a message saying
why; at a high temperature K different ones; the page shows what the server stored."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_browser import import_text, message, row

expect.set_options(timeout=30_000)  # two CPU cores shared with model training
TEXT = "The harbour woke early. Boats slid out. Gulls followed them. The sun rose."


@pytest.fixture(scope="module", autouse=True)
def warm(quant_service) -> None:
    """Run each model once, as the app does at start (two CPU cores, shared)."""
    quant_service.warm_up()


def set_temperature(page, value: float) -> None:
    box = page.locator("#temperature input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    expect(page.locator("#temperature input[type=range]")).to_have_value(str(value))


def test_temperature_zero_lists_one_alternative_and_a_high_one_k_different(
    quant_page, quant_service, artifacts
):
    page, store = quant_page, quant_service.store
    import_text(page, TEXT, "Temperatures")
    doc = next(d for d in store.list_documents() if d.title == "Temperatures")
    boats = list(store.get_document(doc.id).sentences())[1]
    row(page, boats.id).click()
    expect(page.locator("#node-text textarea")).to_have_value(boats.text)
    default = quant_service.lcm.config.sampler.temperature
    expect(page.locator("#temperature input[type=number]")).to_have_value(f"{default:g}")

    set_temperature(page, 0)
    page.locator("#regen-btn").click()
    expect(message(page)).to_have_text(
        "Only 1 distinct alternative of the 4 asked for: the other draws were the same "
        "concept. A higher temperature gives more variety."
    )
    options = page.locator("#alternatives label")
    (cold,) = store.list_variants(boats.id)
    assert cold.temperature == 0.0
    expect(options).to_have_count(1)
    expect(options).to_contain_text(cold.text)
    page.screenshot(path=artifacts / "quantized-temperature-0.png", full_page=True)

    set_temperature(page, 2)
    page.locator("#regen-btn").click()
    expect(options).to_have_count(4)
    expect(message(page)).to_have_count(0)
    hot = store.list_variants(boats.id)[1:]
    assert [v.temperature for v in hot] == [2.0] * 4
    assert len({v.embedding.tobytes() for v in hot}) == 4  # four different concepts
    for option, variant in zip(options.all(), hot, strict=True):
        expect(option).to_contain_text(variant.text)
    page.get_by_text("Alternatives shelf: every one generated here").click()
    shelf = page.locator("#shelf li")  # newest first
    expect(shelf).to_have_count(5)
    for item, variant in zip(shelf.all(), [*hot[::-1], cold], strict=True):
        expect(item).to_contain_text(variant.text)
        expect(item).to_contain_text(f"temperature {variant.temperature:.2f}")
    page.screenshot(path=artifacts / "quantized-temperature-2.png", full_page=True)


def test_a_diffusion_lcms_page_has_no_temperature(page):
    expect(page.locator("#regen-btn")).to_be_attached()
    expect(page.locator("#temperature")).to_have_count(0)
    expect(page.get_by_text("Temperature", exact=True)).to_have_count(0)
