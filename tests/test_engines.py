"""Which engine a role runs on: the embedded Gemma on llama.cpp for the roles that do not train where the extra
is installed, pinned specs kept; and the llama.cpp build flags for this CPU."""

import importlib.util
from pathlib import Path

import pytest

from agents.simulation import SimulationConfig, build_simulation
from apps.gui.models import SharedModels
from workbench.errors import WorkbenchError
from workbench.llm import resolve
from workbench.llm.resolve import EMBEDDED, EMBEDDED_LLAMACPP, EMBEDDED_TRANSFORMERS, frozen_role_spec


@pytest.fixture(params=[True, False], ids=["llamacpp-installed", "no-llamacpp"])
def installed(request, monkeypatch):
    monkeypatch.setattr(resolve, "llamacpp_installed", lambda: request.param)
    return request.param


def test_frozen_roles_take_llamacpp_for_the_embedded_gemma_only(installed):
    assert frozen_role_spec(EMBEDDED) == (EMBEDDED_LLAMACPP if installed else EMBEDDED)
    for pinned in (EMBEDDED_TRANSFORMERS, EMBEDDED_LLAMACPP, "openai:m@http://127.0.0.1:1/v1", "some/folder"):
        assert frozen_role_spec(pinned) == pinned


def test_a_simulation_runs_its_simulator_and_critic_on_the_frozen_engine_and_records_it(installed):
    asked = {}

    def load(specs, seed):
        asked.update(specs)
        return dict.fromkeys(specs)

    with pytest.raises(Exception):  # the fake loader gives no models; the specs it was asked for are the point
        build_simulation(SimulationConfig(simulator="llm", critic="llm", agent_model=EMBEDDED), load=load)
    expected = EMBEDDED_LLAMACPP if installed else EMBEDDED
    assert asked == {"agent": EMBEDDED, "simulator": expected, "critic": expected}


def test_the_app_offers_the_frozen_engine_of_its_models_and_nothing_else(installed, monkeypatch):
    models = SharedModels([EMBEDDED])
    monkeypatch.setattr("apps.gui.models.chat_model", lambda spec: spec)  # no weights: which spec is loaded
    assert models.get(EMBEDDED, frozen=True).inner == (EMBEDDED_LLAMACPP if installed else EMBEDDED)
    assert models.get(EMBEDDED).inner == EMBEDDED
    with pytest.raises(WorkbenchError, match="not offered"):
        models.get(EMBEDDED_TRANSFORMERS)


def test_the_build_flags_name_the_cpu_s_instruction_sets_and_never_amx():
    spec = importlib.util.spec_from_file_location("cmake_args", Path(__file__).parents[1] / "scripts/llamacpp_cmake_args.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.cmake_args("processor\t: 0\nflags\t\t: fpu sse avx avx2 fma f16c avx512f amx_tile amx_int8\n").split()
    if "-DGGML_NATIVE=OFF" in args:  # x86
        assert {"-DGGML_AVX2=ON", "-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=OFF", "-DGGML_AMX_INT8=OFF",
                "-DGGML_AMX_TILE=OFF"} <= set(args)
    assert "-DLLAVA_BUILD=OFF" in args and not any("AMX" in a and a.endswith("=ON") for a in args)
