"""The twin's explicit connectivity, checked on hand-enumerated tiny layers."""
import numpy as np

from stdpnet.validate.brian2.wiring import conv_rows, expand_sources, layer_targets, pooled_target


def test_conv_rows_enumerate_every_receptive_field():
    # 1 channel, 2x3 input, one 1x2 kernel: 2x2 neurons; neuron (oy, ox) sees inputs (oy, ox), (oy, ox+1)
    inp, post, kid = conv_rows(1, 2, 3, 1, 1, 2, 2, 2)
    rows = list(zip(inp.tolist(), post.tolist(), kid.tolist()))
    assert rows == [(0, 0, 0), (1, 0, 1), (1, 1, 0), (2, 1, 1), (3, 2, 0), (4, 2, 1), (4, 3, 0), (5, 3, 1)]


def test_conv_rows_kernel_entries_are_map_minor():
    # 2 maps: kernel entry ((c*k_h + ky)*k_w + kx)*F + f, neuron f*H*W + pos
    inp, post, kid = conv_rows(1, 1, 2, 2, 1, 2, 1, 1)
    assert list(zip(inp.tolist(), post.tolist(), kid.tolist())) == [(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)]


def test_expand_sources_gives_each_pooled_source_the_rows_of_its_input():
    inp, post, kid = conv_rows(1, 2, 3, 1, 1, 2, 2, 2)
    src_inp = np.array([1, -1, 1, 4])  # sources 0 and 2 pool onto input 1, source 3 onto input 4
    pre, p, k = expand_sources(src_inp, inp, post, kid, 6)
    assert list(zip(pre.tolist(), p.tolist(), k.tolist())) == [
        (0, 0, 1), (0, 1, 0), (2, 0, 1), (2, 1, 0), (3, 2, 1), (3, 3, 0)]


def test_pooled_target_and_layer_targets():
    t = pooled_target(np.array([0, 1, 0]), np.array([3, 1, 4]), np.array([2, 0, 4]), 2, 2, 2)
    np.testing.assert_array_equal(t, [3, 4, -1])  # (0,1,1) -> 3; (1,0,0) -> 4; (0,2,2) outside
    # 2 maps of 3x3 pooled by 2 into 1x1: positions 0, 1, 3, 4 reach the map's input, the rest none
    expected = [0, 0, -1, 0, 0, -1, -1, -1, -1, 1, 1, -1, 1, 1, -1, -1, -1, -1]
    np.testing.assert_array_equal(layer_targets(2, 3, 3, 2, 1, 1), expected)
