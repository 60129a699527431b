"""Kafka in and out (confluent-kafka): ``sl.from_kafka(topic, ...)`` and ``res.to_kafka(topic, ...)``.

The source reads every partition of a topic in micro-batches, keeps per-partition watermarks
(see ``streamlab.core.partitions``), sends malformed messages to ``errors`` with their partition and
offset, retries an unreachable broker with backoff (shown in ``snapshot()``), and commits offsets
only with checkpoints. confluent-kafka is imported only when a consumer or producer is made.

No Kafka call blocks a running asyncio loop (the kernel's, in Jupyter) for longer than a
non-blocking poll: calls that wait for the broker run on a worker thread, and the sink delivers
what it queued at the end of the input or at ``stop()`` in the background (``await
sink.drained()``); see ``streamlab.kafka.loop``. Without a running loop they simply wait.
"""

from .decode import KAFKA_TIME
from .sink import KafkaSink, to_kafka
from .source import KafkaSource, from_kafka

__all__ = ["KAFKA_TIME", "KafkaSink", "KafkaSource", "from_kafka", "to_kafka"]

from ..core.node import Node


@Node.register_api(attribute_name="to_kafka")
def _to_kafka(self, topic: str, bootstrap: str = "127.0.0.1:9092", format: str = "json", **options):
    """Write every emitted row to a Kafka topic. Returns the sink stream."""
    return to_kafka(self, topic, bootstrap=bootstrap, format=format, **options)
