"""Make a spoken-digits audio dataset with espeak-ng, for the audio benchmark.

nnvsml's shared data has no audio, and nothing may be downloaded, so the benchmark speaks its
own: the ten digit words, each said by several espeak-ng voices and voice variants at several
speeds and pitches, then given a random gain, a random lead-in of silence and white noise at a
random signal-to-noise ratio (10-30 dB), so that no two clips of a class are the same. Written as
``OUT/<word>/<voice>_<variant>_<speed>_<pitch>.wav`` (16 kHz mono int16).

    python scripts/make_spoken_words.py OUT [--seed 0]

Needs the ``espeak-ng`` program (Debian: ``apt-get install espeak-ng``).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-029"]
VARIANTS = ["m1", "m3", "f1", "f3", "klatt"]
SPEEDS = [120, 160, 200]
PITCHES = [30, 50, 70]
RATE = 16_000


def speak(word: str, voice: str, variant: str, speed: int, pitch: int, tmp: Path) -> np.ndarray:
    path = tmp / "clip.wav"
    subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch),
                    "-w", str(path), word], check=True, capture_output=True)
    rate, signal = wavfile.read(path)
    signal = signal.astype(np.float64) / 32768.0
    return resample_poly(signal, RATE, rate) if rate != RATE else signal


def degrade(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lead = np.zeros(int(rng.uniform(0.0, 0.25) * RATE))
    signal = np.concatenate([lead, signal * rng.uniform(0.3, 1.0)])
    power = np.mean(signal ** 2) + 1e-12
    snr_db = rng.uniform(10, 30)
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), size=signal.shape)
    return np.clip(signal + noise, -1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("make_spoken_words: espeak-ng not found; install it (apt-get install espeak-ng)")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for word in WORDS:
            folder = args.out / word
            folder.mkdir(parents=True, exist_ok=True)
            for voice, variant, speed, pitch in itertools.product(VOICES, VARIANTS, SPEEDS, PITCHES):
                clip = degrade(speak(word, voice, variant, speed, pitch, Path(tmp)), rng)
                name = f"{voice}_{variant}_{speed}_{pitch}.wav"
                wavfile.write(folder / name, RATE, (clip * 32767).astype(np.int16))
    n = len(WORDS) * len(VOICES) * len(VARIANTS) * len(SPEEDS) * len(PITCHES)
    print(f"wrote {n} clips of {len(WORDS)} words to {args.out}")


if __name__ == "__main__":
    main()
