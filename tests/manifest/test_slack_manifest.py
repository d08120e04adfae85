"""`whybot manifest slack`: the printed manifest validates against Slack's schema and points at our one URL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.manifest.conftest import RunCli
from tests.manifest.validation import errors, slack_validator

EVENT_SCOPES = {  # bot event -> the scope Slack requires before it delivers it
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "member_joined_channel": "channels:read",
    "member_left_channel": "channels:read",
}


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def slack(run: RunCli, *args: str) -> dict[str, Any]:
    result = run("manifest", "slack", *args)
    assert result.code == 0, result.err
    manifest: dict[str, Any] = json.loads(result.out) if "--json" in args else yaml.safe_load(result.out)
    assert errors(slack_validator(), manifest) == []
    return manifest


def test_url_manifest_validates_and_uses_one_events_url(run: RunCli) -> None:
    manifest = slack(run, "--url", "https://whybot.example.com")

    settings, features = manifest["settings"], manifest["features"]
    assert settings["event_subscriptions"]["request_url"] == "https://whybot.example.com/slack/events"
    assert settings["interactivity"] == {"is_enabled": True, "request_url": "https://whybot.example.com/slack/events"}
    [command] = features["slash_commands"]
    assert command["command"] == "/whybot"
    assert command["url"] == "https://whybot.example.com/slack/events"
    assert command["should_escape"] is False
    for word in ("ask …", "summarize …", "digest now|daily HH:MM|weekly DAY HH:MM|off|status", "settings …", "help"):
        assert word in command["usage_hint"]
    assert manifest["oauth_config"]["redirect_urls"] == ["https://whybot.example.com/slack/oauth_redirect"]
    assert (settings["socket_mode_enabled"], settings["org_deploy_enabled"], settings["token_rotation_enabled"]) == (
        False, False, False)
    assert features["bot_user"] == {"display_name": "whybot", "always_online": True}
    assert not [s for s in strings(manifest) if "PLACEHOLDER" in s]


def test_events_and_scopes_agree(run: RunCli) -> None:
    manifest = slack(run, "--url", "https://whybot.example.com")

    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert events >= {"app_mention", "message.channels", "message.groups", "message.im", "member_joined_channel",
                      "member_left_channel", "app_uninstalled", "tokens_revoked"}
    assert {EVENT_SCOPES[e] for e in events if e in EVENT_SCOPES} <= scopes
    assert scopes >= {"chat:write", "commands", "channels:history", "groups:history", "im:history", "channels:read",
                      "groups:read", "im:read", "users:read", "reactions:read"}
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # or users cannot DM the bot


def test_the_home_tab_is_on_and_its_event_subscribed(run: RunCli) -> None:
    """App Home is drawn on app_home_opened (no scope needed); views.publish refuses a disabled Home tab."""
    for args in (("--url", "https://whybot.example.com"), ("--socket-mode",)):
        manifest = slack(run, *args)
        assert manifest["features"]["app_home"]["home_tab_enabled"] is True
        assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_schema_gaps_we_check_ourselves(run: RunCli) -> None:
    """The schema spells background_color's pattern as `regex`, which JSON Schema ignores."""
    info = slack(run, "--url", "https://whybot.example.com")["display_information"]
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])


@pytest.mark.parametrize(("url", "base"), [
    ("https://whybot.example.com/", "https://whybot.example.com"),
    ("https://whybot.example.com///", "https://whybot.example.com"),
    ("https://example.com:8443/bots/whybot/", "https://example.com:8443/bots/whybot"),
    ("HTTPS://Example.com", "https://Example.com"),
])
def test_url_is_normalized(run: RunCli, url: str, base: str) -> None:
    manifest = slack(run, "--url", url)
    assert manifest["settings"]["event_subscriptions"]["request_url"] == f"{base}/slack/events"
    assert manifest["oauth_config"]["redirect_urls"] == [f"{base}/slack/oauth_redirect"]


def test_json_output_is_the_same_manifest(run: RunCli) -> None:
    assert slack(run, "--url", "https://a.example", "--json") == slack(run, "--url", "https://a.example")


@pytest.mark.parametrize("args", [(), ("--url", "https://whybot.example.com"), ("--url", "http://localhost:3978")])
def test_socket_mode_drops_request_urls(run: RunCli, args: tuple[str, ...]) -> None:
    manifest = slack(run, "--socket-mode", *args)

    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["event_subscriptions"]
    assert settings["interactivity"] == {"is_enabled": True}
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert not [s for s in strings(manifest) if s.endswith("/slack/events") or "PLACEHOLDER" in s]
    redirects = manifest["oauth_config"].get("redirect_urls")
    assert redirects == ([f"{args[1]}/slack/oauth_redirect"] if args else None)


@pytest.mark.parametrize(("url", "message"), [
    ("http://whybot.example.com", "--url must start with https://"),
    ("whybot.example.com", "--url must start with https://"),
    ("ftp://whybot.example.com", "--url must start with https://"),
    ("https://", "no host name"),
    ("https://whybot.example.com/?x=1", "query or fragment"),
])
def test_bad_url_is_refused(run: RunCli, url: str, message: str) -> None:
    result = run("manifest", "slack", "--url", url)
    assert result.code == 2
    assert result.out == ""
    assert message in result.err


def test_url_is_required_without_socket_mode(run: RunCli) -> None:
    result = run("manifest", "slack")
    assert (result.code, result.out) == (2, "")
    assert "--url is required unless --socket-mode" in result.err


def test_name_sets_app_and_bot_name(run: RunCli) -> None:
    manifest = slack(run, "--url", "https://a.example", "--name", "whybot-staging")
    assert manifest["display_information"]["name"] == "whybot-staging"
    assert manifest["features"]["bot_user"]["display_name"] == "whybot-staging"
    assert manifest["features"]["slash_commands"][0]["command"] == "/whybot"

    result = run("manifest", "slack", "--url", "https://a.example", "--name", "x" * 36)
    assert result.code == 2 and "--name must be 1 to 35 characters" in result.err


def test_schema_has_teeth(run: RunCli) -> None:
    manifest = slack(run, "--url", "https://a.example")
    manifest["settings"]["event_subscriptions"]["request_url"] = "a.example/slack/events"
    manifest["features"]["bot_user"]["unknown"] = True
    assert len(errors(slack_validator(), manifest)) == 2


def test_the_agent_view_and_its_events(run: RunCli) -> None:
    """The view whybot answers in: Slack's agent view by default (new apps can only have that one), its
    scope, and the events that open it, change what is in view and carry the questions."""
    manifest = slack(run, "--url", "https://whybot.example.com")
    features = manifest["features"]
    assert "assistant_view" not in features
    assert 0 < len(features["agent_view"]["agent_description"]) <= 300
    assert 1 <= len(features["agent_view"]["suggested_prompts"]) <= 4
    assert {"assistant:write", "chat:write", "im:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_home_opened", "app_context_changed", "assistant_thread_started", "assistant_thread_context_changed",
            "message.im"} <= set(manifest["settings"]["event_subscriptions"]["bot_events"])


def test_the_older_assistant_view_for_apps_not_yet_moved(run: RunCli) -> None:
    manifest = slack(run, "--url", "https://whybot.example.com", "--assistant-view")
    features = manifest["features"]
    assert "agent_view" not in features and features["assistant_view"]["assistant_description"]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed", "message.im"} <= events
    assert "app_context_changed" not in events
