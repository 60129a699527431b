"""Kafka in and out (confluent-kafka): ``sl.from_kafka(topic, ...)`` and ``res.to_kafka(topic, ...)``.

The source reads every partition of a topic in micro-batches, keeps per-partition watermarks
(see ``streamlab.core.partitions``), sends malformed messages to ``errors`` with their partition and
offset, retries an unreachable broker with backoff (shown in ``snapshot()``), and commits offsets
only with checkpoints. confluent-kafka is imported only when a consumer or producer is made.
"""

from .decode import KAFKA_TIME
from .sink import KafkaSink, to_kafka
from .source import KafkaSource, from_kafka

__all__ = ["KAFKA_TIME", "KafkaSink", "KafkaSource", "from_kafka", "to_kafka"]
