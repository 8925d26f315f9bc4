"""PNG figures of application results: a pair matrix heatmap, an image grid and a drift chart.

matplotlib is imported when a figure is drawn, with the non-interactive Agg backend, so no
display is needed and importing an application stays cheap.
"""

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from t2c.errors import ConfigError

log = logging.getLogger("t2c.apps.plots")


def _pyplot():
    try:
        import matplotlib
    except ImportError as error:
        raise ConfigError(f"drawing PNG figures needs matplotlib ({error}); install it with `pip install matplotlib`") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG, creating parent folders, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    _pyplot().close(figure)
    log.info("wrote %s", path)
    return path


def matrix_heatmaps(matrices: dict[str, list[list[float | None]]], labels: list[str], path: str | Path, title: str = "") -> Path:
    """Draw one annotated heatmap per matrix (rows: source, columns: destination); None cells stay blank.

    Args:
        matrices: panel title -> square matrix as nested lists, len(labels) x len(labels).
        labels: the row and column names.
    """
    plt = _pyplot()
    size = len(labels)
    figure, axes = plt.subplots(
        1, len(matrices), figsize=(2.5 + (1.2 * size + 1.0) * len(matrices), 2.2 + 1.2 * size), squeeze=False, layout="constrained"
    )

    for panel, (axis, (name, matrix)) in enumerate(zip(axes[0], matrices.items(), strict=True)):
        values = np.array([[np.nan if value is None else value for value in row] for row in matrix], dtype=float)
        image = axis.imshow(values, cmap="viridis", vmin=min(0.0, np.nanmin(values)) if np.isfinite(values).any() else 0.0, vmax=1.0)
        axis.set_title(name)
        axis.set_xticks(range(size), labels, rotation=30, ha="right")
        axis.set_xlabel("destination (aligned into)")
        if panel == 0:
            axis.set_yticks(range(size), labels)
            axis.set_ylabel("source")
        else:
            axis.set_yticks(range(size), [""] * size)
        for row in range(size):
            for column in range(size):
                text = "–" if np.isnan(values[row, column]) else f"{values[row, column]:.2f}"
                axis.text(column, row, text, ha="center", va="center", color="white" if values[row, column] < 0.6 else "black")
        figure.colorbar(image, ax=axis, shrink=0.8)

    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def image_grid(images: list[Image.Image], captions: list[str], path: str | Path, columns: int = 8, title: str = "") -> Path:
    """Draw images in a grid with one caption under each."""
    plt = _pyplot()
    if not images:
        raise ConfigError("no images to draw; the search kept no image, so loosen the constraints")

    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.7 * columns, 2.0 * rows), squeeze=False)

    for axis in axes.flat:
        axis.axis("off")
    for axis, image, caption in zip(axes.flat, images, captions, strict=False):
        axis.imshow(image.convert("RGB"))
        axis.set_title(caption, fontsize=7)

    if title:
        figure.suptitle(title, fontsize=9)
    return save_figure(figure, path)


def drift_chart(rows: list[dict], path: str | Path, side_a: str, side_b: str, title: str = "") -> Path:
    """Draw Cohen's d of concepts as horizontal bars; positive means higher similarity in `side_a`.

    Args:
        rows: dicts with "concept", "cohens_d" and "significant", in the order to draw (top first).
    """
    plt = _pyplot()
    if not rows:
        raise ConfigError("no concepts to draw; pass at least one concept")

    names = [row["concept"] + ("" if row["significant"] else " (n.s.)") for row in rows]
    effects = np.array([row["cohens_d"] for row in rows], dtype=float)
    colors = ["tab:blue" if effect > 0 else "tab:orange" for effect in effects]

    figure, axis = plt.subplots(figsize=(7.0, 0.8 + 0.28 * len(rows)))
    axis.barh(range(len(rows)), effects, color=colors)
    axis.set_yticks(range(len(rows)), names, fontsize=8)
    axis.invert_yaxis()
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel(f"Cohen's d of concept similarity (> 0: higher in {side_a}; < 0: higher in {side_b})")
    if title:
        axis.set_title(title, fontsize=9)
    return save_figure(figure, path)
