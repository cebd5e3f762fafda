"""The AI features: caption, hashtags, improve, ideas, alt text and per-platform variants.

A request runs in three steps so that no database lock is held while the model
writes: (1) in one transaction, read what the prompt needs, check that `--apply`
could write where it would, and record the request against the user's rate limit;
(2) ask the model, outside any transaction, and fit its candidates to their
platforms; (3) record the tokens, then apply a candidate through the same domain
calls as `posts edit` (or the media's alt text), so permissions, validation and
approval are exactly an edit's.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from autopostr.ai import fit, prompts, usage
from autopostr.ai.fit import Candidate, Target
from autopostr.ai.server import OPENAI_URL, Message, OnText, Reply, model_for, server_for
from autopostr.config import Settings
from autopostr.errors import AutopostrError, ExternalServiceError, InvalidInput, UsageError
from autopostr.identity import Actor
from autopostr.models import AiFeature
from autopostr.permissions import require

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session as DbSession

    from autopostr.ai.server import Client
    from autopostr.db import Database
    from autopostr.models import Post, PostDestination, SocialAccount
    from autopostr.platforms.base import Platform

APPLY_DEFAULT = 0  # `--apply` without N
MAX_CANDIDATES = 10
LARGEST_IMAGE = 20 * 1024 * 1024  # what OpenAI takes in one image
GOALS = tuple(prompts.GOALS)
# Features whose candidates are parts of one result (tags, one text per destination):
# `--apply` without N applies them all. The others are alternatives: it applies the first.
APPLY_ALL = frozenset({AiFeature.HASHTAGS, AiFeature.VARIANTS})


@dataclass(frozen=True)
class Ask:
    """What a command asks for, as its options gave it."""

    feature: AiFeature
    topic: str = ""
    text: str = ""
    post_id: int | None = None
    media_id: int | None = None
    to: str = ""  # an account: its platform's limits, and `--apply` writes its variant
    platform: str = ""
    tone: str = ""
    goal: str = ""
    count: int = 3
    model: str | None = None
    apply: int | None = None  # None: show only; APPLY_DEFAULT, or candidate N


@dataclass
class Job:
    """A prepared request: the messages, where the candidates must fit, where they go."""

    ask: Ask
    model: str
    messages: list[Message]
    targets: list[Target]  # one per candidate, or one for all
    count: int
    vision: bool = False
    post_id: int | None = None
    media_id: int | None = None
    variant_of: str | None = None  # `--apply` writes this destination's variant
    existing_text: str = ""  # the post's text (hashtags: tags it has; where tags go)
    usage_id: int | None = None

    def target(self, index: int) -> Target:
        return self.targets[index] if len(self.targets) > 1 else self.targets[0]


@dataclass(frozen=True)
class Applied:
    candidates: list[int]  # numbered from 1
    post_id: int | None = None
    media_id: int | None = None
    account: str | None = None
    status: str | None = None  # the post's state afterwards


@dataclass
class Result:
    feature: AiFeature
    model: str
    platform: str | None
    candidates: list[Candidate]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    applied: Applied | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Preview:
    """What `--show-prompt` prints: the request as it would be sent."""

    url: str
    model: str
    messages: list[Message]


# -- entry points ---------------------------------------------------------------------


def preview(db: Database, actor: Actor, settings: Settings, ask: Ask) -> Preview:
    """The request `run` would send, built the same way; nothing is sent or counted."""
    with db.session() as session:
        job = _prepare(session, actor, settings, ask, model_for(settings, ask.model))
    base = (settings.get("ai_base_url") or "").strip().rstrip("/")
    return Preview(f"{base or OPENAI_URL}/chat/completions", job.model, job.messages)


def run(
    db: Database,
    actor: Actor,
    settings: Settings,
    ask: Ask,
    *,
    on_text: OnText | None = None,
) -> Result:
    """Ask the model, fit what it wrote, record the request, and apply when asked."""
    from autopostr.ai.server import Client

    server = server_for(settings, ask.model)
    limit = usage.per_minute(settings)
    with db.session() as session:
        job = _prepare(session, actor, settings, ask, server.model)
        job.usage_id = usage.reserve(
            session, actor, ask.feature, server.model, limit, settings=settings
        )
    started = time.monotonic()
    spent = Reply("")
    try:
        result = _generate(Client(server), job, spent, on_text)
    except BaseException:
        _record(db, job, spent, started, ok=False)
        raise
    _record(db, job, spent, started, ok=True)
    if ask.apply is not None:
        with db.session() as session:
            result.applied = _apply(session, actor, settings, job, result.candidates)
    return result


def _record(db: Database, job: Job, spent: Reply, started: float, *, ok: bool) -> None:
    assert job.usage_id is not None
    with db.session() as session:
        usage.finish(
            session,
            job.usage_id,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            duration=timedelta(seconds=time.monotonic() - started),
            ok=ok,
        )


# -- step 1: what the prompt needs -------------------------------------------------


def _prepare(session: DbSession, actor: Actor, settings: Settings, ask: Ask, model: str) -> Job:
    team_id = require(actor, "ai.use")
    if not 1 <= ask.count <= MAX_CANDIDATES:
        flag = "--max" if ask.feature == AiFeature.HASHTAGS else "-n"
        raise InvalidInput(f"{flag}: ask for 1 to {MAX_CANDIDATES}, not {ask.count}")
    if ask.apply is not None and ask.apply > ask.count and ask.feature != AiFeature.VARIANTS:
        raise InvalidInput(f"--apply {ask.apply}: only {ask.count} candidates are asked for")
    prepare = _PREPARE[ask.feature]
    job = prepare(session, actor, settings, team_id, ask)
    job.model = model
    return job


def _job(ask: Ask, count: int, user: str | list[dict[str, Any]], targets: list[Target]) -> Job:
    system = prompts.SYSTEM.substitute(count=count)
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    return Job(ask, "", messages, targets or [Target()], count)


def _rules(target: Target, tone: str = "") -> str:
    if target.binding is not None:
        limits = target.binding.limits
        lines = [
            prompts.LIMIT_RULE.substitute(limit=limits.max_chars, platform=target.binding.title)
        ]
    elif target.limit is not None:
        lines = [prompts.PLAIN_LIMIT_RULE.substitute(limit=target.limit)]
    else:
        lines = [prompts.NO_LIMIT_RULE]
    if tone.strip():
        lines.append(prompts.TONE_RULE.substitute(tone=tone.strip()))
    return "\n".join(lines)


def _one_source(ask: Ask, text_flag: str, post_flag: str) -> None:
    if bool(ask.text.strip()) == (ask.post_id is not None):
        raise UsageError(f"give the text as {text_flag} or {post_flag}, one of the two")


def _target_for(
    session: DbSession,
    settings: Settings,
    team_id: int,
    ask: Ask,
    post: Post | None,
) -> tuple[Target, str | None, str | None]:
    """Where the text must fit: --to's account, --platform, or the post's destinations;
    with the destination --to names, its own text and label (for its variant)."""
    from autopostr import accounts, posts

    if ask.to and ask.platform:
        raise UsageError("give --to or --platform, not both")
    if ask.to:
        account = accounts.resolve(session, team_id, ask.to)
        label = accounts.label(account)
        target = Target((posts.platform_for(account, settings),))
        if post is None:
            return target, None, None
        assert post.id is not None
        for dest, dest_account in posts.destinations_of(session, post.id):
            if dest_account.id == account.id:
                return target, dest.text or post.text, label
        raise InvalidInput(f"--to {ask.to}: post {post.id} does not go to that account")
    if ask.platform:
        from autopostr.platforms.registry import get_platform

        return Target((get_platform(ask.platform, settings),)), None, None
    if post is None:
        return Target(), None, None
    # The post's own text goes to every destination without a text of its own.
    shared = [account for dest, account in _unsent(session, post) if not dest.text]
    return _platforms_target(settings, shared), None, None


def _unsent(session: DbSession, post: Post) -> list[tuple[PostDestination, SocialAccount]]:
    from autopostr import posts
    from autopostr.states import WENT_OUT

    assert post.id is not None
    return [
        (dest, account)
        for dest, account in posts.destinations_of(session, post.id)
        if dest.status not in WENT_OUT
    ]


def _platforms_target(settings: Settings, accounts_: Sequence[SocialAccount]) -> Target:
    from autopostr import posts

    by_name: dict[str, Platform] = {}
    for account in accounts_:
        by_name.setdefault(account.platform, posts.platform_for(account, settings))
    return Target(tuple(by_name.values()))


def _post(session: DbSession, actor: Actor, team_id: int, ask: Ask, post_id: int) -> Post:
    """The post the request reads; with --apply, checked editable as `posts edit` checks."""
    from autopostr import posts

    if ask.apply is not None:
        return posts.editable(session, actor, post_id)
    return posts.get(session, team_id, post_id)


def _needs_post(ask: Ask, flag: str) -> None:
    if ask.apply is not None and ask.post_id is None:
        raise UsageError(f"--apply writes the candidate into a post: give {flag} ID")


def _prepare_caption(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    if bool(ask.topic.strip()) == (ask.post_id is not None):
        raise UsageError("give --topic TEXT or --from-post ID, one of the two")
    _needs_post(ask, "--from-post")
    post = _post(session, actor, team_id, ask, ask.post_id) if ask.post_id else None
    target, own_text, label = _target_for(session, settings, team_id, ask, post)
    rules = _rules(target, ask.tone)
    if post is None:
        user = prompts.CAPTION_TOPIC.substitute(
            count=ask.count, topic=ask.topic.strip(), rules=rules
        )
    else:
        user = prompts.CAPTION_POST.substitute(
            count=ask.count, text=own_text or post.text, rules=rules
        )
    job = _job(ask, ask.count, user, [target])
    job.post_id, job.variant_of = ask.post_id, label
    return job


def _prepare_text_source(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> tuple[str, Post | None, Target, str | None]:
    _one_source(ask, "TEXT", "--post")
    _needs_post(ask, "--post")
    post = _post(session, actor, team_id, ask, ask.post_id) if ask.post_id else None
    target, own_text, label = _target_for(session, settings, team_id, ask, post)
    text = ask.text.strip() if post is None else (own_text or post.text)
    return text, post, target, label


def _prepare_hashtags(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    text, post, target, _label = _prepare_text_source(session, actor, settings, team_id, ask)
    where = prompts.TAGS_FOR.substitute(platform=target.binding.title) if target.binding else ""
    user = prompts.HASHTAGS.substitute(count=ask.count, text=text, rules=where)
    job = _job(ask, ask.count, user, [target])
    # Tags the post has already are not suggested again; --apply adds to the post's text.
    job.post_id, job.existing_text = ask.post_id, post.text if post is not None else text
    return job


def _prepare_improve(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    if ask.goal and ask.goal not in prompts.GOALS:
        raise InvalidInput(f"--goal: {ask.goal!r} is not one of {', '.join(GOALS)}")
    text, _post, target, label = _prepare_text_source(session, actor, settings, team_id, ask)
    user = prompts.IMPROVE.substitute(
        count=ask.count,
        goal=prompts.GOALS.get(ask.goal, ""),
        text=text,
        rules=_rules(target, ask.tone),
    )
    job = _job(ask, ask.count, user, [target])
    job.post_id, job.variant_of = ask.post_id, label
    return job


def _prepare_ideas(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    if not ask.topic.strip():
        raise UsageError("give --topic TEXT")
    user = prompts.IDEAS.substitute(count=ask.count, topic=ask.topic.strip())
    return _job(ask, ask.count, user, [Target()])


def _prepare_alt_text(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    from autopostr import media as media_mod
    from autopostr.storage import read_full

    assert ask.media_id is not None
    if ask.apply is not None:
        require(actor, "media.write")
    item = media_mod.get(session, team_id, ask.media_id)
    if not item.mime_type.startswith("image/"):
        raise InvalidInput(
            f"media {item.id} is {item.mime_type}: alt text is written from an image"
        )
    if item.size > LARGEST_IMAGE:
        raise InvalidInput(
            f"media {item.id} is {media_mod.human_size(item.size)}; an image sent to a model "
            f"may be at most {media_mod.human_size(LARGEST_IMAGE)}"
        )
    from autopostr.platforms.base import PlatformError

    engine = cast("Engine", session.get_bind())
    try:
        with media_mod.opener(settings, engine, item)() as stream:
            data = read_full(stream, item.size)
    except PlatformError as exc:  # its bytes are gone from this machine's storage
        raise exc.as_error() from None
    url = f"data:{item.mime_type};base64,{base64.b64encode(data).decode('ascii')}"
    target = Target(limit=fit.ALT_TEXT_LIMIT)
    text = prompts.ALT_TEXT.substitute(count=ask.count, limit=fit.ALT_TEXT_LIMIT)
    user: list[dict[str, Any]] = [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    job = _job(ask, ask.count, user, [target])
    job.vision, job.media_id = True, item.id
    return job


def _prepare_variants(
    session: DbSession, actor: Actor, settings: Settings, team_id: int, ask: Ask
) -> Job:
    from autopostr import accounts, posts

    assert ask.post_id is not None
    post = _post(session, actor, team_id, ask, ask.post_id)
    destinations = _unsent(session, post)
    if not destinations:
        raise InvalidInput(f"post {post.id} has no destination left to send to")
    if ask.apply is not None and ask.apply > len(destinations):
        raise InvalidInput(
            f"--apply {ask.apply}: post {post.id} has {len(destinations)} destinations"
        )
    targets, lines = [], []
    for number, (_dest, account) in enumerate(destinations, start=1):
        platform = posts.platform_for(account, settings)
        target = Target((platform,), account=accounts.label(account))
        targets.append(target)
        lines.append(
            prompts.VARIANT_LINE.substitute(
                number=number,
                account=target.account,
                platform=platform.title,
                limit=platform.limits.max_chars,
            )
        )
    user = prompts.VARIANTS.substitute(destinations="\n".join(lines), text=post.text)
    job = _job(ask, len(destinations), user, targets)
    job.post_id = post.id
    return job


_PREPARE: dict[AiFeature, Callable[[DbSession, Actor, Settings, int, Ask], Job]] = {
    AiFeature.CAPTION: _prepare_caption,
    AiFeature.HASHTAGS: _prepare_hashtags,
    AiFeature.IMPROVE: _prepare_improve,
    AiFeature.IDEAS: _prepare_ideas,
    AiFeature.ALT_TEXT: _prepare_alt_text,
    AiFeature.VARIANTS: _prepare_variants,
}


# -- step 2: the model writes, the candidates are fitted -----------------------------


def _generate(client: Client, job: Job, spent: Reply, on_text: OnText | None) -> Result:
    messages = list(job.messages)
    reply = _ask(client, job, messages, spent, on_text)
    texts = _read(job, reply.text)
    if texts is None:
        # One more try, saying what was wrong; a second miss is the server's failure.
        messages += [
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": prompts.FORMAT_RETRY.substitute(count=job.count)},
        ]
        reply = _ask(client, job, messages, spent, on_text)
        texts = _read(job, reply.text)
        if texts is None:
            what = "empty" if not reply.text.strip() else "not in the asked JSON form"
            raise ExternalServiceError(
                f"the AI server's reply was {what} twice ({job.model}): try again, or "
                "another model with --model"
            )
    result = Result(job.ask.feature, job.model, job.targets[0].platform, [])
    if job.ask.feature == AiFeature.VARIANTS:
        result.platform = None
    if job.ask.feature == AiFeature.HASHTAGS:
        result.candidates = [_tag(tag, job.targets[0]) for tag in texts]
    else:
        texts = _shorten(client, job, messages, reply.text, texts, spent, result.notes)
        result.candidates = [fit.fitted(text, job.target(i)) for i, text in enumerate(texts)]
        for number, item in enumerate(result.candidates, start=1):
            if not item.fits:  # (a trimmed one says so in its own line and its JSON)
                where = f" on {item.account}" if item.account else ""
                result.notes.append(
                    f"candidate {number} does not fit{where}: {item.length} characters of "
                    f"{item.limit}, and it cannot be cut without cutting a link or mention"
                )
    result.prompt_tokens, result.completion_tokens = spent.prompt_tokens, spent.completion_tokens
    return result


def _ask(
    client: Client, job: Job, messages: list[Message], spent: Reply, on_text: OnText | None
) -> Reply:
    reply = client.complete(messages, on_text, vision=job.vision)
    spent.prompt_tokens += reply.prompt_tokens
    spent.completion_tokens += reply.completion_tokens
    return reply


def _read(job: Job, text: str) -> list[str] | None:
    """The reply's candidates as this feature needs them, or None for a reply to ask again."""
    texts = fit.parse_candidates(text)
    if texts is None:
        return None
    if job.ask.feature == AiFeature.VARIANTS:
        return texts if len(texts) == job.count else None
    if job.ask.feature == AiFeature.HASHTAGS:
        return fit.hashtags(texts, job.count, job.existing_text) or None
    return texts[: job.count]


def _tag(tag: str, target: Target) -> Candidate:
    return Candidate(tag, len(tag), fit.TAG_LIMIT, True, False, target.platform, None)


def _shorten(
    client: Client,
    job: Job,
    messages: list[Message],
    reply: str,
    texts: list[str],
    spent: Reply,
    notes: list[str],
) -> list[str]:
    """Ask once more for the candidates over their limit, naming each limit and length;
    what still does not fit is trimmed afterwards."""
    over = [i for i, text in enumerate(texts) if not job.target(i).fits(text)]
    if not over:
        return texts
    lines = []
    for i in over:
        measured = job.target(i).measure(texts[i])
        account = job.target(i).account
        which = (
            prompts.WHICH_VARIANT.substitute(account=account)
            if account
            else prompts.WHICH_CANDIDATE.substitute(number=i + 1)
        )
        lines.append(
            prompts.TOO_LONG_LINE.substitute(
                which=which,
                length=measured.length,
                platform=measured.title or "the destination",
                limit=measured.limit,
                text=texts[i],
            )
        )
    again = [
        *messages,
        {"role": "assistant", "content": reply},
        {
            "role": "user",
            "content": prompts.TOO_LONG.substitute(lines="\n".join(lines), count=len(over)),
        },
    ]
    try:
        rewritten = fit.parse_candidates(_ask(client, job, again, spent, None).text)
    except AutopostrError as exc:
        notes.append(f"asking for shorter texts failed ({exc.message}); trimmed instead")
        return texts
    if rewritten is None or len(rewritten) != len(over):
        return texts
    shorter = list(texts)
    for i, text in zip(over, rewritten, strict=True):
        shorter[i] = text
    return shorter


# -- step 3: apply ------------------------------------------------------------------


def _chosen(job: Job, candidates: Sequence[Candidate]) -> list[int]:
    apply = job.ask.apply
    if apply is None:
        return []
    if apply == APPLY_DEFAULT:
        return list(range(len(candidates))) if job.ask.feature in APPLY_ALL else [0]
    if apply > len(candidates):
        raise InvalidInput(f"--apply {apply}: there are {len(candidates)} candidates")
    return [apply - 1]


def _apply(
    session: DbSession,
    actor: Actor,
    settings: Settings,
    job: Job,
    candidates: Sequence[Candidate],
) -> Applied:
    from autopostr import media as media_mod
    from autopostr import posts

    chosen = _chosen(job, candidates)
    numbers = [i + 1 for i in chosen]
    if job.ask.feature == AiFeature.ALT_TEXT:
        assert job.media_id is not None
        media_mod.set_alt_text(session, actor, job.media_id, candidates[chosen[0]].text)
        return Applied(numbers, media_id=job.media_id)
    assert job.post_id is not None
    if job.ask.feature == AiFeature.VARIANTS:
        variants = {candidates[i].account or "": candidates[i].text for i in chosen}
        post = posts.edit(session, actor, settings, job.post_id, variants=variants)
        return Applied(numbers, post_id=post.id, status=post.status)
    if job.ask.feature == AiFeature.HASHTAGS:
        current = posts.get(session, require(actor, "posts.write"), job.post_id)
        text, numbers = _with_tags(session, settings, current, candidates, chosen)
        post = posts.edit(session, actor, settings, job.post_id, text=text)
        return Applied(numbers, post_id=post.id, status=post.status)
    text = candidates[chosen[0]].text
    if job.variant_of:
        post = posts.edit(session, actor, settings, job.post_id, variants={job.variant_of: text})
    else:
        post = posts.edit(session, actor, settings, job.post_id, text=text)
    return Applied(numbers, post_id=post.id, account=job.variant_of, status=post.status)


def _with_tags(
    session: DbSession,
    settings: Settings,
    post: Post,
    candidates: Sequence[Candidate],
    chosen: Sequence[int],
) -> tuple[str, list[int]]:
    """The post's text with the chosen tags at its end, as many as still fit every
    destination that sends that text."""
    shared = [account for dest, account in _unsent(session, post) if not dest.text]
    target = _platforms_target(settings, shared)
    text = post.text.rstrip()
    last_line = text.rsplit("\n", 1)[-1].split()
    # Tags join a last line of tags, else start a paragraph of their own.
    separator = " " if last_line and all(w.startswith("#") for w in last_line) else "\n\n"
    added: list[int] = []
    for i in chosen:
        longer = f"{text}{separator}{candidates[i].text}"
        if target.fits(longer):
            text, separator = longer, " "
            added.append(i + 1)
    if not added:
        limit = target.measure(text).limit
        raise InvalidInput(
            f"post {post.id}: no suggested hashtag fits in its text "
            f"({limit} characters on {target.binding.title if target.binding else 'its platform'})"
        )
    return text, added
