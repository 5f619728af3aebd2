#!/usr/bin/env bash
# `make demo`: the controller with its embedded broker, a simulated commune of 30
# receivers in 6 villages of Cao Bằng (docs/examples/registry.yaml) with live states,
# and a content store holding a Vietnamese bulletin read aloud and a music clip.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
LOA=.venv/bin/loa
CONFIG=${CONFIG:-config.yaml}
REGISTRY=${REGISTRY:-docs/examples/registry.yaml}

$LOA config check --config "$CONFIG" >/dev/null
$LOA db upgrade --config "$CONFIG"
$LOA devices import "$REGISTRY" --config "$CONFIG"

# The content store gets a bulletin read aloud in Vietnamese and a music clip, prepared
# like an operator's uploads (a second run finds both already stored).
news=$($LOA audio tts --config "$CONFIG" --lang vi --by demo --title "Bản tin sáng" --json \
    "Xã Trà Lĩnh thông báo: ngày 02/12 trạm y tế xã tiêm vắc-xin cho trẻ dưới 5 tuổi, \
từ 07:30 đến 11:00. Đề nghị các gia đình đưa trẻ đến đúng giờ. Xin cảm ơn bà con." |
    .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["content"]["id"])')
echo "bulletin read aloud: content ${news:0:12}"
music=$(mktemp --suffix=.wav)
.venv/bin/python scripts/demo_music.py "$music"
$LOA audio prepare "$music" --config "$CONFIG" --lang vi --by demo --title "Nhạc hiệu đài xã"
rm -f "$music"

# The commune's programme (docs/examples/schedules): 06:00 and 17:00 every day, the market
# notice, a vaccination campaign. The demo runs at any hour, so Vietnam's night-time quiet
# hours (22:00-05:00, schedules.quiet_hours) are off for it; a commune's config keeps them.
export LOA_QUIET_HOURS=${LOA_QUIET_HOURS:-none}
$LOA schedule apply docs/examples/schedules --config "$CONFIG" --by demo
# And a demo programme that airs while you watch: the morning bulletin twice, 3 and 6
# minutes from now (local time), delivered a minute ahead.
air() { TZ=Asia/Ho_Chi_Minh date -d "+$1 minutes" +%H:%M; }
first=$(air 3)
second=$(air 6)
$LOA schedule delete demo-chuong-trinh --config "$CONFIG" >/dev/null 2>&1 || true
$LOA schedule add demo-chuong-trinh --config "$CONFIG" --by demo --force \
    --title "Chương trình phát thanh (demo)" --to tra-linh --content "$news" \
    --daily "$first,$second" --lead-s 60 --zone Asia/Ho_Chi_Minh

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

# Once the receivers are up and their clocks synchronised, the morning bulletin goes to
# the whole commune; follow it with `loa bulletin status ID --watch`.
(
    sleep 20
    $LOA bulletin send --config "$CONFIG" --content "$news" --to tra-linh --by demo \
        --title "Bản tin sáng (demo)" >"${TMPDIR:-/tmp}/loa-demo-bulletin.txt" 2>&1 &&
        echo "sent: $(head -1 "${TMPDIR:-/tmp}/loa-demo-bulletin.txt"); follow it with" \
             "$LOA bulletin status $(head -c 12 "${TMPDIR:-/tmp}/loa-demo-bulletin.txt") --watch"
) &

http_port=$($LOA config check --config "$CONFIG" --json 2>/dev/null |
    .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["settings"]["http"]["port"])' \
    2>/dev/null || echo 8080)

cat <<MSG

Loa is running: the controller, its embedded Mosquitto, and 30 simulated receivers on
poor 4G (150 ms +- 100 ms, 2% of audio chunks lost) with clocks off by up to 2 s.

    Dashboard:  http://127.0.0.1:${http_port}/   (Vietnamese; "English" at the top right)
    HTTP API:   http://127.0.0.1:${http_port}/docs

In 20 s the morning bulletin is sent to the whole commune;
the demo programme airs at $first and $second (Vietnam time, UTC+7).
In another terminal:
    $LOA devices list            # receivers, villages, live states
    $LOA devices show tl-na-vuong-1
    $LOA alerts                  # what needs a technician
    $LOA audio list              # the prepared bulletins and music
    $LOA audio play-to-wav ID out.wav
    $LOA bulletin list           # bulletins sent, how many receivers played them
    $LOA bulletin status ID --watch
    $LOA bulletin send --text "Thông báo khẩn..." --to na-vuong --priority emergency
    $LOA schedule list           # the commune's programme; show ID for what each fired
    $LOA schedule calendar --week
    $LOA status                  # the controller's presence
    mosquitto_sub -p 18830 -t 'loa/#' -v
Type a fault here and press Enter (kill ID, half-open ID, reboot ID, speaker-fail ID,
power-on ID, restore ID, status, list); Ctrl-C stops everything.

MSG

# In the foreground, so it reads the faults typed here. Heartbeats every 10 s, so a
# half-open link turns `silent` within half a minute.
# Light faults: every link is a mountain 4G link (150 ms +- 100 ms, 2% of audio chunks
# lost, repaired), clocks off by up to 2 s; type harder ones (kill, half-open) yourself.
$LOA sim --registry "$REGISTRY" --config "$CONFIG" --heartbeat 10 --keepalive 30 \
    --clock-skew 2 --latency 150:100 --chunk-loss 0.02
