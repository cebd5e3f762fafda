"""Content as code: a folder of Markdown posts in git, `plan`, `apply`, `export-dir`.

`files.py` reads and writes the folder, `plan.py` compares it with the team's posts,
`apply.py` makes the posts what the folder says in one transaction, `export.py`
writes the team's posts as a folder.
"""
