"""``workbench play --env moba``: a person's typed actions drive the human hero; the match is saved as an episode."""

from apps.play import PlayConfig, run_play
from workbench.runs import Run

from .test_chat_terminal import scripted


def test_a_person_plays_a_match_to_the_end_and_it_is_saved(tmp_path):
    shown: list[str] = []
    config = PlayConfig(seed=1, max_steps=40, out=str(tmp_path / "play"))
    episode = run_play(config, read=scripted(["farm 5", "/help", "nonsense", "advance", "", "attack_tower 100"]),
                       write=shown.append)
    human = [t.text for t in episode.turns if t.role == "Human"]
    assert human[:7] == ["farm"] * 5 + ["advance", "advance"] and set(human[7:]) == {"attack_tower"}
    assert any(line.startswith("unknown action 'nonsense'") for line in shown)
    assert episode.outcome["steps"] == 40 and "human_gold" in episode.outcome
    assert Run(tmp_path / "play").episodes() == [episode]


def test_quitting_early_still_saves_the_match(tmp_path):
    episode = run_play(PlayConfig(seed=2, out=str(tmp_path / "p")), read=scripted(["retreat 3", "/quit"]),
                       write=lambda _: None)
    assert episode.outcome == {"success": False, "stopped": True, "steps": 3}
