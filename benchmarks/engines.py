"""The embedded Gemma on transformers and on llama.cpp, side by side in one process.

1. **Greedy agreement.** Greedy replies (8 tokens) to the opening agent prompts of ``--prompts`` negotiation
   cases: how many first tokens and how many whole replies llama.cpp and transformers share. transformers runs
   the GGUF dequantised (bfloat16 or float32), llama.cpp runs its quantised weights (Q4_K/Q5_0 layers, Q8_0 embedding),
   so near-ties may break differently. Then llama.cpp alone, the same prompts in one batch vs one at a time:
   these must agree exactly.
2. **A critic's sampled verdicts.** ``--samples`` verdicts for each of ``--dialogues`` dialogues in one batch
   call (an LLM critic's ``judge``), timed on each engine; the ratio is llama.cpp / transformers in verdicts/s.

    python benchmarks/engines.py --prompts 32 --dialogues 16 --samples 10
"""

from __future__ import annotations

import argparse
import time

from workbench.critics import LLMCritic
from workbench.llm import chat_model
from workbench.llm.resolve import EMBEDDED_LLAMACPP, EMBEDDED_TRANSFORMERS
from workbench.registry import env_class, make_critic, make_env


def opening_states(n: int) -> list:
    cls = env_class("negotiation")
    env = make_env("negotiation", simulator="scripted")
    return cls, [env.begin(case, seed=i) for i, case in enumerate(cls.cases()[:n])]


def agreement(args: argparse.Namespace, torch_model, cpp_model) -> None:
    cls, states = opening_states(args.prompts)
    prompts = [cls.agent_prompt(s, cls.strategies[i % len(cls.strategies)]) for i, s in enumerate(states)]
    options = dict(temperature=0.0, max_tokens=8)
    torch_replies = [m.content for m in torch_model.batch(prompts, **options)]
    cpp_replies = [m.content for m in cpp_model.batch(prompts, **options)]
    alone = [cpp_model.batch([p], **options)[0].content for p in prompts]
    engine = cpp_model.engine

    def first(text: str) -> list[int]:
        return engine.tokenize(text, False)[:1]

    same_first = sum(first(a) == first(b) for a, b in zip(torch_replies, cpp_replies))
    same_reply = sum(a == b for a, b in zip(torch_replies, cpp_replies))
    print(f"greedy, {len(prompts)} prompts: llama.cpp and transformers share the first token in {same_first}, "
          f"the whole 8-token reply in {same_reply}")
    print(f"llama.cpp, batch of {len(prompts)} vs one at a time: {sum(a == b for a, b in zip(cpp_replies, alone))} "
          f"of {len(prompts)} replies identical")


def verdicts(args: argparse.Namespace, model) -> float:
    cls, states = opening_states(args.dialogues)
    critic = make_critic(cls, "llm", "llm", model, samples=args.samples)
    assert isinstance(critic, LLMCritic)
    model.seed = args.seed
    started = time.perf_counter()
    critic.judge(states)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--dialogues", type=int, default=16)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch_model, cpp_model = chat_model(EMBEDDED_TRANSFORMERS), chat_model(EMBEDDED_LLAMACPP)
    agreement(args, torch_model, cpp_model)
    n = args.dialogues * args.samples
    seconds = {name: verdicts(args, m) for name, m in (("transformers", torch_model), ("llama.cpp", cpp_model))}
    for name, s in seconds.items():
        print(f"critic, {args.dialogues} dialogues x {args.samples} samples on {name}: {s:.1f} s ({n / s:.1f} verdicts/s)")
    print(f"ratio llama.cpp / transformers (verdicts/s): {seconds['transformers'] / seconds['llama.cpp']:.2f}x")


if __name__ == "__main__":
    main()
