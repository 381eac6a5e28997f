"""Lockstep vs one-at-a-time LLM self-play on the same episodes, in generated tokens per second; or, with
``--against SPEC``, lockstep self-play on two engines (transformers vs llama.cpp).

Both runs use the same model instance (agent, seller and critic), the same cases and seeds; the
only difference is how many episodes share each batched model call. Prints both rates and their
ratio (lockstep / one at a time, or the second engine / the first).

    python benchmarks/lockstep_rollout.py --episodes 16 --max-turns 3
    python benchmarks/lockstep_rollout.py --against embedded:gemma-3-270m@llamacpp
"""

from __future__ import annotations

import argparse
import time

from agents.policies import RandomPolicy
from agents.prompted import PromptedAgent
from workbench.llm import chat_model
from workbench.registry import env_class, make_env
from workbench.rollout import rollout


def measure(model, args, batch_size: int) -> tuple[float, int, float]:
    cls = env_class(args.env)
    env = make_env(args.env, simulator="llm", sim_model=model, critic="llm", critic_model=model,
                   critic_samples=args.critic_samples, max_turns=args.max_turns)
    agent = PromptedAgent(model, cls, RandomPolicy(cls.strategies), max_tokens=args.max_new_tokens)
    model.seed = args.seed
    before = model.generated_tokens
    start = time.perf_counter()
    episodes = rollout(env, agent, cls.cases()[: args.episodes], n=args.episodes, seed=args.seed,
                       batch_size=batch_size, progress=True)
    seconds = time.perf_counter() - start
    tokens = model.generated_tokens - before
    assert len(episodes) == args.episodes
    return seconds, tokens, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:gemma-3-270m", help="chat model spec (a LocalChatModel)")
    parser.add_argument("--env", default="negotiation")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--critic-samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--against", metavar="SPEC", help="compare lockstep self-play on this model instead")
    args = parser.parse_args()
    model = chat_model(args.model)
    if args.against:
        other = chat_model(args.against)
        rows = {args.model: measure(model, args, args.episodes), args.against: measure(other, args, args.episodes)}
    else:
        rows = {"one at a time": measure(model, args, 1), "lockstep": measure(model, args, args.episodes)}
    width = max(map(len, rows)) + 2
    print(f"{'mode':<{width}} {'seconds':>9} {'gen tokens':>11} {'tokens/s':>9}")
    for name, (seconds, tokens, rate) in rows.items():
        print(f"{name:<{width}} {seconds:9.1f} {tokens:11d} {rate:9.2f}")
    (base, first), (other_name, second) = rows.items()
    print(f"ratio {other_name} / {base} (tokens/s): {second[2] / first[2]:.2f}x")


if __name__ == "__main__":
    main()
