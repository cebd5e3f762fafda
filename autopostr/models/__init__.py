"""The tables of PRODUCT §11 as SQLModel classes, one module per part of the product.

Every datetime is timezone-aware UTC (sqlmodel stores aware values and refuses naive
ones). Schema changes go through Alembic migrations in `autopostr/migrations`; a test
fails when these classes and the migrations disagree.

`from autopostr.models import Post` loads only the module that defines `Post` and the
modules its foreign keys point into: building a table class costs a few milliseconds,
and a reading command needs a third of them. `metadata` is the whole schema: every
table, with the partial indexes (see `_base.partial_index`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_BASE = ("AccountStatus", "AiFeature", "Role", "one_of", "partial_index", "utcnow")
_HOME = {
    "SocialAccount": "accounts",
    "AiUsage": "ai",
    "AnalyticsSnapshot": "analytics",
    "AnalyticsDaily": "analytics",
    "AnalyticsTarget": "analytics",
    "Subscription": "billing",
    "BillingEvent": "billing",
    "User": "identity",
    "Session": "identity",
    "ApiToken": "identity",
    "Team": "identity",
    "TeamMember": "identity",
    "TeamInvite": "identity",
    "Media": "media",
    "MediaChunk": "media",
    "PostMedia": "media",
    "Daemon": "operations",
    "AuditLog": "operations",
    "AppMeta": "operations",
    "Post": "posts",
    "CodePost": "posts",
    "ImportTombstone": "posts",
    "PostDestination": "posts",
    "PublishLog": "posts",
    "QueueSchedule": "schedule",
    "QueueSlot": "schedule",
    "QueuePause": "schedule",
    "PostSeries": "schedule",
    "SeriesPost": "schedule",
    "EvergreenItem": "schedule",
    "Feed": "schedule",
    "FeedEntry": "schedule",
}
_MODULES = tuple(dict.fromkeys(_HOME.values()))


def __getattr__(name: str) -> Any:
    if name == "metadata":
        return whole_schema()
    if name in _BASE:
        module = "_base"
    elif name in _HOME:
        module = _HOME[name]
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def all_tables() -> list[Any]:
    """Every table, in dependency order, without attaching the partial indexes (their
    options name both dialects, and naming one loads it): for checks of the tables."""
    from autopostr.models import _base

    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return list(_base.metadata.sorted_tables)


def whole_schema() -> MetaData:
    """Every table and index of the schema: for migrations, `create_all` and checks."""
    from autopostr.models import _base

    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}")
    _base.attach_partial_indexes()
    return _base.metadata


if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from autopostr.models._base import AccountStatus as AccountStatus
    from autopostr.models._base import AiFeature as AiFeature
    from autopostr.models._base import Role as Role
    from autopostr.models._base import one_of as one_of
    from autopostr.models._base import partial_index as partial_index
    from autopostr.models._base import utcnow as utcnow
    from autopostr.models.accounts import SocialAccount as SocialAccount
    from autopostr.models.ai import AiUsage as AiUsage
    from autopostr.models.analytics import (
        AnalyticsDaily as AnalyticsDaily,
    )
    from autopostr.models.analytics import (
        AnalyticsSnapshot as AnalyticsSnapshot,
    )
    from autopostr.models.analytics import (
        AnalyticsTarget as AnalyticsTarget,
    )
    from autopostr.models.billing import BillingEvent as BillingEvent
    from autopostr.models.billing import Subscription as Subscription
    from autopostr.models.identity import (
        ApiToken as ApiToken,
    )
    from autopostr.models.identity import (
        Session as Session,
    )
    from autopostr.models.identity import (
        Team as Team,
    )
    from autopostr.models.identity import (
        TeamInvite as TeamInvite,
    )
    from autopostr.models.identity import (
        TeamMember as TeamMember,
    )
    from autopostr.models.identity import (
        User as User,
    )
    from autopostr.models.media import (
        Media as Media,
    )
    from autopostr.models.media import (
        MediaChunk as MediaChunk,
    )
    from autopostr.models.media import (
        PostMedia as PostMedia,
    )
    from autopostr.models.operations import (
        AppMeta as AppMeta,
    )
    from autopostr.models.operations import (
        AuditLog as AuditLog,
    )
    from autopostr.models.operations import (
        Daemon as Daemon,
    )
    from autopostr.models.posts import (
        CodePost as CodePost,
    )
    from autopostr.models.posts import (
        ImportTombstone as ImportTombstone,
    )
    from autopostr.models.posts import (
        Post as Post,
    )
    from autopostr.models.posts import (
        PostDestination as PostDestination,
    )
    from autopostr.models.posts import (
        PublishLog as PublishLog,
    )
    from autopostr.models.schedule import (
        EvergreenItem as EvergreenItem,
    )
    from autopostr.models.schedule import (
        Feed as Feed,
    )
    from autopostr.models.schedule import (
        FeedEntry as FeedEntry,
    )
    from autopostr.models.schedule import (
        PostSeries as PostSeries,
    )
    from autopostr.models.schedule import (
        QueuePause as QueuePause,
    )
    from autopostr.models.schedule import (
        QueueSchedule as QueueSchedule,
    )
    from autopostr.models.schedule import (
        QueueSlot as QueueSlot,
    )
    from autopostr.models.schedule import (
        SeriesPost as SeriesPost,
    )

    metadata: MetaData
