"""``workbench app``: the Gradio app, served on this machine only by default."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from agents.simulation import EMBEDDED
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)


@dataclass
class AppConfig:
    runs: str = field(default="runs", metadata={
        "help": "the runs folder: every path the page reads or writes stays inside it"})
    models: list[str] = field(default_factory=lambda: [EMBEDDED], metadata={
        "help": "chat models the page offers (agent, critic, adapters); each is loaded once and shared"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to serve on (127.0.0.1: this machine only)"})
    port: int = field(default=7860, metadata={"help": "port"})
    critic_samples: int = field(default=5, metadata={"help": "verdicts the chat critic samples per user turn"})
    max_new_tokens: int = field(default=40, metadata={"help": "new tokens per agent turn"})
    temperature: float = field(default=0.7, metadata={"help": "agent sampling temperature"})
    preload: bool = field(default=True, metadata={
        "help": "load the first model before serving, so the first chat message is answered at once"})


def build_app(config: AppConfig):
    """The app's shared parts and its Blocks page (not yet served)."""
    from agents.c3po.library import AdapterLibrary
    from apps.gui.chat import FEEDBACK, FeedbackLog
    from apps.gui.jobs import JobQueue
    from apps.gui.models import SharedModels
    from apps.gui.paths import RunsFolder
    from apps.gui.ui import App, build

    if config.critic_samples < 1 or config.max_new_tokens < 1:
        raise WorkbenchError("--critic_samples and --max_new_tokens must be at least 1")
    runs = RunsFolder(config.runs)
    app = App(runs=runs, models=SharedModels(config.models), jobs=JobQueue(runs.root),
              library=AdapterLibrary(runs.root / "adapters"), feedback=FeedbackLog(runs.root / FEEDBACK), config=config)
    return app, build(app)


def run_app(config: AppConfig, block: bool = True):
    """Serve the app (``block``: until Ctrl-C); returns the shared ``App`` and the served Blocks."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    app, demo = build_app(config)
    if config.preload and config.models:
        started = time.perf_counter()
        app.models.get(config.models[0])
        print(f"loaded {config.models[0]} in {time.perf_counter() - started:.1f} s")
    demo.queue(default_concurrency_limit=16)
    demo.launch(server_name=config.host, server_port=config.port, prevent_thread_lock=not block, quiet=not block,
                show_error=False)
    return app, demo
