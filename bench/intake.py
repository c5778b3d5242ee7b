"""Benchmark: bulk imports through the user's path vs ``ogr2ogr -f PostgreSQL`` loading the same file raw.

Files (generated, seed 1, inside Charleroi Métropole's 30 communes):

* CSV points as Belgian Excel writes them: UTF-8 with BOM, ``;``, decimal commas, CRLF,
  ``latitude;longitude;operateur;description;date`` (day-first dates, accents, a quoted ``;``);
* a GeoJSON FeatureCollection of small polygons (60–300 m, 5–9 vertices, some across
  commune borders) with network, operators and description;
* a GeoJSON FeatureCollection of road stretches (``--lines``): two thirds random walks of 3–9
  legs of 40–250 m, some across commune borders, one third runs of 3–12 consecutive vertices
  of a border two communes share (the stretches whose pieces are cut by the smaller NIS
  code's rule).

Per file, in a fresh database cloned from the template (30 communes loaded, an admin user):

* **anchor**: ``ogr2ogr -f PostgreSQL`` loading the file raw into a table of the same database
  (median of 3 runs);
* **import**: ``geosignal import-reports FILE --as admin --network mobile`` (the CLI: every
  feature validated, assigned to its commune, checked for duplicates, stored, the stored
  per-commune figures brought up to date), then checked: reports stored == rows, figures ==
  count; for road stretches also the stored length of the white-zone lines, summed over the
  communes, against hand-written PostGIS (the union of the stretches on the 1 cm grid, clipped
  to the communes' union, in EPSG:31370), within 0.01 %;
* **preview**: ``POST /api/v1/imports`` with ``dry_run=true`` to ``geosignal serve`` (gunicorn,
  one web worker, warmed up on a small file) by a second admin, for whom the file is new (not
  the one who has just imported it), accepting gzip as browsers do, timed from the
  client until the whole per-feature report is read and decoded (its size and the bytes on
  the wire printed), four times: the first (a fresh worker's first large upload) is printed, the
  median of the other three is compared with the anchor; only for files within the upload
  limit (10 MB).

Wall time and peak RSS of each child process (``ru_maxrss``; the web worker's ``VmHWM``) are
printed with the ratios import / ogr2ogr and preview / ogr2ogr. Targets: import ≤ 2.0×,
preview ≤ 1.0×, peak RSS ≤ 300 MB. ``--largest`` also posts the largest allowed upload
(a CSV just under 10 MB, ~160,000 rows) as a preview and as a save (a job: 202, polled until
``done``) and prints the status codes: no 5xx.

Usage: ``python bench/intake.py`` (small: 5,000 points, 1,000 polygons, 1,000 road stretches;
< 3 min) · ``--sizes 50000,200000 --polygons 10000 --lines 10000 [--largest]`` for the full run. Needs PostGIS
(template ``geosignal_template``) and Debian's ``gdal-bin`` (``ogr2ogr``): ``apt-get install
-y gdal-bin``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geosignal.devdb import create_database, drop_database  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson"
ADMIN = "bench@igretec.com"
PREVIEWER = "bench-preview@igretec.com"
#: The limits the CLI imports run with, above an upload's (the 200,000-point file is 13 MB); the
#: previews' server keeps the real ones.
_CLI_LIMITS = {"GEOSIGNAL_MAX_UPLOAD_BYTES": str(64 * 1024 * 1024), "GEOSIGNAL_MAX_UPLOAD_FEATURES": str(10_000_000),
               "GEOSIGNAL_MAX_UPLOAD_VERTICES": str(100_000_000)}
OPERATORS = ["Proximus", "Orange", "Base", "Proximus, Orange", ""]
DESCRIPTIONS = ["Pas de 4G rue de l'Église", "Aucun réseau près de la gare", '"Zone blanche; chemin agricole"',
                "Débit très faible le soir", ""]


# --------------------------------------------------------------------------- data

def _territory():  # noqa: ANN202
    """The union of the communes in EPSG:31370, 5 m inside its border (a point closer to a
    border may fall on either side of it depending on the CRS its edges are drawn in)."""
    import shapely
    from shapely.geometry import shape

    from geosignal.geo import LAMBERT72, WGS84, reproject

    doc = json.loads(COMMUNES.read_text(encoding="utf-8"))
    union = reproject(shapely.union_all([shape(f["geometry"]) for f in doc["features"]]), WGS84, LAMBERT72)
    inner = union.buffer(-5)
    shapely.prepare(inner)
    return inner


def _points_inside(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random points inside the territory, EPSG:4326."""
    import shapely

    from geosignal.geo import LAMBERT72, WGS84, transform_xy

    inner = _territory()
    x0, y0, x1, y1 = inner.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        xy = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
        out = np.vstack([out, xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]])
    return transform_xy(out[:n], LAMBERT72, WGS84)


def write_csv(path: Path, n: int) -> None:
    """``n`` points as a Belgian Excel CSV."""
    xy = _points_inside(n, np.random.default_rng(1))
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write("latitude;longitude;operateur;description;date\r\n")
        for i, (x, y) in enumerate(xy):
            f.write(f"{y:.6f};{x:.6f};".replace(".", ",") + f"{OPERATORS[i % 5]};{DESCRIPTIONS[i % 5]};"
                    f"{1 + i % 28:02d}/{1 + i % 12:02d}/2025\r\n")


def write_polygons(path: Path, n: int) -> None:
    """``n`` small polygons (EPSG:4326) as a GeoJSON FeatureCollection."""
    import shapely

    from geosignal.geo import LAMBERT72, WGS84, transform_xy

    rng = np.random.default_rng(2)
    centres = transform_xy(_points_inside(n, rng), WGS84, LAMBERT72)
    inner = _territory()
    features = []
    for i, (cx, cy) in enumerate(centres):
        k = int(rng.integers(5, 10))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(60, 300, k)
        ring = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
        ll = transform_xy(ring, LAMBERT72, WGS84)
        if not shapely.Polygon(ring).is_valid or not inner.contains(shapely.Polygon(ring)):
            continue
        coords = [[round(float(a), 7), round(float(b), 7)] for a, b in ll] + [[round(float(ll[0][0]), 7),
                                                                              round(float(ll[0][1]), 7)]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]},
                         "properties": {"network": "mobile", "operators": ["Proximus"] if i % 2 else ["Orange"],
                                        "description": f"zone {i} sans réseau"}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")


def _shared_borders() -> list[np.ndarray]:
    """The borders two communes share, as arrays of EPSG:31370 vertices (one per merged run
    of the two boundaries' intersection, computed by shapely), runs of 13 vertices or more."""
    import shapely
    from shapely.geometry import shape

    from geosignal.geo import LAMBERT72, WGS84, reproject

    doc = json.loads(COMMUNES.read_text(encoding="utf-8"))
    shapes = [reproject(shape(f["geometry"]), WGS84, LAMBERT72) for f in doc["features"]]
    tree = shapely.STRtree(shapes)
    runs = []
    for a, b in zip(*tree.query(shapes, predicate="intersects"), strict=True):
        if a < b:
            shared = shapely.line_merge(shapely.intersection(shapes[a].boundary, shapes[b].boundary))
            runs += [np.asarray(part.coords) for part in getattr(shared, "geoms", [shared])
                     if part.geom_type == "LineString" and len(part.coords) >= 13]
    return runs


def write_lines(path: Path, n: int) -> None:
    """``n`` road stretches (EPSG:4326) as a GeoJSON FeatureCollection: two thirds random
    walks inside the territory, one third runs of consecutive vertices of a shared border."""
    import shapely

    from geosignal.geo import LAMBERT72, WGS84, transform_xy

    rng = np.random.default_rng(3)
    starts = transform_xy(_points_inside(n, rng), WGS84, LAMBERT72)
    inner = _territory()
    borders = _shared_borders()
    features = []
    for i, start in enumerate(starts):
        if i % 3 == 2:
            run = borders[int(rng.integers(len(borders)))]
            k = int(rng.integers(3, 13))
            first = int(rng.integers(0, len(run) - k))
            xy = run[first:first + k]
        else:
            k = int(rng.integers(3, 10))
            heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.5, k))
            legs = rng.uniform(40, 250, k)
            xy = np.vstack([start, start + np.cumsum(np.column_stack([legs * np.cos(heading),
                                                                       legs * np.sin(heading)]), axis=0)])
            line = shapely.LineString(xy)
            if not line.is_simple or not inner.contains(line):
                continue
        ll = transform_xy(xy, LAMBERT72, WGS84)
        features.append({"type": "Feature",
                         "geometry": {"type": "LineString",
                                      "coordinates": [[round(float(a), 7), round(float(b), 7)] for a, b in ll]},
                         "properties": {"network": "mobile", "operators": ["Base"] if i % 2 else ["Proximus"],
                                        "description": f"route {i} sans réseau"}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")


# --------------------------------------------------------------------------- processes

_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``argv`` from a small launcher; return (wall s, peak RSS MB of that process, stdout+stderr)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    try:
        code, maxrss_kb = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        code, maxrss_kb = 1, 0
    if code != 0 or done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return wall, maxrss_kb / 1024, done.stdout + done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``geosignal serve`` with one web worker (and ``job_workers`` job workers) on a free port."""

    def __init__(self, env: dict[str, str], job_workers: int = 0) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "geosignal.cli", "serve", "--port", str(self.port), "--workers", "1",
             "--job-workers", str(job_workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def __enter__(self) -> Server:
        import requests

        for _ in range(150):
            try:
                requests.get(self.base + "/login", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise SystemExit("geosignal serve did not start")

    def web_worker_hwm_mb(self) -> float:
        """Peak RSS (VmHWM) of the web worker(s): gunicorn's children running the app."""
        pids = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        peak = 0.0
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"run-jobs" in cmdline:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        return peak

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- measures

def _sql(url: str, statement: str) -> object:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as c:
        result = c.execute(text(statement))
        value = result.scalar() if result.returns_rows else None
    engine.dispose()
    return value


def prepare(url: str) -> str:
    """Migrate, load the communes, create the admin who imports with the CLI and another who
    previews; return the previewer's API token. (A preview by the importer within
    ``DUPLICATE_WINDOW_S`` of the import found every row a probable duplicate of a report it
    had just filed: the first preview's time then depended on how fast the import was.)"""
    from geosignal import migrate
    from geosignal.db import Database
    from geosignal.services.communes import load_communes
    from geosignal.services.users import create_token, create_user

    migrate.upgrade(url)
    database = Database(url)
    with database.session() as session:
        load_communes(session, COMMUNES)
        create_user(session, ADMIN, "admin", None, "bench-password-1")
        create_user(session, PREVIEWER, "admin", None, "bench-password-2")
        token = create_token(session, PREVIEWER)
        session.commit()
    database.engine.dispose()
    _sql(url, "ALTER DATABASE " + url.rsplit("/", 1)[1] + " SET jit = off")
    return token


def ogr2ogr(url: str, path: Path, table: str) -> tuple[float, float]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    pg = f"PG:dbname={u.database} host={u.host} port={u.port or 5432} user={u.username} password={u.password}"
    argv = ["ogr2ogr", "-f", "PostgreSQL", pg, str(path), "-nln", table, "-overwrite", "-lco", "GEOMETRY_NAME=geom",
            "-a_srs", "EPSG:4326"]
    if path.suffix == ".csv":
        argv += ["-oo", "SEPARATOR=SEMICOLON", "-oo", "X_POSSIBLE_NAMES=longitude", "-oo", "Y_POSSIBLE_NAMES=latitude"]
    wall, rss, _ = run_child(argv)
    return wall, rss


def preview(server: Server, token: str, path: Path) -> tuple[float, int, int, int, int]:
    """POST the file as a preview, accepting gzip as a browser does; return (seconds until the
    whole report is received and decoded, status, accepted, bytes on the wire, bytes of the
    report)."""
    import gzip

    import requests

    data = path.read_bytes()
    started = time.perf_counter()
    response = requests.post(server.base + "/api/v1/imports",
                             headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
                             files={"file": (path.name, data)}, data={"network": "mobile", "dry_run": "true"},
                             timeout=600, stream=True)
    wire = response.raw.read(decode_content=False)  # the whole report received
    content = gzip.decompress(wire) if response.headers.get("Content-Encoding") == "gzip" else wire
    seconds = time.perf_counter() - started
    return seconds, response.status_code, json.loads(content).get("accepted", -1), len(wire), len(content)


def measure(path: Path, rows: int, url: str, token: str, env: dict[str, str], limit: int) -> dict[str, float]:
    """One file: ogr2ogr, the CLI import, then (within the upload limit) the HTTP preview."""
    _sql(url, "TRUNCATE reports CASCADE")
    anchor = [ogr2ogr(url, path, "raw_" + path.stem) for _ in range(3)]  # (s, MB): the median time is the anchor
    ogr_s, ogr_mb = statistics.median(a[0] for a in anchor), max(a[1] for a in anchor)
    raw = _sql(url, f"SELECT count(*) FROM raw_{path.stem}")
    _sql(url, f"DROP TABLE raw_{path.stem}")
    cli_s, cli_mb, out = run_child([sys.executable, "-m", "geosignal.cli", "import-reports", str(path), "--as", ADMIN,
                                    "--network", "mobile"], env)
    stored = _sql(url, "SELECT count(*) FROM reports")
    counted = _sql(url, "SELECT sum(n) FROM commune_counts WHERE dim = 'reports'")
    if stored != rows or counted != rows or raw != rows:
        raise SystemExit(f"{path.name}: {rows} rows, ogr2ogr loaded {raw}, stored {stored}, figures count {counted}: "
                         f"{out[-800:]}")
    result = {"rows": rows, "bytes": path.stat().st_size, "ogr_s": ogr_s, "ogr_mb": ogr_mb, "cli_s": cli_s,
              "cli_mb": cli_mb}
    if path.stem.startswith("lines"):
        stored_m, sql_m = _line_lengths(url)
        if abs(stored_m - sql_m) > 1e-4 * sql_m:
            raise SystemExit(f"{path.name}: stored white-zone lines {stored_m:.3f} m, hand-written SQL {sql_m:.3f} m")
        result.update(stored_m=stored_m, sql_m=sql_m)
    if path.stat().st_size <= limit:
        with Server(env) as server:
            warm = path.with_name("warm" + path.suffix)
            warm.write_bytes(path.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n") if path.suffix == ".csv" else \
                warm.write_text(json.dumps({"type": "FeatureCollection", "features": json.loads(
                    path.read_text(encoding="utf-8"))["features"][:5]}), encoding="utf-8")
            preview(server, token, warm)
            times = []
            for _ in range(4):  # the first in a fresh worker, then three more: their median
                seconds, status, accepted, wire, report = preview(server, token, path)
                if status != 200 or accepted != rows:
                    raise SystemExit(f"preview of {path.name}: HTTP {status}, {accepted} accepted of {rows}")
                times.append(seconds)
            result.update(preview_first_s=times[0], preview_s=statistics.median(times[1:]),
                          preview_mb=server.web_worker_hwm_mb(), preview_wire_mb=wire / 1e6,
                          preview_report_mb=report / 1e6)
    return result


def _line_lengths(url: str) -> tuple[float, float]:
    """(the stored white-zone line length summed over the communes, the same by hand-written
    PostGIS: the union of every counted road stretch on the 1 cm grid of EPSG:31370, clipped to
    the union of the communes), metres."""
    from geosignal.services.aggregation.filters import COUNTED_STATUSES, LINE_GRID_M

    counted = ", ".join(f"'{s}'" for s in COUNTED_STATUSES)
    stored = _sql(url, "SELECT sum(line_m) FROM commune_cells")
    by_hand = _sql(url, f"""
        SELECT ST_Length(ST_Intersection(
                 (SELECT ST_Union(ST_ReducePrecision(ST_Transform(geometry, 31370), {LINE_GRID_M}), {LINE_GRID_M})
                    FROM reports WHERE ST_Dimension(geometry) = 1 AND status IN ({counted})),
                 (SELECT ST_Union(ST_Transform(boundary, 31370)) FROM communes)))""")
    return float(stored or 0), float(by_hand or 0)


def largest(workdir: Path, url: str, token: str, env: dict[str, str], limit: int) -> None:
    """The largest allowed upload, previewed then saved (a job) through `geosignal serve`."""
    import requests

    path = workdir / "largest.csv"
    rows = 200
    write_csv(path, rows)
    per_row = path.stat().st_size / rows
    rows = int((limit - 200) / per_row * 0.995)
    write_csv(path, rows)
    while path.stat().st_size > limit:
        rows -= 500
        write_csv(path, rows)
    _sql(url, "TRUNCATE reports CASCADE")
    with Server({k: v for k, v in env.items() if k not in _CLI_LIMITS}, job_workers=1) as server:
        seconds, status, accepted, wire, report = preview(server, token, path)
        print(f"largest upload: {path.stat().st_size:,} bytes, {rows:,} rows — preview HTTP {status} in "
              f"{seconds:.1f} s ({accepted:,} accepted; report {report / 1e6:.1f} MB, {wire / 1e6:.1f} MB "
              f"on the wire), web worker peak RSS {server.web_worker_hwm_mb():.0f} MB")
        started = time.perf_counter()
        posted = requests.post(server.base + "/api/v1/imports", headers={"Authorization": f"Bearer {token}"},
                               files={"file": (path.name, path.read_bytes())}, data={"network": "mobile"}, timeout=600)
        job = posted.json()
        while job.get("state") in ("queued", "running"):
            time.sleep(0.5)
            job = requests.get(server.base + posted.headers["Location"], timeout=60,
                               headers={"Authorization": f"Bearer {token}"}).json()
        print(f"largest upload: save HTTP {posted.status_code} in {posted.elapsed.total_seconds():.1f} s (job), "
              f"job {job.get('state')} after "
              f"{time.perf_counter() - started:.1f} s, {job.get('saved', 0):,} saved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="5000", help="comma-separated CSV row counts (default 5000)")
    parser.add_argument("--polygons", type=int, default=1000, help="polygons in the GeoJSON file (0: none)")
    parser.add_argument("--lines", type=int, default=1000, help="road stretches in the GeoJSON file (0: none)")
    parser.add_argument("--largest", action="store_true", help="also preview and save a 10 MB upload")
    args = parser.parse_args()
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found: apt-get install -y gdal-bin")
    limit = 10 * 1024 * 1024
    name = f"geosignal_bench_intake_{os.getpid()}"
    url = create_database(name)
    results = []
    try:
        token = prepare(url)
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_SECRET_KEY": secrets.token_hex(32),
               **_CLI_LIMITS, "PYTHONPATH": str(ROOT)}
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            files = []
            for n in (int(s) for s in args.sizes.split(",") if s):
                path = workdir / f"points_{n}.csv"
                write_csv(path, n)
                files.append(("CSV points", path, n))
            if args.polygons:
                path = workdir / f"polygons_{args.polygons}.geojson"
                write_polygons(path, args.polygons)
                files.append(("GeoJSON polygons", path, len(json.loads(path.read_text(encoding="utf-8"))["features"])))
            if args.lines:
                path = workdir / f"lines_{args.lines}.geojson"
                write_lines(path, args.lines)
                files.append(("GeoJSON lines", path, len(json.loads(path.read_text(encoding="utf-8"))["features"])))
            for label, path, rows in files:
                # the preview's server has the real limit: a file above it is not previewed
                result = measure(path, rows, url, token, {**{k: v for k, v in env.items() if k not in _CLI_LIMITS},
                                                          "GEOSIGNAL_MAX_UPLOAD_BYTES": str(limit)}
                                 if path.stat().st_size <= limit else env, limit)
                result["label"] = label
                results.append(result)
                _print(result)
            if args.largest:
                largest(workdir, url, token, env, limit)
    finally:
        drop_database(name)
    print()
    print("| file | rows | MB | ogr2ogr | import-reports (CLI) | import / ogr2ogr | preview (HTTP) | "
          "preview / ogr2ogr |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        pv = (f"{r['preview_s']:.2f} s (first {r['preview_first_s']:.2f} s), worker {r['preview_mb']:.0f} MB, "
              f"report {r['preview_report_mb']:.1f} MB ({r['preview_wire_mb']:.1f} MB gzipped) | "
              f"{r['preview_s'] / r['ogr_s']:.2f}"
              if "preview_s" in r else "over the 10 MB upload limit | —")
        label = r["label"] + (f" (stored {r['stored_m'] / 1000:.3f} km = SQL {r['sql_m'] / 1000:.3f} km)"
                              if "stored_m" in r else "")
        print(f"| {label} | {r['rows']:,} | {r['bytes'] / 1e6:.1f} | {r['ogr_s']:.2f} s, {r['ogr_mb']:.0f} MB | "
              f"{r['cli_s']:.2f} s, {r['cli_mb']:.0f} MB | {r['cli_s'] / r['ogr_s']:.2f} | {pv} |")
    print("targets: import ≤ 2.0 × ogr2ogr, preview ≤ 1.0 ×, peak RSS ≤ 300 MB")


def _print(r: dict[str, float]) -> None:
    line = (f"{r['label']:17} {r['rows']:>8,} rows  ogr2ogr {r['ogr_s']:6.2f} s {r['ogr_mb']:5.0f} MB  "
            f"import {r['cli_s']:6.2f} s {r['cli_mb']:5.0f} MB  ratio {r['cli_s'] / r['ogr_s']:5.2f}")
    if "stored_m" in r:
        line += (f"  lines stored {r['stored_m'] / 1000:.3f} km, SQL {r['sql_m'] / 1000:.3f} km "
                 f"({r['stored_m'] - r['sql_m']:+.3f} m)")
    if "preview_s" in r:
        line += f"  preview {r['preview_s']:6.2f} s (first {r['preview_first_s']:.2f} s, worker " \
                f"{r['preview_mb']:.0f} MB, {r['preview_wire_mb']:.1f} MB on the wire)  " \
                f"ratio {r['preview_s'] / r['ogr_s']:5.2f}"
    print(line, flush=True)


if __name__ == "__main__":
    main()
