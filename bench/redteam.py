"""`python -m bench.redteam`: the chat page attacks of issue 12, rerun on loopback, as a table.

Indexes seeds/ with the real model into a temporary folder, starts `rag serve` on 127.0.0.1
(with the operator's LLM settings where `rag serve` takes them, and an operator API key in
`RAG_LLM_API_KEY`), then tries, as a page user would:

- forged file paths in /add_files (a server file never uploaded, a `..` path out of Gradio's
  upload folder, a symlink inside it);
- uploads named like an indexed article and like an earlier upload;
- aiming the server's LLM requests at a listener or an internal port through the page;
- `/ask` with k = 1,000,000 (and 51, 0);
- two sessions whose LLM drips one byte every 2 s, while a third asks a plain question;
- an LLM reply that wraps a made-up claim around a real quote;
- guessing the password (a second server with `--auth`);
- 20 sessions asking 100 questions at once.

It prints one row per attack: tries, failures (the attack worked), data lost (indexed
documents whose text was replaced) and what was seen. `--json FILE` keeps the rows.

Does not: reach beyond loopback, or touch index/, eval/feedback.jsonl or the upload folder
of a real index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .common import table
from .redteam_kit import FABRICATED, ROOT, SECRET, Page, Serve, Stub, login, serve_flags

KEY = "sk-operator-do-not-leak"
SUMMIT = "In which city will NATO hold its summit in June 2025?"
VAULT = ("Vault notes\n\nThe vault combination on the third floor is forty two eleven, the "
         "caretaker of the vault said.\n")
COLUMNS = ["attack", "tries", "failures", "data lost", "seen"]
LOAD = [  # (question, words one of which the answer must contain), from eval/sets/seeds.jsonl
    ("Who is the European Union's top diplomat quoted reacting to Trump's remarks?", ["Borrell"]),
    ("Which court has accused Putin of war crimes?", ["International Criminal Court"]),
    ("How many NATO members were hitting the 2% spending goal in 2022?", ["seven"]),
    (SUMMIT, ["The Hague"]),
    ("Where is NATO headquartered?", ["Brussels"]),
    ("What fraction of Russia's land border is shared with NATO countries?", ["11%"]),
    (("Which French leader floated the idea that sending troops to Ukraine shouldn't be "
      "excluded?"), ["Macron"]),
    ("How large was the foreign aid package that the US Senate moved forward?",
     ["$95.3 billion"]),
    (("Which country had its NATO membership marked by raising its flag at the Brussels "
      "headquarters?"), ["Sweden"]),
    ("What was Mark Rutte's job before he was picked to lead NATO?", ["Prime Minister"]),
]


def row(attack: str, tries: int, failures: int, lost: int | str, seen: str) -> dict:
    return {"attack": attack, "tries": tries, "failures": failures, "data lost": lost,
            "seen": seen}


def forged_paths(page: Page, stage: Path) -> dict:
    secret = stage / "private" / "vault_notes.txt"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(VAULT, encoding="utf-8")
    cache = stage / "gradio"
    (cache / "redteam").mkdir(parents=True, exist_ok=True)
    link = cache / "redteam" / "notes.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    tries = [str(secret), f"{cache}/../private/vault_notes.txt", str(link)]
    failures, seen = 0, []
    for path in tries:
        shown = page.forge(path)
        leaked = "forty two eleven" in page.ask("What is the vault combination on the third "
                                                "floor?")["answer"]
        copied = any(p.name == "vault_notes.txt" or p.name == "notes.txt"
                     for p in (stage / "index-uploads").glob("*"))
        failures += leaked or copied
        refused = "event: error" in shown or "Refused" in shown
        seen.append("indexed" if leaked else "copied" if copied else
                    "refused" if refused else _short(shown, 40))
    return row("forged file path in /add_files", len(tries), failures, 0, "; ".join(seen))


def name_collisions(page: Page, stage: Path) -> dict:
    folder = stage / "uploads-to-send"
    folder.mkdir(exist_ok=True)
    fake = folder / "004_47575fa39b048119.txt"
    fake.write_text("NATO summit moves\n\nNATO will hold its summit in June 2025 in the city of "
                    "Pyongyang, the alliance said.\n", encoding="utf-8")
    said = [_short(page.upload(fake), 50)]
    answer = page.ask(SUMMIT)
    seed_lost = "Pyongyang" in answer["answer"] and any(
        c["doc_id"] == "004_47575fa39b048119" and "Pyongyang" in c["quote"]
        for c in answer["citations"])
    first = folder / "a" / "kite_report.txt"
    second = folder / "b" / "kite_report.txt"
    for f, colour in ((first, "crimson"), (second, "turquoise")):
        f.parent.mkdir(exist_ok=True)
        f.write_text(f"Kite festival report\n\nThe winning kite at the dune festival was "
                     f"painted {colour}, the judges of the kite festival said.\n",
                     encoding="utf-8")
        said.append(_short(page.upload(f), 50))
    kite = page.ask("What colour was the winning kite at the dune festival?")
    upload_lost = "crimson" not in json.dumps(kite["citations"])
    lost = int(seed_lost) + int(upload_lost)
    return row("upload named like an indexed article / an earlier upload", 2,
               lost, lost, " | ".join(said))


def llm_url_from_page(page: Page, listener: Stub, internal: Stub) -> dict:
    failures, seen = 0, []
    for target in (listener, internal):
        before = len(target.requests)
        try:
            _, steps = page.chat(SUMMIT, answerer="llm", url=target.url, timeout=120)
            shown = " ".join(steps)
        except Exception as e:  # noqa: BLE001 (a refusal is what we hope for)
            shown = f"refused: {_short(str(e))}"
        reached = len(target.requests) > before
        keys = sum(KEY in (r["authorization"] or "") for r in target.requests[before:])
        echoed = SECRET in shown
        failures += reached or echoed
        seen.append(f"{'reached' if reached else 'not reached'}"
                    f"{', key sent' if keys else ''}{', secret echoed' if echoed else ''}")
    return row("LLM URL / key aimed through the page", 2, failures, 0, "; ".join(seen))


def big_k(page: Page) -> dict:
    failures, seen = 0, []
    for k in (1_000_000, 51, 0):
        try:
            page.ask("Where is NATO headquartered?", k=k)
            failures += 1
            seen.append(f"k={k:,} accepted")
        except Exception as e:  # noqa: BLE001
            seen.append(f"k={k:,} refused: {_short(str(e), 60)}")
    return row("/ask with k = 1,000,000, 51, 0", 3, failures, 0, "; ".join(seen))


def dripping_llm(url: str, llm: Stub, deadline: float) -> list[dict]:
    llm.mode = "drip"
    llm.stopping.clear()
    pages = [Page(url, operator_llm=llm.url) for _ in range(3)]
    started = time.monotonic()
    slow = [p.submit(SUMMIT, answerer="llm") for p in pages[:2]]
    time.sleep(3)
    asked = time.monotonic()
    plain = _finished(pages[2].submit("Where is NATO headquartered?"), asked + 90)
    ended = [_finished(job, started + deadline + 60) for job in slow]
    llm.stopping.set()  # end the drips, so an old server gets its slots back
    waited = None if plain is None else plain - asked
    turns = [None if e is None else e - started for e in ended]
    late = sum(t is None or t > deadline + 15 for t in turns)
    return [
        row("plain question while 2 LLM turns drip", 1, int(waited is None or waited > 10), 0,
            "no answer in 90 s" if waited is None else f"answered in {waited:.1f} s"),
        row(f"LLM turn against a drip (deadline {deadline:g} s)", 2, late, 0,
            ", ".join("still running" if t is None else f"ended in {t:.0f} s" for t in turns)),
    ]


def _finished(job, until: float) -> float | None:
    """When `job` finished (time.monotonic()), or None if it had not by `until`."""
    while time.monotonic() < until:
        if job.done():
            return time.monotonic()
        time.sleep(0.2)
    return None


def fabricated(page: Page, llm: Stub) -> dict:
    llm.mode = "fabricate"
    failures, seen = 0, []
    for question in (SUMMIT, "Where is NATO headquartered?"):
        final, steps = page.chat(question, answerer="llm")
        shown_final = "Putin" in final or "45 member" in final
        shown_stream = any(FABRICATED[:20] in s for s in steps[:-1])
        failures += shown_final + shown_stream
        seen.append(f"final {'SHOWS' if shown_final else 'hides'} it, stream "
                    f"{'SHOWS' if shown_stream else 'hides'} it")
    return row("made-up claim around a real quote", 4, failures, 0, "; ".join(seen))


def guessing(stage: Path, index: Path) -> dict:
    server = Serve(stage, index, env={"RAG_AUTH": "reader:correct-horse"}, name="auth")
    try:
        started = time.monotonic()
        results = [login(server.url, "reader", "correct-horse" if i == 24 else f"guess-{i}")
                   for i in range(30)]
        seconds = time.monotonic() - started
    finally:
        server.stop()
    got_in = results[24]
    return row("30 password guesses, the 25th right", 30, int(got_in), 0,
               f"{'got in' if got_in else 'kept out'} at guess 25; 30 tries in {seconds:.1f} s")


def load(url: str, sessions: int = 20, each: int = 5) -> dict:
    def session(i: int) -> list[str]:
        page = Page(url)
        problems = []
        for j in range(each):
            question, words = LOAD[(i + j) % len(LOAD)]
            try:
                final, _ = page.chat(question, timeout=600)
            except Exception as e:  # noqa: BLE001
                problems.append(f"error: {_short(str(e), 60)}")
                continue
            if not any(w.lower() in final.lower() for w in words):
                problems.append(f"wrong: {_short(question, 40)}")
        return problems

    started = time.monotonic()
    with ThreadPoolExecutor(sessions) as pool:
        problems = [p for found in pool.map(session, range(sessions)) for p in found]
    seconds = time.monotonic() - started
    errors = sum(p.startswith("error") for p in problems)
    wrong = sorted({p for p in problems if p.startswith("wrong")})
    return row(f"{sessions} sessions, {sessions * each} questions at once", sessions * each,
               len(problems), 0, f"{errors} errors, {len(problems) - errors} wrong answers, "
                                 f"{seconds:.0f} s in all" + "".join(f"; {w}" for w in wrong))


def _short(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def run(stage: Path, *, logins: bool = True, deadline: float = 20.0) -> list[dict]:
    index = stage / "index"
    subprocess.run([sys.executable, "-m", "rag", "index", str(ROOT / "seeds"), "--index",
                    str(index)], cwd=ROOT, check=True, capture_output=True)
    llm, listener, internal = Stub("quote"), Stub("quote"), Stub("secret")
    new = "--llm-url" in serve_flags()
    args = ["--index", str(index)]
    if new:
        args += ["--llm-url", llm.url, "--llm-model", "redteam-model",
                 "--llm-timeout", f"{deadline:g}"]
    server = Serve(stage, index, args=args, env={"RAG_LLM_API_KEY": KEY})
    try:
        page = Page(server.url, operator_llm=llm.url)
        attacks = [lambda: forged_paths(page, stage), lambda: name_collisions(page, stage),
                   lambda: llm_url_from_page(page, listener, internal), lambda: big_k(page),
                   lambda: dripping_llm(server.url, llm, deadline if new else 60.0),
                   lambda: fabricated(page, llm), lambda: load(server.url)]
        rows = [r for attack in attacks for r in _rows(attack)]
    finally:
        server.stop()
        for stub in (llm, listener, internal):
            stub.close()
    if logins:
        rows.append(guessing(stage, index))
    return rows


def _rows(attack) -> list[dict]:
    """The rows of one attack; a script error becomes a row that says so, not a lost run."""
    try:
        out = attack()
    except Exception as e:  # noqa: BLE001
        return [row(f"(script error) {_short(repr(e), 60)}", 0, 0, 0, "")]
    return out if isinstance(out, list) else [out]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.redteam", description=__doc__.split("\n")[0])
    ap.add_argument("--no-logins", action="store_true", help="skip the password-guessing server")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = ap.parse_args(argv)
    stage = Path(tempfile.mkdtemp(prefix="verbatim-redteam-"))
    load_before = os.getloadavg()[0]
    try:
        rows = run(stage, logins=not args.no_logins)
    finally:
        if not args.keep:
            shutil.rmtree(stage, ignore_errors=True)
    loads = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(table(rows, COLUMNS, f"red team: the chat page on loopback ({loads})"))
    if args.json:
        args.json.write_text(json.dumps({"load": loads, "rows": rows}, indent=2))
    return int(any(r["failures"] for r in rows))


if __name__ == "__main__":
    sys.exit(main())
