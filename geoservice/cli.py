"""The ``geoservice`` command line: one entry point, sub-commands by verb.

One convention for every command: results (tables, JSON, the "ok" of ``validate``) go to
stdout; messages (errors, the problems ``validate`` finds) go to stderr, one line each. Exit
status 0 on success, 1 for a problem in the data, 2 for a usage error (a bad option or value,
a missing file or directory). No traceback reaches the user.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .catalog import DataError
from .vocabulary import DEFAULT_LANGUAGE, DEFAULT_VIEW, LANGUAGES, STATUSES, VIEWS


class UserError(click.ClickException):
    """A usage error the user can fix (bad option, value or path): one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # one line, no "Usage:" block
        click.echo(f"geoservice: error: {self.format_message()}", err=True)


class _Commands(click.Group):
    """The command group: a problem in the data (:class:`DataError`) is one line, exit 1,
    whether the command runs from the console script or in-process (click's CliRunner)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DataError as exc:
            click.echo(f"geoservice: error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="geoservice")
def cli() -> None:
    """Border disputes in the former Soviet space: data, measurements, service.

    Limits and defaults come from GEOSERVICE_* environment variables (see the README)."""
    from .settings import settings

    settings()  # a bad setting stops every command with one line (SettingsError: DataError)


@cli.command()
@click.argument("path", required=False, type=click.Path(file_okay=False))
def validate(path: str | None) -> None:
    """Check a data directory (default: the shipped geodata/), or a database filled by
    `geoservice load` (postgresql://…, edits included). One line per problem."""
    from .store.postgis import is_dsn
    from .validate import validate_database, validate_directory

    if is_dsn(path):
        problems = validate_database(path)
    elif path is not None and not Path(path).is_dir():
        raise UserError(f"{path}: no such data directory")
    else:
        problems = validate_directory(path)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"geoservice: {len(problems)} problem(s) found", err=True)
        raise SystemExit(1)
    click.echo("ok: no problems found")


class _OneLineUsage(click.Command):
    """A command whose usage errors print as one line (as UserError does), not a usage block."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise UserError(exc.format_message()) from None


class _LazyCatalog:
    """The shipped catalog, loaded on first use: argument errors surface before the slow load."""

    def __init__(self) -> None:
        self._catalog = None

    def __getitem__(self, layer_id: str):
        if self._catalog is None:
            from .catalog import load_catalog

            self._catalog = load_catalog()
        return self._catalog[layer_id]

    def __contains__(self, layer_id: str) -> bool:
        from .layers import LAYERS

        return layer_id in LAYERS


def _print_result(result: dict, as_json: bool, as_text) -> None:
    if as_json:
        import orjson

        click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(as_text(result))


VIEW_HELP = "Point of view: " + ", ".join(VIEWS) + f" (default: {DEFAULT_VIEW})."
LANG_HELP = (
    "Label language: " + ", ".join(LANGUAGES) + f" (default: {DEFAULT_LANGUAGE}; English "
    "where a name is missing)."
)


@cli.command("view-tables", cls=_OneLineUsage)
@click.option(
    "--as-of",
    "dates",
    multiple=True,
    help="Dates YYYY-MM-DD (repeat; default 2007-01-01, 2015-01-01 and today).",
)
@click.option("--pairs", help="Only these pairs, comma-separated (e.g. ABK-GEO,RUS-UKR).")
def view_tables(dates, pairs) -> None:
    """Markdown tables: km of international / disputed / de facto line per pair and view."""
    import datetime as dt

    from . import timeline, views

    try:
        days = [timeline.parse_date(d) for d in dates] or [
            dt.date(2007, 1, 1),
            dt.date(2015, 1, 1),
            dt.date.today(),
        ]
    except timeline.TimeError as exc:
        raise UserError(str(exc)) from None
    wanted = [p.strip().upper() for p in pairs.split(",")] if pairs else None
    click.echo(views.markdown_tables(_LazyCatalog(), days, wanted))


@cli.command(cls=_OneLineUsage)
@click.option("--countries", help="ISO3 codes, comma-separated: a country, a pair, or more.")
@click.option("--status", help=f"{', '.join(STATUSES)} (default: all).")
@click.option(
    "--kind",
    default="international",
    show_default=True,
    help="international, line_of_contact, de_facto, or 'all'.",
)
@click.option("--as-of", "as_of", help="Date YYYY-MM-DD (default: today).")
@click.option("--view", help=VIEW_HELP)
@click.option("--lang", help=LANG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def length(countries, status, kind, as_of, view, lang, as_json) -> None:
    """Border lengths in km on the WGS84 ellipsoid, by status and country pair."""
    from . import measure

    try:
        result = measure.border_lengths(
            _LazyCatalog(),
            countries=countries,
            status=status,
            kind=None if kind == "all" else kind,
            as_of=as_of,
            view=view,
            lang=lang,
        )
    except measure.QueryError as exc:
        raise UserError(str(exc)) from None
    _print_result(result, as_json, measure.format_lengths)


@cli.command(cls=_OneLineUsage)
@click.option("--from", "start", required=True, help="First date, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Second date, YYYY-MM-DD.")
@click.option("--view", help=VIEW_HELP)
@click.option("--lang", help=LANG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a report.")
def changes(start, end, view, lang, as_json) -> None:
    """What changed between two dates: km² changing hands, border status, features, events."""
    from . import changes as changes_module
    from . import measure

    try:
        result = changes_module.changes(_LazyCatalog(), start, end, view=view, lang=lang)
    except measure.QueryError as exc:
        raise UserError(str(exc)) from None
    _print_result(result, as_json, changes_module.format_changes)


@cli.command(cls=_OneLineUsage)
@click.option("--as-of", "as_of", help="Date YYYY-MM-DD (default: today).")
@click.option("--lang", help=LANG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def csto(as_of, lang, as_json) -> None:
    """CSTO membership on a date: each country a party then, and how (member, suspended,
    frozen), from the csto_members layer."""
    import datetime as dt

    from . import timeline, views

    try:
        day = timeline.parse_date(as_of) if as_of else dt.date.today()
        lang = views.parse_lang(lang)
    except (timeline.TimeError, views.ViewError) as exc:
        raise UserError(str(exc)) from None
    layer = _LazyCatalog()["csto_members"]
    rows = []
    for i in layer.valid(day).nonzero()[0]:
        p = layer.features[i]["properties"]
        keys = ("country", "membership", "valid_from", "valid_to", "accuracy")
        rows.append({"label": views.label(p, lang), **{k: p.get(k) for k in keys}})
    rows.sort(key=lambda r: (r["membership"], r["country"]))
    result = {"as_of": day.isoformat(), "lang": lang, "countries": rows}

    def as_text(res: dict) -> str:
        lines = [f"CSTO on {res['as_of']}: {len(res['countries'])} countries"]
        lines += [
            f"  {r['country']}  {r['label']}: {r['membership']} since {r['valid_from']}"
            + (" (date approximate)" if r["accuracy"] == "approximate" else "")
            for r in res["countries"]
        ]
        return "\n".join(lines)

    _print_result(result, as_json, as_text)


def _read_geojson(path: str) -> bytes:
    from .settings import settings

    limit = settings().max_geojson_bytes

    try:
        if path == "-":
            data = click.get_binary_stream("stdin").read(limit + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserError(f"{path}: larger than {limit} bytes")
    return data


@cli.command(cls=_OneLineUsage)
@click.argument("layer_ids", nargs=-1, metavar="[A B]")
@click.option(
    "--geometry",
    "geometry_path",
    help="GeoJSON file (EPSG:4326) to overlap with layers; '-' reads stdin.",
)
@click.option("--layers", help="Layers for --geometry, comma-separated (default: all).")
@click.option("--as-of", "as_of", help="Date YYYY-MM-DD (default: today).")
@click.option("--include-geometry", is_flag=True, help="Add the intersections as GeoJSON (--json).")
@click.option("--view", help=VIEW_HELP)
@click.option("--lang", help=LANG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def overlap(layer_ids, geometry_path, layers, as_of, include_geometry, view, lang, as_json) -> None:
    """Overlaps of layers A and B, or of a GeoJSON file with layers, as of a date."""
    from . import measure

    if len(layer_ids) > 2:
        raise UserError(f"give at most two layers, not {len(layer_ids)}")
    a, b = (list(layer_ids) + [None, None])[:2]
    geometry = None
    try:
        if geometry_path is not None:
            try:
                geometry = measure.parse_user_geometry(_read_geojson(geometry_path))
            except measure.QueryError as exc:
                raise measure.QueryError(f"{geometry_path}: {exc}") from None
        result = measure.overlaps(
            _LazyCatalog(),
            a,
            b,
            geometry=geometry,
            layers=layers,
            as_of=as_of,
            include_geometry=include_geometry,
            view=view,
            lang=lang,
        )
    except measure.QueryError as exc:
        raise UserError(str(exc)) from None
    _print_result(result, as_json, measure.format_overlaps)


@cli.command(cls=_OneLineUsage)
@click.argument("dsn")
@click.argument("path", required=False, type=click.Path(file_okay=False))
def load(dsn: str, path: str | None) -> None:
    """Load a data directory (default: the shipped geodata/) into PostGIS at DSN
    (postgresql://user@host:port/db), in one transaction; loading again replaces the layers."""
    from .store.postgis import is_dsn, load_directory

    if not is_dsn(dsn):
        raise UserError(f"{dsn!r} is not a postgresql:// URL")
    if path is not None and not Path(path).is_dir():
        raise UserError(f"{path}: no such data directory")
    counts = load_directory(dsn, path)
    for layer_id, count in counts.items():
        click.echo(f"{layer_id}\t{count}")
    click.echo(f"ok: {sum(counts.values())} features in {len(counts)} layers")


@cli.command(cls=_OneLineUsage)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    help="Data directory (default: $GEOSERVICE_DATA, else the shipped geodata/).",
)
@click.option(
    "--store",
    envvar="GEOSERVICE_STORE",
    help="postgresql://… URL of a database filled by `geoservice load` (or a data directory); "
    "default: $GEOSERVICE_STORE, else the data directory.",
)
def serve(host: str, port: int, data_dir: str | None, store: str | None) -> None:
    """Run the service (development server); prints its URL. Production: see the README."""
    import socket
    import threading

    from werkzeug.serving import make_server

    from .app import create_app
    from .store import is_dsn
    from .webmap import warm_up

    for path in (data_dir, None if is_dsn(store) else store):
        if path is not None and not Path(path).is_dir():
            raise UserError(f"{path}: no such data directory")
    app = create_app({"DATA_DIR": data_dir, "STORE": store})
    # Bind here, not in werkzeug, so a busy port or bad address is one line and exit status 2.
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = make_server(host, port, app, threaded=True, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate of the socket
    port = server.socket.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"geoservice: serving http://{shown}:{port}/ (API: http://{shown}:{port}/api)")
    sys.stdout.flush()
    # The map's first load, built while the server already answers (requests wait for it).
    threading.Thread(target=warm_up, args=(app,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@cli.command()
@click.argument("name")
def token(name: str) -> None:
    """Print a new write token for NAME and the line that configures it (its SHA-256)."""
    from .auth import new_token

    if not name.replace("-", "").replace("_", "").isalnum():
        raise UserError(f"{name!r}: a token name is letters, digits, '-' and '_'")
    secret, line = new_token(name)
    click.echo(f"token (give it to {name}; it is not stored): {secret}")
    click.echo(f"configure (GEOSERVICE_TOKENS or a line of GEOSERVICE_TOKENS_FILE): {line}")


def main() -> None:
    """Console-script entry point (``geoservice``)."""
    cli.main(standalone_mode=True)
