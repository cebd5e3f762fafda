"""`autopostr ai`: captions, hashtags, improvements, ideas, alt text and variants written
by a model on any OpenAI-compatible server, fitted to each platform."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from autopostr.cli import options
from autopostr.cli.common import JSON_OPTION, settings, signed_in_database

if TYPE_CHECKING:
    from autopostr.ai.assist import Ask
    from autopostr.ai.server import OnText

app = typer.Typer(
    help="Write with an AI model (OpenAI, Ollama, LM Studio …), fitted to each platform.",
    no_args_is_help=True,
)

DEFAULT_APPLY = "default"  # what a bare `--apply` becomes


class ApplyCommand(TyperCommand):
    """`--apply [N]`: N is optional, so a bare `--apply` is given its default here."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given: list[str] = []
        options = True
        for i, arg in enumerate(args):
            given.append(arg)
            options = options and arg != "--"
            if options and arg == "--apply":
                following = args[i + 1] if i + 1 < len(args) else ""
                if not following.isdigit():
                    given.append(DEFAULT_APPLY)
        return list(super().parse_args(ctx, given))


MODEL_OPTION = typer.Option(
    "", "--model", help="Model for this call (default AUTOPOSTR_AI_MODEL, else gpt-4o)."
)
SHOW_PROMPT_OPTION = typer.Option(
    False, "--show-prompt", help="Print the request that would be sent; send nothing."
)
PLATFORM_OPTION = typer.Option(
    "", "--platform", help="Fit to this platform's limits, e.g. x, bluesky, linkedin."
)
TONE_OPTION = typer.Option("", "--tone", help="The tone to write in, e.g. playful or formal.")


def _apply_option(what: str) -> Any:
    return typer.Option(None, "--apply", metavar="[N]", help=what)


def _apply_number(raw: str | None) -> int | None:
    from autopostr.ai.assist import APPLY_DEFAULT
    from autopostr.errors import UsageError

    if raw is None:
        return None
    if raw == DEFAULT_APPLY:
        return APPLY_DEFAULT
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"--apply {raw}: give a candidate's number, from 1")
    return int(raw)


def _run(ask: Ask, show_prompt: bool, as_json: bool) -> None:
    from autopostr.ai import assist
    from autopostr.cli import output
    from autopostr.views import ai_prompt_json, ai_result_json

    s = settings()
    db, actor = signed_in_database()
    if show_prompt:
        output.emit(ai_prompt_json(assist.preview(db, actor, s, ask)), as_json, _show_prompt)
        return
    with _streaming(not as_json) as on_text:
        result = assist.run(db, actor, s, ask, on_text=on_text)

    def human(data: dict[str, Any]) -> None:
        _show_result(data)
        for note in result.notes:
            output.warn(note)

    output.emit(ai_result_json(result), as_json, human, notes=result.notes)


@contextmanager
def _streaming(enabled: bool) -> Iterator[OnText | None]:
    """In a terminal, the candidates as the model writes them, numbered."""
    from autopostr.ai.fit import partial_candidates
    from autopostr.cli import output

    with output.live_text(enabled) as show:
        if show is None:
            yield None
            return
        draw = show

        def on_text(reply: str) -> None:
            items = partial_candidates(reply)
            draw("\n".join(f"{n}. {text}" for n, text in enumerate(items, 1)) or "…")

        yield on_text


def _show_result(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    for number, item in enumerate(data["candidates"], start=1):
        where = f"{item['account']}: " if item["account"] else ""
        output.print_line(f"{number}. {where}{item['text']}")
        if data["feature"] != "hashtags" and item["limit"] is not None:
            platform = f" ({item['platform']})" if item["platform"] else ""
            state = (
                ", trimmed to fit" if item["trimmed"] else ("" if item["fits"] else ", too long")
            )
            output.info(f"   {item['length']}/{item['limit']} characters{platform}{state}")
    usage = data["usage"]
    output.info(
        f"{data['model']}: {usage['prompt_tokens']} prompt + "
        f"{usage['completion_tokens']} completion tokens"
    )
    applied = data["applied"]
    if applied:
        numbers = ", ".join(str(n) for n in applied["candidates"])
        which = "candidate" if len(applied["candidates"]) == 1 else "candidates"
        if applied["media"]:
            output.success(f"Applied {which} {numbers} as the alt text of media {applied['media']}")
        else:
            into = f"the variant for {applied['account']} of " if applied["account"] else ""
            output.success(
                f"Applied {which} {numbers} to {into}post {applied['post']} "
                f"(now {applied['status']})"
            )


def _show_prompt(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    output.print_line(f"POST {data['url']}")
    output.print_line(f"model: {data['model']}")
    for message in data["messages"]:
        output.print_line(f"\n[{message['role']}]")
        content = message["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if part["type"] == "text":
                output.print_line(part["text"])
            else:  # an image as a data URL: its kind and size, not its bytes
                url = part["image_url"]["url"]
                head = url.split(",", 1)[0]
                output.print_line(f"[image {head},… {len(url) * 3 // 4 // 1024} KiB]")


@app.command("caption", cls=ApplyCommand)
def caption(
    topic: str = typer.Option("", "--topic", help="What the post is about."),
    from_post: int | None = typer.Option(None, "--from-post", help="Write captions for this post."),
    to: str = typer.Option(
        "",
        "--to",
        help="Fit to this account's platform; with --from-post, --apply writes its variant.",
    ),
    platform: str = PLATFORM_OPTION,
    tone: str = TONE_OPTION,
    count: int = typer.Option(3, "-n", "--count", help="How many candidates."),
    apply: str | None = _apply_option("Write candidate N (default 1) into the post (--from-post)."),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write captions about a topic or for a post, fitted to the platform's limit.

    \b
    Examples:
      autopostr ai caption --topic "our new espresso blend" --platform x -n 3
      autopostr ai caption --from-post 12 --tone playful --apply 2
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(
        AiFeature.CAPTION,
        topic=topic,
        post_id=from_post,
        to=to,
        platform=platform,
        tone=tone,
        count=count,
        model=model or None,
        apply=_apply_number(apply),
    )
    _run(ask, show_prompt, as_json)


@app.command("hashtags", cls=ApplyCommand)
def hashtags(
    text: str = typer.Argument("", help="The post's text (or give --post)."),
    post: int | None = typer.Option(None, "--post", help="Suggest hashtags for this post."),
    most: int = typer.Option(5, "--max", help="At most this many hashtags."),
    platform: str = PLATFORM_OPTION,
    apply: str | None = _apply_option(
        "Add the hashtags (or only hashtag N) at the end of the post's text (--post)."
    ),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Suggest hashtags: valid for the platform, no duplicates, at most --max.

    \b
    Examples:
      autopostr ai hashtags "Our espresso blend is back" --max 3
      autopostr ai hashtags --post 12 --apply
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(
        AiFeature.HASHTAGS,
        text=text,
        post_id=post,
        platform=platform,
        count=most,
        model=model or None,
        apply=_apply_number(apply),
    )
    _run(ask, show_prompt, as_json)


@app.command("improve", cls=ApplyCommand)
def improve(
    text: str = typer.Argument("", help="The text to improve (or give --post)."),
    post: int | None = typer.Option(None, "--post", help="Improve this post's text."),
    goal: str = typer.Option("", "--goal", help="shorter, clearer, punchier or friendlier."),
    to: str = typer.Option(
        "", "--to", help="Fit to this account's platform; with --post, --apply writes its variant."
    ),
    platform: str = PLATFORM_OPTION,
    count: int = typer.Option(3, "-n", "--count", help="How many candidates."),
    apply: str | None = _apply_option("Write candidate N (default 1) into the post (--post)."),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Rewrite a text or a post's text, fitted to its platforms.

    \b
    Examples:
      autopostr ai improve "we has new coffee, come try" --goal clearer
      autopostr ai improve --post 12 --goal shorter --apply
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(
        AiFeature.IMPROVE,
        text=text,
        post_id=post,
        goal=goal,
        to=to,
        platform=platform,
        count=count,
        model=model or None,
        apply=_apply_number(apply),
    )
    _run(ask, show_prompt, as_json)


@app.command("ideas")
def ideas(
    topic: str = typer.Option("", "--topic", help="What the posts should be about."),
    count: int = typer.Option(5, "-n", "--count", help="How many ideas."),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ideas for posts about a topic.

    \b
    Example:
      autopostr ai ideas --topic "coffee roasting" -n 5
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(AiFeature.IDEAS, topic=topic, count=count, model=model or None)
    _run(ask, show_prompt, as_json)


@app.command("alt-text", cls=ApplyCommand)
def alt_text(
    media_id: int = typer.Argument(..., help="The image's media id."),
    count: int = typer.Option(1, "-n", "--count", help="How many candidates."),
    apply: str | None = _apply_option("Make candidate N (default 1) the image's alt text."),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Describe an image for its alt text (needs a model that can see, e.g. gpt-4o, llava).

    \b
    Examples:
      autopostr ai alt-text 7
      autopostr ai alt-text 7 --model llava --apply
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(
        AiFeature.ALT_TEXT,
        media_id=media_id,
        count=count,
        model=model or None,
        apply=_apply_number(apply),
    )
    _run(ask, show_prompt, as_json)


@app.command("variants", cls=ApplyCommand)
def variants(
    post_id: int = typer.Argument(..., help="Post id."),
    apply: str | None = _apply_option(
        "Write every variant (or only candidate N) as its destination's text."
    ),
    model: str = MODEL_OPTION,
    show_prompt: bool = SHOW_PROMPT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One text per destination of a post, each fitted to its platform.

    \b
    Examples:
      autopostr ai variants 12
      autopostr ai variants 12 --apply
    """
    from autopostr.ai.assist import Ask
    from autopostr.models import AiFeature

    ask = Ask(AiFeature.VARIANTS, post_id=post_id, model=model or None, apply=_apply_number(apply))
    _run(ask, show_prompt, as_json)


@app.command("usage")
def usage(
    team: bool = typer.Option(False, "--team", help="The whole team's requests, not only yours."),
    since: str = typer.Option(
        "", "--since", help="Since a time or for a duration back (default: this month)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """AI requests and tokens: yours, or your team's.

    \b
    Examples:
      autopostr ai usage
      autopostr ai usage --team --since 7d --json
    """
    from autopostr.ai import usage as usage_mod
    from autopostr.cli import output
    from autopostr.cli.common import signed_in, zone_for
    from autopostr.models import utcnow
    from autopostr.views import ai_usage_json

    with signed_in() as (session, actor):
        cutoff = options.since(since, zone_for(session, actor, ""), utcnow()) if since else None
        data = ai_usage_json(usage_mod.summary(session, actor, team=team, since=cutoff))
    output.emit(data, as_json, _show_usage)


def _show_usage(data: dict[str, Any]) -> None:
    from autopostr.cli import output

    whose = f"team {data['team']}" if data["team"] else (data["user"] or "you")
    output.print_fields(
        [
            ("since", data["since"]),
            ("whose", whose),
            ("requests", data["requests"]),
            ("failed", data["failed"]),
            ("prompt tokens", data["prompt_tokens"]),
            ("completion tokens", data["completion_tokens"]),
        ]
    )
    rows = [{"feature": name, **totals} for name, totals in data["by_feature"].items()]
    output.print_table(
        rows,
        [
            ("feature", "Feature"),
            ("requests", "Requests"),
            ("failed", "Failed"),
            ("prompt_tokens", "Prompt tokens"),
            ("completion_tokens", "Completion tokens"),
        ],
        empty="No AI requests in that time.",
    )
