"""Event streams for stdpnet: reading event files, labelled data sets, encoders, one continuous
labelled stream, and its cutting into simulator ticks.

Typical use::

    import streams
    dataset = streams.NMNISTFolder(streams.data_root() / "nmnist" / "Train")
    train, test = dataset.split(0.8, seed=0)
    stream = streams.LabelledStream(train, shuffle=True, seed=0)
    for chunk in streams.tick_chunks(stream, dt_us=1000):
        ...  # chunk.events, chunk.offsets, chunk.sample, chunk.label

Events are :data:`EVENT_DTYPE` structured arrays (x, y, t in microseconds, p), the tonic
convention, so tonic transforms apply unchanged.
"""
from .datasets import (
    EncodedImages,
    LabelledDataset,
    MNISTImages,
    NMNISTFolder,
    SkippedFile,
    Subset,
    data_root,
    read_idx,
    stratified_split,
)
from .describe import describe
from .encoders import LatencyEncoder, PeriodicEncoder, PoissonEncoder
from .events import (
    EVENT_DTYPE,
    EventStreamError,
    EventStreamWarning,
    SensorSize,
    as_events,
    check_events,
    check_sensor_size,
    make_events,
)
from .readers import (
    FORMATS,
    detect_format,
    read_aedat2,
    read_aedat4,
    read_events,
    read_nmnist_bin,
    read_npy,
    read_prophesee_dat,
    read_prophesee_raw,
    save_events,
    sensor_size_from_events,
)
from .replay import RealTimeReplay
from .stream import LabelledStream, Segment
from .synthetic import SyntheticBars
from .ticks import Tick, TickChunk, tick_chunks, ticks

__all__ = [
    "EVENT_DTYPE",
    "FORMATS",
    "EncodedImages",
    "EventStreamError",
    "EventStreamWarning",
    "LabelledDataset",
    "LabelledStream",
    "LatencyEncoder",
    "MNISTImages",
    "NMNISTFolder",
    "PeriodicEncoder",
    "PoissonEncoder",
    "RealTimeReplay",
    "Segment",
    "SensorSize",
    "SkippedFile",
    "Subset",
    "SyntheticBars",
    "Tick",
    "TickChunk",
    "as_events",
    "check_events",
    "check_sensor_size",
    "data_root",
    "describe",
    "detect_format",
    "make_events",
    "read_aedat2",
    "read_aedat4",
    "read_events",
    "read_idx",
    "read_nmnist_bin",
    "read_npy",
    "read_prophesee_dat",
    "read_prophesee_raw",
    "save_events",
    "sensor_size_from_events",
    "stratified_split",
    "tick_chunks",
    "ticks",
]
