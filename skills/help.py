"""help: what whybot can do, and, for a request nobody understood, what the person may have meant."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot.models import FollowUp, Rationale, Reply, ReplyItem, ReplySection, RouteKind
from bot.skill import Skill, SkillContext, SkillRequest


class HelpSkill:
    name = "help"
    aliases = ("commands", "usage", "?")
    summary = "What I can do and how to ask."
    usage = ("help",)
    examples = ("help",)

    def __init__(self, skills: Sequence[Skill]) -> None:
        self.skills = skills

    async def run(self, request: SkillRequest, ctx: SkillContext) -> Reply:
        others = [s for s in self.skills if s.name != self.name]
        sections = [ReplySection(title="What I can do", items=[
            ReplyItem(text=f"**{s.name}**: {s.summary}  e.g. `{s.examples[0]}`") for s in others])]
        body = ("Mention me or use the slash command. Every answer has a **Why?** button that shows how I "
                "chose it: what I searched, which sources ranked highest and why, and what I left out.")
        title = "Hi, I'm whybot"
        caveats: list[str] = []
        follow_ups = [FollowUp(label=s.examples[0], command=s.examples[0]) for s in others[:3]]
        if request.route.kind == RouteKind.FALLBACK and request.args:
            title = "I'm not sure what you meant"
            suggestions = self._suggest(request.args, others)
            body = "Here is what I can do; did you mean one of these?\n" + "\n".join(f"• `{s}`" for s in suggestions)
            follow_ups = [FollowUp(label=s, command=s) for s in suggestions[:3]]
            caveats.append("the request matched no skill confidently")
        rationale = Rationale(skill=self.name, route=request.route, caveats=caveats)
        return Reply(title=title, body=body, sections=sections, follow_ups=follow_ups, rationale=rationale)

    @staticmethod
    def _suggest(text: str, skills: Sequence[Skill]) -> list[str]:
        """A close command word first (typos), then the request as a question, then a summary."""
        first, _, rest = text.partition(" ")
        words = {w: s for s in skills for w in (s.name, *s.aliases)}
        close = difflib.get_close_matches(first.lower(), list(words), n=1, cutoff=0.7)
        suggestions = [f"{words[close[0]].name} {rest}".strip()] if close else []
        suggestions += [f"ask {text}".strip(), "summarize last 24h", "digest now"]
        return list(dict.fromkeys(suggestions))[:4]
