"""Read a running service's collections with QGIS's OAPIF provider (run by tests/test_qgis.py).

    QT_QPA_PLATFORM=offscreen python3 tests/qgis_oapif.py BASE_URL '[["layer", "subset"], ...]'

Runs under the system python3 with Debian's python3-qgis (not the project's virtual
environment). For every collection of ``BASE_URL/api`` it prints one JSON line:
``{"layer", "valid", "geometry" (QGIS's WKB type name), "count" (features read),
"feature_count" (what the provider reports)}``; for each ``[layer, subset]`` pair given, a line
``{"layer", "subset", "valid", "count", "urls"}`` with the features read under that subset
string (a QGIS filter expression) and the items URLs QGIS requested while reading them.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsNetworkAccessManager,
    QgsNetworkRequestParameters,
    QgsVectorLayer,
    QgsWkbTypes,
)


def oapif_layer(api: str, typename: str) -> QgsVectorLayer:
    """The collection ``typename`` of the OGC API at ``api`` as a QGIS layer (OAPIF)."""
    return QgsVectorLayer(f"url='{api}' typename='{typename}'", typename, "OAPIF")


def read(layer: QgsVectorLayer) -> int:
    """Features read from the layer (every page, as drawing it would)."""
    return sum(1 for _ in layer.getFeatures(QgsFeatureRequest()))


def main() -> int:
    base, subsets = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    api = f"{base}/api"
    app = QgsApplication([], True)  # GUI: the provider opens a progress dialog
    app.initQgis()
    requested: list[str] = []
    QgsNetworkAccessManager.instance().requestAboutToBeCreated[QgsNetworkRequestParameters].connect(
        lambda request: requested.append(request.request().url().toString())
    )
    with urllib.request.urlopen(f"{api}/collections?f=json") as answer:
        names = [c["id"] for c in json.load(answer)["collections"]]
    for name in names:
        layer = oapif_layer(api, name)
        valid = layer.isValid()
        print(
            json.dumps(
                {
                    "layer": name,
                    "valid": valid,
                    "geometry": QgsWkbTypes.displayString(layer.wkbType()) if valid else None,
                    "count": read(layer) if valid else None,
                    "feature_count": layer.featureCount() if valid else None,
                }
            ),
            flush=True,
        )
    for name, subset in subsets:
        layer = oapif_layer(api, name)
        valid = layer.isValid() and layer.setSubsetString(subset)
        app.processEvents()  # the signals of earlier requests, then only this layer's
        requested.clear()
        count = read(layer) if valid else None
        app.processEvents()  # requests made in the provider's threads are signalled queued
        urls = [u for u in requested if "/items" in u]
        print(
            json.dumps(
                {"layer": name, "subset": subset, "valid": valid, "count": count, "urls": urls}
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    # Without QGIS's teardown: exitQgis() after the OAPIF downloads crashes QGIS 3.22 offscreen.
    os._exit(status)
