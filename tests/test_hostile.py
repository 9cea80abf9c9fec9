"""Hostile requests (issue 14): each row has the status it must get and a bound on its time.

The bounds are correctness limits ("answers within 10 s", i.e. no hung worker), not speed
targets; speeds live in benchmarks/ and BENCHMARKS.md. The worst bodies come from
:mod:`benchmarks.hostile`, the same bytes the mixed-load benchmark sends.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

import orjson
import pytest

from benchmarks import hostile
from geoservice import cost
from geoservice.app import create_app
from geoservice.errors import handle_exception
from geoservice.settings import settings


@dataclass(frozen=True)
class Row:
    """One hostile request and what must come back."""

    name: str
    method: str
    path: str
    status: int
    seconds: float = 10.0
    body: bytes | None = None
    headers: dict = field(default_factory=dict)


def body(doc: dict) -> bytes:
    return hostile.body(doc)


def segments(n: int) -> dict:
    return hostile.segments(n)


OUTSIDE = ["0001-01-01T00:00:00%2B01:00", "9999-12-31T23:00:00-01:00"]

ROWS: list[Row] = [
    # Dates outside the calendar once moved to UTC: 400, not OverflowError (500).
    *(
        Row(f"items datetime {d}", "GET", f"/api/collections/borders/items?datetime={d}", 400)
        for d in OUTSIDE
    ),
    *(
        Row(
            f"items interval from {d}",
            "GET",
            f"/api/collections/borders/items?datetime={d}/..",
            400,
        )
        for d in OUTSIDE
    ),
    *(Row(f"lengths as_of {d}", "GET", f"/api/lengths?as_of={d}", 400) for d in OUTSIDE),
    *(
        Row(f"overlaps as_of {d}", "GET", f"/api/overlaps?a=corridors&b=borders&as_of={d}", 400)
        for d in OUTSIDE
    ),
    *(Row(f"map date {d}", "GET", f"/?date={d}", 400) for d in OUTSIDE),
    # The worst bodies: refused before any work (422, the budget), or answered in time.
    *(
        Row(f"{n} random long segments", "POST", "/api/overlaps", 422, body=body(segments(n)))
        for n in (1_000, 2_000, 5_000)
    ),
    Row("15,000 random long segments", "POST", "/api/overlaps", 422, body=body(segments(15_000))),
    Row("99k-vertex zigzag", "POST", "/api/overlaps", 422, body=body(hostile.zigzag(99_000))),
    Row(
        "99k-vertex zigzag with geometry",
        "POST",
        "/api/overlaps?include_geometry=true",
        422,
        body=body(hostile.zigzag(99_000)),
    ),
    Row(
        "1,000 small polygons",
        "POST",
        "/api/overlaps",
        200,
        body=body(hostile.small_polygons(1000)),
    ),
    Row(
        "150 random long segments (accepted)",
        "POST",
        "/api/overlaps",
        200,
        body=body(segments(150)),
    ),
    Row(
        "1,000-vertex zigzag (accepted)",
        "POST",
        "/api/overlaps",
        200,
        body=body(hostile.zigzag(1000)),
    ),
    # The whole countries layer (the region's countries drawn whole) against a layer: bounded
    # by the data, not the request, so computed once (in the analysis process, within the
    # layer-pair deadline) and then answered from the cache.
    Row("countries x borders", "GET", "/api/overlaps?a=countries&b=borders", 200, 60),
    Row("countries x borders again (cached)", "GET", "/api/overlaps?a=countries&b=borders", 200, 2),
    Row("countries x countries", "GET", "/api/overlaps?a=countries&b=countries", 200, 60),
    Row("held areas x borders", "GET", "/api/overlaps?a=disputed_areas&b=borders", 200, 60),
    Row(
        "held areas x borders again (cached)",
        "GET",
        "/api/overlaps?a=disputed_areas&b=borders",
        200,
        seconds=1,
    ),
    Row(
        "held areas x borders, geometry",
        "GET",
        "/api/overlaps?a=disputed_areas&b=borders&include_geometry=true",
        200,
        seconds=1,  # computed with the answer without geometry, kept in the cache
    ),
    # Bodies, content types, Accept.
    Row(
        "POST as text/plain",
        "POST",
        "/api/overlaps",
        415,
        body=body(hostile.antimeridian_square()),
        headers={"Content-Type": "text/plain"},
    ),
    Row(
        "POST as form data",
        "POST",
        "/api/overlaps",
        415,
        body=b"a=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Row(
        "antimeridian square",
        "POST",
        "/api/overlaps",
        422,
        body=body(hostile.antimeridian_square()),
    ),
    Row("body over 2 MB with a length", "POST", "/api/overlaps", 413, body=b" " * (2 * 2**20 + 1)),
]


@pytest.fixture(scope="module")
def client(catalog):
    return create_app({"CATALOG": catalog}).test_client()


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_request(client, row: Row):
    start = time.perf_counter()
    headers = dict(row.headers)
    if row.body is not None:
        headers.setdefault("Content-Type", "application/json")
    response = client.open(row.path, method=row.method, data=row.body, headers=headers)
    seconds = time.perf_counter() - start
    assert response.status_code == row.status, response.get_data(as_text=True)[:500]
    assert seconds < row.seconds
    if row.status >= 400:
        assert response.mimetype == "application/problem+json"
        problem = orjson.loads(response.data)
        assert problem["status"] == row.status and problem["detail"]


# --- headers on every response ------------------------------------------------------------

PAGES = [
    "/",
    "/api",
    "/api?f=html",
    "/api/collections?f=html",
    "/api/collections/borders/items?f=html&limit=5",
    "/api/openapi?f=html",
    "/api/lengths?countries=KGZ,TJK",
    "/api/nothing-here",
]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    if response.mimetype == "text/html":
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        body = response.get_data(as_text=True)
        assert body.count("<script") == body.count(f'<script nonce="{nonce}"')
        script_src = csp.split("script-src", 1)[1].split(";", 1)[0]
        assert "'unsafe-inline'" not in script_src and "'unsafe-hashes'" not in script_src
        # no inline event handlers (onclick=, onsubmit=...): handlers are added by script
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", body)


def test_nonce_differs_per_request(client):
    first = client.get("/").headers["Content-Security-Policy"]
    assert first != client.get("/").headers["Content-Security-Policy"]


def test_links_ignore_the_host_header(client):
    for path in ("/api", "/api/collections", "/api/openapi", "/api/collections/borders/items"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert b"evil.example" not in response.data, path
        assert "Accept" in response.headers.get("Vary", "")


def test_links_use_the_configured_base_url(catalog, monkeypatch):
    monkeypatch.setenv("GEOSERVICE_BASE_URL", "https://borders.example.org/geo")
    app = create_app({"CATALOG": catalog})
    doc = orjson.loads(app.test_client().get("/api", headers={"Host": "evil.example"}).data)
    assert {link["href"].split("/api")[0] for link in doc["links"]} == {
        "https://borders.example.org/geo"
    }
    servers = orjson.loads(app.test_client().get("/api/openapi").data)["servers"]
    assert servers == [{"url": "https://borders.example.org/geo/api"}]


def test_problem_details_do_not_echo_long_input(client):
    junk = "<script>" + "x" * 500
    response = client.get(f"/api/lengths?countries=KGZ&as_of={junk}")
    assert response.status_code == 400
    detail = orjson.loads(response.data)["detail"]
    assert "x" * 100 not in detail and "characters)" in detail


@pytest.mark.parametrize(
    "path", ["/api/conformance", "/api/lengths", "/api/overlaps?a=borders&b=countries"]
)
def test_accept_image_png_is_406(client, path):
    response = client.get(path, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert orjson.loads(response.data)["status"] == 406


# --- the pages' own scripts pass the CSP, in Chromium ----------------------------------------


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("path", ["/", "/api/collections/borders/items?f=html&limit=5"])
def test_pages_run_under_their_csp_in_chromium(catalog, path):
    """No CSP violation on the map page and an API page, and the map page still draws."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, _require_browser

    _require_browser()
    from playwright.sync_api import sync_playwright

    server = LiveServer(create_app({"CATALOG": catalog}))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(server.url) else route.abort()
                ),
            )
            messages: list[str] = []
            page.on("console", lambda m: messages.append(m.text))
            page.add_init_script(
                "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            page.goto(server.url + path)
            if path == "/":
                page.wait_for_selector("body[data-state=ready]", timeout=60_000)
            else:
                page.wait_for_load_state("load")
            violations = page.evaluate("window.__csp")
            browser.close()
    finally:
        server.close()
    assert violations == []
    assert not [m for m in messages if "Content Security Policy" in m]


# --- against `geoservice serve` itself ------------------------------------------------------


def _connection(api_server):
    import http.client

    host, port = api_server.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


@pytest.mark.server
def test_serve_sends_one_date_header(api_server):
    for encoding in ("gzip", "identity"):
        conn = _connection(api_server)
        conn.request("GET", "/api/collections", headers={"Accept-Encoding": encoding})
        response = conn.getresponse()
        response.read()
        assert len(response.msg.get_all("Date")) == 1, encoding
        conn.close()


@pytest.mark.server
def test_chunked_body_over_the_limit_is_413(api_server):
    conn = _connection(api_server)
    chunk = b" " * 65536
    conn.putrequest("POST", "/api/overlaps")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    start = time.perf_counter()
    try:
        for _ in range(40):  # 2.5 MB, over the 2 MB limit
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before reading it all
    response = conn.getresponse()
    assert response.status == 413
    assert orjson.loads(response.read())["status"] == 413
    assert time.perf_counter() - start < 10
    conn.close()


# --- broken data stops the service (issue 10) -----------------------------------------------


def _broken_data(tmp_path):
    """The shipped data with four broken border features: no id, null properties, an
    impossible date, and a duplicate id."""
    import shutil

    from geoservice.catalog import DEFAULT_DATA_DIR

    for file in DEFAULT_DATA_DIR.glob("*.geojson"):
        shutil.copy(file, tmp_path / file.name)
    doc = orjson.loads((tmp_path / "borders.geojson").read_bytes())
    features = doc["features"]
    del features[0]["properties"]["id"]
    features[1]["properties"] = None
    features[2]["properties"]["valid_from"] = "2020-13-45"
    features[3]["properties"]["id"] = features[4]["properties"]["id"]
    (tmp_path / "borders.geojson").write_bytes(orjson.dumps(doc))
    return tmp_path, features[4]["properties"]["id"]


def test_broken_data_stops_serve_with_one_line_per_problem(tmp_path):
    import subprocess
    import sys

    data, duplicate = _broken_data(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "geoservice", "serve", "--port", "0", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "missing field 'id'" in proc.stderr
    assert "feature #1: no properties" in proc.stderr
    assert "2020-13-45" in proc.stderr
    assert f"{duplicate}: id also used in" in proc.stderr


def test_validate_reports_the_same_without_a_traceback(tmp_path):
    from click.testing import CliRunner

    from geoservice.cli import cli

    data, duplicate = _broken_data(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(data)])
    assert (
        result.exit_code == 1
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    assert "2020-13-45" in result.output and f"{duplicate}: id also used in" in result.output


def _sleep_then_answer(catalog, deadline, seconds: float) -> int:
    """An analysis that ignores its deadline (as one long GEOS call would)."""
    time.sleep(seconds)
    return os.getpid()


def test_an_analysis_past_its_deadline_is_killed_and_the_next_one_runs(catalog):
    """The analysis process is killed when its work runs past the deadline: the caller gets
    DeadlineError within a second of it, and the next analysis runs in a new process."""
    first = cost.run_bounded(_sleep_then_answer, catalog, {"seconds": 0}, seconds=5)
    assert first != os.getpid()  # not in the serving process
    start = time.perf_counter()
    with pytest.raises(cost.DeadlineError):
        cost.run_bounded(_sleep_then_answer, catalog, {"seconds": 60}, seconds=0.5)
    assert time.perf_counter() - start < 3
    assert not process_alive(first)
    second = cost.run_bounded(_sleep_then_answer, catalog, {"seconds": 0}, seconds=5)
    assert second not in (first, os.getpid())


def test_analyses_beyond_the_queue_are_turned_away_at_once(catalog):
    """With one analysis running and ``analysis_queue`` (1) waiting, the next caller gets
    BusyError (503 with Retry-After) at once instead of holding a serving thread."""
    import threading

    assert settings().analysis_queue == 1
    outcomes: list[object] = []

    def call(seconds: float) -> None:
        try:
            outcomes.append(
                cost.run_bounded(_sleep_then_answer, catalog, {"seconds": seconds}, seconds=5)
            )
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            outcomes.append(exc)

    running = threading.Thread(target=call, args=(1.5,))
    waiting = threading.Thread(target=call, args=(0,))
    running.start()
    time.sleep(0.3)
    waiting.start()
    time.sleep(0.3)
    start = time.perf_counter()
    with pytest.raises(cost.BusyError):
        cost.run_bounded(_sleep_then_answer, catalog, {"seconds": 0}, seconds=5)
    assert time.perf_counter() - start < 0.5
    running.join()
    waiting.join()
    assert [type(o) for o in outcomes] == [int, int]  # the running and the waiting one answer
    assert handle_exception(cost.BusyError("busy")).status_code == 503
    assert handle_exception(cost.BusyError("busy")).headers["Retry-After"]


def _sockets_here(catalog, deadline) -> list[int]:
    """The socket descriptors of the (analysis) process this runs in."""
    import stat

    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                fds.append(int(name))
        except OSError:
            continue
    return fds


def test_the_analysis_process_holds_no_inherited_socket(catalog):
    """A connection open in the serving process when the analysis process is forked is not
    kept open by it (else a client would wait on a connection the server has closed)."""
    import socket

    client, server_side = socket.socketpair()
    fds = (client.fileno(), server_side.fileno())
    process = cost.AnalysisProcess()
    try:
        inside = process.run(_sockets_here, catalog, {}, 5)
        assert len(inside) == 1 and not set(fds) & set(inside)  # its pipe alone
        server_side.close()  # the server closes the connection: the client sees the end
        client.settimeout(5)
        assert client.recv(1) == b""
    finally:
        process._stop()
        client.close()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return "zombie" not in status.read()
    except FileNotFoundError:
        return False


def test_the_analysis_process_ends_with_its_parent(tmp_path):
    """A serving process killed outright (as gunicorn kills a stuck worker) leaves no
    analysis process behind holding its sockets."""
    import signal
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from geoservice import cost\n"
        "from geoservice.app import create_app\n"
        "client = create_app().test_client()\n"
        "client.post('/api/overlaps', json={'type': 'Point', 'coordinates': [46.75, 39.8]})\n"
        "print(cost._analyses.process.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(proc.stdout.readline())
        assert process_alive(child)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_alive(child)
