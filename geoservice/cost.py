"""The cost of an overlap before it is computed, the budget it must fit, and a deadline.

The work of an overlap is GEOS noding both inputs of each candidate pair (features whose boxes
meet, from the layers' spatial indexes), plus every place where the user's own lines cross
each other, since each crossing becomes a node (and a piece of the answer) in every candidate
whose box holds it. So the estimate, in *vertex operations*, is

    work = sum over candidate features f of (vertices of f + user vertices near f
                                             + user self-crossings inside f's box)

with the self-crossings counted exactly on a sample of the user's edges and scaled up. A query
over ``settings().max_work`` is refused before any work (422, the message says the numbers and how to
get under them). Accepted work runs under a :class:`Deadline` checked before each pair, so no
request computes for more than ``settings().analysis_seconds`` (:mod:`geoservice.settings`).

Calibration (this 2-core machine, one core): about 1.5 million vertex operations per second
for random lines against the countries layer; see BENCHMARKS.md ("Hostile requests").
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import shapely

from .settings import settings

T = TypeVar("T")

#: User edges whose crossings are counted exactly; the rest is scaled from them.
CROSSING_SAMPLE = 200
#: Longest piece (degrees) a sampled edge is cut into before it is looked up in an edge index.
PIECE_DEG = 0.25


class BudgetError(ValueError):
    """A query whose estimated work is over ``settings().max_work`` (HTTP 422)."""


class DeadlineError(ValueError):
    """Work that ran past its deadline and was stopped (HTTP 503: try again, or ask less)."""


class Deadline:
    """A wall-clock limit; :meth:`check` raises :class:`DeadlineError` once it has passed."""

    def __init__(self, seconds: float | None = None, limit: float | None = None) -> None:
        self.seconds = settings().analysis_seconds if seconds is None else seconds
        self.limit = self.seconds if limit is None else limit  # as said in messages
        self.started = time.monotonic()
        self.cpu_started: float | None = None  # CPU time of the working thread at its 1st check

    def check(self) -> None:
        if self.cpu_started is None:
            self.cpu_started = time.thread_time()
        if time.monotonic() - self.started > self.seconds:
            busy = time.thread_time() - self.cpu_started < 0.5 * self.seconds
            reason = (
                "the service is busy; try again in a moment"
                if busy
                else "ask for fewer layers, a smaller area or a simpler geometry"
            )
            raise DeadlineError(f"stopped after the {self.limit:g} s limit of an overlap: {reason}")


@dataclass
class Estimate:
    """What a query will cost (see the module docstring)."""

    user_vertices: int = 0
    candidates: int = 0
    candidate_vertices: int = 0
    self_crossings: int = 0
    crossings: int = 0
    work: int = 0

    def check(self, limit: int | None = None, max_crossings: int | None = None) -> None:
        """Raise :class:`BudgetError` with the numbers when over a limit (default: the
        settings' ``max_work`` and ``max_crossings``)."""
        limit = settings().max_work if limit is None else limit
        max_crossings = settings().max_crossings if max_crossings is None else max_crossings
        if self.crossings > max_crossings:
            raise BudgetError(
                f"this overlap would cut the geometry at about {self.crossings:,} places where "
                f"lines cross (its own lines: about {self.self_crossings:,}); the limit is "
                f"{max_crossings:,}. Send fewer or shorter lines, lines that do not cross each "
                "other, fewer layers (layers=...), or split the geometry into several requests"
            )
        if self.work <= limit:
            return
        parts = [f"{self.candidates} candidate features with {self.candidate_vertices:,} vertices"]
        if self.user_vertices:
            parts.insert(0, f"a geometry of {self.user_vertices:,} vertices")
        if self.self_crossings:
            parts.append(f"about {self.self_crossings:,} places where its lines cross each other")
        raise BudgetError(
            f"this overlap would take about {self.work:,} vertex operations "
            f"({', '.join(parts)}); the limit is {limit:,}. Send fewer vertices or lines that "
            "do not cross each other, a smaller area, or fewer layers (layers=...), or split "
            "the geometry into several requests"
        )


def feature_vertices(layer) -> np.ndarray:
    """Number of vertices of each feature of a layer, computed once per loaded layer."""
    cache = vars(layer)
    if "_cost_vertices" not in cache:
        geoms = np.asarray(layer.frame.geometry.values, dtype=object)
        cache["_cost_vertices"] = shapely.get_num_coordinates(geoms).astype(np.int64)
    return cache["_cost_vertices"]


def _edges(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every edge of the lines and polygon rings of ``geoms`` as a 2-vertex line, and the
    number of the geometry it belongs to (points have none)."""
    geoms = np.asarray(geoms, dtype=object)
    lines = np.where(shapely.get_dimensions(geoms) == 2, shapely.boundary(geoms), geoms)
    parts, owner = shapely.get_parts(lines, return_index=True)
    parts, owner = _flatten(parts, owner)
    coords, index = shapely.get_coordinates(parts, return_index=True)
    starts = np.flatnonzero(index[1:] == index[:-1])
    segs = np.stack((coords[starts], coords[starts + 1]), axis=1)
    return shapely.linestrings(segs), owner[index[starts]]


def _flatten(parts: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    while len(parts) and np.any(shapely.get_type_id(parts) >= 4):
        parts, idx = shapely.get_parts(parts, return_index=True)
        owner = owner[idx]
    keep = shapely.get_dimensions(parts) == 1 if len(parts) else np.zeros(0, dtype=bool)
    return parts[keep], owner[keep]


def layer_edges(layer) -> tuple[shapely.STRtree, np.ndarray]:
    """A spatial index over every edge of a layer's features and each edge's feature row;
    built on first use, kept with the loaded layer."""
    cache = vars(layer)
    if "_cost_edges" not in cache:
        edges, owner = _edges(layer.frame.geometry.values)
        cache["_cost_edges"] = (shapely.STRtree(edges), owner)
    return cache["_cost_edges"]


def _sample(n: int, sample: int = CROSSING_SAMPLE) -> np.ndarray:
    """Up to ``sample`` evenly spaced indexes of ``range(n)``."""
    return np.unique(np.linspace(0, n - 1, min(sample, n)).astype(np.int64))


def estimate_geometry(catalog, geometry: shapely.Geometry, layer_ids, valid_rows) -> Estimate:
    """The cost of overlapping a user geometry with layers; ``valid_rows(layer)`` gives the
    rows of a layer taking part (valid on the query date)."""
    from .overlay import CLIP_USER_VERTICES, part_boxes, simple_parts

    parts = simple_parts(geometry)
    part_vertices = shapely.get_num_coordinates(parts).astype(np.int64)
    boxes_of_parts = part_boxes(geometry)
    estimate = Estimate(user_vertices=int(part_vertices.sum()))
    edges, owner = _edges(parts)
    picked = _sample(len(edges))
    n, k = len(edges), len(picked)
    if k > 1:
        # Crossings among the sampled edges, scaled by the number of pairs.
        src, hit = shapely.STRtree(edges[picked]).query(edges[picked], predicate="intersects")
        i, j = picked[src], picked[hit]
        counted = (i < j) & ~((j - i == 1) & (owner[i] == owner[j]))
        estimate.self_crossings = round(float(counted.sum() * n * (n - 1) / (k * (k - 1))))
    # Sampled edges cut into short pieces, so the layers' edge indexes answer with few boxes.
    pieces, _ = _edges(shapely.segmentize(edges[picked], PIECE_DEG)) if k else (edges[:0], None)
    scale = n / max(k, 1)
    minx, miny, maxx, maxy = geometry.bounds
    user_area = max((maxx - minx) * (maxy - miny), 1e-12)
    crossings = 0.0
    for lid in layer_ids:
        layer = catalog[lid]
        src, rows = layer.tree.query(shapely.box(*boxes_of_parts.T))
        valid = np.zeros(len(layer.features), dtype=bool)
        valid[valid_rows(layer)] = True
        keep = valid[rows]
        src, rows = src[keep], rows[keep]
        if not len(rows):
            continue
        near = np.bincount(rows, weights=part_vertices[src], minlength=len(valid))
        cand = np.unique(rows)
        vertices = feature_vertices(layer)[cand]
        estimate.candidates += len(cand)
        estimate.candidate_vertices += int(vertices.sum())
        estimate.work += int(vertices.sum() + near[cand].sum())
        # Where the user's edges cross the candidates' edges: exact on the sample, scaled.
        if len(pieces):
            tree, edge_owner = layer_edges(layer)
            _, hit = tree.query(pieces, predicate="intersects")
            crossings += valid[edge_owner[hit]].sum() * scale
        # Self-crossings are noded in every candidate: all of them when the geometry stays
        # whole, else those in the candidate's box (taken as spread evenly over the extent).
        if estimate.user_vertices <= CLIP_USER_VERTICES:
            crossings += estimate.self_crossings * len(cand)
            continue
        boxes = shapely.bounds(np.asarray(layer.frame.geometry.values, dtype=object)[cand])
        w = np.clip(np.minimum(boxes[:, 2], maxx) - np.maximum(boxes[:, 0], minx), 0, None)
        h = np.clip(np.minimum(boxes[:, 3], maxy) - np.maximum(boxes[:, 1], miny), 0, None)
        crossings += estimate.self_crossings * np.minimum(w * h / user_area, 1.0).sum()
    estimate.crossings = round(float(crossings))
    return estimate


def estimate_pairs(la, lb, ia: np.ndarray, ib: np.ndarray) -> Estimate:
    """The cost of intersecting features ``ia`` of layer ``la`` with ``ib`` of ``lb``."""
    va, vb = feature_vertices(la)[ia], feature_vertices(lb)[ib]
    # A point against a shape is clipped to the point's box first: a few vertices, not all.
    point = (va == 1) | (vb == 1)
    va, vb = np.where(point, 1, va), np.where(point, 1, vb)
    return Estimate(
        candidates=len(np.unique(ia)) + len(np.unique(ib)),
        candidate_vertices=int(va.sum() + vb.sum()),
        work=int(va.sum() + vb.sum()),
    )


# --- running accepted work: in a low-priority process of its own --------------------------

#: How much lower (Linux nice) the analysis process runs than the process answering requests,
#: so that a busy analysis does not slow the normal requests sharing the cores (19: the
#: lowest, about 1/70 of a normal process's share of a busy core); the triage process, whose
#: work is short, a little higher.
ANALYSIS_NICE = 19
TRIAGE_NICE = 10


class BusyError(RuntimeError):
    """Too many analyses already running or waiting in this serving process (HTTP 503 at once,
    with Retry-After)."""


class AnalysisFailed(RuntimeError):
    """The analysis process died (out of memory, a crash): answered 503, the process is
    started again for the next request."""


#: The catalogs analyses read, by ``id``: the analysis process inherits them when it is forked.
_catalogs: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: Catalog id -> the token of the data it had when last sent (:func:`_warm`).
_tokens: dict[int, object] = {}
_UNKNOWN = object()


def _warm(catalog) -> object:
    """Load in this (serving) process what the engine may read, so that an analysis process
    forked after it shares the data copy-on-write, and return a token of that data: when it
    changes (an edit), the analysis process is forked again. A store's
    :meth:`~geoservice.store.base.Store.warm`; a plain catalog never changes."""
    warm = getattr(catalog, "warm", None)
    return warm() if warm is not None else None


def _release_inherited_sockets(keep: int) -> None:
    """Point every inherited socket but ``keep`` at /dev/null. A forked copy of a client's
    connection would keep it open after the server closed it (the client then waits on a dead
    keep-alive connection), and of a database connection could end the parent's session. The
    numbers stay taken, so nothing reuses them."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return  # not Linux
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in names:
            fd = int(name)
            if fd in (keep, null):
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
            except OSError:
                continue  # closed meanwhile (e.g. the listing's own descriptor)
    finally:
        os.close(null)


def _detach_from_parent(conn, parent_end, nice: int) -> None:
    """In the analysis process: the default signal handlers (not the serving process's, e.g.
    gunicorn's, which would ignore SIGTERM) and only our end of the pipe, so that it ends
    when its parent does."""
    for name in ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGCHLD"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    # No PR_SET_PDEATHSIG: it fires when the forking *thread* ends (a server may run each
    # request on a thread of its own). With only our end of the pipe open here, the parent's
    # death is an end of file on it.
    parent_end.close()
    _release_inherited_sockets(keep=conn.fileno())
    try:
        os.nice(nice)
    except OSError:
        pass


def _serve_analyses(conn, parent_end, nice: int) -> None:
    """The analysis process: run ``(work, catalog id, kwargs, seconds)`` requests from
    ``conn`` one at a time, sending back ``(True, answer)`` or ``(False, exception)``."""
    _detach_from_parent(conn, parent_end, nice)
    while True:
        try:
            work, catalog_id, kwargs, seconds, limit = conn.recv()
            reply = (True, work(_catalogs[catalog_id], Deadline(seconds, limit), **kwargs))
        except (EOFError, OSError):
            return  # the parent is gone
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            reply = (False, exc)
        try:
            try:
                conn.send(reply)
            except (OSError, EOFError):
                return
            except Exception as exc:  # noqa: BLE001 - e.g. an answer that does not pickle
                conn.send((False, RuntimeError(f"analysis answer not sent: {exc!r}")))
        except (OSError, EOFError):
            return


class Admission:
    """The serving threads a process lets into its triage and analysis processes: one at work
    and ``analysis_queue`` waiting; more would hold threads that ordinary requests need, so
    they get :class:`BusyError` at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.admitted = 0

    def __enter__(self) -> None:
        with self.lock:
            if self.admitted > settings().analysis_queue:
                raise BusyError(
                    "the service is busy with other analyses; try again in a few seconds"
                )
            self.admitted += 1

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.admitted -= 1


class AnalysisProcess:
    """One analysis process per serving process (forked on first use, and again after a
    fork of its parent, e.g. in each gunicorn worker): it shares the parent's data copy-on-write,
    runs one analysis at a time at a lower priority, and is killed (and started anew) when an
    analysis runs past its deadline, so no request keeps a core or holds the serving threads'
    interpreter lock."""

    def __init__(self, nice: int = ANALYSIS_NICE, admission: Admission | None = None) -> None:
        self.nice = nice
        self.admission = admission or Admission()
        self.lock = threading.Lock()
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn = None
        self.owner: int | None = None
        #: catalog id -> its data token when the process was forked (it has that data).
        self.catalogs: dict[int, object] = {}

    def _ensure(self, catalog_id: int, token: object) -> None:
        alive = self.process is not None and self.owner == os.getpid() and self.process.is_alive()
        if alive and self.catalogs.get(catalog_id, _UNKNOWN) == token:
            return
        self._stop()
        context = multiprocessing.get_context("fork")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve_analyses,
            args=(child, parent, self.nice),
            name="geoservice-analysis",
            daemon=True,
        )
        process.start()
        child.close()
        self.process, self.conn, self.owner = process, parent, os.getpid()
        self.catalogs = {cid: _tokens.get(cid) for cid in _catalogs}

    def _stop(self) -> None:
        if self.process is not None and self.owner == os.getpid():
            self.process.kill()
            self.process.join(1.0)
            self.conn.close()
        self.process = self.conn = None

    def run(self, work: Callable[..., T], catalog, kwargs: dict, seconds: float) -> T:
        """``work(catalog, deadline, **kwargs)`` in the analysis process, within ``seconds`` from now
        (waiting for an earlier analysis counts): the answer, or the exception it raised, or
        :class:`DeadlineError` (the process is killed) or :class:`AnalysisFailed`; :class:`BusyError`
        at once when ``analysis_queue`` requests already wait here."""
        started = time.monotonic()
        with self.admission:
            return self._run(work, catalog, kwargs, seconds, started)

    def _run(self, work, catalog, kwargs: dict, seconds: float, started: float):
        if not self.lock.acquire(timeout=seconds):
            raise DeadlineError(
                f"stopped after the {seconds:g} s limit of an overlap: the service is busy; "
                "try again in a moment"
            )
        try:
            warmed = time.monotonic()
            token = _warm(catalog)
            started += time.monotonic() - warmed  # reading the data is not the analysis's time
            _catalogs[id(catalog)] = catalog
            _tokens[id(catalog)] = token
            self._ensure(id(catalog), token)
            left = seconds - (time.monotonic() - started)
            self.conn.send((work, id(catalog), kwargs, left, seconds))
            # The work stops itself at its deadline checks; a second more, then it is killed.
            if not self.conn.poll(max(left, 0) + 1.0):
                self._stop()
                raise DeadlineError(
                    f"stopped after the {seconds:g} s limit of an overlap: ask for fewer "
                    "layers, a smaller area or a simpler geometry"
                )
            ok, answer = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._stop()
            raise AnalysisFailed("the analysis stopped unexpectedly; try again") from None
        finally:
            self.lock.release()
        if not ok:
            raise answer
        return answer


#: The process that computes accepted analyses of user geometry, and the one that reads and
#: prices them (GeoJSON parsing and the work estimate: short, so a refusal never waits behind an
#: analysis); one admission for both. Layer x layer overlaps, bounded by the data and cached,
#: have a process of their own, so user geometry never starves them.
_user_admission = Admission()
_analyses = AnalysisProcess(admission=_user_admission)
_triage = AnalysisProcess(TRIAGE_NICE, admission=_user_admission)
_layer_pairs = AnalysisProcess()
_PROCESSES = {"analysis": _analyses, "triage": _triage, "layer_pairs": _layer_pairs}


def run_bounded(
    work: Callable[..., T],
    catalog,
    kwargs: dict,
    seconds: float | None = None,
    *,
    process: str = "analysis",
) -> T:
    """``work(catalog, deadline, **kwargs)`` in this serving process's ``process``
    (``analysis``, ``triage`` or ``layer_pairs``), before the deadline of ``seconds`` (default:
    the settings' ``analysis_seconds``). ``work`` is a module-level function (it is sent to
    the process by name); ``catalog`` is the parent's, read there copy-on-write."""
    seconds = settings().analysis_seconds if seconds is None else seconds
    return _PROCESSES[process].run(work, catalog, kwargs, seconds)
