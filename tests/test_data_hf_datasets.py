"""hf:<name> data sets read offline from artifacts made with the datasets library's own API.

Every test runs with HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1 and with HF_HOME, HF_HUB_CACHE and
HF_DATASETS_CACHE under pytest's tmp folder. Hub data sets are Parquet files written by
`Dataset.to_parquet` into the Hub cache's snapshot layout (what `hf download --repo-type dataset`
leaves), or Arrow files that `load_dataset` prepared in the datasets cache.
"""

import io

import numpy as np
import pytest
from helpers_reliability import ProjectionEncoder
from PIL import Image

from t2c.data.images import ImageDecodeError
from t2c.errors import ConfigError, DataError, NotFoundError, OfflineError
from t2c.features import FeatureStore, LocalExecutor, extract_features
from t2c.registry import load_dataset
from t2c.targets.templates import TEMPLATE_SETS

datasets = pytest.importorskip("datasets")

MAIN_SHA = "1111111111111111111111111111111111111111"  # the commit refs/main of a fake snapshot names
TAG_SHA = "2222222222222222222222222222222222222222"
PETS = "t2c-test/pets"
CLASSNAMES = ["cat", "golden_retriever"]
TWO_CONFIGS_README = """---
configs:
- config_name: small
  data_files:
  - split: train
    path: small/train.parquet
- config_name: large
  data_files:
  - split: train
    path: large/train.parquet
---
"""  # a dataset card whose YAML header declares two configs, as on the Hub


@pytest.fixture(autouse=True)
def offline_caches(monkeypatch, tmp_path):
    """Point every Hugging Face cache at tmp_path and forbid downloads."""
    import huggingface_hub.constants

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Both libraries read offline mode once, at import, so the constants follow the variables here.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return home


def photo(index: int, size=(12, 8)) -> Image.Image:
    """Return a small RGB image whose pixels depend on `index`."""
    pixels = np.random.default_rng(index).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def labelled_table(indices: list[int], labels: list[int | None], image_column: str = "image"):
    """Return a datasets.Dataset with an Image column of `photo(i)` and a ClassLabel column."""
    features = datasets.Features({image_column: datasets.Image(), "label": datasets.ClassLabel(names=CLASSNAMES)})
    return datasets.Dataset.from_dict({image_column: [photo(i) for i in indices], "label": labels}, features=features)


def write_snapshot(hub, repo_id: str, tables: dict, sha: str = MAIN_SHA, ref: str = "main", readme: str | None = None):
    """Write `tables` ({path in repo: Dataset}) as Parquet into the Hub cache snapshot of data set repo `repo_id`."""
    entry = hub / ("datasets--" + repo_id.replace("/", "--"))
    snapshot = entry / "snapshots" / sha
    for path, table in tables.items():
        (snapshot / path).parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(snapshot / path))

    if readme is not None:
        (snapshot / "README.md").write_text(readme)
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / ref).write_text(sha)
    return snapshot


def write_pets(hub, test_labels=(1, 0)):
    """Write t2c-test/pets: train of 3 and test of 2 labelled images."""
    return write_snapshot(hub, PETS, {
        "data/train-00000-of-00001.parquet": labelled_table([0, 1, 2], [0, 1, 0]),
        "data/test-00000-of-00001.parquet": labelled_table([3, 4], list(test_labels)),
    })


def test_hub_snapshot_loads_offline(offline_caches):
    write_pets(offline_caches / "hub")

    dataset = load_dataset(f"hf:{PETS}")
    test = dataset.split("test")

    assert dataset.id == f"hf:{PETS}"
    assert sorted(dataset.splits) == ["test", "train"]
    assert dataset.fit_split == "train"
    assert dataset.eval_split == "test"
    assert test.keys == ["test/000000", "test/000001"]
    np.testing.assert_array_equal(test.labels, [1, 0])
    assert test.labels.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(test.load(1)), np.asarray(photo(4)))


def test_class_names_from_class_label(offline_caches):
    write_pets(offline_caches / "hub")

    dataset = load_dataset(f"hf:{PETS}")

    assert dataset.classnames == ["cat", "golden retriever"]
    assert dataset.label_column == "label"


def test_validation_split_is_eval_split(offline_caches):
    write_snapshot(offline_caches / "hub", PETS, {
        "data/train-00000-of-00001.parquet": labelled_table([0, 1], [0, 1]),
        "data/validation-00000-of-00001.parquet": labelled_table([2], [1]),
    })

    dataset = load_dataset(f"hf:{PETS}")

    assert dataset.eval_split == "validation"
    assert len(dataset.split("validation")) == 1


def test_unlabelled_dataset_has_no_labels(offline_caches):
    features = datasets.Features({"image": datasets.Image()})
    table = datasets.Dataset.from_dict({"image": [photo(0), photo(1)]}, features=features)
    write_snapshot(offline_caches / "hub", "t2c-test/photos", {"data/train-00000-of-00001.parquet": table})

    dataset = load_dataset("hf:t2c-test/photos")
    train = dataset.split("train")

    assert dataset.classnames is None
    assert dataset.label_column is None
    assert train.labels is None
    assert train.load(0).size == (12, 8)


def test_missing_labels_make_split_unlabelled(offline_caches):
    write_pets(offline_caches / "hub", test_labels=(-1, None))

    dataset = load_dataset(f"hf:{PETS}")

    assert dataset.split("test").labels is None
    np.testing.assert_array_equal(dataset.split("train").labels, [0, 1, 0])


def test_image_column_found_by_type(offline_caches):
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": labelled_table([5, 6], [1, 1], image_column="img")})

    dataset = load_dataset(f"hf:{PETS}")

    assert dataset.image_column == "img"
    np.testing.assert_array_equal(np.asarray(dataset.split("train").load(0)), np.asarray(photo(5)))


def test_image_column_option_picks_column(offline_caches):
    features = datasets.Features({"thumbnail": datasets.Image(), "photo": datasets.Image()})
    table = datasets.Dataset.from_dict({"thumbnail": [photo(7, (4, 4))], "photo": [photo(8)]}, features=features)
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": table})

    dataset = load_dataset(f"hf:{PETS}?image_column=photo")

    assert dataset.id == f"hf:{PETS}?image_column=photo"
    np.testing.assert_array_equal(np.asarray(dataset.split("train").load(0)), np.asarray(photo(8)))


def test_no_image_column_rejected(offline_caches):
    table = datasets.Dataset.from_dict({"text": ["a", "b"]})
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": table})

    with pytest.raises(ConfigError, match="no column of type Image"):
        load_dataset(f"hf:{PETS}")


def test_image_column_of_other_type_rejected(offline_caches):
    write_pets(offline_caches / "hub")

    with pytest.raises(ConfigError, match="expected Image"):
        load_dataset(f"hf:{PETS}", image_column="label")


def test_corrupt_images_skipped_in_extraction(offline_caches, tmp_path):
    good = png_bytes(photo(0))
    rows = [{"bytes": good, "path": None}, {"bytes": good[: len(good) // 2], "path": None}, None, {"bytes": b"not an image", "path": None}]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSNAMES)})
    table = datasets.Dataset.from_dict({"image": rows, "label": [0, 1, 0, 1]}, features=features)
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": table})
    dataset = load_dataset(f"hf:{PETS}")

    entry = extract_features(
        ProjectionEncoder(), dataset, "train", store=FeatureStore(tmp_path / "features"), batch_size=2, shard_size=4,
        executor=LocalExecutor(num_workers=1),
    )
    keys, features_array = entry.load()
    skipped = entry.skipped_samples()

    assert keys == ["train/000000"]
    assert features_array.shape == (1, 12)
    assert [(sample.key, sample.reason) for sample in skipped] == [
        ("train/000001", "truncated"), ("train/000002", "non-image"), ("train/000003", "non-image")
    ]
    assert "contains no image (null)" in skipped[1].detail


def test_corrupt_image_load_names_key(offline_caches):
    good = png_bytes(photo(0))
    features = datasets.Features({"image": datasets.Image()})
    table = datasets.Dataset.from_dict({"image": [{"bytes": good[:40], "path": None}]}, features=features)
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": table})

    with pytest.raises(ImageDecodeError, match="train/000000"):
        load_dataset(f"hf:{PETS}").split("train").load(0)


def test_uncached_dataset_raises_offline_error(offline_caches):
    with pytest.raises(OfflineError) as raised:
        load_dataset("hf:t2c-test/missing")

    message = str(raised.value)
    assert "hf:t2c-test/missing" in message
    assert "datasets--t2c-test--missing" in message
    assert str(offline_caches / "hub") in message
    assert str(offline_caches / "datasets") in message
    assert "hf download --repo-type dataset t2c-test/missing" in message
    assert "HF_HUB_OFFLINE=1" in message


def test_uncached_revision_named_in_fetch(offline_caches):
    write_pets(offline_caches / "hub")

    with pytest.raises(OfflineError, match="hf download --repo-type dataset t2c-test/pets --revision v2"):
        load_dataset(f"hf:{PETS}?revision=v2")


def test_revision_reads_its_snapshot(offline_caches):
    write_pets(offline_caches / "hub")
    write_snapshot(offline_caches / "hub", PETS, {"data/train-00000-of-00001.parquet": labelled_table([9], [1])}, sha=TAG_SHA, ref="v1")

    dataset = load_dataset(f"hf:{PETS}", revision="v1")

    assert dataset.id == f"hf:{PETS}?revision=v1"
    assert dataset.splits == ("train",)
    np.testing.assert_array_equal(np.asarray(dataset.split("train").load(0)), np.asarray(photo(9)))


def test_config_selects_data_files(offline_caches):
    write_snapshot(offline_caches / "hub", PETS, {
        "small/train.parquet": labelled_table([0], [0]),
        "large/train.parquet": labelled_table([1, 2, 3], [1, 1, 0]),
    }, readme=TWO_CONFIGS_README)

    dataset = load_dataset(f"hf:{PETS}?config=large")

    assert dataset.id == f"hf:{PETS}?config=large"
    assert len(dataset.split("train")) == 3


def test_unknown_config_names_snapshot(offline_caches):
    write_pets(offline_caches / "hub")

    with pytest.raises(DataError, match="Hub cache snapshot"):
        load_dataset(f"hf:{PETS}?config=nope")


def test_datasets_cache_read_offline(offline_caches, tmp_path):
    # An earlier load_dataset prepared Arrow files in the datasets cache; no Hub snapshot exists.
    source = tmp_path / "source" / "kittens"
    source.mkdir(parents=True)
    labelled_table([0, 1], [0, 0]).to_parquet(str(source / "train.parquet"))
    datasets.load_dataset(str(source), cache_dir=str(offline_caches / "datasets"))

    dataset = load_dataset("hf:kittens")

    assert dataset.splits == ("train",)
    np.testing.assert_array_equal(np.asarray(dataset.split("train").load(1)), np.asarray(photo(1)))


def test_datasets_cache_with_two_configs(offline_caches, tmp_path):
    source = tmp_path / "source" / "kittens"
    source.mkdir(parents=True)
    (source / "README.md").write_text(TWO_CONFIGS_README)
    for config, size in (("small", 1), ("large", 3)):
        (source / config).mkdir()
        labelled_table(list(range(size)), [0] * size).to_parquet(str(source / config / "train.parquet"))
        datasets.load_dataset(str(source), config, cache_dir=str(offline_caches / "datasets"))

    with pytest.raises(DataError, match="multiple 'kittens' configurations in the cache: "):
        load_dataset("hf:kittens")
    assert len(load_dataset("hf:kittens?config=large").split("train")) == 3


def test_save_to_disk_folder(tmp_path):
    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": labelled_table([0, 1], [1, 0]), "test": labelled_table([2], [1])}).save_to_disk(str(folder))

    dataset = load_dataset(f"hf:{folder}")

    assert dataset.id == f"hf:{folder.resolve().as_posix()}"
    assert dataset.eval_split == "test"
    np.testing.assert_array_equal(dataset.split("train").labels, [1, 0])


def test_single_saved_split_is_train(tmp_path):
    folder = tmp_path / "saved-one"
    labelled_table([0], [1]).save_to_disk(str(folder))

    dataset = load_dataset(f"hf:{folder}")

    assert dataset.splits == ("train",)


def test_parquet_folder(tmp_path):
    folder = tmp_path / "parquet-folder"
    folder.mkdir()
    labelled_table([0, 1], [0, 1]).to_parquet(str(folder / "train.parquet"))

    dataset = load_dataset(f"hf:{folder}")

    assert dataset.classnames == ["cat", "golden retriever"]
    assert len(dataset.split("train")) == 2


def test_revision_on_folder_rejected(tmp_path):
    labelled_table([0], [0]).save_to_disk(str(tmp_path / "saved"))

    with pytest.raises(ConfigError, match="revision"):
        load_dataset(f"hf:{tmp_path / 'saved'}?revision=v1")


def test_unknown_split_lists_splits(offline_caches):
    write_pets(offline_caches / "hub")

    with pytest.raises(NotFoundError, match="available splits"):
        load_dataset(f"hf:{PETS}").split("unlabeled")


def test_templates_from_repo_name(offline_caches):
    write_snapshot(offline_caches / "hub", "t2c-test/cifar10", {"data/train-00000-of-00001.parquet": labelled_table([0], [0])})

    dataset = load_dataset("hf:t2c-test/cifar10")

    assert dataset.templates == TEMPLATE_SETS["cifar10"]()


def test_unknown_option_rejected():
    with pytest.raises(ConfigError, match="unknown option"):
        load_dataset("hf:t2c-test/pets?split=train")
