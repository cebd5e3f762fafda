"""Billing: plans and their limits, and the Stripe subscription that picks a team's plan.

Off unless a Stripe secret key is set (self-hosted): then nothing is limited and no
Stripe call is made. `plans.py` reads the plans from the config, `limits.py` enforces
them where the action happens (under a lock on the team's row), `events.py` applies
Stripe's events once each, in any order, `stripe_api.py` is the only module that
talks to Stripe, `webhook.py` the signed-webhook receiver.
"""
