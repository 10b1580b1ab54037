"""Screenshots of report.html and /admin/analytics for docs/ (headless Chromium).

    python benchmarks/analytics_screenshots.py --db LOG --model MODEL_DIR [--out docs]

LOG is any conversation log (benchmarks/report.py generates one); MODEL_DIR serves the
admin page and clusters the unanswered questions.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

# Run as a script, this folder comes first on sys.path and its retrieval.py would
# shadow the package: put the checkout there instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0:1] = [str(ROOT)]

from playwright.async_api import async_playwright  # noqa: E402

from bot.server.settings import ServerSettings  # noqa: E402
from retrieval.bot_model import BotModel  # noqa: E402
from supportbot.cli import main as cli  # noqa: E402
from supportbot.testing import live_server  # noqa: E402
from supportbot.testing.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TOKEN = "screenshot-token"


async def shoot(db: Path, model_dir: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        report_dir = Path(folder) / "report"
        assert cli(["report", "--db", str(db), "--out", str(report_dir)]) == 0
        served = Path(folder) / "log.db"
        shutil.copy(db, served)
        settings = ServerSettings(admin_token=TOKEN)
        async with live_server(BotModel.load(model_dir), served, settings) as live:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto((report_dir / "report.html").as_uri())
                await page.screenshot(path=str(out / "report.png"), full_page=False)
                await page.goto(live.url + "/admin/analytics")
                await page.fill("#token", TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_selector("#report .cards", timeout=120_000)
                await page.screenshot(path=str(out / "admin-analytics.png"), full_page=False)
                await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    args = parser.parse_args()
    asyncio.run(shoot(args.db, args.model, args.out))


if __name__ == "__main__":
    main()
