#!/bin/sh
# The image's entrypoint: migrate the database, then become gunicorn (PID 1, so `docker stop`'s SIGTERM reaches it).
#   no arguments: `flask --app app db upgrade` (unless SWITCHYARD_MIGRATE=0), then gunicorn on $HOST:$PORT
#   arguments:    run them instead, as they are (e.g. `flask --app app db upgrade` or `flask --app app keys list`)
# deploy/compose.yaml migrates once in a one-shot service and sets SWITCHYARD_MIGRATE=0 on the gateway replicas.
set -eu
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

export HOST="${HOST:-0.0.0.0}"
export PORT="${PORT:-8080}"

if [ "${SWITCHYARD_MIGRATE:-1}" != "0" ]; then
    flask --app app db upgrade
fi
exec gunicorn -c deploy/gunicorn.conf.py wsgi:app
