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
    wait_text(page, "#chat-status", "you are the Seller")


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


def test_a_message_gets_a_reply_with_its_strategy_and_the_critic_verdict(page):
    new_chat(page)
    say(page, "It's $100, in great condition.")
    assert "It's $100, in great condition." in text(page, "#chatbot")
    assert len(re.findall(r"strategy: \w+ \(p = 0\.\d\d\)", text(page, "#chatbot"))) == 2
    verdicts = wait_text(page, "#verdicts", r"\b[0-2] / 2\b")  # unparsable of the critic's 2 samples
    assert re.search(r"\b1\b", verdicts) and "running reward" in verdicts and "unparsable samples" in verdicts
    assert re.search(r"Fallbacks so far: critic unparsable \d+%, replaced replies \d+%", text(page, "#chat-status"))
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


def test_three_selfplay_episodes_show_metrics_and_a_run_directory_outside_is_refused(page, server):
    from workbench.evaluate import fallback_rates
    from workbench.runs import Run

    tab(page, "Self-play")
    page.locator("#sp-n input").fill("3")
    page.locator("#sp-name textarea").fill("browser")
    page.locator("#sp-run").click()
    wait_text(page, "#sp-progress", r"Finished: 3 / 3 episodes in selfplay/browser")
    metrics = text(page, "#sp-metrics")
    assert re.search(r"episodes\s+3", metrics) and "SR" in metrics and "AT" in metrics
    assert "**" not in text(page, "#sp-watch") and re.search(r"Buyer \[\w+\]", text(page, "#sp-watch"))
    shot(page, "selfplay")
    run_dir = page.locator("#run-dir input")
    run_dir.fill("selfplay/browser")
    run_dir.press("Enter")
    page.locator("#open-run").click()
    wait_text(page, "#browse-status", r"3 episodes \(all\) in selfplay/browser")
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
    wait_text(page, "#sp-progress", r"Finished: 2 / 2 episodes in selfplay/browser-llm", timeout=180)
    metrics = text(page, "#sp-metrics")
    rates = fallback_rates(Run(server["runs"] / "selfplay" / "browser-llm").episodes())
    assert {"critic unparsable", "replaced replies"} <= set(rates)
    for name, rate in rates.items():
        shown = re.search(rf"{name}\s+([\d.]+)", metrics)
        assert shown and float(shown.group(1)) == round(rate, 4), (name, rate, metrics)
    assert re.search(r"SR\s+[\d.]+", metrics)
    shot(page, "selfplay-llm")


def pick(page, selector: str, value: str) -> None:
    box = page.locator(f"{selector} input")
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value).click()


def job_status(page, job_id: str, pattern: str, timeout: float = 60) -> str:
    """Wait until the jobs table's status cell of ``job_id`` matches ``pattern`` (the cells are lines: job,
    kind, title, status, progress)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line.strip() for line in text(page, "#jobs").splitlines() if line.strip()]
        status = lines[lines.index(job_id) + 3] if job_id in lines else ""
        if re.fullmatch(pattern, status):
            return status
        assert time.monotonic() < deadline, f"job {job_id}: status {status!r}, not {pattern!r}"
        time.sleep(0.25)


def test_a_training_job_runs_alone_while_the_next_waits_and_both_can_be_cancelled(page):
    tab(page, "Train")
    pick(page, "#method", "ppdpp")
    page.locator("#train-options textarea").fill("--stage sft --sft_epochs 50")
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
    page.locator("#cancel-job").click()  # the page picks the newest job
    wait_text(page, "#train-status", rf"cancelled {second} before it started")
    job_status(page, second, "cancelled")
    pick(page, "#job-pick", first)
    wait_text(page, "#job-log", r"workbench train ppdpp --env negotiation --stage sft --sft_epochs 50")
    wait_text(page, "#job-progress", r"running, planner SFT \d+/\d+")
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
