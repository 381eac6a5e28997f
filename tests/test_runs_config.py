from dataclasses import dataclass, field

import pytest

from tests.test_episodes import episode
from workbench.config import parse_config
from workbench.errors import WorkbenchError
from workbench.runs import Run


def test_run_resume_drops_torn_line(tmp_path):
    run = Run.open(tmp_path / "r", {"n": 2, "seed": 0})
    run.append_episodes([episode("a")])
    with open(run.path / "episodes/episodes.jsonl", "a") as f:
        f.write('{"schema_version": 1, "id": "torn')  # an interrupt mid-write
    with pytest.raises(WorkbenchError, match="--resume"):
        Run.open(tmp_path / "r", {"n": 2, "seed": 0})
    with pytest.raises(WorkbenchError, match="config differs in seed"):
        Run.open(tmp_path / "r", {"n": 2, "seed": 1}, resume=True)
    run.close()  # the first writer's lock
    resumed = Run.open(tmp_path / "r", {"n": 5, "seed": 0}, resume=True, resumable_changes=("n",))
    assert [e.id for e in resumed.episodes()] == ["a"]
    assert resumed.config()["n"] == 5


def test_run_refuses_foreign_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(WorkbenchError, match="not a run directory"):
        Run.open(tmp_path / "x", {})


@dataclass
class Cfg:
    env: str = field(default="negotiation", metadata={"help": "environment"})
    n: int = field(default=10, metadata={"help": "episodes", "aliases": ["-n"]})
    model: str | None = None
    temperature: float = 0.7
    resume: bool = False


def parse(argv):
    return parse_config(Cfg, argv, prog="t", description="t")


def test_config_yaml_then_flags(tmp_path):
    (tmp_path / "c.yaml").write_text("n: 3\ntemperature: 1\nmodel: m\n")
    cfg = parse(["--config", str(tmp_path / "c.yaml"), "-n", "7"])
    assert (cfg.n, cfg.temperature, cfg.model, cfg.env) == (7, 1, "m", "negotiation")
    assert parse(["--resume"]).resume is True


def test_config_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("n: 3\nepisodes: 4\n")
    with pytest.raises(WorkbenchError, match="unknown config key 'episodes'"):
        parse(["--config", str(tmp_path / "bad.yaml")])
    (tmp_path / "type.yaml").write_text("n: many\n")
    with pytest.raises(WorkbenchError, match="'n' must be int"):
        parse(["--config", str(tmp_path / "type.yaml")])
    with pytest.raises(WorkbenchError, match="config file not found"):
        parse(["--config", str(tmp_path / "none.yaml")])
    with pytest.raises(WorkbenchError, match="unknown option '--episodes'"):
        parse(["--episodes", "3"])
