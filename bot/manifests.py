"""Build the Slack app manifest and the Teams app package from the sources in the top-level `manifest/` folder.

Where the sources are: `manifest/` beside `bot/` (docs/architecture.md), so a checkout (and an editable install)
reads them there; a regular `pip install` copies the same files to `<prefix>/share/whybot/manifest` through
pyproject's `[tool.setuptools.data-files]`, which is tried next. Keeping one copy in `manifest/` means the files
people edit and the files the CLI reads are the same.
"""

from __future__ import annotations

import copy
import io
import json
import re
import sysconfig
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

PLACEHOLDER_URL = "https://PLACEHOLDER"
PLACEHOLDER_GUID = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SLACK_NAME_MAX = 35  # display_information.name in Slack's schema
_TEAMS_NAME_MAX = 30  # name.short in the Teams schema


class ManifestError(ValueError):
    """An option the manifest cannot be built from; the message is meant for the operator."""


def manifest_dir() -> Path:
    """The folder holding slack.yaml and teams/: the checkout's `manifest/`, else the installed data copy."""
    candidates = [Path(__file__).resolve().parent.parent / "manifest"]
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        candidates.append(Path(sysconfig.get_path("data", scheme)) / "share" / "whybot" / "manifest")
    for candidate in candidates:
        if (candidate / "slack.yaml").is_file():
            return candidate
    raise FileNotFoundError("manifest sources not found; looked in " + ", ".join(map(str, candidates)))


def public_base_url(url: str, *, allow_http: bool = False) -> str:
    """Normalize the public URL whybot is reached at: scheme and host, optional path prefix, no trailing slash."""
    parts = urlsplit(url.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        need = "http:// or https://" if allow_http else "https:// (Slack and Teams only call HTTPS endpoints)"
        raise ManifestError(f"--url must start with {need}, got {url!r}")
    if not parts.hostname:
        raise ManifestError(f"--url has no host name: {url!r}")
    if parts.query or parts.fragment:
        raise ManifestError(f"--url must not have a query or fragment: {url!r}")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}"


def _check_name(name: str, limit: int) -> str:
    name = name.strip()
    if not 1 <= len(name) <= limit:
        raise ManifestError(f"--name must be 1 to {limit} characters, got {len(name)}")
    return name


def _fill_urls(node: Any, base: str) -> Any:
    """Replace the placeholder origin in every string of the manifest with `base`."""
    if isinstance(node, dict):
        return {key: _fill_urls(value, base) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_urls(value, base) for value in node]
    if isinstance(node, str) and node.startswith(PLACEHOLDER_URL):
        return base + node[len(PLACEHOLDER_URL):]
    return node


def slack_manifest(url: str | None, *, socket_mode: bool = False, name: str | None = None,
                   assistant_view: bool = False) -> dict[str, Any]:
    """The Slack app manifest for `url`; with Socket Mode the request URLs go, as Slack expects.

    With Socket Mode, `url` is optional and only fills the OAuth redirect URL (which still needs HTTP).
    `assistant_view` swaps the agent view (Slack's default for new apps) for the older side panel, for
    apps created before the agent view that have not moved (the move cannot be undone)."""
    template = yaml.safe_load((manifest_dir() / "slack.yaml").read_text(encoding="utf-8"))
    if url is None and not socket_mode:
        raise ManifestError("--url is required unless --socket-mode is given")
    manifest: dict[str, Any] = copy.deepcopy(template)
    if url is not None:
        manifest = _fill_urls(manifest, public_base_url(url, allow_http=socket_mode))
    if name is not None:
        name = _check_name(name, _SLACK_NAME_MAX)
        manifest["display_information"]["name"] = name
        manifest["features"]["bot_user"]["display_name"] = name
    if assistant_view:
        agent = manifest["features"].pop("agent_view")
        manifest["features"]["assistant_view"] = {"assistant_description": agent["agent_description"],
                                                  "suggested_prompts": agent["suggested_prompts"]}
        events = manifest["settings"]["event_subscriptions"]["bot_events"]
        events[:] = [e for e in events if e != "app_context_changed"]  # the agent view's own event
    if socket_mode:
        settings = manifest["settings"]
        settings["socket_mode_enabled"] = True
        settings["event_subscriptions"].pop("request_url", None)
        settings["interactivity"].pop("request_url", None)
        for command in manifest["features"]["slash_commands"]:
            command.pop("url", None)
        if url is None:
            manifest["oauth_config"].pop("redirect_urls", None)
    return manifest


def check_app_id(app_id: str) -> str:
    """The Microsoft app id (the bot's Entra application id) in lower case, or ManifestError."""
    app_id = app_id.strip()
    if not _GUID.match(app_id):
        raise ManifestError(f"--app-id must be a GUID like 12345678-abcd-1234-abcd-1234567890ab, got {app_id!r}")
    if app_id == PLACEHOLDER_GUID:
        raise ManifestError("--app-id is the all-zero placeholder; use the bot's Microsoft app id")
    return app_id.lower()


def teams_manifest(app_id: str, *, url: str | None = None, name: str | None = None) -> dict[str, Any]:
    """The Teams manifest.json with the app id filled in everywhere the placeholder GUID stands."""
    template = json.loads((manifest_dir() / "teams" / "manifest.json").read_text(encoding="utf-8"))
    app_id = check_app_id(app_id)
    manifest: dict[str, Any] = json.loads(json.dumps(template).replace(PLACEHOLDER_GUID, app_id))
    if url is not None:
        host = urlsplit(public_base_url(url)).hostname
        domains: list[str] = manifest.setdefault("validDomains", [])
        if host and host not in domains:
            domains.append(host)
    if name is not None:
        manifest["name"] = {"short": _check_name(name, _TEAMS_NAME_MAX), "full": name.strip()}
    return manifest


def teams_zip(manifest: dict[str, Any]) -> bytes:
    """The sideloadable app package: manifest.json and both icons at the zip root, with fixed timestamps."""
    buffer = io.BytesIO()
    icons = manifest_dir() / "teams"
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())]
        entries += [(icon, (icons / icon).read_bytes()) for icon in manifest["icons"].values()]
        for filename, data in entries:
            info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
