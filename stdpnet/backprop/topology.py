"""The STDP network's topology, rebuilt for the backprop baselines (no JAX here).

A spec string of ``stdpnet.spec`` (``34x34x2-16C5-P2-128C5-P2-1024``, optionally ``-10``) gives
the same layers to every baseline:

* ``nCk``: convolution, n maps, k x k kernel, stride 1, no padding (``valid``), with a bias;
  output ``(n, H - k + 1, W - k + 1)``;
* ``Pk``: k x k non-overlapping pooling, output ``(C, H // k, W // k)`` (SPEC 5: the remainder
  rows and columns are dropped), no parameters;
* ``n``: fully connected, ``n`` neurons;
* then the readout ``out``: fully connected, one neuron per class.

Parameters are a pytree ``{name: {"w": ..., "b": ...}}`` keyed by layer name (``conv1``, ``fc1``,
``out``): convolution weights ``(F, C, k, k)`` (cross-correlation, as ``ConvWTA.weights``), dense
weights ``(n_out, n_in)`` with inputs flattened in ``(C, H, W)`` C order, biases ``(F,)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np

from ..errors import ConfigError, SpecError
from ..spec import NetSpec, parse_spec

Shape = Tuple[int, ...]


@dataclass(frozen=True)
class LayerShape:
    """One layer of a baseline: its kind, sizes and the shapes it maps between.

    ``in_shape``/``out_shape`` are ``(C, H, W)`` for maps, ``(n,)`` for a dense layer's output.
    """
    name: str
    kind: str  # 'conv' | 'pool' | 'dense'
    size: int  # maps (conv), pooling factor (pool), neurons (dense)
    kernel: int
    in_shape: Shape
    out_shape: Shape

    @property
    def fan_in(self) -> int:
        """Synapses into one neuron: ``C k^2`` (conv), ``P^2`` (pool), ``prod(in_shape)`` (dense)."""
        if self.kind == "conv":
            return self.in_shape[0] * self.kernel ** 2
        if self.kind == "pool":
            return self.size ** 2
        return int(np.prod(self.in_shape))

    @property
    def has_params(self) -> bool:
        return self.kind != "pool"

    @property
    def weight_shape(self) -> Shape:
        if self.kind == "conv":
            return (self.size, self.in_shape[0], self.kernel, self.kernel)
        if self.kind == "dense":
            return (self.size, self.fan_in)
        return ()

    @property
    def n_params(self) -> int:
        return int(np.prod(self.weight_shape)) + self.size if self.has_params else 0

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.out_shape))


@dataclass(frozen=True)
class Topology:
    """The layers of a spec, ending with the readout layer ``out`` of ``n_classes`` neurons."""
    spec: NetSpec
    layers: Tuple[LayerShape, ...]
    n_classes: int

    @property
    def input_shape(self) -> Shape:
        return tuple(self.spec.input_shape)

    @property
    def n_params(self) -> int:
        """Trainable parameters (weights and biases) of all layers, readout included."""
        return sum(layer.n_params for layer in self.layers)

    @property
    def hidden(self) -> Tuple[LayerShape, ...]:
        """All layers but the readout."""
        return self.layers[:-1]

    @property
    def readout(self) -> LayerShape:
        return self.layers[-1]

    def layer(self, name: str) -> LayerShape:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers are {[l.name for l in self.layers]}")


def build_topology(spec: Union[str, NetSpec], n_classes: Optional[int] = None) -> Topology:
    """The baselines' topology of ``spec`` plus a readout of ``n_classes``.

    ``n_classes`` may be left out when the spec ends with its readout (``...-1024-10``); when both
    are given they must agree.
    """
    net = parse_spec(spec) if isinstance(spec, str) else spec
    if n_classes is None:
        n_classes = net.readout_classes
    elif net.readout_classes is not None and int(n_classes) != net.readout_classes:
        raise ConfigError(f"spec {net.text!r} ends with a readout of {net.readout_classes} classes but "
                          f"n_classes={n_classes} was given; drop one of them")
    if n_classes is None or isinstance(n_classes, bool) or int(n_classes) < 2:
        raise ConfigError(f"spec {net.text!r}: the readout needs n_classes >= 2 (got {n_classes!r}); "
                          f"append '-N' to the spec or pass n_classes=N")
    shape: Shape = tuple(net.input_shape)
    layers = []
    for spec_layer in net.layers:
        where = f"spec {net.text!r}, layer {spec_layer.name}"
        if spec_layer.kind == "conv":
            c, h, w = _maps(shape, where)
            k = spec_layer.kernel
            if k > h or k > w:
                raise SpecError(f"{where}: kernel {k} is larger than its {h}x{w} input; use a smaller kernel")
            out = (spec_layer.size, h - k + 1, w - k + 1)
        elif spec_layer.kind == "pool":
            c, h, w = _maps(shape, where)
            p = spec_layer.size
            if p > h or p > w:
                raise SpecError(f"{where}: pooling {p} is larger than its {h}x{w} input")
            out = (c, h // p, w // p)
        else:
            out = (spec_layer.size,)
        layers.append(LayerShape(spec_layer.name, spec_layer.kind, spec_layer.size, spec_layer.kernel,
                                 shape, out))
        shape = out
    layers.append(LayerShape("out", "dense", int(n_classes), 0, shape, (int(n_classes),)))
    return Topology(net, tuple(layers), int(n_classes))


def _maps(shape: Shape, where: str) -> Tuple[int, int, int]:
    if len(shape) != 3:
        raise SpecError(f"{where}: convolution and pooling need maps (C, H, W), but the layer below "
                        f"is fully connected; put convolutions and pooling before dense layers")
    return shape  # type: ignore[return-value]


def init_params(topology: Topology, seed: int, *, gain: float = 2.0) -> Dict[str, Dict[str, np.ndarray]]:
    """He initialisation: ``w ~ N(0, sqrt(gain / fan_in))``, ``b = 0``, float32 numpy arrays.

    ``gain = 2`` is He et al. (2015), SPEC 11. Layer ``i`` draws from
    ``numpy.random.default_rng([seed, i])``, so the numbers are the same on every platform and
    JAX version.
    """
    params = {}
    for i, layer in enumerate(topology.layers):
        if not layer.has_params:
            continue
        rng = np.random.default_rng([int(seed), i])
        std = np.sqrt(gain / layer.fan_in)
        params[layer.name] = {
            "w": (rng.standard_normal(layer.weight_shape) * std).astype(np.float32),
            "b": np.zeros(layer.size, dtype=np.float32),
        }
    return params


def check_params(topology: Topology, params) -> None:
    """Raise :class:`ConfigError` if ``params`` lacks a layer or has a wrongly shaped array."""
    for layer in topology.layers:
        if not layer.has_params:
            continue
        if layer.name not in params:
            raise ConfigError(f"parameters lack layer {layer.name!r} (have {sorted(params)}); "
                              f"were they trained for another spec?")
        for key, shape in (("w", layer.weight_shape), ("b", (layer.size,))):
            got = tuple(np.shape(params[layer.name][key]))
            if got != shape:
                raise ConfigError(f"parameters of {layer.name}: {key!r} has shape {got}, the spec "
                                  f"{topology.spec.text!r} needs {shape}")


def fan_out(layer: LayerShape) -> np.ndarray:
    """Synapses leaving each input neuron of ``layer``, shaped like ``layer.in_shape`` (float32).

    A spike of that neuron costs this many accumulates. Convolution (valid, stride 1):
    ``F * n_y(y) * n_x(x)`` with ``n_y(y)`` the output rows whose window covers row ``y`` (fewer at
    the borders); pooling: 1 inside the pooled area, 0 in dropped remainder rows/columns; dense:
    ``n_out``.
    """
    if layer.kind == "dense":
        return np.full(layer.in_shape, float(layer.size), dtype=np.float32)
    c, h, w = layer.in_shape
    _, out_h, out_w = layer.out_shape
    if layer.kind == "pool":
        p = layer.size
        rows = (np.arange(h) < out_h * p).astype(np.float32)
        cols = (np.arange(w) < out_w * p).astype(np.float32)
        return np.broadcast_to(np.outer(rows, cols), (c, h, w)).astype(np.float32)
    k = layer.kernel

    def covering(n_in: int, n_out: int) -> np.ndarray:
        i = np.arange(n_in)
        return (np.minimum(i, n_out - 1) - np.maximum(i - k + 1, 0) + 1).astype(np.float32)

    per_pixel = np.outer(covering(h, out_h), covering(w, out_w)) * layer.size
    return np.broadcast_to(per_pixel, (c, h, w)).astype(np.float32)


def dense_macs(topology: Topology) -> int:
    """Multiply-accumulates of one dense (frame-based) inference: conv ``F H_o W_o C k^2``,
    dense ``n_out n_in``; pooling costs none (comparisons or additions, not counted)."""
    total = 0
    for layer in topology.layers:
        if layer.kind == "conv":
            total += layer.n_neurons * layer.fan_in
        elif layer.kind == "dense":
            total += layer.size * layer.fan_in
    return int(total)
