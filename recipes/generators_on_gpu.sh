#!/usr/bin/env bash
# Train symbolic generators (by default the chorale and folk styles) side by side on one GPU within a time budget.
#
#   recipes/generators_on_gpu.sh MINUTES OUT
#   RUNS='band-b512: --style band --batch-size 512; band-f80: --style band --batch-size 512 --free-nats 80' \
#       recipes/generators_on_gpu.sh MINUTES OUT
#
# (ACCELERATOR=cpu STYLES=tiny-generator VAL_EVERY=20 try it out on a CPU in a minute.)
# STYLES lists styles trained with their presets; RUNS, when set, replaces it with named runs, each
# "NAME: ARGUMENTS OF cantor train generator" and separated by ";" (variants of one style side by side).
# Needs only torch, lightning, typer, rich, numpy and safetensors: the corpus ships with the package, so no data
# travels. A 40-second calibration of all runs together measures steps per minute; the real runs then get as
# many steps as fit in MINUTES, so that the learning-rate schedule and the KL annealing run to their end. What comes
# back per run (OUT/<name>/): the best weights and their config, the metrics CSV and run.json.
set -euo pipefail
minutes=${1:?minutes of training}
out=${2:?output folder}
accelerator=${ACCELERATOR:-gpu}
val_every=${VAL_EVERY:-500}
export PYTHONPATH=src PYTHONUNBUFFERED=1
cantor() { python3 -m cantor.cli.main "$@"; }
scratch=$(mktemp -d)

declare -A run_args
names=()
if [[ -n "${RUNS:-}" ]]; then
    IFS=';' read -r -a entries <<<"$RUNS"
    for entry in "${entries[@]}"; do
        name=$(echo "${entry%%:*}" | xargs)
        names+=("$name")
        run_args[$name]=${entry#*:}
    done
else
    for style in ${STYLES:-chorale folk}; do
        names+=("$style")
        run_args[$style]="--style $style"
    done
fi

for name in "${names[@]}"; do
    # shellcheck disable=SC2086  # the run's arguments split into words on purpose
    cantor train generator ${run_args[$name]} --out "$scratch/calibrate-$name" --accelerator "$accelerator" \
        --max-steps 100000 --val-every 100000 --max-minutes 0.6 >"$scratch/calibrate-$name.log" 2>&1 &
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

for name in "${names[@]}"; do
    rate=$(steps_per_minute "$scratch/calibrate-$name/logs/metrics.csv")
    # 85 %: validation passes and the checkpoint writes take the rest; rounded to whole validation intervals
    steps=$(python3 -c "print(max($val_every, int($rate * $minutes * 0.85) // $val_every * $val_every))")
    echo "$name: $rate steps/min → --max-steps $steps"
    # shellcheck disable=SC2086
    cantor train generator ${run_args[$name]} --out "$scratch/$name" --accelerator "$accelerator" \
        --max-steps "$steps" --val-every "$val_every" --max-minutes "$(python3 -c "print($minutes + 0.5)")" \
        >"$scratch/$name.log" 2>&1 &
done
wait

for name in "${names[@]}"; do
    mkdir -p "$out/$name"
    tail -n 3 "$scratch/$name.log"
    cp "$scratch/$name/best/model.safetensors" "$scratch/$name/best/config.json" "$out/$name/"
    cp "$scratch/$name/logs/metrics.csv" "$scratch/$name/run.json" "$out/$name/"
done
