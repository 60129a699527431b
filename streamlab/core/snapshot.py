"""The declared shape of ``snapshot()``: what the inspector, the side panel, checkpoints and tests read.

Every operator's ``snapshot_node()`` returns an :class:`OperatorSnapshot`; the pipeline's
``snapshot()`` returns a :class:`PipelineSnapshot`. The side panel's TypeScript interfaces are
generated from these declarations (``labextension/src/generated.ts``) and a test checks that the
two agree. The ``state`` of an operator is its own, declared by each operator kind
(:class:`WindowState`, :class:`WatermarkState`, :class:`SourceState`, ...).

>>> sorted(PipelineSnapshot.__annotations__)[:4]
['counters', 'error', 'events_per_s', 'flink']
"""


from typing import Any, NotRequired, TypedDict

JSON = Any

#: Longest text a snapshot or a panel push carries for one cell value; longer values are cut.
PREVIEW_CHARS = 200


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` cut to a bounded preview that says how long it was.

    >>> preview("x" * 500, 10)
    'xxxxxxxxxx… (500 chars)'
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


#: Rows through one operator (or the whole pipeline); "in" is a keyword, hence the functional form.
CountersSnapshot = TypedDict(
    "CountersSnapshot", {"in": int, "out": int, "late": int, "errors": int})


class InputSnapshot(TypedDict):
    """One input (port) of an operator: which operator feeds it and its watermark."""

    port: int
    upstream: str | None
    watermark: int | None


class OperatorSnapshot(TypedDict):
    """One operator: identity, graph edges, counters, watermark and its own state."""

    id: str
    kind: str
    label: str
    upstreams: list[str]
    inputs: list[InputSnapshot]
    counters: CountersSnapshot
    events_per_s: float
    watermark: int | None
    state: dict[str, JSON]
    checkpoint: NotRequired[dict[str, JSON]]


class FlinkJobSnapshot(TypedDict):
    """A pipeline running on a Flink cluster (``res.on_flink``): the job as the views show it.

    ``records_in`` / ``records_out`` are Flink's REST metrics as its web UI shows them (records
    the source vertices read; records the vertex holding the sink received); ``rows`` and
    ``late`` are what reached the kernel. ``actions``
    are the commands the job takes now (only ``stop``, while it runs).
    """

    job_id: str | None
    job_state: str | None
    web_url: str | None
    cluster_url: str
    records_in: int
    records_out: int
    rows: int
    late: int
    changelog: bool
    actions: list[str]


class PipelineSnapshot(TypedDict):
    """A whole pipeline: the one picture every view and test reads."""

    name: str
    state: str
    watermark: int | None
    watermark_text: str | None
    lag_ms: int | None
    counters: CountersSnapshot
    events_per_s: float
    operators: list[OperatorSnapshot]
    error: NotRequired[str]
    flink: NotRequired[FlinkJobSnapshot]


class OpenWindow(TypedDict):
    """One open (window, key) of a window operator, as the inspector shows it."""

    key: list[JSON]
    key_text: str
    window_start: int
    window_end: int
    start_text: str
    end_text: str
    rows: int
    partials: dict[str, JSON]


class WindowState(TypedDict):
    """``state`` of a window operator."""

    window: str
    by: list[str]
    allowed_lateness_ms: int
    open_windows: list[OpenWindow]
    open_count: int
    truncated: bool
    keys: int
    counted: int
    late_ledger: list[dict[str, JSON]]
    errors: list[dict[str, JSON]]


class WatermarkState(TypedDict):
    """``state`` of a watermark operator."""

    max_event_time: int | None
    delay_ms: int
    partitions: NotRequired[dict[str, dict[str, int]]]


class SourceState(TypedDict):
    """``state`` of a source."""

    position: int
    exhausted: bool
    speed: float | None
    finite: bool
    batch_size: int


class GroupByState(TypedDict):
    """``state`` of a continuous ``groupby``: the per-key aggregate (the current table)."""

    by: list[str]
    keys: int
    aggregates: list[str]
    table: list[dict[str, JSON]]
    truncated: bool


class RankState(TypedDict):
    """``state`` of a continuous Top-N or keep-last deduplication: the rows each key keeps, in
    rank order (a ``rank`` column, 1 first)."""

    by: list[str]
    order: str
    n: int
    keep_last: bool
    kept_rows: int
    kept: list[dict[str, JSON]]
    keys: int


class DedupState(RankState):
    """``state`` of a keep-first deduplication: each key's earliest row, kept until the watermark
    passes it."""

    emitted_keys: int
    duplicates: int
    late_ledger: list[dict[str, JSON]]


class OverState(TypedDict):
    """``state`` of an OVER aggregation: the rows waiting for the watermark, and how many earlier
    rows it keeps for their frames."""

    frame: str
    by: list[str]
    waiting_rows: int
    waiting: list[dict[str, JSON]]
    kept_for_windows: int
    keys: int
    counted: int
    late_ledger: list[dict[str, JSON]]


class WindowRankState(TypedDict):
    """``state`` of a window Top-N or deduplication: the rows kept until their window fires."""

    window: str
    by: list[str]
    order: str
    kept_rows: int
    kept: list[dict[str, JSON]]
    counted: int
    late_ledger: list[dict[str, JSON]]


class JoinSide(TypedDict):
    """One input of a join in ``state.left`` / ``state.right``: its watermark, the rows it holds (in
    all and per key), and its conservation counters.

    For an interval join ``rows_in = matched + emitted_unmatched + expired_unmatched + held +
    errors`` (late arrivals are counted once more in ``late_arrivals``); a window join's side has
    ``counted`` and ``late`` instead of the match counters; a temporal join's versioned side has
    ``versions``, ``superseded`` and ``null_keys``.
    """

    role: str
    watermark: int | None
    watermark_text: str | None
    rows_in: int
    held: int
    keys_held: dict[str, int]
    errors: int
    matched: NotRequired[int]
    emitted_unmatched: NotRequired[int]
    expired_unmatched: NotRequired[int]
    late_arrivals: NotRequired[int]
    counted: NotRequired[int]
    late: NotRequired[int]
    open_windows: NotRequired[int]
    versions: NotRequired[int]
    superseded: NotRequired[int]
    null_keys: NotRequired[int]


class JoinState(TypedDict):
    """``state`` of a join operator: its kind and both inputs (``left``, ``right``)."""

    join: str
    how: str
    on: list[list[str]]
    watermark_text: str | None
    left: JoinSide
    right: JoinSide
    lower_ms: NotRequired[int]
    upper_ms: NotRequired[int]
    window: NotRequired[str]


#: The declarations the TypeScript side mirrors, by name.
DECLARED: dict[str, type] = {
    "Counters": CountersSnapshot,
    "InputSnapshot": InputSnapshot,
    "OperatorSnapshot": OperatorSnapshot,
    "FlinkJobSnapshot": FlinkJobSnapshot,
    "PipelineSnapshot": PipelineSnapshot,
    "OpenWindow": OpenWindow,
    "WindowState": WindowState,
    "WatermarkState": WatermarkState,
    "SourceState": SourceState,
    "GroupByState": GroupByState,
    "RankState": RankState,
    "DedupState": DedupState,
    "OverState": OverState,
    "WindowRankState": WindowRankState,
    "JoinSide": JoinSide,
    "JoinState": JoinState,
}
