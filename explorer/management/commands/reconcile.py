"""python manage.py reconcile [--loop SECONDS]

One pass of the work queue's reconciler (explorer/jobs.py): stale running jobs queued
again or failed, jobs that waited too long failed with a reason, lost wake-up messages
sent again, the admission sets rebuilt. Every Celery worker already runs it every few
seconds; this is for operators (and cron, or a process of its own with --loop).
"""

import json
import time

from django.core.management.base import BaseCommand

from explorer import jobs


class Command(BaseCommand):
    help = "Reconcile the work queue once (or every N seconds with --loop N)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=float, default=0, help="repeat every SECONDS (0: once)")

    def handle(self, *args, loop, **options):
        while True:
            counts = jobs.reconcile_safely()
            self.stdout.write(json.dumps(counts))
            if not loop:
                return
            time.sleep(loop)
