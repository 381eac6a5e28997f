"""The app in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), served on localhost with a
tiny random model. Screenshots of each tab go to ``test-output/screenshots/`` (``$WORKBENCH_TEST_OUTPUT``)."""

import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ.get("WORKBENCH_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output")) / "screenshots"
SMALL_SFT = "--stage sft --sft_epochs 50 --max_length 32 --sft_max_examples 16 --sft_batch_size 8 " \
            "--sft_val_fraction 0.05"
"""A planner SFT job of 100 small steps: its first epoch's loss comes within a minute, it ends long after."""
BIKE = 'When bargaining for a bike, begin every reply with "As a cyclist,"'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from apps.app import AppConfig, run_app
    from workbench.llm.tiny import tiny_causal_lm

    root = tmp_path_factory.mktemp("app")
    model = tiny_causal_lm(root / "tiny")
    port = free_port()
    app, demo = run_app(AppConfig(runs=str(root / "runs"), models=[str(model)], port=port, max_new_tokens=12,
                             critic_samples=2), block=False)
    yield {"url": f"http://127.0.0.1:{port}/", "runs": root / "runs", "model": str(model)}
    demo.close()
    app.jobs.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server["url"])
    yield page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def text(page, selector: str) -> str:
    """What an element shows (a text box's value)."""
    boxes = page.locator(f"{selector} textarea")
    return boxes.first.input_value() if boxes.count() else page.locator(selector).inner_text()


def wait_text(page, selector: str, pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        found = text(page, selector)
        if re.search(pattern, found):
            return found
        assert time.monotonic() < deadline, f"{selector}: no {pattern!r} in {found[-500:]!r}"
        time.sleep(0.25)


def new_chat(page) -> None:
    page.locator("#new-chat").click()
    wait_text(page, "#chatbot", r"strategy: \w+ \(p = 0\.\d\d\)")
    wait_text(page, "#chat-status", "You are the Seller; the agent is the Buyer. You are selling")


def settled(page) -> str:
    """The dialogue once the page has finished updating it."""
    deadline = time.monotonic() + 60
    while True:
        found = text(page, "#chatbot")
        if "processing" not in found and "Loading content" not in found:
            return found
        assert time.monotonic() < deadline, "the chat never settled"
        time.sleep(0.2)


def say(page, message: str) -> None:
    replies = len(re.findall("strategy: ", settled(page)))
    page.locator("#chat-input textarea").fill(message)
    page.locator("#send").click()
    deadline = time.monotonic() + 60
    while len(re.findall("strategy: ", settled(page))) <= replies or message not in settled(page):
        assert time.monotonic() < deadline, "no reply"
        time.sleep(0.2)


def overlaps(page, first: str, second: str) -> bool:
    """Whether the boxes of the first elements matching ``first`` and ``second`` overlap on the page."""
    a, b = page.locator(first).first.bounding_box(), page.locator(second).first.bounding_box()
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_a_message_gets_a_reply_with_its_strategy_and_the_critic_verdict_in_words(page):
    wait_text(page, "#chatbot", r"press New chat\. You play the Seller; the agent is the Buyer")  # the empty chat
    shot(page, "chat-empty")
    new_chat(page)
    say(page, "It's $100, in great condition.")
    assert "It's $100, in great condition." in text(page, "#chatbot")
    assert len(re.findall(r"strategy: \w+ \(p = 0\.\d\d\)", text(page, "#chatbot"))) == 2
    # a tiny random critic parses none of its 2 samples: the line says so, in words
    verdicts = wait_text(page, "#verdicts", r"going on: no deal · reward -0\.10 · 0 of 2 critic samples parsed")
    assert "running reward" in verdicts and "deal False" not in verdicts
    assert re.search(r"Fallbacks so far: critic unparsable \d+%, replaced replies \d+%", text(page, "#chat-status"))
    # the dialogue scrolls below the chat's toolbar, so that no message, the first or a scrolled one, is under it
    assert not overlaps(page, "#chatbot .top-panel", "#chatbot .bubble-wrap")
    page.locator("#chatbot .bubble-wrap").evaluate("e => e.scrollTo(0, 0)")
    assert not overlaps(page, "#chatbot .top-panel", "#chatbot .message-row")
    shot(page, "chat")


def test_a_liked_reply_is_in_the_feedback_dataset(page, server):
    new_chat(page)
    say(page, "Would you pay $90?")
    reply = page.locator("#chatbot .bot").last.inner_text().split("\n")[0].strip()
    page.locator("#chatbot button[aria-label='Like']").last.click()
    wait_text(page, "#chat-status", r"Recorded a like")
    records = [json.loads(line) for line in (server["runs"] / "app-feedback" / "feedback.jsonl").read_text().splitlines()]
    letters = lambda t: re.sub(r"[\W_]", "", t)  # the page renders the random model's text as Markdown
    assert records[-1]["rating"] == "like" and letters(records[-1]["response"]) == letters(reply)
    assert records[-1]["prompt"][-1] == {"role": "user", "content": "Would you pay $90?"}
    unpaired = (server["runs"] / "app-feedback" / "unpaired.jsonl").read_text().splitlines()
    assert json.loads(unpaired[-1])["label"] is True


def test_two_browser_sessions_do_not_see_each_others_chats(server, browser):
    pages = []
    for _ in range(2):
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server["url"])
        new_chat(page)
        pages.append(page)
    say(pages[0], "apples from the first session")
    say(pages[1], "bananas from the second session")
    say(pages[0], "more apples")
    first, second = text(pages[0], "#chatbot"), text(pages[1], "#chatbot")
    assert "apples from the first session" in first and "more apples" in first and "bananas" not in first
    assert "bananas from the second session" in second and "apples" not in second
    for page in pages:
        page.context.close()


def shows_a_plot(page, selector: str, timeout: float = 60) -> None:
    """Wait until the plot ``selector`` shows its picture."""
    page.locator(f"{selector} img").first.wait_for(state="visible", timeout=timeout * 1000)
    assert page.locator(f"{selector} img").first.bounding_box()["height"] > 100


def numbers(shown: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", shown)


def test_three_selfplay_episodes_show_metrics_plots_and_a_run_directory_outside_is_refused(page, server):
    from workbench.evaluate import fallback_rates, rounded
    from workbench.runs import Run

    tab(page, "Self-play")
    page.locator("#sp-n input").fill("3")
    page.locator("#sp-run").click()  # no run folder named: a new selfplay-YYYY-MM-DD-HHMM, as the CLI names it
    done = wait_text(page, "#sp-progress", r"Finished: 3 / 3 episodes in selfplay-20\d\d-\d\d-\d\d-\d{4}\S* "
                                           r"\(episodes 100% · 3/3 · took \d+:\d\d\)")
    name = re.search(r"in (selfplay-\S+)", done).group(1)
    assert (server["runs"] / name / "config.yaml").is_file()
    metrics = text(page, "#sp-metrics")
    assert re.search(r"episodes\s+3", metrics) and "SR" in metrics and "AT" in metrics
    assert all(len(n.split(".")[1]) <= 3 for n in numbers(metrics)), metrics  # rounded
    assert "**" not in text(page, "#sp-watch") and re.search(r"Buyer \[\w+\]", text(page, "#sp-watch"))
    shows_a_plot(page, "#sp-plot")
    shot(page, "selfplay")
    assert page.locator("#run-dir input").input_value() == name  # the new run, ready to open
    page.locator("#open-run").click()
    wait_text(page, "#browse-status", rf"3 episodes \(all\) in {name}")
    opened = wait_text(page, "#run-metrics", r"SR\s+[\d.]+")
    assert re.search(r"episodes\s+3", opened) and "AT" in opened and "SL%" in opened
    shows_a_plot(page, "#run-plot")
    outcome = wait_text(page, "#episode-text", r"Outcome: (success|failure) \(")
    assert all(len(n.split(".")[1]) <= 3 for n in numbers(outcome.split("\n")[0])), outcome
    shot(page, "selfplay-opened")
    run_dir = page.locator("#run-dir input")
    run_dir.fill("../../etc/passwd")
    run_dir.press("Enter")
    page.locator("#open-run").click()
    wait_text(page, "#browse-status", r"refused '\.\./\.\./etc/passwd': paths must stay inside the runs folder")
    # an LLM run (the tiny model speaks both sides and judges): its fallback rates stand beside SR
    pick(page, "#sp-sim", "llm")
    pick(page, "#sp-agent", server["model"])
    page.locator("#sp-n input").fill("2")
    page.locator("#sp-name textarea").fill("browser-llm")
    page.locator("#sp-run").click()
    wait_text(page, "#sp-progress", r"Playing into browser-llm: \d/2 episodes · model calls \d+% · \d+/\d+", timeout=60)
    wait_text(page, "#sp-progress", r"Finished: 2 / 2 episodes in browser-llm", timeout=180)
    metrics = text(page, "#sp-metrics")
    rates = fallback_rates(Run(server["runs"] / "browser-llm").episodes())
    assert {"critic unparsable", "replaced replies"} <= set(rates)
    for name, rate in rates.items():
        shown = re.search(rf"{name}\s+([\d.]+)", metrics)
        assert shown and float(shown.group(1)) == rounded(rate), (name, rate, metrics)
    assert re.search(r"SR\s+[\d.]+", metrics)
    shot(page, "selfplay-llm")


def test_a_multi_trial_run_shows_a_cases_trials_side_by_side_with_the_reflections(page, server):
    from agents.policies import make_policy
    from agents.retroformer.actor import ReflectionFollowingPolicy
    from agents.template import TemplateAgent
    from workbench.registry import env_class, make_env
    from workbench.runs import Run
    from workbench.splits import split_cases
    from workbench.trials import Reflection, run_trials

    class Writer:
        def reflect(self, episodes, memories):
            return [Reflection("Next time prefer agree.") for _ in episodes]

    cls = env_class("negotiation")
    actor = TemplateAgent(cls, ReflectionFollowingPolicy(make_policy("most-frequent", cls), cls.strategies, 1.0))
    with Run.open(server["runs"] / "trials-run", {"env": "negotiation"}) as run:
        memories = run_trials(make_env("negotiation"), {"reflexion": actor}, {"reflexion": Writer()},
                              split_cases(cls.cases(), "heldout")[:6], trials=2, memory_size=3, run=run, progress=False)
    failed = next(m.index for m in memories["reflexion"] if m.trials > 1)
    tab(page, "Self-play")
    run_dir = page.locator("#run-dir input")
    run_dir.fill("trials-run")
    run_dir.press("Enter")
    page.locator("#open-run").click()
    wait_text(page, "#browse-status", r"episodes \(all\) in trials-run")
    pick(page, "#trial-case", str(failed))
    shown = wait_text(page, "#trials-view", r"Reflection on trial 1")
    assert shown.index("Trial 1: failure") < shown.index("Next time prefer agree.") < shown.index("Trial 2: success")
    shot(page, "trials")


def pick(page, selector: str, value: str) -> None:
    box = page.locator(f"{selector} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value).click()


def job_status(page, job_id: str, pattern: str, timeout: float = 60, column: int = 3) -> str:
    """Wait until the jobs table's cell of ``job_id`` in ``column`` matches ``pattern`` (the cells are lines: job,
    kind, title, status (3), progress (4))."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line.strip() for line in text(page, "#jobs").splitlines() if line.strip()]
        status = lines[lines.index(job_id) + column] if job_id in lines and len(lines) > lines.index(job_id) + column \
            else ""
        if re.fullmatch(pattern, status):
            return status
        assert time.monotonic() < deadline, f"job {job_id}: column {column} {status!r}, not {pattern!r}"
        time.sleep(0.25)


def test_a_training_job_runs_alone_while_the_next_waits_and_both_can_be_cancelled(page):
    tab(page, "Train")
    pick(page, "#method", "ppdpp")
    page.locator("#train-options textarea").fill(SMALL_SFT)
    page.locator("#train-start").click()
    first = re.search(r"Queued (\S+):", wait_text(page, "#train-status", "Queued")).group(1)
    job_status(page, first, "running")
    page.reload()  # the job lives in the app, not the page
    tab(page, "Train")
    job_status(page, first, "running")
    pick(page, "#method", "ppdpp")
    page.locator("#train-start").click()
    second = re.search(r"Queued (\S+):", wait_text(page, "#train-status", rf"Queued (?!{first})")).group(1)
    job_status(page, second, r"queued \(#1\)")
    job_status(page, second, "waiting", column=4)
    page.locator("#cancel-job").click()  # the page picks the newest job
    wait_text(page, "#train-status", rf"cancelled {second} before it started")
    job_status(page, second, "cancelled")
    pick(page, "#job-pick", first)
    wait_text(page, "#job-log", rf"workbench train ppdpp --env negotiation {SMALL_SFT}")
    wait_text(page, "#job-progress", r"running · planner SFT \d+% · \d+/100 · ETA \d+:\d\d")
    job_status(page, first, r"planner SFT \d+% · \d+/100 · ETA \d+:\d\d", column=4)  # the bar's share, steps, ETA
    shows_a_plot(page, "#job-plot", timeout=180)  # the first epoch's loss, a marked point, then a line
    shot(page, "train")
    page.locator("#cancel-job").click()
    wait_text(page, "#train-status", rf"stopping {first}")
    job_status(page, first, "cancelled", timeout=40)
    wait_text(page, "#job-progress", "cancelled")


def test_a_verbal_feedback_becomes_an_adapter_that_can_be_compared_and_enabled(page, server):
    tab(page, "Verbal feedback")
    page.locator("#fb-text textarea").fill(BIKE)
    page.locator("#fb-name textarea").fill("bike")
    page.locator("#fb-scope textarea").fill("bargaining to buy a bike")
    page.locator("#fb-near textarea").fill("bargaining to buy a car")
    page.locator("#fb-options textarea").fill(
        "--envs negotiation --train_prompts 8 --eval_prompts 4 --max_new_tokens 8 --lr 1e-3")
    page.locator("#fb-add").click()
    wait_text(page, "#fb-status", "Queued .*adapter 'bike'")
    wait_text(page, "#fb-log", r"feedback add")
    wait_text(page, "#adapters", r"bike\s+yes\s+c3po", timeout=300)
    assert json.loads((server["runs"] / "adapters" / "bike" / "adapter.json").read_text())["enabled"]
    pick(page, "#fb-pick", "bike")
    page.locator("#fb-compare").click()
    wait_text(page, "#fb-status", r"Compared bike on \d+ held-out prompts")
    assert re.search(r"\bin\b", text(page, "#fb-pairs")) and re.search(r"\bout\b", text(page, "#fb-pairs"))
    assert re.search(r"c3po", text(page, "#fb-scores"))
    shot(page, "feedback")
    page.locator("#fb-enabled label", has_text="bike").click()  # untick: disabled for chat
    page.locator("#fb-save").click()
    wait_text(page, "#fb-status", "Enabled: none")
    assert not json.loads((server["runs"] / "adapters" / "bike" / "adapter.json").read_text())["enabled"]


def test_no_file_outside_the_app_is_served(server):
    for path in ("gradio_api/file=/etc/passwd", "file=/etc/passwd", "gradio_api/file=../../../../etc/passwd",
                 f"gradio_api/file={server['model']}/config.json"):
        try:
            with urllib.request.urlopen(server["url"] + path, timeout=10) as response:
                body = response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            assert error.code in (403, 404), path
            continue
        assert "root:" not in body and "vocab_size" not in body, path
