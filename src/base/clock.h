/* The monotonic clock, for deadlines and durations. */
#pragma once

#include <stdint.h>

/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);
/** CLOCK_MONOTONIC in milliseconds. */
uint64_t mono_ms(void);
/** CLOCK_REALTIME in nanoseconds since the epoch (times shown to users:
 *  created, started, finished, log records). */
int64_t wall_ns(void);
