#!/usr/bin/env bash
# Retroformer's must-show comparison on a CPU (2 cores; see docs/retroformer.md): in negotiation and persuasion, the
# reflection-following strategy actor over the most-frequent prior with scripted users, one Retroformer model per
# environment (training seed 0), then no reflection / Reflexion (the untrained Gemma) / Retroformer over 4 trials of
# the held-out cases with evaluation seeds 0, 1, 2; HotpotQA with the embedded Gemma (llama.cpp) as actor and
# reflector on the held-out shared questions.
#
#   bash examples/retroformer/mustshow.sh [OUT]     # default OUT: runs/retroformer-mustshow
#   python examples/retroformer/table.py OUT/eval-negotiation-{0,1,2}
# Re-running skips what is done (a training run resumes, a finished evaluation is kept, an interrupted one resumes).
set -euo pipefail
OUT=${1:-runs/retroformer-mustshow}
PERSUASION_N=${PERSUASION_N:-100}   # held-out persuasion cases scored (of 331), for time
SIZE=(--epochs 3 --no_reward_model --ppo_iterations 2 --ppo_cases 8 --ppo_samples 2 --seed 0)
GEMMA=(--agent_model embedded:gemma-3-270m@llamacpp --policy none --temperature 0 --max_new_tokens 48)
mkdir -p "$OUT"

resume_flag() { [ -f "$1/config.yaml" ] && echo --resume || true; }
train() {  # NAME ARGS...: a training run, resumed if it exists
  local name=$1; shift
  [ -d "$OUT/$name/model" ] || workbench train retroformer --out "$OUT/$name" $(resume_flag "$OUT/$name") "$@"
}
evaluate() {  # NAME ARGS...: an evaluation, kept once finished
  local name=$1; shift
  [ -f "$OUT/$name/summary.md" ] || workbench evaluate --out "$OUT/$name" $(resume_flag "$OUT/$name") "$@"
}

train negotiation-s0 --env negotiation --policy most-frequent --cases 96 --samples 6 "${SIZE[@]}"
train persuasion-s0 --env persuasion --policy most-frequent --cases 96 --samples 8 "${SIZE[@]}"
for seed in 0 1 2; do
  evaluate "eval-negotiation-$seed" --env negotiation --policy most-frequent --trials 4 --seed "$seed" \
    --reflection none reflexion "retroformer:$OUT/negotiation-s0"
  evaluate "eval-persuasion-$seed" --env persuasion --policy most-frequent --trials 4 --seed "$seed" \
    -n "$PERSUASION_N" --reflection none reflexion "retroformer:$OUT/persuasion-s0"
done

train hotpotqa-s0 --env hotpotqa "${GEMMA[@]}" --cases 16 --samples 4 --no_reward_model --ppo_iterations 0 --seed 0
evaluate eval-hotpotqa-0 --env hotpotqa "${GEMMA[@]}" --trials 4 --seed 0 \
  --reflection none reflexion "retroformer:$OUT/hotpotqa-s0"

for env in negotiation persuasion; do python "$(dirname "$0")/table.py" "$OUT"/eval-$env-{0,1,2}; done
python "$(dirname "$0")/table.py" "$OUT/eval-hotpotqa-0"
