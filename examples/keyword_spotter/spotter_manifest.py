"""The keyword spotter's manifest: ``asr.text`` in, ``ext.spotter.keyword`` out.

An out-of-tree worker names its manifest module in its worker entry (``manifest:
spotter_manifest`` in ``worker.yaml``); the supervisor imports it from the worker's ``cwd``
before anything starts, to check the settings and the dataflow. Keep it light: it imports the
models and the settings class, never what the loop needs to run.
"""

from spotter import KeywordSpotted, Settings

from bus.manifest import Manifest
from schemas import AsrText

MANIFEST = Manifest(
    kind="stage",
    summary="Watches transcripts for configured command words.",
    consumes={"asr.text": AsrText},
    produces={"ext.spotter.keyword": KeywordSpotted},
    settings=Settings,
)
