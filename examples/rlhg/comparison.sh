#!/usr/bin/env bash
# The RLHG comparison (Gao et al., ICLR 2024) on the MOBA game, sized for 2 CPU cores: for each seed a self-centred
# agent (PPO on the task reward beside an all-rounder partner), then for each persona group (one goal profile at
# both skill levels) the chain of examples/rlhg/chain.sh (self-ft, value, gain, shaping), two jobs at a time; then
# per group, every team plays 128 fresh matches with each of its personas: a table and plots/human_goals.png.
# Usage: examples/rlhg/comparison.sh [OUT] [SEEDS] [GROUPS]   e.g. comparison.sh runs/rlhg "0 1 2" "slayer farmer"
set -euo pipefail
out=${1:-runs/rlhg}
seeds=(${2:-0 1 2})
groups=(${3:-slayer farmer})
here=$(dirname "$0")
export OMP_NUM_THREADS=1
for seed in "${seeds[@]}"; do
  [ -f "$out/self-s$seed/model.pt" ] || echo workbench train rlhg --stage self --updates 700 --seed "$seed" \
    --out "$out/self-s$seed" --no_progress
done | xargs -P 2 -I{} sh -c '{} > /dev/null'
for seed in "${seeds[@]}"; do
  for group in "${groups[@]}"; do
    echo "$here/chain.sh $out/self-s$seed $group-high,$group-low $seed $out/$group-s$seed"
  done
done | xargs -P 2 -I{} sh -c '{} > /dev/null'
for group in "${groups[@]}"; do
  agents=(scripted)
  for seed in "${seeds[@]}"; do
    agents+=("self-ft=$out/$group-s$seed/self-ft" "shaping=$out/$group-s$seed/shaping" "RLHG=$out/$group-s$seed/gain")
  done
  workbench evaluate --env moba --agents "${agents[@]}" --personas "$group-high" "$group-low" --matches 128 \
    --out "$out/eval-$group"
done
