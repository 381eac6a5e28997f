"""The app's chat on a real model: the first reply in a browser, and several sessions at once.

1. Serves ``workbench app`` (the model loaded before serving), opens it in headless Chromium, starts a
   chat and times the agent's reply to the first message: the critic's judgement of the message plus
   the agent's next turn, as the person waits for them.
2. Plays one turn in each of ``--sessions`` chats, first one session after another, then all at once
   from threads (as browser sessions do), where the shared model's queue batches their requests.
   Prints both times and their ratio (one at a time / together).

With ``--against SPEC`` step 1 runs on both models (each app serving one) and prints the ratio of the first
replies instead of step 2: e.g. the embedded Gemma on transformers vs on llama.cpp.

    python benchmarks/app_chat.py --model embedded:gemma-3-270m --sessions 4
    python benchmarks/app_chat.py --model embedded:gemma-3-270m@transformers --against embedded:gemma-3-270m@llamacpp
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

from agents.policies import RandomPolicy
from apps.app import AppConfig, build_app, run_app
from apps.chat import pick_case
from apps.gui.chat import ChatSession
from agents.simulation import make_agent
from workbench.registry import env_class, make_critic

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def first_reply(args: argparse.Namespace, runs: str, spec: str) -> tuple[float, float, float]:
    """(load s, first agent turn s, reply to the first message s) in the browser, the app serving ``spec``."""
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    _, demo = run_app(AppConfig(runs=runs, models=[spec], port=args.port, critic_samples=args.critic_samples),
                   block=False)
    loaded = time.perf_counter() - started
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(f"http://127.0.0.1:{args.port}/")
            started = time.perf_counter()
            page.locator("#new-chat").click()
            page.wait_for_function("document.querySelector('#chat-status').innerText.toLowerCase().includes('you are the')")
            opened = time.perf_counter() - started
            page.locator("#chat-input textarea").fill("Hi! It's in great condition. I'm asking the listed price.")
            started = time.perf_counter()
            page.locator("#send").click()
            page.wait_for_function("document.querySelectorAll('#verdicts tbody tr').length >= 1 && "
                                   "(document.querySelector('#chatbot').innerText.match(/strategy: /g) || []).length >= 2")
            replied = time.perf_counter() - started
            page.screenshot(path=f"{runs}/first-reply.png", full_page=True)
            browser.close()
    finally:
        demo.close()
    return loaded, opened, replied


def sessions(args: argparse.Namespace, runs: str) -> tuple[float, float]:
    """Seconds for one turn of every session, one session after another, then all at once."""
    app, _ = build_app(AppConfig(runs=runs, models=[args.model], critic_samples=args.critic_samples))
    cls = env_class("negotiation")
    model = app.models.get(args.model)
    cases = cls.cases()

    def start(i: int) -> ChatSession:
        agent = make_agent(cls, model, RandomPolicy(cls.strategies), app.config.temperature, app.config.max_new_tokens)
        critic = make_critic(cls, "llm", "human", model, samples=args.critic_samples)
        return ChatSession.start(cls, agent, critic, pick_case(cases, "", i), seed=i)

    timings = []
    for together in (False, True):
        chats = [start(i) for i in range(args.sessions)]
        started = time.perf_counter()
        if together:
            threads = [threading.Thread(target=c.send, args=("That's too low. I can do $10 less.",)) for c in chats]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for chat in chats:
                chat.send("That's too low. I can do $10 less.")
        timings.append(time.perf_counter() - started)
    print(f"batches of the shared model in the concurrent round: {model.batch_sizes[-4:]}")
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma-3-270m")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--critic-samples", type=int, default=5)
    parser.add_argument("--port", type=int, default=7899)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--against", metavar="SPEC", help="time the first reply on this model too, and compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        specs = [args.model, args.against] if args.against else [args.model]
        replies = {}
        if not args.skip_browser:
            for i, spec in enumerate(specs):  # each app in its own runs folder (an app locks its jobs)
                loaded, opened, replied = first_reply(args, f"{runs}/app{i}", spec)
                replies[spec] = replied
                print(f"{spec}: model load before serving: {loaded:.1f} s; first agent turn: {opened:.1f} s; "
                      f"reply to the first message (critic + agent): {replied:.1f} s")
        if args.against:
            if replies:
                print(f"ratio of the first replies {args.model} / {args.against}: "
                      f"{replies[args.model] / replies[args.against]:.2f}x")
            return
        alone, together = sessions(args, runs)
        print(f"{args.sessions} sessions, one turn each: one at a time {alone:.1f} s, together {together:.1f} s, "
              f"ratio {alone / together:.2f}x")

if __name__ == "__main__":
    main()
