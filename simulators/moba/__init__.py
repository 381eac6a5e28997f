"""Three-lane MOBA game for human-gain training (RLHG, Gao et al., ICLR 2024, arXiv 2401.16444; issue 22).

:mod:`.rules` (the documented rules and constants), :mod:`.game` (:class:`MobaGame`, B matches as numpy arrays),
:mod:`.humans` (scripted human personas), :mod:`.enemy` (scripted enemy and default ally policies) and
:mod:`.vector_env` (:class:`MobaVectorEnv`, Gymnasium's vector API; needs ``gymnasium``). Importing this package
loads nothing until a name is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MobaGame", "MobaVectorEnv", "PERSONAS", "Persona"]

_WHERE = {"MobaGame": ".game", "MobaVectorEnv": ".vector_env", "PERSONAS": ".humans", "Persona": ".humans"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(name)
