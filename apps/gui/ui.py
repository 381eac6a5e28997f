"""The Gradio Blocks page of ``workbench app``: Chat, Self-play, Train and Verbal feedback tabs.

Handlers only wire the workbench together (``apps.gui.chat``, ``.selfplay``, ``.jobs``, ``.adapters``);
a ``WorkbenchError`` (a user mistake) becomes a one-line message in the tab's status line.
"""

from __future__ import annotations

import functools
import html
import inspect
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import pandas as pd

from agents.c3po.library import AdapterLibrary
from agents.policies import make_policy
from apps.app import AppConfig
from apps.gui.adapters import SCORE_COLUMNS, adapter_rows, compare, score_rows
from apps.chat import pick_case
from apps.gui.chat import FEEDBACK, ChatSession, FeedbackLog, save_chat
from apps.gui.jobs import LIVE, JobQueue
from apps.gui.models import TEMPLATE, SharedModels
from apps.gui.options import flag_value, parse_options
from apps.gui.paths import RunsFolder, discard_upload
from apps.gui.selfplay import OUTCOMES, browse, episode_rows, stream_selfplay, transcript
from apps.selfplay import SelfPlayConfig
from agents.simulation import make_agent
from workbench.errors import WorkbenchError
from workbench.methods import Method, methods
from workbench.registry import env_class, env_names, make_critic

POLICIES = ("random", "most-frequent", "none")
INPUT_FIELDS = {"env": "Environment", "model": "Chat model", "data": "Data"}
"""The Train tab's own fields, by the option each sets (``workbench.methods.INPUTS``)."""
FEEDBACK_FIELDS = {"name": "Adapter name", "scope_hint": "Where it applies", "near_hint": "Similar, where it must not"}
"""The Verbal feedback tab's own fields, by the option each sets."""
PLOTTED = ("loss", "reward", "return", "sr", "kl")
"""Metrics whose name contains one of these are plotted live."""


@dataclass
class App:
    """What every session shares: the runs folder, the models, the job queue, the library, the feedback log."""

    runs: RunsFolder
    models: SharedModels
    jobs: JobQueue
    library: AdapterLibrary
    feedback: FeedbackLog
    config: AppConfig
    """The options the app was started with (sampling, critic samples)."""
    chats: dict[str, ChatSession] = field(default_factory=dict)
    """Each browser session's chat, by Gradio's session hash."""


def shown(n_outputs: int = 1) -> Callable[[Callable], Callable]:
    """Run a handler with ``n_outputs`` outputs, the last its tab's status line: a ``WorkbenchError`` (a user
    mistake) becomes that line and a toast, and every other output is left as it was."""

    def failed(error: WorkbenchError) -> Any:
        gr.Warning(str(error))
        message = f"**Error:** {error}"
        return message if n_outputs == 1 else (*(gr.update() for _ in range(n_outputs - 1)), message)

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except WorkbenchError as error:
                return failed(error)

        @functools.wraps(fn)
        def streaming(*args: Any, **kwargs: Any) -> Any:  # a generator stays one, so Gradio still streams it
            try:
                yield from fn(*args, **kwargs)
            except WorkbenchError as error:
                yield failed(error)

        return streaming if inspect.isgeneratorfunction(fn) else wrapper

    return decorate


def bind(app: App, fn: Callable) -> Callable:
    """``fn`` with ``app`` as its first argument, keeping the rest of its signature and annotations (Gradio
    reads them to pass ``gr.Request`` and event data; a ``functools.partial`` hides them)."""

    def handler(*args: Any, **kwargs: Any) -> Any:
        return fn(app, *args, **kwargs)

    def streaming(*args: Any, **kwargs: Any) -> Any:  # Gradio streams only from generator functions
        yield from fn(app, *args, **kwargs)

    handler = streaming if inspect.isgeneratorfunction(fn) else handler
    signature = inspect.signature(fn)
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    handler.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "app"}
    handler.__name__ = handler.__qualname__ = fn.__name__
    return handler


# ----- chat -----

def chat_view(session: ChatSession, note: str = "") -> tuple[list[dict[str, str]], list[list[Any]], str]:
    outcome = session.outcome()
    status = note or (f"Dialogue over: {'success' if outcome.get('success') else 'failure'} "
                      f"({', '.join(f'{k} {v}' for k, v in outcome.items() if k != 'success')})" if outcome else
                      f"Case {session.case.id}: you are the {session.state.user_role}.")
    if rates := session.fallback_rates():
        status += " Fallbacks so far: " + ", ".join(f"{name} {rate:.0%}" for name, rate in rates.items()) + "."
    return session.messages(), session.verdicts(), status


def start_chat(app: App, env: str, case_id: str, agent_spec: str, planner: str, adapters: list[str],
               critic_spec: str, seed: float, request: gr.Request) -> tuple:
    cls = env_class(env)
    case = pick_case(cls.cases(), case_id, int(seed))
    model = (app.models.with_adapters(agent_spec, adapters or [], app.library) if adapters else
             app.models.get(agent_spec))
    spec = f"planner:{app.runs.resolve(planner.removeprefix('planner:'), must_exist=True)}" \
        if planner.startswith("planner:") else planner
    agent = make_agent(cls, model, make_policy(spec, cls, model), app.config.temperature, app.config.max_new_tokens)
    critic_model = app.models.get(critic_spec) if critic_spec != "none" else None
    critic = make_critic(cls, "llm", "human", critic_model, samples=app.config.critic_samples) if critic_model else None
    session = ChatSession.start(cls, agent, critic, case, seed=int(seed),
                                specs={"agent": agent_spec, "critic": critic_spec, "planner": planner,
                                       "adapters": adapters})
    app.chats[request.session_hash] = session
    return chat_view(session)


def current(app: App, request: gr.Request) -> ChatSession:
    session = app.chats.get(request.session_hash)
    if session is None:
        raise WorkbenchError("start a chat first (New chat)")
    return session


def send(app: App, text: str, request: gr.Request) -> tuple:
    session = current(app, request)
    session.send(text)
    note = ""
    if session.finished:
        note = f"Dialogue over; saved to {app.runs.relative(save_chat(app.runs.root, session))}."
    view = chat_view(session, note)
    return view[0], view[1], "", view[2]


def like(app: App, data: gr.LikeData, request: gr.Request) -> str:
    session = current(app, request)
    rating = "like" if data.liked else "dislike"
    pairs, unpaired = app.feedback.add(session.feedback_record(data.index, rating=rating))
    return (f"Recorded a {rating} in {app.runs.relative(app.feedback.folder)}: {pairs} preference pairs, "
            f"{unpaired} rated replies.")


def edit(app: App, data: gr.EditData, request: gr.Request) -> tuple:
    session = current(app, request)
    try:
        record = session.edit(data.index, str(data.value))
    except WorkbenchError as error:  # the page already shows the edit: put the dialogue back
        return chat_view(session, f"**Error:** {error}")
    pairs, _ = app.feedback.add(record)
    return chat_view(session, f"Edit recorded as a preference pair ({pairs} pairs in "
                              f"{app.runs.relative(app.feedback.folder)}).")


def undo(app: App, request: gr.Request) -> tuple:
    session = current(app, request)
    session.undo()
    return chat_view(session, "Took back your last message.")


def retry(app: App, request: gr.Request) -> tuple:
    session = current(app, request)
    session.retry()
    return chat_view(session, "The agent answered again.")


def forget(app: App, request: gr.Request) -> None:
    """A closed page's chat is dropped."""
    app.chats.pop(request.session_hash, None)


# ----- self-play -----

def selfplay(app: App, env: str, simulator: str, agent_spec: str, policy: str, n: float, name: str):
    out = app.runs.resolve(f"selfplay/{(name or '').strip() or 'app'}")
    spec = agent_spec if agent_spec != TEMPLATE else None
    config = SelfPlayConfig(env=env, simulator=simulator, agent_model=spec, policy=policy, n=int(n), out=str(out),
                            progress=False, critic_samples=app.config.critic_samples,
                            max_new_tokens=app.config.max_new_tokens, resume=True)
    for snap in stream_selfplay(config, app.models.load):
        table = [[k, round(v, 4)] for k, v in snap.metrics.items()]
        state = (f"Finished: {snap.finished} / {snap.total} episodes in {app.runs.relative(snap.run_dir)}"
                 if snap.done else f"{snap.finished} / {snap.total} episodes finished")
        yield snap.watching, table, state


def open_run(app: App, run_dir: str, outcome: str) -> tuple:
    episodes = browse(app.runs.resolve(run_dir, must_exist=True), outcome)
    ids = [e.id for e in episodes]
    return (episode_rows(episodes), gr.update(choices=ids, value=ids[0] if ids else None),
            f"{len(episodes)} episodes ({outcome}) in {run_dir}")


def show_episode(app: App, run_dir: str, episode_id: str) -> tuple:
    if not episode_id:
        return "", gr.update()
    episodes = browse(app.runs.resolve(run_dir, must_exist=True), "all")
    episode = next((e for e in episodes if e.id == episode_id), None)
    if episode is None:
        raise WorkbenchError(f"no episode {episode_id!r} in {run_dir}")
    outcome = ", ".join(f"{k} {v}" for k, v in episode.outcome.items())
    return f"Outcome: {outcome}\n\n" + transcript(episode.turns, env_class(episode.env).agent_role), gr.update()


# ----- jobs -----

def app_methods() -> dict[str, Method]:
    """The registered methods the app may start as jobs."""
    return {name: m for name, m in methods().items() if m.app}


def start_job(app: App, name: str, env: str, model_spec: str, data: str, options: str) -> str:
    """Queue ``workbench train NAME`` with the page's environment, model and data where the method takes them,
    and the Options checked against the method's own options (``apps.gui.options``)."""
    method = app_methods().get(name)
    if method is None:
        raise WorkbenchError(f"unknown method {name!r} (known: {', '.join(app_methods())})")
    extra = parse_options(app, options, method.config_class(), f"workbench train {name}",
                          taken={k: v for k, v in INPUT_FIELDS.items() if k in method.inputs})
    if model_spec not in app.models.specs and "model" in method.inputs:
        raise WorkbenchError(f"model {model_spec!r} is not served by this app")
    argv = ["train", name]
    if "env" in method.inputs:
        argv += ["--env", env]
    if "model" in method.inputs:
        argv += ["--model", model_spec]
    if "data" in method.inputs:
        if not (data or "").strip():
            raise WorkbenchError(f"{name} trains on {method.data}: give its path in Data")
        argv += ["--data", str(app.runs.resolve(data, must_exist=True))]
    title = f"{name} on {data if 'data' in method.inputs else env}"
    job = app.jobs.submit(name, title, argv + extra)
    return f"Queued {job.id}: workbench {shlex.join(job.argv)}"


def submit_feedback(app: App, text: str, name: str, scope_hint: str, near_hint: str, model_spec: str,
                    options: str) -> tuple[str, str]:
    from agents.c3po.config import FeedbackConfig
    from agents.c3po.library import check_name, slug
    from agents.c3po.pipeline import check_feedback

    extra = parse_options(app, options, FeedbackConfig, "workbench feedback add", taken=FEEDBACK_FIELDS)
    if model_spec not in app.models.specs:
        raise WorkbenchError(f"model {model_spec!r} is not served by this app")
    text = check_feedback(text)
    if text.startswith("-"):
        raise WorkbenchError("the feedback may not start with '-'")
    name = check_name((name or "").strip() or slug(text))
    app.library.check_new(name)
    argv = ["feedback", "add", text, "--name", name, "--model", model_spec, "--library", str(app.library.root)]
    for flag, value in (("--scope_hint", scope_hint), ("--near_hint", near_hint)):
        if (value or "").strip():
            argv += flag_value(flag, value.strip())
    job = app.jobs.submit("c3po", f"feedback: {text[:60]}", argv + extra,
                          metrics_dir=app.library.folder(name), out=False)
    return job.id, f"Queued {job.id}: data generation, training and evaluation of adapter {name!r}."


def job_rows(app: App, jobs: list[Any]) -> list[list[Any]]:
    rows, places = [], app.jobs.positions()
    for job in jobs:
        progress = app.jobs.progress(job.id) if job.status == "running" else None
        where = places.get(job.id)
        rows.append([job.id, job.kind, job.title, job.status if where is None else f"queued (#{where})",
                     f"{progress[0]} {progress[1]}/{progress[2]}".strip() if progress else ""])
    return rows


def progress_html(app: App, job_id: str | None) -> str:
    if not job_id:
        return ""
    job = app.jobs.get(job_id)
    found = app.jobs.progress(job_id)
    done, total = (found[1], found[2]) if found else (0, 0)
    if job.status == "done" and found:
        done = total
    label = html.escape(f"{job.id}: {job.status}" + (f", {found[0]} {done}/{total}" if found else ""))
    bar = f'<progress value="{done}" max="{max(total, 1)}" style="width:100%"></progress>' if found else ""
    return f'<div class="job-progress" data-status="{job.status}">{label}{bar}</div>'


def metrics_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Long-format (step, value, series) of the plotted metrics."""
    points = []
    for n, row in enumerate(rows):
        step = row.get("step", row.get("update", n))
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                    any(p in key.lower() for p in PLOTTED):
                points.append({"step": float(step), "value": float(value), "series": key})
    return pd.DataFrame(points, columns=["step", "value", "series"])


def job_view(app: App, job_id: str | None) -> tuple[str, str, pd.DataFrame]:
    if not job_id:
        return "", "", metrics_frame([])
    return progress_html(app, job_id), app.jobs.log(job_id), metrics_frame(app.jobs.metrics(job_id))


# ----- the page -----

def build(app: App) -> gr.Blocks:
    specs = app.models.specs
    envs = sorted(env_names(), key=lambda name: name != "negotiation")  # negotiation (PPDPP's main task) first
    first = specs[0] if specs else TEMPLATE

    def planners() -> list[str]:
        return [*POLICIES, *(f"planner:{p}" for p in app.runs.planners())]

    with gr.Blocks(title="Dialogue Workbench", analytics_enabled=False) as demo:
        gr.Markdown("# Dialogue Workbench")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat") as chat_tab:
                with gr.Row():
                    env = gr.Dropdown(envs, value=envs[0], label="Environment")
                    case = gr.Textbox(label="Case id", placeholder="empty: a random case")
                    seed = gr.Number(0, label="Seed", precision=0)
                with gr.Row():
                    agent = gr.Dropdown([TEMPLATE, *specs], value=first, label="Agent model")
                    planner = gr.Dropdown(planners(), value="random", label="Planner")
                    adapters = gr.Dropdown(app.library.names(), value=app.library.enabled(), multiselect=True,
                                           label="Adapters")
                    critic = gr.Dropdown(["none", *specs], value=specs[0] if specs else "none", label="Critic")
                new = gr.Button("New chat", elem_id="new-chat")
                chatbot = gr.Chatbot(label="Dialogue", elem_id="chatbot", editable="all", height=420)
                with gr.Row():
                    message = gr.Textbox(label="Your message", elem_id="chat-input", scale=4)
                    send_button = gr.Button("Send", elem_id="send", scale=1)
                with gr.Row():
                    undo_button = gr.Button("Undo", elem_id="undo")
                    retry_button = gr.Button("Retry", elem_id="retry")
                verdicts = gr.Dataframe(headers=["turn", "strategy", "critic verdict", "unparsable samples",
                                                 "agent reply", "reward", "running reward"],
                                        label="Critic", elem_id="verdicts", interactive=False)
                chat_status = gr.Markdown(elem_id="chat-status")

                chat_out = [chatbot, verdicts, chat_status]
                new.click(shown(3)(bind(app, start_chat)),
                          [env, case, agent, planner, adapters, critic, seed], chat_out)
                for trigger in (send_button.click, message.submit):
                    trigger(shown(4)(bind(app, send)), [message], [chatbot, verdicts, message,
                                                                               chat_status])
                undo_button.click(shown(3)(bind(app, undo)), None, chat_out)
                retry_button.click(shown(3)(bind(app, retry)), None, chat_out)
                chatbot.like(shown()(bind(app, like)), None, chat_status)
                chatbot.edit(shown(3)(bind(app, edit)), None, chat_out)
                chatbot.clear(bind(app, forget))

            with gr.Tab("Self-play", id="selfplay") as selfplay_tab:
                with gr.Row():
                    sp_env = gr.Dropdown(envs, value=envs[0], label="Environment")
                    sp_sim = gr.Dropdown(["scripted", "llm"], value="scripted", label="User simulator",
                                         elem_id="sp-sim")
                    sp_agent = gr.Dropdown([TEMPLATE, *specs], value=TEMPLATE, label="Agent model", elem_id="sp-agent")
                    sp_policy = gr.Dropdown(planners(), value="random", label="Planner")
                with gr.Row():
                    sp_n = gr.Number(3, label="Episodes", precision=0, elem_id="sp-n")
                    sp_name = gr.Textbox("app", label="Run name (under selfplay/; an existing run is continued)", elem_id="sp-name")
                    sp_run = gr.Button("Run self-play", elem_id="sp-run")
                sp_progress = gr.Markdown(elem_id="sp-progress")
                with gr.Row():
                    sp_watch = gr.Markdown(label="Dialogue", elem_id="sp-watch")
                    sp_metrics = gr.Dataframe(headers=["metric", "value"], label="Metrics", elem_id="sp-metrics",
                                              interactive=False)
                sp_run.click(shown(3)(bind(app, selfplay)), [sp_env, sp_sim, sp_agent, sp_policy, sp_n, sp_name],
                             [sp_watch, sp_metrics, sp_progress])
                gr.Markdown("### Browse a run directory")
                with gr.Row():
                    run_dir = gr.Dropdown(app.runs.run_dirs(), allow_custom_value=True, label="Run directory",
                                          elem_id="run-dir")
                    outcome = gr.Radio(list(OUTCOMES), value="all", label="Outcome")
                    open_button = gr.Button("Open", elem_id="open-run")
                browse_status = gr.Markdown(elem_id="browse-status")
                episodes = gr.Dataframe(headers=["index", "episode", "outcome", "turns", "return"], label="Episodes",
                                        interactive=False)
                episode = gr.Dropdown([], label="Episode")
                episode_text = gr.Markdown(elem_id="episode-text")
                open_button.click(shown(3)(bind(app, open_run)), [run_dir, outcome],
                                  [episodes, episode, browse_status])
                episode.change(shown(2)(bind(app, show_episode)), [run_dir, episode],
                               [episode_text, browse_status])
                sp_run.click(lambda: gr.update(choices=app.runs.run_dirs()), None, run_dir)

            with gr.Tab("Train", id="train") as train_tab:
                trainable = app_methods()
                gr.Markdown("\n".join(f"- **{k}**: {m.help} (trains on {m.data})" for k, m in trainable.items()),
                            elem_id="method-list")
                with gr.Row():
                    method = gr.Dropdown(list(trainable), value=next(iter(trainable)), label="Method",
                                         elem_id="method")
                    tr_env = gr.Dropdown(envs, value=envs[0], label="Environment")
                    tr_model = gr.Dropdown(specs, value=specs[0] if specs else None, label="Chat model")
                with gr.Row():
                    tr_data = gr.Textbox(label="Data (inside the runs folder)", elem_id="train-data",
                                         placeholder=f"{FEEDBACK}/preferences.jsonl")
                    upload = gr.File(label="or upload a .jsonl", file_types=[".jsonl"], elem_id="upload")
                    upload_kind = gr.Dropdown(["preference", "unpaired", "dialogue", "prompt"], value="preference",
                                              label="Upload format")
                tr_options = gr.Textbox(label="Options", elem_id="train-options",
                                        placeholder="e.g. --sft_epochs 1 (see `workbench train METHOD --help`)")
                tr_start = gr.Button("Start", elem_id="train-start")
                train_status = gr.Markdown(elem_id="train-status")
                jobs = gr.Dataframe(headers=["job", "kind", "title", "status", "progress"], label="Jobs (one runs at "
                                    "a time; the rest wait in this queue)", elem_id="jobs", interactive=False)
                with gr.Row():
                    job_pick = gr.Dropdown([], label="Job", elem_id="job-pick")
                    cancel = gr.Button("Cancel job", elem_id="cancel-job")
                    resume = gr.Button("Resume job", elem_id="resume-job")
                job_progress = gr.HTML(elem_id="job-progress")
                with gr.Row():
                    job_log = gr.Textbox(label="Log", lines=10, max_lines=10, elem_id="job-log")
                    job_plot = gr.LinePlot(x="step", y="value", color="series", label="Loss and reward",
                                           elem_id="job-plot")

                @shown(2)
                def stored(file: Any, kind: str) -> tuple:
                    if file is None:
                        return gr.update(), ""
                    received = Path(file if isinstance(file, str) else file.name)
                    try:
                        path = app.runs.store_upload(received, kind)
                    finally:  # stored or refused, Gradio's temporary copy goes
                        discard_upload(received, demo.GRADIO_CACHE)
                    return app.runs.relative(path), f"Uploaded {app.runs.relative(path)}."

                upload.upload(stored, [upload, upload_kind], [tr_data, train_status])

                @shown(2)
                def started(*args: Any) -> tuple:
                    text = start_job(app, *args)
                    newest = app.jobs.jobs()[0].id
                    return gr.update(choices=[j.id for j in app.jobs.jobs()], value=newest), text

                tr_start.click(started, [method, tr_env, tr_model, tr_data, tr_options],
                               [job_pick, train_status])
                cancel.click(shown()(lambda job_id: app.jobs.cancel(job_id) if job_id else "pick a job first"),
                             [job_pick], train_status)
                resume.click(shown()(lambda job_id: app.jobs.resume(job_id) if job_id else "pick a job first"),
                             [job_pick], train_status)  # an interrupted job, queued again with --resume

            with gr.Tab("Verbal feedback", id="feedback") as feedback_tab:
                fb_text = gr.Textbox(label="Feedback", elem_id="fb-text",
                                     placeholder='e.g. When bargaining for a bike, begin every reply with "As a '
                                                 'cyclist,"')
                with gr.Row():
                    fb_name = gr.Textbox(label="Adapter name (empty: from the feedback)", elem_id="fb-name")
                    fb_scope = gr.Textbox(label="Where it applies (optional)", elem_id="fb-scope")
                    fb_near = gr.Textbox(label="Similar, where it must not (optional)", elem_id="fb-near")
                    fb_model = gr.Dropdown(specs, value=specs[0] if specs else None, label="Model")
                fb_options = gr.Textbox(label="Options", elem_id="fb-options",
                                        placeholder="e.g. --train_prompts 40 (see `workbench feedback add --help`)")
                fb_add = gr.Button("Add feedback", elem_id="fb-add")
                fb_status = gr.Markdown(elem_id="fb-status")
                fb_job = gr.State(None)
                fb_progress = gr.HTML(elem_id="fb-progress")
                fb_log = gr.Textbox(label="Data generation and training", lines=6, max_lines=6, elem_id="fb-log")
                adapters_table = gr.Dataframe(headers=["adapter", "enabled", "kind", "feedback", "S_in", "S_out"],
                                              label="Adapters", elem_id="adapters", interactive=False)
                with gr.Row():
                    enabled = gr.CheckboxGroup(app.library.names(), value=app.library.enabled(),
                                               label="Enabled for chat", elem_id="fb-enabled")
                    save_enabled = gr.Button("Save", elem_id="fb-save")
                with gr.Row():
                    fb_pick = gr.Dropdown(app.library.names(), label="Adapter to compare", elem_id="fb-pick")
                    fb_compare = gr.Button("Compare with and without", elem_id="fb-compare")
                fb_scores = gr.Dataframe(headers=["method", *SCORE_COLUMNS], label="S_in / S_out", interactive=False,
                                         elem_id="fb-scores")
                fb_pairs = gr.Dataframe(headers=["scope", "prompt", "without adapter", "with adapter"],
                                        label="Side by side", interactive=False, wrap=True, elem_id="fb-pairs")

                @shown(2)
                def added(*args: Any) -> tuple:
                    return submit_feedback(app, *args)

                fb_add.click(added, [fb_text, fb_name, fb_scope, fb_near, fb_model, fb_options],
                             [fb_job, fb_status])

                @shown(3)
                def compared(name: str) -> tuple:
                    if not name:
                        raise WorkbenchError("pick an adapter to compare")
                    spec = app.library.info(name)["model"]
                    if spec not in app.models.specs:
                        raise WorkbenchError(f"adapter {name!r} is for {spec}, which this app does not serve")
                    rows = compare(app.models.get(spec), app.models.local(spec), app.library, name)
                    return score_rows(app.library, name), rows, f"Compared {name} on {len(rows)} held-out prompts."

                fb_compare.click(compared, [fb_pick], [fb_scores, fb_pairs, fb_status])

                @shown(2)
                def save(names: list[str]) -> tuple:
                    for name in app.library.names():
                        app.library.set_enabled(name, name in (names or []))
                    return gr.update(value=app.library.enabled()), f"Enabled: {', '.join(names) or 'none'}."

                save_enabled.click(save, [enabled], [adapters, fb_status])

        known = gr.State(app.library.names())

        def tick(job_id: str | None, fb_job_id: str | None, seen: list[str]) -> tuple:
            """Refresh the job queue, the chosen job's progress, log and plot, and the adapter library (the
            adapter pickers only when an adapter came or went, so a half-made choice is not undone)."""
            jobs_now = app.jobs.jobs()
            ids = [j.id for j in jobs_now]
            # a job the page picked is never replaced: a tick that began before a Start or a pick must not undo it
            pick = gr.update(choices=ids) if job_id else None
            job_id = job_id or next((j.id for j in jobs_now if j.status in LIVE), ids[0] if ids else None)
            names = app.library.names()
            changed = names != seen
            pickers = (gr.update(choices=names), gr.update(choices=names, value=app.library.enabled()),
                       gr.update(choices=names)) if changed else (gr.update(),) * 3
            return (job_rows(app, jobs_now), pick or gr.update(choices=ids, value=job_id), *job_view(app, job_id),
                    progress_html(app, fb_job_id), app.jobs.log(fb_job_id, 1500) if fb_job_id else "",
                    adapter_rows(app.library), names, *pickers)

        timer = gr.Timer(1.0, active=False)  # polls only while a tab that shows jobs is open
        for tab, polls in ((chat_tab, False), (selfplay_tab, False), (train_tab, True), (feedback_tab, True)):
            tab.select(lambda polls=polls: gr.Timer(active=polls), None, timer)
        timer.tick(tick, [job_pick, fb_job, known],
                   [jobs, job_pick, job_progress, job_log, job_plot, fb_progress, fb_log, adapters_table, known,
                    fb_pick, enabled, adapters], show_progress="hidden")
        demo.unload(bind(app, forget))
    return demo
