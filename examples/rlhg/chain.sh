#!/usr/bin/env bash
# One RLHG comparison chain (Gao et al., ICLR 2024) for one seed and one human persona group, from a self-centred
# agent: self-ft (the self-centred agent fine-tuned with this partner on the task reward alone: the reference),
# then Stage I (value: V_phi with self-ft frozen), then from it, on the same number of updates, Stage II (gain:
# RLHG) and the reward-shaping baseline.
# Usage: examples/rlhg/chain.sh SELF_RUN PERSONAS SEED OUT [UPDATES] [VALUE_UPDATES]
set -euo pipefail
self_run=${1:?usage: chain.sh SELF_RUN PERSONAS SEED OUT [UPDATES] [VALUE_UPDATES]}
personas=${2:?personas, e.g. slayer-high,slayer-low}
seed=${3:?seed}
out=${4:?out}
updates=${5:-150}
value_updates=${6:-60}
common=(--persona "$personas" --seed "$seed" --no_progress)
done_or() { [ -f "$1/model.pt" ] || "${@:2}"; }
done_or "$out/self-ft" workbench train rlhg --stage self --init "$self_run" --updates "$updates" --out "$out/self-ft" "${common[@]}"
done_or "$out/value" workbench train rlhg --stage value --init "$out/self-ft" --updates "$value_updates" --out "$out/value" "${common[@]}"
done_or "$out/gain" workbench train rlhg --stage gain --init "$out/value" --updates "$updates" --out "$out/gain" "${common[@]}"
done_or "$out/shaping" workbench train rlhg --stage shaping --init "$out/value" --updates "$updates" --out "$out/shaping" "${common[@]}"
