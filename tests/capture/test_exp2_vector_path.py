"""The weights' exponential runs in base 2 over whole vector steps: a weight never depends on where it falls.

torch's CPU ``exp2`` rounds the vector loop's elements and the scalar tail's
differently, so the engine sizes each scores buffer (``_whole_vectors``) for
every element to take the vector path. These tests check the sizing rule
against ATen's split and that a row's weights are the same bits whatever
batch, number of rows or threads it was computed with.
"""

from __future__ import annotations

import pytest
import torch

from attnwidget._capture import sdpa
from attnwidget._capture.options import Reducer


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_each_threads_part_is_whole_vector_steps(threads, count):
    torch.set_num_threads(count)
    for numel in [*range(1, 300), 32767, 32768, 32769, 65537, 98303, 3 << 20, 7 * 32768 - 5, 12_345_678]:
        n = sdpa._whole_vectors(numel)
        parts = max(1, min(count, -(-n // sdpa._GRAIN)))
        assert n >= numel
        assert n % (sdpa._VECTOR_STEP * parts) == 0, (numel, n, parts)
        assert n - numel <= sdpa._VECTOR_STEP * count + count * sdpa._GRAIN


def test_exp2_paths_differ_here_so_the_rule_matters():
    # the premise: on a tensor of one element (scalar path) exp2 rounds some values otherwise
    # than in the vector loop; if this ever stops failing, the padding is merely harmless
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, generator=g) * 20 - 10
    vector = torch.exp2(x[:4096])  # 4096 = whole steps of any width, one or two parts
    scalar = torch.cat([torch.exp2(x[i : i + 1]) for i in range(4096)])
    if torch.equal(vector, scalar):
        pytest.skip("this CPU's exp2 rounds its scalar and vector paths alike")
    assert not torch.equal(vector, scalar)


def _weights(q, k, v, samples, rows, **reduce):
    call = sdpa.bind_sdpa(
        (q[:samples, :, :rows].contiguous(), k[:samples].contiguous(), v[:samples].contiguous()), {}
    )
    found = sdpa.flash_with_lse(call)
    assert found is not None, "the CPU flash kernel should run this call"
    return sdpa.sdpa_weights(call, Reducer(**reduce), "site", lse=found[1])[0]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("reduce", [{}, {"heads": "mean"}, {"heads": [0, 2]}])
def test_a_rows_weights_do_not_depend_on_batch_rows_or_threads(threads, count, reduce):
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(3, 4, 37, 16, generator=g) for _ in range(3))
    torch.set_num_threads(count)
    whole = _weights(q, k, v, 3, 37, **reduce)
    # 4 to 32 rows: with fewer, the matrix product is another kernel, and from 33 the flash
    # kernel's second block of queries has 1 to 3 rows (its own log-sum-exp then differs by an
    # ulp: the weights follow the kernel there, which is right). Without whole vector steps,
    # 29 of these 87 cuts differed from the whole batch
    for samples in (1, 2, 3):
        for rows in range(4, 33):
            part = _weights(q, k, v, samples, rows, **reduce)
            assert torch.equal(part, whole[:samples, :, :rows]), (samples, rows, count)
