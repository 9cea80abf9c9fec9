"""The events layer and the sources table, from the record alone (no boundary data set).

    python geodata/events.py     # about a second: writes events.geojson and sources.json

``events.geojson``: one Point per ``[[event]]`` of ``record/events.toml``, valid from its first
day to the day after its last (``[valid_from, valid_to)``, as every layer), placed where it
happened (``approximate``). ``sources.json``: each seed article's title, author, date and
publisher (``record/seeds.toml``), checked against the article's text in the shared seeds folder
(``$SEEDS_DIR``, default ``../shared/seeds``), so the installed service, which has no seeds
folder, can cite them by title. derive.py calls :func:`main` too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import names

from geoservice.vocabulary import EVENT_KINDS


def seeds_dir() -> Path:
    """The shared seed articles (``$SEEDS_DIR`` or ``../shared/seeds``)."""
    return Path(os.environ.get("SEEDS_DIR") or HERE.parent.parent / "shared/seeds")


def cite(record: dict, keys: list[str]) -> list[str]:
    """Citations for source keys of the record (a seed's file name, or the document's text)."""
    missing = [k for k in keys if k not in record["sources"]]
    if missing:
        raise SystemExit(f"events: unknown source keys {missing}")
    return [record["sources"][k] for k in keys]


def event_features(record: dict) -> list[dict]:
    """GeoJSON Point features of the record's events, in date order."""
    out = []
    for entry in sorted(record.get("event", []), key=lambda e: (e["date"], e["id"])):
        if entry["kind"] not in EVENT_KINDS:
            raise SystemExit(f"events: {entry['id']}: kind {entry['kind']!r} not in EVENT_KINDS")
        first = dt.date.fromisoformat(entry["date"])
        last = dt.date.fromisoformat(entry.get("end_date") or entry["date"])
        if last < first:
            raise SystemExit(f"events: {entry['id']}: end_date before date")
        lon, lat = entry["lonlat"]
        props = {
            "id": entry["id"],
            "name": entry["name"],
            "valid_from": first.isoformat(),
            "valid_to": (last + dt.timedelta(days=1)).isoformat(),
            "sources": cite(record, entry["sources"]),
            "accuracy": "approximate",
            "notes": " ".join(
                filter(
                    None,
                    [
                        f"Placed at {entry['place']} (approximate: where it happened, not a "
                        + "surveyed point).",
                        entry.get("notes", ""),
                    ],
                )
            ),
            "kind": entry["kind"],
            "date": first.isoformat(),
            "end_date": last.isoformat() if last != first else None,
            "parties": entry["parties"],
            "place": entry["place"],
            "description": entry["description"],
            "casualties": entry.get("casualties") or None,
        }
        for key in ("names", "names_sources"):  # the record's (names.complete adds "en")
            if entry.get(key):
                props[key] = entry[key]
        geometry = {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}
        out.append(
            {"type": "Feature", "id": entry["id"], "geometry": geometry, "properties": props}
        )
    return out


def source_table(record: dict, folder: Path | None = None) -> dict[str, dict]:
    """Seed file name -> {title, author, date, publisher, url, notes}, checked against the text.

    A seed whose title or author is not in its file is an error: the table must say what the
    article says. Without the seeds folder the table is built from the record unchecked.
    """
    folder = folder or seeds_dir()
    table = {}
    for name, meta in sorted(record.get("seed_articles", {}).items()):
        path = folder / name
        if path.exists():
            text = " ".join(path.read_text(errors="replace").split())
            for key in ("title", "author", "date"):
                value = " ".join(str(meta.get(key, "")).split())
                if value and value not in text:
                    raise SystemExit(f"sources: {name}: {key} {value!r} is not in the article")
        else:
            print(f"sources: {path} not found; {name} not checked", file=sys.stderr)
        table[name] = {
            "file": name,
            **{k: meta.get(k) or None for k in ("title", "author", "date", "publisher", "url")},
            "notes": meta.get("notes") or None,
        }
    return table


def main(record: dict | None = None) -> None:
    """Write events.geojson and sources.json next to this file."""
    if record is None:
        from derive import read_record

        record = read_record()
    features = event_features(record)
    names.complete({"events": features}, {}, "")  # "en" from name; the record's others
    path = HERE / "events.geojson"
    with open(path, "w") as out:
        out.write('{"type": "FeatureCollection",\n"features": [\n')
        out.write(",\n".join(json.dumps(f, ensure_ascii=False) for f in features))
        out.write("\n]}\n")
    print(f"{path.name}: {len(features)} features")
    table = source_table(record)
    (HERE / "sources.json").write_text(json.dumps(table, ensure_ascii=False, indent=1) + "\n")
    print(f"sources.json: {len(table)} seed articles")


if __name__ == "__main__":
    main()
