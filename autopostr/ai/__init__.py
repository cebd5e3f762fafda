"""AI assistance on any OpenAI-compatible server (PRODUCT §8).

- `prompts`: every text sent to the model, as plain templates.
- `server`: the server's settings and the `openai` client, with our one retry.
- `fit`: candidates measured in each platform's own counting, trimmed when they must
  be, and hashtags made valid.
- `usage`: the per-user rate limit and the record of each request (`ai_usage`).
- `assist`: the features themselves, and `--apply` through the post and media edits.

Importing this package loads nothing heavy: `openai` is imported by `server` only
when a request is about to be sent.
"""
