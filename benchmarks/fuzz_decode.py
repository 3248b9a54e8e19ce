"""Long decoder fuzzing: the mutations of tests/test_security_decode_fuzz.py for N minutes.

    .venv/bin/python benchmarks/fuzz_decode.py [minutes]   # default 1

Runs rounds of the structural and byte-level mutation properties, and of the hostile-number
property of tests/test_codec_hostile.py (fast and careful paths agree; events obey the number
policy), with fresh random seeds each round until the time is up, and prints the examples run per
property. Exits 1 on the first failure, after Hypothesis has shrunk and printed it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_codec_hostile as hostile
import test_security_decode_fuzz as fuzz

ROUND = settings(max_examples=2_000, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _check(frame: bytes) -> None:
    fuzz.check_decode(frame)


def _check_valid(sample: tuple[bytes, object]) -> None:
    assert fuzz.check_decode(sample[0]), f"a valid frame failed to decode: {sample[0][:120]!r}"


def main(minutes: float) -> int:
    counts = {"structural": 0, "bytes": 0, "valid": 0, "numbers": 0}
    properties = {
        "structural": (fuzz.structural_mutations(), _check),
        "bytes": (fuzz.byte_mutations(), _check),
        "valid": (fuzz.valid_frames(), _check_valid),
        "numbers": (hostile.number_mutations(), hostile.check_both_paths),
    }
    stop = time.monotonic() + minutes * 60
    started = time.monotonic()
    while time.monotonic() < stop:
        for name, (strategy, check) in properties.items():
            examples = ROUND.max_examples if name != "valid" else ROUND.max_examples // 4
            try:  # a fresh wrapper per round: Hypothesis then draws from a fresh random seed
                settings(ROUND, max_examples=examples)(given(strategy)(check))()
            except Exception:
                print(f"FAILED in the {name} property after {sum(counts.values())} examples", flush=True)
                raise
            counts[name] += examples
            if time.monotonic() >= stop:
                break
        elapsed = time.monotonic() - started
        print(f"{elapsed:7.1f} s  " + "  ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
    total = sum(counts.values())
    print(f"done: {total} examples in {time.monotonic() - started:.0f} s, only ProtocolError raised")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
