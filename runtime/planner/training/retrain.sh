#!/usr/bin/env bash
# Retrains the planner's intent head from scratch.
#
#   runtime/planner/training/retrain.sh        (from anywhere)
#
# Idempotent: creates (or reuses) a venv under ~/.cache/steward/train-venv with
# the pinned requirements.txt, makes sure the embedding model is on disk
# (ops/dev/models.sh), regenerates data/train.jsonl and data/eval.jsonl
# (deterministic), then trains, checks and exports model/intent.onnx and
# model/intent.json, then the slot tagger's model/slots.onnx and slots.json. Exits non-zero if any gate in train.py fails, in which
# case model/ is left as it was (STEWARD_INTENT_ACCEPT_BELOW_TARGET=1 lets an
# export below the per-domain accuracy target through, with a warning).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${STEWARD_TRAIN_VENV:-$HOME/.cache/steward/train-venv}"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"

if ! [ -x "$venv/bin/python" ]; then
    echo "retrain: creating venv $venv"
    python3 -m venv "$venv"
fi
# Reinstall only when requirements.txt changed since the last install.
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    echo "retrain: installing $here/requirements.txt"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    echo "$wanted" > "$stamp"
fi

# shellcheck source=../../../ops/dev/models.sh
source "$repo/ops/dev/models.sh"
steward_ensure_models

"$venv/bin/python" "$here/generate.py"
"$venv/bin/python" "$here/train.py"
"$venv/bin/python" "$here/train_slots.py"
