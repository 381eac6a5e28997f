"""``workbench app``: the Gradio app, served on this machine only by default."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Sequence

from agents.simulation import EMBEDDED
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)


@dataclass
class AppConfig:
    runs: str = field(default="runs", metadata={
        "help": "the runs folder: every path the page reads or writes stays inside it", "path": "out"})
    models: list[str] = field(default_factory=lambda: [EMBEDDED], metadata={
        "help": "chat models the page offers (agent, critic, adapters); each is loaded once and shared"})
    host: str = field(default="127.0.0.1", metadata={
        "help": "address to serve on (127.0.0.1: this machine only)", "format": "host"})
    port: int = field(default=7860, metadata={"help": "port", "min": 1, "max": 65535})
    critic_samples: int = field(default=5, metadata={
        "help": "verdicts the chat critic samples per user turn", "min": 1})
    max_new_tokens: int = field(default=40, metadata={"help": "new tokens per agent turn", "min": 1})
    temperature: float = field(default=0.7, metadata={"help": "agent sampling temperature", "min": 0})
    preload: bool = field(default=True, metadata={
        "help": "load the first model before serving, so the first chat message is answered at once",
        "no_help": "serve without loading the first model first (it loads on the first chat message)"})
    max_upload_mb: float = field(default=50.0, metadata={
        "help": "largest upload in MiB; a bigger one is cut off while it is received"})


def build_app(config: AppConfig, job_command: Sequence[str] | None = None):
    """The app's shared parts and its Blocks page (not yet served); ``job_command`` runs the jobs' argv (default:
    this Python's ``workbench``)."""
    from agents.c3po.library import AdapterLibrary
    from apps.gui.chat import FEEDBACK, FeedbackLog
    from apps.gui.jobs import JobQueue
    from apps.gui.models import SharedModels
    from apps.gui.paths import RunsFolder
    from apps.gui.ui import App, build

    if config.critic_samples < 1 or config.max_new_tokens < 1:
        raise WorkbenchError("--critic_samples and --max_new_tokens must be at least 1")
    if not config.max_upload_mb > 0:
        raise WorkbenchError("--max_upload_mb must be above 0")
    runs = RunsFolder(config.runs, max_upload_bytes=upload_limit(config))
    jobs = JobQueue(runs.root, *([job_command] if job_command else []))
    app = App(runs=runs, models=SharedModels(config.models), jobs=jobs,
              library=AdapterLibrary(runs.root / "adapters"), feedback=FeedbackLog(runs.root / FEEDBACK), config=config)
    return app, build(app)


def upload_limit(config: AppConfig) -> int:
    """The largest upload in bytes."""
    return int(config.max_upload_mb * 1024 * 1024)


def run_app(config: AppConfig, block: bool = True, job_command: Sequence[str] | None = None):
    """Serve the app (``block``: until Ctrl-C or SIGTERM, after which its running job is stopped and marked
    interrupted); returns the shared ``App`` and the served Blocks. ``job_command``: as in ``build_app``."""
    from apps.cli import quiet_libraries

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    quiet_libraries(verbose=False)  # $WORKBENCH_VERBOSE (`workbench --verbose app`) shows them, here and in jobs
    stopping = _stop_on_signals() if block and threading.current_thread() is threading.main_thread() else None
    app = demo = None
    try:
        app, demo = build_app(config, job_command)
        if stopping is not None:
            stopping["jobs"] = app.jobs
        if config.preload and config.models:
            started = time.perf_counter()
            model = app.models.get(config.models[0], frozen=True)  # the chat's roles (no adapters yet)
            print(f"loaded {model.inner.model_name or config.models[0]} in {time.perf_counter() - started:.1f} s")
        demo.queue(default_concurrency_limit=16)
        demo.launch(server_name=config.host, server_port=config.port, prevent_thread_lock=not block, quiet=not block,
                    show_error=False, max_file_size=upload_limit(config))
    except KeyboardInterrupt:  # before the server blocked (which closes itself on Ctrl-C)
        if not block:
            raise
        if demo is not None:
            demo.close()
    finally:
        if block and app is not None:
            app.jobs.shutdown()  # also on the way out of an error; queued jobs stay queued for the next start
        if stopping is not None:
            for sig, handler in stopping["previous"].items():
                signal.signal(sig, handler)
    return app, demo


def _stop_on_signals() -> dict[str, Any]:
    """Make SIGTERM stop the app as Ctrl-C does (the server closes, then the running job is stopped and marked
    interrupted); a second Ctrl-C or SIGTERM kills the running job at once instead of waiting for it. Returns the
    handlers' state, where ``run_app`` puts the job queue, and the handlers they replaced. A client that hangs up
    mid-reply must not end the app: SIGPIPE is ignored again (the CLI makes it end a command, for ``| head``)."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)
    state: dict[str, Any] = {"previous": {sig: signal.getsignal(sig) for sig in signals}}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if state.get("signalled"):
            if state.get("jobs") is not None:
                os.write(2, b"stopping the running job now (SIGKILL)\n")
                state["jobs"].kill_now()
            return
        state["signalled"] = True
        name = signal.Signals(signum).name
        os.write(2, f"{name}: stopping the running job (it saves its work), then exiting\n".encode())
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    return state
