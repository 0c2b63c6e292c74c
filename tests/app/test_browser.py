"""The writer in a real headless Chromium: the whole editing loop, escaping of hostile
text, and the outline's keyboard handling. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import torch
from playwright.sync_api import expect

from storage.types import Kind

expect.set_options(timeout=30_000)  # two CPU cores shared with model training

PARAGRAPHS = [
    "The harbour woke before dawn. Fishing boats slid past the lighthouse.",
    "By noon the market was loud. Traders argued over the price of salt.",
    "At night the town grew quiet again. Only the sea kept talking.",
]
SENTENCES = [s for p in PARAGRAPHS for s in re.split(r"(?<=\.) ", p)]


def row(page, node_id: int):
    return page.locator(f'#outline li.node[data-id="{node_id}"]')


def sentence_rows(page):
    return page.locator("#outline li.kind-sentence .text")


def import_text(page, text: str, title: str) -> None:
    page.locator("#import-text textarea").fill(text)
    page.locator("#import-title textarea, #import-title input").first.fill(title)
    page.locator("#import-btn").click()
    expect(page.locator("#library label", has_text=title).locator("input")).to_be_checked()


def test_edit_regenerate_accept_reload_undo_export(page, service, artifacts):
    import_text(page, "\n\n".join(PARAGRAPHS), "Harbour day")
    expect(sentence_rows(page)).to_have_text(SENTENCES)
    page.screenshot(path=artifacts / "e2e-1-imported.png", full_page=True)

    target = page.locator("#outline li.kind-sentence").nth(2)
    node_id = int(target.get_attribute("data-id"))
    target.click()
    editor = page.locator("#node-text textarea")
    expect(editor).to_have_value(SENTENCES[2])
    editor.fill("By noon the square was crowded.")
    page.locator("#save-btn").click()
    expect(row(page, node_id).locator(".text")).to_have_text("By noon the square was crowded.")
    expect(row(page, node_id).locator(".badge")).to_have_text("edited")

    page.locator("#regen-btn").click()
    options = page.locator("#alternatives label")
    expect(options).to_have_count(4)
    page.screenshot(path=artifacts / "e2e-2-alternatives.png", full_page=True)
    variants = service.store.list_variants(node_id)
    assert len(variants) == 4
    for option, variant in zip(options.all(), variants, strict=True):
        expect(option).to_contain_text(variant.text)
        expect(option).to_contain_text(re.compile(r"-?\d\.\d\d · "))
    options.nth(1).click()
    page.locator("#accept-btn").click()
    expect(editor).to_have_value(variants[1].text)

    page.reload()
    page.locator("#library label", has_text="Harbour day").click()
    expect(row(page, node_id).locator(".text")).to_have_text(variants[1].text)
    expect(row(page, node_id).locator(".badge")).to_have_text("generated")
    page.screenshot(path=artifacts / "e2e-3-after-reload.png", full_page=True)

    for text in ("By noon the square was crowded.", SENTENCES[2]):  # undo accept, then edit
        page.locator("#undo-btn").click()
        expect(row(page, node_id).locator(".text")).to_have_text(text)
    expect(sentence_rows(page)).to_have_text(SENTENCES)

    page.get_by_text("Document", exact=True).click()
    page.locator("#export-btn").click()
    link = page.locator("#export-file a").first
    expect(link).to_be_attached()
    markdown = page.request.get(link.get_attribute("href")).text()
    doc_id = service.store.get_document(
        next(d.id for d in service.store.list_documents() if d.title == "Harbour day")
    ).id
    assert markdown == service.store.export_markdown(doc_id)
    for paragraph in PARAGRAPHS:
        assert paragraph in markdown
    page.screenshot(path=artifacts / "e2e-4-exported.png", full_page=True)


def test_hostile_text_renders_as_text(page, artifacts):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = [
        "<script>window.__pwned = 1</script> stays text.",
        '<img src=x onerror="window.__pwned = 2"> is shown.',
    ]
    import_text(page, "# <b>Bold</b> heading\n\n" + " ".join(hostile), "Hostile")
    expect(sentence_rows(page)).to_have_text(hostile)
    expect(page.locator("#outline li.kind-section .text")).to_have_text("<b>Bold</b> heading")
    page.get_by_text("Read", exact=True).click()
    expect(page.locator("#reading p")).to_contain_text(hostile[1])
    assert page.locator("#outline img, #outline script, #outline b, #reading img").count() == 0
    assert page.evaluate("window.__pwned") is None and dialogs == []
    page.screenshot(path=artifacts / "hostile.png", full_page=True)


def test_outline_keyboard_and_collapse(page, artifacts):
    import_text(page, "First one. Second one.\n\nThird one.", "Keys")
    rows = page.locator("#outline li.node")
    expect(rows).to_have_count(5)  # paragraph, 2 sentences, paragraph, 1 sentence
    editor = page.locator("#node-text textarea")
    rows.nth(1).click()
    expect(editor).to_have_value("First one.")
    page.keyboard.press("ArrowDown")
    expect(editor).to_have_value("Second one.")
    expect(rows.nth(2)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")  # a leaf: step out to its paragraph
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("ArrowLeft")  # collapse the paragraph
    expect(rows.nth(0)).to_have_attribute("aria-expanded", "false")
    expect(rows.nth(1)).to_be_hidden()
    page.keyboard.press("ArrowDown")  # skips the hidden sentences
    expect(rows.nth(3)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowRight")
    expect(rows.nth(1)).to_be_visible()
    rows.nth(4).click()
    expect(editor).to_have_value("Third one.")
    page.keyboard.press("e")  # from the outline to the editor; Shift+Enter saves
    expect(editor).to_be_focused()
    editor.fill("Third one, rewritten.")
    page.keyboard.press("Shift+Enter")
    expect(rows.nth(4).locator(".text")).to_have_text("Third one, rewritten.")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=artifacts / "phone.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways at phone width ({width}px)"


def choose_view_language(page, name: str) -> None:
    field = page.locator("#view-lang input")
    field.click()
    field.fill(name)
    page.get_by_role("option", name=name, exact=True).click()


def test_view_in_french_decodes_the_same_concepts_and_other_languages_explain_sonar(
    page, service, artifacts
):
    import_text(page, "\n\n".join(PARAGRAPHS), "Harbour in French")
    expect(sentence_rows(page)).to_have_text(SENTENCES)
    doc = next(d for d in service.store.list_documents() if d.title == "Harbour in French")
    sentences = [n for n in service.store.get_document(doc.id).nodes if n.kind is Kind.SENTENCE]
    concepts = torch.tensor([n.embedding for n in sentences])
    expected = service.codec.decode(concepts, lang="fra_Latn")

    choose_view_language(page, "French")
    expect(sentence_rows(page)).to_have_text(expected)
    expect(page.locator("#view-lang input")).to_have_value("French")
    page.screenshot(path=artifacts / "view-in-french.png", full_page=True)

    choose_view_language(page, "Russian")
    expect(page.get_by_text("--codec sonar").first).to_be_visible()
    expect(sentence_rows(page)).to_have_text(SENTENCES)  # back in the document's language
    page.screenshot(path=artifacts / "view-in-russian-needs-sonar.png", full_page=True)
