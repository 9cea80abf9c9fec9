"""pygeoapi on PostGIS for the side-by-side benchmark: installs, a throwaway cluster, the load.

- Debian's ``wrk``, ``postgresql`` and ``postgresql-15-postgis-3`` are installed with apt-get
  when missing; pygeoapi (and gunicorn, psycopg2) goes into its own venv under the gitignored
  ``benchmarks/.cache/`` so its dependencies never touch the project's.
- The PostgreSQL cluster lives in a temp dir, listens on 127.0.0.1 only, runs as the
  ``postgres`` system user when we are root (initdb refuses root), and is stopped at the end.
- The borders layer goes into table ``borders`` (EPSG:4326 geometry, GiST index, ANALYZEd) with
  COPY through ``psql``: list properties as jsonb, validity dates as ``date``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import orjson
import shapely

from .servers import HOST, ROOT, free_port

CACHE = ROOT / "benchmarks" / ".cache"
VENV = CACHE / "pygeoapi-venv"
PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
APT_PACKAGES = {  # binary that tells it is there -> Debian package
    "/usr/bin/wrk": "wrk",
    str(PG_BIN / "postgres"): f"postgresql-{PG_VERSION}",
    f"/usr/share/postgresql/{PG_VERSION}/extension/postgis.control": f"postgresql-{PG_VERSION}-postgis-3",
}
#: pygeoapi's PostgreSQL provider imports geoalchemy2 (SQLAlchemy), which pygeoapi does not require.
PIP_PACKAGES = ["pygeoapi", "gunicorn", "psycopg2-binary", "geoalchemy2"]
TABLE = "borders"
DB = "bench"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_apt_packages() -> None:
    """apt-get install what is missing of wrk, PostgreSQL and PostGIS (needs root)."""
    missing = sorted({pkg for path, pkg in APT_PACKAGES.items() if not Path(path).exists()})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f"missing Debian packages {missing}; install them as root: "
            f"apt-get install {' '.join(missing)}"
        )
    log(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_pygeoapi() -> Path:
    """Create the pygeoapi venv if missing; return its python."""
    python = venv_python()
    probe = [str(python), "-c", "import pygeoapi, gunicorn, psycopg2, geoalchemy2"]
    if python.exists() and subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return python
    log(f"creating venv {VENV.relative_to(ROOT)} with {' '.join(PIP_PACKAGES)}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PIP_PACKAGES], check=True)
    return python


def pygeoapi_version() -> str:
    code = "import pygeoapi; print(pygeoapi.__version__)"
    out = subprocess.run(
        [str(venv_python()), "-c", code], check=False, capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


class Cluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1:``port`` with its socket in ``directory``."""

    def __init__(self, directory: Path, port: int, user: str | None):
        self.directory = directory
        self.port = port
        self.user = user  # system user that owns the cluster (None: ourselves)

    @property
    def dsn(self) -> str:
        """libpq URL of the cluster's database (loopback, trust authentication)."""
        return f"postgresql://postgres@{HOST}:{self.port}/{DB}"

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.directory / "data"

    def start(self) -> None:
        """Start the server (``pg_ctl start``, waiting until it accepts connections)."""
        opts = (
            f"-c listen_addresses={HOST} -c port={self.port} "
            f"-c unix_socket_directories={self.directory} "
            "-c fsync=off -c shared_buffers=256MB -c max_connections=200"
        )
        self._as_owner(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.directory / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            stdout=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m fast``; ``immediate``: as a crash, no checkpoint,
        every backend killed)."""
        self._as_owner(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
            stdout=subprocess.DEVNULL,
        )

    def _as_owner(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=True, **kw)

    def psql(self, sql: str | None = None, *, db: str = DB, stdin: bytes | None = None) -> str:
        cmd = [
            str(PG_BIN / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            db,
        ]
        if sql is not None:
            cmd += ["-c", sql]
        out = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr.decode(errors='replace')[:2000]}")
        return out.stdout.decode()


@contextmanager
def cluster(keep: bool = False):
    """initdb + start a cluster in a temp dir; stop and remove it when the block ends."""
    user = "postgres" if os.geteuid() == 0 else None
    top = Path(tempfile.mkdtemp(prefix="geoservice-pg-"))
    port = free_port()
    if user:
        pw = pwd.getpwnam(user)
        os.chown(top, pw.pw_uid, pw.pw_gid)
    c = Cluster(top, port, user)
    c._as_owner(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(c.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        stdout=subprocess.DEVNULL,
    )
    c.start()
    try:
        c.psql(f"CREATE DATABASE {DB}", db="postgres")
        c.psql("CREATE EXTENSION postgis")
        yield c
    finally:
        try:
            c.stop()
        finally:
            if not keep:
                shutil.rmtree(top, ignore_errors=True)


def _column_types(features: list[dict]) -> dict[str, str]:
    """SQL type of each property: jsonb for lists/objects, double for numbers, date, text."""
    types: dict[str, str] = {}
    for feature in features:
        for key, value in (feature.get("properties") or {}).items():
            if key in ("valid_from", "valid_to"):
                types[key] = "date"
                continue
            if value is None:
                types.setdefault(key, None)
                continue
            if isinstance(value, (list, dict)):
                sql = "jsonb"
            elif isinstance(value, bool):
                sql = "boolean"
            elif isinstance(value, (int, float)):
                sql = "double precision"
            else:
                sql = "text"
            if types.get(key) in (None, sql):
                types[key] = sql
            else:  # mixed types: keep it as JSON
                types[key] = "jsonb"
    return {k: (v or "text") for k, v in types.items()}


def copy_text(features: list[dict], columns: list[str], types: dict[str, str]) -> bytes:
    """CSV for ``COPY ... FROM STDIN (FORMAT csv)``: the properties, then the geometry as EWKB."""
    geoms = shapely.from_geojson([orjson.dumps(f["geometry"]) for f in features])
    geoms = shapely.set_srid(geoms, 4326)
    wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    lines = []
    for feature, hexwkb in zip(features, wkb):
        props = feature.get("properties") or {}
        fields = []
        for col in columns:
            value = props.get(col)
            if value is None:
                fields.append("")  # unquoted empty field: NULL
                continue
            text = orjson.dumps(value).decode() if types[col] == "jsonb" else str(value)
            fields.append('"' + text.replace('"', '""') + '"')
        fields.append(hexwkb)
        lines.append(",".join(fields))
    return ("\n".join(lines) + "\n").encode()


def load_borders(c: Cluster, geojson: Path) -> int:
    """Create and fill table ``borders`` from a GeoJSON file; GiST index; ANALYZE. Row count."""
    features = orjson.loads(geojson.read_bytes())["features"]
    types = _column_types(features)
    columns = list(types)
    cols_sql = ", ".join(
        f'"{col}" {types[col]}' + (" PRIMARY KEY" if col == "id" else "") for col in columns
    )
    c.psql(
        f"DROP TABLE IF EXISTS {TABLE}; "
        f"CREATE TABLE {TABLE} ({cols_sql}, geom geometry(Geometry, 4326) NOT NULL)"
    )
    names = ", ".join(f'"{col}"' for col in columns)
    with tempfile.NamedTemporaryFile(suffix=".csv") as tmp:
        tmp.write(copy_text(features, columns, types))
        tmp.flush()
        c.psql(f"\\copy {TABLE} ({names}, geom) FROM '{tmp.name}' WITH (FORMAT csv)")
    c.psql(f"CREATE INDEX {TABLE}_geom_gist ON {TABLE} USING gist (geom); ANALYZE {TABLE}")
    return int(c.psql(f"COPY (SELECT count(*) FROM {TABLE}) TO STDOUT").strip())


def write_config(
    directory: Path,
    c: Cluster,
    port: int,
    max_items: int,
    extent: tuple[float, float, float, float],
) -> tuple[Path, Path]:
    """Write pygeoapi's config (PostgreSQL provider) and generate its OpenAPI document."""
    config = directory / "pygeoapi-config.yml"
    openapi = directory / "pygeoapi-openapi.yml"
    bbox = ", ".join(f"{v:.6f}" for v in extent)
    config.write_text(f"""\
server:
  bind: {{host: {HOST}, port: {port}}}
  url: http://{HOST}:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  limits: {{default_items: 10, max_items: {max_items}}}
  map: {{url: 'https://tile.invalid/{{z}}/{{x}}/{{y}}.png', attribution: 'none'}}
  pretty_print: false
logging:
  level: ERROR
metadata:
  identification:
    title: borders benchmark
    description: pygeoapi on PostGIS, benchmark of the geoservice project
    keywords: [borders]
    keywords_type: theme
    terms_of_service: none
    url: http://{HOST}:{port}
  license: {{name: none, url: 'http://{HOST}:{port}'}}
  provider: {{name: bench, url: 'http://{HOST}:{port}'}}
  contact: {{name: bench}}
resources:
  borders:
    type: collection
    title: Border segments
    description: Segments of land borders
    keywords: [borders]
    extents:
      spatial: {{bbox: [{bbox}], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {HOST}, port: {c.port}, dbname: {DB}, user: postgres,
               search_path: [public]}}
        id_field: id
        table: {TABLE}
        geom_field: geom
""")
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [
            str(VENV / "bin" / "pygeoapi"),
            "openapi",
            "generate",
            str(config),
            "--output-file",
            str(openapi),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return config, openapi


def server_env(config: Path, openapi: Path) -> dict[str, str]:
    return {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
