"""Publishes one training job's events to training-live from Python, with pika.

    python3 publish_job.py TENANT_ID JOB_ID [--products 5] [--fail]

Each event is checked against the project's JSON Schema before it is sent
(packages/events/schema/training-event.json), published persistent with
its event_id as message_id, and confirmed by the broker. A lost connection
is reopened and the unconfirmed event sent again with the same event_id,
which the training service applies once.

Needs pika and jsonschema (Debian: python3-pika python3-jsonschema; or pip).
Settings: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/), AMQP_EXCHANGE
(default training.events).
"""
import argparse
import json
import os
import random
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pika
from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).resolve().parents[2] / "packages" / "events" / "schema" / "training-event.json"


class Publisher:
    """A confirming publisher that reconnects with capped, jittered back-off."""

    def __init__(self, url, exchange, schema_path=SCHEMA):
        self.url = url
        self.exchange = exchange
        self.validator = Draft202012Validator(json.loads(Path(schema_path).read_text()))
        self.connection = None
        self.channel = None

    def _connect(self):
        self.connection = pika.BlockingConnection(pika.URLParameters(self.url))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self.channel.confirm_delivery()

    def publish(self, event_type, tenant_id, job_id, data, attempts=8):
        event = {
            "event_id": str(uuid.uuid4()),
            "type": event_type,
            "tenant_id": tenant_id,
            "job_id": job_id,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": data,
        }
        # A bad event is a bug in the worker: fail before sending, never retry it.
        errors = sorted(self.validator.iter_errors(event), key=lambda e: list(e.path))
        if errors:
            raise ValueError(f"invalid {event_type} event: {errors[0].message}")
        body = json.dumps(event).encode()
        # delivery_mode 2: persistent, so the event survives a broker restart in the durable queue.
        properties = pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=event["event_id"]
        )
        for attempt in range(attempts):
            try:
                if self.channel is None or self.channel.is_closed:
                    self._connect()
                # With confirms on, this returns once the broker has the message, and raises if it refuses it.
                self.channel.basic_publish(self.exchange, event_type, body, properties, mandatory=True)
                return event
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
                self.channel = None
                time.sleep(min(5.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))
        raise RuntimeError(f"could not publish {event_type} after {attempts} attempts")

    def close(self):
        if self.connection is not None and self.connection.is_open:
            self.connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tenant_id")
    parser.add_argument("job_id")
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--fail", action="store_true", help="fail after half the products")
    args = parser.parse_args()

    publisher = Publisher(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        os.environ.get("AMQP_EXCHANGE", "training.events"),
    )
    t, j, total = args.tenant_id, args.job_id, args.products
    started = time.monotonic()
    try:
        publisher.publish("training.started", t, j, {"total_products": total})
        publisher.publish("training.progress", t, j, {"step": "Data Analysis", "progress": 100})
        for i in range(1, total + 1):
            if args.fail and i > total // 2:
                publisher.publish("training.failed", t, j, {"error": f"product_{i}: out of memory"})
                return 1
            publisher.publish("training.product.completed", t, j, {
                "product_name": f"product_{i}", "total_products": total,
                "products_completed": i, "current_step": f"Trained product_{i}",
            })
        publisher.publish("training.completed", t, j, {
            "successful_trainings": total, "failed_trainings": 0, "total_duration": round(time.monotonic() - started, 3),
        })
        return 0
    finally:
        publisher.close()


if __name__ == "__main__":
    raise SystemExit(main())
