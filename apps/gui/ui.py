"""The Gradio Blocks page of ``workbench app``: Chat, Self-play, Train, Verbal feedback and Play tabs.

Handlers only wire the workbench together (``apps.gui.chat``, ``.selfplay``, ``.jobs``, ``.adapters``);
a ``WorkbenchError`` (a user mistake) becomes a one-line message in the tab's status line.
"""

from __future__ import annotations

import functools
import html
import inspect
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from agents.c3po.library import AdapterLibrary
from agents.policies import make_policy
from apps.app import AppConfig
from apps.gui.adapters import SCORE_COLUMNS, adapter_rows, compare, score_rows
from apps.chat import pick_case
from apps.gui.chat import FEEDBACK, ChatSession, FeedbackLog, save_chat
from apps.gui.critique import critic_choices, critique
from apps.gui.household import (OBSERVE, DriverSession, WorldControls, action_text, episode_has_world, episode_world,
                                 seat_updates, session_updates)
from apps.gui.jobs import LIVE, Job, JobQueue
from apps.gui.models import TEMPLATE, SharedModels
from apps.gui.options import flag_value, parse_options
from apps.gui.paths import RunsFolder, discard_upload
from apps.gui.play import play_tab
from apps.gui.progress import clock
from apps.gui.trials import trial_choices, trials_html
from apps.gui.selfplay import OUTCOMES, browse, episode_rows, outcome_figure, run_metrics, stream_selfplay, transcript
from apps.selfplay import SelfPlayConfig
from agents.simulation import make_agent
from workbench.episodes import Episode
from workbench.errors import WorkbenchError
from workbench.evaluate import rounded
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
                      f"({outcome_words(outcome)})" if outcome else
                      f"Case {session.case.id}. {session.brief()}")
    if rates := session.fallback_rates():
        status += " Fallbacks so far: " + ", ".join(f"{name} {rate:.0%}" for name, rate in rates.items()) + "."
    return session.messages(), session.verdicts(), status


def chat_page(session: ChatSession, note: str = "") -> tuple:
    """The Chat tab after a change: the dialogue, the verdicts, the world view and object picker (shown for an
    environment with a world), the status line."""
    messages, verdicts, status = chat_view(session, note)
    return messages, verdicts, *session_updates(session), status


def outcome_words(outcome: dict[str, Any]) -> str:
    """An outcome's fields other than success, numbers rounded and switches as yes or no: "turns 3, deal yes, price
    262, sl 0.136, walked away no"."""
    return ", ".join(f"{key.replace('_', ' ')} {shown_value(value)}" for key, value in outcome.items()
                     if key != "success")


def shown_value(value: Any) -> str:
    """A value as the page writes it: yes or no, a rounded number, or its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{rounded(value):g}" if isinstance(value, float) else str(value)


def chat_hint(env: str) -> str:
    """What an empty chat says to do."""
    cls = env_class(env)
    return (f"Pick an environment, a case and the models above, then press **New chat**. You play the "
            f"**{cls.user_role}**; the agent is the {cls.agent_role}, and its first message appears here.")


def policy_choices(choices: Choices, env: str) -> list[str]:
    """The planners offered for ``env``: the common policies, the environment's own (``DialogueEnv.policies``),
    the saved planners."""
    return [*POLICIES, *env_class(env).policies(), *(p for p in choices.planners if p not in POLICIES)]


def planner_update(choices: Choices, env: str, chosen: str) -> dict[str, Any]:
    """The planner picker once ``env`` is picked: its policies, keeping the one chosen where offered (else random)."""
    offered = policy_choices(choices, env)
    return gr.update(choices=offered, value=chosen if chosen in offered else "random")


def start_chat(app: App, env: str, case_id: str, agent_spec: str, planner: str, adapters: list[str],
               critic_spec: str, seed: float, seat: str, request: gr.Request) -> tuple:
    """A new chat; the person plays the user, or (``seat`` "agent", where the environment's world judges) the
    agent facing the scripted user. The page is shown again after each agent turn that does not wait for the
    person (a tool call and its result), as it happens."""
    cls = env_class(env)
    case = pick_case(cls.cases(), case_id, int(seed), cls.open_case)
    if seat == "agent":
        session = DriverSession.begin(cls, case, seed=int(seed))
        app.chats[request.session_hash] = session
        yield chat_page(session)
        return
    model = (app.models.with_adapters(agent_spec, adapters or [], app.library) if adapters else
             app.models.get(agent_spec, frozen=True))
    spec = f"planner:{app.runs.resolve(planner.removeprefix('planner:'), must_exist=True)}" \
        if planner.startswith("planner:") else planner
    agent = make_agent(cls, model, make_policy(spec, cls, model), app.config.temperature, app.config.max_new_tokens)
    if cls.world_ground_truth:  # the world judges its own dialogues, whoever plays the user
        critic, critic_spec = make_critic(cls, "ground-truth", "human", None), "ground-truth"
    else:
        critic_model = app.models.get(critic_spec, frozen=True) if critic_spec != "none" else None
        critic = make_critic(cls, "llm", "human", critic_model, samples=app.config.critic_samples) \
            if critic_model else None
    session = ChatSession.start(cls, agent, critic, case, seed=int(seed),
                                specs={"agent": agent_spec, "critic": critic_spec, "planner": planner,
                                       "adapters": adapters})
    app.chats[request.session_hash] = session
    yield chat_page(session)
    yield from unattended(app, session)


def current(app: App, request: gr.Request) -> ChatSession:
    session = app.chats.get(request.session_hash)
    if session is None:
        raise WorkbenchError("start a chat first (New chat)")
    return session


def send(app: App, text: str, acts: list[str] | None, request: gr.Request) -> Iterator[tuple]:
    """The person's message, with its dialogue acts where the environment has them, then each agent turn that does
    not wait for the person (a tool call and its result) as it happens; a finished chat is saved."""
    session = current(app, request)
    session.send(text, acts or [])
    if not session.finished:  # a finished chat's page comes with the note where it was saved
        *view, status = chat_page(session)
        yield *view, "", status
    for *view, status in unattended(app, session):
        yield *view, "", status


def unattended(app: App, session: ChatSession) -> Iterator[tuple]:
    """The Chat tab after each agent turn the environment answers itself (``ChatSession.unattended``), and at the
    end the saved chat's note if the dialogue is over."""
    for _ in session.unattended():
        yield chat_page(session)
    if session.finished:
        yield chat_page(session, f"Dialogue over; saved to {app.runs.relative(save_chat(app.runs.root, session))}.")


def observe(app: App, request: gr.Request) -> Iterator[tuple]:
    """The person (the user) only watches the agent's last move."""
    for *view, _, status in send(app, OBSERVE, [], request):
        yield *view, status


def act(app: App, kind: str, target: str, request: gr.Request) -> Iterator[tuple]:
    """The person (the agent) acts on an object of the world."""
    for *view, _, status in send(app, action_text(kind, target), [], request):
        yield *view, status


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
        return chat_page(session, f"**Error:** {error}")
    pairs, _ = app.feedback.add(record)
    return chat_page(session, f"Edit recorded as a preference pair ({pairs} pairs in "
                              f"{app.runs.relative(app.feedback.folder)}).")


def undo(app: App, request: gr.Request) -> tuple:
    session = current(app, request)
    session.undo()
    return chat_page(session, "Took back your last message.")


def retry(app: App, request: gr.Request) -> tuple:
    session = current(app, request)
    session.retry()
    return chat_page(session, "The agent answered again.")


def forget(app: App, request: gr.Request) -> None:
    """A closed page's chat is dropped."""
    app.chats.pop(request.session_hash, None)


# ----- self-play -----

def selfplay(app: App, env: str, simulator: str, agent_spec: str, policy: str, n: float, name: str):
    """Play a self-play run into ``name`` (default: a new ``selfplay-YYYY-MM-DD-HHMM``), streaming its dialogue,
    metrics, plots and progress; once done, the run is picked in the browser below."""
    out = app.runs.new_run(name, "selfplay")
    spec = agent_spec if agent_spec != TEMPLATE else None
    config = SelfPlayConfig(env=env, simulator=simulator, agent_model=spec, policy=policy, n=int(n), out=str(out),
                            progress=False, critic_samples=app.config.critic_samples,
                            max_new_tokens=app.config.max_new_tokens, resume=True)
    drawn = -1
    for snap in stream_selfplay(config, app.models.load):
        table = [[k, rounded(v)] for k, v in snap.metrics.items()]
        if snap.done:
            where = app.runs.relative(snap.run_dir)
            state = f"Finished: {snap.finished} / {snap.total} episodes in {where} ({snap.progress.text()})"
            runs = gr.update(choices=app.runs.run_dirs(), value=where)
        else:
            state, runs = f"Playing into {app.runs.relative(out)}: {snap.progress.text()}", gr.update()
        plot = gr.update()
        if snap.done or len(snap.episodes) != drawn:  # redrawn only when an episode ended
            drawn = len(snap.episodes)
            plot = outcome_figure(snap.episodes, None if snap.done else snap.total)
        yield snap.watching, table, plot, runs, state


def open_run(app: App, run_dir: str, outcome: str) -> tuple:
    """The run's episodes with ``outcome``, and the metrics and plots of all its episodes; for a multi-trial run the
    trial view's variants and cases."""
    folder = app.runs.resolve(run_dir, must_exist=True)
    everything = browse(folder, "all")
    episodes = everything if outcome == "all" else browse(folder, outcome)
    ids = [e.id for e in episodes]
    found = trial_choices(folder)
    variant = next(iter(found), None)
    cases = [str(i) for i in found.get(variant, [])] if variant else []
    return (episode_rows(episodes), gr.update(choices=ids, value=ids[0] if ids else None), run_metrics(everything),
            outcome_figure(everything), gr.update(visible=bool(found)), gr.update(choices=list(found), value=variant),
            gr.update(choices=cases, value=cases[0] if cases else None),
            f"{len(episodes)} episodes ({outcome}) in {app.runs.relative(folder)}")


def trial_cases(app: App, run_dir: str, variant: str) -> tuple:
    """The cases a variant of a multi-trial run played."""
    cases = [str(i) for i in trial_choices(app.runs.resolve(run_dir, must_exist=True)).get(variant, [])]
    return gr.update(choices=cases, value=cases[0] if cases else None), gr.update()


def show_trials(app: App, run_dir: str, variant: str, case: str) -> tuple:
    """A case's trials side by side with the reflections between them."""
    if not variant or not case:
        return "", gr.update()
    if not case.isdigit():
        raise WorkbenchError(f"case {case!r} is not a case index")
    return trials_html(app.runs.resolve(run_dir, must_exist=True), variant, int(case)), gr.update()


def find_episode(app: App, run_dir: str, episode_id: str) -> Episode:
    episodes = browse(app.runs.resolve(run_dir, must_exist=True), "all")
    episode = next((e for e in episodes if e.id == episode_id), None)
    if episode is None:
        raise WorkbenchError(f"no episode {episode_id!r} in {run_dir}")
    return episode


def show_episode(app: App, run_dir: str, episode_id: str) -> tuple:
    """The episode's outcome and dialogue and, for an environment with a world, the turn picker and the world after
    the last turn."""
    if not episode_id:
        return "", gr.update(visible=False), gr.update(), gr.update(), gr.update()
    episode = find_episode(app, run_dir, episode_id)
    outcome = "success" if episode.outcome.get("success") else "failure"
    text = (f"Outcome: {outcome} ({outcome_words(episode.outcome)}), return {rounded(episode.total_reward)}\n\n"
            + transcript(episode.turns, env_class(episode.env).agent_role))
    if not episode_has_world(episode):
        return text, gr.update(visible=False), gr.update(), gr.update(value=""), gr.update()
    last = len(episode.turns)
    return (text, gr.update(visible=True), gr.update(maximum=last, value=last), episode_world(episode, last),
            gr.update())


def critique_picker(app: App, elem_id: str) -> gr.Dropdown:
    """The critics the Critique action offers (:func:`apps.gui.critique.critic_choices`)."""
    found = critic_choices(app)
    return gr.Dropdown(found, value=found[-1] if found else None, label="Critique with", elem_id=elem_id)


def critique_episode(app: App, run_dir: str, episode_id: str, critic: str) -> tuple:
    """A critic's ACUs on a stored episode, each highlighted at its turn."""
    if not episode_id:
        raise WorkbenchError("pick an episode to critique")
    episode = find_episode(app, run_dir, episode_id)
    return critique(app, env_class(episode.env), episode.turns, critic), ""


def critique_chat(app: App, critic: str, request: gr.Request) -> tuple:
    """A critic's ACUs on this session's chat so far, each highlighted at its turn."""
    session = current(app, request)
    return critique(app, type(session.env), session.turns(), critic), ""


def show_world(app: App, run_dir: str, episode_id: str, upto: float) -> tuple:
    """The world of the episode after turn ``upto`` (nothing for an episode without a world)."""
    if not episode_id:
        return gr.update(), gr.update()
    episode = find_episode(app, run_dir, episode_id)
    if not episode_has_world(episode):
        return gr.update(), gr.update()
    return episode_world(episode, int(upto)), gr.update()


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


def job_rows(app: App, jobs: list[Job]) -> list[list[Any]]:
    rows, places = [], app.jobs.positions()
    for job in jobs:
        where = places.get(job.id)
        rows.append([job.id, job.kind, job.title, job.status if where is None else f"queued (#{where})",
                     progress_cell(app, job)])
    return rows


def progress_cell(app: App, job: Job) -> str:
    """The jobs table's progress of ``job``: its bar's share, steps and ETA while it runs ("37% · 37/100 ·
    ETA 1:20"), how long it took once done, where it stopped otherwise."""
    if job.status == "queued":
        return "waiting"
    if job.started is None:
        return "never started"
    bar = app.jobs.progress(job.id)
    took = clock((job.ended or time.time()) - job.started)
    if job.status == "running":
        return bar.text() if bar else f"starting · {took} so far"
    if job.status == "done":
        return f"100% · took {took}"
    return f"stopped at {bar.fraction:.0%} · after {took}" if bar else f"stopped after {took}"


def progress_html(app: App, job_id: str | None) -> str:
    if not job_id:
        return ""
    job = app.jobs.get(job_id)
    bar = app.jobs.progress(job_id)
    done, total = (bar.done, bar.total) if bar else (0, 0)
    if job.status == "done" and bar:
        done = total
    label = html.escape(f"{job.id}: {job.status} · {progress_cell(app, job)}")
    meter = f'<progress value="{done}" max="{max(total, 1)}" style="width:100%"></progress>' if bar else ""
    return f'<div class="job-progress" data-status="{job.status}">{label}{meter}</div>'


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


def metrics_figure(frame: pd.DataFrame) -> Figure | None:
    """The live loss / reward curves: one line with a marker at every logged step per series, so that the first
    step alone is a visible point; None before anything is logged."""
    if frame.empty:
        return None
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.subplots()
    for series, points in frame.groupby("series", sort=False):
        ax.plot(points["step"], points["value"], marker="o", markersize=4, label=series)
    ax.set(xlabel="step", ylabel="value", title="Loss and reward")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if frame["step"].nunique() == 1:  # one step: room around its point, whole-numbered
        ax.set_xlim(frame["step"].iloc[0] - 1, frame["step"].iloc[0] + 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


@dataclass(frozen=True)
class Drawn:
    """What the job plot shows: the job and how many metric rows it had when drawn (drawn again on a change)."""

    job: str | None = None
    rows: int = 0


def job_view(app: App, job_id: str | None, drawn: Drawn) -> tuple[str, str, Any, Drawn]:
    """The job's progress, log and plot (left as it is while the job logged no new metric row), and what the plot
    now shows."""
    if not job_id:
        return "", "", None, Drawn()
    rows = app.jobs.metrics(job_id)
    now = Drawn(job_id, len(rows))
    plot = gr.update() if now == drawn else metrics_figure(metrics_frame(rows))
    return progress_html(app, job_id), app.jobs.log(job_id), plot, now


# ----- the page -----

STYLE = """<style>
#chatbot .bubble-wrap { margin-top: 2.25rem; height: calc(100% - 2.25rem); }  /* the dialogue scrolls below the
   chat's label and toolbar (share, clear, copy), which no message slides under */
#sp-plot img, #run-plot img, #job-plot img { max-width: 100%; height: auto; }
</style>"""
"""The page's own style, put in the page's head by the title."""


@dataclass
class Choices:
    """What the pickers of every tab offer."""

    envs: list[str]
    specs: list[str]
    planners: list[str]


@dataclass
class TrainView:
    """The Train tab's components that the timer refreshes."""

    jobs: gr.Dataframe
    pick: gr.Dropdown
    progress: gr.HTML
    log: gr.Textbox
    plot: gr.Plot


@dataclass
class FeedbackView:
    """The Verbal feedback tab's components that the timer refreshes."""

    job: gr.State
    progress: gr.HTML
    log: gr.Textbox
    adapters: gr.Dataframe
    pick: gr.Dropdown
    enabled: gr.CheckboxGroup


def chat_tab(app: App, choices: Choices) -> gr.Dropdown:
    """The Chat tab; returns its adapter picker (the library's changes reach it)."""
    envs, specs = choices.envs, choices.specs
    with gr.Row():
        env = gr.Dropdown(envs, value=envs[0], label="Environment", elem_id="chat-env")
        case = gr.Textbox(label="Case id", placeholder="empty: a random case (tool_use: or type your own request)")
        seed = gr.Number(0, label="Seed", precision=0)
    with gr.Row():
        agent = gr.Dropdown([TEMPLATE, *specs], value=specs[0] if specs else TEMPLATE, label="Agent model")
        planner = gr.Dropdown(choices.planners, value="random", label="Planner")
        adapters = gr.Dropdown(app.library.names(), value=app.library.enabled(), multiselect=True, label="Adapters")
        critic = gr.Dropdown(["none", *specs], value=specs[0] if specs else "none", label="Critic")
    seat = WorldControls.seat_picker(envs[0])
    new = gr.Button("New chat", elem_id="new-chat", variant="primary")
    with gr.Row():
        chatbot = gr.Chatbot(label="Dialogue", elem_id="chatbot", editable="all", height=420,
                             placeholder=chat_hint(envs[0]), scale=3)
        view = WorldControls.world_view(envs[0])
    with gr.Row():
        message = gr.Textbox(label="Your message", elem_id="chat-input", scale=4)
        send_button = gr.Button("Send", elem_id="send", scale=1)
    world = WorldControls.build(seat, view, envs[0])
    with gr.Row():
        undo_button = gr.Button("Undo", elem_id="undo")
        retry_button = gr.Button("Retry", elem_id="retry")
    verdicts = gr.Dataframe(headers=["turn", "strategy", "critic verdict", "agent reply", "reward", "running reward"],
                            label="Critic", elem_id="verdicts", interactive=False, wrap=True)
    with gr.Row():
        critique_with = critique_picker(app, "chat-critic")
        critique_button = gr.Button("Critique", elem_id="chat-critique")
    critique_view = gr.HTML(elem_id="chat-critique-view")
    status = gr.Markdown(elem_id="chat-status")

    def env_changed(name: str, chosen: str, sitting: str) -> tuple:
        return gr.update(placeholder=chat_hint(name)), planner_update(choices, name, chosen), \
            *seat_updates(name, sitting)

    out = [chatbot, verdicts, world.view, world.target, status]
    env.change(env_changed, [env, planner, seat], [chatbot, planner, *world.components])
    seat.change(lambda name, sitting: seat_updates(name, sitting)[1:], [env, seat], world.components[1:])
    new.click(shown(5)(bind(app, start_chat)), [env, case, agent, planner, adapters, critic, seed, seat], out)
    for trigger in (send_button.click, message.submit):
        trigger(shown(6)(bind(app, send)), [message, world.acts], [*out[:-1], message, status])
    world.observe.click(shown(5)(bind(app, observe)), None, out)
    world.act.click(shown(5)(bind(app, act)), [world.kind, world.target], out)
    undo_button.click(shown(5)(bind(app, undo)), None, out)
    retry_button.click(shown(5)(bind(app, retry)), None, out)
    chatbot.like(shown()(bind(app, like)), None, status)
    chatbot.edit(shown(5)(bind(app, edit)), None, out)
    chatbot.clear(bind(app, forget))
    critique_button.click(shown(2)(bind(app, critique_chat)), [critique_with], [critique_view, status])
    return adapters


def selfplay_tab(app: App, choices: Choices) -> None:
    """The Self-play tab: play a run, watching one dialogue, its metrics, plots and ETA; below, browse a run."""
    envs = choices.envs
    with gr.Row():
        env = gr.Dropdown(envs, value=envs[0], label="Environment")
        sim = gr.Dropdown(["scripted", "llm"], value="scripted", label="User simulator", elem_id="sp-sim")
        agent = gr.Dropdown([TEMPLATE, *choices.specs], value=TEMPLATE, label="Agent model", elem_id="sp-agent")
        policy = gr.Dropdown(choices.planners, value="random", label="Planner")
    env.change(lambda name, chosen: planner_update(choices, name, chosen), [env, policy], policy)
    with gr.Row():
        n = gr.Number(3, label="Episodes", precision=0, elem_id="sp-n")
        name = gr.Textbox(label="Run folder (an existing run is continued)", elem_id="sp-name",
                          placeholder="empty: a new selfplay-YYYY-MM-DD-HHMM")
        run = gr.Button("Run self-play", elem_id="sp-run", variant="primary")
    progress = gr.Markdown(elem_id="sp-progress")
    with gr.Row():
        watch = gr.Markdown(label="Dialogue", elem_id="sp-watch")
        metrics = gr.Dataframe(headers=["metric", "value"], label="Metrics", elem_id="sp-metrics", interactive=False)
    plot = gr.Plot(label="Outcomes and returns", show_label=False, elem_id="sp-plot", format="png")

    gr.Markdown("### Browse a run directory")
    with gr.Row():
        run_dir = gr.Dropdown(app.runs.run_dirs(), allow_custom_value=True, label="Run directory",
                              elem_id="run-dir")
        outcome = gr.Radio(list(OUTCOMES), value="all", label="Outcome")
        open_button = gr.Button("Open", elem_id="open-run")
    browse_status = gr.Markdown(elem_id="browse-status")
    with gr.Row():
        run_table = gr.Dataframe(headers=["metric", "value"], label="Metrics of the run", elem_id="run-metrics",
                                 interactive=False, scale=1)
        run_plot = gr.Plot(label="Outcomes and returns of the run", show_label=False, elem_id="run-plot",
                           format="png", scale=2)
    episodes = gr.Dataframe(headers=["index", "episode", "outcome", "turns", "return"], label="Episodes",
                            interactive=False)
    episode = gr.Dropdown([], label="Episode")
    with gr.Row():
        episode_text = gr.Markdown(elem_id="episode-text")
        with gr.Column(visible=False) as world_box:  # for an environment with a world
            turn = gr.Slider(0, 1, value=0, step=1, label="World after turn", elem_id="episode-turn")
            world = gr.Textbox(label="World", lines=24, max_lines=24, interactive=False, elem_id="episode-world")
    with gr.Row():
        critique_with = critique_picker(app, "episode-critic")
        critique_button = gr.Button("Critique", elem_id="episode-critique")
    critique_view = gr.HTML(elem_id="episode-critique-view")

    with gr.Column(visible=False) as trials_box:  # for a multi-trial run (workbench evaluate --reflection)
        gr.Markdown("### Trials of a case, with the reflections between them")
        with gr.Row():
            variant = gr.Dropdown([], label="Variant", elem_id="trial-variant")
            case = gr.Dropdown([], label="Case", elem_id="trial-case")
        trials = gr.HTML(elem_id="trials-view")

    run.click(shown(5)(bind(app, selfplay)), [env, sim, agent, policy, n, name],
              [watch, metrics, plot, run_dir, progress])
    open_button.click(shown(8)(bind(app, open_run)), [run_dir, outcome],
                      [episodes, episode, run_table, run_plot, trials_box, variant, case, browse_status])
    variant.change(shown(2)(bind(app, trial_cases)), [run_dir, variant], [case, browse_status])
    case.change(shown(2)(bind(app, show_trials)), [run_dir, variant, case], [trials, browse_status])
    episode.change(shown(5)(bind(app, show_episode)), [run_dir, episode],
                   [episode_text, world_box, turn, world, browse_status])
    turn.change(shown(2)(bind(app, show_world)), [run_dir, episode, turn], [world, browse_status])
    critique_button.click(shown(2)(bind(app, critique_episode)), [run_dir, episode, critique_with],
                          [critique_view, browse_status])


def train_tab(app: App, choices: Choices, page: gr.Blocks) -> TrainView:
    """The Train tab: start a registered method as a job, and follow the queue and the picked job."""
    trainable = app_methods()
    gr.Markdown("\n".join(f"- **{k}**: {m.help} (trains on {m.data})" for k, m in trainable.items()),
                elem_id="method-list")
    with gr.Row():
        method = gr.Dropdown(list(trainable), value=next(iter(trainable)), label="Method", elem_id="method")
        env = gr.Dropdown(choices.envs, value=choices.envs[0], label="Environment")
        model = gr.Dropdown(choices.specs, value=choices.specs[0] if choices.specs else None, label="Chat model")
    with gr.Row():
        data = gr.Textbox(label="Data (inside the runs folder)", elem_id="train-data",
                          placeholder=f"{FEEDBACK}/preferences.jsonl")
        upload = gr.File(label="or upload a .jsonl", file_types=[".jsonl"], elem_id="upload")
        upload_kind = gr.Dropdown(["preference", "unpaired", "dialogue", "prompt"], value="preference",
                                  label="Upload format")
    options = gr.Textbox(label="Options", elem_id="train-options",
                         placeholder="e.g. --sft_epochs 1 (see `workbench train METHOD --help`)")
    start = gr.Button("Start", elem_id="train-start", variant="primary")
    status = gr.Markdown(elem_id="train-status")
    jobs = gr.Dataframe(headers=["job", "kind", "title", "status", "progress"], label="Jobs (one runs at a time; the "
                        "rest wait in this queue)", elem_id="jobs", interactive=False)
    with gr.Row():
        pick = gr.Dropdown([], label="Job", elem_id="job-pick")
        cancel = gr.Button("Cancel job", elem_id="cancel-job")
        resume = gr.Button("Resume job", elem_id="resume-job")
    progress = gr.HTML(elem_id="job-progress")
    with gr.Row():
        log = gr.Textbox(label="Log", lines=10, max_lines=10, elem_id="job-log")
        plot = gr.Plot(label="Loss and reward", show_label=False, elem_id="job-plot", format="png")

    @shown(2)
    def stored(file: Any, kind: str) -> tuple:
        if file is None:
            return gr.update(), ""
        received = Path(file if isinstance(file, str) else file.name)
        try:
            path = app.runs.store_upload(received, kind)
        finally:  # stored or refused, Gradio's temporary copy goes
            discard_upload(received, page.GRADIO_CACHE)
        return app.runs.relative(path), f"Uploaded {app.runs.relative(path)}."

    @shown(2)
    def started(*args: Any) -> tuple:
        text = start_job(app, *args)
        newest = app.jobs.jobs()[0].id
        return gr.update(choices=[j.id for j in app.jobs.jobs()], value=newest), text

    upload.upload(stored, [upload, upload_kind], [data, status])
    start.click(started, [method, env, model, data, options], [pick, status])
    cancel.click(shown()(lambda job_id: app.jobs.cancel(job_id) if job_id else "pick a job first"), [pick], status)
    resume.click(shown()(lambda job_id: app.jobs.resume(job_id) if job_id else "pick a job first"),
                 [pick], status)  # an interrupted job, queued again with --resume
    return TrainView(jobs, pick, progress, log, plot)


def feedback_tab(app: App, choices: Choices, chat_adapters: gr.Dropdown) -> FeedbackView:
    """The Verbal feedback tab: add a feedback as a C3PO job, compare and enable the library's adapters."""
    specs = choices.specs
    text = gr.Textbox(label="Feedback", elem_id="fb-text",
                      placeholder='e.g. When bargaining for a bike, begin every reply with "As a cyclist,"')
    with gr.Row():
        name = gr.Textbox(label="Adapter name (empty: from the feedback)", elem_id="fb-name")
        scope = gr.Textbox(label="Where it applies (optional)", elem_id="fb-scope")
        near = gr.Textbox(label="Similar, where it must not (optional)", elem_id="fb-near")
        model = gr.Dropdown(specs, value=specs[0] if specs else None, label="Model")
    options = gr.Textbox(label="Options", elem_id="fb-options",
                         placeholder="e.g. --train_prompts 40 (see `workbench feedback add --help`)")
    add = gr.Button("Add feedback", elem_id="fb-add", variant="primary")
    status = gr.Markdown(elem_id="fb-status")
    job = gr.State(None)
    progress = gr.HTML(elem_id="fb-progress")
    log = gr.Textbox(label="Data generation and training", lines=6, max_lines=6, elem_id="fb-log")
    adapters = gr.Dataframe(headers=["adapter", "enabled", "kind", "feedback", "S_in", "S_out"], label="Adapters",
                            elem_id="adapters", interactive=False)
    with gr.Row():
        enabled = gr.CheckboxGroup(app.library.names(), value=app.library.enabled(), label="Enabled for chat",
                                   elem_id="fb-enabled")
        save_enabled = gr.Button("Save", elem_id="fb-save")
    with gr.Row():
        pick = gr.Dropdown(app.library.names(), label="Adapter to compare", elem_id="fb-pick")
        compare_button = gr.Button("Compare with and without", elem_id="fb-compare")
    scores = gr.Dataframe(headers=["method", *SCORE_COLUMNS], label="S_in / S_out", interactive=False,
                          elem_id="fb-scores")
    pairs = gr.Dataframe(headers=["scope", "prompt", "without adapter", "with adapter"], label="Side by side",
                         interactive=False, wrap=True, elem_id="fb-pairs")

    @shown(2)
    def added(*args: Any) -> tuple:
        return submit_feedback(app, *args)

    @shown(3)
    def compared(adapter: str) -> tuple:
        if not adapter:
            raise WorkbenchError("pick an adapter to compare")
        spec = app.library.info(adapter)["model"]
        if spec not in app.models.specs:
            raise WorkbenchError(f"adapter {adapter!r} is for {spec}, which this app does not serve")
        rows = compare(app.models.get(spec), app.models.local(spec), app.library, adapter)
        return score_rows(app.library, adapter), rows, f"Compared {adapter} on {len(rows)} held-out prompts."

    @shown(2)
    def save(names: list[str]) -> tuple:
        for adapter in app.library.names():
            app.library.set_enabled(adapter, adapter in (names or []))
        return gr.update(value=app.library.enabled()), f"Enabled: {', '.join(names) or 'none'}."

    add.click(added, [text, name, scope, near, model, options], [job, status])
    compare_button.click(compared, [pick], [scores, pairs, status])
    save_enabled.click(save, [enabled], [chat_adapters, status])
    return FeedbackView(job, progress, log, adapters, pick, enabled)


def poll(app: App, tabs: dict[gr.Tab, bool], train: TrainView, feedback: FeedbackView,
         chat_adapters: gr.Dropdown) -> None:
    """A timer, running only while a tab that shows jobs is open (``tabs``: tab -> whether it polls), that
    refreshes the job queue, the picked job's progress, log and plot, and the adapter library (the adapter pickers
    only when an adapter came or went, so a half-made choice is not undone)."""
    known = gr.State(app.library.names())
    drawn = gr.State(Drawn())

    def tick(job_id: str | None, fb_job_id: str | None, seen: list[str], plotted: Drawn) -> tuple:
        jobs_now = app.jobs.jobs()
        ids = [j.id for j in jobs_now]
        # a job the page picked is never replaced: a tick that began before a Start or a pick must not undo it
        pick = gr.update(choices=ids) if job_id else None
        job_id = job_id or next((j.id for j in jobs_now if j.status in LIVE), ids[0] if ids else None)
        names = app.library.names()
        pickers = (gr.update(choices=names), gr.update(choices=names, value=app.library.enabled()),
                   gr.update(choices=names)) if names != seen else (gr.update(),) * 3
        return (job_rows(app, jobs_now), pick or gr.update(choices=ids, value=job_id),
                *job_view(app, job_id, plotted), progress_html(app, fb_job_id),
                app.jobs.log(fb_job_id, 1500) if fb_job_id else "", adapter_rows(app.library), names, *pickers)

    timer = gr.Timer(1.0, active=False)
    for tab, polls in tabs.items():
        tab.select(lambda polls=polls: gr.Timer(active=polls), None, timer)
    timer.tick(tick, [train.pick, feedback.job, known, drawn],
               [train.jobs, train.pick, train.progress, train.log, train.plot, drawn, feedback.progress, feedback.log,
                feedback.adapters, known, feedback.pick, feedback.enabled, chat_adapters], show_progress="hidden")


def build(app: App) -> gr.Blocks:
    """The page: one tab per builder above, and the timer that follows jobs."""
    envs = sorted(env_names(), key=lambda name: name != "negotiation")  # negotiation (PPDPP's main task) first
    choices = Choices(envs, app.models.specs, [*POLICIES, *(f"planner:{p}" for p in app.runs.planners())])
    with gr.Blocks(title="Dialogue Workbench", analytics_enabled=False) as demo:
        gr.HTML("<h1>Dialogue Workbench</h1>", head=STYLE, padding=False)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat") as chat:
                chat_adapters = chat_tab(app, choices)
            with gr.Tab("Self-play", id="selfplay") as selfplay_page:
                selfplay_tab(app, choices)
            with gr.Tab("Train", id="train") as train:
                train_view = train_tab(app, choices, demo)
            with gr.Tab("Verbal feedback", id="feedback") as feedback:
                feedback_view = feedback_tab(app, choices, chat_adapters)
            with gr.Tab("Play", id="play") as play_page:  # a person in the MOBA game's human seat (apps.gui.play)
                play_tab(app.runs, shown)
        poll(app, {chat: False, selfplay_page: False, train: True, feedback: True, play_page: False}, train_view,
             feedback_view, chat_adapters)
        demo.unload(bind(app, forget))
    return demo
