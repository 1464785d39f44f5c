# Sourced by main.sh and test.sh: environment shared by the main job and the tests.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${NLTK_DATA:-}" ] && [ -d "$ROOT/../shared/nltk_data" ]; then
  NLTK_DATA="$(cd "$ROOT/../shared/nltk_data" && pwd)"
  export NLTK_DATA
fi
export MPLBACKEND=Agg
export WANDB_MODE=offline WANDB_SILENT=true WANDB_DIR="${WANDB_DIR:-/tmp/workbench-wandb}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
