"""Load and fault runs against ``geosignal serve`` (gunicorn) with a real PostGIS, loopback only.

Three runs, each on its own scratch database with the 30 communes, each printing its figures:

  load     ``clients`` threads POST ``n`` small zones in Charleroi (each with its own
           ``Idempotency-Key``) with a representative's bearer token; then exactly ``n`` rows
           must be stored and the stored per-commune figures (``aggregation.commune_table``)
           must equal a full recomputation (``aggregation.compute_live``: counts exact, areas
           within 1e-6 relative). Prints throughput, p50/p99 and errors.
  restart  the same intake on a database of the *faults* cluster (PostgreSQL 15, port 5499),
           which is stopped once ~30 % of the reports are acknowledged and started again
           ``--outage`` seconds later. Clients retry a 503 (after ``Retry-After``) or a broken
           connection with the same ``Idempotency-Key``. Checks: every id acknowledged (201,
           or 200 on an idempotent replay) is in the database, exactly ``n`` rows, no 500, every
           503 carries ``Retry-After``; measures how long after the database is back the
           service answers again (``/readyz`` 200 and the first stored report).
  kill     the same intake (main cluster) while a gunicorn web worker is killed with SIGKILL
           at ~30 % and ~60 % of the run: nothing acknowledged is lost, exactly ``n`` rows.

The faults cluster is created when missing (``pg_createcluster 15 faults --port 5499``, role
``geosignal`` with CREATEDB, as the ``postgres`` user; needs root) and only that cluster is
ever stopped or started; the cluster on 5432 is never touched. Remove it afterwards, if
wanted, with ``pg_dropcluster 15 faults --stop``.

    python bench/faults.py                  # 2,000 reports (load), 600 per fault run, 50 clients
    python bench/faults.py --full           # 10,000 reports (load)
    python bench/faults.py --only restart   # one run (load, restart, kill; comma separated)
    python bench/faults.py --quick          # 300 reports (load), 300 per fault run, 20 clients

Targets: exact row counts, stored == recomputed, 0 × 500, every 201 stored, back ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_intake import free_port, squares  # noqa: E402

COMMUNES = ROOT.parent / "shared" / "data" / "communes_charleroi_metropole.geojson"
FAULTS_CLUSTER = ("15", "faults")
FAULTS_PORT = 5499
ROLE, PASSWORD = "geosignal", "geosignal"


# --- the faults cluster ------------------------------------------------------------------------

def _psql(sql: str, database: str = "postgres") -> str:
    """Run ``sql`` as the ``postgres`` user on the faults cluster; return its output."""
    return subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-p", str(FAULTS_PORT), "-d", database,
                           "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def cluster_online() -> bool:
    """Whether the faults cluster is running (``pg_lsclusters``)."""
    out = subprocess.run(["pg_lsclusters", "-h"], check=True, capture_output=True, text=True).stdout
    return any(line.split()[:2] == list(FAULTS_CLUSTER) and line.split()[3] == "online"
               for line in out.splitlines())


def ensure_faults_cluster() -> None:
    """Create (when missing) and start the faults cluster; give it the ``geosignal`` role."""
    out = subprocess.run(["pg_lsclusters", "-h"], check=True, capture_output=True, text=True).stdout
    if not any(line.split()[:2] == list(FAULTS_CLUSTER) for line in out.splitlines()):
        subprocess.run(["pg_createcluster", *FAULTS_CLUSTER, "--port", str(FAULTS_PORT), "--start"],
                       check=True, capture_output=True)
    if not cluster_online():
        subprocess.run(["pg_ctlcluster", *FAULTS_CLUSTER, "start"], check=True)
    if not _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'"):
        _psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
    _psql(f"ALTER ROLE {ROLE} SET jit = off")


def faults_database(name: str) -> str:
    """Create database ``name`` with PostGIS on the faults cluster (owned by ``geosignal``);
    return its SQLAlchemy URL."""
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{name}" OWNER {ROLE}')
    _psql("CREATE EXTENSION IF NOT EXISTS postgis", database=name)
    return f"postgresql+psycopg://{ROLE}:{PASSWORD}@127.0.0.1:{FAULTS_PORT}/{name}"


def pg_ctl(action: str) -> None:
    """``pg_ctlcluster 15 faults <action>`` (fast shutdown for stop)."""
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run(["pg_ctlcluster", *FAULTS_CLUSTER, action, *extra], check=True)


# --- the service -------------------------------------------------------------------------------

def prepare(url: str) -> str:
    """Migrate ``url``, load the communes, create a representative of Charleroi; return a token."""
    from geosignal import migrate
    from geosignal.db import Database
    from geosignal.services.communes import load_communes
    from geosignal.services.users import create_token, create_user

    migrate.upgrade(url)
    database = Database(url)
    with database.session() as s:
        load_communes(s, COMMUNES)
        create_user(s, "bench@charleroi.be", "representative", "52011", "correct horse battery staple")
        token = create_token(s, "bench@charleroi.be")
        s.commit()
    database.engine.dispose()
    return token


class Service:
    """``geosignal serve`` (the real CLI: gunicorn master, web workers, job worker) on a free port."""

    def __init__(self, url: str, token: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GEOSIGNAL_DATABASE_URL": url, "GEOSIGNAL_SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
               "GEOSIGNAL_TILE_URL": "", "GEOSIGNAL_WRITE_RATE_LIMIT": "1000000 per minute",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        command = [sys.executable, "-c", "from geosignal.cli import main; main()", "serve",
                   "--port", str(self.port), "--workers", str(workers)]
        self.log = open(f"/tmp/geosignal-faults-{os.getpid()}-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        import requests

        for _ in range(300):
            try:
                if requests.get(f"{self.base}/api/v1/communes", headers={"Authorization": f"Bearer {token}"},
                                timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit(f"geosignal serve did not start; see {self.log.name}")

    def web_workers(self) -> list[int]:
        """PIDs of gunicorn's web workers (children of the master that are not job workers)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid and b"run-jobs" not in cmdline:
                pids.append(int(entry.name))
        return sorted(pids)

    def stop(self) -> None:
        """Stop the master (and with it every worker); wait for it."""
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


# --- the clients -------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What the clients saw: per-attempt status codes and times, acknowledged ids per report."""

    statuses: Counter = field(default_factory=Counter)
    attempts: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, status; 0 = no answer)
    acknowledged: dict[int, str] = field(default_factory=dict)  # report index → stored id
    latencies: list[float] = field(default_factory=list)  # per report, first try to acknowledgement
    missing_retry_after: int = 0
    gave_up: list[int] = field(default_factory=list)
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, retry_after: str | None) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.attempts.append((time.monotonic(), status))
            if status == 503 and not retry_after:
                self.missing_retry_after += 1


def feature(ring: list[list[float]], i: int) -> dict:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"network": "mobile", "technologies": ["4G"], "operators": ["Orange"],
                           "issue": "no_coverage", "setting": "outdoor", "description": f"faults {i}"}}


def submit(base: str, token: str, n: int, clients: int, outcome: Outcome, deadline_s: float = 600.0) -> None:
    """POST ``n`` zones from ``clients`` threads; retry a 503 (after ``Retry-After``) or a broken
    connection with the same ``Idempotency-Key`` until acknowledged or ``deadline_s``."""
    import requests

    rings = squares(n, seed=11)
    keys = [str(uuid.uuid4()) for _ in range(n)]
    counter = iter(range(n))
    take = threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while True:
            with take:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            body = feature(rings[i], i)
            while True:
                try:
                    r = session.post(f"{base}/api/v1/reports", json=body, timeout=60,
                                     headers={"Idempotency-Key": keys[i]})
                    status, retry_after = r.status_code, r.headers.get("Retry-After")
                except requests.RequestException:
                    status, retry_after = 0, None
                    session = requests.Session()
                    session.headers["Authorization"] = f"Bearer {token}"
                outcome.record(status, retry_after)
                if status in (200, 201):
                    with outcome.lock:
                        outcome.acknowledged[i] = r.json()["id"]
                        outcome.latencies.append(time.perf_counter() - started)
                    break
                if time.monotonic() > stop_at or status not in (0, 502, 503, 504):
                    with outcome.lock:
                        outcome.gave_up.append(i)
                    break
                time.sleep(float(retry_after) if retry_after else 0.2)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome.wall = time.perf_counter() - t0


def summary(label: str, n: int, o: Outcome) -> None:
    lat = sorted(o.latencies) or [0.0]
    codes = ", ".join(f"{s or 'no answer'}: {c:,}" for s, c in sorted(o.statuses.items()))
    print(f"  {label}: {len(o.acknowledged):,}/{n:,} acknowledged in {o.wall:.1f} s = "
          f"{len(o.acknowledged) / o.wall:.1f} reports/s; p50 {1000 * lat[len(lat) // 2]:.0f} ms, "
          f"p99 {1000 * lat[int(len(lat) * 0.99)]:.0f} ms (first try to acknowledgement)")
    print(f"  status codes over {sum(o.statuses.values()):,} attempts: {codes}; "
          f"500s: {sum(c for s, c in o.statuses.items() if s >= 500 and s != 503)}; "
          f"503 without Retry-After: {o.missing_retry_after}; gave up: {len(o.gave_up)}")


def check_stored(url: str, n: int, o: Outcome, *, figures: bool) -> bool:
    """Check exactly ``n`` rows, every acknowledged id stored and (``figures``) stored figures ==
    recomputation; print the result; return whether all hold."""
    from sqlalchemy import text

    from geosignal.db import Database
    from geosignal.services import aggregation

    database = Database(url)
    with database.session() as s:
        count = s.execute(text("SELECT count(*) FROM reports")).scalar_one()
        ids = list(o.acknowledged.values())
        found = s.execute(text("SELECT count(*) FROM reports WHERE id = ANY(CAST(:ids AS uuid[]))"),
                          {"ids": ids}).scalar_one()
        duplicates = s.execute(text("SELECT count(*) - count(DISTINCT description) FROM reports")).scalar_one()
        bad: list[str] = []
        if figures:
            stored = {r["nis_code"]: r for r in aggregation.commune_table(s)["communes"]}
            live = aggregation.compute_live(s)
            bad = [nis for nis, row in live.items()
                   if any(stored[nis][k] != row[k] for k in ("report_count", "zone_count", "breakdown"))
                   or abs(stored[nis]["white_zone_area_km2"] - row["white_zone_area_km2"])
                   > 1e-6 * max(row["white_zone_area_km2"], 1e-12)]
            print(f"  stored figures vs recomputation: {'agree' if not bad else 'DISAGREE for ' + ', '.join(bad)}"
                  f" (Charleroi {stored['52011']['report_count']:,} reports, "
                  f"{stored['52011']['white_zone_area_km2']:.6f} km² stored, "
                  f"{live['52011']['white_zone_area_km2']:.6f} km² recomputed)")
    database.engine.dispose()
    ok = count == n and found == len(ids) and duplicates == 0 and not bad
    print(f"  rows {count:,} (expected {n:,}); acknowledged ids stored {found:,}/{len(ids):,}; "
          f"duplicates {duplicates}; {'OK' if ok else 'FAILED'}")
    return ok


# --- the runs ----------------------------------------------------------------------------------

def run_load(n: int, clients: int, workers: int) -> bool:
    from geosignal.devdb import create_database, drop_database

    name = f"geosignal_bench_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    service = None
    try:
        token = prepare(url)
        service = Service(url, token, workers)
        print(f"load: geosignal serve ({workers} web workers) on {service.base}; {n:,} reports, {clients} clients")
        o = Outcome()
        submit(service.base, token, n, clients, o)
        summary("load", n, o)
        ok = check_stored(url, n, o, figures=True)
        ok = ok and not o.gave_up and all(s in (200, 201) for s in o.statuses)
    finally:
        if service is not None:
            service.stop()
        drop_database(name)
    return ok


def run_restart(n: int, clients: int, workers: int, outage_s: float) -> bool:
    import requests

    ensure_faults_cluster()
    name = f"geosignal_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = faults_database(name)
    service = None
    try:
        token = prepare(url)
        service = Service(url, token, workers)
        print(f"restart: geosignal serve ({workers} web workers) on {service.base}, database on the faults "
              f"cluster (port {FAULTS_PORT}); {n:,} reports, {clients} clients; outage {outage_s:.0f} s")
        o = Outcome()
        clients_thread = threading.Thread(target=submit, args=(service.base, token, n, clients, o))
        clients_thread.start()
        while len(o.acknowledged) < 0.3 * n and clients_thread.is_alive():
            time.sleep(0.05)
        t_stop = time.monotonic()
        pg_ctl("stop")
        t_down = time.monotonic()
        time.sleep(outage_s)
        pg_ctl("start")
        t_up = time.monotonic()

        # probes, sent without waiting for Retry-After: when does the service answer again?
        back_ready = back_write = None
        probe = requests.Session()
        probe.headers["Authorization"] = f"Bearer {token}"
        probe_key = str(uuid.uuid4())
        probe_body = feature(squares(1, seed=99)[0], -1)
        probe_statuses: Counter = Counter()
        while (back_ready is None or back_write is None) and time.monotonic() - t_up < 30:
            try:
                if back_ready is None:
                    status = probe.get(f"{service.base}/readyz", timeout=10).status_code
                    probe_statuses[status] += 1
                    if status == 200:
                        back_ready = time.monotonic() - t_up
                if back_write is None:
                    r = probe.post(f"{service.base}/api/v1/reports", json=probe_body, timeout=10,
                                   headers={"Idempotency-Key": probe_key})
                    probe_statuses[r.status_code] += 1
                    if r.status_code in (200, 201):
                        back_write = time.monotonic() - t_up
                        probe_id = r.json()["id"]
            except requests.RequestException:
                probe_statuses[0] += 1
            time.sleep(0.05)
        clients_thread.join()
        print(f"  database stopped at {t_stop - o.attempts[0][0]:.1f} s into the run (stop took {t_down - t_stop:.1f} s),"
              f" started again {t_up - t_down:.1f} s later "
              f"(outage {outage_s:.0f} s + pg_ctlcluster start)")
        during = Counter(s for t, s in o.attempts if t_stop <= t <= t_up)
        print("  client attempts answered while the database was down: "
              + ", ".join(f"{s or 'no answer'}: {c}" for s, c in sorted(during.items())))
        print(f"  service back after the database: /readyz 200 in "
              f"{f'{back_ready:.2f} s' if back_ready is not None else 'never'}, first report stored in "
              f"{f'{back_write:.2f} s' if back_write is not None else 'never'} (target ≤ 5 s); probe codes "
              + ", ".join(f"{s}: {c}" for s, c in sorted(probe_statuses.items())))
        summary("restart", n, o)
        if back_write is not None:
            o.acknowledged[-1] = probe_id
        ok = check_stored(url, n + (back_write is not None), o, figures=True)
        five_hundreds = sum(c for s, c in o.statuses.items() if s >= 500 and s != 503)
        five_hundreds += sum(c for s, c in probe_statuses.items() if s >= 500 and s != 503)
        ok = (ok and five_hundreds == 0 and o.missing_retry_after == 0 and not o.gave_up
              and back_write is not None and back_write <= 5 and back_ready is not None and back_ready <= 5)
        print(f"  restart run {'OK' if ok else 'FAILED'}")
    finally:
        if service is not None:
            service.stop()
        if not cluster_online():
            pg_ctl("start")
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return ok


def run_kill(n: int, clients: int, workers: int) -> bool:
    from geosignal.devdb import create_database, drop_database

    name = f"geosignal_bench_kill_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(name)
    service = None
    try:
        token = prepare(url)
        service = Service(url, token, workers)
        print(f"kill: geosignal serve ({workers} web workers) on {service.base}; {n:,} reports, {clients} clients; "
              "SIGKILL to a web worker at 30 % and 60 %")
        o = Outcome()
        clients_thread = threading.Thread(target=submit, args=(service.base, token, n, clients, o))
        clients_thread.start()
        killed = []
        for share in (0.3, 0.6):
            while len(o.acknowledged) < share * n and clients_thread.is_alive():
                time.sleep(0.02)
            pids = service.web_workers()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
        clients_thread.join()
        print(f"  killed web workers {killed}; workers now {service.web_workers()}")
        summary("kill", n, o)
        ok = check_stored(url, n, o, figures=True)
        ok = ok and len(killed) == 2 and not o.gave_up
        print(f"  kill run {'OK' if ok else 'FAILED'}")
    finally:
        if service is not None:
            service.stop()
        drop_database(name)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="reports in the load run")
    parser.add_argument("--fault-n", type=int, default=600, help="reports in each fault run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn web workers (geosignal serve --workers)")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the database stays down")
    parser.add_argument("--only", default="load,restart,kill", help="runs, comma separated")
    parser.add_argument("--full", action="store_true", help="10,000 reports in the load run")
    parser.add_argument("--quick", action="store_true", help="300 reports per run, 20 clients")
    args = parser.parse_args()
    if args.full:
        args.n = 10000
    if args.quick:
        args.n, args.fault_n, args.clients = 300, 300, 20
    results = {}
    for run in args.only.split(","):
        if run == "load":
            results[run] = run_load(args.n, args.clients, args.workers)
        elif run == "restart":
            results[run] = run_restart(args.fault_n, args.clients, args.workers, args.outage)
        elif run == "kill":
            results[run] = run_kill(args.fault_n, args.clients, args.workers)
        else:
            raise SystemExit(f"unknown run {run!r}: load, restart, kill")
    print("summary: " + ", ".join(f"{k} {'OK' if v else 'FAILED'}" for k, v in results.items()))
    if not all(results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
