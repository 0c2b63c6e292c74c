"""The concept checks in a real headless Chromium: a misread sentence's badge and reading,
a repeated meaning flagged both ways, the alternatives shelf after a reload, the meaning
distance in History, the "View in" list with the codec's languages first, and the Read
view with or without the outline's plan lines."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_browser import import_text, library_item, message, row

from engine.lang import languages
from storage import Kind

expect.set_options(timeout=30_000)  # two CPU cores shared with model training
REPEATED = "The cat sat on the mat. Stocks fell sharply on Monday. The cat sat on the mat again."


@pytest.fixture(scope="module", autouse=True)
def warm(service) -> None:
    """Load the segmenter and run each model once, as the app does at start, so the first
    import is not timed against loading (two CPU cores shared with model training)."""
    service.warm_up()


@pytest.fixture(autouse=True)
def ready(page) -> None:
    """The page has finished loading (its first render and event bindings are in)."""
    page.wait_for_load_state("networkidle")


def sentences_of(service, title: str):
    doc = next(d for d in service.store.list_documents() if d.title == title)
    return [n for n in service.store.get_document(doc.id).nodes if n.kind is Kind.SENTENCE]


def test_a_misread_sentence_shows_its_badge_and_the_reading(page, service, artifacts):
    import_text(page, "The harbour woke before dawn. Boats slid past the lighthouse.", "Misread")
    first = sentences_of(service, "Misread")[0]
    assert first.fidelity is not None and first.fidelity.chrf < service.misread_chrf
    badge = row(page, first.id).locator(".check.misread")
    expect(badge).to_have_text("may misread")
    expect(badge).to_have_attribute("title", f"The model reads it as: {first.fidelity.reading}")
    row(page, first.id).click()
    panel = page.locator("#node-info .reading-back.misread")
    expect(panel).to_contain_text("The model may misread this.")
    expect(panel).to_contain_text(f"Read back as: “{first.fidelity.reading}”")
    page.screenshot(path=artifacts / "checks-misread.png", full_page=True)


def test_a_paraphrase_pair_shows_the_repetition_badge_both_ways(page, service, artifacts):
    import_text(page, REPEATED, "Repeated")
    cat, stocks, again = sentences_of(service, "Repeated")
    assert cat.nearest_id == again.id and again.nearest_id == cat.id
    threshold = service.repeat_cosine
    service.repeat_cosine = cat.nearest_cosine - 1e-6  # this pair and no other
    try:
        library_item(page, "Repeated").click()
        expect(row(page, cat.id).locator(".check.repeats")).to_have_attribute(
            "data-goto", str(again.id)
        )
        expect(row(page, again.id).locator(".check.repeats")).to_have_attribute(
            "data-goto", str(cat.id)
        )
        expect(row(page, stocks.id).locator(".check.repeats")).to_have_count(0)
        row(page, cat.id).locator(".check.repeats").click()  # goes to the other one
        expect(row(page, again.id)).to_have_attribute("aria-selected", "true")
        expect(page.locator("#node-info .repeats")).to_contain_text(f"“{cat.text}”")
        page.screenshot(path=artifacts / "checks-repeats.png", full_page=True)
    finally:
        service.repeat_cosine = threshold


def test_the_shelf_lists_earlier_variants_after_a_reload_and_one_click_uses_one(
    page, service, artifacts
):
    import_text(page, "First line here. Second line there. Third line too.", "Shelf")
    second = sentences_of(service, "Shelf")[1]
    editor = page.locator("#node-text textarea")
    row(page, second.id).click()
    expect(editor).to_have_value(second.text)
    page.locator("#regen-btn").click()
    expect(page.locator("#alternatives label")).to_have_count(4)
    page.reload()
    library_item(page, "Shelf").click()
    row(page, second.id).click()
    expect(editor).to_have_value(second.text)
    page.get_by_text("Alternatives shelf: every one generated here").click()
    variants = service.store.list_variants(second.id)[::-1]  # the shelf: newest first
    items = page.locator("#shelf li")
    expect(items).to_have_count(4)
    for item, variant in zip(items.all(), variants, strict=True):
        expect(item).to_contain_text(variant.text)
        expect(item).to_contain_text(re.compile(r"leads on -?\d\.\d\d · follows -?\d\.\d\d"))
    items.nth(2).click()
    expect(editor).to_have_value(variants[2].text)
    expect(row(page, second.id).locator(".badge")).to_have_text("generated")
    page.screenshot(path=artifacts / "checks-shelf.png", full_page=True)


def test_history_shows_how_far_the_meaning_moved(page, service, artifacts):
    import_text(page, "The river was calm. Birds sang.", "Moved")
    first = sentences_of(service, "Moved")[0]
    expect(row(page, first.id)).to_have_attribute("aria-selected", "true")  # import selects it
    editor = page.locator("#node-text textarea")
    expect(editor).to_have_value(first.text)
    editor.fill("The river was very calm.")
    page.locator("#save-btn").click()
    expect(row(page, first.id).locator(".text")).to_have_text("The river was very calm.")
    page.get_by_role("tab", name="History").click()
    old, new = (r.embedding for r in service.store.node_history(first.id))
    moved = 1 - float(old @ new / ((old @ old) ** 0.5 * (new @ new) ** 0.5))
    expect(page.locator("#history .moved")).to_have_text(f"meaning moved {moved:.3f}")
    page.screenshot(path=artifacts / "checks-history.png", full_page=True)


def test_view_in_lists_the_codecs_languages_first_and_filters_by_name(page, service):
    field = page.locator("#view-lang input")
    field.click()
    names = {code: lang.name for code, lang in languages().items()}
    written = [names.get(code, code) for code in service.codec.languages]
    options = page.locator("ul.options").get_by_role("option")
    expect(options.first).to_be_visible()
    shown = [text.split("\n")[-1] for text in options.all_inner_texts()]  # "✓\nEnglish"
    assert shown[: len(written)] == written
    field.fill("")
    field.press_sequentially("Fren")
    expect(options).to_have_text([re.compile(r"\bFrench$")])


def test_the_read_view_shows_plan_lines_as_headings_or_hides_them(page, service, artifacts):
    import_text(page, "- Morning\n- Night", "Plan lines")
    page.locator("#expand-all-btn").click()
    expect(message(page)).to_contain_text("Expanded 2 outline items:")
    doc = next(d for d in service.store.list_documents() if d.title == "Plan lines")
    prose = [n.text for n in service.store.get_document(doc.id).sentences()]
    page.get_by_text("Read", exact=True).click()
    plan = page.locator("#reading .plan")
    expect(plan).to_have_text(["Morning", "Night"])
    expect(page.locator("#reading p").first).to_contain_text(prose[0])
    page.locator("#show-plan input").uncheck()
    expect(plan.first).to_be_hidden()
    expect(plan.last).to_be_hidden()
    expect(page.locator("#reading p").first).to_be_visible()
    page.screenshot(path=artifacts / "read-without-plan.png", full_page=True)
    page.locator("#show-plan input").check()
    expect(plan.first).to_be_visible()
