"""stdpnet: online STDP learning in convolutional spiking winner-take-all networks from event streams.

The model is that of Thiele, Bichler & Dupret (2018) / J. C. Thiele's thesis (2019, ch. 3).
"""
from .errors import (CheckpointError, ConfigError, ParameterError, RunDirError, SourceError, SpecError,
                     StdpnetError)
from .layers import ConvWTA, DenseWTA, LayerParams, Pool
from .network import Network, RunResult
from .rules import RSTDPParams, STDPParams
from .spec import PRESETS, parse_spec, resolve_config

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "ConfigError", "ConvWTA", "RunDirError", "SourceError", "StdpnetError", "DenseWTA", "LayerParams", "Network", "ParameterError", "PRESETS",
    "Pool", "RSTDPParams", "RunResult", "SpecError", "STDPParams", "parse_spec", "resolve_config",
]
