"""Edits with history (OGC API - Features Part 4) on a copy of the shipped data, on both
stores (the file store: a copied data directory; PostGIS: a fresh database loaded from the
copy): tokens, If-Match, dated state changes that keep every earlier date, the journal or the
transaction, restarts, CORS."""

from __future__ import annotations

import shutil

import orjson
import pytest

from geoservice.app import create_app
from geoservice.auth import digest
from geoservice.catalog import load_catalog
from geoservice.resources import DATA_DIR
from geoservice.store.postgis_edits import dump_directory
from geoservice.validate import check_structure

ALICE, BOB = "alice-secret-token", "bob-secret-token"
#: Alice may write everything; Bob only the gazetteer.
TOKENS = f"alice:{digest(ALICE)},bob:{digest(BOB)}:places"
STRETCH = "AZE-GEO-undelimited-1"


def copy_data(target):
    """The shipped layers and sources, copied to ``target`` (edits never touch geodata/)."""
    target.mkdir(exist_ok=True)
    for path in DATA_DIR.iterdir():
        if path.suffix in (".geojson", ".json"):
            shutil.copy(path, target / path.name)
    return target


class Edited:
    """The data a module's edits go to, on one store: ``app()`` a new app on it (a restart),
    ``directory(tmp)`` the data as a data directory for ``geoservice validate``'s checks."""

    def __init__(self, kind: str, data_dir, dsn: str | None = None):
        self.kind, self.data_dir, self.dsn = kind, data_dir, dsn

    def app(self, tokens: str = TOKENS):
        """A new app on the data (none: read-only, as ``serve`` without tokens)."""
        if self.kind == "file":
            return create_app({"CATALOG": load_catalog(self.data_dir), "TOKENS": tokens})
        return create_app({"STORE": self.dsn, "TOKENS": tokens})

    def store(self):
        """Another writable store on the same data (as another process opens it)."""
        from geoservice.store import FileStore, PostgisStore

        if self.kind == "file":
            return FileStore.open(self.data_dir, writable=True)
        return PostgisStore(self.dsn, writable=True)

    def directory(self, tmp_path):
        if self.kind == "file":
            return self.data_dir
        from geoservice.store import PostgisStore

        store = PostgisStore(self.dsn)
        try:
            return dump_directory(store, tmp_path / "dumped")
        finally:
            store.close()


@pytest.fixture(scope="module", params=["file", "postgis"])
def edited(request, tmp_path_factory):
    data_dir = copy_data(tmp_path_factory.mktemp("data"))
    if request.param == "file":
        return Edited("file", data_dir)
    return Edited("postgis", data_dir, request.getfixturevalue("postgis_database")(data_dir))


@pytest.fixture(scope="module")
def client(edited):
    return edited.app().test_client()


def auth(token: str, etag: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-Match"] = etag
    return headers


def etag_of(client, collection: str, fid: str) -> str:
    response = client.get(f"/api/collections/{collection}/items/{fid}?f=json")
    assert response.status_code == 200
    return response.headers["ETag"]


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_writes_need_a_known_token_allowed_on_the_collection(client):
    url = f"/api/collections/borders/items/{STRETCH}"
    body = {"properties": {"notes": "x"}, "source": "test"}
    problem(client.patch(url, json=body), 401)
    problem(client.patch(url, json=body, headers=auth("not-a-token")), 401)
    assert "places" in problem(client.patch(url, json=body, headers=auth(BOB)), 403)["detail"]
    # Reading stays open.
    assert client.get(url).status_code == 200


def test_if_match_is_required_and_a_stale_one_is_412(client):
    url = "/api/collections/places/items/AFG-andkhoy"
    body = {"properties": {"notes": "checked"}, "source": "test: a reader's correction"}
    problem(client.patch(url, json=body, headers=auth(BOB)), 428)
    old = etag_of(client, "places", "AFG-andkhoy")
    first = client.patch(url, json=body, headers=auth(BOB, old))
    assert first.status_code == 200 and first.headers["ETag"] != old
    # A second writer still holding the old ETag loses nothing: 412, read again.
    again = {"properties": {"notes": "other"}, "source": "test"}
    problem(client.patch(url, json=again, headers=auth(ALICE, old)), 412)
    assert client.get(url).get_json()["properties"]["notes"] == "checked"


def test_a_source_must_be_cited(client):
    url = "/api/collections/places/items/AFG-andkhoy"
    etag = etag_of(client, "places", "AFG-andkhoy")
    body = {"properties": {"notes": "uncited"}}
    assert "source" in problem(client.patch(url, json=body, headers=auth(BOB, etag)), 422)["detail"]


def test_bad_features_are_422_as_validate_would_say(client):
    url = "/api/collections/borders/items/" + STRETCH
    etag = etag_of(client, "borders", STRETCH)
    body = {"properties": {"status": "perhaps"}, "source": "test"}
    assert (
        "status" in problem(client.patch(url, json=body, headers=auth(ALICE, etag)), 422)["detail"]
    )
    # Text no store keeps (NUL: PostgreSQL refuses it) is 422 on both stores, never a 500.
    body = {"properties": {"notes": "nul \u0000 here"}, "source": "test"}
    assert "NUL" in problem(client.patch(url, json=body, headers=auth(ALICE, etag)), 422)["detail"]
    assert client.get(url).headers["ETag"] == etag
    body = {"properties": {"notes": "fine"}, "source": "a source with \u0000"}
    assert "NUL" in problem(client.patch(url, json=body, headers=auth(ALICE, etag)), 422)["detail"]
    assert client.get(url).headers["ETag"] == etag


def lengths(client, day: str, pair: str = "AZE,GEO") -> dict:
    doc = client.get(f"/api/lengths?countries={pair}&as_of={day}").get_json()
    return doc.get("by_status", doc)


def ids_on(client, day: str, pair: str = "AZE,GEO") -> set[str]:
    doc = client.get(
        f"/api/collections/borders/items?countries={pair}&datetime={day}&limit=1000"
    ).get_json()
    return {f["id"] for f in doc["features"]}


def settle(client, fid: str, source: str):
    """PATCH a border stretch to ``settled`` from 2026-06-01 (Alice); the 200 response."""
    response = client.patch(
        f"/api/collections/borders/items/{fid}",
        json={"properties": {"status": "settled"}, "effective": "2026-06-01", "source": source},
        headers=auth(ALICE, etag_of(client, "borders", fid)),
    )
    assert response.status_code == 200, response.get_json()
    return response


def test_a_dated_status_change_keeps_every_earlier_date(client, edited, tmp_path):
    before_2020, before_now = ids_on(client, "2020-01-01"), lengths(client, "2020-01-01")
    response = settle(client, STRETCH, "test: a delimitation protocol signed on 2026-06-01")
    closed = response.get_json()
    assert closed["properties"]["valid_to"] == "2026-06-01"
    assert closed["properties"]["status"] == "disputed"
    new_id = f"{STRETCH}-settled"
    assert response.headers["Location"].endswith(new_id)
    opened = client.get(f"/api/collections/borders/items/{new_id}").get_json()
    assert opened["properties"]["status"] == "settled"
    assert opened["properties"]["valid_from"] == "2026-06-01"
    assert "test: a delimitation protocol signed on 2026-06-01" in opened["properties"]["sources"]
    # Earlier dates answer as before; from the date on, the new state (the map reads these).
    assert ids_on(client, "2020-01-01") == before_2020
    assert lengths(client, "2020-01-01") == before_now
    assert STRETCH in ids_on(client, "2026-05-31") and new_id not in ids_on(client, "2026-05-31")
    assert new_id in ids_on(client, "2026-06-01") and STRETCH not in ids_on(client, "2026-06-01")
    km = opened["properties"]["length_km"]
    after = client.get("/api/lengths?countries=AZE,GEO&as_of=2026-06-02").get_json()
    earlier = client.get("/api/lengths?countries=AZE,GEO&as_of=2026-05-30").get_json()
    assert after != earlier and km > 0
    # The history: who, when, the source, before and after.
    history = client.get(f"/api/collections/borders/items/{STRETCH}/history").get_json()
    (revision,) = history["revisions"]
    assert revision["author"] == "alice" and revision["opened"] == [new_id]
    assert revision["before"]["properties"].get("valid_to") is None
    assert revision["after"]["properties"]["valid_to"] == "2026-06-01"
    assert client.get(f"/api/collections/borders/items/{new_id}/history").get_json()[
        "revisions"
    ] == [revision]
    # The edited data passes the service's structural checks (as geoservice validate does).
    problems, _ = check_structure(edited.directory(tmp_path))
    assert problems == []


def test_create_and_delete_and_their_history(client):
    source = orjson.loads((DATA_DIR / "places.geojson").read_bytes())["features"][0]
    feature = {
        "type": "Feature",
        "geometry": source["geometry"],  # a real place's point
        "properties": {
            **{k: v for k, v in source["properties"].items() if k != "id"},
            "id": "test-created-place",
            "name": "Created in a test",
        },
    }
    created = client.post(
        "/api/collections/places/items",
        json={**feature, "source": "test: created"},
        headers=auth(BOB),
    )
    assert created.status_code == 201, created.get_json()
    assert created.headers["Location"].endswith("/items/test-created-place")
    etag = created.headers["ETag"]
    assert client.get("/api/collections/places/items/test-created-place").status_code == 200
    gone = client.delete(
        "/api/collections/places/items/test-created-place",
        headers={**auth(BOB, etag), "X-Source": "test: removed"},
    )
    assert gone.status_code == 204
    assert client.get("/api/collections/places/items/test-created-place").status_code == 404
    history = client.get("/api/collections/places/items/test-created-place/history").get_json()
    assert [r["action"] for r in history["revisions"]] == ["create", "delete"]
    assert history["revisions"][1]["before"]["properties"]["name"] == "Created in a test"


def test_a_restart_finds_the_edits_and_their_history(client, edited):
    etag = etag_of(client, "places", "AFG-andkhoy")
    client.patch(
        "/api/collections/places/items/AFG-andkhoy",
        json={"properties": {"population": 71731}, "source": "test: restart"},
        headers=auth(BOB, etag),
    )
    again = edited.app().test_client()
    feature = again.get("/api/collections/places/items/AFG-andkhoy").get_json()
    assert feature["properties"]["population"] == 71731
    assert (
        again.get("/api/collections/places/items/AFG-andkhoy").headers["ETag"]
        == (client.get("/api/collections/places/items/AFG-andkhoy").headers["ETag"])
    )
    revisions = again.get("/api/collections/places/items/AFG-andkhoy/history").get_json()
    assert len(revisions["revisions"]) >= 2


def test_cors_advertises_writes_only_on_items_of_a_writable_service(client, edited):
    def allowed(c, path, method):
        response = c.options(
            path,
            headers={"Origin": "https://example.org", "Access-Control-Request-Method": method},
        )
        return response.headers.get("Access-Control-Allow-Methods", "")

    assert "PATCH" in allowed(client, f"/api/collections/borders/items/{STRETCH}", "PATCH")
    assert "POST" in allowed(client, "/api/collections/borders/items", "POST")
    assert "PATCH" not in allowed(client, "/api/collections", "PATCH")
    read_only = edited.app(tokens="").test_client()
    assert "PATCH" not in allowed(read_only, f"/api/collections/borders/items/{STRETCH}", "PATCH")
    refused = read_only.patch(f"/api/collections/borders/items/{STRETCH}", json={})
    assert refused.status_code == 405


def test_another_server_on_the_same_data_shows_an_edit_at_once(client, edited):
    """A second app on the same data (another gunicorn worker, another host on the database)
    shows a write made through the first at its next request: the feature, the map's page of
    display geometry (a new ETag, no 304) and the engine's lengths."""
    other = edited.app().test_client()
    fid, pair = "ARM-AZE-main-1", "ARM,AZE"
    page = f"/api/collections/borders/items?countries={pair}&zoom=7&limit=1000&f=json"
    seen = other.get(page)
    before_km = lengths(other, "2026-07-01", pair)
    assert seen.status_code == 200
    settle(client, fid, "test: seen by another server")
    assert other.get(f"/api/collections/borders/items/{fid}").get_json()["properties"][
        "valid_to"
    ] == ("2026-06-01")
    again = other.get(page, headers={"If-None-Match": seen.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != seen.headers["ETag"]
    assert f"{fid}-settled" in ids_on(other, "2026-07-01", pair)
    assert lengths(other, "2026-07-01", pair) != before_km
    assert lengths(other, "2026-07-01", pair) == lengths(client, "2026-07-01", pair)


def test_geoservice_validate_reads_a_database(postgis_database, tmp_path):
    """``geoservice validate postgresql://…`` checks the database's data (here a row changed
    behind the service's back to a status the vocabulary lacks): one line, exit status 1."""
    import psycopg
    from click.testing import CliRunner

    from geoservice.cli import cli

    dsn = postgis_database(copy_data(tmp_path / "data"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            'UPDATE geoservice.borders SET props = props || \'{"status": "perhaps"}\' '
            "WHERE id = %s",
            [STRETCH],
        )
    result = CliRunner().invoke(cli, ["validate", dsn])
    assert result.exit_code == 1
    assert STRETCH in result.stderr and "perhaps" in result.stderr
    unreachable = CliRunner().invoke(cli, ["validate", "postgresql://nobody@127.0.0.1:1/none"])
    assert unreachable.exit_code == 1 and "cannot connect" in unreachable.stderr


def test_concurrent_writers_with_one_etag_one_wins_the_rest_get_412(client, edited):
    """Eight writers in two store instances (two processes' worth) send the same If-Match at
    once: exactly one write is stored, the other seven are refused, nothing is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from geoservice.store import ConflictError, Edit

    fid = "AFG-kunduz"
    etag = etag_of(client, "places", fid).strip('"')  # the header quotes it
    stores = [edited.store(), edited.store()]

    def write(n: int) -> str:
        edit = Edit("alice", f"test: writer {n}", None, etag)
        try:
            stores[n % 2].update("places", fid, {"properties": {"notes": f"writer {n}"}}, edit)
        except ConflictError:
            return "412"
        return f"writer {n}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(write, range(8)))
    (winner,) = [o for o in outcomes if o != "412"]
    assert outcomes.count("412") == 7
    assert client.get(f"/api/collections/places/items/{fid}").get_json()["properties"]["notes"] == (
        winner
    )
    history = client.get(f"/api/collections/places/items/{fid}/history").get_json()
    assert [r["after"]["properties"]["notes"] for r in history["revisions"]] == [winner]
    for store in stores:
        store.close()


def test_a_database_loaded_before_edits_takes_them_and_a_reload_keeps_history(
    postgis_database, tmp_path
):
    """A database without the revisions table (loaded by an older ``geoservice load``) gets it
    when served with tokens; a write then has its revision. Loading the directory again puts
    back its data and keeps the revisions, numbered on."""
    import psycopg

    from geoservice.store import Edit, PostgisStore
    from geoservice.store.postgis import load_directory

    data_dir = copy_data(tmp_path / "data")
    dsn = postgis_database(data_dir)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE geoservice.revisions")
    read_only = PostgisStore(dsn)
    assert read_only.history("places", "AFG-andkhoy") == [] and not read_only.writable
    read_only.close()
    store = PostgisStore(dsn, writable=True)
    etag = store.etag(store.get("places", "AFG-andkhoy"))
    patch = {"properties": {"notes": "after the upgrade"}}
    store.update("places", "AFG-andkhoy", patch, Edit("alice", "test: upgrade", None, etag))
    (revision,) = store.history("places", "AFG-andkhoy")
    assert revision.number == 1 and revision.after["properties"]["notes"] == "after the upgrade"
    shipped = load_catalog(data_dir)["places"]
    original = shipped.features[shipped.index_by_id["AFG-andkhoy"]]["properties"].get("notes")
    load_directory(dsn, data_dir)
    assert store.get("places", "AFG-andkhoy")["properties"].get("notes") == original
    assert store.history("places", "AFG-andkhoy") == [revision]
    etag = store.etag(store.get("places", "AFG-andkhoy"))
    store.update("places", "AFG-andkhoy", patch, Edit("alice", "test: again", None, etag))
    assert [r.number for r in store.history("places", "AFG-andkhoy")] == [1, 2]
    store.close()


def test_a_new_geometry_is_measured_at_once(client):
    """A PATCH of the geometry (here the first half of the Armenia-Iran line's own vertices)
    is measured as the load measures (geodesic km on WGS84): the feature's length_km and the
    pair's length on a date follow at once, on either store."""
    import shapely.geometry

    from geoservice import geodesy

    fid, url = "ARM-IRN-1", "/api/collections/borders/items/ARM-IRN-1"
    (line,) = client.get(url).get_json()["geometry"]["coordinates"]
    part = {"type": "MultiLineString", "coordinates": [line[: len(line) // 2]]}
    around = shapely.geometry.mapping(shapely.geometry.LineString(line).envelope.buffer(0.05))

    def overlap_km() -> float:
        """The line's km inside a box around it, from the analysis process."""
        answer = client.post("/api/overlaps?layers=borders&as_of=2026-01-01", json=around)
        assert answer.status_code == 200, answer.get_json()
        return sum(h["length_km"] for h in answer.get_json()["results"] if h["b"]["id"] == fid)

    assert overlap_km() > 40  # the analysis process now holds the whole line
    response = client.patch(
        url,
        json={"geometry": part, "source": "test: the line's first half"},
        headers=auth(ALICE, etag_of(client, "borders", fid)),
    )
    assert response.status_code == 200, response.get_json()
    km = geodesy.length_km(shapely.geometry.shape(part))
    assert 10 < km < 40  # a real part of the 47 km line
    assert client.get(url).get_json()["properties"]["length_km"] == pytest.approx(km, abs=1e-3)
    pair = client.get("/api/lengths?countries=ARM,IRN&as_of=2026-01-01").get_json()
    assert pair["total_km"] == pytest.approx(km, abs=1e-3)
    # overlaps run in a process forked from the server's: it must see the edit too
    assert overlap_km() == pytest.approx(km, abs=1e-3)
