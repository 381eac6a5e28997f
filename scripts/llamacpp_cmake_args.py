"""Print the CMAKE_ARGS that build llama-cpp-python (the ``llamacpp`` extra) for this machine's CPU.

llama-cpp-python ships as source only, and its default build (``-march=native``) compiles in Intel AMX tile
instructions wherever the CPU has them; a kernel or sandbox that does not grant AMX (here: "Illegal
instruction" on the first decode) kills the process. This names each x86 instruction set the CPU reports
(/proc/cpuinfo) and leaves AMX and llava (multimodal, unused) out:

    CMAKE_ARGS="$(python3 scripts/llamacpp_cmake_args.py)" pip install --no-cache-dir "llama-cpp-python[server]>=0.3.36"
"""

from __future__ import annotations

import platform
from pathlib import Path

FLAGS = {  # /proc/cpuinfo flag -> ggml CMake option
    "avx": "GGML_AVX", "avx2": "GGML_AVX2", "fma": "GGML_FMA", "f16c": "GGML_F16C", "bmi2": "GGML_BMI2",
    "avx_vnni": "GGML_AVX_VNNI", "avx512f": "GGML_AVX512", "avx512vbmi": "GGML_AVX512_VBMI",
    "avx512_vnni": "GGML_AVX512_VNNI", "avx512_bf16": "GGML_AVX512_BF16",
}
OFF = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")


def cmake_args(cpuinfo: str) -> str:
    """The CMake options for a CPU whose /proc/cpuinfo text is ``cpuinfo``."""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    options = ["-DLLAVA_BUILD=OFF"]
    if platform.machine() in {"x86_64", "AMD64"} and flags:
        options += ["-DGGML_NATIVE=OFF", *(f"-D{option}={'ON' if flag in flags else 'OFF'}"
                                           for flag, option in FLAGS.items()), *(f"-D{o}=OFF" for o in OFF)]
    return " ".join(options)


if __name__ == "__main__":
    info = Path("/proc/cpuinfo")
    print(cmake_args(info.read_text() if info.is_file() else ""))
