"""A `Home` (bot/home.py) drawn as Slack's App Home tab: a `home` view built from slack_sdk's block models,
which check Block Kit's limits as they serialize (100 blocks a view, 3,000 characters a section, …).

Every control has its own action id, and ingress.py has one Bolt listener for each: a change becomes a
turn in the inbox, and the worker draws the home again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    BlockElement,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from adapters.slack.render import MAX_SECTION_TEXT, clip, rationale_chunks, split_mrkdwn
from bot.engagement import Engagement, WeekStats
from bot.gaps import GapTopic, KnowledgeGaps
from bot.home import DEFAULT_SCHEDULE, Home, HomeSubscription, RecentQuestion
from bot.home_rules import HomeRule
from bot.markup import slack_escape, to_slack
from bot.rules import AnswerMode
from bot.turns import RULE_OPS

HOME_WHY = "whybot_home_why"
HOME_HIDE = "whybot_home_hide"
HOME_ADD = "whybot_home_add"
HOME_SCHEDULE = "whybot_home_schedule"
HOME_OFF = "whybot_home_off"
HOME_RULES = "whybot_home_rules"
HOME_ACTION_IDS = frozenset({HOME_WHY, HOME_HIDE, HOME_ADD, HOME_SCHEDULE, HOME_OFF, HOME_RULES})
CALLBACK_ID = "whybot_home"

MAX_VIEW_BLOCKS = 100
MAX_HEADER = 150
MAX_QUESTION = 300
MAX_GAP_LINES = 5
MAX_TOPICS = 10
WHY_SECTIONS = 3
OUTCOME = {"answered": "answered", "declined": "I couldn't answer", "failed": "something went wrong"}


def slack_date(at: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A time every reader sees in their own time zone (Slack's date token), with a UTC fallback."""
    return f"<!date^{int(at.timestamp())}^{fmt}|{at:%Y-%m-%d %H:%M} UTC>"


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, MAX_HEADER))


def _section(mrkdwn: str, *, accessory: BlockElement | None = None) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(mrkdwn, MAX_SECTION_TEXT)), accessory=accessory)


def _context(mrkdwn: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(mrkdwn, MAX_SECTION_TEXT))])


def _quoted(text: str, limit: int = MAX_QUESTION) -> str:
    return "“" + slack_escape(clip(" ".join(text.split()), limit)) + "”"


# digests ---------------------------------------------------------------------------------------

def _option_value(channel: str, key: str, detail: str) -> str:
    """An option's value: which channel, and one more word under `key` (Slack allows 150 characters)."""
    return json.dumps({"c": channel, key: detail}, separators=(",", ":"))


def _decode_option(value: str | None, key: str) -> tuple[str, str] | None:
    """(channel, detail) from an option value; None for anything that is not ours (never raises)."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    channel, detail = data.get("c"), data.get(key)
    if not isinstance(channel, str) or not isinstance(detail, str) or not channel or not detail:
        return None
    return channel[:255], detail


def schedule_value(channel: str, words: str) -> str:
    return _option_value(channel, "s", words)


def decode_schedule(value: str | None) -> tuple[str, str] | None:
    decoded = _decode_option(value, "s")
    return (decoded[0], decoded[1][:64]) if decoded else None


def _subscription(home: Home, sub: HomeSubscription) -> list[Block]:
    options = [Option(text=c.description.capitalize(), value=schedule_value(sub.channel_id, c.words))
               for c in home.schedules]
    current = next((o for o, c in zip(options, home.schedules, strict=True) if c.words == sub.schedule), None)
    when = f"\nNext: {slack_date(sub.next_run)}" if sub.next_run else ""
    text = (f"*{slack_escape(sub.channel_name)}* · top {sub.top_n} threads {slack_escape(sub.description)} "
            f"({slack_escape(sub.tz)}){when}")
    change = StaticSelectElement(action_id=HOME_SCHEDULE, placeholder="Change schedule", options=options,
                                 initial_option=current)
    off = ButtonElement(text="Turn off", action_id=HOME_OFF, value=sub.channel_id, style="danger",
                        confirm=ConfirmObject(title="Turn off this digest?", confirm="Turn off", deny="Keep it",
                                              text=f"{slack_escape(sub.channel_name)} will stop getting its digest."))
    return [_section(text), ActionsBlock(elements=[change, off])]


def subscription_blocks(home: Home) -> list[Block]:
    blocks: list[Block] = [_header("Your digests")]
    for sub in home.subscriptions:
        blocks += _subscription(home, sub)
    if home.more_subscriptions:
        blocks.append(_context(f"…and {home.more_subscriptions} more you set up: `/whybot digest status` in a "
                               "channel shows its digest."))
    if not home.subscriptions and not home.more_subscriptions:
        blocks.append(_context("You have not set up a digest. Pick a channel below, or type "
                               "`/whybot digest daily 09:00` in it."))
    default = next((c.description for c in home.schedules if c.words == DEFAULT_SCHEDULE), DEFAULT_SCHEDULE)
    add = ConversationSelectElement(
        action_id=HOME_ADD, placeholder=clip(f"Add a digest ({default}) to…", MAX_HEADER),
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True,
                                  exclude_external_shared_channels=True))
    blocks.append(ActionsBlock(elements=[add]))
    return blocks


# recent questions ------------------------------------------------------------------------------

def _why_blocks(question: RecentQuestion) -> list[Block]:
    reply = question.why
    if reply is None:
        return []
    answer = to_slack(reply.body).strip()
    blocks: list[Block] = [_section("*Answer*\n" + clip(answer, 1500))] if answer else []
    return blocks + [_section(chunk) for chunk in rationale_chunks(reply)[:WHY_SECTIONS]]


def recent_blocks(home: Home) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), _header("Your recent questions")]
    if not home.recent:
        blocks.append(_context("Nothing yet. Ask me in a direct message, or mention @whybot in a channel."))
    for q in home.recent:
        opened = q.why is not None
        button = ButtonElement(text="Hide why" if opened else "Why?", action_id=HOME_HIDE if opened else HOME_WHY,
                               value=q.decision_id)
        text = (f"{_quoted(q.question)}\n_{OUTCOME.get(q.outcome, q.outcome)} · {slack_escape(q.where)} · "
                f"{slack_date(q.asked_at, '{date_short_pretty}')}_")
        blocks.append(_section(text, accessory=button))
        blocks += _why_blocks(q)
    return blocks


# for admins ------------------------------------------------------------------------------------

def _topic(topic: GapTopic) -> SectionBlock:
    count = len(topic.gaps)
    lines = [f"*{slack_escape(topic.label)}* · {count} question{'s' if count != 1 else ''}"]
    for gap in topic.gaps[:MAX_GAP_LINES]:
        why = " and ".join({"declined": "declined", "unhelpful": "👎"}[r] for r in gap.reasons)
        lines.append(f"• {_quoted(gap.question, 200)} — {slack_escape(gap.channel_name)}, {why}, "
                     f"{slack_date(gap.asked_at, '{date_short_pretty}')}")
    if count > MAX_GAP_LINES:
        lines.append(f"_…and {count - MAX_GAP_LINES} more_")
    return _section(split_mrkdwn("\n".join(lines))[0])


def gap_blocks(gaps: KnowledgeGaps) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), _header("Knowledge gaps · last 7 days"),
                           _context("Questions I declined or that got 👎, grouped by topic, in the conversations "
                                    "you can see.")]
    if not gaps.topics:
        blocks.append(_section("No gaps: every question was answered, and no answer got a 👎."))
    blocks += [_topic(t) for t in gaps.topics[:MAX_TOPICS]]
    if len(gaps.topics) > MAX_TOPICS:
        rest = sum(len(t.gaps) for t in gaps.topics[MAX_TOPICS:])
        blocks.append(_context(f"…and {rest} more in smaller topics: `whybot stats` lists them all."))
    return blocks


def _rate(week: WeekStats) -> str:
    rate = week.helpful_rate
    return "-" if rate is None else f"{rate:.0%} of {week.helpful + week.unhelpful}"


def engagement_table(weeks: Sequence[WeekStats]) -> str:
    """Weeks as a fixed-width table (a code block keeps the columns in line)."""
    head = f"{'week of':<9} {'asked':>5} {'answered':>8} {'declined':>8} {'helpful':>10} {'why?':>5} {'digest':>6}"
    rows = [head]
    for w in reversed(weeks):
        label = f"{w.start:%b %d}" + ("*" if w.partial else "")
        rows.append(f"{label:<9} {w.asked:>5} {w.answered:>8} {w.declined:>8} {_rate(w):>10} {w.why_opens:>5} "
                    f"{w.digest_reads:>6}")
    return "```" + "\n".join(rows) + "```"


def engagement_blocks(stats: Engagement) -> list[Block]:
    return [DividerBlock(), _header("Engagement"), _section(engagement_table(stats.weeks)),
            _context("*asked*: questions, not commands · *declined*: I said I couldn't answer · *helpful*: 👍 share "
                     "of votes · *why?*: rationales opened · *digest*: people who opened Why? on or rated a digest "
                     "(Slack does not tell apps who read a message) · * this week so far · counted over the "
                     "conversations you can see")]


# channel rules ---------------------------------------------------------------------------------

def rule_value(channel: str, op: str) -> str:
    return _option_value(channel, "o", op)


def decode_rule(value: str | None) -> tuple[str, str] | None:
    decoded = _decode_option(value, "o")
    return decoded if decoded and decoded[1] in RULE_OPS else None


def _rule_menu(rule: HomeRule) -> OverflowMenuElement:
    """What this person may change here; Slack asks them to confirm, since it changes whybot for everyone."""
    if rule.excluded:
        options = [Option(text="Read it again", value=rule_value(rule.channel_id, "include"))]
    else:
        answer = ("answer_mentions", "Answer only mentions") if rule.answer == AnswerMode.QUESTIONS else \
            ("answer_questions", "Also answer questions")
        options = [Option(text=answer[1], value=rule_value(rule.channel_id, answer[0])),
                   Option(text="Exclude (delete what I keep)", value=rule_value(rule.channel_id, "exclude"))]
    name = slack_escape(rule.channel_name)
    return OverflowMenuElement(action_id=HOME_RULES, options=options, confirm=ConfirmObject(
        title="Change this channel's rules?", confirm="Change", deny="Cancel",
        text=f"This changes whybot for everyone in {name}. Excluding it deletes what I stored from it."))


def _rule(rule: HomeRule) -> SectionBlock:
    who = "you can change these" if rule.may_change else f"only {rule.who} can change these"
    text = f"*{slack_escape(rule.channel_name)}*\n" + "\n".join(to_slack(line) for line in rule.lines) + f"\n_{who}_"
    return _section(text, accessory=_rule_menu(rule) if rule.may_change else None)


def rules_blocks(home: Home) -> list[Block]:
    """The rules of the channels this person may see, one section each; a menu only where they may change
    them (the worker checks again on every click)."""
    if not home.rules and not home.more_rules:
        return []
    blocks: list[Block] = [DividerBlock(), _header("Channel rules")]
    blocks += [_rule(rule) for rule in home.rules]
    if home.more_rules:
        blocks.append(_context(f"…and {home.more_rules} more: `/whybot settings` in a channel shows and changes "
                               "its rules."))
    return blocks


# the view --------------------------------------------------------------------------------------

def home_view(home: Home) -> View:
    """The App Home tab for `home`'s reader, within Block Kit's limits (View.to_dict() validates)."""
    blocks: list[Block] = [_header("whybot")]
    if home.notice:
        blocks.append(_section(":information_source: " + to_slack(home.notice)))
    blocks.append(_context("Ask me in a direct message or mention @whybot in a channel: every answer has a Why?."))
    blocks += subscription_blocks(home)
    blocks += recent_blocks(home)
    blocks += rules_blocks(home)
    if home.admin is not None:
        blocks += gap_blocks(home.admin.gaps)
        blocks += engagement_blocks(home.admin.engagement)
    footer = _context(f"Updated {slack_date(home.generated_at, '{date_short_pretty} at {time}')}")
    if len(blocks) >= MAX_VIEW_BLOCKS:
        blocks = [*blocks[:MAX_VIEW_BLOCKS - 2], _context("…more than fits here.")]
    return View(type="home", callback_id=CALLBACK_ID, blocks=[*blocks, footer])
