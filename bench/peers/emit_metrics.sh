#!/bin/sh
# A job of comparison 4: 10 metrics x 10 steps into $DDMD_EVENTS (the event protocol, DESIGN §7),
# with no interpreter start-up beyond awk, so populating 1,000 runs stays cheap.
awk -v run="$1" 'BEGIN {
  for (s = 0; s < 10; s++) for (k = 0; k < 10; k++)
    printf "{\"seq\":%d,\"type\":\"metric\",\"key\":\"train/m%d\",\"step\":%d,\"value\":%.6f}\n", s * 10 + k, k, s, (k + 1) / (s + 1)
}' >> "$DDMD_EVENTS"
