"""One source for the car's limits (issue 14 item 4): schemas/rtos_limits.py."""

from __future__ import annotations

import re
import subprocess

from schemas import rtos_limits as car
from schemas.rtos import CarIntent
from tests.rtos.harness import ROOT, RTAPP
from workers.dialog.actions import Bounds, check_intent
from workers.rtgw.envelope import EnvelopeSettings

HEADER = ROOT / "rtos" / "app" / "car_limits.h"


def test_the_c_header_is_generated_from_the_python_limits() -> None:
    assert HEADER.read_text() == car.c_header(), (
        "rtos/app/car_limits.h is out of date; run "
        "'python -m schemas.rtos_limits > rtos/app/car_limits.h' and rebuild (make -C rtos)."
    )


def test_the_rt_app_defaults_are_the_limits() -> None:
    out = subprocess.run([str(RTAPP), "--help"], capture_output=True, text=True).stdout
    defaults = dict(re.findall(r"--(max-[a-z-]+) \S+ +RT hard limit .*\(default ([0-9.]+)\)", out))
    assert defaults == {
        "max-linear-mps": f"{car.MAX_LINEAR_MPS:g}",
        "max-angular-dps": f"{car.MAX_ANGULAR_DPS:g}",
        "max-duration-ms": str(car.MAX_DURATION_MS),
        "max-distance-m": f"{car.MAX_DISTANCE_M:g}",
    }


def test_the_dialog_and_the_envelope_share_the_limits() -> None:
    b, e = Bounds(), EnvelopeSettings()
    assert b.max_speed_mps == e.max_linear_mps == car.MAX_LINEAR_MPS
    assert b.max_angular_dps == e.max_angular_dps == car.MAX_ANGULAR_DPS
    assert b.max_distance_m == e.max_distance_m == car.MAX_DISTANCE_M
    assert b.max_angle_deg == e.max_angle_deg == car.MAX_ANGLE_DEG
    assert b.max_duration_ms == e.max_duration_ms == car.MAX_DURATION_MS
    assert e.buzzer_hz == (car.BUZZER_MIN_HZ, car.BUZZER_MAX_HZ)


def test_a_turn_the_dialog_accepts_is_inside_the_envelope() -> None:
    """The symptom of issue 14: a 150 deg/s turn passed the dialog and was refused later."""
    refused = check_intent(CarIntent(kind="turn", angle_deg=90, angular_dps=150), Bounds())
    assert refused.intent is None and "too fast" in refused.refusal
    ok = check_intent(CarIntent(kind="turn", angle_deg=90, angular_dps=90), Bounds())
    assert ok.intent is not None
    long_tone = CarIntent(kind="buzzer", buzzer_hz=440, duration_ms=car.MAX_BUZZER_MS + 1)
    assert check_intent(long_tone, Bounds()).intent is None  # the envelope would refuse it
