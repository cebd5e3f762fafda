"""Every text autopostr sends to a model, as plain templates (`string.Template`, `$name`).

Change the wording here and nowhere else; `--show-prompt` prints what these make.
Every reply is asked for in one format, a JSON object `{"candidates": [...]}`, so
that one parser reads all features and a stream can be shown as it arrives.
"""

from __future__ import annotations

from string import Template

SYSTEM = Template(
    """You help a team write social-media posts. Write in the language of the text or topic you are given.
Reply with only a JSON object of the form {"candidates": ["...", "..."]} holding $count strings, and nothing else: no explanation, no code fence."""
)

CAPTION_TOPIC = Template(
    """Write $count different captions for a social-media post about:
$topic

$rules"""
)

CAPTION_POST = Template(
    """Write $count different captions for this social-media post, keeping its links, mentions and facts:

$text

$rules"""
)

HASHTAGS = Template(
    """Suggest $count hashtags for this social-media post. Each is one tag: a # followed by letters, digits or underscores, with no spaces or punctuation. Do not repeat a tag the post already has.

$text

$rules"""
)

IMPROVE = Template(
    """Improve this social-media post$goal. Write $count different versions. Keep its meaning, its links, its mentions and its hashtags.

$text

$rules"""
)

GOALS = {
    "shorter": ": make it shorter",
    "clearer": ": make it clearer",
    "punchier": ": make it punchier",
    "friendlier": ": make it friendlier",
}

IDEAS = Template(
    """Give $count ideas for social-media posts about:
$topic

Each idea is one or two sentences saying what the post would show or say."""
)

ALT_TEXT = Template(
    """Write $count alternative texts (alt text) for the attached image, for people who cannot see it. Describe what matters in it, in at most $limit characters, without starting with "Image of" or "Picture of"."""
)

VARIANTS = Template(
    """Adapt this social-media post to each destination below: one text per destination, in the order listed, each within that destination's limit. Keep the post's meaning, links, mentions and hashtags.

Destinations:
$destinations

Post:
$text"""
)

VARIANT_LINE = Template(
    "$number. $account on $platform: at most $limit characters as $platform counts them"
)

# The rules line of a caption, hashtags or improve prompt.
LIMIT_RULE = Template(
    "Each must be at most $limit characters as $platform counts them; stay well under it."
)
PLAIN_LIMIT_RULE = Template("Each must be at most $limit characters.")
NO_LIMIT_RULE = "Keep each one short enough for any social network."
TONE_RULE = Template("Tone: $tone.")
TAGS_FOR = Template("They are for $platform.")

FORMAT_RETRY = Template(
    """That reply was not in the asked format. Reply again with only a JSON object of the form {"candidates": ["...", "..."]} holding $count strings."""
)

TOO_LONG = Template(
    """These are too long:
$lines

Rewrite each so that it fits, keeping its meaning, links, mentions and hashtags. Reply with only a JSON object {"candidates": [...]} holding the $count rewritten texts, in this order."""
)

TOO_LONG_LINE = Template('- $which is $length characters; $platform allows at most $limit: "$text"')
WHICH_CANDIDATE = Template("candidate $number")
WHICH_VARIANT = Template("the text for $account")
