"""Training throughput per trainer: the workbench entry point against plain TRL on the same job.

For each method, the same model, the same rows and the same TRL config are trained twice in this
process: once by plain TRL (a ``*Trainer`` built on rows already in TRL's format) and once by
``workbench.training.trainers.train`` starting from the episode run directory (so the workbench
side also pays for converting episodes, tokenizing dialogues with loss masks, metrics files and
the plot). Each side is timed from loading the model to the end of ``train()``; tokens are the
rows' tokens times the epochs, identical for both sides. Jobs slow down as the process ages, so
a warm-up job runs first and the sides then alternate A B B A (TRL first in even repeats, the
workbench first in odd ones, ``--repeats`` even), and each side's median time is kept. Peak memory is the peak resident set during the job on
CPU (sampled every 20 ms; the whole process, libraries included), and
``torch.cuda.max_memory_allocated`` on a GPU. The environment-in-the-loop trainers (GRPO over whole
episodes, RLOO with episode-return rewards, PPO) have no plain-TRL counterpart; their table gives
the tokens they process per second (prompts, the policy's turns and the user's turns).

    python benchmarks/train_throughput.py --random-model 512x8        # a 25M random Llama, CPU-sized
    python benchmarks/train_throughput.py --model MODEL_DIR --bf16 true   # on a GPU
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch

from agents.policies import RandomPolicy
from agents.template import TemplateAgent
from agents.trl_methods import continuation_agent
from workbench.registry import make_env
from workbench.rollout import rollout
from workbench.runs import Run
from workbench.methods import get_method, load_object
from workbench.training.config import TRLTrainConfig, trl_config
from workbench.training.data import load_rows, prepare
from workbench.training.masking import role_labels
from workbench.training.trainers import chat_mode, load_model, train

OFFLINE = ("sft", "reward", "dpo", "kto", "orpo", "simpo")
IN_THE_LOOP = ("grpo", "rloo", "ppo")


class PeakMemory:
    """Peak memory of a block: CUDA's allocator peak, or the sampled resident set on CPU (MiB)."""

    def __enter__(self) -> "PeakMemory":
        self.peak, self._stop = 0.0, threading.Event()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            time.sleep(0.02)

    def __exit__(self, *exc: Any) -> None:
        if torch.cuda.is_available():
            self.peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def count_tokens(rows: Any, tokenizer: Any) -> int:
    """Tokens the trainer processes in one epoch: prompt plus each completion, per row."""
    total = 0
    for row in rows:
        if "input_ids" in row:
            total += len(row["input_ids"])
            continue
        prompt = len(tokenizer(row.get("prompt", ""))["input_ids"])
        completions = [row[k] for k in ("chosen", "rejected", "completion") if k in row]
        total += sum(prompt + len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in completions)
    return total


def timed(job: Callable[[], None]) -> tuple[float, float]:
    with PeakMemory() as memory:
        start = time.perf_counter()
        job()
        seconds = time.perf_counter() - start
    return seconds, memory.peak


def configured(method: str, **options: Any) -> Any:
    """``method``'s registered config with ``options``."""
    return get_method(method).config_class()(**options)


def plain_trl(config: TRLTrainConfig, rows: Any) -> None:
    model, tokenizer = load_model(config, reward=config.method == "reward")
    args = trl_config(config, load_object(config.trl_class), **config.trl_fixed)
    trainer = load_object(config.trainer)(model=model, args=args, train_dataset=rows, processing_class=tokenizer)
    trainer.train()
    trainer.save_model(f"{config.out}/model")  # the workbench saves its model too


def random_model(path: Path, shape: str, corpus: list[str]) -> Path:
    """A random Llama of ``WIDTHxLAYERS`` with a 2048-token BPE trained on ``corpus`` (weights do not
    change throughput, so no download is needed to measure it)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.llm.tiny import tiny_tokenizer

    width, layers = (int(x) for x in shape.lower().split("x"))
    tokenizer = tiny_tokenizer(corpus=corpus, vocab_size=2048)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=width * 8 // 3,
                         num_hidden_layers=layers, num_attention_heads=max(1, width // 64),
                         num_key_value_heads=max(1, width // 64), max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma-3-270m", help="model spec or folder")
    parser.add_argument("--random-model", metavar="WIDTHxLAYERS", help="train a random Llama of this shape instead")
    parser.add_argument("--methods", nargs="+", default=[*OFFLINE, *IN_THE_LOOP], choices=[*OFFLINE, *IN_THE_LOOP])
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps (PPO: iterations) of the RL trainers")
    parser.add_argument("--env", default="negotiation")
    parser.add_argument("--episodes", type=int, default=768,
                        help="scripted self-play episodes (random strategies); preference pairs come from all")
    parser.add_argument("--cases", type=int, default=96, help="cases they play (more episodes per case: more pairs)")
    parser.add_argument("--sft-episodes", type=int, default=64, help="the first N episodes are the SFT data")
    parser.add_argument("--kto-episodes", type=int, default=24, help="the first N episodes are the KTO data")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=4, help="an even number: A B B A order")
    parser.add_argument("--bf16", choices=("true", "false"), default=None)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    env = make_env(args.env)
    episodes = rollout(env, TemplateAgent(type(env), RandomPolicy(env.strategies)), env.cases()[: args.cases],
                       n=args.episodes, progress=False)
    data = {"dialogue": episodes[: args.sft_episodes], "unpaired": episodes[: args.kto_episodes],
            "preference": episodes}
    for kind, chosen in data.items():
        Run.open(root / kind, {}).append_episodes(chosen)
    if args.random_model:
        texts = [t.text for e in episodes[: args.sft_episodes] for t in e.turns]
        args.model = str(random_model(root / "model", args.random_model, texts))
    print(f"data: scripted {args.env} self-play (random strategies): SFT on {args.sft_episodes} episodes, KTO on "
          f"{args.kto_episodes}, pairs from {args.episodes} over {args.cases} cases; "
          f"model {args.random_model and f'random Llama {args.random_model}' or args.model}; "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}; median of {args.repeats} per side")
    warm = configured("sft", model=args.model, data=str(root / "dialogue"), max_steps=2, batch_size=args.batch_size,
                       logging_steps=1000, save_steps=10**6, out=str(root / "warm-up"))
    train(warm)  # imports, allocator and thread pools warm before anything is timed
    print("| method | rows | tokens | plain TRL tok/s | workbench tok/s | workbench / TRL | peak MiB TRL | "
          "peak MiB workbench |")
    print("|---|---|---|---|---|---|---|---|")
    for method in [m for m in args.methods if m in OFFLINE]:
        kind = get_method(method).config_class().data_kind
        base = dict(model=args.model, data=str(root / kind), epochs=1.0, batch_size=args.batch_size,
                    max_length=args.max_length, seed=0, logging_steps=1000, save_steps=10**6,
                    bf16=None if args.bf16 is None else args.bf16 == "true")
        config = configured(method, **base, out=str(root / f"{method}-plain"))
        _, tokenizer = load_model(config, reward=method == "reward")
        rows, _, _ = load_rows(config.data, kind, agent_role=None)
        labels = role_labels(env.user_role, env.agent_role)
        rows = prepare(rows, kind, tokenizer, chat=chat_mode(config, tokenizer), labels=labels, where="bench")
        tokens = count_tokens(rows, tokenizer)
        results: dict[str, list[tuple[float, float]]] = {"trl": [], "workbench": []}
        for repeat in range(args.repeats):
            out = root / f"{method}-{repeat}"
            jobs = {"trl": lambda: plain_trl(configured(method, **base, out=str(out / "plain")), rows),
                    "workbench": lambda: train(configured(method, **base, out=str(out / "workbench")))}
            order = ["trl", "workbench"] if repeat % 2 == 0 else ["workbench", "trl"]  # neither always goes first
            for side in order:
                results[side].append(timed(jobs[side]))
            shutil.rmtree(out, ignore_errors=True)
        seconds = {side: statistics.median(t for t, _ in r) for side, r in results.items()}
        peak = {side: max(m for _, m in r) for side, r in results.items()}
        trl_rate, ours_rate = tokens / seconds["trl"], tokens / seconds["workbench"]
        print(f"| {method} | {len(rows)} | {tokens} | {trl_rate:.0f} | {ours_rate:.0f} | {ours_rate / trl_rate:.3f} | "
              f"{peak['trl']:.0f} | {peak['workbench']:.0f} |", flush=True)
    in_the_loop = [m for m in args.methods if m in IN_THE_LOOP]
    if in_the_loop:
        print(f"\nenvironment in the loop ({args.env}, scripted; {args.steps} steps of 4 cases x 4 episodes):")
        print("| method | tokens | seconds | tokens/s | peak MiB |")
        print("|---|---|---|---|---|")
    for method in in_the_loop:
        config = configured(method, model=args.model, env=args.env, prompts=16, batch_size=4, num_generations=4,
                             max_steps=args.steps, max_new_tokens=32, seed=0, logging_steps=1,
                             save_steps=10**6, out=str(root / f"{method}-loop"),
                             bf16=None if args.bf16 is None else args.bf16 == "true")
        seconds, peak = timed(lambda: train(config, continuation=continuation_agent(config)))
        records = Run(config.out).metrics()
        tokens = (sum(r["tokens"] for r in records if "tokens" in r) if method == "ppo"
                  else max(r.get("num_tokens", 0) for r in records))
        print(f"| {method} | {tokens:.0f} | {seconds:.1f} | {tokens / seconds:.0f} | {peak:.0f} |", flush=True)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
