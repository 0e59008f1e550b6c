"""Training's memory kept to what its arrays hold (heap.py): a memory map read once stops counting in the
process's memory, and big blocks get mappings of their own, which go back to the system when freed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autocomplete import dataset, heap
from autocomplete.ngram_counts import count_grams
from autocomplete.vocab import UNKNOWN_ID

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")


def resident_kb(array: np.ndarray) -> int:
    """Resident kB of the mapping that holds `array`'s first byte (/proc/self/smaps)."""
    address, inside = array.ctypes.data, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split()[0]
        if "-" in first and ":" not in first:  # a mapping's header: lo-hi perms offset ...
            lo, hi = (int(x, 16) for x in first.split("-"))
            inside = lo <= address < hi
        elif inside and first == "Rss:":
            return int(line.split()[1])
    raise AssertionError("no mapping holds the array")


@pytest.fixture
def mapped_ids(tmp_path):
    ids = np.random.default_rng(0).integers(3, 50, size=1 << 20).astype(np.int32)  # 4 MiB
    np.save(tmp_path / "ids.npy", ids)
    return ids, np.load(tmp_path / "ids.npy", mmap_mode="r")


def test_a_memory_maps_pages_let_go_are_read_again(mapped_ids):
    ids, mapped = mapped_ids
    assert int(np.asarray(mapped, dtype=np.int64).sum()) == int(ids.sum(dtype=np.int64))  # every page read
    assert resident_kb(mapped) >= ids.nbytes // 1024
    heap.drop_pages(mapped)
    assert resident_kb(mapped) == 0
    np.testing.assert_array_equal(mapped, ids)  # from the page cache, the same ids


def test_counting_a_memory_map_leaves_none_of_its_pages_behind(mapped_ids):
    ids, mapped = mapped_ids
    grams = count_grams(mapped, 3, 50, chunk=1 << 16)
    assert resident_kb(mapped) == 0
    assert dataset.id_counts(mapped, 50).sum() == len(ids) and resident_kb(mapped) == 0
    for (codes, counts), expected in zip(grams, count_grams(ids, 3, 50, chunk=1 << 16), strict=True):
        np.testing.assert_array_equal(codes, expected[0])
        np.testing.assert_array_equal(counts, expected[1])


def test_the_pages_of_a_view_of_a_memory_map_are_let_go_too(mapped_ids):
    ids, mapped = mapped_ids
    _, targets = dataset.windows(mapped, 2)  # a view through np.asarray and as_strided, not an np.memmap
    assert int(targets.sum(dtype=np.int64)) == int(ids[2:].sum(dtype=np.int64))
    assert resident_kb(mapped) >= ids.nbytes // 1024 - 4
    heap.drop_pages(targets)
    assert resident_kb(mapped) == 0
    np.testing.assert_array_equal(targets, ids[2:])


def test_the_validation_targets_leave_none_of_the_maps_pages_behind(tmp_path):
    ids = np.random.default_rng(0).integers(0, 50, size=1 << 20).astype(np.int32)  # 4 MiB, markers too
    half = len(ids) // 2
    ids[half:][ids[half:] == 49] = 60  # seen only in the validation tail
    np.save(tmp_path / "ids.npy", ids)
    mapped = np.load(tmp_path / "ids.npy", mmap_mode="r")
    _, targets = dataset.windows(mapped, 2)
    unknown = dataset.unseen_as_unknown(targets[half - 2 :], mapped[:half])
    assert resident_kb(mapped) == 0
    expected = np.where(ids[half:] == 60, UNKNOWN_ID, ids[half:])
    np.testing.assert_array_equal(unknown, expected)
    assert unknown.dtype == np.int32 and (unknown == UNKNOWN_ID).sum() > (ids[half:] == UNKNOWN_ID).sum()


def test_arrays_of_their_own_memory_are_left_alone(mapped_ids, tmp_path):
    ids, _ = mapped_ids
    copy = ids.copy()
    heap.drop_pages(copy)  # on anonymous memory MADV_DONTNEED would zero it
    writable = np.load(tmp_path / "ids.npy", mmap_mode="c")  # copy-on-write: changes live in the process
    writable[:4] = 0
    heap.drop_pages(writable)
    np.testing.assert_array_equal(copy, ids)
    assert writable[:4].tolist() == [0, 0, 0, 0]


def test_big_blocks_get_mappings_of_their_own_after_a_bigger_one_was_freed():
    # glibc alone raises its threshold to a freed mapped block's size: the next 8 MiB would come from the
    # heap (as [heap] in /proc/self/maps), and stay there, fragmenting it, once freed.
    script = textwrap.dedent(
        """
        import numpy as np
        from autocomplete import heap
        assert heap.map_big_blocks()
        big = np.ones(16 << 20, np.uint8); del big
        block = np.ones(8 << 20, np.uint8)
        address = block.ctypes.data
        for line in open("/proc/self/maps"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= address < hi:
                print(line.split()[-1] if len(line.split()) == 6 else "own mapping")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "own mapping\n"
