#!/usr/bin/env bash
# Train the recognizer on a lent GPU machine from the kit that scripts/gpu/make_kit.py builds.
# Each call renders what is missing, resumes RUN/last.pt if the machine still has it (else starts
# from INIT), trains for SESSION_MIN minutes of a MAX_MIN-minute schedule, and copies the weights
# to OUT. BUDGET_S bounds the whole call (a lent machine runs one command for at most 10 minutes).
# While it trains, spare cores render the next synthetic set for the following call.
set -euo pipefail
KIT=${KIT:-.devkit}
RUN=${RUN:-runs/gpu-rec}
SYNTH=${SYNTH:-cache/gpu-synth}
N=${N:-320000}          # crops per synthetic set
SEEDS=${SEEDS:-31}      # sets to train on now (rendered first if missing)
DEBIAN_SEEDS=${DEBIAN_SEEDS:-}  # sets rendered with the Debian train fonts alone (KIT/fonts/debian.tsv)
N_DEBIAN=${N_DEBIAN:-$N}
NEXT_SEED=${NEXT_SEED:-}  # set to render in the background for the next call
INIT=${INIT:-recognizer/weights/recognizer.pt}  # "none": a new model, shaped by MODEL_ARGS
EXTRA_DATA=${EXTRA_DATA:-}  # more --data sets, e.g. ".devkit/data/stanford-wild*10" (cut by our detector from stanford tune)
MODEL_ARGS=${MODEL_ARGS:-}  # e.g. "--channels 48,96,160,224,320 --rnn-hidden 192" (new models only)
MAX_MIN=${MAX_MIN:-16}
EPOCHS=${EPOCHS:-100}  # high enough that MAX_MIN ends the run (10 epochs of 266k crops took only 4.3 min on an H200)
BUDGET_S=${BUDGET_S:-560}  # this call's wall-clock budget: training gets what rendering leaves
LOADERS=${LOADERS:-6}
LR=${LR:-1e-3}
SELECT_BY=${SELECT_BY:-loss}  # what best.pt keeps: lowest validation loss, or "cer" (see the model card)
OUT=${OUT:-runs/gpu-out}
DEVICE=${DEVICE:-cuda}
SITE=${SITE:-/tmp/site}  # where the carried wheels install

python3 -c "import rapidfuzz" 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$KIT"/whl/*.whl
export PYTHONPATH=$SITE:$KIT/shim:$PWD PYTHONUNBUFFERED=1
# The project's full CLI needs SQLAlchemy and Whoosh, which such machines lack; data and train don't.
cli() {
  python3 -c 'import sys, typer
from ocrsearch.cli_data import data_app
from ocrsearch.cli_train import train_app
app = typer.Typer()
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app(sys.argv[1:], prog_name="ocrsearch")' "$@"
}
render() {  # seed workers [fonts n name]
  local out="$SYNTH/${5:-s$1}"
  cli data words --packed --out "$out" --n "${4:-$N}" --seed "$1" --workers "$2" --fonts "${3:-$KIT/fonts}"
  touch "$out/complete"
}

while pgrep -f "data words --packed" >/dev/null; do sleep 5; done  # last call's background set
data=()
for seed in $SEEDS; do
  [ -f "$SYNTH/s$seed/complete" ] || { t=$SECONDS; render "$seed" "$(nproc)"; echo "rendered set $seed: $N crops in $((SECONDS - t)) s"; }
  data+=(--data "$SYNTH/s$seed")
done
for seed in $DEBIAN_SEEDS; do
  [ -f "$SYNTH/d$seed/complete" ] || { t=$SECONDS; render "$seed" "$(nproc)" "$KIT/fonts/debian.tsv" "$N_DEBIAN" "d$seed"
    echo "rendered Debian-font set $seed: $N_DEBIAN crops in $((SECONDS - t)) s"; }
  data+=(--data "$SYNTH/d$seed")
done
if [ -n "$NEXT_SEED" ] && [ ! -f "$SYNTH/s$NEXT_SEED/complete" ]; then
  mkdir -p "$SYNTH"
  setsid nohup bash -c "$(declare -f cli render); KIT=$KIT SYNTH=$SYNTH N=$N; render $NEXT_SEED $(( $(nproc) - LOADERS - 1 ))" \
    > "$SYNTH/render-$NEXT_SEED.log" 2>&1 &
fi
SESSION_MIN=$(python3 -c "print(max(0.5, ($BUDGET_S - $SECONDS - 45) / 60))")
echo "training for $SESSION_MIN minutes of a $MAX_MIN-minute schedule"
init=()
[ -f "$RUN/last.pt" ] || [ "$INIT" = none ] || init=(--init "$INIT")
read -r -a model_args <<< "$MODEL_ARGS"
read -r -a extra_sets <<< "$EXTRA_DATA"  # read, not word splitting: "*10" must not glob
extra=()
for set in "${extra_sets[@]}"; do extra+=(--data "$set"); done
cli train recognizer --stage finetune "${init[@]}" "${model_args[@]}" "${data[@]}" \
  --data "$KIT/data/stanford-train*40" --data "$KIT/data/wild1*3" --data "$KIT/data/wild2*3" "${extra[@]}" \
  --val-data "$KIT/data/stanford-val" --val-data "$KIT/data/val-trainfonts" \
  --out "$RUN" --device "$DEVICE" --workers "$LOADERS" --batch-size 256 --lr "$LR" \
  --epochs "$EPOCHS" --max-minutes "$MAX_MIN" --session-minutes "$SESSION_MIN" --val-every 500 --patience 1000 --seed 1 \
  --select-by "$SELECT_BY"
mkdir -p "$OUT"
cp "$RUN/best.pt" "$RUN/log.csv" "$OUT/"
[ -f "$RUN/loss.png" ] && cp "$RUN/loss.png" "$OUT/"
