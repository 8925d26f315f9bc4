"""Feature extraction, the on-disk feature store and the executors that fill it."""

from t2c.features.executors import Executor, LocalExecutor
from t2c.features.extract import extract_features
from t2c.features.key import FeatureKey
from t2c.features.entry import FeatureEntry, ShardProblem
from t2c.features.store import FeatureStore
from t2c.features.manifest import ShardRecord, SkippedSample
from t2c.features.task import PreparedBatch, ShardOutput, ShardTask

__all__ = [
    "Executor",
    "FeatureEntry",
    "FeatureKey",
    "FeatureStore",
    "LocalExecutor",
    "PreparedBatch",
    "ShardOutput",
    "ShardProblem",
    "ShardRecord",
    "ShardTask",
    "SkippedSample",
    "extract_features",
]
