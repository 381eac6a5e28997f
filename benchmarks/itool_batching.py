"""iTool's two model-bound steps, batched as the trainer runs them against one sequence at a time, in the same
process; prints both times and their ratio.

- ``perplexity``: the deficiency ranking (:func:`agents.itool.deficiency.completion_perplexity`) of the expert's
  replies to tool-use items, ``--batch`` items per forward pass against one per pass;
- ``expansion``: one MCTS expansion (:class:`agents.itool.mcts.MCTS`), ``--children`` continuations sampled in one
  ``generate(num_return_sequences=k)`` against ``k`` separate ``generate`` calls.

    OMP_NUM_THREADS=2 python benchmarks/itool_batching.py --items 16 --batch 8
    python benchmarks/itool_batching.py --model /path/to/model/folder
"""

from __future__ import annotations

import argparse
import time

import torch

from agents.itool.config import MCTSConfig
from agents.itool.data import expert_rows
from agents.itool.deficiency import completion_perplexity
from agents.itool.mcts import MCTS
from workbench.registry import make_env
from workbench.training.trainers import load_tokenizer, model_source


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma-3-270m")
    parser.add_argument("--items", type=int, default=16, help="expert replies ranked by perplexity")
    parser.add_argument("--batch", type=int, default=8, help="items per forward pass of the batched ranking")
    parser.add_argument("--children", type=int, default=3, help="continuations per expansion")
    parser.add_argument("--max_new_tokens", type=int, default=32)
    args = parser.parse_args()

    from transformers import AutoModelForCausalLM

    source = model_source(args.model)
    tokenizer, model = load_tokenizer(source), AutoModelForCausalLM.from_pretrained(source).eval()
    env = make_env("tool_use")
    rows = expert_rows(env, env.cases("bfcl:simple_python,multiple")[: args.items])[: args.items]
    print(f"model {args.model}; {len(rows)} items, prompts of "
          f"{sum(len(tokenizer(r['prompt'])['input_ids']) for r in rows) // len(rows)} tokens on average")

    batched = timed(lambda: completion_perplexity(model, tokenizer, rows, args.batch))
    single = timed(lambda: completion_perplexity(model, tokenizer, rows, 1))
    print(f"perplexity ranking: batch {args.batch}: {batched:.2f} s, one at a time: {single:.2f} s, "
          f"ratio {single / batched:.2f}x")

    config = MCTSConfig(simulations=1, children=args.children, max_new_tokens=args.max_new_tokens)
    mcts = MCTS(model, tokenizer, lambda text: 0.0, lambda text: 0.0, config)
    prompt = rows[0]["prompt"]
    with torch.no_grad():
        together = timed(lambda: mcts.search(prompt))
        ids = tokenizer(prompt, return_tensors="pt")
        apart = timed(lambda: [model.generate(**ids, do_sample=True, max_new_tokens=args.max_new_tokens,
                                              pad_token_id=tokenizer.pad_token_id) for _ in range(args.children)])
    print(f"one expansion of {args.children} children: one generate: {together:.2f} s, {args.children} generates: "
          f"{apart:.2f} s, ratio {apart / together:.2f}x")


if __name__ == "__main__":
    main()
