/* The car's limits, generated from schemas/rtos_limits.py: do not edit; run
 *   python -m schemas.rtos_limits > rtos/app/car_limits.h
 * (tests/rtos/test_car_limits.py checks that it is up to date). */
#ifndef CAR_LIMITS_H
#define CAR_LIMITS_H

#define CAR_MAX_LINEAR_MMPS 500 /* mm/s */
#define CAR_MAX_ANGULAR_MDPS 90000 /* millidegrees/s */
#define CAR_MAX_DURATION_MS 10000 /* ms */
#define CAR_MAX_DISTANCE_MM 3000 /* mm */
#define CAR_MAX_ANGLE_MDEG 360000 /* millidegrees */
#define CAR_DEFAULT_TURN_MDPS 45000 /* millidegrees/s */
#define CAR_BUZZER_MIN_HZ 50 /* Hz */
#define CAR_BUZZER_MAX_HZ 10000 /* Hz */
#define CAR_MAX_BUZZER_MS 3000 /* ms */

#endif
