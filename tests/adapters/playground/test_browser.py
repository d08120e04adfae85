"""End to end in a real browser: ask, get a cited answer, open Why?, hide it, screenshot; the example
buttons (who asks matters: a private channel); a slow streamed answer shows its status line and grows
before the reply card replaces it.

Drives Debian's Chromium through Playwright (no browser download). Without /usr/bin/chromium the test
skips and says so, unless WHYBOT_REQUIRE_BROWSER=1 (set by .ci/run), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from adapters.playground import create_adapter
from bot.app import create_app
from bot.services import Services
from tests.adapters.playground.test_progress import STAGING, fake_openai, llm_base  # noqa: F401 (fixtures)
from tests.peers.fake_openai import FakeOpenAI

CHROMIUM = Path(os.environ.get("WHYBOT_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts"
# WHYBOT_UPDATE_SCREENSHOTS=1 also writes the screenshots the README shows into docs/.
DOCS = ROOT / "docs" if os.environ.get("WHYBOT_UPDATE_SCREENSHOTS") == "1" else None


async def shoot(page: object, locator: object, name: str) -> None:
    """A screenshot of one reply, kept in artifacts/ (and docs/ when updating the README's pictures)."""
    ARTIFACTS.mkdir(exist_ok=True)
    await locator.screenshot(path=str(ARTIFACTS / name))  # type: ignore[attr-defined]
    if DOCS is not None:
        await locator.screenshot(path=str(DOCS / name))  # type: ignore[attr-defined]

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (make test does)"
        if os.environ.get("WHYBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


async def test_ask_cite_why_hide(demo: Services, serve: Callable[[web.Application], Awaitable[str]],
                                 chromium: Path) -> None:
    from playwright.async_api import async_playwright, expect

    base = await serve(create_app(demo, factories={"playground": create_adapter}))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await expect(page.locator("#channel-name")).to_have_text("engineering")

            # A message with markup is shown as text and never runs.
            await page.fill("#text", "<script>window.pwned = 1</script> just a note")
            await page.press("#text", "Enter")
            await expect(page.locator(".msg .text", has_text="<script>window.pwned = 1</script>")).to_be_visible()
            assert await page.evaluate("window.pwned === undefined")

            await page.fill("#text", "@whybot when does the release freeze start?")
            await page.press("#text", "Enter")
            reply = page.locator(".reply").last
            await expect(reply.locator(".reply-body")).to_contain_text("Thursday at 18:00 UTC")
            await expect(reply.locator(".citation").first).to_contain_text("#engineering")
            await expect(reply.locator(".cite-num")).to_have_text(["[1]", "[2]"])
            await shoot(page, reply, "playground-answer.png")

            why = reply.locator("button.why")
            await expect(why).to_have_text("Why?")
            await why.click()
            rationale = reply.locator(".rationale")
            await expect(rationale).to_be_visible()
            await expect(rationale).to_contain_text("Where I looked")
            await expect(rationale).to_contain_text("What I found")
            await expect(rationale).to_contain_text("quoted word for word")
            await expect(why).to_have_text("Hide why")
            ARTIFACTS.mkdir(exist_ok=True)
            await reply.scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / "playground-why.png"))
            await shoot(page, reply, "playground-why.png")

            await why.click()
            await expect(rationale).to_be_hidden()
            await expect(why).to_have_text("Why?")

            await page.fill("#text", "/whybot digest now")
            await page.press("#text", "Enter")
            digest = page.locator(".reply").last
            await expect(digest.locator(".reply-title")).to_contain_text("Digest for #engineering")
            await expect(digest.locator(".item-why").first).to_be_hidden()  # reasons only with Why?
            await digest.locator("button.why").click()
            await expect(digest.locator(".item-why").first).to_be_visible()
            await expect(digest.locator(".rationale")).to_contain_text("How I ranked")
            await shoot(page, digest, "playground-digest.png")
            assert errors == []
        finally:
            await browser.close()
    assert (ARTIFACTS / "playground-why.png").stat().st_size > 10_000


async def test_example_buttons_ask_as_the_right_person(demo: Services, serve: Callable[[web.Application],
                                                                                     Awaitable[str]],
                                                     chromium: Path) -> None:
    from playwright.async_api import async_playwright, expect

    base = await serve(create_app(demo, factories={"playground": create_adapter}))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await expect(page.locator("#channel-name")).to_have_text("engineering")
            examples = page.locator("#examples button")
            await expect(examples).to_have_count(11)

            await examples.filter(has_text="Follow up in the thread").click()
            await expect(page.locator("#error")).to_contain_text("Ask a question here first")
            await examples.filter(has_text="Ask a question").click()
            await expect(page.locator(".reply").last.locator(".reply-body")).to_contain_text("Thursday at 18:00 UTC")
            await examples.filter(has_text="Follow up in the thread").click()
            await expect(page.locator(".reply")).to_have_count(2)
            await expect(page.locator(".msg.reply-in-thread .reply")).to_have_count(2)

            # A member of #leadership gets the answer there; Frank, who is not, gets nothing from it.
            await examples.filter(has_text="Private channel, as a member").click()
            await expect(page.locator("#me")).to_have_value("carol")
            await expect(page.locator("#channel-name")).to_have_text("leadership")
            await expect(page.locator(".reply").last).to_contain_text("director")
            await examples.filter(has_text="Private channel, as a non-member").click()
            await expect(page.locator("#me")).to_have_value("frank")
            await expect(page.locator("#channel-name")).to_have_text("engineering")
            await expect(page.locator("#channels li", has_text="leadership")).to_have_count(0)
            answer = page.locator(".reply").last
            await expect(answer.locator(".reply-title")).to_contain_text("I couldn't find this")
            assert "director" not in await answer.inner_text()
            await expect(page.locator("#dms li")).to_have_text(["Alice Chen", "Bob Okafor", "whybot"])
            assert errors == []
        finally:
            await browser.close()


async def test_a_slow_answer_shows_status_and_streams_before_the_card(fake_openai: FakeOpenAI,  # noqa: F811
                                                                      llm_base: str,  # noqa: F811
                                                                      chromium: Path) -> None:
    from playwright.async_api import async_playwright, expect

    fake_openai.stream_words = 2
    fake_openai.stream_pause_s = 0.3  # about 5 s of writing
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(llm_base + "/")
            await expect(page.locator("#channel-name")).to_have_text("engineering")
            await page.fill("#text", STAGING)
            await page.press("#text", "Enter")

            working = page.locator(".msg.working")
            await expect(working.locator(".progress-status")).to_contain_text("writing the answer", timeout=10_000)
            streamed = working.locator(".progress-text")
            await expect(streamed).to_contain_text("Request staging access", timeout=10_000)
            first = await streamed.inner_text()
            await shoot(page, working, "playground-progress.png")
            await page.wait_for_function(
                "([first]) => { const t = document.querySelector('.msg.working .progress-text');"
                " return t && t.textContent.length > first.length && t.textContent.startsWith(first); }",
                arg=[first], timeout=10_000)

            reply = page.locator(".reply").last
            await expect(reply.locator(".reply-body")).to_contain_text("access form", timeout=15_000)
            await expect(working).to_have_count(0)
            await reply.locator("button.why").click()
            await expect(reply.locator(".rationale")).to_contain_text("Where I looked")
            assert errors == []
        finally:
            await browser.close()


async def test_why_not_is_a_note_only_the_asker_sees(demo: Services,
                                                     serve: Callable[[web.Application], Awaitable[str]],
                                                     chromium: Path) -> None:
    """In a channel excluded with /whybot settings exclude, a mention gets no reply: the page says why in a
    note marked as only visible to the asker, and the channel keeps none of it."""
    from playwright.async_api import async_playwright, expect

    base = await serve(create_app(demo, factories={"playground": create_adapter}))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/")
            await expect(page.locator("#channel-name")).to_have_text("engineering")
            await expect(page.locator("#note")).to_be_hidden()
            await page.fill("#text", "/whybot settings exclude")
            await page.press("#text", "Enter")
            await expect(page.locator(".reply").last).to_contain_text("Excluded #engineering")
            await page.fill("#text", "@whybot when does the release freeze start?")
            await page.press("#text", "Enter")
            note = page.locator("#note")
            await expect(note).to_be_visible()
            await expect(note).to_contain_text("Only visible to you")
            await expect(note).to_contain_text("I don't read #engineering")
            await expect(page.locator(".msg .text", has_text="when does the release freeze start")).to_have_count(0)
            await shoot(page, page.locator(".main"), "playground-why-not.png")
            await page.fill("#text", "/whybot settings include")
            await page.press("#text", "Enter")
            await expect(note).to_be_hidden()
            assert errors == []
        finally:
            await browser.close()
