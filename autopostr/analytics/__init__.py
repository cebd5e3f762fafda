"""Analytics: numbers synced from the platforms into daily snapshots, and the reports
made of them.

- `sync`: the job that asks the platforms (daemon and `analytics sync`), once per
  period however many daemons run it;
- `snapshots`: how a day's numbers are written, with what each added to its total;
- `reports`: overview, one post, one account, best times, export.
"""
