"""What a reader sees on the chat page, in Chromium, with the real model over seeds/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .conftest import OUTPUT, WIDE

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = (
    "Lighthouse keeper leaves strange notes\n\n"
    "The lighthouse keeper on Fastnet rock wrote <script>alert(1)</script> on the cover of "
    "the lighthouse logbook.\n\n"
    "Visitors found <img src=x onerror=alert(1)> painted on the lighthouse door, next to a "
    "card that read [free tour](javascript:alert(1)) and "
    '<a href="javascript:alert(1)">click here</a>.\n'
)


def test_seed_question_shows_the_answer_and_its_highlighted_quote(page):
    page.ask("How many NATO members were hitting the 2% spending goal in 2022?")
    assert "seven" in page.last_answer()
    focus = page.page.locator("strong.vb-focus", has_text="seven")
    mark = page.page.locator("#vb-sources mark.vb-quote", has=focus).first
    assert mark.is_visible() and mark.locator(focus).is_visible()
    assert "As of 2022, seven countries were meeting the 2% target" in mark.inner_text()
    # the highlight is really painted: a background colour, not just a tag
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert "[1]" in page.sources() and "002_be2d0c343ec47e23.txt" in page.sources()


def test_thumbs_down_is_saved_for_review(page, server):
    page.ask("Which court has accused Putin of war crimes?")
    page.page.locator('#vb-chat button[aria-label="Dislike"]').last.click()
    page.page.wait_for_function(
        "() => document.querySelector('#vb-feedback').innerText.includes('Thanks')")
    records = [json.loads(line) for line in server.feedback.read_text().splitlines()]
    mine = [r for r in records if r["question"] == "Which court has accused Putin of war crimes?"]
    assert mine and mine[-1]["verdict"] == "down" and mine[-1]["citations"]
    page.ask("Where is NATO headquartered?")  # the next question clears the thanks
    assert page.page.inner_text("#vb-feedback").strip() == ""


def test_an_example_fills_the_question_and_a_new_conversation_clears_the_page(page):
    from rag.app.chat import SEED_EXAMPLES

    buttons = page.page.locator("#vb-examples button.vb-example")
    assert sorted(buttons.all_inner_texts()) == sorted(q for q, _ in SEED_EXAMPLES)  # no "…"
    for b in buttons.all():  # each shows its whole text: nothing is cut off or hidden
        assert b.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= "
                          "e.clientHeight + 1")
    buttons.first.click()
    page.page.wait_for_function(
        "() => document.querySelector('#vb-question textarea').value.endsWith('?')")
    page.page.click("#vb-ask")
    page.turns += 1
    page.page.wait_for_selector('#vb-sources .vb-sources[data-turn="1"]:not([data-state="working"])')
    page.page.click("#vb-new")
    page.page.wait_for_selector('#vb-sources .vb-sources[data-state="empty"]')
    assert page.page.locator('#vb-chat [data-testid="bot"]').count() == 0


def test_source_article_opens_with_the_quote_in_place(page):
    page.ask("Which US president did Trump claim he could outdo when it came to negotiating "
             "with Putin?")
    article = page.page.locator("#vb-sources details.vb-article").first
    assert not article.locator(".vb-article-text").is_visible()
    article.locator("summary").click()
    text = article.locator(".vb-article-text")
    assert text.is_visible()
    assert "NATO Chief Warns Against 'Going It Alone'" in text.inner_text()  # the whole article
    quote = text.locator("mark.vb-quote").first
    assert quote.is_visible() and "Obama" in quote.inner_text()
    assert_in_view(page, article)


def assert_in_view(page, article) -> None:
    """The article's first quote lies inside the visible part of its scrolling box, and the
    box inside the window (checked as the reader would see it, without scrolling anything)."""
    page.page.wait_for_timeout(300)  # the box scrolls when it opens
    box = article.locator(".vb-article-text")
    where = box.evaluate("""b => {
        const m = b.querySelector('mark.vb-quote').getBoundingClientRect();
        const r = b.getBoundingClientRect();
        return {mark: [m.top, m.bottom], box: [r.top, r.bottom], window: innerHeight,
                scrolled: b.scrollTop, tall: b.scrollHeight > b.clientHeight}; }""")
    (m_top, m_bottom), (b_top, b_bottom) = where["mark"], where["box"]
    assert b_top <= m_top and m_bottom <= b_bottom, where  # the quote is in the box's view
    assert 0 <= m_top and m_bottom <= where["window"], where  # and the box in the window


def test_follow_up_shows_what_was_searched_for(page):
    page.ask("Who will succeed Stoltenberg as NATO Secretary General?")
    page.ask("When does he start?")
    assert "searched for:" in page.last_answer()
    searched = page.page.inner_text("#vb-sources .vb-searched")
    assert searched.startswith("Searched for:") and "When does" in searched
    assert searched != "Searched for: When does he start?"  # the pronoun was resolved


@pytest.mark.xfail(strict=False, reason="rag.answering.answer answers 'Who will succeed Stoltenberg as NATO "
                   "Secretary General?' with the wrong sentence (eval q001), so the follow-up "
                   "is rewritten around the wrong name")
def test_follow_up_is_answered_correctly(page):
    page.ask("Who will succeed Stoltenberg as NATO Secretary General?")
    assert "Rutte" in page.last_answer()
    page.ask("When does he start?")
    assert "Oct. 1" in page.last_answer()


def test_refusal_looks_different_and_lists_the_closest_matches(page):
    page.ask("How many submarines does Norway operate?")
    assert "I can't find this in the sources." in page.last_answer()
    assert page.page.locator('#vb-chat [data-testid="bot"] blockquote').last.is_visible()
    panel = page.page.locator("#vb-sources .vb-refused")
    assert panel.is_visible() and "Closest matches" in panel.inner_text()
    assert page.page.locator("#vb-sources li.vb-match").count() >= 1
    assert page.page.locator("#vb-sources mark.vb-quote").count() == 0


def test_settings_offer_no_address_for_the_server_to_call(page):
    """The LLM's URL and key are the operator's: the page offers no field for them."""
    page.page.click("#vb-settings")
    page.page.wait_for_selector("#vb-settings input[type=radio]")
    text = page.page.inner_text("#vb-settings")
    assert "URL" not in text and "http" not in text
    radios = page.page.locator("#vb-settings input[type=radio]")
    assert radios.count() == 1 and radios.first.get_attribute("value") == "extractive"
    boxes = page.page.locator("#vb-settings textarea")  # the only free text: a day
    assert boxes.count() == 1 and page.page.locator("#vb-as-of textarea").count() == 1
    assert "YYYY-MM-DD" in page.page.inner_text("#vb-as-of")


def test_a_day_typed_in_settings_is_what_the_question_is_read_as_of(page):
    page.page.click("#vb-settings")
    question = "What tendency did Stoltenberg caution America about in his farewell address?"
    page.page.fill("#vb-as-of textarea", "2024-09-20")
    page.ask(question)
    assert "isolationism" in page.last_answer()  # seed 000, of 2024-09-19
    assert "no source here is dated" not in page.last_answer()
    page.page.fill("#vb-as-of textarea", "1990-01-01")
    page.ask(question)
    assert "no source here is dated from 1989-12-25 to 1990-01-04" in page.last_answer()
    page.page.fill("#vb-as-of textarea", "next Tuesday")
    page.page.fill("#vb-question textarea", "Where is NATO headquartered?")
    page.page.click("#vb-ask")
    page.page.wait_for_selector("text=YYYY-MM-DD", timeout=30_000)
    page.page.fill("#vb-as-of textarea", "")


def test_an_upload_named_like_an_indexed_article_is_refused(page, tmp_path):
    f = tmp_path / "004_47575fa39b048119.txt"
    f.write_text("NATO summit moves\n\nNATO will hold its summit in June 2025 in the city of "
                 "Pyongyang, the alliance said.\n", encoding="utf-8")
    message = page.upload(f)
    assert "Refused 004_47575fa39b048119.txt" in message and "rename" in message, message
    page.ask("In which city will NATO hold its summit in June 2025?")
    assert "The Hague" in page.last_answer() and "Pyongyang" not in page.last_answer()


def test_uploaded_file_can_be_asked_about_at_once(page, tmp_path):
    f = tmp_path / "orchard_news.txt"
    f.write_text("Record apple harvest in the valley\n\n"
                 "The cider orchard at Much Marcle picked ninety tonnes of russet apples this "
                 "autumn, a record for the Herefordshire valley.\n\n"
                 "The orchard's owner said the warm spring had helped the blossom.\n",
                 encoding="utf-8")
    before = page.page.inner_text("#vb-status")
    message = page.upload(f)
    assert "Indexed 1 document" in message, message
    after = page.page.inner_text("#vb-status")
    assert after != before
    page.page.reload()
    page.page.wait_for_function(
        f"() => document.querySelector('#vb-status')?.innerText == {after!r}")
    page.ask("How many tonnes of russet apples did the cider orchard at Much Marcle pick?")
    assert "ninety tonnes" in page.last_answer()
    assert "orchard_news.txt" in page.sources()


def test_bad_upload_gets_a_message_and_the_page_stays_usable(page, tmp_path):
    f = tmp_path / "scan.txt"
    f.write_bytes(b"\x00\x01binary scan\x00")
    message = page.upload(f)
    assert "scan.txt" in message and "binary" in message
    page.ask("Which court has accused Putin of war crimes?")
    assert "International Criminal Court" in page.last_answer()


def test_hostile_article_runs_nothing_and_shows_its_characters(page, tmp_path):
    f = tmp_path / "hostile_lighthouse.txt"
    f.write_text(HOSTILE, encoding="utf-8")
    page.upload(f)
    page.ask("What did the lighthouse keeper on Fastnet rock write on the cover of the "
             "lighthouse logbook?")
    answer = page.last_answer()
    assert "<script>alert(1)</script>" in answer
    for article in page.page.locator("#vb-sources details.vb-article summary").all():
        article.click()
    time.sleep(1.0)  # give an injected onerror handler every chance to fire
    shown = page.sources()
    for text in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                 "[free tour](javascript:alert(1))",
                 '<a href="javascript:alert(1)">click here</a>'):
        assert text in shown
    for area in ("#vb-sources", "#vb-chat"):
        assert page.page.locator(f"{area} script, {area} img[onerror], "
                                 f"{area} a[href^='javascript']").count() == 0
    page.page.locator("#vb-sources", has_text="click here").first.click()
    time.sleep(0.5)
    assert page.dialogs == [] and page.errors == []


QUESTIONS = [  # (question, words one of which the answer must contain), from eval/sets/seeds.jsonl
    ("What was Mark Rutte's job before he was picked to lead NATO?", ["Prime Minister"]),
    (("What tendency did Stoltenberg caution America about in his farewell address as NATO "
     "chief?"), ["isolationism"]),
    (("Which country had its NATO membership marked by raising its flag at the Brussels "
     "headquarters?"), ["Sweden"]),
    (("Which French leader floated the idea that sending troops to Ukraine shouldn't be "
     "excluded?"), ["Macron"]),
    (("In which US state was Trump holding a rally when he said he'd encourage Russia to attack "
     "allies that underpay?"), ["South Carolina"]),
    ("Who is the European Union's top diplomat quoted reacting to Trump's remarks?",
     ["Borrell"]),
    ("What position does Charles Michel hold?", ["European Council President",
                                                  "President of the European Council"]),
    ("Which court has accused Putin of war crimes?", ["International Criminal Court"]),
    (("Which two Asian allies' defence pacts with the US did Trump criticise while he was "
     "president?"), ["Japan"]),
    (("Besides Ukraine, which country would get help under the foreign aid bill the US Senate "
     "advanced?"), ["Israel"]),
    (("What new military unit did the US send to eastern Europe, according to Stoltenberg in "
     "2016?"), ["armored brigade"]),
    (("Which US president did Trump claim he could outdo when it came to negotiating with "
     "Putin?"), ["Obama"]),
    ("In which city will NATO hold its summit in June 2025?", ["The Hague"]),
    ("Where is NATO headquartered?", ["Brussels"]),
    (("How many partners in the alliance did Stoltenberg say America can count on, unlike "
     "Russia or China?"), ["31"]),
    ("What fraction of Russia's land border is shared with NATO countries?", ["11%"]),
    ("How many NATO members were hitting the 2% spending goal in 2022?", ["seven"]),
    (("For how many years in a row have European allies and Canada raised their defence "
     "spending?"), ["eight"]),
    ("How large was the foreign aid package that the US Senate moved forward?",
     ["$95.3 billion"]),
    ("Roughly what share of NATO's spending came from the United States in 2016?",
     ["70 percent"]),
]


def test_twenty_questions_at_once_through_the_api_are_all_answered(server, browser):
    from gradio_client import Client

    assert len(QUESTIONS) == 20
    client = Client(server.url, verbose=False, analytics_enabled=False)
    started = time.perf_counter()
    jobs = [client.submit(q, 5, api_name="/ask") for q, _ in QUESTIONS]
    results = [job.result(timeout=300) for job in jobs]
    seconds = time.perf_counter() - started
    wrong = []
    for (question, words), result in zip(QUESTIONS, results, strict=True):
        result = json.loads(result) if isinstance(result, str) else result
        if result["question"] != question or not any(w.lower() in result["answer"].lower()
                                                      for w in words):
            wrong.append((question, words, result["answer"][:200]))
    assert not wrong, f"{len(wrong)} wrong answers: {wrong}"
    print(f"20 concurrent questions answered in {seconds:.1f} s")
    # the API page is opened fresh: navigating an open chat page away aborts its connection,
    # which the browser logs as an error that says nothing about the API
    context = browser.new_context(viewport={"width": WIDE, "height": 1000})
    api = context.new_page()
    errors: list[str] = []
    api.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    api.goto(f"{server.url}/?view=api")
    api.wait_for_timeout(1500)
    OUTPUT.mkdir(exist_ok=True)
    api.screenshot(path=str(OUTPUT / "test_twenty_questions_api_view.png"), full_page=True)
    context.close()
    assert not errors, f"the API page threw: {errors}"


@pytest.mark.parametrize("question", [""])
def test_empty_question_gets_a_message(page, question):
    page.ask(question)
    assert "question is empty" in page.last_answer()
