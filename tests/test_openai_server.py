"""``openai:<model>@<base_url>`` against a real OpenAI-compatible server (llama-cpp-python's, over the embedded
Gemma GGUF), and against one that is down or too slow."""

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from apps.cli import main
from tests.helpers import free_port
from workbench.episodes import load_episodes
from workbench.errors import WorkbenchError
from workbench.llm.resolve import chat_model

pytest.importorskip("langchain_openai")

READY_S = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free port over the embedded GGUF: (model id it reports, base URL).
    Its log goes to a file (a pipe nobody reads would fill up and stall it)."""
    try:
        import llama_cpp.server.app  # noqa: F401  (the [server] extra: fastapi, sse-starlette, ...)
    except ImportError as error:
        pytest.skip(f"llama_cpp.server is not importable ({error})")
    from workbench.llm.resolve import _gguf_source

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", _gguf_source("embedded:gemma-3-270m@llamacpp"),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--chat_format", "gemma"],
        stdout=log, stderr=subprocess.STDOUT, text=True)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + READY_S
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited with {process.returncode}: {log.read()[-2000:]}")
            try:
                with direct.open(f"{url}/models", timeout=2) as response:
                    models = json.load(response)["data"]
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server not ready at {url} after {READY_S} s")
                time.sleep(0.5)
        yield models[0]["id"], url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_selfplay_with_llm_simulator_and_critic(server, tmp_path, capsys):
    model, url = server
    spec = f"openai:{model}@{url}"
    out = tmp_path / "run"
    code = main(["selfplay", "--env", "negotiation", "--simulator", "llm", "--sim_model", spec, "--critic", "llm",
                 "--critic_samples", "3", "-n", "2", "--max_turns", "2", "--max_new_tokens", "16",
                 "--out", str(out), "--no_progress"])
    _, err = capsys.readouterr()
    assert code == 0, err
    episodes = load_episodes(out / "episodes" / "episodes.jsonl")
    assert len(episodes) == 2
    for episode in episodes:
        assert episode.env == "negotiation" and episode.case.id and episode.turns
        assert all(turn.text.strip() and turn.role for turn in episode.turns)
        assert any(t.info.get("generated") for t in episode.turns), "no turn came from the server"
        verdicts = [t.info["verdict"] for t in episode.turns if "verdict" in t.info]
        assert all(v.get("samples") == 3 for v in verdicts if "samples" in v)


def test_repeated_prompt_asks_n_then_counts_the_fallback(server):
    model, url = server
    llm = chat_model(f"openai:{model}@{url}")
    bike = [SystemMessage("You are a buyer."), HumanMessage("What would you pay for this bike?")]
    other = [HumanMessage("Say hello.")]
    replies = llm.batch([bike, other, bike, bike], temperature=1.0, max_tokens=8)
    assert len(replies) == 4 and all(isinstance(r.content, str) for r in replies)
    assert llm.honours_n is False  # llama-cpp-python's server returns one choice whatever n asks
    assert llm.n_ignored == 2  # two of the three copies of `bike` asked again, one by one
    assert llm.generated_tokens > 0
    replies = llm.batch([other, other], temperature=1.0, max_tokens=8)
    assert len(replies) == 2 and llm.n_ignored == 3  # not asked with n again: straight to single requests


def test_server_down_is_one_line(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = chat_model(f"openai:some-model@{url}", max_retries=1)
    start = time.monotonic()
    with pytest.raises(WorkbenchError) as error:
        llm.batch([[HumanMessage("hi")], [HumanMessage("hi")]])
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "\n" not in message and url in message and "connection refused" in message and "start it" in message
    code = main(["selfplay", "--simulator", "llm", "--sim_model", f"openai:some-model@{url}", "-n", "1",
                 "--max_turns", "1", "--out", str(tmp_path / "run"), "--no_progress"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: could not reach") and url in err


class _Slow(http.server.BaseHTTPRequestHandler):
    delay_s = 3.0

    def do_POST(self) -> None:
        time.sleep(self.delay_s)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:
            pass

    def log_message(self, *args) -> None:
        pass


def test_slow_server_names_the_timeout():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        llm = chat_model(f"openai:some-model@{url}", timeout=0.5, max_retries=0)
        start = time.monotonic()
        with pytest.raises(WorkbenchError) as error:
            llm.invoke([HumanMessage("hi")])
        assert time.monotonic() - start < 3
        message = str(error.value)
        assert "\n" not in message and url in message and "0.5 s (timeout" in message and "raise it" in message
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Honours(http.server.BaseHTTPRequestHandler):
    """A vLLM-like server: ``n`` choices, each echoing the last message; the request bodies are kept."""

    bodies: list = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        text = body["messages"][-1]["content"]
        reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": i, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": f"{text} #{i}"}}
                                        for i in range(body.get("n") or 1)],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args) -> None:
        pass


def test_server_that_honours_n_gets_one_request_per_distinct_prompt():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Honours)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        llm = chat_model(f"openai:m@http://127.0.0.1:{httpd.server_address[1]}/v1")
        a, b = [HumanMessage("a")], [HumanMessage("b")]
        replies = llm.batch([a, b, a, a], temperature=0.3, max_tokens=5, stop=["\n"])
        assert [r.content for r in replies] == ["a #0", "b #0", "a #1", "a #2"]
        assert sorted(body.get("n", 1) for body in _Honours.bodies) == [1, 3]
        assert all(body["max_tokens"] == 5 and body["temperature"] == 0.3 and body["stop"] == ["\n"]
                   and "max_completion_tokens" not in body for body in _Honours.bodies)
        assert llm.honours_n is True and llm.n_ignored == 0 and llm.generated_tokens == 4
    finally:
        httpd.shutdown()
        httpd.server_close()
