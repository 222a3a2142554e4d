"""The typed configuration of a run, built by one merge function and validated before any work.

A run's configuration is a :class:`RunConfig` of frozen sections::

    seed = 0
    net = "nmnist"                # a preset name or a spec string (SPEC section 5)
    dt_us = 1000
    [layers.conv1]                # any layer parameter (stdpnet.layers.LayerParams keys)
    theta_learn = 8
    [layers.conv1.stdp]
    alpha_minus = -0.003
    [data]
    source = "nmnist:../shared/data/nmnist/Train"
    val_fraction = 0.2            # [0, 1)
    max_train = 640               # optional caps
    [readout]
    kind = "classifier"           # classifier | count | rstdp
    eta = 0.03                    # the readout's own parameters
    [training]
    epochs = 3
    checkpoint_every_samples = 500
    checkpoint_every_s = 60.0
    on_bad = "error"              # error | skip

:func:`merge_config` builds it from layers of dicts in this order (later wins): the experiment
defaults (:data:`EXPERIMENT_DEFAULTS`) < the preset (its network from :data:`stdpnet.spec.PRESETS`,
its experiment defaults from :data:`PRESET_EXPERIMENTS`) < a TOML/JSON file < the command line.
Every layer is checked on its own first (unknown keys with a "did you mean", wrong types, NaN,
ranges), so a :class:`~stdpnet.errors.ConfigError` names the dotted key and where it came from.
:meth:`RunConfig.to_dict` is JSON-able and :meth:`RunConfig.from_dict` gives it back exactly; the
saved form has every layer parameter spelt out and absolute data paths.

TOML has no null: the string ``"none"`` stands for None (e.g. ``r_infer = "none"``). Relative data
paths in a file are relative to the file's folder; on the command line, to the working directory.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import streams
from streams.sources import SourceError as StreamSourceError, canonical_source

from ..errors import ConfigError, ParameterError, SpecError
from ..kernels.precision import DEFAULT_PRECISION, PRECISIONS
from ..layers import RULE_NAMES, LayerParams
from ..rules import RSTDPParams, STDPParams
from ..spec import PRESETS, default_layer_params, parse_spec

READOUT_KINDS = ("classifier", "count", "rstdp")
ON_BAD = ("error", "skip")

# ---------------------------------------------------------------------------------------------
# Defaults: the experiment's own, then per preset
# ---------------------------------------------------------------------------------------------
#: Experiment defaults, the lowest layer of every merge.
EXPERIMENT_DEFAULTS: Dict[str, Any] = {
    "seed": 0,
    "net": "synthetic",
    "data": {"source": "synthetic", "val_fraction": 0.2, "max_train": None, "max_val": None, "gap_us": 0,
             "test_source": None, "window_us": None},
    "readout": {"kind": "classifier"},
    "training": {"epochs": 1, "checkpoint_every_samples": 500, "checkpoint_every_s": 60.0, "on_bad": "error"},
}

# Per readout kind, what a preset adds when that readout is chosen: the readout's parameters and,
# for R-STDP (chosen when the network is built), the top layer's rule and rates.
_RSTDP_TOP = {"rule": "rstdp"}
# R-STDP on the top layer: the source's rates (0.004, -0.003, -0.004, 0.0005) times 100. With the
# source's values fc1 barely moves within the few thousand samples available here (17.6 % on MNIST).
_RSTDP_X100 = {"rule": "rstdp", "rstdp": {"a_r_plus": 0.4, "a_r_minus": -0.3, "a_p_plus": -0.4, "a_p_minus": 0.05}}
_MNIST_DATA = ("mnist:{data_root}/mnist/train-5k-images-idx3-ubyte.gz:"
               "{data_root}/mnist/train-5k-labels-idx1-ubyte.gz")

#: Generic per-readout additions (any network): ``{kind: {"params": {...}, "top_layer": {...}}}``.
READOUT_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "classifier": {"params": {}, "top_layer": {}},
    "count": {"params": {}, "top_layer": {}},
    "rstdp": {"params": {}, "top_layer": _RSTDP_TOP},
}

#: Each preset's experiment defaults (data, readout, passes) and per-readout additions, tuned by
#: 3-fold cross-validation on the data folder (seeds 0, 1, 2: three stratified 80/20 splits), see
#: benchmarks/sweeps/ and README, "Presets and the figures they reach". ``{data_root}`` stands for
#: the data folder (``$STDPNET_DATA`` or ``../shared/data``).
PRESET_EXPERIMENTS: Dict[str, Dict[str, Any]] = {
    "mnist_reference": {
        # classifier readout and 2 passes (were: spike-count labelling, 1 pass), with fc1's inference
        # inhibition (stdpnet.spec.PRESETS): 3-fold cross-validated sweep
        # (benchmarks/sweeps/mnist_reference.toml), 0.953 +- 0.006 against 0.917 +- 0.001 on the
        # same folds. The classifier's rate is 5x below nmnist's: at eta 0.03 it reaches 0.921 after
        # one pass and loses accuracy with every further pass (its weights are unbounded).
        "data": {"source": _MNIST_DATA}, "readout": {"kind": "classifier"}, "training": {"epochs": 2},
        "readouts": {"classifier": {"params": {"eta": 0.01, "w_init_mean": 0.1, "m": 0.5}},
                     "rstdp": {"top_layer": _RSTDP_X100}},
    },
    "mnist_best": {
        # mnist_reference's readout and passes (tuned there, not swept here): 3-fold cross-validated
        # (benchmarks/sweeps/mnist_best.toml) 0.960 +- 0.003 against mnist_reference's 0.953 +- 0.006
        # on the same folds; after 1 pass 0.945 +- 0.009.
        "data": {"source": _MNIST_DATA}, "readout": {"kind": "classifier"}, "training": {"epochs": 2},
        "readouts": {"classifier": {"params": {"eta": 0.01, "w_init_mean": 0.1, "m": 0.5}},
                     "rstdp": {"top_layer": _RSTDP_X100}},
    },
    "nmnist": {
        "data": {"source": "nmnist:{data_root}/nmnist/Train"}, "readout": {"kind": "classifier"},
        "training": {"epochs": 3},
        # eta 0.1 (was 0.03): first 3-fold sweep, 0.933 +- 0.020 against 0.894 +- 0.025 on the same
        # folds. Then, with fc1's inference threshold at 10 (stdpnet.spec.PRESETS), eta 0.05 and
        # m 0.25 (benchmarks/sweeps/nmnist.toml): 0.956 +- 0.000 (folds 0.956, 0.956, 0.956)
        # against 0.933 +- 0.020 (0.919, 0.925, 0.956) on the same folds. Neighbours on those folds
        # (theta_infer 10): eta 0.03 / m 0.5 0.954, eta 0.03 / m 0.25 0.952, eta 0.05 / m 0.1
        # 0.950, eta 0.07 / m 0.25 0.946, eta 0.05 / m 0.5 0.940, eta 0.1 / m 0.5 0.896.
        # 4-6 passes did not help (0.917-0.923 with the old settings).
        "readouts": {"classifier": {"params": {"eta": 0.05, "w_init_mean": 0.3, "m": 0.25}},
                     "rstdp": {"top_layer": _RSTDP_X100}},
    },
    "synthetic": {
        "data": {"source": "synthetic"}, "readout": {"kind": "classifier"}, "training": {"epochs": 1},
    },
}


def preset_data_source(net: str) -> Optional[str]:
    """The data SOURCE a preset trains on by default, with ``{data_root}`` filled in; ``None``
    when ``net`` is no preset or its data folder is absent."""
    source = PRESET_EXPERIMENTS.get(net, {}).get("data", {}).get("source")
    if source is None or "{data_root}" not in source:
        return source
    root = streams.data_root()
    if root is None:
        return None
    return source.replace("{data_root}", str(root))


# ---------------------------------------------------------------------------------------------
# The typed sections
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkConfig:
    """``net``: preset name or spec string; ``dt_us``: tick (microseconds); ``layers``: every
    learning layer's full parameter dict (read-only); ``precision``: ``float64`` or ``float32``
    potentials and weights (:mod:`stdpnet.kernels.precision`)."""

    net: str
    dt_us: int
    layers: Dict[str, Dict[str, Any]]
    precision: str = DEFAULT_PRECISION


@dataclass(frozen=True)
class DataConfig:
    """``source``: a SOURCE (absolute paths); ``val_fraction`` in [0, 1): share held out for
    validation; ``max_train``/``max_val``: caps; ``gap_us``: silence between samples;
    ``test_source``: optional separate test SOURCE; ``window_us``: cut a single recording into
    windows of this duration."""

    source: str
    val_fraction: float = 0.2
    max_train: Optional[int] = None
    max_val: Optional[int] = None
    gap_us: int = 0
    test_source: Optional[str] = None
    window_us: Optional[int] = None


@dataclass(frozen=True)
class ReadoutConfig:
    """``kind`` (classifier | count | rstdp) and the readout's own constructor ``params``."""

    kind: str
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    """``epochs``: passes over the training samples; periodic checkpoints every
    ``checkpoint_every_samples`` samples and/or ``checkpoint_every_s`` seconds (0: off);
    ``on_bad``: a bad recording stops the run (``error``, after saving) or is skipped (``skip``)."""

    epochs: int = 1
    checkpoint_every_samples: int = 500
    checkpoint_every_s: float = 60.0
    on_bad: str = "error"


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; :meth:`to_dict` / :meth:`from_dict` round-trip exactly."""

    network: NetworkConfig
    data: DataConfig
    readout: ReadoutConfig
    training: TrainingConfig
    seed: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-able dict in the file layout (``net``, ``dt_us``, ``layers`` at the top)."""
        return {
            "seed": self.seed,
            "net": self.network.net,
            "dt_us": self.network.dt_us,
            "precision": self.network.precision,
            "layers": copy.deepcopy(self.network.layers),
            "data": {f.name: getattr(self.data, f.name) for f in fields(DataConfig)},
            "readout": {"kind": self.readout.kind, **copy.deepcopy(self.readout.params)},
            "training": {f.name: getattr(self.training, f.name) for f in fields(TrainingConfig)},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "saved configuration") -> "RunConfig":
        """The exact inverse of :meth:`to_dict`: a complete dict, validated, no defaults merged in."""
        _check_sections(d, where)
        missing = [k for k in ("seed", "net", "dt_us", "layers", "data", "readout", "training") if k not in d]
        if missing:
            raise ConfigError(f"{where}: incomplete, lacks {missing}; build a configuration with merge_config() "
                              "or give the file with --config (missing keys then take defaults)")
        for section, cls_ in (("data", DataConfig), ("training", TrainingConfig)):
            absent = [f.name for f in fields(cls_) if f.name not in d[section]]
            if absent:
                raise ConfigError(f"{where}: [{section}] lacks {absent}")
        spec_names = _layer_names(d["net"], where)
        absent = [n for n in spec_names if n not in d["layers"]]
        if absent:
            raise ConfigError(f"{where}: [layers] lacks {absent}")
        _check_layer_names(d["layers"], spec_names, d["net"], where)
        return _build(copy.deepcopy(dict(d)), where)

    def network_dict(self) -> Dict[str, Any]:
        """The dict :meth:`stdpnet.Network.from_config` takes."""
        return {"net": self.network.net, "dt_us": self.network.dt_us, "precision": self.network.precision,
                "seed": self.seed, "layers": copy.deepcopy(self.network.layers)}

    @property
    def top_layer(self) -> str:
        return parse_spec(_spec_text(self.network.net)).learning_layers[-1].name


# ---------------------------------------------------------------------------------------------
# Schema and checks
# ---------------------------------------------------------------------------------------------
_TOP_KEYS = ("seed", "net", "dt_us", "precision", "layers", "data", "readout", "training")
# old layout (before the experiment package) -> where the key lives now
_MOVED = {"training.readout": "[readout] kind = ...", "training.data": "data.source",
          "training.max_train": "data.max_train", "training.max_val": "data.max_val",
          "training.val_fraction": "data.val_fraction", "training.gap_us": "data.gap_us",
          "readouts": "[readout]", "preset": "net"}


class _Num:  # a real number (not a bool, not a string), finite
    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False, integer=False, optional=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.integer, self.optional = integer, optional

    def check(self, key: str, v: Any, where: str) -> None:
        if v is None:
            if self.optional:
                return
            _fail(key, where, "must be given (it cannot be none)")
        what = "a whole number" if self.integer else "a number"
        if isinstance(v, bool):
            _fail(key, where, f"must be {what}, got the boolean {v!r}")
        if self.integer:
            if isinstance(v, float) and v.is_integer() and math.isfinite(v):
                _fail(key, where, f"must be a whole number written without a decimal point, got {v!r}")
            if not isinstance(v, int):
                _fail(key, where, f"must be a whole number, got {_show(v)}")
        elif not isinstance(v, (int, float)):
            _fail(key, where, f"must be a number, got {_show(v)}")
        if not math.isfinite(v):
            _fail(key, where, f"must be a finite number, got {v!r}")
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            _fail(key, where, f"must be {'>' if self.lo_open else '>='} {self.lo}{self._range()}, got {v!r}")
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            _fail(key, where, f"must be {'<' if self.hi_open else '<='} {self.hi}{self._range()}, got {v!r}")

    def _range(self) -> str:
        if self.lo is None or self.hi is None:
            return ""
        return f" (in {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'})"


class _Str:
    def __init__(self, choices: Sequence[str] = (), optional=False):
        self.choices, self.optional = tuple(choices), optional

    def check(self, key: str, v: Any, where: str) -> None:
        if v is None and self.optional:
            return
        if not isinstance(v, str):
            _fail(key, where, f"must be a string, got {_show(v)}")
        if self.choices and v not in self.choices:
            _fail(key, where, f"must be one of {', '.join(map(repr, self.choices))}, got {v!r}{_suggest(v, self.choices)}")


class _Bool:
    def check(self, key: str, v: Any, where: str) -> None:
        if not isinstance(v, bool):
            _fail(key, where, f"must be true or false, got {_show(v)}")


class _Radius:
    def __init__(self, words=("global",)):
        self.words = words

    def check(self, key: str, v: Any, where: str) -> None:
        if v is None or v in self.words:
            return
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            _fail(key, where, f"must be a whole number >= 0, {' or '.join(map(repr, self.words))} or \"none\", got {_show(v)}")


class _Any:
    def check(self, key, v, where):
        pass


SCHEMA: Dict[str, Any] = {
    "seed": _Num(lo=0, integer=True),
    "net": _Str(),
    "dt_us": _Num(lo=1, integer=True),
    "precision": _Str(choices=tuple(PRECISIONS)),
    "data": {
        "source": _Str(), "val_fraction": _Num(lo=0.0, hi=1.0, hi_open=True),
        "max_train": _Num(lo=1, integer=True, optional=True), "max_val": _Num(lo=0, integer=True, optional=True),
        "gap_us": _Num(lo=0, integer=True), "test_source": _Str(optional=True),
        "window_us": _Num(lo=1, integer=True, optional=True),
    },
    "training": {
        "epochs": _Num(lo=1, integer=True), "checkpoint_every_samples": _Num(lo=0, integer=True),
        "checkpoint_every_s": _Num(lo=0.0), "on_bad": _Str(ON_BAD),
    },
}


def _show(v: Any) -> str:
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return f"the list {v!r}"
    return f"{v!r} ({type(v).__name__})"


def _fail(key: str, where: str, message: str):
    raise ConfigError(f"{key} {message} ({where})")


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(key: str, valid: Iterable[str], where: str):
    valid = sorted(valid)
    leaf = key.rsplit(".", 1)[-1]
    hint = f"; it moved to {_MOVED[key]}" if key in _MOVED else _suggest(leaf, valid)
    raise ConfigError(f"unknown key {key} ({where}){hint}; valid here: {', '.join(valid)}")


def _check_sections(d: Any, where: str) -> None:
    """Unknown top-level keys and tables of the wrong kind."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: a configuration is a table of keys, got {_show(d)}")
    for k in d:
        if k not in _TOP_KEYS:
            _unknown(str(k), _TOP_KEYS, where)
    for k in ("layers", "data", "readout", "training"):
        if k in d and not isinstance(d[k], Mapping):
            _fail(k, where, f"must be a table ([{k}]), got {_show(d[k])}")


def _check_layer(name: str, params: Any, where: str, prefix: str = "layers") -> None:
    """Types of one layer's parameter dict, from :class:`LayerParams`' own fields."""
    key = f"{prefix}.{name}"
    if not isinstance(params, Mapping):
        _fail(key, where, f"must be a table of layer parameters, got {_show(params)}")
    defaults = LayerParams()
    tables = {"stdp": STDPParams(), "rstdp": RSTDPParams()}  # the rules' parameter tables
    valid = {f.name: f for f in fields(LayerParams)} | dict.fromkeys(tables)
    for k, v in params.items():
        if k not in valid:
            _unknown(f"{key}.{k}", valid, where)
        sub = f"{key}.{k}"
        if k == "rule":
            if v is not None and v not in RULE_NAMES:
                _fail(sub, where, f"must be one of {', '.join(sorted(RULE_NAMES))}, got {_show(v)}")
            continue
        default = tables[k] if k in tables else getattr(defaults, k)
        if hasattr(default, "__dataclass_fields__"):  # a nested rule: stdp / rstdp
            if not isinstance(v, Mapping):
                _fail(sub, where, f"must be a table ([{sub}]), got {_show(v)}")
            rule_fields = {f.name for f in fields(default)}
            for rk, rv in v.items():
                if rk not in rule_fields:
                    _unknown(f"{sub}.{rk}", rule_fields, where)
                rdefault = getattr(default, rk)
                if isinstance(rdefault, bool):
                    _Bool().check(f"{sub}.{rk}", rv, where)
                elif rdefault is None or isinstance(rdefault, (int, float)):
                    _Num(optional=rdefault is None).check(f"{sub}.{rk}", rv, where)
            continue
        if k in ("r_learn", "r_infer"):
            _Radius().check(sub, v, where)
        elif isinstance(default, bool):
            _Bool().check(sub, v, where)
        elif isinstance(default, str):
            _Str().check(sub, v, where)
        elif default is None or isinstance(default, (int, float)):
            _Num(optional=default is None).check(sub, v, where)


def _check_readout(d: Mapping[str, Any], where: str) -> None:
    if "kind" in d:
        _Str(READOUT_KINDS).check("readout.kind", d["kind"], where)
    kind = d.get("kind")
    if kind is None:
        return
    valid = readout_parameters(kind)
    for k, v in d.items():
        if k == "kind":
            continue
        if k not in valid:
            if kind == "rstdp" and k == "rstdp":
                raise ConfigError(f"readout.rstdp ({where}): R-STDP rates belong to the top layer, chosen when "
                                  "the network is built: set [layers.<top>.rstdp] instead")
            _unknown(f"readout.{k}", valid, where)
        default = valid[k]
        if isinstance(default, bool):
            _Bool().check(f"readout.{k}", v, where)
        elif isinstance(default, str):
            _Str().check(f"readout.{k}", v, where)
        elif default is None or isinstance(default, (int, float)):
            _Num(optional=default is None, integer=isinstance(default, int) and k == "seed").check(
                f"readout.{k}", v, where)


def readout_parameters(kind: str) -> Dict[str, Any]:
    """The constructor parameters (with defaults) a readout ``kind`` takes from the configuration."""
    from ..readouts import CountLabelling, EventClassifier, RSTDPReadout

    cls, skip = {"classifier": (EventClassifier, {"n_inputs", "n_classes"}),
                 "count": (CountLabelling, {"n_neurons", "n_classes"}),
                 "rstdp": (RSTDPReadout, {"n_neurons", "n_classes", "rstdp"})}[kind]
    out = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[p.name] = None if p.default is inspect.Parameter.empty else p.default
    return out


def check_layer(d: Mapping[str, Any], where: str) -> None:
    """Check one layer (a dict in the file layout) on its own: keys, types, ranges."""
    _check_sections(d, where)
    for k in ("seed", "net", "dt_us", "precision"):
        if k in d:
            SCHEMA[k].check(k, d[k], where)
    for section in ("data", "training"):
        for k, v in d.get(section, {}).items():
            if k not in SCHEMA[section]:
                _unknown(f"{section}.{k}", SCHEMA[section], where)
            SCHEMA[section][k].check(f"{section}.{k}", v, where)
    if "source" in d.get("data", {}) and d["data"]["source"] is None:
        _fail("data.source", where, "must be a SOURCE string")
    _check_readout(d.get("readout", {}), where)
    for name, params in d.get("layers", {}).items():
        _check_layer(str(name), params, where)


def _spec_text(net: str) -> str:
    return PRESETS[net]["net"] if net in PRESETS else net


def _layer_names(net: str, where: str) -> List[str]:
    try:
        return [l.name for l in parse_spec(_spec_text(net)).learning_layers]
    except SpecError as e:
        raise ConfigError(f"net ({where}): {e} (presets: {', '.join(sorted(PRESETS))})") from None


def _check_layer_names(layers: Mapping[str, Any], names: Sequence[str], net: str, where: str) -> None:
    for name in layers:
        if name not in names:
            raise ConfigError(f"unknown key layers.{name} ({where}): network {net!r} has the learning layers "
                              f"{', '.join(names)}{_suggest(str(name), names)}")


# ---------------------------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------------------------
def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _strip_none_keys(d: Mapping[str, Any]) -> Dict[str, Any]:
    """Drop ``None`` values of a command-line layer (an option not given sets nothing)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            v = _strip_none_keys(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


def merge_config(*layers: Tuple[str, Mapping[str, Any]], base_dirs: Optional[Mapping[str, Path]] = None) -> RunConfig:
    """THE merge function: ``layers`` are ``(where, dict)`` pairs in increasing precedence (e.g.
    ``("config file x.toml", file_dict), ("command line", cli_dict)``), each in the file layout and
    possibly partial. Below them come the experiment defaults and the preset's. ``base_dirs``
    (``where -> folder``) anchors relative data paths of a layer (default: the working directory).

    Every layer is checked on its own first; the merged result is checked as a whole (layer
    names against the network, layer parameters by :class:`LayerParams`, the data source)."""
    for where, d in layers:
        check_layer(d, where)
    net = EXPERIMENT_DEFAULTS["net"]
    net_where = "experiment defaults"
    for where, d in layers:
        if "net" in d:
            net, net_where = d["net"], where
    names = _layer_names(net, net_where)
    for where, d in layers:
        _check_layer_names(d.get("layers", {}), names, net, where)

    preset = PRESET_EXPERIMENTS.get(net, {})
    base = _merge(EXPERIMENT_DEFAULTS, {k: v for k, v in preset.items() if k != "readouts"})
    net_layers = copy.deepcopy(PRESETS[net]["layers"]) if net in PRESETS else default_layer_params(parse_spec(net))
    base["net"] = net
    base["dt_us"] = PRESETS[net].get("dt_us", 1000) if net in PRESETS else 1000
    base["precision"] = PRESETS[net].get("precision", DEFAULT_PRECISION) if net in PRESETS else DEFAULT_PRECISION
    base["layers"] = net_layers

    # relative data paths are anchored per layer, before merging
    anchored = []
    for where, d in layers:
        d = copy.deepcopy(dict(d))
        folder = (base_dirs or {}).get(where)
        for key in ("source", "test_source"):
            v = d.get("data", {}).get(key)
            if isinstance(v, str) and "{data_root}" not in v:
                d["data"][key] = _canonical(v, f"data.{key}", where, folder)
        anchored.append((where, d))

    kind, kind_where = base["readout"]["kind"], "preset"
    for where, d in anchored:
        if "kind" in d.get("readout", {}):
            kind, kind_where = d["readout"]["kind"], where
    # readout parameters: the preset's for that kind, then those of every layer that chose the same
    # kind (or named none); a layer that chose another kind contributes nothing
    extra = _merge(READOUT_DEFAULTS[kind], preset.get("readouts", {}).get(kind, {}))
    readout = {"kind": kind, **extra.get("params", {})}
    top = names[-1]
    if extra.get("top_layer"):  # R-STDP is chosen when the network is built: the top layer's rule
        base["layers"][top] = _merge(base["layers"].get(top, {}), extra["top_layer"])
    merged = base
    for where, d in anchored:
        merged = _merge(merged, {k: v for k, v in d.items() if k != "readout"})
        r = d.get("readout", {})
        if r.get("kind", kind) == kind:
            readout = _merge(readout, r)
    merged["readout"] = readout
    data = merged["data"]
    data["source"] = _fill_data_root(data["source"], net)
    for key in ("source", "test_source"):
        if isinstance(data.get(key), str):
            data[key] = _canonical(data[key], f"data.{key}", "merged configuration", None)
    if kind == "rstdp" and merged["layers"][top].get("rule", "stdp") != "rstdp":
        raise ConfigError(f"readout.kind = 'rstdp' ({kind_where}) needs the top layer to learn with R-STDP, but "
                          f"layers.{top}.rule = {merged['layers'][top].get('rule')!r}; remove that setting")
    return _build(merged, "merged configuration")


def _fill_data_root(source: str, net: str) -> str:
    if "{data_root}" not in source:
        return source
    root = streams.data_root()
    if root is None:
        raise ConfigError(f"data.source: preset {net!r} reads its data from the data folder, which is absent: "
                          "pass --data SOURCE or set STDPNET_DATA")
    return source.replace("{data_root}", str(root))


def _canonical(text: str, key: str, where: str, folder: Optional[Path]) -> str:
    try:
        return canonical_source(text, folder)
    except StreamSourceError as e:
        raise ConfigError(f"{key} ({where}): {e}") from None


def _build(d: Dict[str, Any], where: str) -> RunConfig:
    """Validate a complete dict and make the typed config (layer parameters spelt out in full)."""
    check_layer(d, where)
    names = _layer_names(d["net"], where)
    layers = {}
    for name in names:
        try:
            layers[name] = LayerParams().updated(**copy.deepcopy(d["layers"].get(name, {}))).to_dict()
        except (ParameterError, TypeError, ValueError) as e:
            raise ConfigError(f"layers.{name} ({where}): {e}") from None
    readout = dict(d["readout"])
    kind = readout.pop("kind", None)
    if kind is None:
        raise ConfigError(f"readout.kind ({where}): missing; choose one of {', '.join(READOUT_KINDS)}")
    for key in ("source", "test_source"):
        v = d["data"].get(key)
        if isinstance(v, str) and v.split(":", 1)[0] in ("synthetic", "nmnist", "mnist", "udp"):
            _canonical(v, f"data.{key}", where, None)  # syntax only: synthetic:0, udp://x:99999, ...
    return RunConfig(
        # a run saved before the option existed ran in float64
        network=NetworkConfig(d["net"], d["dt_us"], layers, d.get("precision", DEFAULT_PRECISION)),
        data=DataConfig(**d["data"]),
        readout=ReadoutConfig(kind, readout),
        training=TrainingConfig(**d["training"]),
        seed=d["seed"],
    )


# ---------------------------------------------------------------------------------------------
# Files and the Python/command-line entry
# ---------------------------------------------------------------------------------------------
def load_config_file(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a TOML (``.toml``) or JSON (``.json``, e.g. a run's saved ``config.json``) configuration
    as a dict in the file layout; every problem is one :class:`ConfigError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"configuration file {path} cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"configuration file {path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as e:
            raise ConfigError(f"configuration file {path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"configuration file {path}: expected a JSON object")
        return data
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from None
    return _none_strings(data)


def _reject_constant(name: str):
    raise ConfigError(f"{name} is not a valid configuration value")


def _none_strings(d):
    # TOML has no null: the string "none" stands for None (e.g. r_infer = "none").
    if isinstance(d, dict):
        return {k: _none_strings(v) for k, v in d.items()}
    if isinstance(d, str) and d.lower() == "none":
        return None
    return d


def cli_layer(*, net=None, data=None, readout=None, epochs=None, seed=None, val_fraction=None, max_train=None,
              max_val=None, gap_us=None, test_data=None, window_us=None, on_bad=None,
              checkpoint_every_samples=None, checkpoint_every_s=None, dt_us=None,
              precision=None) -> Dict[str, Any]:
    """A configuration layer from command-line style options (``None``: not given)."""
    return _strip_none_keys({
        "net": net, "seed": seed, "dt_us": dt_us, "precision": precision,
        "data": {"source": data, "val_fraction": val_fraction, "max_train": max_train, "max_val": max_val,
                 "gap_us": gap_us, "test_source": test_data, "window_us": window_us},
        "readout": {"kind": readout},
        "training": {"epochs": epochs, "on_bad": on_bad, "checkpoint_every_samples": checkpoint_every_samples,
                     "checkpoint_every_s": checkpoint_every_s},
    })


def build_config(config_file: Union[str, Path, Mapping[str, Any], None] = None, **options) -> RunConfig:
    """A :class:`RunConfig` from an optional file (a path, or a dict already read) and command-line
    style ``options`` (see :func:`cli_layer`), over the experiment and preset defaults."""
    layers = []
    base_dirs = {}
    if config_file is not None:
        if isinstance(config_file, Mapping):
            layers.append(("configuration dict", config_file))
        else:
            where = f"config file {config_file}"
            layers.append((where, load_config_file(config_file)))
            base_dirs[where] = Path(config_file).resolve().parent
    layers.append(("command line", cli_layer(**options)))
    return merge_config(*layers, base_dirs=base_dirs)
