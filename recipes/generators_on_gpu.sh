#!/usr/bin/env bash
# Train the shipped generators (chorale and folk styles) side by side on one GPU within a time budget.
#
#   recipes/generators_on_gpu.sh MINUTES OUT
#
# (ACCELERATOR=cpu STYLES=tiny-generator VAL_EVERY=20 try it out on a CPU in a minute.)
# Needs only torch, lightning, typer, rich, numpy and safetensors: the corpus ships with the package, so no data
# travels. A 40-second calibration run of both styles together measures steps per minute; the real runs then get as
# many steps as fit in MINUTES, so that the learning-rate schedule and the KL annealing run to their end. What comes
# back per style (OUT/<style>/): the best weights and their config, the metrics CSV and run.json.
set -euo pipefail
minutes=${1:?minutes of training}
out=${2:?output folder}
accelerator=${ACCELERATOR:-gpu}
val_every=${VAL_EVERY:-500}
export PYTHONPATH=src PYTHONUNBUFFERED=1
cantor() { python3 -m cantor.cli.main "$@"; }
read -r -a styles <<<"${STYLES:-chorale folk}"
scratch=$(mktemp -d)

for style in "${styles[@]}"; do
    cantor train generator --style "$style" --out "$scratch/calibrate-$style" --accelerator "$accelerator" \
        --max-steps 100000 --val-every 100000 --max-minutes 0.6 >"$scratch/calibrate-$style.log" 2>&1 &
done
wait

steps_per_minute() {  # from the calibration run's metrics: steps between the first and last logged rows
    python3 - "$1" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("time/minutes")]
first, last = rows[1], rows[-1]  # row 0 includes CUDA warm-up
print(int((int(last["step"]) - int(first["step"])) / (float(last["time/minutes"]) - float(first["time/minutes"]))))
EOF
}

for style in "${styles[@]}"; do
    rate=$(steps_per_minute "$scratch/calibrate-$style/logs/metrics.csv")
    # 85 %: validation passes and the checkpoint writes take the rest; rounded to whole validation intervals
    steps=$(python3 -c "print(max($val_every, int($rate * $minutes * 0.85) // $val_every * $val_every))")
    echo "$style: $rate steps/min → --max-steps $steps"
    cantor train generator --style "$style" --out "$scratch/$style" --accelerator "$accelerator" \
        --max-steps "$steps" --val-every "$val_every" --max-minutes "$(python3 -c "print($minutes + 0.5)")" >"$scratch/$style.log" 2>&1 &
done
wait

for style in "${styles[@]}"; do
    mkdir -p "$out/$style"
    tail -n 3 "$scratch/$style.log"
    cp "$scratch/$style/best/model.safetensors" "$scratch/$style/best/config.json" "$out/$style/"
    cp "$scratch/$style/logs/metrics.csv" "$scratch/$style/run.json" "$out/$style/"
done
