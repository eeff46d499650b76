#!/usr/bin/env bash
# Makes the small audio files hark-audio's decoder tests read: one second of a 440 Hz tone on the
# left channel and an 1000 Hz tone on the right, in each container and codec the decoder supports.
# Needs sox with its format plug-ins (Debian: sox libsox-fmt-all). Re-run only to change them:
#     scripts/audio-fixtures.sh crates/hark-audio/tests/fixtures/formats
set -euo pipefail
out=${1:?usage: audio-fixtures.sh OUTDIR}
mkdir -p "$out"
tone() { # rate, channels-args..., then output args
  local rate=$1; shift
  sox -n -r "$rate" -b 16 "$@"
}
stereo="synth 1 sine 440 sine 1000 gain -6"
tone 16000 -c 2 "$out/pcm16-stereo-16k.wav" $stereo
tone 8000 -c 1 -e mu-law "$out/ulaw-mono-8k.wav" synth 1 sine 440 gain -6
tone 8000 -c 1 -e a-law "$out/alaw-mono-8k.wav" synth 1 sine 440 gain -6
tone 44100 -c 2 "$out/stereo-44k.flac" $stereo
sox -n -r 48000 -c 2 -C 3 "$out/stereo-48k.ogg" $stereo
sox -n -r 16000 -c 1 -C 64 "$out/mono-16k.mp3" synth 1 sine 440 gain -6
ls -l "$out"
