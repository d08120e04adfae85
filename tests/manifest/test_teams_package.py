"""`whybot manifest teams`: the manifest validates against the Teams schema, and the zip can be sideloaded."""

from __future__ import annotations

import importlib.util
import json
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot.manifests import manifest_dir
from tests.manifest.conftest import RunCli
from tests.manifest.pngs import read_png
from tests.manifest.validation import errors, teams_schema, teams_validator

APP_ID = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"
REPO = Path(__file__).resolve().parents[2]


def teams(run: RunCli, *args: str) -> dict[str, Any]:
    result = run("manifest", "teams", *args)
    assert result.code == 0, result.err
    manifest: dict[str, Any] = json.loads(result.out)
    assert errors(teams_validator(), manifest) == []
    return manifest


def test_source_manifest_is_at_the_schema_version() -> None:
    source = json.loads((REPO / "manifest" / "teams" / "manifest.json").read_text(encoding="utf-8"))
    version = teams_schema()["properties"]["manifestVersion"]["const"]
    assert source["manifestVersion"] == version
    assert f"/v{version}/" in source["$schema"]
    assert errors(teams_validator(), source) == []


def test_app_id_is_filled_in_everywhere(run: RunCli) -> None:
    manifest = teams(run, "--app-id", APP_ID.upper())

    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    assert "00000000-0000-0000-0000-000000000000" not in json.dumps(manifest)


def test_bot_scopes_commands_and_consent(run: RunCli) -> None:
    [bot] = teams(run, "--app-id", APP_ID)["bots"]
    manifest = teams(run, "--app-id", APP_ID)

    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert sorted(scope for group in bot["commandLists"] for scope in group["scopes"]) == sorted(bot["scopes"])
    for group in bot["commandLists"]:
        assert [c["title"] for c in group["commands"]] == ["ask", "summarize", "digest", "settings", "help"]
    digest = next(c for c in bot["commandLists"][0]["commands"] if c["title"] == "digest")
    assert "now|daily HH:MM|weekly DAY HH:MM|off|status" in digest["description"]
    rsc = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in rsc
    assert manifest["webApplicationInfo"]["resource"]  # RSC needs some value here


def test_url_and_name(run: RunCli) -> None:
    manifest = teams(run, "--app-id", APP_ID, "--url", "https://bots.example.com:8443/whybot/", "--name", "whybot dev")
    assert manifest["validDomains"] == ["bots.example.com"]
    assert manifest["name"]["short"] == "whybot dev"

    result = run("manifest", "teams", "--app-id", APP_ID, "--url", "http://bots.example.com")
    assert result.code == 2 and "--url must start with https://" in result.err


@pytest.mark.parametrize("app_id", ["1234", "not-a-guid", f"{{{APP_ID}}}", APP_ID[:-1], APP_ID + "0",
                                    APP_ID.replace("-", ""), "00000000-0000-0000-0000-000000000000"])
def test_bad_app_id_is_refused(run: RunCli, tmp_path: Path, app_id: str) -> None:
    out = tmp_path / "whybot.zip"
    result = run("manifest", "teams", "--app-id", app_id, "--zip", str(out))
    assert (result.code, result.out) == (2, "")
    assert "--app-id" in result.err
    assert not out.exists()


def test_zip_holds_manifest_and_icons_at_its_root(run: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "whybot.zip"
    result = run("manifest", "teams", "--app-id", APP_ID, "--zip", str(out))
    assert result.code == 0, result.err
    assert str(out) in result.out

    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert errors(teams_validator(), manifest) == []
        assert manifest["id"] == APP_ID
        color, outline = (read_png(archive.read(manifest["icons"][kind])) for kind in ("color", "outline"))

    assert (color.width, color.height) == (192, 192)
    assert (outline.width, outline.height) == (32, 32)
    # Teams: the outline icon is white on transparent; the colour icon is a full-colour square.
    outline_pixels = [outline.rgba(x, y) for y in range(32) for x in range(32)]
    assert all(p[:3] == (255, 255, 255) or p[3] == 0 for p in outline_pixels)
    assert any(p[3] == 255 for p in outline_pixels) and any(p[3] == 0 for p in outline_pixels)
    assert len({color.rgba(x, y) for y in range(0, 192, 8) for x in range(0, 192, 8)}) > 1


def test_zip_into_missing_folder_is_a_clear_error(run: RunCli, tmp_path: Path) -> None:
    result = run("manifest", "teams", "--app-id", APP_ID, "--zip", str(tmp_path / "nope" / "whybot.zip"))
    assert result.code == 2 and "cannot write" in result.err


def test_icon_generator_reproduces_the_committed_icons() -> None:
    spec = importlib.util.spec_from_file_location("make_icons", REPO / "manifest" / "teams" / "make_icons.py")
    assert spec and spec.loader
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    for name, rows in (("color.png", make_icons.color_icon()), ("outline.png", make_icons.outline_icon())):
        assert read_png((REPO / "manifest" / "teams" / name).read_bytes()).rows == rows, name


def test_installed_copy_lists_every_source() -> None:
    """A regular `pip install` only ships what pyproject's data-files names (bot/manifests.py reads it there)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = pyproject["tool"]["setuptools"]["data-files"]
    shipped = {Path(f).relative_to("manifest").as_posix() for files in data_files.values() for f in files}
    teams_manifest = json.loads((manifest_dir() / "teams" / "manifest.json").read_text(encoding="utf-8"))
    needed = {"slack.yaml", "teams/manifest.json", *(f"teams/{icon}" for icon in teams_manifest["icons"].values())}
    assert needed <= shipped
    for target, files in data_files.items():
        assert all(target == "share/whybot/" + str(Path(f).parent) for f in files)


def test_schema_has_teeth(run: RunCli) -> None:
    """A draft-04 validator would skip `const`; the draft-07 one catches a wrong manifestVersion."""
    manifest = teams(run, "--app-id", APP_ID)
    manifest["manifestVersion"] = "1.17"
    manifest["bots"][0]["botId"] = "not-a-guid"
    assert len(errors(teams_validator(), manifest)) == 2
