"""Every offline trainer learns the toy task on a CPU with a tiny model (fixed seed, stated margins)."""

import pytest
from datasets import Dataset

from apps.cli import main
from tests.helpers import train_method
from tests.toy_training import A, B, coin_episodes, load, preference_margin, tiny_policy
from workbench.episodes import load_episodes
from workbench.training.data import episode_rows, prepare
from workbench.training.masking import transcript_prompt

LABELS = {"user": "Patient", "assistant": "Therapist", "system": "System"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return {"root": root, "model": tiny_policy(root / "tiny"), "episodes": coin_episodes(root / "episodes")}


def pairs(toy):
    rows = episode_rows(load_episodes(toy["episodes"] / "episodes"), "preference", "Therapist")
    return [{"prompt": transcript_prompt(r["prompt"], LABELS), "chosen": f" {r['chosen'][0]['content']}\n",
             "rejected": f" {r['rejected'][0]['content']}\n"} for r in rows]


def trained(toy, method, out, **kw):
    base = dict(model=str(toy["model"]), data=str(toy["episodes"]), out=str(toy["root"] / out), max_steps=20,
                batch_size=8, lr=3e-3, seed=0)
    return train_method(method, **{**base, **kw})


def test_episode_pairs_prefer_the_reflection(toy):
    rows = pairs(toy)
    assert len(rows) >= 8
    assert sum(r["chosen"] == f" {A}\n" for r in rows) / len(rows) > 0.65  # later luck decides some


def agent_nll(path, toy):
    """Mean loss of the agent's tokens on the toy dialogues."""
    import torch

    model, tok = load(path)
    rows = episode_rows(load_episodes(toy["episodes"] / "episodes"), "dialogue", "Therapist")
    data = prepare(rows[:16], "dialogue", tok, chat=False, labels=LABELS, where="toy")
    losses = []
    with torch.no_grad():
        for row in data:
            ids = torch.tensor([row["input_ids"]])
            labels = torch.where(torch.tensor([row["assistant_masks"]]) == 1, ids, -100)
            losses.append(model(input_ids=ids, labels=labels).loss.item())
    return sum(losses) / len(losses)


@pytest.mark.parametrize("lora", [False, True])
def test_sft_lowers_the_agents_loss(toy, lora):
    out = "sft-lora" if lora else "sft"
    run, summary = trained(toy, "sft", out, lora=lora, lr=1e-2 if lora else 3e-3)
    before, after = agent_nll(toy["model"], toy), None
    if lora:
        from peft import AutoPeftModelForCausalLM

        assert (run.path / "model" / "adapter_config.json").is_file()
        merged = AutoPeftModelForCausalLM.from_pretrained(run.path / "model").merge_and_unload()
        merged.save_pretrained(toy["root"] / "sft-lora-merged")
        load(run.path / "model")[1].save_pretrained(toy["root"] / "sft-lora-merged")
        after = agent_nll(toy["root"] / "sft-lora-merged", toy)
    else:
        after = agent_nll(run.path / "model", toy)
    assert after < 0.6 * before, (before, after)  # the agent's tokens: loss down by at least 40%
    assert (run.path / "plots" / "train.png").is_file() and summary["loss last"] < summary["loss first"]


@pytest.mark.parametrize("method,options", [
    ("dpo", {}),
    ("dpo", {"loss_type": ["ipo"]}),
    ("dpo", {"f_divergence_type": "js_divergence"}),
    ("orpo", {}),
    ("simpo", {}),
])
def test_preference_methods_come_to_prefer_the_chosen_reply(toy, method, options):
    rows = pairs(toy)
    before = preference_margin(toy["model"], rows)
    name = f"{method}-{'-'.join(map(str, options.values())) or 'default'}".replace("[", "").replace("]", "")
    run, _ = trained(toy, method, name, **options)
    after = preference_margin(run.path / "model", rows)
    assert after > before + 2.0, (before, after)  # log-odds of chosen over rejected up by more than 2 nats


def test_kto_on_unpaired_labels(toy):
    prompt = transcript_prompt([{"role": "user", "content": "I feel awful about my exams."}], LABELS)
    rows = [{"prompt": prompt, "completion": f" {A}\n", "label": True},
            {"prompt": prompt, "completion": f" {B}\n", "label": False}] * 16
    path = toy["root"] / "kto.jsonl"
    Dataset.from_list(rows).to_json(str(path))
    before = preference_margin(toy["model"], [{"prompt": prompt, "chosen": f" {A}\n", "rejected": f" {B}\n"}])
    run, _ = trained(toy, "kto", "kto", data=str(path))
    after = preference_margin(run.path / "model", [{"prompt": prompt, "chosen": f" {A}\n", "rejected": f" {B}\n"}])
    assert after > before + 2.0, (before, after)


def test_reward_model_ranks_the_pairs(toy):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = pairs(toy)
    run, summary = trained(toy, "reward", "reward")
    model = AutoModelForSequenceClassification.from_pretrained(run.path / "model")
    tok = AutoTokenizer.from_pretrained(run.path / "model")

    def score(text):  # TRL's reward trainer ends standard-format texts with EOS: score them the same way
        with torch.no_grad():
            return model(**tok(text + tok.eos_token, return_tensors="pt")).logits[0, 0].item()

    accuracy = sum(score(r["prompt"] + r["chosen"]) > score(r["prompt"] + r["rejected"]) for r in rows) / len(rows)
    assert accuracy > 0.9 and summary["loss last"] < 0.5 * summary["loss first"]
    toy["reward_model"] = run.path / "model"


@pytest.mark.parametrize("method", ["grpo", "online-dpo"])
def test_online_methods_with_a_reward_model_raise_its_reward(toy, method):
    """Prompts from the episodes, rewards from the reward model trained above (it prefers A)."""
    if "reward_model" not in toy:
        pytest.skip("needs test_reward_model_ranks_the_pairs")
    grpo = {"num_generations": 4, "trl": ["beta=0.0"]} if method == "grpo" else {}
    run, summary = trained(toy, method, f"{method}-rm", reward_model=str(toy["reward_model"]), max_steps=12,
                           lr=1e-3, max_new_tokens=12, **grpo)
    key = "reward" if method == "grpo" else "objective/scores"
    scores = [r[key] for r in run.metrics() if key in r]
    assert len(scores) == 12 and sum(scores[-4:]) / 4 > sum(scores[:4]) / 4, scores


def test_cli_trains_on_a_trl_dataset_with_passthrough(toy, capsys):
    path = toy["root"] / "pairs.jsonl"
    Dataset.from_list(pairs(toy)).to_json(str(path))
    out = toy["root"] / "cli-dpo"
    code = main(["train", "dpo", "--model", str(toy["model"]), "--data", str(path), "--out", str(out),
                 "--max_steps", "3", "--batch_size", "4", "--trl", "warmup_steps=1", "beta=0.2"])
    assert code == 0, capsys.readouterr().err
    config = (out / "config.yaml").read_text()
    assert "warmup_steps=1" in config and (out / "model" / "config.json").is_file()
    assert "rewards/margins last" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["train", "dpo"], "dpo needs --data"),
    (["train", "dpo", "--data", "nowhere"], "no data at nowhere"),
    (["train", "grpo", "--model", "MODEL"], "grpo needs --env"),
    (["train", "rloo", "--model", "MODEL", "--reward_model", "MODEL"], "or --reward_model with --data"),
    (["train", "dpo", "--data", "DATA", "--model", "MODEL", "--trl", "bogus=1"], "DPOConfig has no option 'bogus'"),
    (["train", "dpo", "--data", "DATA", "--model", "MODEL", "--pairs", "vibes"], "unknown pairs 'vibes'"),
    (["train", "sft", "--data", "DATA", "--model", "MODEL", "--qlora"], "--qlora needs bitsandbytes"),
    (["train", "sft", "--data", "DATA", "--model", "MODEL", "--wat", "1"], "unknown option '--wat'"),
    (["train", "grpo", "--model", "MODEL", "--env", "atlantis"], "unknown environment 'atlantis'"),
])
def test_bad_input_is_one_line(toy, capsys, argv, message, tmp_path):
    argv = [str(toy["model"]) if a == "MODEL" else str(toy["episodes"]) if a == "DATA" else a for a in argv]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_sft_data_from_a_non_episode_file_needs_the_columns(toy, tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "hi"}\n')
    assert main(["train", "sft", "--model", str(toy["model"]), "--data", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "needs columns messages or text or prompt/completion" in capsys.readouterr().err
