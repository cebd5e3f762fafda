"""Scheduling modes: queues of weekly slots, recurring series, the evergreen pool,
blackout windows and feeds, and the simulator that replays them.

The rules here are pure and deterministic (they take `now` and return instants), so
the daemon's jobs and `schedule simulate` run the very same code: `slots`,
`recurrence`, `pauses` and `evergreen` decide; `queueing`, `series`, `pool` and
`feeds` read and write the tables; `simulate` replays them without writing.
"""
