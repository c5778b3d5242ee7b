"""Background jobs: saved imports too large for one request, run by job workers.

The runner is procrastinate (pinned in setup.cfg): its queue lives in geosignal's own
PostgreSQL database (schema installed by migration 0006), so a job is queued in the same
transaction as the :class:`~geosignal.models.ImportJob` it runs, and workers need nothing but
the database. ``geosignal serve`` starts the web workers and the job worker(s) together;
``geosignal run-jobs`` runs a job worker alone.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import procrastinate
    from flask import Flask

#: The queue of import jobs, and the task that runs one.
QUEUE = "imports"
IMPORT_TASK = "geosignal.import_file"
#: How many times an import job is run again after a run that failed without even recording its
#: failure (the database away), or that killed its worker: then the queue gives up on it, and
#: its import ends ``failed`` (:func:`check_imports`).
IMPORT_RETRIES = 5

#: The application whose configuration and database the tasks of this process use.
_flask_app: Flask | None = None
_area_cache: dict[str, Any] = {}


def conninfo(database_url: str) -> str:
    """Return the libpq connection string of a SQLAlchemy database URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def enqueue_import(session: Session, import_id: uuid.UUID) -> int:
    """Queue the import job ``import_id`` in the caller's transaction (procrastinate's
    ``procrastinate_defer_jobs_v1``, one statement) and return the queue's job id: the job
    becomes visible to workers when the caller commits, together with its import row."""
    return session.execute(text(
        "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), "
        "NULL)::procrastinate_job_to_defer_v1]))"),
        {"queue": QUEUE, "task": IMPORT_TASK, "args": json.dumps({"import_id": str(import_id)})}).scalar_one()


def _run_import(import_id: str) -> None:
    """The task: run one import job with this process's application."""
    from geosignal.services.imports import run_import_job

    if _flask_app is None:
        raise RuntimeError("no application configured for the job worker")
    with _flask_app.app_context():
        run_import_job(_flask_app.extensions["geosignal.db"], _flask_app.config, import_id, _area_cache,
                       describe=_message_in)


def _message_in(error: Any, language: str | None) -> str:
    """What a person reads of a failed import's ``error`` (:func:`geosignal.ui_text.error_message`)
    in ``language`` (the request's that queued it; French when unknown), in an app context."""
    from flask_babel import force_locale

    from geosignal import i18n, ui_text

    with force_locale(i18n.BABEL_LOCALES[language if language in i18n.LANGUAGES else "fr"]):
        return ui_text.error_message(error)


def _send_mail() -> None:
    """The task: send the due notifications (queued with them, and retried periodically)."""
    from geosignal.services import notifications

    if _flask_app is None:
        raise RuntimeError("no application configured for the job worker")
    notifications.deliver_from_config(_flask_app.extensions["geosignal.db"], _flask_app.config)


def _send_mail_periodic(timestamp: int) -> None:
    """The task every 5 minutes: send what waits for a retry, a digest that failed too (its
    rows tried before; the day's new ones wait for the next digest)."""
    from geosignal.services import notifications

    _send_mail()
    notifications.deliver_from_config(_flask_app.extensions["geosignal.db"], _flask_app.config, digest=True,
                                      retried_only=True)


def _send_digest(timestamp: int) -> None:
    """The daily task: send each user who chose it the digest of the day's notifications."""
    from geosignal.services import notifications

    if _flask_app is None:
        raise RuntimeError("no application configured for the job worker")
    notifications.deliver_from_config(_flask_app.extensions["geosignal.db"], _flask_app.config, digest=True)


def job_app(database_url: str, flask_app: Flask | None = None) -> procrastinate.App:
    """Return a procrastinate application on ``database_url`` with geosignal's tasks: saved
    imports (and the check every minute of those a dead worker left, or the queue gave up on),
    and e-mail notifications (sent when queued, retried every 5 minutes, digest daily).
    ``flask_app``: whose database and messages the check uses (else the job worker's)."""
    import procrastinate

    from geosignal.services import notifications

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))
    # retried when the job could not even record its failure (the database away): it starts anew
    app.task(name=IMPORT_TASK, queue=QUEUE,
             retry=procrastinate.RetryStrategy(max_attempts=IMPORT_RETRIES, wait=30))(_run_import)
    app.task(name=notifications.MAIL_TASK, queue=notifications.MAIL_QUEUE)(_send_mail)
    app.periodic(cron=notifications.RETRY_CRON, periodic_id="mail-retry")(
        app.task(name=notifications.MAIL_TASK + "_periodic", queue=notifications.MAIL_QUEUE)(_send_mail_periodic))
    app.periodic(cron=notifications.DIGEST_CRON, periodic_id="mail-digest")(
        app.task(name=notifications.DIGEST_TASK, queue=notifications.MAIL_QUEUE)(_send_digest))

    async def requeue_stalled_periodic(timestamp: int) -> int:
        return await check_imports(app, flask_app)

    app.periodic(cron=STALLED_CRON, periodic_id="imports-stalled")(
        app.task(name=STALLED_TASK, queue=notifications.MAIL_QUEUE, queueing_lock=STALLED_TASK)(
            requeue_stalled_periodic))
    return app


#: Every minute a worker looks for import jobs a dead worker left ``doing`` (its heartbeat
#: older than procrastinate's 30 s, or its row pruned): checked only when a worker started, a
#: worker killed and restarted at once (``geosignal serve``'s watchdog: 1 s; a deploy) found
#: the dead one's heartbeat still fresh, and the job said ``running`` for ever. The same check
#: ends the imports the queue gave up on (:func:`check_imports`).
STALLED_CRON = "* * * * *"
STALLED_TASK = "geosignal.requeue_stalled_imports"


async def retry_stalled(app: procrastinate.App) -> int:
    """Put back in the queue the import jobs a worker left half done (killed: its heartbeat
    stopped); their transaction was rolled back, so they run again from the start. A job
    already run :data:`IMPORT_RETRIES` times again is given up instead (its queue entry
    ``failed``; its import then ended ``failed`` by :func:`check_imports`): one whose every
    run kills its worker (the OOM killer, a GDAL crash on its
    file) was handed out every minute for ever. Returns how many were queued again. ``app``
    is open."""
    from procrastinate.jobs import Status

    requeued = 0
    for job in await app.job_manager.get_stalled_jobs(queue=QUEUE):
        if job.attempts >= IMPORT_RETRIES:  # as procrastinate's RetryStrategy counts (attempts before this one)
            await app.job_manager.finish_job(job, Status.FAILED, delete_job=False)
        else:
            await app.job_manager.retry_job(job)
            requeued += 1
    return requeued


def _fail_lost_imports(flask_app: Flask | None = None) -> int:
    """End ``failed`` the imports still queued or running whose queue entry is over or gone
    (:func:`geosignal.services.imports.fail_lost_imports`), in ``flask_app``'s database (else
    the job worker's); how many."""
    from geosignal.services.imports import fail_lost_imports as fail

    flask_app = flask_app or _flask_app
    if flask_app is None:
        raise RuntimeError("no application configured for the job worker")
    with flask_app.app_context():
        with flask_app.extensions["geosignal.db"].session() as session:
            failed = fail(session, describe=_message_in)
            session.commit()
    return failed


async def check_imports(app: procrastinate.App, flask_app: Flask | None = None) -> int:
    """:func:`retry_stalled`, then end ``failed`` the imports still queued or running whose
    queue entry is over or gone (:func:`geosignal.services.imports.fail_lost_imports`); returns
    how many jobs were queued again. ``app`` is open; ``flask_app``: whose database and messages
    (else the job worker's)."""
    import asyncio

    requeued = await retry_stalled(app)
    await asyncio.to_thread(_fail_lost_imports, flask_app)
    return requeued


async def _requeue_stalled(app: procrastinate.App, flask_app: Flask) -> None:
    """:func:`check_imports` when a worker starts (it opens ``app``)."""
    async with app.open_async():
        await check_imports(app, flask_app)


def run_worker(flask_app: Flask, *, wait: bool = True, concurrency: int = 1,
               install_signal_handlers: bool = True) -> None:
    """Run a job worker for ``flask_app``'s database: with ``wait`` until stopped (SIGINT,
    SIGTERM), else until the queue is empty (tests, one-off runs). Jobs left half done by a
    killed worker are queued again first (:func:`check_imports`). Import jobs are CPU-bound
    and each holds one transaction: ``concurrency`` is the number run at once."""
    import asyncio

    global _flask_app
    _flask_app = flask_app
    app = job_app(flask_app.config["DATABASE_URL"], flask_app)
    asyncio.run(_requeue_stalled(app, flask_app))
    from geosignal.services.notifications import MAIL_QUEUE

    app.run_worker(queues=[QUEUE, MAIL_QUEUE], wait=wait, concurrency=concurrency, delete_jobs="successful",
                   install_signal_handlers=install_signal_handlers, name="geosignal-jobs")


class JobWorkers:
    """The job worker processes of ``geosignal serve``: started with the web server, restarted
    if one dies, stopped with it (SIGTERM: a worker finishes its current job; killed after
    ``grace_s`` seconds, its job's transaction then rolls back).

    Each worker is ``python -m geosignal.cli run-jobs`` with this process's environment, so it
    reads the same configuration as the web workers.
    """

    def __init__(self, count: int = 1, grace_s: float = 60.0) -> None:
        self.count = count
        self.grace_s = grace_s
        self.processes: list[Any] = []
        self._stopping = False
        self._watch: Any = None

    def _spawn(self) -> Any:
        import subprocess
        import sys

        return subprocess.Popen([sys.executable, "-m", "geosignal.cli", "run-jobs"])

    def start(self) -> None:
        """Start the workers and a watchdog that restarts any that exits."""
        import threading

        self.processes = [self._spawn() for _ in range(self.count)]
        self._watch = threading.Thread(target=self._watchdog, name="geosignal-job-watchdog", daemon=True)
        self._watch.start()

    def _watchdog(self) -> None:
        import time

        while not self._stopping:
            time.sleep(1.0)
            for k, process in enumerate(self.processes):
                if process.poll() is not None and not self._stopping:
                    self.processes[k] = self._spawn()

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after the grace period) and wait for them."""
        import subprocess

        self._stopping = True
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
