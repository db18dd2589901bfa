#!/usr/bin/env bash
# Train the shipped stem VAE on one GPU within a time budget, from a mel pack (the audio cannot travel).
#
#   .venv/bin/python recipes/pack_mels.py --data DATA/band --data DATA/chorale --seconds 3 --out build/stem-mels.npz
#   recipes/stem_vae_on_gpu.sh MINUTES OUT [PACK]
#
# (ACCELERATOR=cpu PRESET=tiny-stem-vae VAL_EVERY=10 try it out on a CPU.) A 30-second calibration run measures
# steps per minute; the real run then gets as many steps as fit in MINUTES, so that its learning-rate schedule and
# KL annealing run to their end. OUT receives the best weights and config, the metrics CSV and run.json.
set -euo pipefail
minutes=${1:?minutes of training}
out=${2:?output folder}
pack=${3:-build/stem-mels.npz}
accelerator=${ACCELERATOR:-gpu}
preset=${PRESET:-stem-vae}
val_every=${VAL_EVERY:-500}
export PYTHONPATH=src PYTHONUNBUFFERED=1
cantor() { python3 -m cantor.cli.main "$@"; }
scratch=$(mktemp -d)

cantor train stem-vae --data "$pack" --preset "$preset" --out "$scratch/calibrate" --accelerator "$accelerator" \
    --max-steps 1000000 --val-every 1000000 --max-minutes 0.5 >"$scratch/calibrate.log" 2>&1
rate=$(python3 - "$scratch/calibrate/logs/metrics.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("time/minutes")]
first, last = rows[1], rows[-1]  # row 0 includes CUDA warm-up
print(int((int(last["step"]) - int(first["step"])) / (float(last["time/minutes"]) - float(first["time/minutes"]))))
PY
)
# 85 %: validation passes and the checkpoint writes take the rest; rounded to whole validation intervals
steps=$(python3 -c "print(max($val_every, int($rate * $minutes * 0.85) // $val_every * $val_every))")
echo "stem VAE: $rate steps/min → --max-steps $steps"
cantor train stem-vae --data "$pack" --preset "$preset" --out "$scratch/run" --accelerator "$accelerator" \
    --max-steps "$steps" --val-every "$val_every" --max-minutes "$(python3 -c "print($minutes + 0.3)")" \
    >"$scratch/run.log" 2>&1
tail -n 3 "$scratch/run.log"
mkdir -p "$out"
cp "$scratch/run/best/model.safetensors" "$scratch/run/best/config.json" "$scratch/run/logs/metrics.csv" \
    "$scratch/run/run.json" "$out/"
