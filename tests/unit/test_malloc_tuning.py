"""glibc keeps freed memory for reuse in the services: a flood's buffers are not faulted in again every time."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

_FAULTS_OF_REPEATED_BUFFERS = textwrap.dedent(
    """
    import resource, sys
    from jumpoint.core.malloc_tuning import keep_freed_memory
    if sys.argv[1] == "tuned":
        assert keep_freed_memory()
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    def flood():  # a burst of output: several 256 KiB buffers alive together, then all freed
        buffers = [bytes(256 << 10) for _ in range(16)]
        del buffers
    flood()  # the first use of the memory faults in any case
    before = faults()
    for _ in range(20):
        flood()
    print(faults() - before)
    """
)


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS_OF_REPEATED_BUFFERS, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_the_buffers_of_a_burst_are_not_faulted_in_again_at_the_next_burst() -> None:
    pages = (16 * (256 << 10)) // 4096  # of one burst
    assert _faults("default") >= 10 * pages  # the premise: glibc gives the memory back and faults it in again
    assert _faults("tuned") < pages  # with the setting: the same memory, still there
