"""The app's promise "every path stays inside the runs folder", for every field (issue 18, item 1).

The six escapes found through the free-text Options fields (and their variants) are replayed against the
page's handlers and through the Gradio API of a served app: each is refused with one line, no job is
queued and nothing is created outside the runs folder. Options that are allowed reach the job as a
command line whose real parser reads back exactly the checked values. Uploads are cut off at the size
limit while received, refused ones leave nothing in Gradio's temporary folder, and messages show no
server path; a refused self-play run name gives the app's own message.
"""

import json
import re
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from apps.app import AppConfig, build_app
from apps.gui.models import TEMPLATE
from apps.gui.ui import bind, selfplay, shown, start_job, submit_feedback
from workbench.config import parse_config
from tests.helpers import free_port
from workbench.errors import WorkbenchError

MODEL = "embedded:gemma-3-270m"
"""The page's model: named, never loaded (every refusal comes before a model would be)."""
LIMIT_MB = 0.001
LIMIT = int(LIMIT_MB * 1024 * 1024)


def outside_things(root: Path) -> dict[str, Path]:
    """Folders and files outside the runs folder that the escapes aim at."""
    outside = root / "outside"
    planner = outside / "planner"
    planner.mkdir(parents=True)
    (planner / "planner.json").write_text("{}")
    model = outside / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (outside / "data.jsonl").write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    return {"outside": outside, "planner": planner, "model": model, "data": outside / "data.jsonl"}


def escapes(things: dict[str, Path], root: Path) -> list[tuple[str, str, str]]:
    """``(tab or method, Options text, what the refusal says)`` for every escape: the six of issue 18 first."""
    o = things["outside"]
    return [
        ("ppdpp", f"--data={o}", "refused .*inside the runs folder"),
        ("sft", f"--data={o}", "--data is set by the page's Data field"),
        ("ppdpp", f"--init={things['planner']}", "refused .*inside the runs folder"),
        ("sft", f"--mode={things['model']}", "unknown option --mode for workbench train sft"),
        ("sft", "--config=/etc/passwd", "--config is set by the app"),
        ("feedback", f"--librar={o / 'lib'}", "unknown option --librar for workbench feedback add"),
        ("sft", f"--trl=output_dir={o / 'ckpt'}", "--trl 'output_dir' cannot be set from the app"),
        ("ppdpp", "--data ../../x", "refused '../../x'"),
        ("ppdpp", "--data=/etc", "refused '/etc'"),
        ("ppdpp", "--dat=/etc", "unknown option --dat "),
        ("ppdpp", "--config=/etc/passwd", "--config is set by the app"),
        ("sft", f"--trl output_dir={root / 'tmp-x'}", "--trl 'output_dir' cannot be set"),
        ("feedback", f"--librar={root / 'tmp-x'}", "unknown option --librar"),
        ("feedback", f"--library={o}", "--library is set by the app"),
        ("feedback", f"--writer={things['model']}", "--writer .* not a model this app serves"),
        ("sft", f"--model {things['model']}", "--model is set by the app"),
        ("sft", "--out /tmp/x", "--out is set by the app"),
        ("sft", f"--trl logging_dir={o}", "--trl 'logging_dir' cannot be set"),
        ("sft", "--trl push_to_hub=true", "--trl 'push_to_hub' cannot be set"),
        ("ppdpp", f"--sft_data {o}/data.jsonl", "refused .*inside the runs folder"),
        ("ppdpp", f"--sft-data {o}/data.jsonl", "refused .*inside the runs folder"),
        ("ppdpp", f"--agent_model={things['model']}", "--agent_model .* not a model this app serves"),
        ("ppdpp", f"--adapter_library {o}", "--adapter_library is set by the app"),
        ("ppdpp", "--adapters ../x", "no adapter '../x' in the app's library"),
        ("rloo", f"--continuation planner:{things['planner']}", "refused .*inside the runs folder"),
        ("grpo", f"--cases {o}/data.jsonl", "refused .*inside the runs folder"),
        ("grpo", f"--reward_model {things['model']}", "refused .*inside the runs folder"),
        ("ppdpp", "/etc/passwd", "'/etc/passwd' is not an option"),
        ("ppdpp", f"--stage sft {o}", "is not an option"),
        ("ppdpp", "-h", "'-h' is not an option"),
        ("ppdpp", "--rl_episodes lots", "--rl_episodes takes an integer, not 'lots'"),
        ("ppdpp", "--init", "--init needs a value"),
        ("sft", "--system --out=/tmp/x", "--system needs a value"),
        ("ppdpp", "--data 'open", "options: No closing quotation"),
    ]


@pytest.fixture
def app(tmp_path):
    app, _ = build_app(AppConfig(runs=str(tmp_path / "runs"), models=[MODEL], preload=False))
    app.jobs.command = [sys.executable, "-c", "pass"]  # a queued job runs nothing
    yield app
    app.jobs.shutdown()


def tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def job_folders(app) -> list[Path]:
    """The folders of the jobs the app made."""
    return [p for p in (app.runs.root / "jobs").glob("*") if p.is_dir()]


def refuse(app, tab: str, options: str) -> str:
    """The status line the page shows for ``options`` typed in ``tab`` (a method's Train tab, or feedback)."""
    if tab == "feedback":
        *_, status = shown(2)(bind(app, submit_feedback))("Never use emojis.", "", "", "", MODEL, options)
    else:
        *_, status = shown(2)(lambda *a: ("", start_job(app, *a)))(tab, "negotiation", MODEL, "", options)
    return status


def test_every_options_escape_is_refused_with_one_line_and_no_job(app, tmp_path):
    things = outside_things(tmp_path)
    before = tree(tmp_path / "outside")
    for tab, options, says in escapes(things, tmp_path):
        status = refuse(app, tab, options)
        assert status.startswith("**Error:** options") or status.startswith("**Error:** refused"), (options, status)
        assert "\n" not in status, (options, status)
        assert re.search(says, status), (options, status)
    assert app.jobs.jobs() == [] and job_folders(app) == []
    assert tree(tmp_path / "outside") == before
    assert not (tmp_path / "tmp-x").exists()
    assert not (app.runs.root / "adapters" / "never-use-emojis").exists()


def test_allowed_options_reach_the_job_exactly_as_checked(app, tmp_path):
    from agents.c3po.config import FeedbackConfig
    from agents.ppdpp.run import PPDPPConfig
    from workbench.training.config import SFTTrainConfig

    root = app.runs.root
    (root / "planners/p").mkdir(parents=True)
    (root / "planners/p/planner.json").write_text("{}")
    for name in ("a.jsonl", "b.jsonl", "prefs.jsonl"):
        (root / name).write_text("{}\n")

    start_job(app, "ppdpp", "negotiation", MODEL, "",
              "--stage=rl --init planners/p --sft-data a.jsonl b.jsonl --rl_episodes 4 --no_progress "
              "--resume --agent_model embedded:gemma-3-270m")
    job = app.jobs.jobs()[0]
    config = parse_config(PPDPPConfig, job.argv[2:], prog="ppdpp", description="")
    assert config.out == str(app.jobs.run_folder(job.id)) and config.env == "negotiation"
    assert config.init == str(root / "planners/p") and config.sft_data == [str(root / "a.jsonl"), str(root / "b.jsonl")]
    assert (config.stage, config.rl_episodes, config.progress, config.resume) == ("rl", 4, False, True)
    start_job(app, "ppdpp", "negotiation", MODEL, "", "--adapters enabled")  # read from the app's own library
    config = parse_config(PPDPPConfig, app.jobs.jobs()[0].argv[2:], prog="ppdpp", description="")
    assert (config.adapters, config.adapter_library) == (["enabled"], str(app.library.root))

    start_job(app, "sft", "negotiation", MODEL, "prefs.jsonl",
              '--system="--out=/tmp/evil --data=/etc" --trl warmup_steps=2 --lr=2e-4 --bf16 false')
    job = app.jobs.jobs()[0]
    config = parse_config(SFTTrainConfig, job.argv[2:], prog="sft", description="")
    assert config.out == str(app.jobs.run_folder(job.id)) and config.data == str(root / "prefs.jsonl")
    assert config.system == "--out=/tmp/evil --data=/etc" and config.trl == ["warmup_steps=2"]
    assert (config.lr, config.bf16, config.model) == (2e-4, False, MODEL)

    submit_feedback(app, "Never use emojis.", "", "--library=/tmp/x", "", MODEL,
                    "--train_prompts 8 --envs negotiation tutoring --check 'starts_with=As a cyclist,'")
    job = app.jobs.jobs()[0]
    assert job.argv[:3] == ["feedback", "add", "Never use emojis."]
    config = parse_config(FeedbackConfig, job.argv[3:], prog="feedback", description="")
    assert config.library == str(app.library.root) and config.scope_hint == ["--library=/tmp/x"]
    assert (config.train_prompts, config.envs, config.check) == (8, ["negotiation", "tutoring"],
                                                                  ["starts_with=As a cyclist,"])


def test_every_string_option_of_every_method_is_classified():
    """A string option nobody classified is refused from the page, never passed on unchecked."""
    from apps.gui import options
    from apps.gui.ui import app_methods
    from agents.c3po.config import FeedbackConfig

    known = set(options.APP_SET) | options.MODELS | options.POLICIES | options.ADAPTERS | options.TEXT | {options.TRL}
    for config_class in [*(m.config_class() for m in app_methods().values()), FeedbackConfig]:
        strings = {o.name for o in options.config_options(config_class).values() if o.type is str and not o.path}
        assert strings <= known, (config_class.__name__, strings - known)
    ppdpp = options.config_options(app_methods()["ppdpp"].config_class())
    assert {n for n, o in ppdpp.items() if o.path == "in"} >= {"data", "init", "sft_data"}  # read paths: confined


def test_an_unclassified_string_option_is_refused(app):
    from dataclasses import dataclass, field

    from apps.gui.options import parse_options

    @dataclass
    class WithADir:
        save_dir: str = field(default="x")
        steps: int = 1

    assert parse_options(app, "--steps 3", WithADir, "x") == ["--steps", "3"]
    with pytest.raises(WorkbenchError, match="--save_dir cannot be set from the app"):
        parse_options(app, "--save_dir /tmp", WithADir, "x")


def test_a_refused_selfplay_run_name_gives_the_apps_message(app):
    handler = shown(3)(bind(app, selfplay))
    for name in ("../../escape", "a/../../../escape", "a\x00b", "x" * 5000):
        outputs = list(handler("negotiation", "scripted", TEMPLATE, "random", 1, name))
        assert len(outputs) == 1 and outputs[0][-1].startswith("**Error:** refused"), (name, outputs)
    assert not (app.runs.root.parent / "escape").exists()


def test_uploads_keep_to_the_limit_and_name_no_server_path(tmp_path):
    from apps.gui.paths import RunsFolder

    runs = RunsFolder(tmp_path / "runs", max_upload_bytes=100)
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"prompt": "p" * 100, "completion": "c"}) + "\n")
    with pytest.raises(WorkbenchError, match=r"upload big.jsonl: \d+ bytes is over the 100-byte limit"):
        runs.store_upload(big, "unpaired")
    broken = tmp_path / "deep" / "broken.jsonl"
    broken.parent.mkdir()
    broken.write_text('{"prompt": \n')
    with pytest.raises(WorkbenchError) as error:
        runs.store_upload(broken, "preference")
    assert str(error.value).startswith("upload broken.jsonl:1: malformed JSON") and str(tmp_path) not in str(error.value)


# ----- through the Gradio API of a served app -----

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from apps.app import run_app
    from workbench.llm.tiny import tiny_causal_lm

    root = tmp_path_factory.mktemp("served")
    env = pytest.MonkeyPatch()
    env.setenv("GRADIO_TEMP_DIR", str(root / "gradio-tmp"))  # Gradio's temporary folder, watched by the tests
    model = str(tiny_causal_lm(root / "tiny"))
    port = free_port()
    app, demo = run_app(AppConfig(runs=str(root / "runs"), models=[model], port=port, preload=False,
                                  max_upload_mb=LIMIT_MB), block=False)
    from gradio_client import Client

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    yield {"app": app, "client": client, "url": f"http://127.0.0.1:{port}", "root": root, "model": model,
           "temp": root / "gradio-tmp"}
    demo.close()
    app.jobs.shutdown()
    env.undo()


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_the_options_escapes_are_refused_through_the_gradio_api(served):
    app, client, root = served["app"], served["client"], served["root"]
    things = outside_things(root)
    before = tree(root / "outside")
    for tab, options, says in escapes(things, root):
        if tab == "feedback":
            result = client.predict("Never use emojis.", "", "", "", served["model"], options, api_name="/added")
        else:
            result = client.predict(tab, "negotiation", served["model"], "", options, api_name="/started")
        status = result[-1] if isinstance(result, (list, tuple)) else result
        assert status.startswith("**Error:**") and "\n" not in status, (options, status)
        assert re.search(says, status), (options, status)
    assert app.jobs.jobs() == [] and job_folders(app) == []
    assert tree(root / "outside") == before and not (root / "tmp-x").exists()


def test_a_refused_selfplay_run_name_through_the_gradio_api(served):
    *_, status = served["client"].predict("negotiation", "scripted", TEMPLATE, "random", 1, "../../escape",
                                          api_name="/selfplay")
    assert status.startswith("**Error:** refused '../../escape'") and "\n" not in status
    assert not (served["root"] / "escape").exists()


def upload(served, name: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{served['url']}/gradio_api/upload", files={"files": (name, body)}, timeout=30)


def test_an_upload_over_the_limit_is_cut_off_and_leaves_nothing(served):
    before = files_in(served["temp"])
    response = upload(served, f"big-{uuid.uuid4().hex}.jsonl", b"x" * (LIMIT + 1))
    assert response.status_code == 413 and "maximum allowed size" in response.text
    assert files_in(served["temp"]) == before
    assert upload(served, "fits.jsonl", b"x" * LIMIT).status_code == 200


def test_a_refused_upload_names_no_server_path_and_is_deleted(served):
    from gradio_client import handle_file

    root, temp = served["root"], served["temp"]
    name = f"broken-{uuid.uuid4().hex[:8]}.jsonl"
    broken = root / name
    broken.write_text('{"prompt": \n')
    data, status = served["client"].predict(handle_file(str(broken)), "preference", api_name="/stored")
    assert status == f"**Error:** upload {name}:1: malformed JSON (Expecting value)", status
    assert str(temp) not in status and "/" not in status.replace(f"{name}", "")
    deadline = time.monotonic() + 10
    while any(p.name == name for p in files_in(temp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.name == name for p in files_in(temp))
    assert not (served["app"].runs.root / "uploads" / name).exists()

    good = root / "prefs.jsonl"
    good.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    data, status = served["client"].predict(handle_file(str(good)), "preference", api_name="/stored")
    assert (data, status) == ("uploads/prefs.jsonl", "Uploaded uploads/prefs.jsonl.")
    assert not any(p.name == "prefs.jsonl" for p in files_in(temp))
