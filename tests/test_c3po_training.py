"""C3PO's loss, term by term, against hand computation on a tiny model; and the CLI end to end."""

import contextlib
import io
import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from trl import DPOConfig

from agents.c3po.checks import Check
from agents.c3po.generate import Example, FeedbackData
from agents.c3po.library import AdapterLibrary
from agents.c3po.prompts import request_prompt
from agents.c3po.trainer import C3POCollator, C3POTrainer, c3po_rows
from apps.cli import main
from workbench.llm.tiny import tiny_causal_lm, tiny_llama, tiny_tokenizer

BETA, L_OUT, L_NEAR = 0.1, 0.2, 0.1


def feedback_data(near: int = 2) -> FeedbackData:
    def ex(i, text, baseline, revised=""):
        return Example(request_prompt(text, f"{text}-{i}"), baseline=baseline, revised=revised)

    splits = {
        "train_in": [ex(i, f"How much is the bike {i}?", "It is too much.", "As a cyclist, it is too much.")
                     for i in range(4)],
        "train_near": [ex(i, f"How much is the car {i}?", "I can pay ten.") for i in range(near)],
        "train_out": [ex(i, f"What should I cook {i}?", "Try some pasta.") for i in range(3)],
    }
    return FeedbackData("Begin with 'As a cyclist,'", [Check("starts_with", "As a cyclist,")], [], [], splits)


def build(tmp_path, data):
    tok = tiny_tokenizer()
    args = DPOConfig(output_dir=str(tmp_path / "out"), beta=BETA, max_length=128, per_device_train_batch_size=4,
                     report_to="none", use_cpu=True)
    collator = C3POCollator(pad_token_id=tok.pad_token_id, max_length=128)
    rows = c3po_rows(data, tok, chat=False, max_length=128)
    trainer = C3POTrainer(model=tiny_llama(tok, seed=0), ref_model=tiny_llama(tok, seed=1), args=args,
                          train_dataset=Dataset.from_list(rows), data_collator=collator, processing_class=tok,
                          lambda_out=L_OUT, lambda_near=L_NEAR)
    rows = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    return trainer, rows


def token_logps(model, prompt, completion):
    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()
    picked = logits.log_softmax(-1).gather(-1, ids[0, 1:, None])[:, 0]
    return picked[len(prompt) - 1:]


def by_hand(trainer, rows):
    policy, ref = trainer.model, trainer.ref_model
    dpo = []
    for r in rows:
        logratio = [token_logps(policy, r["prompt_ids"], r[k]).sum() - token_logps(ref, r["prompt_ids"], r[k]).sum()
                    for k in ("chosen_ids", "rejected_ids")]
        dpo.append(-F.logsigmoid(BETA * (logratio[0] - logratio[1])))
    ce = {}
    for scope in ("out", "near"):
        nll = [-token_logps(policy, r[f"{scope}_prompt_ids"], r[f"{scope}_completion_ids"]) for r in rows
               if r[f"{scope}_completion_ids"]]
        ce[scope] = torch.cat(nll).mean().item() if nll else 0.0
    return torch.stack(dpo).mean().item(), ce


@pytest.mark.parametrize("near", [2, 0])
def test_each_loss_term_matches_hand_computation(tmp_path, near):
    trainer, rows = build(tmp_path, feedback_data(near))
    assert len(rows) == 4  # one row per in-scope pair; out- and near-scope replies are cycled onto them
    assert [r["out_completion_ids"] for r in rows][3] == rows[0]["out_completion_ids"]
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, trainer.data_collator(rows)).item()
    dpo, ce = by_hand(trainer, rows)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    # TRL scores the reference through its fused log-prob kernel; on this random model (large logits) that
    # agrees with a plain log-softmax to about 1e-3 of the loss
    assert metrics["dpo_loss"] == pytest.approx(dpo, rel=2e-3) and dpo > 1.0
    assert metrics["ce_out"] == pytest.approx(ce["out"], rel=1e-5)
    assert metrics["ce_near"] == pytest.approx(ce["near"], rel=1e-5, abs=1e-7)
    assert ce["out"] > 1.0 and (ce["near"] > 1.0 if near else ce["near"] == 0.0)
    assert loss == pytest.approx(metrics["dpo_loss"] + L_OUT * ce["out"] + L_NEAR * ce["near"], rel=1e-5)


def test_anchors_that_do_not_fit_are_left_out():
    data = feedback_data()
    long = Example(request_prompt("word " * 200, "long"), baseline="Too long to fit.")
    data.splits["train_out"].insert(0, long)
    tok = tiny_tokenizer()
    rows = c3po_rows(data, tok, chat=False, max_length=64)
    assert all(0 < len(r["out_prompt_ids"]) + len(r["out_completion_ids"]) <= 64 for r in rows)
    assert [tok.decode(r["out_completion_ids"]).strip() for r in rows] == ["Try some pasta."] * 4


def test_the_loss_term_weights_are_lambdas(tmp_path):
    trainer, rows = build(tmp_path, feedback_data())
    trainer.model.train()
    batch = trainer.data_collator(rows)
    full = trainer.compute_loss(trainer.model, dict(batch)).item()
    trainer.lambdas = {"out": 0.0, "near": 0.0}
    dpo_only = trainer.compute_loss(trainer.model, dict(batch)).item()
    dpo, ce = by_hand(trainer, rows)
    assert dpo_only == pytest.approx(dpo, rel=2e-3)
    assert full - dpo_only == pytest.approx(L_OUT * ce["out"] + L_NEAR * ce["near"], rel=1e-4)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback")
    return {"root": root, "model": tiny_causal_lm(root / "tiny"), "library": root / "adapters"}


def add(library, *extra):
    return main(["feedback", "add", 'When bargaining for a bike, begin every reply with "As a cyclist,"',
                 "--model", str(library["model"]), "--library", str(library["library"]), "--envs", "negotiation",
                 "--scope_hint", "bargaining to buy a bike", "--near_hint", "bargaining to buy a car",
                 "--train_prompts", "8", "--eval_prompts", "4", "--max_new_tokens", "8", "--lr", "1e-3", *extra])


@pytest.fixture(scope="module")
def bike(library):
    """The adapter ``bike`` added with baselines, and what the command printed."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert add(library, "--name", "bike", "--baselines") == 0
    return library["library"] / "bike", printed.getvalue()


def test_feedback_add_trains_and_stores_an_adapter(bike):
    folder, printed = bike
    assert "| method | S_in | S_out |" in printed and "| c3po |" in printed and "adapter: bike (enabled)" in printed
    info = json.loads((folder / "adapter.json").read_text())
    assert info["enabled"] and info["checks"] == ["starts_with=As a cyclist,"]
    dropped = info["data"]["dropped"]  # the writer's empty, short or repeated proposals, counted and shown
    note = f"Dropped: {dropped['categories']} proposed categories and {dropped['requests']} written requests"
    assert note in printed and note in (folder / "summary.md").read_text()
    assert set(info["scores"]) == {"base", "in-context", "c3po", "dpo", "sft"}
    assert info["scores"]["base"]["S_out"] == 0.0
    for path in ("adapter/adapter_config.json", "baselines/dpo/adapter/adapter_config.json",
                 "baselines/sft/adapter/adapter_config.json", "data/train_in.jsonl", "data/feedback.json",
                 "config.yaml", "metrics.jsonl", "summary.md", "plots/train.png"):
        assert (folder / path).is_file(), path
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert any("ce_out" in m and "ce_near" in m and "dpo_loss" in m for m in metrics)
    pairs = [json.loads(line) for line in (folder / "data" / "train_in.jsonl").read_text().splitlines()]
    assert pairs and all(p["revised"].startswith("As a cyclist,") for p in pairs)


def test_resume_retrains_on_the_stored_data_and_evaluate_merges_scores(library, bike, capsys):
    folder = bike[0]
    data = (folder / "data" / "train_in.jsonl").read_text()

    def steps():
        return [m["step"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())
                if "dpo_loss" in m]

    one_epoch = len(steps())
    assert add(library, "--name", "bike", "--resume", "--epochs", "2", "--sft_weight", "1") == 0
    assert (folder / "data" / "train_in.jsonl").read_text() == data
    assert steps() == list(range(1, 2 * one_epoch + 1))  # two epochs; the replaced adapter's metrics are gone
    assert add(library, "--name", "bike", "--resume", "--threshold_in", "0.5") == 2
    assert "config differs in threshold_in" in capsys.readouterr().err  # the data depend on it
    capsys.readouterr()
    assert main(["feedback", "evaluate", "bike", "--library", str(library["library"])]) == 0
    assert "| c3po |" in capsys.readouterr().out
    scores = json.loads((folder / "adapter.json").read_text())["scores"]
    assert set(scores) == {"base", "c3po", "in-context"}  # evaluate's rows merged into the retrained table


def test_a_routed_combination_keeps_each_adapter_alone_on_its_prompts(library, bike, capsys):
    """End to end with the embedded MiniLM router: bike and a copy of it, combined and scored on bike's prompts."""
    root = library["library"]
    shutil.copytree(root / "bike", root / "bike-copy")
    assert main(["feedback", "combine", "bike", "bike-copy", "--name", "both", "--library", str(root)]) == 0
    assert main(["feedback", "evaluate", "both", "--library", str(root)]) == 0
    printed = capsys.readouterr().out
    assert "| bike: combined |" in printed and "| bike-copy: alone |" in printed
    scores = json.loads((root / "both" / "adapter.json").read_text())["scores"]
    for source in ("bike", "bike-copy"):  # in-scope prompts go to one of two equal adapters, the rest to the base
        assert scores[f"{source}: combined"]["S_in"] == scores[f"{source}: alone"]["S_in"]
        assert scores[f"{source}: combined"]["changed"] == 0.0 and scores[f"{source}: combined"]["S_out"] == 0.0
    data = FeedbackData.load(root / "bike" / "data")
    router = AdapterLibrary(root).router(["bike", "bike-copy"])
    assert None not in router([e.prompt.chat() for e in data.splits["eval_in"]])
    assert set(router([e.prompt.chat() for e in data.splits["eval_near"] + data.splits["eval_out"]])) == {None}
    assert main(["feedback", "remove", "both", "--library", str(root)]) == 0
    assert main(["feedback", "remove", "bike-copy", "--library", str(root)]) == 0


def test_a_failed_add_leaves_no_folder_behind(library, capsys):
    failed = ["--name", "cars", "--scope_hint", "planting tomatoes in the garden", "--near_hint", "sailing"]
    assert add(library, *failed) == 2
    assert "in-scope prompts were found" in capsys.readouterr().err
    assert not (library["library"] / "cars").exists()  # failed before any data: the rerun needs no --resume
    assert add(library, *failed, "--threshold_in", "0.3") == 2
    assert "in-scope prompts were found" in capsys.readouterr().err
    assert not (library["library"] / "cars").exists()


def test_feedback_add_refuses_bad_input(library, capsys):
    assert main(["feedback", "add", "   "]) == 2
    assert "the feedback is empty" in capsys.readouterr().err
    assert main(["feedback", "add", "x" * 501]) == 2
    assert "501 characters long" in capsys.readouterr().err
    assert main(["feedback", "add", "--model", "x"]) == 2
    assert "needs the feedback text first" in capsys.readouterr().err
    assert add(library, "--name", "Bad Name!") == 2
    assert "adapter name 'Bad Name!'" in capsys.readouterr().err
    assert add(library, "--check", "shout=yes") == 2
    assert "KIND=VALUE" in capsys.readouterr().err
    assert add(library, "--nope", "1") == 2
    assert "unknown option '--nope'" in capsys.readouterr().err
    assert add(library, "--train_prompts", "0") == 2
    assert "--train_prompts must be positive" in capsys.readouterr().err
    assert add(library, "--threshold_out", "0.6") == 2
    assert "--threshold_out <= --threshold_in" in capsys.readouterr().err
    assert not (library["library"] / "bad-name").exists()
