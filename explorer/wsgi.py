import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
application = get_wsgi_application()
# What every request finds loaded stays out of the garbage collector's full passes
# (worker/tasks.py freeze_startup_objects does the same in the workers).
gc.freeze()
