"""Edits planned once for every store (OGC API - Features Part 4).

A store that takes writes subclasses :class:`EditingStore` and implements only ``_write``: run
the plan on a :class:`Draft` of the layer (inside its lock or transaction), then make the
:class:`Plan`'s changes durable and return the :class:`~.base.Revision`. What a write means is
decided here, the same for the file store and PostGIS: the feature cleaned and checked as
``geoservice validate`` checks the files, ``If-Match`` against the current ETag
(:class:`~.base.ConflictError`), RFC 7396 merge for PATCH, and a change on a date (``edit.on``)
closing the old state's ``valid_to`` and opening a new state under a new id.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..layers import Layer
from ..validate import check_feature
from .base import ConflictError, Edit, EditError, MissingError, Revision, Store

#: Properties the API adds when serving (measured, translated): never stored.
SERVED_ONLY = frozenset({"length_km", "area_km2", "label"})
#: Properties whose change on a date opens a new state named after the new value.
STATE_FIELDS = ("status", "state", "held_by", "area_kind", "kind")


class Draft(Protocol):
    """What a plan reads of the layer being written, inside the store's write."""

    layer: Layer

    def current(self, feature_id: str) -> dict | None:
        """The stored feature (as ``Store.get`` returns it), or None."""

    def in_use(self, feature_id: str) -> bool:
        """Whether any layer of the store holds ``feature_id``."""


@dataclass
class Plan:
    """One write, decided: ``changes`` maps ids to their new features (None: removed);
    ``before``/``after`` are the written feature's; ``opened`` the ids of new dated states."""

    action: str
    feature_id: str
    changes: dict[str, dict | None]
    before: dict | None
    after: dict | None
    opened: list[str] = field(default_factory=list)

    def revision(self, number: int, layer_id: str, edit: Edit, at: str | None = None) -> Revision:
        """The revision record of this plan as the store's write number ``number``."""
        return Revision(
            number=number,
            layer_id=layer_id,
            feature_id=self.feature_id,
            action=self.action,
            author=edit.author,
            source=edit.source,
            at=at or utc_now(),
            before=self.before,
            after=self.after,
            opened=list(self.opened),
        )


def utc_now() -> str:
    """Now as RFC 3339 UTC to the second (a revision's ``at``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EditingStore(Store):
    """A store whose writes are planned here; subclasses implement :meth:`_write`."""

    def _write(self, layer_id: str, edit: Edit, plan: Callable[[Draft], Plan]) -> Revision:
        """Run ``plan`` on a draft of the layer and store its changes durably, atomically."""
        raise NotImplementedError

    def create(self, layer_id: str, feature: dict, edit: Edit) -> Revision:
        return self._write(layer_id, edit, lambda draft: plan_create(draft, feature, edit))

    def replace(self, layer_id: str, feature_id: str, feature: dict, edit: Edit) -> Revision:
        def plan(draft: Draft) -> Plan:
            current = checked_current(draft, feature_id, edit, self.etag)
            new = clean(draft.layer, feature, edit, feature_id)
            return changed("replace", current, new, edit, draft.in_use)

        return self._write(layer_id, edit, plan)

    def update(self, layer_id: str, feature_id: str, patch: dict, edit: Edit) -> Revision:
        def plan(draft: Draft) -> Plan:
            current = checked_current(draft, feature_id, edit, self.etag)
            new = clean(draft.layer, merge_patch(current, patch), edit, feature_id)
            return changed("update", current, new, edit, draft.in_use)

        return self._write(layer_id, edit, plan)

    def delete(self, layer_id: str, feature_id: str, edit: Edit) -> Revision:
        def plan(draft: Draft) -> Plan:
            current = checked_current(draft, feature_id, edit, self.etag)
            return Plan("delete", feature_id, {feature_id: None}, current, None)

        return self._write(layer_id, edit, plan)


def plan_create(draft: Draft, feature: dict, edit: Edit) -> Plan:
    """A new feature; its ``properties.id`` must be free in every layer."""
    _check_source(edit)
    new = clean(draft.layer, feature, edit)
    fid = new["properties"]["id"]
    if draft.in_use(fid):
        raise EditError(f"id {fid!r} is already in use")
    return Plan("create", fid, {fid: new}, None, new)


def checked_current(draft: Draft, feature_id: str, edit: Edit, etag: Callable[[dict], str]) -> dict:
    """The stored feature, checked against ``edit.if_match`` (MissingError, ConflictError)."""
    _check_source(edit)
    current = draft.current(feature_id)
    if current is None:
        raise MissingError(f"collection {draft.layer.id} has no feature {feature_id!r}")
    if edit.if_match != etag(current):
        raise ConflictError(
            f"If-Match {edit.if_match!r} is not the current ETag of {feature_id} "
            "(it changed since it was read: read it again)"
        )
    return current


def clean(layer: Layer, feature: object, edit: Edit, feature_id: str | None = None) -> dict:
    """A feature as stored: GeoJSON, the served-only fields dropped, the source cited,
    checked as ``geoservice validate`` checks the files (EditError listing problems)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise EditError("send a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise EditError("the feature has no properties object")
    props = {k: v for k, v in props.items() if k not in SERVED_ONLY}
    if feature_id is not None and props.setdefault("id", feature_id) != feature_id:
        raise EditError(f"properties.id {props['id']!r} is not {feature_id!r}")
    sources = props.get("sources")
    if isinstance(sources, list) and edit.source not in sources:
        props["sources"] = [*sources, edit.source]
    if _holds_nul(props):  # no store keeps it (PostgreSQL's text and jsonb refuse it)
        raise EditError("a property holds a NUL character (\\u0000)")
    new = {"type": "Feature", "geometry": feature.get("geometry"), "properties": props}
    problems = check_feature(layer, new, props)
    if problems:
        raise EditError("; ".join(problems))
    return new


def _check_source(edit: Edit) -> None:
    """The cited source and the author must be text every store keeps."""
    if _holds_nul([edit.source, edit.author]):
        raise EditError("the source cited holds a NUL character (\\u0000)")


def _holds_nul(value: object) -> bool:
    """Whether a JSON value holds a NUL character in any string (keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def merge_patch(current: dict, patch: object) -> dict:
    """``current`` with ``patch`` applied: its geometry if given, RFC 7396 on ``properties``
    (a null removes the property)."""
    if not isinstance(patch, dict):
        raise EditError("the patch is not a JSON object")
    merged = copy.deepcopy(current)
    if "geometry" in patch:
        merged["geometry"] = patch["geometry"]
    changes = patch.get("properties") or {}
    if not isinstance(changes, dict):
        raise EditError("the patch's properties are not a JSON object")
    for name, value in changes.items():
        if value is None:
            merged["properties"].pop(name, None)
        else:
            merged["properties"][name] = value
    return merged


def changed(
    action: str, current: dict, new: dict, edit: Edit, in_use: Callable[[str], bool]
) -> Plan:
    """A replace or update: in place, or (``edit.on``) the current state closed on that date
    and a new state opened from it under a new id."""
    fid = current["properties"]["id"]
    if edit.on is None:
        return Plan(action, fid, {fid: new}, current, new)
    on = edit.on.isoformat()
    start, end = current["properties"].get("valid_from"), current["properties"].get("valid_to")
    if (start is not None and on <= start) or (end is not None and on >= end):
        raise EditError(
            f"effective date {on} is not inside {fid}'s validity [{start or '..'}, "
            f"{end or '..'}): the old state could not be closed there"
        )
    closed = copy.deepcopy(current)
    closed["properties"]["valid_to"] = on
    new["properties"]["valid_from"] = on
    new["properties"]["valid_to"] = end
    new_id = next_id(current, new, in_use)
    new["properties"]["id"] = new_id
    return Plan(action, fid, {fid: closed, new_id: new}, current, closed, [new_id])


def next_id(current: dict, new: dict, in_use: Callable[[str], bool]) -> str:
    """The id of a new dated state: the old id with its state word swapped (``…-disputed``
    to ``…-settled``), else with the date; never an id in use."""
    old, props = current["properties"], new["properties"]
    fid = old["id"]
    candidates = []
    for name in STATE_FIELDS:
        was, now = old.get(name), props.get(name)
        if isinstance(was, str) and isinstance(now, str) and was != now:
            if fid.endswith(f"-{was}"):
                candidates.append(fid[: -len(was)] + now)
            else:
                candidates.append(f"{fid}-{now}")
    candidates.append(f"{fid}-{props['valid_from']}")
    for candidate in candidates:
        if not in_use(candidate):
            return candidate
    raise EditError(f"no free id for the new state of {fid}; give properties.id")
