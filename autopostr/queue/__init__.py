"""The publishing queue: the `post_destinations` table is the queue, the database the
only shared truth between daemons.

`queue.claims` takes due destinations with a lease and a fencing token;
`queue.transitions` moves due times and derives a post's state from its
destinations'. The states themselves live in `autopostr.states`.
"""
