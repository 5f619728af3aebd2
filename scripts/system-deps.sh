#!/usr/bin/env bash
# Make sure the system programs Loa needs are here: mosquitto (the embedded broker and the
# tests' private brokers), ffmpeg (audio), espeak-ng (text-to-speech) and Chromium (the
# dashboard's browser tests, driven by Playwright with Debian's browser).
# As root on Debian/Ubuntu, missing ones are installed with apt-get; otherwise the exact
# command is printed and the script fails.
set -euo pipefail

declare -A package_of=([mosquitto]=mosquitto [mosquitto_pub]=mosquitto-clients
                       [ffmpeg]=ffmpeg [espeak-ng]=espeak-ng [chromium]=chromium)
missing=()
for program in mosquitto mosquitto_pub ffmpeg espeak-ng chromium; do
    if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$program" ]; then
        missing+=("${package_of[$program]}")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi

echo "Loa needs: ${missing[*]}. Install them with:" >&2
echo "    sudo apt-get install -y ${missing[*]}" >&2
exit 1
