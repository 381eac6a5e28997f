"""Step-wise MCTS over a response's tool calls and the fine-grained preference pairs it yields (iTool, Zeng et al.
2025, arXiv 2501.09766, Sec. 3.3 "MCTS-based iterative reinforcement learning").

A node is a prefix of the response (the root: the empty response). Expanding a node samples ``children``
continuations of ``prompt + prefix`` from the policy in one ``generate(num_return_sequences=k)`` call and cuts each
at the next call boundary (:func:`call_boundary`), so a child adds one call. Its prior is the mean token
log-probability of the kept tokens under the policy (raw logits, whatever the sampling temperature). Selection is
PUCT (Silver et al. 2017): ``Q(c) + c_uct * P(c) * sqrt(N(parent)) / (1 + N(c))`` with ``P`` the softmax of the
siblings' priors, among the children with something left to search (a terminal node's reward is deterministic, so
revisiting it would add nothing): every round expands one node. A new child is valued by
``fast_reward(response)`` (the trainer passes overlap with the ground-truth calls plus format validity), a terminal
one (the response ended, or the depth limit is reached and the response is judged as it stands) by
``leaf_reward(response)`` (the AST or execution check). The new children's values are backed up along the path;
``Q`` is the mean of the values backed up through a node (its own, then its descendants').
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from agents.itool.config import MCTSConfig
from workbench.config import check_values
from workbench.tool_calls import CodeScanner

Reward = Callable[[str], float]


@dataclass
class Node:
    """A prefix of the response; ``step`` is the text its parent's expansion added."""
    prefix: str
    step: str = ""
    prior: float = 0.0
    depth: int = 0
    terminal: bool = False
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0

    @property
    def exhausted(self) -> bool:
        """Nothing left to search below: a terminal node, or one whose children are all exhausted."""
        return self.terminal or bool(self.children) and all(c.exhausted for c in self.children)

    @property
    def value(self) -> float:
        """Q: the mean of the values backed up through this node (0 before any)."""
        return self.value_sum / self.visits if self.visits else 0.0


@dataclass
class Tree:
    """The search of one item: its prompt and the root node (the empty response)."""
    prompt: str
    root: Node

    def nodes(self) -> Iterator[Node]:
        """Every node, depth first, children in sampling order."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def call_boundary(text: str, start: int = 0) -> tuple[int, bool] | None:
    """The first place at or after ``start`` where ``text`` (a response so far) completes a call or ends.

    Returns ``(end, ended)``: ``text[:end]`` holds whole calls; ``ended`` says the response is over. Brackets
    and quotes are tracked from the start of ``text`` (so a prefix's open ``[`` counts). A call is complete after
    a ``)`` or ``}`` that closes to the top level: no bracket open, or only an outermost ``[`` (BFCL's
    ``[f(a=1), g(b=2)]``, or a JSON list of ``{"name", "arguments"}`` objects); a ``,`` or ``]`` after it
    (spaces allowed) is kept with it, so the next call starts after the separator. A newline outside brackets
    after some text ends the response and is not kept, also right after a call (BFCL answers and transcript turns
    are one line; so one-call-per-line answers are read as ending after their first line). None: no boundary yet.
    """
    stack: list[str] = []
    for i, ch in CodeScanner(text):
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if stack:
                stack.pop()
            if i >= start and ch != "]" and stack in ([], ["["]):
                end, after = i + 1, _skip_spaces(text, i + 1)
                if after < len(text) and text[after] == ",":
                    return after + 1, False
                if after < len(text) and text[after] == "]" and stack:
                    end, after, stack = after + 1, _skip_spaces(text, after + 1), []
                return end, not stack and text[after:after + 1] == "\n"
        elif ch == "\n" and not stack and i >= start and text[:i].strip():
            return i, True
    return None


def _skip_spaces(text: str, i: int) -> int:
    return len(text) - len(text[i:].lstrip(" \t"))


class MCTS:
    """The search (module docstring) with a causal LM ``model`` and its ``tokenizer`` as the policy."""

    def __init__(self, model: Any, tokenizer: Any, fast_reward: Reward, leaf_reward: Reward,
                 config: MCTSConfig | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.fast_reward, self.leaf_reward = fast_reward, leaf_reward
        self.config = config or MCTSConfig()
        check_values(self.config)

    def search(self, prompt: str) -> Tree:
        """Run up to ``simulations`` rounds (one expansion each; fewer when every branch has ended) from the empty
        response to ``prompt``; the sampling is seeded from
        (``seed``, ``prompt``, simulation number), so the same item gives the same tree whatever ran before."""
        tree = Tree(prompt, Node(prefix=""))
        for simulation in range(self.config.simulations):
            if tree.root.exhausted:
                break
            path = [tree.root]
            while path[-1].children:
                path.append(self._select(path[-1]))
            leaf = path[-1]
            leaf.children = self._expand(prompt, leaf, self._seed(prompt, simulation))
            values = [self._evaluate(child) for child in leaf.children]
            for child, value in zip(leaf.children, values):
                child.visits, child.value_sum = 1, value
            for node in path:
                node.visits += len(values)
                node.value_sum += sum(values)
        return tree

    def _select(self, node: Node) -> Node:
        """The child with the highest PUCT score (the first on ties) among those not exhausted."""
        priors = torch.softmax(torch.tensor([c.prior for c in node.children]), 0).tolist()
        scale = self.config.c_uct * math.sqrt(node.visits)
        open_ = [(c, p) for c, p in zip(node.children, priors) if not c.exhausted]
        return max(open_, key=lambda cp: cp[0].value + scale * cp[1] / (1 + cp[0].visits))[0]

    def _evaluate(self, node: Node) -> float:
        return float(self.leaf_reward(node.prefix) if node.terminal else self.fast_reward(node.prefix))

    def _seed(self, prompt: str, simulation: int) -> int:
        digest = hashlib.sha256(f"{self.config.seed}:{simulation}:{prompt}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    @torch.no_grad()
    def _expand(self, prompt: str, node: Node, seed: int) -> list[Node]:
        """``children`` continuations of ``prompt + node.prefix`` from one sampled ``generate``, each cut at its
        first call boundary."""
        tok, cfg = self.tokenizer, self.config
        device = next(self.model.parameters()).device
        context = tok(prompt + node.prefix, return_tensors="pt").to(device)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            output = self.model.generate(
                **context, do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                max_new_tokens=cfg.max_new_tokens, num_return_sequences=cfg.children, pad_token_id=pad,
                return_dict_in_generate=True, output_logits=True)
        new = output.sequences[:, context["input_ids"].shape[1]:]
        logps = torch.stack(output.logits, 1).float().log_softmax(-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
        context_ids = context["input_ids"][0].tolist()
        return [self._child(node, context_ids, row.tolist(), row_logps) for row, row_logps in zip(new, logps)]

    def _child(self, node: Node, context_ids: list[int], ids: list[int], logps: torch.Tensor) -> Node:
        """One sampled continuation cut at its call boundary; its prior averages the kept tokens' log-probs."""
        step, n, ended = cut_step(self.tokenizer, context_ids, node.prefix, ids)
        depth = node.depth + 1
        return Node(prefix=node.prefix + step, step=step, prior=logps[:max(n, 1)].mean().item(), depth=depth,
                    terminal=ended or depth >= self.config.max_depth)


def cut_step(tokenizer: Any, context_ids: list[int], prefix: str, ids: list[int]) -> tuple[str, int, bool]:
    """Cut sampled token ``ids`` (after ``context_ids``, which encode prompt + ``prefix``) at the first call
    boundary (:func:`call_boundary`): ``(step text, tokens it takes, response ended)``.

    The tokens taken are the fewest whose text covers the step (a token across the boundary counts), plus the
    EOS when the step ends the response there. Sampling that stopped at EOS (or padding) without a boundary ends
    the response; one that ran out of tokens keeps all of its text, unfinished, for the next expansion.
    """
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    n_sampled = next((i for i, t in enumerate(ids) if t in stops), len(ids))
    eos = n_sampled < len(ids)
    base = tokenizer.decode(context_ids, skip_special_tokens=True)

    def text(n: int) -> str:  # the first n new tokens, decoded with the context (SentencePiece drops a lone space)
        return tokenizer.decode(context_ids + ids[:n], skip_special_tokens=True)[len(base):]

    full = text(n_sampled)
    cut = call_boundary(prefix + full, len(prefix))
    end, ended = (cut[0] - len(prefix), cut[1]) if cut else (len(full), eos)
    if eos and not full[end:].strip():
        end, ended = len(full), True
    if ended and eos and end == len(full):
        return full, n_sampled + 1, True
    return full[:end], next(m for m in range(n_sampled + 1) if len(text(m)) >= end), ended


def _best_path_text(node: Node) -> str:
    """``node``'s step and the steps below it, always following the child with the highest Q."""
    steps = [node.step]
    while node.children:
        node = max(node.children, key=lambda c: c.value)
        steps.append(node.step)
    return "".join(steps)


def preference_pairs(tree: Tree, min_gap: float = 0.1) -> list[dict[str, str]]:
    """Fine-grained pairs (iTool Sec. 3.3): for each expanded node whose children's Q values span at least
    ``min_gap``, the best child against the worst (the first of each on ties). The two share the node's prefix, so
    the pair's ``prompt`` is the item's prompt plus that prefix and ``chosen``/``rejected`` are each child's step
    continued down its highest-Q path to the end of the tree. Pairs whose two texts are equal are left out.
    """
    pairs = []
    for node in tree.nodes():
        if not node.children:
            continue
        best = max(node.children, key=lambda c: c.value)
        worst = min(node.children, key=lambda c: c.value)
        if best.value - worst.value < min_gap:
            continue
        chosen, rejected = _best_path_text(best), _best_path_text(worst)
        if chosen != rejected:
            pairs.append({"prompt": tree.prompt + node.prefix, "chosen": chosen, "rejected": rejected})
    return pairs
