"""Small constructors for replies every skill needs: problems and the shared rationale skeleton."""

from __future__ import annotations

from bot.models import FollowUp, Rationale, Reply, Route
from bot.skill import Skill


def problem_reply(message: str, skill: Skill, route: Route) -> Reply:
    """A clear, friendly reply for a request we could not carry out, with how to do it right."""
    usage = "\n".join(f"• `{u}`" for u in skill.usage)
    body = message + (f"\n\nUsage:\n{usage}" if usage else "")
    rationale = Rationale(skill=skill.name, route=route, caveats=[f"not carried out: {message}"])
    return Reply(title="I couldn't do that", body=body, rationale=rationale,
                 follow_ups=[FollowUp(label="Help", command="help")])
