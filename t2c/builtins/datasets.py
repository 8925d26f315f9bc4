"""Built-in data sets, registered through the same hook as plugins."""

from t2c.data.folder import FolderDataset
from t2c.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    """Register the "folder" family: `folder:PATH` reads images labelled by subfolder, or unlabelled."""
    register(
        "folder",
        FolderDataset,
        description="images under PATH: one subfolder per class, a flat folder (unlabelled), or train/val/test subfolders",
    )
