#!/usr/bin/env bash
# `make demo`: the controller with its embedded broker, and a simulated commune of 30
# receivers in 6 villages of Cao Bằng (docs/examples/registry.yaml) with live states.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
LOA=.venv/bin/loa
CONFIG=${CONFIG:-config.yaml}
REGISTRY=${REGISTRY:-docs/examples/registry.yaml}

$LOA config check --config "$CONFIG" >/dev/null
$LOA db upgrade --config "$CONFIG"
$LOA devices import "$REGISTRY" --config "$CONFIG"

$LOA serve --config "$CONFIG" &
serve=$!
stop() {
    trap - INT TERM EXIT
    kill -TERM "$serve" 2>/dev/null
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for _ in $(seq 1 100); do
    $LOA status --config "$CONFIG" --wait 0.2 >/dev/null 2>&1 && break
    kill -0 "$serve" 2>/dev/null || { echo "loa serve stopped; see the lines above" >&2; exit 1; }
    sleep 0.2
done

cat <<MSG

Loa is running: the controller, its embedded Mosquitto, and 30 simulated receivers.
In another terminal:
    $LOA devices list            # receivers, villages, live states
    $LOA devices show tl-na-vuong-1
    $LOA alerts                  # what needs a technician
    $LOA status                  # the controller's presence
    mosquitto_sub -p 18830 -t 'loa/#' -v
Type a fault here and press Enter (kill ID, half-open ID, reboot ID, speaker-fail ID,
power-on ID, restore ID, status, list); Ctrl-C stops everything.

MSG

# In the foreground, so it reads the faults typed here. Heartbeats every 10 s, so a
# half-open link turns `silent` within half a minute.
$LOA sim --registry "$REGISTRY" --config "$CONFIG" --heartbeat 10 --keepalive 30
