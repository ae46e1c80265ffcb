"""Enumerate every URL pattern of the project (used by the matrix tests)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the route itself for an unnamed pattern
    route: str  # the full route, as the resolver spells it
    pattern: URLPattern
    model_admin: admin.ModelAdmin | None  # the ModelAdmin whose get_urls() made it


def walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry.url_patterns, route, inner)
        else:
            yield entry, route, namespace


def model_admin_for(route: str) -> admin.ModelAdmin | None:
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if route.startswith(f"admin/{opts.app_label}/{opts.model_name}/"):
            return model_admin
    return None


def all_routes() -> list[Route]:
    routes = []
    for pattern, route, namespace in walk(get_resolver().url_patterns):
        if pattern.name:
            key = f"{namespace}:{pattern.name}" if namespace else pattern.name
        else:
            key = route
        routes.append(Route(key, route, pattern, model_admin_for(route)))
    return routes
