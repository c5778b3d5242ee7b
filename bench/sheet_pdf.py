"""Time the commune sheet's PDF as a user gets it: ``GET /communes/52011/fiche.pdf`` to
``geosignal serve`` (gunicorn) on a scratch database with the 30 communes and ``n`` zones in
Charleroi (half submitted, half validated, plus points and road stretches), loopback only.

Side by side, in the same run: the HTML sheet of the same commune (``/communes/52011/fiche``,
folium page) and the floor of the PDF path, WeasyPrint alone rendering the same sheet's HTML
in this process (no request, no query). Prints each median and the ratios; checks the PDF is
one A4 page (``pdfinfo``) holding the commune's name (``pdftotext``).

    python bench/sheet_pdf.py            # ~200 zones (260 reports), 5 requests each
    python bench/sheet_pdf.py --quick    # 50 zones, 3 requests each
    python bench/sheet_pdf.py --n 2000 --repeat 9

Target: the PDF of Charleroi with ~200 zones in under 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_intake import free_port  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson"
CHARLEROI = "52011"

#: ``n`` squares of 80–400 m in Charleroi's centre (EPSG:31370), every tenth a point and every
#: tenth a road stretch, statuses alternating; one statement (the figures' triggers run once).
LOAD_SQL = """
INSERT INTO reports (id, geometry, commune_nis, network, technologies, operators, status)
SELECT gen_random_uuid(), ST_Transform(CASE WHEN i % 10 = 1 THEN ST_SetSRID(ST_MakePoint(x, y), 31370)
                         WHEN i % 10 = 2 THEN ST_SetSRID(ST_MakeLine(ST_MakePoint(x, y), ST_MakePoint(x + s, y + s / 2)), 31370)
                         ELSE ST_MakeEnvelope(x, y, x + s, y + s, 31370) END, 4326),
       '52011', 'mobile', '{4G}', '{Proximus}', CASE WHEN i % 2 = 0 THEN 'validated' ELSE 'submitted' END
FROM (SELECT i, 150500 + random() * 9000 AS x, 117500 + random() * 9000 AS y, 80 + random() * 320 AS s
      FROM generate_series(1, %(n)s) i) q
WHERE ST_Within(ST_SetSRID(ST_MakePoint(x, y), 31370), (SELECT ST_Transform(boundary, 31370) FROM communes
                                                       WHERE nis_code = '52011'))
"""


def timed_get(session, url: str, repeat: int) -> tuple[float, bytes]:  # noqa: ANN001
    """Median seconds of ``repeat`` GETs (after one warm-up), and the last body."""
    session.get(url, timeout=120).raise_for_status()
    times = []
    body = b""
    for _ in range(repeat):
        t = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append(time.perf_counter() - t)
        response.raise_for_status()
        body = response.content
    return statistics.median(times), body


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="zones in Charleroi (about; reports: ~1.3 × n)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50 zones, 3 requests")
    parser.add_argument("--save", metavar="PDF", help="write the PDF received there")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 50, 3

    import requests
    from sqlalchemy import text

    from geosignal import create_app
    from geosignal.devdb import scratch_database
    from geosignal.services.users import create_token, create_user

    with scratch_database("geosignal_bench_sheet", COMMUNES) as database:
        url = database.engine.url.render_as_string(hide_password=False)
        with database.session() as s:
            s.execute(text(LOAD_SQL.replace("%(n)s", str(int(args.n * 1.45 / 0.8)))))  # ~69 % of the box is Charleroi
            create_user(s, "bench-ref@igretec.com", "referent", None, "correct horse battery")
            token = create_token(s, "bench-ref@igretec.com")
            s.commit()
            n = s.execute(text("SELECT count(*) FROM reports")).scalar_one()
        port = free_port()
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_SECRET_KEY": "bench-" + uuid.uuid4().hex,
               "GEOSIGNAL_TILE_URL": "", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        server = subprocess.Popen([sys.executable, "-c", "from geosignal.cli import main; main()", "serve",
                                   "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--job-workers", "0"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            for _ in range(300):
                try:
                    if session.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            else:
                raise SystemExit("geosignal serve did not start: " + server.stderr.read().decode()[-2000:])
            print(f"geosignal serve on {base}, {n} reports in Charleroi ({args.repeat} requests each, median)")
            t_pdf, pdf = timed_get(session, f"{base}/communes/{CHARLEROI}/fiche.pdf", args.repeat)
            t_html, _html = timed_get(session, f"{base}/communes/{CHARLEROI}/fiche", args.repeat)

            # the floor: WeasyPrint alone on the same sheet's HTML, in this process
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "ENV": "testing", "TILE_URL": ""})
            from flask import render_template
            from markupsafe import Markup

            from geosignal.services import sheet_pdf
            from geosignal.views.pages import _sheet_map_texts

            with app.test_request_context("/"):
                from datetime import datetime
                from zoneinfo import ZoneInfo

                from geosignal.db import get_session

                now = datetime.now(ZoneInfo("Europe/Brussels"))
                sheet = sheet_pdf.build_sheet(get_session(), CHARLEROI,
                                              _sheet_map_texts(now, sheet_pdf.SHOWN_STATUSES))
                html = render_template("commune_sheet_pdf.html", sheet=sheet.figures, map_svg=Markup(sheet.map.svg),
                                       generated=now, counted_labels="", filter_labels=[])
                sheet_pdf.render_pdf(html, app.static_folder)  # warm-up (fonts)
                floor = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    sheet_pdf.render_pdf(html, app.static_folder)
                    floor.append(time.perf_counter() - t)
            app.extensions["geosignal.db"].engine.dispose()
            t_floor = statistics.median(floor)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)

    print(f"GET /communes/{CHARLEROI}/fiche.pdf (user's path)   {t_pdf:6.3f} s  {len(pdf) / 1024:6.0f} KiB  "
          f"(target < 2 s)")
    print(f"GET /communes/{CHARLEROI}/fiche (HTML sheet)        {t_html:6.3f} s")
    print(f"WeasyPrint alone, same HTML, in process              {t_floor:6.3f} s")
    print(f"ratio PDF / HTML sheet = {t_pdf / t_html:.2f}; PDF / WeasyPrint alone = {t_pdf / t_floor:.2f}")
    if args.save:
        Path(args.save).write_bytes(pdf)
    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
            words = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, text=True, check=True).stdout
        pages = [line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")]
        ok = pages == ["1"] and "(A4)" in info and "Charleroi" in words
        print(f"check: one A4 page naming Charleroi: {'yes' if ok else 'NO'}")
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
