"""python manage.py worker_health: exit 0 when a Celery worker of this host reported in
lately (its heartbeat in Redis, written every few seconds by the worker's main
process), 1 otherwise. The container health check of the worker services."""

import json
import sys

from django.core.management.base import BaseCommand

from explorer import broker, health, jobs


class Command(BaseCommand):
    help = "Exit 0 if a worker on this host sent a heartbeat within the last 30 s."

    def handle(self, *args, **options):
        try:
            found = [w for w in health.workers() if w["worker"].rpartition(":")[0] == jobs.hostname()]
        except broker.BrokerDown as exc:
            self.stderr.write(f"broker unreachable: {exc}")
            sys.exit(1)
        self.stdout.write(json.dumps(found))
        sys.exit(0 if found else 1)
