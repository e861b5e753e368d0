"""``flask visits purge``, ``archive``, ``export`` and ``report``."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from time import monotonic, sleep
from urllib.parse import quote

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, func, select, update

from ..db import db, utc_text
from ..models import Submission, Subscription, Visit, utcnow
from ..private_files import create_output
from ..shorten import truncated_ip
from .daily import archive_finished_days, archive_today, count_default_span, forget_identities, shorten_addresses
from .redact import escape_log_item
from .writer import flush, recover_orphans, spool_dir

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
PROGRESS_THRESHOLD = 10_000
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# The path characters kept as they are when the request line is rebuilt.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
# GoAccess, like most log analysers, refuses a line whose host field is not an
# address. A visit stored without one (a blocking signal was sent) is written
# with 0.0.0.0, an address no client can have.
NO_ADDRESS = "0.0.0.0"
REPORT_FILE = "visits-report.html"
# Rows read and shortened, and visits deleted, per transaction by the purge:
# memory stays flat however many rows are due, and no lock is held for long,
# so the shop goes on recording visits while a purge runs.
TRUNCATE_BATCH = 2000
DELETE_BATCH = 2000
# After each batch the purge waits as long as the batch took, outside any transaction: a large purge
# then takes at most half of a core and of the database's write time from the shop serving beside it.
BATCH_YIELD = 1.0
# Where full IP addresses are stored: (table, its address column, the time it was recorded).
ADDRESS_COLUMNS = (
    ("visits", Visit, Visit.ip, Visit.time),
    ("submissions", Submission, Submission.ip, Submission.created_at),
    ("newsletter confirmations", Subscription, Subscription.confirmed_ip, Subscription.confirmed_at),
)


@click.group("visits")
def visits_group():
    """The visit log: purge old rows, archive the daily figures, export as an Apache log or JSON lines."""


def store_spooled_visits():
    """Store rows still waiting in spool files, so the command sees every visit."""
    flush(current_app)
    recover_orphans(current_app._get_current_object(), spool_dir(current_app))


@visits_group.command("purge")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Delete visits older than DAYS (default: VISIT_RETENTION_DAYS).",
)
@with_appcontext
def purge_command(older_than):
    """Delete visits older than the retention period; shorten IP addresses older than IP_RETENTION_DAYS.

    First every finished day not yet archived is counted into the daily
    figures (as ``visits archive`` does), so the dashboard's counts outlive
    the visits; the visitor ids and addresses kept there for the days the
    purge reaches are deleted with the visits. Shortening cuts an address
    to its network (IPv4 /24, IPv6 /48) in visits, submissions, newsletter
    confirmations and the daily figures. Running it again changes nothing
    more.
    """
    days = current_app.config["VISIT_RETENTION_DAYS"] if older_than is None else older_than
    store_spooled_visits()
    report_archived(archive_finished_days())  # the daily figures outlive the visits
    cutoff = utcnow() - timedelta(days=days)
    deleted = delete_visits_before(cutoff)
    click.echo(f"Deleted {deleted} visits older than {days} days (before {cutoff:%Y-%m-%d %H:%M} UTC).")
    forgotten = forget_identities(cutoff)
    click.echo(f"Deleted {forgotten} visitor ids and IP addresses of those days from the daily figures.")
    ip_days = current_app.config["IP_RETENTION_DAYS"]
    ip_cutoff = full_ip_cutoff()
    counts = {name: truncate_addresses(model, column, time, ip_cutoff) for name, model, column, time in ADDRESS_COLUMNS}
    detail = ", ".join(f"{name}: {count}" for name, count in counts.items())
    when = "at once" if ip_cutoff is None else f"older than {ip_days} days"
    click.echo(f"Shortened {sum(counts.values())} IP addresses kept {when} to /24 (IPv4) and /48 (IPv6) ({detail}).")
    click.echo(f"Shortened {shorten_addresses(ip_cutoff)} IP addresses of those days in the daily figures.")
    count_default_span()


@visits_group.command("archive")
@with_appcontext
def archive_command():
    """Count every finished day not yet archived into the daily figures the staff dashboard reads, and today
    up to the start of the hour.

    A day already archived is left as it is, unless a visit was stored for it
    since (then it is counted again). The purge runs this first, for the
    finished days. The dashboard archives today itself when it is shown; run
    hourly, this keeps today's archive current without it.
    """
    store_spooled_visits()
    report_archived(archive_finished_days())
    if today := [day for day in archive_today() if day >= utcnow().date()]:
        click.echo(f"Archived today's figures ({today[0]}) up to the start of the hour.")


def report_archived(days: list) -> None:
    if days:
        click.echo(f"Archived the figures of {len(days)} finished days ({days[0]} to {days[-1]}).")
    else:
        click.echo("Every finished day was archived already.")


def pause(seconds: float) -> None:
    sleep(seconds)


def yield_to_the_shop(batch_started: float) -> None:
    """Wait, after a committed batch, as long as the batch took (``BATCH_YIELD`` times)."""
    pause((monotonic() - batch_started) * BATCH_YIELD)


def delete_visits_before(cutoff: datetime) -> int:
    """Delete every visit recorded before ``cutoff``, oldest first, ``DELETE_BATCH`` per transaction; how many."""
    deleted = 0
    while True:
        started = monotonic()
        ids = db.session.scalars(
            select(Visit.id).where(Visit.time < cutoff).order_by(Visit.time).limit(DELETE_BATCH)
        ).all()
        if not ids:
            return deleted
        db.session.execute(delete(Visit).where(Visit.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
        yield_to_the_shop(started)


def full_ip_cutoff() -> datetime | None:
    """The time before which an address is kept only as its network; None: every address."""
    days = current_app.config["IP_RETENTION_DAYS"]
    return None if days == 0 else utcnow() - timedelta(days=days)


def exported_ip(visit, cutoff: datetime | None) -> str | None:
    """The visit's address as an export writes it: shortened once it is past ``IP_RETENTION_DAYS``,
    whether or not the purge has run yet."""
    if visit.ip and (cutoff is None or visit.time < cutoff):
        return truncated_ip(visit.ip)
    return visit.ip


def truncate_addresses(model, column, time, cutoff) -> int:
    """Cut every full address in ``column`` recorded before ``cutoff`` (all, if None) to its network.

    Rows are read in primary-key order, ``TRUNCATE_BATCH`` at a time, and
    each batch is updated by primary key and committed. A value already
    shortened is not read again; one that is not an address is stored as
    unknown. Returns how many rows changed.
    """
    conditions = [column.is_not(None), column.not_like("%/%")]
    if cutoff is not None:
        conditions.append(time < cutoff)
    changed, last_id = 0, 0
    while True:
        started = monotonic()
        batch = db.session.execute(
            select(model.id, column).where(*conditions, model.id > last_id).order_by(model.id).limit(TRUNCATE_BATCH)
        ).all()
        if not batch:
            return changed
        last_id = batch[-1][0]
        db.session.execute(update(model), [{"id": row_id, column.key: truncated_ip(ip)} for row_id, ip in batch])
        db.session.commit()
        changed += len(batch)
        yield_to_the_shop(started)


def apache_time(when: datetime) -> str:
    return f"[{when.day:02d}/{MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000]"


def network_address(ip: str | None) -> str | None:
    """``203.0.113.0`` for ``203.0.113.0/24``: the host field of a log line must be one address."""
    return ip.partition("/")[0] if ip else ip


def combined_line(visit, hostnames: bool, cutoff: datetime | None) -> str:
    """One line of the Apache combined log format:

    ``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``

    A shortened address is written as the first address of its network
    (``203.0.113.0``, ``2001:db8:85a3::``), as GoAccess's ``--anonymize-ip``
    writes one, since log analysers read the host field as one address.
    """
    ip = network_address(exported_ip(visit, cutoff))
    host = (visit.domain if hostnames and visit.domain_confirmed else None) or ip or NO_ADDRESS
    target = quote(visit.path, safe=PATH_SAFE) + (f"?{visit.query}" if visit.query else "")
    request_line = f"{visit.method} {target} {visit.protocol}"
    size = str(visit.response_bytes) if visit.response_bytes else "-"
    return (
        f'{host} - - {apache_time(visit.time)} "{escape_log_item(request_line)}" {visit.status} {size} '
        f'"{escape_log_item(visit.referrer)}" "{escape_log_item(visit.user_agent)}"'
    )


def json_line(visit, cutoff: datetime | None) -> str:
    return json.dumps(
        {
            "time": utc_text(visit.time),
            "ip": exported_ip(visit, cutoff),
            "domain": visit.domain,
            "domain_confirmed": visit.domain_confirmed,
            "method": visit.method,
            "path": visit.path,
            "query": visit.query,
            "protocol": visit.protocol,
            "status": visit.status,
            "response_bytes": visit.response_bytes,
            "response_ms": visit.response_ms,
            "user_agent": visit.user_agent,
            "referrer": visit.referrer,
            "visitor_id": visit.visitor_id,
            "blocking_signal": visit.blocking_signal,
        },
        ensure_ascii=False,
    )


def visits_in_order(conditions=()):
    """Every stored visit matching ``conditions``, oldest first, as plain rows."""
    columns = [column for column in Visit.__table__.columns if column.name not in ("id", "uid")]
    return select(*columns).where(*conditions).order_by(Visit.time, Visit.id)


@visits_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["combined", "json"]), default="combined", show_default=True)
@click.option("--hostnames", is_flag=True, help="Host field: the confirmed domain where known, else the IP.")
@click.option("--since", type=click.DateTime(DATE_FORMATS), help="First time included (UTC).")
@click.option("--until", type=click.DateTime(DATE_FORMATS), help="First time no longer included (UTC).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default="-",
    help="A new file to write, created 0600 (default: standard output).",
)
@with_appcontext
def export_command(fmt, hostnames, since, until, output):
    """Write the visit log, oldest first, as an Apache combined log or JSON lines."""
    store_spooled_visits()
    conditions = []
    if since:
        conditions.append(Visit.time >= since)
    if until:
        conditions.append(Visit.time < until)
    query = visits_in_order(conditions)
    cutoff = full_ip_cutoff()
    if fmt == "combined":
        format_line = partial(combined_line, hostnames=hostnames, cutoff=cutoff)
    else:
        format_line = partial(json_line, cutoff=cutoff)

    to_stdout = str(output) == "-"
    show_progress = not to_stdout or not sys.stdout.isatty()
    total = 0
    if show_progress and sys.stderr.isatty():
        total = db.session.execute(select(func.count()).select_from(Visit).where(*conditions)).scalar_one()
    with nullcontext(sys.stdout) if to_stdout else create_output(output) as out:
        write_export(out, query, format_line, total)


def write_export(output, query, format_line, total: int) -> None:
    with db.engine.connect() as conn:
        rows = conn.execution_options(yield_per=2000).execute(query)
        if total >= PROGRESS_THRESHOLD:
            with click.progressbar(length=total, label="Exporting visits", file=sys.stderr) as bar:
                for count, row in enumerate(rows, 1):
                    output.write(format_line(row) + "\n")
                    if count % 1000 == 0:
                        bar.update(1000)
                bar.update(total - bar.pos)
        else:
            for row in rows:
                output.write(format_line(row) + "\n")
    output.flush()


@visits_group.command("report")
@click.option("--hostnames", is_flag=True, help="Count visitors by confirmed domain where known, else by IP.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help=f"HTML file to write (default: instance/{REPORT_FILE}).",
)
@with_appcontext
def report_command(hostnames, output):
    """Write GoAccess's HTML report of the visit log, ready to open in a browser.

    The combined export is piped into Debian's ``goaccess``; the report is
    written beside the target first and moved into place, readable by its
    owner only, since it holds addresses.
    """
    goaccess = shutil.which("goaccess")
    if goaccess is None:
        raise click.ClickException("goaccess is not installed; install it with: apt-get install goaccess")
    store_spooled_visits()
    target = output or Path(current_app.instance_path) / REPORT_FILE
    command = [goaccess, "-", "--no-global-config", "--log-format=COMBINED"]
    if hostnames:
        command.append("--no-ip-validation")
    count = 0
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".report-") as scratch:
        partial = Path(scratch) / REPORT_FILE
        with subprocess.Popen(
            [*command, "-o", str(partial)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        ) as goaccess_process:
            with db.engine.connect() as conn:
                rows = conn.execution_options(yield_per=2000).execute(visits_in_order())
                cutoff = full_ip_cutoff()
                for row in rows:
                    goaccess_process.stdin.write((combined_line(row, hostnames, cutoff) + "\n").encode())
                    count += 1
            goaccess_process.stdin.close()
            errors = goaccess_process.stderr.read().decode(errors="replace")
        if goaccess_process.returncode != 0 or not partial.exists():
            raise click.ClickException(f"goaccess failed: {errors.strip().splitlines()[-1:] or 'no output'}")
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    click.echo(f"Report of {count} visits written to {target}")
