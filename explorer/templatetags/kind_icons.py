"""The kinds' SVG icons in templates: ``{% kind_icon_sprite %}`` once per page (base.html)
and ``{{ kind|kind_icon }}`` inside a chip (explorer/render.py draws them)."""

from django import template
from django.utils.safestring import SafeString

from explorer.render import icon_sprite, icon_svg

register = template.Library()


@register.filter
def kind_icon(kind: str) -> SafeString:
    return icon_svg(str(kind))


@register.simple_tag
def kind_icon_sprite() -> SafeString:
    return icon_sprite()
