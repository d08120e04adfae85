"""The one place skills are registered. Adding a skill means adding it here."""

from __future__ import annotations

from bot.skill import Skill
from skills.ask import AskSkill
from skills.digest import DigestSkill
from skills.help import HelpSkill
from skills.settings import SettingsSkill
from skills.summarize import SummarizeSkill
from skills.who import WhoSkill


def default_skills() -> list[Skill]:
    skills: list[Skill] = [AskSkill(), WhoSkill(), SummarizeSkill(), DigestSkill(), SettingsSkill()]
    return [*skills, HelpSkill(skills)]
