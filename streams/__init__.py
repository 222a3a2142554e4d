"""Event streams for stdpnet: reading event files, labelled data sets, encoders, one continuous
labelled stream, and its cutting into simulator ticks.

Typical use::

    import streams
    dataset = streams.NMNISTFolder(streams.data_root() / "nmnist" / "Train")
    train, test = dataset.split(0.8, seed=0)
    stream = streams.LabelledStream(train, shuffle=True, seed=0)
    for chunk in streams.tick_chunks(stream, dt_us=1000):
        ...  # chunk.events, chunk.offsets, chunk.sample, chunk.label

Continual learning: :class:`TaskSequence` builds task sequences from a protocol string
(``split:5x2``, ``domain:mirror``, ...; :mod:`streams.protocols`) and :func:`sequence_stream` lays
them end to end in one stream; :mod:`streams.transforms` holds the domain transforms.

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
from .protocols import DomainItem, Protocol, ProtocolError, parse_protocol
from .recordings import DatasetAdapter, Recording, RecordingFolder, SkipBad
from .replay import RealTimeReplay
from .sources import LiveSource, Source, SourceError, SOURCE_HELP, check_sensor, parse_source, resolve_source
from .stream import LabelledStream, Segment
from .synthetic import SyntheticBars
from .tasks import SequenceDataset, SequenceStream, Task, TaskDataset, TaskSequence, sequence_stream
from .ticks import Tick, TickChunk, tick_chunks, ticks
from .transforms import Compose, Mirror, PolaritySwap, Rotate180, TimeScale, Transpose, UniformNoise

__all__ = [
    "as_events",
    "check_events",
    "check_sensor",
    "check_sensor_size",
    "Compose",
    "data_root",
    "DatasetAdapter",
    "describe",
    "detect_format",
    "DomainItem",
    "EncodedImages",
    "EVENT_DTYPE",
    "EventStreamError",
    "EventStreamWarning",
    "FORMATS",
    "LabelledDataset",
    "LabelledStream",
    "LatencyEncoder",
    "LiveSource",
    "make_events",
    "Mirror",
    "MNISTImages",
    "NMNISTFolder",
    "parse_protocol",
    "parse_source",
    "PeriodicEncoder",
    "PoissonEncoder",
    "PolaritySwap",
    "Protocol",
    "ProtocolError",
    "read_aedat2",
    "read_aedat4",
    "read_events",
    "read_idx",
    "read_nmnist_bin",
    "read_npy",
    "read_prophesee_dat",
    "read_prophesee_raw",
    "RealTimeReplay",
    "Recording",
    "RecordingFolder",
    "resolve_source",
    "Rotate180",
    "save_events",
    "Segment",
    "sensor_size_from_events",
    "SensorSize",
    "sequence_stream",
    "SequenceDataset",
    "SequenceStream",
    "SkipBad",
    "SkippedFile",
    "Source",
    "SOURCE_HELP",
    "SourceError",
    "stratified_split",
    "Subset",
    "SyntheticBars",
    "Task",
    "TaskDataset",
    "TaskSequence",
    "Tick",
    "tick_chunks",
    "TickChunk",
    "ticks",
    "TimeScale",
    "Transpose",
    "UniformNoise",
]
