#!/usr/bin/env bash
# Regenerates sounds/en/*.wav: the prompts the dialplan and the applications
# (Authenticate, ChanSpy, Read, Playback ...) play, under Asterisk's sound names,
# as 8 kHz mono 16-bit PCM WAV. Speech is synthesised with espeak-ng (en-us) and
# converted with sox; "beep" is a 250 ms 1000 Hz tone, not speech.
#
# The WAVs are committed as data, so this only needs to run when a prompt is
# added or reworded. Needs: espeak-ng, sox (apt-get install -y espeak-ng sox).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=sounds/en
mkdir -p "$OUT/digits"
for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y espeak-ng sox" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# say NAME TEXT: speech at -6 dBFS peak, leading/trailing silence trimmed to 50 ms.
say() {
    local name=$1 text=$2
    espeak-ng -v en-us -s 150 -w "$TMP/raw.wav" "$text"
    sox "$TMP/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$OUT/$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.05 0.05 norm -6
    echo "$OUT/$name.wav: $text"
}

say extension      "Extension"
say invalid        "That is not a valid extension."
say activated      "Activated"
say de-activated   "De-activated"
say agent-pass     "Please enter your password, followed by the pound key."
say auth-thankyou  "Thank you."
say auth-incorrect "Password incorrect. Please enter your password, followed by the pound key."
say vm-goodbye     "Goodbye."
say pls-try-again  "Please try again."
say call-monitored "This call is being monitored."
words=(zero one two three four five six seven eight nine ten eleven twelve thirteen
       fourteen fifteen sixteen seventeen eighteen nineteen)
for d in "${!words[@]}"; do
    say "digits/$d" "${words[$d]}"
done
tens=([20]=twenty [30]=thirty [40]=forty [50]=fifty [60]=sixty [70]=seventy [80]=eighty [90]=ninety)
for d in "${!tens[@]}"; do
    say "digits/$d" "${tens[$d]}"
done
say digits/hundred "hundred"
# Queue(): position and hold-time announcements, as Asterisk names them.
say queue-youarenext   "You are now first in line."
say queue-thereare     "You are caller number"
say queue-callswaiting "in the queue."
say queue-holdtime     "The estimated hold time is"
say queue-less-than    "less than"
say queue-minute       "minute"
say queue-minutes      "minutes"
say queue-thankyou     "Thank you for your patience."
say queue-periodic-announce "All of our agents are busy. Please stay on the line."

# Asterisk's beep: a short 1000 Hz tone (-10 dBFS), 5 ms fades so it does not click.
sox -n -r 8000 -c 1 -b 16 -e signed-integer "$OUT/beep.wav" \
    synth 0.25 sine 1000 gain -10 fade t 0.005 0.25 0.005
echo "$OUT/beep.wav: 1000 Hz, 250 ms"
