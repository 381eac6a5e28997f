#!/usr/bin/env bash
# iTool's must-show comparison on a CPU (2 cores), sized to finish in about two hours (see docs/tool_use.md):
# few-shot Gemma, warm-up SFT, iTool with SimPO (1 and 2 iterations), the same with DPO, and RLTF (GRPO on the
# generated tasks' execution reward) from the SFT model, each scored on held-out BFCL items (AST, per category) and
# held-out generated tasks (execution success, per difficulty).
#
#   bash examples/itool/compare.sh [OUT]           # default OUT: runs/itool-compare
# Re-running skips what is done (each training run resumes, each evaluation is kept).
set -euo pipefail
OUT=${1:-runs/itool-compare}
BFCL_N=${BFCL_N:-20}     # held-out BFCL items scored (taken in turn from the five categories: 4 each)
TASKS_N=${TASKS_N:-6}    # held-out generated tasks scored (2 per difficulty)
WARMUP=(--warmup_cases 8 --batch_size 1 --grad_accum 2 --max_length 2048)
ROUNDS=(--iteration_cases 10 --simulations 4 --children 3 --max_depth 3 --max_new_tokens 64 --temperature 0.7
        --batch_size 1 --grad_accum 2 --max_length 2048)
mkdir -p "$OUT"

train_itool() {  # NAME ARGS...: a training run, resumed if it exists
  local name=$1; shift
  local resume=(); [ -f "$OUT/$name/config.yaml" ] && resume=(--resume)
  workbench train itool --out "$OUT/$name" "${resume[@]}" "$@"
}

train_itool warmup "${WARMUP[@]}" --iterations 0                 # the SFT model: warmup/warmup-hard/merged
SFT="$OUT/warmup/warmup-hard/merged"
train_itool simpo "${ROUNDS[@]}" --iterations 2 --loss simpo --no_warmup --model "$SFT" &
train_itool dpo "${ROUNDS[@]}" --iterations 2 --loss dpo --no_warmup --model "$SFT"
wait
if [ ! -d "$OUT/rltf/model" ]; then
  resume=(); [ -f "$OUT/rltf/config.yaml" ] && resume=(--resume)
  workbench train grpo --env tool_use --cases tasks --model "$SFT" --lora \
    --prompts 8 --num_generations 4 --batch_size 4 --max_turns 4 --max_new_tokens 64 --max_steps 2 \
    --max_length 3072 --out "$OUT/rltf" "${resume[@]}"
fi

evaluate() {  # NAME MODEL
  for data in bfcl tasks; do
    local n=$BFCL_N; [ $data = tasks ] && n=$TASKS_N
    [ -f "$OUT/eval/$1-$data/summary.md" ] && continue
    rm -rf "$OUT/eval/$1-$data"
    workbench evaluate --env tool_use --data $data --planners none --agent_model "$2" --temperature 0 \
      --max_new_tokens 96 -n "$n" --no_progress --out "$OUT/eval/$1-$data"
  done
}
stage_model() {  # RUN STAGE: the stage's merged model, or its base where the stage trained nothing (no pairs)
  python -c 'import json, sys; r = json.load(open(sys.argv[1]))[sys.argv[2]]; print(r.get("model", r["base"]))' \
    "$OUT/$1/stages.json" "$2"
}
evaluate few-shot embedded:gemma-3-270m
evaluate sft "$SFT"
evaluate itool-simpo-1 "$(stage_model simpo iteration-1)"
evaluate itool-simpo-2 "$(stage_model simpo iteration-2)"
evaluate itool-dpo-1 "$(stage_model dpo iteration-1)"
evaluate itool-dpo-2 "$(stage_model dpo iteration-2)"
evaluate rltf-grpo "$OUT/rltf/model"
python examples/itool/table.py "$OUT/eval" --bfcl_n "$BFCL_N" --tasks_n "$TASKS_N" | tee "$OUT/comparison.md"
