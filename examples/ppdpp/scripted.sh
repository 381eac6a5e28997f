#!/usr/bin/env bash
# Train PPDPP planners with 3 seeds on a scripted environment, then evaluate them on the held-out
# cases against the random, most-frequent and SFT-only planners (200 episodes per planner and seed).
# Usage: examples/ppdpp/scripted.sh ENV [OUT]
set -euo pipefail
env=${1:?usage: scripted.sh ENV [OUT]}
out=${2:-runs/ppdpp-$env}
here=$(dirname "$0")
planners=(random most-frequent)
for seed in 0 1 2; do
  workbench train ppdpp --config "$here/scripted.yaml" --env "$env" --seed "$seed" --out "$out/seed$seed" --no-progress
  planners+=("SFT=planner:$out/seed$seed/sft" "RL=planner:$out/seed$seed/rl")
done
workbench evaluate --env "$env" --planners "${planners[@]}" -n 200 --out "$out/eval" --no-progress
