"""The chat page: Gradio components wired to `rag.app.chat`, and nothing else.

Every decision (answering, rendering, feedback, uploads, the documents list and removing,
status) is made by `rag.app.chat.ChatService`; this file lays out the page and passes values
through: uploads with Gradio's upload folder (the only place `add_files` reads from), chat
turns at most `ChatService.turns_at_once` at a time, logins through
`rag.app.login.LoginThrottle`. A remove control exists only when the operator allowed
removing (`rag serve --allow-remove`). Below `NARROW` px the page is one column with the
sources right after the conversation and the examples collapsed (`PAGE_CSS`).

Does not: hold any chat logic, offer a field for where the server sends requests (the LLM
is the operator's, set when `rag serve` starts), or serve on other than the address it is
given.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a closed network

import gradio as gr
from gradio.utils import get_upload_folder

from rag.app import (
    ARTICLE_JS,
    DOCUMENTS_CSS,
    EMPTY_SOURCES,
    EXTRACTIVE_TURNS,
    SOURCES_CSS,
    SUFFIXES,
    ChatService,
    ChatSettings,
    Conversation,
    InputError,
    LoginThrottle,
    RagError,
)

INTRO = ("# verbatim\nAsk about the articles. Every answer is made of exact quotes, "
         "highlighted in the articles they come from.")
NARROW = 640  # px: below this width the page is one column, the answer and sources first

# Layout only (the answer's own styles are rag.app's). Below NARROW px the two columns become
# one, in this order: question, conversation, sources, examples (collapsed), new conversation.
PAGE_CSS = f"""
.vb-example {{ white-space: normal !important; text-align: left !important;
  justify-content: flex-start !important; height: auto !important; min-height: 2rem;
  overflow: visible !important; text-overflow: clip !important; font-weight: 400 !important;
  background: var(--background-fill-primary) !important;
  border: 1px solid var(--border-color-primary) !important; }}
@media (min-width: {NARROW + 1}px) {{ #vb-examples-narrow {{ display: none !important; }} }}
@media (max-width: {NARROW}px) {{
  #vb-main {{ flex-direction: column !important; flex-wrap: nowrap !important; }}
  #vb-main > .column {{ display: contents !important; }}
  #vb-ask-row {{ order: 1; }} #vb-chat {{ order: 2; height: min(520px, 60vh) !important; }}
  #vb-sources-head {{ order: 3; }} #vb-sources {{ order: 4; }}
  #vb-examples-narrow {{ order: 5; }} #vb-new-row {{ order: 6; }} #vb-feedback {{ order: 7; }}
  #vb-examples {{ display: none !important; }}
}}
"""


def build(service: ChatService) -> gr.Blocks:
    """The page for one `ChatService`."""
    with gr.Blocks(title="verbatim") as page:
        conversation = gr.State(Conversation())
        gr.Markdown(INTRO)
        status = gr.Markdown(service.status, elem_id="vb-status")  # read at each page load
        chat = _chat_panel(service)
        docs = _documents_panel(service)
        files, add, added = _upload_panel(service)
        settings = _settings_panel(service)
        _wire_chat(service, conversation, chat, settings)
        _wire_documents(service, page, docs, status)
        _wire_uploads(service, files, add, added, status, docs["table"])
        _wire_api(service)
    return page


def _chat_panel(service: ChatService) -> dict:
    with gr.Row(equal_height=False, elem_id="vb-main"):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Conversation", elem_id="vb-chat", height=520,
                                 latex_delimiters=[], buttons=["copy"],
                                 placeholder="Ask a question, or pick an example.")
            with gr.Row(elem_id="vb-ask-row"):
                question = gr.Textbox(show_label=False, placeholder="Ask about the articles…",
                                      elem_id="vb-question", scale=5, autofocus=True)
                ask = gr.Button("Ask", variant="primary", elem_id="vb-ask", scale=1,
                                min_width=80)
            _examples(service, question)
            with gr.Row(elem_id="vb-new-row"):
                new = gr.Button("New conversation", size="sm", elem_id="vb-new")
            thanks = gr.Markdown(elem_id="vb-feedback")
        with gr.Column(scale=2):
            gr.Markdown("### Sources", elem_id="vb-sources-head")
            sources = gr.HTML(EMPTY_SOURCES, elem_id="vb-sources", js_on_load=None)
    return {"chatbot": chatbot, "question": question, "ask": ask, "new": new, "thanks": thanks,
            "sources": sources}


def _examples(service: ChatService, question) -> None:
    """The example questions as buttons that show their whole text and fill the question box:
    listed on wide screens, in a closed accordion on narrow ones (one of the two is hidden)."""
    examples = service.examples()
    if not examples:
        return
    with gr.Column(elem_id="vb-examples"):
        gr.Markdown("Example questions", elem_classes=["vb-examples-label"])
        _example_buttons(examples, question)
    with gr.Accordion("Example questions", open=False, elem_id="vb-examples-narrow"):
        _example_buttons(examples, question)


def _example_buttons(examples: list[str], question) -> None:
    for text in examples:
        button = gr.Button(text, size="sm", elem_classes=["vb-example"])
        # Fills the box in the browser; the text is one of the page's own seed questions.
        button.click(None, None, question, js=f"() => {json.dumps(text)}")


def _wire_chat(service: ChatService, conversation, c: dict, settings) -> None:
    def respond(message, conv, k, answerer, model, as_of):
        try:
            settings = ChatSettings(k=_whole(k), answerer=answerer, model=model or None,
                                    as_of=_day(as_of))
        except InputError as e:
            raise gr.Error(str(e)) from e
        for shown, html in service.chat(message, conv, settings=settings):
            yield list(shown.messages), shown, html, "", ""  # the last clears "Thanks..."

    # Both ways of asking share one limit; LLM turns can hold at most service.llm_slots of it.
    turn = {"fn": respond, "inputs": [c["question"], conversation, *settings],
            "outputs": [c["chatbot"], conversation, c["sources"], c["question"], c["thanks"]],
            "concurrency_id": "chat", "concurrency_limit": service.turns_at_once}
    c["question"].submit(**turn, api_name="chat")
    c["ask"].click(**turn, api_visibility="private")

    def rate(conv, like: gr.LikeData):
        index = like.index if isinstance(like.index, int) else like.index[0]
        return service.feedback(conv, index, like.liked)

    c["chatbot"].like(rate, [conversation], [c["thanks"]], api_visibility="private")

    def restart():
        return [], Conversation(), EMPTY_SOURCES, ""

    cleared = [c["chatbot"], conversation, c["sources"], c["thanks"]]
    c["new"].click(restart, None, cleared, api_visibility="private")
    c["chatbot"].clear(restart, None, cleared, api_visibility="private")


def _documents_panel(service: ChatService) -> dict:
    with gr.Accordion("Documents in the index", open=False, elem_id="vb-docs"):
        find = gr.Textbox(label="Find by title", max_lines=1, elem_id="vb-docs-find",
                          placeholder="words of a title, an id or a file name")
        table = gr.HTML(service.documents_html, elem_id="vb-docs-table", js_on_load=None)
        out = {"find": find, "table": table}
        if service.allow_remove:  # the operator's choice: rag serve --allow-remove
            with gr.Row():
                out["pick"] = gr.Dropdown([], multiselect=True, allow_custom_value=True,
                                          label="Documents to remove", scale=4,
                                          elem_id="vb-remove-pick")
                out["remove"] = gr.Button("Remove from the index", variant="stop", scale=1,
                                          elem_id="vb-remove")
            out["removed"] = gr.Markdown(elem_id="vb-removed")
    return out


def _wire_documents(service: ChatService, page, d: dict, status) -> None:
    if "remove" not in d:
        d["find"].change(service.documents_html, [d["find"]], [d["table"]],
                         api_visibility="private")
        return

    def listed(title: str = ""):
        return service.documents_html(title), gr.update(choices=service.removable(title))

    def remove(ids, title):
        message = service.remove(ids)
        return (message, service.documents_html(title),
                gr.update(choices=service.removable(title), value=[]), service.status())

    d["find"].change(listed, [d["find"]], [d["table"], d["pick"]], api_visibility="private")
    page.load(listed, [d["find"]], [d["table"], d["pick"]], api_visibility="private")
    d["remove"].click(remove, [d["pick"], d["find"]], [d["removed"], d["table"], d["pick"], status],
                      api_visibility="private", concurrency_id="index")


def _wire_uploads(service: ChatService, files, add, added, status, table) -> None:
    def upload(paths, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
        progress(0.1, desc="Indexing…")
        result = service.add_files(paths or [], received_in=get_upload_folder())
        return result.message, service.status(), None, service.documents_html()

    add.click(upload, [files], [added, status, files, table], api_name="add_files",
              concurrency_id="index")


def _wire_api(service: ChatService) -> None:
    def ask_api(question: str, k: int = 5, as_of: str = "") -> dict:
        """Answer one question (no history): the answer, its citations and passages; k is 1-50;
        as_of (YYYY-MM-DD, or empty for today) is the day a "this week" question means."""
        try:
            settings = ChatSettings(k=_whole(k), as_of=_day(as_of))
            return service.ask(question, settings=settings).to_dict()
        except RagError as e:
            raise gr.Error(str(e)) from e

    gr.api(ask_api, api_name="ask")


def _whole(k) -> int:
    """k as sent by a page or API client: whole numbers only (5.0 is 5)."""
    if isinstance(k, float) and k.is_integer():
        return int(k)
    if isinstance(k, int) and not isinstance(k, bool):
        return k
    raise InputError(f"k must be a whole number of passages from 1 to 50 (got {k!r})")


def _day(as_of) -> str | None:
    """The as-of box as sent: None when empty (ChatSettings checks the rest)."""
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return None
    return as_of.strip() if isinstance(as_of, str) else as_of


def _upload_panel(service: ChatService):
    with gr.Accordion("Add articles", open=False, elem_id="vb-upload"):
        files = gr.File(label=f"Files ({' '.join(SUFFIXES)}, up to "
                              f"{service.max_upload_bytes // 1_000_000} MB each)",
                        file_count="multiple", file_types=list(SUFFIXES), elem_id="vb-files")
        add = gr.Button("Add to the index", elem_id="vb-add")
        added = gr.Markdown(elem_id="vb-added")
    return files, add, added


def _settings_panel(service: ChatService):
    models = list(service.llm.models) if service.llm else []
    with gr.Accordion("Settings", open=False, elem_id="vb-settings"):
        k = gr.Slider(1, 20, value=5, step=1, label="Passages to retrieve (k)")
        answerer = gr.Radio(["extractive", "llm"] if service.llm else ["extractive"],
                            value="extractive", label="Answerer",
                            info="extractive: quotes only, offline. llm: the server's language "
                                 "model chooses the quotes; only verified quotes are shown"
                                 if service.llm else "extractive: quotes only, offline")
        model = gr.Dropdown(models or [""], value=models[0] if models else "",
                            label="LLM model", visible=len(models) > 1, elem_id="vb-model")
        as_of = gr.Textbox("", label="Read questions as of (YYYY-MM-DD)", max_length=32,
                           placeholder=f"empty: {service.as_of or 'today'}", elem_id="vb-as-of",
                           info="questions are read as of this day: articles of the week "
                                "before it come first. " + (
                                    f"Empty: the page's day, {service.as_of}" if service.as_of
                                    else "Empty: only a question that says 'this week' or "
                                         "'recently' is read as of today"))
    return k, answerer, model, as_of


def launch(service: ChatService, *, host: str = "127.0.0.1", port: int = 7860,
           auth: tuple[str, str] | None = None) -> gr.Blocks:
    """Start the page for `service` on host:port and return it, without blocking."""
    page = build(service)
    page.queue(default_concurrency_limit=EXTRACTIVE_TURNS)
    # The system's own fonts: the bundled ones draw some bold letters from a fallback font.
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    try:
        page.launch(server_name=host, server_port=port, css=SOURCES_CSS + DOCUMENTS_CSS + PAGE_CSS,
                    js=ARTICLE_JS, theme=theme,
                    auth=LoginThrottle(*auth) if auth else None, quiet=True,
                    show_error=False, max_file_size=service.max_upload_bytes, ssr_mode=False,
                    prevent_thread_lock=True, footer_links=["api"], run_history=False)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: the port is taken or the address is "
                         "not this machine's; choose another with --port or --host") from e
    return page


def serve(retriever, *, host: str = "127.0.0.1", port: int = 7860,
          auth: tuple[str, str] | None = None, feedback_path=None, uploads_dir=None,
          llm=None, llm_slots: int = 2, allow_replace: bool = False,
          allow_remove: bool = False, answer_config=None, as_of: str | None = None) -> None:
    """Serve the page until interrupted (`rag serve` has warmed the models already)."""
    service = ChatService(retriever, feedback_path=feedback_path, uploads_dir=uploads_dir,
                          llm=llm, llm_slots=llm_slots, allow_replace=allow_replace,
                          allow_remove=allow_remove, answer_config=answer_config, as_of=as_of)
    page = launch(service, host=host, port=port, auth=auth)
    print(f"ready: http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}",
          flush=True)
    page.block_thread()
