#!/usr/bin/env bash
# Builds the speaker-verification corpus hark's voiceprint evaluation runs on: real voices from the
# Debian Asterisk prompt packages (docs/VOICEPRINTS.md, shared spec voiceprint.md §6).
#
#   scripts/speech-corpus.sh DIR
#
# DIR/<voice>/<nn>.wav — 24 utterances per voice, 8 kHz mono PCM16, each a concatenation of
# distinct prompts (0.1 s gaps) of at least 4 s, no prompt used twice, fixed shuffle (seed 1234), so
# enrolment and test audio never overlap and every run builds the same corpus.
# Packages are fetched with `apt-get download` and unpacked with `dpkg -x`; nothing is installed.
# Needs: apt-get, dpkg, sox (GSM prompts), python3 (standard library only).
#
# Only real prompts: the packages' silence/ folders (1–10 s of digital zero), tones and chimes are
# left out by name, and any prompt with under 0.1 s, or under 30 %, of 20 ms frames above −45 dBFS
# by level; every utterance must hold at least 2 s of such frames (docs/notes/issue-19-research.md §3).
set -euo pipefail

out="${1:?usage: speech-corpus.sh DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"  # the script changes directory below
voices=(allison_en june_frca carlo_it menardi_it ivr_ru esco armelle_fr)
# Bumped whenever the selection changes, so that a corpus built by an older rule is rebuilt.
version=2
complete=1
[ "$(cat "$out/.version" 2>/dev/null)" = "$version" ] || complete=0
for v in "${voices[@]}"; do
  [ "$(ls "$out/$v" 2>/dev/null | wc -l)" -eq 24 ] || complete=0
done
if [ "$complete" = 1 ]; then
  echo "speech-corpus: $out is complete"
  exit 0
fi

if ! command -v sox >/dev/null 2>&1; then
  # sox converts the two GSM voices; install it when we may, otherwise say what is missing.
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sox >/dev/null
  else
    echo "speech-corpus: needs sox (Debian package sox)" >&2
    exit 1
  fi
fi

work="$out/.packages"
mkdir -p "$work"
cd "$work"
packages=(asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav
  asterisk-core-sounds-ru-wav asterisk-prompt-es-co asterisk-prompt-fr-armelle
  asterisk-prompt-it-menardi-wav)
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  # A fresh machine may not have package lists yet.
  apt-get update -qq
  apt-get download "${packages[@]}" >/dev/null
fi
mkdir -p x
for deb in *.deb; do dpkg -x "$deb" x; done
sounds="$work/x/usr/share/asterisk/sounds"

# The GSM 6.10 voices become 8 kHz PCM16 WAV like the others.
for lang in es fr; do
  mkdir -p "gsm-$lang"
  for f in "$sounds/$lang"/*.gsm; do
    sox -t gsm -r 8000 -c 1 "$f" -b 16 "gsm-$lang/$(basename "$f" .gsm).wav"
  done
done

rm -rf "${out:?}"/{allison_en,june_frca,carlo_it,menardi_it,ivr_ru,esco,armelle_fr}
python3 - "$out" "$sounds" "$work" <<'PY'
import array, glob, math, os, random, sys, wave

out, sounds, work = sys.argv[1:4]
voices = {
    "allison_en": f"{sounds}/en_US_f_Allison",
    "june_frca": f"{sounds}/fr_CA_f_June",
    "carlo_it": f"{sounds}/it_IT_m_Carlo",
    "menardi_it": f"{sounds}/it_IT_f_Menardi",
    "ivr_ru": f"{sounds}/ru_RU_f_IvrvoiceRU",
    "esco": f"{work}/gsm-es",
    "armelle_fr": f"{work}/gsm-fr",
}
UTTERANCES, MIN_SECONDS, RATE, GAP = 24, 4.0, 8000, b"\0\0" * 800
SKIP_DIRS = {"silence"}
SKIP_STEMS = {"ascending-2tone", "descending-2tone", "confbridge-join", "confbridge-leave"}
SKIP_SUBSTR = ("beep", "silence", "tt-", "music")
FRAME, FLOOR = 160, 32767 * 10 ** (-45 / 20)  # 20 ms frames, −45 dBFS

def active_seconds(pcm):
    samples = array.array("h", pcm)
    active = 0
    for i in range(0, len(samples) - FRAME + 1, FRAME):
        frame = samples[i:i + FRAME]
        if math.sqrt(sum(x * x for x in frame) / FRAME) > FLOOR:
            active += 1
    return active * FRAME / RATE

def named_speech(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return not (SKIP_DIRS & set(path.split(os.sep)) or stem in SKIP_STEMS
                or any(x in stem for x in SKIP_SUBSTR))

rng = random.Random(1234)
for voice, folder in voices.items():
    files = sorted(f for f in glob.glob(f"{folder}/**/*.wav", recursive=True) if named_speech(f))
    rng.shuffle(files)
    os.makedirs(f"{out}/{voice}", exist_ok=True)
    made = 0
    while made < UTTERANCES and files:
        parts, seconds = [], 0.0
        while seconds < MIN_SECONDS and files:
            with wave.open(files.pop(), "rb") as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
                    continue
                pcm = w.readframes(w.getnframes())
            if len(pcm) < len(GAP):
                continue
            seconds_here = len(pcm) / 2 / RATE
            active = active_seconds(pcm)
            if active < 0.1 or active < 0.3 * seconds_here:
                continue
            parts += [pcm, GAP]
            seconds += len(pcm) / 2 / RATE
        if seconds < MIN_SECONDS:
            break
        speech = active_seconds(b"".join(parts))
        if speech < 2.0:
            sys.exit(f"speech-corpus: {voice} utterance {made} has only {speech:.2f} s of speech")
        with wave.open(f"{out}/{voice}/{made:02d}.wav", "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(RATE)
            w.writeframes(b"".join(parts))
        made += 1
    if made < UTTERANCES:
        sys.exit(f"speech-corpus: only {made} utterances for {voice}")
    print(f"speech-corpus: {voice}: {made} utterances")
PY
cd "$out" && rm -rf "$work"
echo "$version" > "$out/.version"
