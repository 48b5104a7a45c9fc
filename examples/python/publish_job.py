"""Publishes one training job's events to training-live from Python, with pika.

    python3 publish_job.py TENANT_ID JOB_ID [--products 5] [--fail]

Each event is checked against the project's JSON Schema before it is sent
(packages/events/schema/training-event.json), published persistent with
its event_id as message_id, and confirmed by the broker. A lost connection
is reopened and the unconfirmed event sent again with the same event_id,
which the training service applies once.

It prints a line per event it published (type, tenant/job, event_id), then
a summary. Exit codes: 0 the job was published to its completion, 1 to its
failure (--fail), 2 an event could not be published.

Needs pika and jsonschema (Debian: python3-pika python3-jsonschema; or pip).
Settings: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/), AMQP_EXCHANGE
(default training.events).
"""
import argparse
import json
import os
import random
import sys
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
        why = "no attempt made"
        for attempt in range(attempts):
            try:
                if self.channel is None or self.channel.is_closed:
                    self._connect()
                # With confirms on, this returns once the broker has the message, and raises if it refuses it.
                self.channel.basic_publish(self.exchange, event_type, body, properties, mandatory=True)
                return event
            except pika.exceptions.UnroutableError:
                # Retried too: the training service declares and binds its queue when it starts.
                why = f"no queue is bound to {self.exchange} for {event_type} (is a training service running?)"
                time.sleep(min(5.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as error:
                # Not the URL: it may carry a password.
                detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                why = f"cannot reach the broker ({detail})" if isinstance(error, pika.exceptions.AMQPConnectionError) else detail
                self.channel = None
                time.sleep(min(5.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))
        raise RuntimeError(f"could not publish {event_type} after {attempts} attempts: {why}")

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
    published = 0

    def publish(event_type, data):
        nonlocal published
        event = publisher.publish(event_type, t, j, data)
        published += 1
        # Flushed: piped to a log or a test, each line shows when its event was confirmed, not at exit.
        print(f"published {event_type:<27} {t}/{j}  event_id={event['event_id']}", flush=True)

    try:
        publish("training.started", {"total_products": total})
        publish("training.progress", {"step": "Data Analysis", "progress": 100})
        for i in range(1, total + 1):
            if args.fail and i > total // 2:
                error = f"product_{i}: out of memory"
                publish("training.failed", {"error": error})
                print(f"{published} events published for {t}/{j}: the job failed (--fail): {error}", flush=True)
                return 1
            publish("training.product.completed", {
                "product_name": f"product_{i}", "total_products": total,
                "products_completed": i, "current_step": f"Trained product_{i}",
            })
        publish("training.completed", {
            "successful_trainings": total, "failed_trainings": 0, "total_duration": round(time.monotonic() - started, 3),
        })
        print(f"{published} events published for {t}/{j}: the job completed", flush=True)
        return 0
    except (ValueError, RuntimeError) as error:
        print(f"publish_job: {error} ({published} events published before)", file=sys.stderr)
        return 2
    finally:
        publisher.close()


if __name__ == "__main__":
    raise SystemExit(main())
