"""The publishing daemon: an APScheduler clock driving domain functions.

The database is the only shared truth between daemons; each daemon's
scheduler keeps its jobs in memory.
"""
