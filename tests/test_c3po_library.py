"""The adapter library: list, enable, disable, remove, attach to a LocalChatModel, combine (routed by scope
or summed); errors."""

import shutil

import pytest
import torch
from langchain_core.messages import HumanMessage
from peft import LoraConfig, get_peft_model

from agents.c3po.generate import FeedbackData
from agents.c3po.library import ENABLED, AdapterLibrary, slug
from apps.cli import main
from tests.c3po_fakes import KeywordEncoder
from workbench.errors import WorkbenchError
from workbench.llm.local import LocalChatModel
from workbench.llm.tiny import tiny_causal_lm, tiny_llama, tiny_tokenizer


SCOPES = {"alpha": ("buying a bike", "buying a car"), "beta": ("buying a car", "buying a bike")}


def store_adapter(library: AdapterLibrary, name: str, model_dir, seed: int) -> None:
    """A random (non-zero) LoRA adapter stored like a trained one, with its scope: alpha bikes, beta cars."""
    tok = tiny_tokenizer()
    torch.manual_seed(seed)
    peft = get_peft_model(tiny_llama(tok), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                      init_lora_weights=False))
    peft.save_pretrained(str(library.folder(name) / "adapter"))
    library.write_info(name, {"name": name, "kind": "c3po", "feedback": f"feedback {name}", "model": str(model_dir),
                              "enabled": True, "scores": {}})
    in_scope, near = SCOPES[name]
    FeedbackData(f"feedback {name}", [], [in_scope], [near]).save(library.folder(name) / "data")


@pytest.fixture
def library(tmp_path):
    model_dir = tiny_causal_lm(tmp_path / "tiny")
    lib = AdapterLibrary(tmp_path / "adapters", encoder=KeywordEncoder())
    for seed, name in enumerate(("alpha", "beta")):
        store_adapter(lib, name, model_dir, seed)
    return lib, model_dir


def chat(model_dir):
    return LocalChatModel.from_pretrained(model_dir, device="cpu", dtype=torch.float32)


def test_lifecycle(library, capsys):
    lib, _ = library
    assert lib.names() == ["alpha", "beta"] and lib.enabled() == ["alpha", "beta"]
    assert main(["feedback", "disable", "beta", "--library", str(lib.root)]) == 0
    assert lib.enabled() == ["alpha"] and not lib.info("beta")["enabled"]
    assert main(["feedback", "list", "--library", str(lib.root)]) == 0
    listing = capsys.readouterr().out
    assert "alpha  [enabled ]" in listing and "beta  [disabled]" in listing and "feedback beta" in listing
    assert main(["feedback", "enable", "beta", "--library", str(lib.root)]) == 0
    assert lib.enabled() == ["alpha", "beta"]
    assert main(["feedback", "remove", "alpha", "--library", str(lib.root)]) == 0
    assert lib.names() == ["beta"] and not lib.folder("alpha").exists()


@pytest.mark.parametrize("action", ["enable", "disable", "remove", "evaluate"])
def test_unknown_adapter_is_a_clear_error(library, action, capsys):
    lib, _ = library
    assert main(["feedback", action, "gamma", "--library", str(lib.root)]) == 2
    err = capsys.readouterr().err
    assert "unknown adapter 'gamma'" in err and "known: alpha, beta" in err and len(err.strip().splitlines()) == 1


def test_unknown_adapter_message_lists_the_known_ones(library):
    lib, _ = library
    with pytest.raises(WorkbenchError, match=r"unknown adapter 'gamma' in .* \(known: alpha, beta\)"):
        lib.info("gamma")
    with pytest.raises(WorkbenchError, match="already exists"):
        lib.check_new("alpha")
    with pytest.raises(WorkbenchError, match="adapter name"):
        lib.check_new(ENABLED)
    assert slug("Don't use emojis when drafting emails to my boss!") == "dont-use-emojis-when-drafting-emails"


def delta(model, adapter: str) -> torch.Tensor:
    layer = model.model.base_model.model.model.layers[0].self_attn.q_proj
    return layer.get_delta_weight(adapter)


def test_attach_switches_adapters_per_call(library):
    lib, model_dir = library
    model = chat(model_dir)
    assert lib.attach(model, ["alpha", "beta"], combine=False) == "alpha" and model.active_adapter == "alpha"
    prompt = [[HumanMessage("How much is the bike?")]]
    outputs = {name: model.generate_messages(prompt, adapter=name, temperature=0, max_tokens=6)[0].content
               for name in ("alpha", "beta", None)}
    assert len(set(outputs.values())) == 3
    again = model.generate_messages(prompt, adapter="beta", temperature=0, max_tokens=6)[0].content
    assert again == outputs["beta"] and model.active_adapter == "alpha"  # a per-call adapter is not sticky


PROMPTS = ["How much is the bike?", "Is the car still for sale?", "What a nice day.", "How much is the bike?"]


def test_enabled_adapters_route_each_conversation_to_its_scope(library):
    lib, model_dir = library
    model = chat(model_dir)
    assert lib.attach(model) == ENABLED and model.routers == [ENABLED]  # both enabled, both with scope data
    conversations = [[HumanMessage(p)] for p in PROMPTS]
    assert lib.router(["alpha", "beta"])(conversations) == ["alpha", "beta", None, "alpha"]
    routed = [m.content for m in model.generate_messages(conversations, adapter=ENABLED, temperature=0, max_tokens=6)]
    alone = [model.generate_messages([c], adapter=a, temperature=0, max_tokens=6)[0].content
             for c, a in zip(conversations, ["alpha", "beta", None, "alpha"])]
    assert routed == alone  # one mixed-adapter batch gives each row exactly its adapter's (or the base) reply
    with pytest.raises(WorkbenchError, match="used per call"):
        model.set_adapter(ENABLED)


def test_enabled_adapters_without_scope_data_are_summed(library):
    lib, model_dir = library
    shutil.rmtree(lib.folder("beta") / "data")
    model = chat(model_dir)
    assert lib.attach(model) == ENABLED and model.active_adapter == ENABLED and not model.routers
    assert torch.allclose(delta(model, ENABLED), delta(model, "alpha") + delta(model, "beta"), atol=1e-6)


def test_combine_routed_and_cat(library, capsys):
    lib, model_dir = library
    root = ["--library", str(lib.root)]
    assert main(["feedback", "combine", "alpha", "beta", "--name", "both", *root]) == 0
    assert "into both (routed" in capsys.readouterr().out
    info = lib.info("both")
    assert info["sources"] == ["alpha", "beta"] and info["kind"] == "routed" and not (lib.folder("both") / "adapter").exists()
    model = chat(model_dir)
    assert lib.attach(model, ["both"]) == "both" and sorted(model.adapters) == ["alpha", "beta"]
    routed = model.generate_messages([[HumanMessage(p)] for p in PROMPTS[:3]], adapter="both", temperature=0,
                                     max_tokens=6)
    assert routed[0].content == model.generate_messages([[HumanMessage(PROMPTS[0])]], adapter="alpha", temperature=0,
                                                        max_tokens=6)[0].content
    assert main(["feedback", "combine", "alpha", "beta", "--name", "sum", "--kind", "cat", *root]) == 0
    assert lib.info("sum")["kind"] == "combined"
    lib.attach(model, ["sum"])
    assert torch.allclose(delta(model, "sum"), delta(model, "alpha") + delta(model, "beta"), atol=1e-6)
    with pytest.raises(WorkbenchError, match="part of both, sum"):
        lib.remove("alpha")
    for argv, error in ((["alpha", "--name", "solo"], "at least two adapters"),
                        (["alpha", "beta", "--name", "w", "--weights", "1", "2"], "routed combination takes no"),
                        (["alpha", "sum", "--name", "r"], "sum have no scope data")):
        assert main(["feedback", "combine", *argv, *root]) == 2
        assert error in capsys.readouterr().err


def agent_texts(run_dir):
    from workbench.episodes import load_episodes

    return [t.text for e in load_episodes(run_dir / "episodes") for t in e.turns if t.role == "Buyer"]


def test_selfplay_agent_speaks_with_adapters(library, tmp_path):
    lib, model_dir = library
    common = ["selfplay", "--env", "negotiation", "--simulator", "scripted", "--agent_model", str(model_dir),
              "--policy", "none", "-n", "2", "--max_turns", "2", "--seed", "3", "--no_progress"]
    assert main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert main([*common, "--out", str(tmp_path / "adapted"), "--adapters", "alpha",
                 "--adapter_library", str(lib.root)]) == 0
    plain, adapted = agent_texts(tmp_path / "plain"), agent_texts(tmp_path / "adapted")
    assert len(plain) == len(adapted) and plain != adapted
    assert main([*common, "--out", str(tmp_path / "again"), "--adapters", "alpha",
                 "--adapter_library", str(lib.root)]) == 0
    assert agent_texts(tmp_path / "again") == adapted  # same seed, same adapter: same dialogue


def test_adapters_refuse_another_base_model(library, tmp_path):
    lib, _ = library
    other = chat(tiny_causal_lm(tmp_path / "other"))
    with pytest.raises(WorkbenchError, match="was trained for"):
        lib.attach(other, ["alpha"])
