"""Built-in data sets, registered through the same hook as plugins."""

from t2c.data.folder import FolderDataset
from t2c.data.hf_datasets import load_hf_dataset
from t2c.data.torchvision_datasets import load_torchvision_dataset
from t2c.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    """Register the families "folder" (`folder:PATH`), "torchvision" and "hf"."""
    register(
        "folder",
        FolderDataset,
        description="images under PATH: one subfolder per class, a flat folder (unlabelled), or train/val/test subfolders",
    )
    register("torchvision", load_torchvision_dataset, description="torchvision data sets read from a root folder: torchvision:CIFAR10?root=/data (download=true fetches them)")
    register("hf", load_hf_dataset, description="Hugging Face data sets through `datasets` (pip install datasets): hf:uoft-cs/cifar10?config=plain_text, or hf:PATH (a save_to_disk folder or data files); options config, revision, image_column, label_column")
