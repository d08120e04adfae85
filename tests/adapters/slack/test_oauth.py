"""OAuth v2 installs on our database (slack_sdk's SQLAlchemy stores), then events for that workspace."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from storage import tenant_key
from tests.adapters.slack.conftest import GENERAL, RigFactory, eventually
from tests.peers.slack import TEAM, FakeChannel, FakeSlack

NEW_TEAM = "T0NEW"
NEW_TOKEN = "xoxb-installed-token"


async def test_install_then_answer_with_the_installed_token(make_rig: RigFactory, db_url: str) -> None:
    fake = FakeSlack(tokens={})
    fake.add_channel(FakeChannel(GENERAL, "general", members=["UDANA", "UBOT"]))
    fake.add_user("UDANA", "Dana", tz="Europe/Lisbon")
    await fake.start()
    try:
        rig = await make_rig(db_url=db_url, fake=fake, SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID="111.222",
                             SLACK_CLIENT_SECRET="client-secret", WHYBOT_PUBLIC_URL="https://whybot.example")
        page = await rig.http.get("/slack/install")
        assert page.status == 200
        html = await page.text()
        link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)
        assert link is not None, html[:500]
        query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
        assert query["client_id"] == ["111.222"] and "chat:write" in query["scope"][0].split(",")
        assert query["redirect_uri"] == ["https://whybot.example/slack/oauth_redirect"]
        state = query["state"][0]
        cookie = page.cookies["slack-app-oauth-state"]  # Secure: a browser sends it back over https
        assert cookie.value == state
        browser = {"Cookie": f"slack-app-oauth-state={cookie.value}"}

        fake.oauth_codes["code-1"] = {
            "access_token": NEW_TOKEN, "token_type": "bot", "scope": "chat:write,commands",
            "bot_user_id": "UBOT", "app_id": "A0FAKE", "team": {"id": NEW_TEAM, "name": "New Co"},
            "enterprise": None, "is_enterprise_install": False, "authed_user": {"id": "UDANA"}}
        done = await rig.http.get(f"/slack/oauth_redirect?code=code-1&state={state}", headers=browser)
        assert done.status == 200, await done.text()
        [exchange] = fake.called("oauth.v2.access")
        assert exchange.args["code"] == "code-1"
        bot = await rig.adapter.store.async_find_bot(enterprise_id=None, team_id=NEW_TEAM)  # type: ignore[union-attr]
        assert bot is not None and bot.bot_token == NEW_TOKEN

        replay = await rig.http.get(f"/slack/oauth_redirect?code=code-1&state={state}", headers=browser)
        assert replay.status >= 400, "a state is good for one install only"

        await rig.mention(GENERAL, "UDANA", "help", team=NEW_TEAM)
        [post] = await fake.wait_calls("chat.postMessage")
        assert post.token == NEW_TOKEN

        await rig.event({"type": "app_uninstalled", "event_ts": "1.0"}, team=NEW_TEAM)
        await eventually(lambda: rig.services.storage.workspace.tenant_exists(tenant_key("slack", NEW_TEAM)), False)
        await eventually(lambda: _installed(rig), False)
    finally:
        await fake.close()


async def _installed(rig) -> bool:  # type: ignore[no-untyped-def]
    return await rig.adapter.store.async_find_bot(enterprise_id=None, team_id=NEW_TEAM) is not None


async def test_an_event_from_a_workspace_that_never_installed_is_not_answered(make_rig: RigFactory) -> None:
    rig = await make_rig(SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret")
    response = await rig.mention(GENERAL, "UALICE", "help", team=TEAM)
    assert response.status < 500
    assert not rig.fake.called("chat.postMessage")
