#!/usr/bin/env bash
# A private Docker Engine for `make deploy-test`: its own socket, state and data directories, so
# it never touches another Docker on the machine; no bridge and no iptables rules, since every
# container runs with host networking on 127.0.0.1.
#   deploy/local/dockerd.sh start   start it unless it runs (prints the DOCKER_HOST to use)
#   deploy/local/dockerd.sh stop    stop the engine this script started (by its pid file)
set -euo pipefail
ROOT=${EMSYNC_DOCKER_ROOT:-/var/lib/emsync-docker}
RUN=${EMSYNC_DOCKER_RUN:-/run/emsync-docker}
SOCK="$RUN/docker.sock"
PIDFILE="$RUN/dockerd.pid"
LOG=${EMSYNC_DOCKER_LOG:-/var/log/emsync-dockerd.log}

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$ROOT" "$RUN"
    if ! running; then
      # setsid: the engine outlives the make recipe's shell until `stop`.
      setsid /usr/sbin/dockerd --data-root "$ROOT" --exec-root "$RUN/exec" \
        -H "unix://$SOCK" --pidfile "$PIDFILE" \
        --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        >>"$LOG" 2>&1 < /dev/null &
      for _ in $(seq 1 120); do
        DOCKER_HOST="unix://$SOCK" /usr/bin/docker version >/dev/null 2>&1 && break
        sleep 0.5
      done
    fi
    DOCKER_HOST="unix://$SOCK" /usr/bin/docker version --format 'dockerd {{.Server.Version}}' >&2
    echo "unix://$SOCK"
    ;;
  stop)
    if running; then
      pid=$(cat "$PIDFILE")
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
