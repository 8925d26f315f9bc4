"""A rich progress bar for feature extraction, usable as `extract_features(progress=...)`."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class ImagesPerSecondColumn(ProgressColumn):
    """The extraction speed in images per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("? images/s", style="progress.data.speed")
        return Text(f"{speed:.1f} images/s", style="progress.data.speed")


class ImageProgress:
    """Progress callable: `progress(n)` advances the bar by n images; without a bar it only counts."""

    def __init__(self, progress: Progress | None = None, task_id: TaskID | None = None):
        self.progress = progress
        self.task_id = task_id
        self.completed = 0

    def __call__(self, count: int) -> None:
        self.completed += count
        if self.progress is not None:
            self.progress.advance(self.task_id, count)

    def set_total(self, total: int) -> None:
        """Set the number of images the bar counts up to."""
        if self.progress is not None:
            self.progress.update(self.task_id, total=total)


@contextmanager
def extraction_progress(
    description: str = "extracting features",
    total: int | None = None,
    *,
    json_output: bool = False,
    console: Console | None = None,
) -> Iterator[ImageProgress]:
    """Show a progress bar with images/s on stderr while the block runs.

    The bar is disabled, and the yielded callable only counts, when stderr is not a terminal or
    when `json_output` is set (so `--json` output stays clean).

    Args:
        total: images expected, if known; `extract_features` sets it through `set_total`.
        console: where to draw; default a console on stderr.
    """
    console = console if console is not None else Console(stderr=True)
    if json_output or not console.is_terminal:
        yield ImageProgress()
        return

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        ImagesPerSecondColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task_id = progress.add_task(description, total=total)
        yield ImageProgress(progress, task_id)


def progress_factory(enabled: bool = True) -> Callable[[str, int | None], AbstractContextManager[ImageProgress]]:
    """Return a `(description, total)` -> `extraction_progress` factory, as `Runtime.progress` takes.

    With `enabled=False` (for `--json`), every bar it makes is disabled.
    """

    def make_progress(description: str, total: int | None = None) -> AbstractContextManager[ImageProgress]:
        return extraction_progress(description, total, json_output=not enabled)

    return make_progress
