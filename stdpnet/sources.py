"""The stdpnet side of :mod:`streams.sources`: open a SOURCE for a command, and check that it fits
a network (one check, one message, naming the presets that fit)."""
from __future__ import annotations

from typing import Any, Optional

from streams.sources import SOURCE_HELP, LiveSource, Source, check_sensor, require_recorded, resolve_source
from streams.sources import SourceError as StreamSourceError

from .errors import SourceError
from .spec import PRESETS, parse_spec

__all__ = ["SOURCE_HELP", "Source", "SourceError", "check_fits", "open_source", "preset_sensors"]


def preset_sensors() -> dict:
    """``{preset: sensor (W, H, P)}`` of every model preset."""
    return {name: parse_spec(p["net"]).sensor_size for name, p in PRESETS.items()}


def open_source(source: Any, *, command: str = "train", seed: int = 0, window_us: Optional[int] = None,
                synthetic_sensor=None) -> Source:
    """Resolve a recorded SOURCE (text or data set object) for ``stdpnet COMMAND``; a live
    ``udp://`` source or a malformed one is a :class:`SourceError`."""
    try:
        resolved = resolve_source(source, seed=seed, window_us=window_us, synthetic_sensor=synthetic_sensor)
        return require_recorded(resolved, command)
    except StreamSourceError as e:
        raise SourceError(str(e)) from None


def check_fits(source: Source, network) -> None:
    """Raise :class:`SourceError` unless ``source``'s sensor is ``network``'s input."""
    try:
        check_sensor(source.sensor_size, network.sensor_size, source=source.text, network=network.spec.text,
                     fits=preset_sensors())
    except StreamSourceError as e:
        raise SourceError(str(e)) from None
