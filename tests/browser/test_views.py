"""The evidence in view, what is indexed, icons that render without an emoji font, and the
page at 400 px: in Chromium, with the real model over seeds/ (screenshots in test-output/)."""

from __future__ import annotations

from .test_page import assert_in_view

# Every character shown is drawn with a real glyph: a character no font has is drawn as the
# same empty box as U+10FFFD (a private-use character no font has). Emoji need an emoji
# font, which Debian's Chromium lacks, so they are the usual culprits; U+FE0F asks for one.
GLYPHS = """() => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 48;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const draw = (ch, family) => {
    ctx.clearRect(0, 0, 48, 48);
    ctx.font = `28px ${family}`;
    ctx.fillText(ch, 4, 36);
    return ctx.getImageData(0, 0, 48, 48).data.join(",");
  };
  const seen = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || !el.checkVisibility()) continue;
    for (const ch of walker.currentNode.nodeValue)
      if (ch.codePointAt(0) > 0x7e && !/\\s/.test(ch)) seen.set(ch, getComputedStyle(el).fontFamily);
  }
  const bad = [];
  for (const [ch, family] of seen) {
    if (ch === "\\ufe0f" || draw(ch, family) === draw("\\u{10FFFD}", family))
      bad.push(`${ch} U+${ch.codePointAt(0).toString(16)}`);
  }
  return {checked: [...seen.keys()].join(""), bad};
}"""

# Every icon drawn as an image (inline SVG or <img>) that the page shows has a visible size.
ICONS = """() => [...document.querySelectorAll("svg, img")]
  .filter(e => e.checkVisibility() && !e.closest("svg svg"))
  .map(e => { const r = e.getBoundingClientRect();
              return {what: (e.closest("[aria-label],[title],button,label") || e).outerHTML
                              .slice(0, 120), width: r.width, height: r.height}; })"""


def test_the_whole_article_opens_on_its_quote_and_dims_what_is_not_the_article(page):
    page.ask("How many NATO members were hitting the 2% spending goal in 2022?")
    article = page.page.locator("#vb-sources details.vb-article").first
    article.locator("summary").click()
    box = article.locator(".vb-article-text")
    assert box.evaluate("b => b.scrollHeight > 2 * b.clientHeight")  # a long article...
    assert_in_view(page, article)  # ...opened where the quote is, not at its top
    assert "seven" in box.locator("mark.vb-quote").first.inner_text()

    page.ask("What tendency did Stoltenberg caution America about in his farewell address as "
             "NATO chief?")
    article = page.page.locator("#vb-sources details.vb-article").first
    article.locator("summary").click()
    assert_in_view(page, article)
    first = article.locator(".vb-article-text > *").first  # the seed's leading date line
    assert first.evaluate("e => e.classList.contains('vb-furniture')")
    assert "date 2024-09-19" in first.inner_text()
    assert float(first.evaluate("e => getComputedStyle(e).opacity")) < 0.7  # dimmed
    head = article.locator(".vb-article-head").inner_text()
    assert head.startswith("2024-09-19") and "not part of the article" in head


def test_every_character_and_icon_the_page_shows_renders(page, tmp_path):
    page.ask("How many submarines does Norway operate?")  # a refusal
    page.page.locator('#vb-chat button[aria-label="Like"]').last.click()
    page.page.wait_for_function(
        "() => document.querySelector('#vb-feedback').innerText.includes('Thanks')")
    f = tmp_path / "glyph_check_otters.txt"
    f.write_text("Otters return to the river\n\nOtters were seen in the river Kennet.\n",
                 encoding="utf-8")
    page.upload(f)
    for accordion in ("#vb-docs", "#vb-settings"):
        page.page.click(f"{accordion} > button")
    page.page.wait_for_selector("#vb-docs-table table")
    glyphs = page.page.evaluate(GLYPHS)
    assert glyphs["checked"] and not glyphs["bad"], glyphs
    icons = page.page.evaluate(ICONS)
    assert len(icons) >= 3 and all(i["width"] >= 4 and i["height"] >= 4 for i in icons), icons


def test_at_400_px_the_sources_follow_the_answer_and_the_examples_are_collapsed(phone):
    page = phone.page
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    narrow = page.locator("#vb-examples-narrow")
    assert narrow.is_visible() and not page.locator("#vb-examples").is_visible()
    assert not page.locator("#vb-examples-narrow button.vb-example").first.is_visible()
    phone.ask("In which city will NATO hold its summit in June 2025?")
    assert "The Hague" in phone.last_answer()

    def box(selector: str) -> dict:
        return page.locator(selector).bounding_box()

    chat, head, sources = box("#vb-chat"), box("#vb-sources-head"), box("#vb-sources")
    examples = box("#vb-examples-narrow")
    assert 0 <= head["y"] - (chat["y"] + chat["height"]) <= 40  # right under the answer
    assert sources["y"] >= head["y"] and examples["y"] >= sources["y"] + sources["height"]
    assert examples["height"] < 80  # collapsed: one line, not seven buttons
    assert page.locator("#vb-sources mark.vb-quote").first.is_visible()
    narrow.locator("button").first.click()  # opened, the examples show their whole text
    buttons = page.locator("#vb-examples-narrow button.vb-example")
    buttons.first.wait_for()
    assert all("…" not in t and t.endswith("?") for t in buttons.all_inner_texts())
    assert all(b.evaluate("e => e.scrollWidth <= e.clientWidth") for b in buttons.all())


def test_the_documents_panel_lists_finds_and_removes_documents(page, tmp_path):
    f = tmp_path / "removable_heron_note.txt"
    f.write_text("Grey heron nests by the mill pond\n\nA pair of grey herons built a nest in "
                 "the alders by the old mill pond at Wickham, the warden said.\n",
                 encoding="utf-8")
    assert "Indexed 1 document" in page.upload(f)
    page.page.click("#vb-docs > button")
    table = page.page.locator("#vb-docs-table")
    table.locator("table").wait_for()
    assert "000_909c1f4abb7fe135.txt" in table.inner_text()
    page.page.fill("#vb-docs-find textarea, #vb-docs-find input", "grey HERON")
    page.page.wait_for_function(
        "() => document.querySelector('#vb-docs-table').innerText.includes('1 of')")
    rows = table.locator("tr.vb-doc")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == "Grey heron nests by the mill pond" and cells[1] == "undated"
    assert cells[2] == "removable_heron_note.txt" and int(cells[3]) >= 1
    before = page.page.inner_text("#vb-status")
    page.page.click("#vb-remove-pick input")
    page.page.locator("#vb-remove-pick li", has_text="removable_heron_note").first.click()
    page.page.click("#vb-remove")
    page.page.wait_for_function(
        "() => /Removed|Nothing/.test(document.querySelector('#vb-removed').innerText)",
        timeout=120_000)
    assert page.page.inner_text("#vb-removed").startswith("Removed 1 document(s): Grey heron")
    assert page.page.inner_text("#vb-status") != before
    assert "0 of" in table.inner_text()
    page.ask("Where did the pair of grey herons build a nest?")
    assert "removable_heron_note.txt" not in page.sources()


def test_a_long_question_says_it_was_cut(page):
    question = "Where is NATO headquartered? " + " ".join(["alliance"] * 400)
    page.ask(question)
    assert "Your question is" in page.last_answer() and "only its first" in page.last_answer()
