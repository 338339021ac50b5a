from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from console.admin_list import cheap_date_hierarchy

register = template.Library()


@register.tag(name="log_date_hierarchy")
def log_date_hierarchy_tag(parser: Any, token: Any) -> InclusionAdminNode:
    """`{% date_hierarchy cl %}` with choices from MIN/MAX instead of SELECT DISTINCT."""
    return InclusionAdminNode(parser, token, func=cheap_date_hierarchy,
                              template_name="date_hierarchy.html", takes_context=False)


@register.filter
def thousands(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)
