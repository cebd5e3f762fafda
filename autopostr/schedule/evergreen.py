"""The evergreen pool's rule: which post fills an empty slot.

When an account's queue has an empty slot (and no pause covers it), the pool's post
shared longest ago goes in, but never within its minimum interval, never past its
cycles or end date, never with the same text as the account's previous post, and
never more than one per slot. A platform that refuses identical text (X's
duplicate rule) gets the next variant in rotation, or is skipped with a reason.

`pick` is pure: the daemon (`pool.py`) asks it with what the database holds, the
simulator with what it has placed so far, so both choose alike.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Platforms that refuse a text they have seen from the account before.
REFUSE_REPEATS = frozenset({"x"})


@functools.lru_cache(maxsize=4096)
def text_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()[:32]


@dataclass
class Item:
    id: int
    post_id: int
    category: str
    accounts: frozenset[int]
    texts: dict[int, str]  # the text each account gets (its variant, else the post's)
    variants: tuple[str, ...] = ()  # alternative texts rotated where repeats are refused
    min_interval: timedelta = timedelta(days=30)
    max_cycles: int | None = None
    until: datetime | None = None
    cycles: int = 0
    last_shared_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Choice:
    item: Item
    text: str


@dataclass
class Skip:
    item_id: int
    account_id: int
    reason: str


@dataclass
class AccountState:
    platform: str
    categories: frozenset[str] = frozenset()  # empty: any category fills this queue
    last_text: str | None = None  # text_key of the account's previous post
    skips: list[Skip] = field(default_factory=list)


def text_for(item: Item, account_id: int, platform: str) -> str | None:
    """The text this item posts now on this account, or None when it may not."""
    base = item.texts[account_id]
    if platform not in REFUSE_REPEATS or item.cycles == 0:
        return base
    if not item.variants:
        return None
    rotation = (base, *item.variants)
    return rotation[item.cycles % len(rotation)]


_NEVER = datetime.min.replace(tzinfo=UTC)


def pick(
    items: Sequence[Item], account_id: int, slot: datetime, state: AccountState
) -> Choice | None:
    """The item for this empty slot of this account, or None (nothing may go there).
    Shared longest ago first (never shared: oldest in the pool first), then by id."""
    best: tuple[bool, datetime, int] | None = None
    chosen: Choice | None = None
    for item in items:
        if account_id not in item.accounts:
            continue
        if state.categories and item.category not in state.categories:
            continue
        if item.max_cycles is not None and item.cycles >= item.max_cycles:
            continue
        if item.until is not None and slot >= item.until:
            continue
        last = item.last_shared_at
        if last is not None and slot - last < item.min_interval:
            continue
        key = (last is not None, last or item.created_at or _NEVER, item.id)
        if best is not None and key >= best:
            continue
        text = text_for(item, account_id, state.platform)
        if text is None:
            reason = "the platform refuses a repeated text and the post has no variant"
            if not any(s.item_id == item.id and s.account_id == account_id for s in state.skips):
                state.skips.append(Skip(item.id, account_id, reason))
            continue
        if state.last_text is not None and text_key(text) == state.last_text:
            continue
        best, chosen = key, Choice(item, text)
    return chosen


def shared(choice: Choice, slot: datetime, state: AccountState) -> None:
    """What placing the choice changes, for the next pick."""
    choice.item.cycles += 1
    choice.item.last_shared_at = slot
    state.last_text = text_key(choice.text)
