"""python manage.py prune --older-than 30d [--max-size 5G] [--ssa-older-than 7d] [--keep-recent 1d] [--dry-run]"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from explorer.retention import parse_age, parse_size, prune


class Command(BaseCommand):
    help = "Delete results nobody viewed lately (and SSA dumps past their age), within an optional size budget."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=f"{settings.PRUNE_OLDER_THAN_DAYS}d", help="e.g. 30d, 12h")
        parser.add_argument("--ssa-older-than", default="7d", help="SSA dumps older than this go too ('never': keep)")
        parser.add_argument("--max-size", default="", help="size budget of what is stored, e.g. 5G (default: none)")
        parser.add_argument("--keep-recent", default="1d", help="never delete what was viewed within this")
        parser.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")

    def handle(self, *args, older_than, ssa_older_than, max_size, keep_recent, dry_run, **options):
        try:
            report = prune(
                parse_age(older_than),
                ssa_older_than=None if ssa_older_than == "never" else parse_age(ssa_older_than),
                max_bytes=parse_size(max_size) if max_size else 0,
                keep_recent=parse_age(keep_recent),
                dry_run=dry_run,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(report.to_dict()))
