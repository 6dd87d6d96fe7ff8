"""The red-team script's own parts (`bench.redteam`, `bench.redteam_kit`), without a server:
its stubs speak the chat protocol, and it talks to a page that takes an LLM URL (as before
issue 12) and to one that takes only a model name."""

from __future__ import annotations

import json
import urllib.request

import pytest

from bench import redteam
from bench.redteam_kit import FABRICATED, Page, Stub, bot_text

PROMPT = ("Passages:\n\n[1] Title: T\nDate: unknown\nText: First real sentence. Second one.\n\n"
          "Question: q")


def _page(params: list[str]) -> Page:
    page = object.__new__(Page)
    page.chat_params, page.operator_llm = params, "http://127.0.0.1:9/v1"
    return page


def test_chat_arguments_for_an_old_and_a_new_page():
    old = _page(["message", "k", "answerer", "llm_url", "llm_model"])
    new = _page(["message", "k", "answerer", "model"])
    assert old.chat_args("q", answerer="llm")["llm_url"] == "http://127.0.0.1:9/v1"
    assert old.chat_args("q", url="http://evil/v1")["llm_url"] == "http://evil/v1"
    assert new.chat_args("q") == {"message": "q", "k": 5, "answerer": "extractive"}
    assert new.chat_args("q", url="http://evil/v1")["model"] == "http://evil/v1"


@pytest.mark.parametrize("mode, says", [("fabricate", FABRICATED), ("quote", "passage says")])
def test_the_llm_stub_wraps_its_claim_around_the_first_sentence(mode, says):
    stub = Stub(mode)
    try:
        body = json.dumps({"messages": [{"role": "user", "content": PROMPT}]}).encode()
        request = urllib.request.Request(stub.url + "/chat/completions", data=body,
                                         headers={"Authorization": "Bearer k"})
        with urllib.request.urlopen(request, timeout=10) as r:
            reply = json.loads(r.read())["choices"][0]["message"]["content"]
    finally:
        stub.close()
    assert says in reply and reply.endswith('[1: "First real sentence"].')
    assert stub.requests[0]["authorization"] == "Bearer k"


def test_bot_text_reads_both_message_shapes():
    assert bot_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert bot_text([{"role": "assistant", "content": [{"type": "text", "text": "b"}]}]) == "b"
    assert bot_text([]) == ""


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        redteam.main(["--help"])
    assert e.value.code == 0 and "--no-logins" in capsys.readouterr().out
