"""The car's limits: one source for the dialog's bounds, the gateway's envelope and the RT app.

Three places check what the car may be asked to do: the dialog (``workers/dialog/actions.py``
``Bounds``, what a spoken command may ask), the gateway's safety envelope
(``workers/rtgw/envelope.py``, what may enter the ring) and the car controller's own hard limits
(``rtos/app/car.c``, defence in depth). They take their defaults from here, so a command the
dialog accepts is not refused later for a limit nobody said. A config may still tighten one
layer (``settings.bounds``, ``settings.envelope``, ``rtapp --max-...``).

The C side cannot import Python: ``rtos/app/car_limits.h`` is generated from this module and
committed (``python -m schemas.rtos_limits > rtos/app/car_limits.h``);
``tests/rtos/test_car_limits.py`` fails when it is out of date, and checks the defaults that
``rtapp --help`` prints.

These bound fields of the ``rtos.command`` model (``schemas/rtos.py``), which is why they live
beside it in ``schemas/``: the one package both the dialog (producer) and the gateway (consumer)
depend on, as workers must not import each other.
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = [
    "BUZZER_MAX_HZ",
    "BUZZER_MIN_HZ",
    "DEFAULT_TURN_DPS",
    "MAX_ANGLE_DEG",
    "MAX_ANGULAR_DPS",
    "MAX_BUZZER_MS",
    "MAX_DISTANCE_M",
    "MAX_DURATION_MS",
    "MAX_LINEAR_MPS",
    "c_header",
]

MAX_LINEAR_MPS: Final = 0.5
"""Largest forward or backward speed, m/s."""
MAX_ANGULAR_DPS: Final = 90.0
"""Largest yaw rate of a drive or a turn, degrees per second."""
MAX_DURATION_MS: Final = 10_000
"""Longest motion (a timed drive, or the time cap of a distance drive or a turn), ms."""
MAX_DISTANCE_M: Final = 3.0
"""Longest drive of one command, metres."""
MAX_ANGLE_DEG: Final = 360.0
"""Largest turn of one command, degrees."""
DEFAULT_TURN_DPS: Final = 45.0
"""Yaw rate of a turn that names none, degrees per second (applied by the RT side)."""
BUZZER_MIN_HZ: Final = 50
"""Lowest buzzer tone, Hz."""
BUZZER_MAX_HZ: Final = 10_000
"""Highest buzzer tone, Hz."""
MAX_BUZZER_MS: Final = 3_000
"""Longest buzzer tone, ms."""


def c_header() -> str:
    """``rtos/app/car_limits.h``: the same limits in the car controller's integer units."""
    rows = [
        ("CAR_MAX_LINEAR_MMPS", round(MAX_LINEAR_MPS * 1000), "mm/s"),
        ("CAR_MAX_ANGULAR_MDPS", round(MAX_ANGULAR_DPS * 1000), "millidegrees/s"),
        ("CAR_MAX_DURATION_MS", MAX_DURATION_MS, "ms"),
        ("CAR_MAX_DISTANCE_MM", round(MAX_DISTANCE_M * 1000), "mm"),
        ("CAR_MAX_ANGLE_MDEG", round(MAX_ANGLE_DEG * 1000), "millidegrees"),
        ("CAR_DEFAULT_TURN_MDPS", round(DEFAULT_TURN_DPS * 1000), "millidegrees/s"),
        ("CAR_BUZZER_MIN_HZ", BUZZER_MIN_HZ, "Hz"),
        ("CAR_BUZZER_MAX_HZ", BUZZER_MAX_HZ, "Hz"),
        ("CAR_MAX_BUZZER_MS", MAX_BUZZER_MS, "ms"),
    ]
    lines = [
        "/* The car's limits, generated from schemas/rtos_limits.py: do not edit; run",
        " *   python -m schemas.rtos_limits > rtos/app/car_limits.h",
        " * (tests/rtos/test_car_limits.py checks that it is up to date). */",
        "#ifndef CAR_LIMITS_H",
        "#define CAR_LIMITS_H",
        "",
        *(f"#define {name} {value} /* {unit} */" for name, value, unit in rows),
        "",
        "#endif",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(c_header())
