"""iTool's model-side pieces (agents.itool): perplexity ranking, the deficiency set, the call-boundary cutter and
the step-wise MCTS with its preference pairs, on a tiny random Llama and stub rewards."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agents.itool.deficiency import completion_perplexity, deficiency_set
from agents.itool.mcts import MCTS, MCTSConfig, Node, Tree, call_boundary, cut_step, preference_pairs
from workbench.errors import WorkbenchError
from workbench.llm.tiny import tiny_causal_lm

CALLS = ["[get_weather(city='Paris'), get_time(zone='UTC')]", '{"name": "add", "arguments": {"a": 1, "b": 2}}']
PROMPT = "User: What is the weather in Paris?\nAssistant: "
EXAMPLES = [
    {"prompt": PROMPT, "completion": CALLS[0]},
    {"prompt": "User: add one and two\nAssistant:", "completion": " " + CALLS[1]},
    {"prompt": "Q", "completion": "get_time(zone='UTC')"},
    {"prompt": "User: Hello, how are you today?\nAssistant: I am fine.\nUser: time?\nAssistant:", "completion": " x"},
    {"prompt": "Buyer: Would you take eighty dollars for the bike?", "completion": "\nSeller: no"},
]


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    path = tiny_causal_lm(tmp_path_factory.mktemp("itool"), corpus=CALLS * 20)
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def search(policy, fast=lambda r: len(r) % 5 / 4, leaf=lambda r: 1.0, prompt=PROMPT, **options):
    config = MCTSConfig(**({"simulations": 5, "children": 3, "max_depth": 3, "max_new_tokens": 8} | options))
    return MCTS(*policy, fast_reward=fast, leaf_reward=leaf, config=config).search(prompt)


def signature(tree: Tree) -> list[tuple]:
    return [(n.prefix, n.depth, n.terminal, n.visits, n.value_sum, round(n.prior, 5)) for n in tree.nodes()]


# ----- perplexity and the deficiency set -----

@torch.no_grad()
def test_perplexity_matches_a_hand_computation_over_the_completion_tokens_only(policy):
    model, tok = policy
    prompt_ids = tok(PROMPT)["input_ids"]
    completion_ids = tok(CALLS[0], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    logits = model(input_ids=torch.tensor([prompt_ids + completion_ids])).logits[0].float()
    logps = [torch.log_softmax(logits[len(prompt_ids) - 1 + j], -1)[t].item() for j, t in enumerate(completion_ids)]
    expected = math.exp(-sum(logps) / len(logps))
    (got,) = completion_perplexity(model, tok, [EXAMPLES[0]])
    assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-5)


def test_perplexity_in_padded_batches_equals_one_at_a_time(policy):
    alone = [completion_perplexity(*policy, [e])[0] for e in EXAMPLES]
    batched = completion_perplexity(*policy, EXAMPLES, batch_size=3)
    assert batched == pytest.approx(alone, rel=1e-4)
    assert all(math.isfinite(p) and p > 1 for p in batched)


def test_deficiency_set_keeps_the_hardest_share_hardest_first_ties_in_order():
    items = list("abcdefghij")
    ppl = [5, 1, 9, 9, 2, 3, 7, 1, 1, 4]
    assert deficiency_set(items, ppl) == ["c", "d", "g"]
    assert deficiency_set(items, ppl, share=0.5) == ["c", "d", "g", "a", "j"]
    assert deficiency_set(["x", "y"], [1, 2], share=0.1) == ["y"]  # at least one
    assert deficiency_set(items, [1] * 10, share=0.2) == ["a", "b"]
    with pytest.raises(ValueError):
        deficiency_set(items, ppl[:3])


# ----- cutting continuations at call boundaries -----

@pytest.mark.parametrize("text, start, expected", [
    ("[f(a=1), g(b=2)]", 0, "[f(a=1),"),
    ("[f(a=1), g(b=2)]", 8, "[f(a=1), g(b=2)]"),
    ("[f(a=1) ]", 0, "[f(a=1) ]"),
    ("[f(x=g(a=1), y=[1, 2], z={'k': 1}), h()]", 0, "[f(x=g(a=1), y=[1, 2], z={'k': 1}),"),
    ("[f(s=')', t=\"]\"), g()]", 0, "[f(s=')', t=\"]\"),"),
    ('{"name": "f", "arguments": {"a": 1}} trailing', 0, '{"name": "f", "arguments": {"a": 1}}'),
    ('[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]', 0, '[{"name": "f", "arguments": {}},'),
])
def test_call_boundary_ends_a_step_after_one_top_level_call(text, start, expected):
    assert call_boundary(text, start) == (len(expected), False)


def test_call_boundary_ends_the_response_at_a_newline_outside_brackets():
    assert call_boundary("[f(a=1)]\nUser: thanks", 0) == (8, True)  # after the call
    assert call_boundary("[f(a=1)]\nUser: thanks", 8) == (8, True)  # or on its own
    assert call_boundary("f(a=1) \ng(b=2)", 0) == (6, True)  # one call per line: only the first line counts
    assert call_boundary("[f(a=1), \n g(b=2)]", 0) == (8, False)
    assert call_boundary("Sure, the answer is 4.\nUser:", 0) == (22, True)
    assert call_boundary("\nf(a=1)", 0) == (7, False)  # a leading newline ends nothing
    assert call_boundary("[f(a=1,\n b=2)]", 0) == (14, False)  # a newline inside brackets neither
    assert call_boundary("[f(a=1), g(b=", 8) is None


def test_cut_step_keeps_one_call_and_counts_its_tokens(policy):
    _, tok = policy
    context = tok(PROMPT)["input_ids"]
    ids = tok("[f(a=1), g(b=2)]\nUser: hi", add_special_tokens=False)["input_ids"]
    step, n, ended = cut_step(tok, context, "", ids)
    assert (step, ended) == ("[f(a=1),", False)
    assert tok.decode(ids[:n]).startswith(step) and not tok.decode(ids[:n - 1]).startswith(step)

    rest = tok(" g(b=2)]", add_special_tokens=False)["input_ids"]
    context = tok(PROMPT + step)["input_ids"]
    assert cut_step(tok, context, step, rest + [tok.eos_token_id, tok.pad_token_id]) == (" g(b=2)]", len(rest) + 1,
                                                                                         True)
    newline = tok(" g(b=2)]\nUser:", add_special_tokens=False)["input_ids"]
    assert cut_step(tok, context, step, newline)[::2] == (" g(b=2)]", True)
    unfinished = tok(" g(b=", add_special_tokens=False)["input_ids"]
    assert cut_step(tok, context, step, unfinished) == (" g(b=", len(unfinished), False)


# ----- the search -----

def test_search_expands_k_children_within_the_depth_and_backs_up_mean_values(policy):
    fast = lambda r: len(r) % 5 / 4  # noqa: E731
    tree = search(policy, fast=fast)
    nodes = list(tree.nodes())
    expanded = [n for n in nodes if n.children]
    assert len(expanded) == 5 or (tree.root.exhausted and len(expanded) < 5)  # one expansion per simulation
    for node in expanded:
        assert len(node.children) == 3 and not node.terminal
        assert all(c.depth == node.depth + 1 and c.prefix == node.prefix + c.step for c in node.children)
        # a node's values: its own fast reward when it was made (not the root's), then all that came from below
        own = [fast(node.prefix)] if node is not tree.root else []
        assert node.visits == len(own) + sum(c.visits for c in node.children)
        assert node.value_sum == pytest.approx(sum(own) + sum(c.value_sum for c in node.children))
    assert max(n.depth for n in nodes) <= 3
    assert all(n.terminal for n in nodes if n.depth == 3)
    assert all(n.visits == 1 for n in nodes if n.terminal)  # never revisited
    assert all(math.isfinite(n.prior) and n.prior < 0 for n in nodes[1:])


@torch.no_grad()
def test_a_childs_prior_is_the_mean_policy_log_prob_of_its_kept_tokens(policy):
    model, tok = policy
    mcts = MCTS(model, tok, float, float, MCTSConfig(children=4, max_new_tokens=10, temperature=1.7))
    children = mcts._expand(PROMPT, Node(""), seed=123)
    context = tok(PROMPT, return_tensors="pt")
    torch.manual_seed(123)  # the same draw, redone: the priors use the raw logits, not the tempered ones
    sampled = model.generate(**context, do_sample=True, temperature=1.7, top_k=0, top_p=1.0, max_new_tokens=10,
                             num_return_sequences=4, pad_token_id=tok.pad_token_id)
    width = context["input_ids"].shape[1]
    for child, row in zip(children, sampled):
        ids = row[width:].tolist()
        step, n, _ = cut_step(tok, context["input_ids"][0].tolist(), "", ids)
        logps = torch.log_softmax(model(row.unsqueeze(0)).logits[0, width - 1:-1].float(), -1)
        expected = logps[torch.arange(len(ids)), row[width:]][:max(n, 1)].mean().item()
        assert child.step == step and child.prior == pytest.approx(expected, abs=1e-4)


def test_terminal_nodes_take_the_leaf_reward_and_others_the_fast_reward(policy):
    tree = search(policy, fast=lambda r: 0.0, leaf=lambda r: 10.0, simulations=2, max_depth=2)
    leaves = [n for n in tree.nodes() if not n.children]
    assert any(n.terminal for n in leaves) and any(not n.terminal for n in leaves)
    assert all(n.value == (10.0 if n.terminal else 0.0) for n in leaves)


def test_puct_prefers_value_without_exploration_and_the_prior_with_it():
    root = Node("", visits=4, children=[Node("a", prior=-3.0, visits=2, value_sum=1.0),
                                         Node("b", prior=-0.5, visits=2, value_sum=0.8)])
    greedy = MCTS(None, None, float, float, MCTSConfig(c_uct=0.0))
    exploring = MCTS(None, None, float, float, MCTSConfig(c_uct=2.0))
    # Q: 0.5 vs 0.4; softmax priors: 0.076 vs 0.924, so 2 * 2 * P / 3 adds 0.10 vs 1.23
    assert greedy._select(root).prefix == "a" and exploring._select(root).prefix == "b"


def test_pairs_pair_the_best_and_worst_sibling_when_their_values_differ_enough(policy):
    tree = search(policy, simulations=6)
    pairs = preference_pairs(tree, min_gap=0.1)
    assert pairs
    by_prompt = {tree.prompt + n.prefix: n for n in tree.nodes() if n.children}
    for pair in pairs:
        assert set(pair) == {"prompt", "chosen", "rejected"} and pair["chosen"] != pair["rejected"]
        node = by_prompt[pair["prompt"]]
        best = max(node.children, key=lambda c: c.value)
        worst = min(node.children, key=lambda c: c.value)
        assert best.value - worst.value >= 0.1
        assert pair["chosen"].startswith(best.step) and pair["rejected"].startswith(worst.step)
    gaps = [max(c.value for c in n.children) - min(c.value for c in n.children) for n in by_prompt.values()]
    assert len(pairs) <= sum(g >= 0.1 for g in gaps)
    assert len(preference_pairs(tree, min_gap=max(gaps) + 1e-6)) == 0


def test_no_pairs_when_every_value_is_equal(policy):
    tree = search(policy, fast=lambda r: 0.5, leaf=lambda r: 0.5)
    assert any(n.children for n in tree.nodes()) and preference_pairs(tree) == []


def test_search_is_deterministic_under_a_seed_whatever_ran_before(policy):
    first = signature(search(policy))
    search(policy, prompt="User: something else\nAssistant: ")
    state = torch.random.get_rng_state()
    assert signature(search(policy)) == first
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    assert signature(search(policy, seed=1)) != first


def test_bad_config_values_fail_naming_the_option():
    with pytest.raises(WorkbenchError, match="children"):
        MCTS(None, None, float, float, MCTSConfig(children=1))
