"""What a from-scratch function may not call: the families of library calls the grader knows.

An assignment names, per from-scratch function, the families it bans
(`may_not_call = ["pooling"]` in `assignment.toml`; library convolutions when
it names none). Each family says how all three watchers recognise it: the
aten ops the dispatcher watch sees (grader.worker.requests), the names the static
check reads in the source (grader.grading.static_check), and the array-library
functions that never reach torch's dispatcher and are wrapped instead.

Families, not single functions: a ban must hold at the dispatcher, below any
renaming, and a qualified name (`torch.nn.functional.max_pool2d`) would hold
only where it is spelled out. This module runs in the worker too, beside
student code: it holds data and pure functions only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping


@dataclasses.dataclass(frozen=True)
class Family:
    name: str                                    # as assignment.toml spells it
    topic: str                                   # "this assignment asks for {topic} from scratch"
    library_call: str                            # "without {library_call}"
    dispatched: re.Pattern[str]                  # searched in an aten op's name, e.g. aten.avg_pool2d.default
    named: re.Pattern[str]                       # matched against the last part of a dotted name in the source
    array_functions: Mapping[str, tuple[str, ...]]  # module -> functions, every alias of them wrapped in the worker


CONVOLUTION = Family(
    name="convolution", topic="convolutions", library_call="a library convolution",
    # Every aten convolution kernel, whatever Python path reached it.
    dispatched=re.compile(r"conv(?!ert)"),
    named=re.compile(r"^(_?conv(\d?d|_transpose\dd|_tbc)?|_?convolution|convolve\w*|correlate\w*|fftconvolve"
                     r"|oaconvolve|(Lazy)?Conv(Transpose)?\dd)$"),
    # numpy's and scipy's convolutions never reach torch's dispatcher; the C-level aliases are wrapped too.
    array_functions={
        "numpy": ("convolve", "correlate"),
        "numpy._core._multiarray_umath": ("correlate", "correlate2"),
        "scipy.signal": ("convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve"),
        "scipy.signal._sigtools": ("_correlateND", "_convolve2d"),
        "scipy.ndimage": ("convolve", "correlate", "convolve1d", "correlate1d"),
        "scipy.ndimage._nd_image": ("correlate", "correlate1d"),
    })

POOLING = Family(
    name="pooling", topic="pooling", library_call="library pooling",
    # max/avg/lp/adaptive/fractional pooling in 1-3D, with indices, and unpooling; lp pooling dispatches avg_pool.
    # Not seen here: adaptive_avg_pool2d to 1x1, which dispatches a plain mean (the source check names it).
    dispatched=re.compile(r"pool"),
    # unfold and sliding_window_view are allowed: they cut windows, the student still reduces them.
    named=re.compile(r"^(_?(adaptive_|fractional_)?(max|avg|lp)_pool\dd(_with_indices)?|_adaptive_avg_pool\dd"
                     r"|(mkldnn|quantized)_(adaptive_avg|max)_pool\dd|max_unpool\dd"
                     r"|(Adaptive|Fractional)?(Max|Avg|LP)Pool\dd|MaxUnpool\dd"
                     r"|(maximum|minimum|uniform|rank|percentile|generic)_filter(1d)?|min_or_max_filter(1d)?)$"),
    array_functions={
        "scipy.ndimage": ("maximum_filter", "maximum_filter1d", "minimum_filter", "minimum_filter1d",
                          "uniform_filter", "uniform_filter1d", "rank_filter", "percentile_filter",
                          "generic_filter", "generic_filter1d"),
        "scipy.ndimage._nd_image": ("min_or_max_filter", "min_or_max_filter1d", "uniform_filter1d", "rank_filter",
                                    "generic_filter", "generic_filter1d"),
    })

FAMILIES: Mapping[str, Family] = {family.name: family for family in (CONVOLUTION, POOLING)}
DEFAULT: frozenset[str] = frozenset({CONVOLUTION.name})   # a from-scratch function that names no family
SOURCE_SUFFIX = " (in the source)"                        # how the score marks the static check's evidence


def banned_for(function: str, may_not_call: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The families a from-scratch `function` may not call."""
    return may_not_call.get(function, DEFAULT)


def family_of_op(op: str) -> str | None:
    """The family an aten op (`aten.max_pool2d_with_indices.default`) belongs to, if any."""
    return next((family.name for family in FAMILIES.values() if family.dispatched.search(op)), None)


def family_of_name(dotted: str) -> str | None:
    """The family a library name in the source (`torch.nn.functional.max_pool2d`) belongs to, if any."""
    last = dotted.rsplit(".", 1)[-1]
    return next((family.name for family in FAMILIES.values() if family.named.match(last)), None)


def array_functions() -> dict[str, str]:
    """Every wrapped array-library function, `module.name` -> its family."""
    return {f"{module}.{name}": family.name for family in FAMILIES.values()
            for module, names in family.array_functions.items() for name in names}


def family_of_evidence(evidence: str) -> str | None:
    """The family a piece of evidence (an aten op, a wrapped function, a name in the source) shows, if any."""
    if evidence.endswith(SOURCE_SUFFIX):
        return family_of_name(evidence.removesuffix(SOURCE_SUFFIX))
    if evidence.startswith("aten."):
        return family_of_op(evidence)
    return array_functions().get(evidence)


def reason(function: str, evidence: Iterable[str]) -> str:
    """Why `function`'s tests score 0, e.g. "pool2d calls torch.nn.functional.max_pool2d (in the source):
    this assignment asks for pooling from scratch, without library pooling, so its tests score 0"."""
    evidence = tuple(evidence)
    families = {family for family in map(family_of_evidence, evidence) if family is not None}
    shown = [FAMILIES[name] for name in sorted(families)]
    used = ", ".join(evidence)
    if not shown:
        return (f"{function} must be written from scratch, but what it ran went around the grader's watch "
                f"({used}), so its tests score 0")
    return (f"{function} calls {used}: this assignment asks for {' and '.join(f.topic for f in shown)} from "
            f"scratch, without {' or '.join(f.library_call for f in shown)}, so its tests score 0")
