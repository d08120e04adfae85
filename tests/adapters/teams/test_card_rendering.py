"""Teams cards as a person sees them: rendered by the official Adaptive Cards JS renderer in a 418 px bubble.

The cards are built by adapters/teams/cards.py from real replies of the core on the demo workspace, then
rendered in Debian's Chromium (through Playwright, no browser download) with the `adaptivecards` npm package
from tests/render/node_modules (`make test` installs it) and a host config close to Teams' light theme. Each
card must validate against the official Adaptive Card 1.5 schema, parse without renderer warnings, show every
action title in full and fit the bubble; opening Why? may add only a bounded height. Without Chromium or the
renderer the test skips and says why, unless WHYBOT_REQUIRE_BROWSER=1 (set by .ci/run).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from adapters.teams.cards import ADMIN_ID, ADMIN_TITLE, HIDE_TITLE, WHY_TITLE, Card, reply_card, walk
from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.router import reader_for
from bot.services import Services
from storage import NewMessage
from tests.adapters.teams.test_cards import OFFICIAL_SCHEMA

ROOT = Path(__file__).resolve().parents[3]
RENDER = ROOT / "tests" / "render"
MODULES = RENDER / "node_modules"
SCRIPTS = [MODULES / "markdown-it" / "dist" / "markdown-it.min.js",
           MODULES / "adaptivecards" / "dist" / "adaptivecards.min.js", RENDER / "harness.js"]
STYLES = [MODULES / "adaptivecards" / "dist" / "adaptivecards.css", RENDER / "teams.css"]
HOST_CONFIG = json.loads((RENDER / "teams-light.hostconfig.json").read_text())
CHROMIUM = Path(os.environ.get("WHYBOT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts"
# WHYBOT_UPDATE_SCREENSHOTS=1 also writes the screenshots the README shows into docs/.
DOCS = ROOT / "docs" if os.environ.get("WHYBOT_UPDATE_SCREENSHOTS") == "1" else None
BUBBLE_PX = 418
README_PICTURES = {"answer": "teams-answer.png", "answer-why": "teams-why.png", "digest": "teams-digest.png"}
OVERFLOW_TITLE = "More options"  # the renderer's "..." button (its label) for actions with mode: secondary
# Opening Why? adds the panel (a heading and at most six short lines) and, per ranked item, one line of
# reasons beside its 👍/👎; nothing else.
WHY_PANEL_PX = 240
WHY_ITEM_PX = 45

# A long post with a long unbroken link: the answer quoting it must still wrap inside the bubble.
LONG_POST = (
    "Deploy checklist for the 3.2 release, please read before Thursday: run the migration dry run against a "
    "copy of production, check that the feature flags for onboarding and billing are off by default, post "
    "the rollback plan in #incidents, make sure on-call has the runbook at "
    "https://wiki.example.com/engineering/releases/3.2/deploy-checklist-and-rollback-plan-for-payments-gateway"
    " and confirm the status page template is ready. If anything in the checklist is unclear, ask in the "
    "release thread rather than in DMs so everyone sees the answer."
)

pytestmark = pytest.mark.browser


@pytest.fixture
def renderer() -> None:
    """Chromium and the renderer's npm package are here, or the test skips (fails in CI) and says why."""
    for ok, message in ((CHROMIUM.exists(), f"{CHROMIUM} is missing: `apt-get install chromium` (make test does)"),
                        (all(p.exists() for p in SCRIPTS), f"{MODULES} is missing: `make render` (make test does)")):
        if not ok:
            if os.environ.get("WHYBOT_REQUIRE_BROWSER") == "1":
                pytest.fail(message)
            pytest.skip(message)


def event(text: str, *, command: str | None = None) -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="engineering", user="frank", text=text,
                     command=command, args=text if command else "",
                     trigger=Trigger.COMMAND if command else Trigger.MENTION)


async def cards(demo: Services) -> tuple[dict[str, Card], dict[str, int]]:
    """Every kind of card whybot posts in Teams, built from the core's replies (expanded ones through
    Router.explain, as a Why? click does), and how many ranked items each shows."""
    async def answer(text: str, command: str | None = None) -> Reply:
        return await demo.router.handle(event(text, command=command))

    async def why(reply: Reply) -> Card:
        explained = await demo.router.explain(reply.decision_id, reader_for(event("")))
        assert explained is not None
        return reply_card(explained, expanded=True)

    freeze = await answer("when does the release freeze start?")
    assert freeze.citations and freeze.follow_ups
    digest = await answer("now", command="digest")
    # Seeded after the digest, so the README's digest shows the demo workspace as `whybot demo` does.
    tenant_id = await demo.ingest.tenant("playground", "demo")
    await demo.ingest.message(tenant_id, NewMessage("engineering", "long-1", LONG_POST,
                                                    datetime.now(UTC) - timedelta(hours=1), "carol"))
    long = await answer("what is on the deploy checklist for the release?", command="ask")
    assert "wiki.example.com" in long.body, long.body
    summary = await answer("summarize #incidents last 48h")
    built = {
        "answer": reply_card(freeze),
        "answer-why": await why(freeze),
        "help": reply_card(await answer("help", command="help")),
        "digest": reply_card(digest),
        "digest-why": await why(digest),
        "decline": reply_card(await answer("what is the parking policy for bicycles?", command="ask")),
        "runbook": reply_card(await answer("what do 502s from the load balancer mean?", command="ask")),
        "long": reply_card(long),
        "long-why": await why(long),
        "summary": reply_card(summary),
        "summary-why": await why(summary),
    }
    items = {name: sum(len(s.items) for s in reply.sections)
             for name, reply in (("answer", freeze), ("digest", digest), ("long", long), ("summary", summary))}
    return built, items


def action_titles(card: Card) -> list[str]:
    """The action titles a person sees as buttons, in document order: ActionSets in the body, then the
    card's own actions; actions with `mode: secondary` sit behind the renderer's overflow button."""
    titles: list[str] = []

    def row(actions: list[dict[str, Any]]) -> None:
        titles.extend(a["title"] for a in actions if a.get("mode") != "secondary")
        if any(a.get("mode") == "secondary" for a in actions):
            titles.append(OVERFLOW_TITLE)

    for element in walk(card["body"]):
        row(element.get("actions", []))
    row(card.get("actions", []))
    return titles


def check(name: str, card: Card, result: dict[str, Any]) -> list[str]:
    """What a person would see wrong in one rendered card (empty when nothing)."""
    wrong = [f"{name}: {p}" for p in result["problems"]]
    shown = [b["title"] for b in result["buttons"]]
    if shown != action_titles(card):
        wrong.append(f"{name}: buttons {shown} != {action_titles(card)}")
    for b in result["buttons"]:
        if (b["text"] != b["title"] and b["title"] != OVERFLOW_TITLE) or b["scrollWidth"] > b["clientWidth"]:
            wrong.append(f"{name}: button {b['title']!r} is cut off ({b['scrollWidth']} > {b['clientWidth']} px)")
    if result["width"] != BUBBLE_PX or result["scrollWidth"] > BUBBLE_PX:
        wrong.append(f"{name}: {result['scrollWidth']} px wide in a {BUBBLE_PX} px bubble")
    wrong.extend(f"{name}: overflows: {o}" for o in result["overflowing"])
    secondary = [a["title"] for a in card["actions"] if a.get("mode") == "secondary"]
    if [m["text"] for m in result["menu"]] != secondary or any(m["cut"] for m in result["menu"]):
        wrong.append(f"{name}: overflow menu {result['menu']} != {secondary}")
    return wrong


async def render(cards: dict[str, Card]) -> dict[str, dict[str, Any]]:
    """Render every card in one page; measurements by name. Screenshots go to artifacts/ (and docs/)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = await browser.new_page(viewport={"width": BUBBLE_PX + 64, "height": 900}, device_scale_factor=2)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
            await page.set_content("<!doctype html><html><head><meta charset='utf-8'></head><body></body></html>")
            for style in STYLES:
                await page.add_style_tag(path=str(style))
            for script in SCRIPTS:
                await page.add_script_tag(path=str(script))
            measured = {name: await page.evaluate("([c, config, name]) => window.renderCard(c, config, name)",
                                                  [card, HOST_CONFIG, name]) for name, card in cards.items()}
            ARTIFACTS.mkdir(exist_ok=True)
            for name in cards:
                bubble = page.locator(f"#{name}")
                await bubble.screenshot(path=str(ARTIFACTS / f"teams-{name}.png"))
                if DOCS is not None and name in README_PICTURES:
                    await bubble.screenshot(path=str(DOCS / README_PICTURES[name]))
            for name, result in measured.items():
                result["menu"] = []
                if any(a.get("mode") == "secondary" for a in cards[name]["actions"]):
                    # The card's own overflow button is its last; its menu lists the secondary actions.
                    await page.locator(f"#{name} button[aria-label='{OVERFLOW_TITLE}']").last.click()
                    menu = page.locator(".ac-ctrl-dropdown-item")
                    result["menu"] = [{"text": await item.inner_text(),
                                       "cut": await item.evaluate("e => e.scrollWidth > e.clientWidth")}
                                      for item in await menu.all()]
                    if ADMIN_TITLE in [m["text"] for m in result["menu"]]:
                        # The admin toggle works from the menu, with no round trip to the bot.
                        admin = page.locator(f"#{name} #{ADMIN_ID}")
                        await admin.wait_for(state="hidden")
                        await menu.filter(has_text=ADMIN_TITLE).click()
                        await admin.wait_for(state="visible")
                    else:
                        await page.keyboard.press("Escape")
                    await menu.first.wait_for(state="detached")
            assert errors == []
            return measured
        finally:
            await browser.close()


@pytest.mark.usefixtures("renderer")
async def test_cards_render_in_a_teams_bubble(demo: Services) -> None:
    built, items = await cards(demo)
    for name, card in built.items():
        jsonschema.validate(card, OFFICIAL_SCHEMA)
        assert (HIDE_TITLE if name.endswith("-why") else WHY_TITLE) in [a["title"] for a in card["actions"]], name

    measured = await render(built)
    wrong: list[str] = []
    for name, result in measured.items():
        print(f"{name:<11} {result['width']:.0f} x {result['height']:.0f} px; buttons: "
              + ", ".join(f"{b['title']} {b['width']:.0f}" for b in result["buttons"])
              + (f"; menu: {', '.join(m['text'] for m in result['menu'])}" if result["menu"] else ""))
        wrong.extend(check(name, built[name], result))
    for collapsed, count in items.items():
        growth = measured[f"{collapsed}-why"]["height"] - measured[collapsed]["height"]
        bound = WHY_PANEL_PX + WHY_ITEM_PX * count
        print(f"Why? on {collapsed} adds {growth:.0f} px (bound {bound} px for {count} items)")
        if not 0 < growth <= bound:
            wrong.append(f"{collapsed}: Why? adds {growth:.0f} px (at most {bound})")
    assert not wrong, "\n".join(wrong)
