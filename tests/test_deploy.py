"""The deployment recipe's files (deploy/, docs/DEPLOY.md): the systemd units pass `systemd-analyze verify`, the
nginx site passes `nginx -t` (where the tools are installed) and passes on exactly the bot's routes."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import WebSettings
from bot.links import link_signer
from bot.web import make_app
from models.db import Database
from tests.chat import make_services
from tests.loopback import BIN

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("ocop-bot.service", "ocop-bot-backup.service", "ocop-bot-backup.timer")
SITE = DEPLOY / "nginx-ocop-bot.conf"
INSTALLED = "/opt/ocop-bot/.venv/bin/ocop-bot"
WEBHOOKS = ("/telegram/webhook", "/zalo/bot/webhook", "/zalo/oa/webhook")  # the channels' default webhook_path
MONITORING = ("/healthz", "/readyz", "/metrics")  # kept for the office's own addresses
NGINX = os.environ.get("OCOP_TEST_NGINX") or shutil.which("nginx")  # a path to an nginx binary, if any


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_the_units_run_the_bot_and_its_backups_as_the_recipe_says() -> None:
    service = unit("ocop-bot.service")["Service"]
    assert service["ExecStart"] == f"{INSTALLED} --config /etc/ocop-bot/config.toml serve"
    assert (service["User"], service["Restart"], service["KillSignal"]) == ("ocop", "on-failure", "SIGTERM")
    assert service["RestartPreventExitStatus"] == "2"  # `ocop-bot` exits 2 on a configuration error
    backup = unit("ocop-bot-backup.service")["Service"]
    assert f"{INSTALLED} --config /etc/ocop-bot/config.toml backup " in backup["ExecStart"]
    assert unit("ocop-bot-backup.timer")["Timer"]["Persistent"] == "true"
    guide = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    assert all(f"deploy/{name}" in guide for name in (*UNITS, SITE.name))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    for name in UNITS:  # the program installed where the recipe puts it: here, this checkout's
        text = (DEPLOY / name).read_text(encoding="utf-8").replace(INSTALLED, str(BIN))
        (tmp_path / name).write_text(text, encoding="utf-8")
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", *UNITS], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    complaints = [line for line in (checked.stdout + checked.stderr).splitlines() if any(n in line for n in UNITS)]
    assert checked.returncode == 0 and complaints == [], checked.stderr  # unknown keys are only warned about


def locations(site: str) -> dict[str, str]:
    """The site's HTTPS locations: path → "proxy", "internal" (proxied for some addresses) or "closed"."""
    https = site[site.index("listen 443"):]
    found = {}
    for match in re.finditer(r"location\s+(=\s+)?(\S+)\s*\{(.*?)\n    \}", https, re.S):
        body = match.group(3)
        kind = "closed" if "proxy_pass" not in body else "internal" if "deny all;\n" in body and "limit_except" \
            not in body else "proxy"
        found[("=" if match.group(1) else "") + match.group(2)] = kind
    return found


def served_by(path: str, places: dict[str, str]) -> str:
    """What nginx does with ``path``: an exact location, else the longest matching prefix."""
    if "=" + path in places:
        return places["=" + path]
    prefix = max((place for place in places if not place.startswith("=") and path.startswith(place)), key=len)
    return places[prefix]


async def test_the_site_passes_on_every_route_of_the_bot_and_nothing_else(sqlite_db: Database) -> None:
    signer = link_signer(WebSettings(secret="a-link-secret-of-more-than-32-chars-0123456789"))
    app = make_app(make_services(sqlite_db), signer)
    paths = {re.sub(r"\{[^}]*\}", "1", info.get("path") or info.get("formatter") or info.get("prefix", ""))
             for resource in app.router.resources() for info in [resource.get_info()]}
    paths |= set(WEBHOOKS)
    places = locations(SITE.read_text(encoding="utf-8"))
    for path in paths - set(MONITORING):
        assert served_by(path, places) == "proxy", path
    for path in MONITORING:
        assert places["=" + path] == "internal"
    assert served_by("/", places) == served_by("/admin.php", places) == "closed"
    for place, kind in places.items():  # no location passes on what the bot does not serve
        if kind != "closed" and place.lstrip("=") not in MONITORING:
            assert any(path.startswith(place.lstrip("=")) for path in paths), place


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "1", "-subj", "/CN=ocop.example.vn"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    site = (SITE.read_text(encoding="utf-8")
            .replace("/etc/letsencrypt/live/ocop.example.vn/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/letsencrypt/live/ocop.example.vn/privkey.pem", str(tmp_path / "key.pem")))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    temp = "\n".join(f"    {kind}_temp_path {tmp_path};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    checked = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                              "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
