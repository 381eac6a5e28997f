#!/usr/bin/env bash
# MultiCritique's must-show runs on a CPU (2 cores; see docs/multicritique.md):
# 1. the critic trained on the three scripted environments (panel of 4 critic personas of the embedded Gemma, the
#    ground-truth meta-critic, SFT on the merged critiques, MARV pairs, DPO);
# 2. the ground-truth critique benchmark on held-out self-play: the best constant critic, one Gemma critic zero-shot,
#    the panel merged by the untrained LLM meta-critic, the SFT critic and the SFT + DPO critic;
# 3. PPDPP in negotiation (template agent, scripted seller) rewarded by the untrained LLM critic (PPDPP's sampled
#    verdicts) or by the trained critic, 3 seeds each, evaluated on the held-out cases by the ground truth.
#
#   bash examples/multicritique/mustshow.sh [OUT]     # default OUT: runs/multicritique-mustshow
# Re-running skips what is done (a training run resumes, a finished evaluation is kept, an interrupted one resumes).
# Sized to finish in one 180-minute session on 2 cores; measured there (2026-12-03): the critic 78 min (collect 22,
# SFT 17 steps of ~84 s, MARV 10, DPO 8 steps of ~220 s), the benchmark without "merged" 13 min, a PPDPP run 5-6 min
# with the untrained LLM critic and 1.3 min with the trained one, the evaluation 1 min, the "merged" row 26 min:
# 2 h 19 min in all. Each step's wall time goes to $OUT/times.txt. The untrained "merged" row (the costliest: 4
# critic agents and a meta-critic call per ACU) comes last; the benchmark resumes with it.
set -euo pipefail
OUT=${1:-runs/multicritique-mustshow}
ENVS=(negotiation persuasion emotional_support)
BENCH=(--envs "${ENVS[@]}" --cases "${BENCH_CASES:-60}" --personas 4 --out "$OUT/benchmark")
RL=(--config examples/ppdpp/scripted.yaml --env negotiation --rl_episodes "${RL_EPISODES:-64}" --critic llm
    --critic_samples "${CRITIC_SAMPLES:-3}" --no_progress)
mkdir -p "$OUT"
resume_flag() { [ -f "$1/config.yaml" ] && echo --resume || true; }
timed() { local start=$SECONDS; "$@" || return; echo "$((SECONDS - start)) s: $*" >> "$OUT/times.txt"; }

[ -f "$OUT/critic-s0/critic.json" ] || timed workbench train critic --envs "${ENVS[@]}" --dialogues 40 --personas 4 \
  --epochs 1 --dpo_epochs 0.5 --max_pairs 1 --seed 0 --out "$OUT/critic-s0" $(resume_flag "$OUT/critic-s0")
timed workbench critique "${BENCH[@]}" $(resume_flag "$OUT/benchmark") \
  --critics single "critic:$OUT/critic-s0/sft" "critic:$OUT/critic-s0"

planners=("SFT=planner:$OUT/ppdpp-llm-s0/sft")   # the planner both RL arms start from (seed 0's SFT)
for seed in 0 1 2; do
  for critic in llm trained; do
    spec=embedded:gemma-3-270m
    [ "$critic" = trained ] && spec="critic:$OUT/critic-s0"
    run="$OUT/ppdpp-$critic-s$seed"
    [ -d "$run/rl" ] || timed workbench train ppdpp "${RL[@]}" --critic_model "$spec" --seed "$seed" --out "$run" \
      $(resume_flag "$run")
    planners+=("$critic=planner:$run/rl")
  done
done
[ -f "$OUT/eval-ppdpp/summary.md" ] || timed workbench evaluate --env negotiation --planners "${planners[@]}" -n 200 \
  --out "$OUT/eval-ppdpp" --no_progress
timed workbench critique "${BENCH[@]}" --resume \
  --critics single merged "critic:$OUT/critic-s0/sft" "critic:$OUT/critic-s0"
